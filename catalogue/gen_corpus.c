/*
 * gen_corpus.c — the multilingual corpus of gen.h: offer i is drawn from its own
 * splitmix64 stream, seeded from (seed, i), so any offer can be made without the
 * ones before it and chunks of any size give the same offers. Words come from
 * words.h; the institutions are real university domains, then composed ones.
 */
#include "catalogue/gen.h"

#include <stdio.h>
#include <string.h>

#include "catalogue/words.h"

const struct gen_corpus_fixed gen_corpus_fixed[GEN_CORPUS_NFIXED] = {
    {0, "en", "Machine learning", NULL, 0},
    {1, "en", "Introduction to machine learning", NULL, 0},
    {2, "de", "Maschinelles Lernen für Ingenieure", "Machine learning for engineers", 0},
    {3, "de", "Grundlagen der Datenanalyse", NULL, 1},
    {4, "fr", "Apprentissage automatique", NULL, 0},
    {5, "es", "Aprendizaje automático en la práctica", NULL, 0},
    {6, "it", "Apprendimento automatico", NULL, 0},
    {7, "pl", "Uczenie maszynowe w praktyce", NULL, 0},
    {8, "lt", "Mašininio mokymosi pagrindai", NULL, 0},
    {9, "pt", "Introdução à ciência de dados", NULL, 7},
    {10, "lt", "Duomenų raštingumas", "Data literacy", 7},
    {11, "fr", "Économie circulaire", "Circular economy", 34},
    {12, "en", "Cybersecurity fundamentals", NULL, 2},
};

/* ---- institutions ---- */

static const struct {
    const char *id, *name, *country, *lang;
} real_institutions[] = {
    /* one of each language first, so a small K still covers all eight */
    {"tcd.ie", "Trinity College Dublin", "IE", "en"},
    {"uni-heidelberg.de", "Heidelberg University", "DE", "de"},
    {"unistra.fr", "University of Strasbourg", "FR", "fr"},
    {"uab.cat", "Autonomous University of Barcelona", "ES", "es"},
    {"unibo.it", "University of Bologna", "IT", "it"},
    {"uw.edu.pl", "University of Warsaw", "PL", "pl"},
    {"vdu.lt", "Vytautas Magnus University", "LT", "lt"},
    {"ulisboa.pt", "University of Lisbon", "PT", "pt"},
    {"uva.nl", "University of Amsterdam", "NL", "en"},
    {"helsinki.fi", "University of Helsinki", "FI", "en"},
    {"ucd.ie", "University College Dublin", "IE", "en"},
    {"tum.de", "Technical University of Munich", "DE", "de"},
    {"u-bordeaux.fr", "University of Bordeaux", "FR", "fr"},
    {"ucm.es", "Complutense University of Madrid", "ES", "es"},
    {"polimi.it", "Polytechnic University of Milan", "IT", "it"},
    {"uj.edu.pl", "Jagiellonian University", "PL", "pl"},
    {"ktu.lt", "Kaunas University of Technology", "LT", "lt"},
    {"up.pt", "University of Porto", "PT", "pt"},
    {"tudelft.nl", "Delft University of Technology", "NL", "en"},
    {"aalto.fi", "Aalto University", "FI", "en"},
    {"kth.se", "KTH Royal Institute of Technology", "SE", "en"},
    {"fu-berlin.de", "Free University of Berlin", "DE", "de"},
    {"univ-grenoble-alpes.fr", "Grenoble Alpes University", "FR", "fr"},
    {"us.es", "University of Seville", "ES", "es"},
    {"unipd.it", "University of Padua", "IT", "it"},
    {"pw.edu.pl", "Warsaw University of Technology", "PL", "pl"},
    {"vu.lt", "Vilnius University", "LT", "lt"},
    {"uc.pt", "University of Coimbra", "PT", "pt"},
    {"rug.nl", "University of Groningen", "NL", "en"},
    {"ku.dk", "University of Copenhagen", "DK", "en"},
    {"univie.ac.at", "University of Vienna", "AT", "de"},
    {"uni-hamburg.de", "University of Hamburg", "DE", "de"},
    {"univ-lille.fr", "University of Lille", "FR", "fr"},
    {"uv.es", "University of Valencia", "ES", "es"},
    {"unimi.it", "University of Milan", "IT", "it"},
    {"amu.edu.pl", "Adam Mickiewicz University, Poznań", "PL", "pl"},
    {"vilniustech.lt", "Vilnius Gediminas Technical University", "LT", "lt"},
    {"uminho.pt", "University of Minho", "PT", "pt"},
    {"cuni.cz", "Charles University", "CZ", "en"},
    {"ut.ee", "University of Tartu", "EE", "en"},
    {"tuwien.ac.at", "TU Wien", "AT", "de"},
    {"rwth-aachen.de", "RWTH Aachen University", "DE", "de"},
    {"sorbonne-universite.fr", "Sorbonne University", "FR", "fr"},
    {"ugr.es", "University of Granada", "ES", "es"},
    {"uniroma1.it", "Sapienza University of Rome", "IT", "it"},
    {"pwr.edu.pl", "Wrocław University of Science and Technology", "PL", "pl"},
    {"lsmu.lt", "Lithuanian University of Health Sciences", "LT", "lt"},
    {"uclouvain.be", "UCLouvain", "BE", "fr"},
    {"lu.lv", "University of Latvia", "LV", "en"},
    {"lu.se", "Lund University", "SE", "en"},
    /* 50: beyond the default --institutions */
    {"tu-dresden.de", "TU Dresden", "DE", "de"},
    {"univ-lyon1.fr", "Claude Bernard University Lyon 1", "FR", "fr"},
    {"upm.es", "Technical University of Madrid", "ES", "es"},
    {"unito.it", "University of Turin", "IT", "it"},
    {"ku.lt", "Klaipėda University", "LT", "lt"},
    {"uni-koeln.de", "University of Cologne", "DE", "de"},
    {"uni-mannheim.de", "University of Mannheim", "DE", "de"},
    {"unipi.it", "University of Pisa", "IT", "it"},
    {"uam.es", "Autonomous University of Madrid", "ES", "es"},
    {"umk.pl", "Nicolaus Copernicus University in Toruń", "PL", "pl"},
    {"ua.pt", "University of Aveiro", "PT", "pt"},
};

#define COMPOSED_CITIES 12

/* Composed institutions: a country's usual domain pattern over its towns. */
static const struct {
    const char *country, *lang;
    const char *id_fmt;   /* %s: the town's slug */
    const char *name_fmt; /* %s: the town's name */
    const char *towns[COMPOSED_CITIES][2];
} composed[] = {
    {"IE",
     "en",
     "it%s.ie",
     "Institute of Technology %s",
     {{"sligo", "Sligo"},
      {"carlow", "Carlow"},
      {"tralee", "Tralee"},
      {"athlone", "Athlone"},
      {"dundalk", "Dundalk"},
      {"letterkenny", "Letterkenny"},
      {"galway", "Galway"},
      {"cork", "Cork"},
      {"limerick", "Limerick"},
      {"waterford", "Waterford"},
      {"tallaght", "Tallaght"},
      {"blanchardstown", "Blanchardstown"}}},
    {"DE",
     "de",
     "hs-%s.de",
     "%s University of Applied Sciences",
     {{"bremen", "Bremen"},
      {"hannover", "Hannover"},
      {"kiel", "Kiel"},
      {"mainz", "Mainz"},
      {"trier", "Trier"},
      {"fulda", "Fulda"},
      {"coburg", "Coburg"},
      {"kempten", "Kempten"},
      {"aalen", "Aalen"},
      {"zittau", "Zittau"},
      {"wismar", "Wismar"},
      {"emden", "Emden"}}},
    {"FR",
     "fr",
     "univ-%s.fr",
     "University of %s",
     {{"angers", "Angers"},
      {"brest", "Brest"},
      {"caen", "Caen"},
      {"dijon", "Dijon"},
      {"nantes", "Nantes"},
      {"pau", "Pau"},
      {"reims", "Reims"},
      {"rouen", "Rouen"},
      {"tours", "Tours"},
      {"nimes", "Nîmes"},
      {"limoges", "Limoges"},
      {"orleans", "Orléans"}}},
    {"ES",
     "es",
     "uni%s.es",
     "University of %s",
     {{"leon", "León"},
      {"oviedo", "Oviedo"},
      {"burgos", "Burgos"},
      {"cadiz", "Cádiz"},
      {"jaen", "Jaén"},
      {"almeria", "Almería"},
      {"huelva", "Huelva"},
      {"vigo", "Vigo"},
      {"malaga", "Málaga"},
      {"murcia", "Murcia"},
      {"navarra", "Navarre"},
      {"rioja", "La Rioja"}}},
    {"IT",
     "it",
     "uni%s.it",
     "University of %s",
     {{"pavia", "Pavia"},
      {"parma", "Parma"},
      {"siena", "Siena"},
      {"trento", "Trento"},
      {"udine", "Udine"},
      {"verona", "Verona"},
      {"ferrara", "Ferrara"},
      {"genova", "Genoa"},
      {"perugia", "Perugia"},
      {"salerno", "Salerno"},
      {"catania", "Catania"},
      {"bari", "Bari"}}},
    {"PL",
     "pl",
     "uni-%s.edu.pl",
     "University of %s",
     {{"gdansk", "Gdańsk"},
      {"lodz", "Łódź"},
      {"lublin", "Lublin"},
      {"opole", "Opole"},
      {"rzeszow", "Rzeszów"},
      {"szczecin", "Szczecin"},
      {"kielce", "Kielce"},
      {"bialystok", "Białystok"},
      {"katowice", "Katowice"},
      {"olsztyn", "Olsztyn"},
      {"bydgoszcz", "Bydgoszcz"},
      {"zielonagora", "Zielona Góra"}}},
    {"LT",
     "lt",
     "%s-kolegija.lt",
     "%s University of Applied Sciences",
     {{"kaunas", "Kaunas"},
      {"vilnius", "Vilnius"},
      {"klaipeda", "Klaipėda"},
      {"siauliai", "Šiauliai"},
      {"panevezys", "Panevėžys"},
      {"alytus", "Alytus"},
      {"utena", "Utena"},
      {"marijampole", "Marijampolė"},
      {"telsiai", "Telšiai"},
      {"taurage", "Tauragė"},
      {"kedainiai", "Kėdainiai"},
      {"jonava", "Jonava"}}},
    {"PT",
     "pt",
     "ip%s.pt",
     "Polytechnic Institute of %s",
     {{"leiria", "Leiria"},
      {"viseu", "Viseu"},
      {"setubal", "Setúbal"},
      {"santarem", "Santarém"},
      {"tomar", "Tomar"},
      {"beja", "Beja"},
      {"guarda", "Guarda"},
      {"braganca", "Bragança"},
      {"portalegre", "Portalegre"},
      {"coimbra", "Coimbra"},
      {"lisboa", "Lisbon"},
      {"porto", "Porto"}}},
};

_Static_assert(MCX_ARRAY_LEN(real_institutions) + MCX_ARRAY_LEN(composed) * COMPOSED_CITIES ==
                   GEN_CORPUS_MAX_INSTITUTIONS,
               "GEN_CORPUS_MAX_INSTITUTIONS counts every institution");

int gen_corpus_institution(size_t k, struct gen_corpus_institution *out)
{
    size_t nreal = MCX_ARRAY_LEN(real_institutions);

    memset(out, 0, sizeof(*out));
    if (k < nreal) {
        mcx_strlcpy(out->id, real_institutions[k].id, sizeof(out->id));
        mcx_strlcpy(out->name, real_institutions[k].name, sizeof(out->name));
        mcx_strlcpy(out->country, real_institutions[k].country, sizeof(out->country));
        out->lang = real_institutions[k].lang;
        return 0;
    }
    if (k >= GEN_CORPUS_MAX_INSTITUTIONS)
        return -1;
    /* round robin over the countries, so any K mixes them */
    k -= nreal;
    size_t c = k % MCX_ARRAY_LEN(composed), town = k / MCX_ARRAY_LEN(composed);
    snprintf(out->id, sizeof(out->id), composed[c].id_fmt, composed[c].towns[town][0]);
    snprintf(out->name, sizeof(out->name), composed[c].name_fmt, composed[c].towns[town][1]);
    mcx_strlcpy(out->country, composed[c].country, sizeof(out->country));
    out->lang = composed[c].lang;
    return 0;
}

/* ---- text ---- */

/* U+00E0-U+017E lower case → upper case (Latin-1 and Latin Extended-A), else cp. */
static unsigned upper_latin(unsigned cp)
{
    if (cp >= 0xe0 && cp <= 0xfe && cp != 0xf7)
        return cp - 0x20;
    /* Extended-A pairs: upper case even from U+0100 and U+014A, odd from U+0139, U+0179 */
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14a && cp <= 0x177))
        return cp & 1 ? cp - 1 : cp;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e))
        return cp & 1 ? cp : cp - 1;
    return cp;
}

/* Capitalises the first letter in place (its upper case has as many bytes). */
static void capitalise(char *s)
{
    unsigned char *p = (unsigned char *)s;

    if (p[0] >= 'a' && p[0] <= 'z') {
        p[0] = (unsigned char)(p[0] - 'a' + 'A');
    } else if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
        unsigned cp = upper_latin(((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu));
        p[0] = (unsigned char)(0xc0 | (cp >> 6));
        p[1] = (unsigned char)(0x80 | (cp & 0x3f));
    }
}

/* The value of placeholder c (words.h), or NULL when c names none. */
static const char *placeholder(char c, const struct words_topic *t, const char *verb,
                               const char *object)
{
    switch (c) {
    case 'N':
        return t->name;
    case 'O':
        return t->of;
    case 'V':
        return verb != NULL ? verb : "";
    case 'J':
        return object != NULL ? object : "";
    default:
        return NULL;
    }
}

/* A template of words.h with its placeholders filled, capitalised, appended to out. */
static void fill(struct buf *out, const char *tmpl, const struct words_topic *t, const char *verb,
                 const char *object)
{
    size_t start = out->len;

    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *v = p[0] == '%' ? placeholder(p[1], t, verb, object) : NULL;
        if (v != NULL) {
            buf_puts(out, v);
            p++;
        } else {
            buf_putc(out, *p);
        }
    }
    if (out->len > start)
        capitalise(out->data + start);
}

/* ---- one offer ---- */

static const char *const corpus_langs[] = {"en", "de", "fr", "es", "it", "pl", "lt", "pt"};

/* The finaliser of splitmix64: turns (seed, i) into an independent stream. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const struct gen_corpus_fixed *fixed_find(size_t i)
{
    return i < GEN_CORPUS_NFIXED ? &gen_corpus_fixed[i] : NULL;
}

/* Mostly the institution's language; English next; now and then any of the eight. */
static const char *pick_lang(struct gen *g, const char *home)
{
    size_t r = gen_pick(g, 100);

    if (strcmp(home, "en") == 0)
        return r < 60 ? "en" : corpus_langs[gen_pick(g, MCX_ARRAY_LEN(corpus_langs))];
    if (r < 65)
        return home;
    return r < 90 ? "en" : corpus_langs[gen_pick(g, MCX_ARRAY_LEN(corpus_langs))];
}

/* A value from vals[] drawn with the weights w[] (in percent, summing to 100). */
static double pick_weighted(struct gen *g, const double *vals, const int *w, size_t n)
{
    int r = (int)gen_pick(g, 100);

    for (size_t k = 0; k < n; k++) {
        if (r < w[k])
            return vals[k];
        r -= w[k];
    }
    return vals[n - 1];
}

static void gen_corpus_title(struct gen *g, const struct words_lang *wl, size_t topic,
                             const struct gen_corpus_fixed *fx, struct offer *o)
{
    struct buf b;
    size_t form = gen_pick(g, WORDS_NTITLE_FORMS + 4); /* the plain name is the most common */
    bool has_en = gen_pick(g, 10) < 3 && strcmp(wl->code, "en") != 0;

    if (form >= WORDS_NTITLE_FORMS)
        form = 0;
    buf_init(&b);
    if (fx != NULL) {
        lang_map_add(&o->title, fx->lang, fx->title);
        lang_map_add(&o->title, "en", fx->title_en);
    } else {
        fill(&b, wl->title_forms[form], &wl->topics[topic], NULL, NULL);
        lang_map_add(&o->title, wl->code, b.data);
        if (has_en) {
            const struct words_lang *en = words_lang_find("en");
            buf_reset(&b);
            fill(&b, en->title_forms[form], &en->topics[topic], NULL, NULL);
            lang_map_add(&o->title, "en", b.data);
        }
    }
    buf_cleanup(&b);
}

static void gen_corpus_texts(struct gen *g, const struct words_lang *wl, size_t topic,
                             struct offer *o)
{
    const struct words_topic *t = &wl->topics[topic];
    size_t m1 = gen_pick(g, WORDS_NMIDDLES),
           m2 = (m1 + 1 + gen_pick(g, WORDS_NMIDDLES - 1)) % WORDS_NMIDDLES;
    size_t v0 = gen_pick(g, WORDS_NVERBS), j0 = gen_pick(g, WORDS_NOBJECTS);
    struct buf b;

    buf_init(&b);
    fill(&b, wl->openers[gen_pick(g, WORDS_NOPENERS)], t, NULL, NULL);
    buf_putc(&b, ' ');
    fill(&b, wl->middles[m1], t, wl->verbs[v0], wl->objects[j0]);
    buf_putc(&b, ' ');
    fill(&b, wl->middles[m2], t, wl->verbs[gen_pick(g, WORDS_NVERBS)],
         wl->objects[gen_pick(g, WORDS_NOBJECTS)]);
    buf_putc(&b, ' ');
    buf_puts(&b, wl->mode_sentences[o->mode - OFFER_MODE_ONLINE]);
    lang_map_add(&o->description, wl->code, b.data);
    /* outcomes: distinct verbs and objects, stepping through both lists */
    o->noutcomes = 2 + gen_pick(g, 3);
    o->learning_outcomes = xcalloc(o->noutcomes, sizeof(struct lang_map));
    for (size_t k = 0; k < o->noutcomes; k++) {
        buf_reset(&b);
        fill(&b, wl->outcome, t, wl->verbs[(v0 + 5 * k + 1) % WORDS_NVERBS],
             wl->objects[(j0 + 7 * k + 3) % WORDS_NOBJECTS]);
        lang_map_add(&o->learning_outcomes[k], wl->code, b.data);
    }
    lang_map_add(&o->assessment, wl->code, wl->assessments[gen_pick(g, WORDS_NASSESSMENTS)]);
    lang_map_add(&o->quality_assurance, wl->code, wl->quality_assurance);
    lang_map_add(&o->entry_requirements, wl->code, wl->entry_requirements);
    buf_cleanup(&b);
}

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms). */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void date_write(long days, char out[11])
{
    days += 719468;
    long era = (days >= 0 ? days : days - 146096) / 146097;
    long doe = days - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    long y = yoe + era * 400 + (m <= 2);
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "%04ld-%02d-%02d", y, m, d);
    mcx_strlcpy(out, tmp, 11);
}

/* Starts in 2026-2028, often at a semester's start; a week of study per 2/3 ECTS. */
static void gen_corpus_dates(struct gen *g, struct offer *o)
{
    static const int semester[] = {2, 3, 9, 10};
    int year = 2026 + (int)gen_pick(g, 3);
    int month = gen_pick(g, 10) < 6 ? semester[gen_pick(g, 4)] : 1 + (int)gen_pick(g, 12);
    long start = days_from_civil(year, month, 1 + (int)gen_pick(g, 28));
    long weeks = (long)(o->ects * 1.5) + 1 + (long)gen_pick(g, 3);

    if (weeks > 26)
        weeks = 26;
    date_write(start, o->starts);
    date_write(start + weeks * 7 - 1 - (long)gen_pick(g, 3), o->ends);
    date_write(start - 14 - (long)gen_pick(g, 77), o->application_deadline);
}

static void gen_corpus_facts(struct gen *g, struct offer *o)
{
    static const double ects[] = {1, 2, 2.5, 3, 4, 5, 6, 7.5, 10, 15, 30};
    static const int ects_w[] = {5, 10, 5, 20, 10, 20, 12, 6, 6, 4, 2};
    static const double eqf[] = {4, 5, 6, 7, 8};
    static const int eqf_w[] = {5, 25, 40, 25, 5};
    static const double mode[] = {OFFER_MODE_ONLINE, OFFER_MODE_BLENDED, OFFER_MODE_ONSITE};
    static const int mode_w[] = {40, 30, 30};
    char vol[32];

    _Static_assert(MCX_ARRAY_LEN(ects) == MCX_ARRAY_LEN(ects_w), "ects weights");
    o->has_ects = true;
    o->ects = pick_weighted(g, ects, ects_w, MCX_ARRAY_LEN(ects));
    o->eqf = (int)pick_weighted(g, eqf, eqf_w, MCX_ARRAY_LEN(eqf));
    o->mode = (enum offer_mode)pick_weighted(g, mode, mode_w, MCX_ARRAY_LEN(mode));
    gen_corpus_dates(g, o);
    o->has_price = gen_pick(g, 4) == 0;
    o->price_amount = o->has_price ? (double)(50 * (1 + gen_pick(g, 18))) : 0;
    if (o->has_price)
        mcx_strlcpy(o->currency, "EUR", sizeof(o->currency));
    /* ECTS users' guide: 25-30 hours of work per credit */
    snprintf(vol, sizeof(vol), "PT%dH", (int)(o->ects * 25 + 0.5));
    o->volume_of_learning = xstrdup(vol);
}

static void gen_corpus_provider(const struct gen_corpus_institution *inst, struct offer *o)
{
    char buf[160];

    snprintf(buf, sizeof(buf), "https://%s/", inst->id);
    o->provider_id = xstrdup(buf);
    o->provider_homepage = xstrdup(buf);
    lang_map_add(&o->provider_name, "en", inst->name);
    mcx_strlcpy(o->provider_country, inst->country, sizeof(o->provider_country));
}

void gen_corpus_offer(uint64_t seed, size_t i, size_t ninstitutions, struct offer *o)
{
    const struct gen_corpus_fixed *fx = fixed_find(i);
    struct gen_corpus_institution inst;
    const struct words_lang *wl;
    struct gen g;
    char buf[160];
    size_t topic;

    gen_corpus_institution(i % (ninstitutions ? ninstitutions : 1), &inst);
    gen_init(&g, mix64(seed ^ mix64((uint64_t)i + 0x632be59bd9b4e019ULL)));
    /* every draw happens for a fixed offer too: it only overrides the results */
    wl = words_lang_find(pick_lang(&g, inst.lang));
    topic = gen_pick(&g, WORDS_NTOPICS);
    if (fx != NULL) {
        wl = words_lang_find(fx->lang);
        topic = fx->topic;
    }
    snprintf(buf, sizeof(buf), "corpus-%07zu", i);
    o->external_id = xstrdup(buf);
    snprintf(buf, sizeof(buf), "https://%s/courses/corpus-%07zu", inst.id, i);
    o->source_id = xstrdup(buf);
    o->homepage = xstrdup(buf);
    o->languages = xcalloc(1, sizeof(char *));
    o->languages[0] = xstrdup(wl->code);
    o->nlanguages = 1;
    o->isced = xcalloc(1, sizeof(char *));
    o->isced[0] = xstrdup(words_topic_isced[topic]);
    o->nisced = 1;
    gen_corpus_facts(&g, o);
    gen_corpus_title(&g, wl, topic, fx, o);
    gen_corpus_texts(&g, wl, topic, o);
    gen_corpus_provider(&inst, o);
}
