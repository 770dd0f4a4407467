/*
 * test_gen_corpus.c — the multilingual corpus generator (gen.h gen_corpus_*, words.h):
 * the same seed gives the same offers, another seed other ones; all eight languages
 * appear and every text of an offer is in its language; codes come from the Europass
 * vocabularies and whole chunks validate against the LOQ XSDs; the fixed titles sit
 * where gen.h documents them; each language has a real vocabulary; institutions
 * are well-formed domains with their country.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/gen.h"
#include "catalogue/loq.h"
#include "catalogue/offer.h"
#include "catalogue/words.h"
#include "server/util.h"

#define K 50
#define SAMPLE 4000

static const char *const langs8[] = {"en", "de", "fr", "es", "it", "pl", "lt", "pt"};

/* ---- helpers ---- */

static char *file_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[65536];
    size_t n;

    assert_non_null(f);
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b, NULL);
}

static void offer_make(uint64_t seed, size_t i, size_t k, struct offer *o)
{
    offer_init(o);
    gen_corpus_offer(seed, i, k, o);
}

static int lang_index(const char *code)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(langs8); i++)
        if (strcmp(langs8[i], code) == 0)
            return (int)i;
    return -1;
}

/* s without its first (UTF-8) character: a form capitalised at a title's start
 * still matches. */
static const char *tail(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (*p == 0)
        return s;
    p++;
    while ((*p & 0xc0) == 0x80)
        p++;
    return (const char *)p;
}

/* The title names one of the language's topics, in one of its two forms. */
static bool title_is_from(const struct words_lang *wl, const char *title)
{
    for (size_t t = 0; t < WORDS_NTOPICS; t++)
        if (strstr(title, tail(wl->topics[t].name)) || strstr(title, tail(wl->topics[t].of)))
            return true;
    return false;
}

static bool is_date(const char *s)
{
    int y, m, d;
    char extra;

    return strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) == 3 && m >= 1 &&
           m <= 12 && d >= 1 && d <= 31;
}

/* ---- determinism ---- */

static void test_same_seed_same_offers(void **state)
{
    (void)state;
    for (size_t i = 0; i < 600; i++) {
        struct offer a, b;
        const char *field = NULL;
        char ha[65], hb[65];
        offer_make(1, i, K, &a);
        offer_make(1, i, K, &b);
        assert_true(offer_equal(&a, &b, &field));
        offer_content_hash(&a, ha);
        offer_content_hash(&b, hb);
        assert_string_equal(ha, hb);
        offer_cleanup(&a);
        offer_cleanup(&b);
    }
}

/* Offer i depends on (seed, i, K) only: not on which offers were made before it. */
static void test_order_does_not_matter(void **state)
{
    enum { N = 120 };
    char forward[N][65];

    (void)state;
    for (size_t i = 0; i < N; i++) {
        struct offer o;
        offer_make(7, i, K, &o);
        offer_content_hash(&o, forward[i]);
        offer_cleanup(&o);
    }
    for (size_t i = N; i-- > 0;) {
        struct offer o;
        char h[65];
        offer_make(7, i, K, &o);
        offer_content_hash(&o, h);
        assert_string_equal(h, forward[i]);
        offer_cleanup(&o);
    }
}

static void test_other_seed_other_offers(void **state)
{
    size_t differ = 0, titles_differ = 0;

    (void)state;
    for (size_t i = 0; i < 400; i++) {
        struct offer a, b;
        offer_make(1, i, K, &a);
        offer_make(2, i, K, &b);
        differ += !offer_equal(&a, &b, NULL);
        titles_differ += strcmp(a.title.items[0].text, b.title.items[0].text) != 0;
        offer_cleanup(&a);
        offer_cleanup(&b);
    }
    assert_int_equal(differ, 400);
    /* the fixed titles stay; nearly all others change */
    assert_true(titles_differ >= 400 - GEN_CORPUS_NFIXED - 20);
}

/* The LOQ document of a chunk is the same bytes every time. */
static void test_documents_are_reproducible(void **state)
{
    struct buf a, b;

    (void)state;
    buf_init(&a);
    buf_init(&b);
    for (int round = 0; round < 2; round++) {
        struct offer o[40];
        const struct offer *list[40];
        for (size_t j = 0; j < 40; j++) {
            offer_make(3, 5 + j * K, K, &o[j]);
            list[j] = &o[j];
        }
        assert_int_equal(loq_export(list, 40, LOQ_VERSION_310, round ? &b : &a), 0);
        for (size_t j = 0; j < 40; j++)
            offer_cleanup(&o[j]);
    }
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    buf_cleanup(&a);
    buf_cleanup(&b);
}

/* ---- languages ---- */

static void check_texts_in(const struct offer *o, const char *lang)
{
    const struct words_lang *wl = words_lang_find(lang);

    assert_int_equal(o->description.n, 1);
    assert_string_equal(o->description.items[0].lang, lang);
    assert_true(o->noutcomes >= 2 && o->noutcomes <= 4);
    for (size_t k = 0; k < o->noutcomes; k++) {
        assert_int_equal(o->learning_outcomes[k].n, 1);
        assert_string_equal(o->learning_outcomes[k].items[0].lang, lang);
    }
    assert_string_equal(o->assessment.items[0].lang, lang);
    assert_string_equal(o->quality_assurance.items[0].text, wl->quality_assurance);
    assert_string_equal(o->entry_requirements.items[0].text, wl->entry_requirements);
    /* the description ends with the sentence of the offer's mode */
    const char *d = o->description.items[0].text, *mode = wl->mode_sentences[o->mode - 1];
    assert_true(strlen(d) > strlen(mode));
    assert_string_equal(d + strlen(d) - strlen(mode), mode);
}

static void test_languages(void **state)
{
    size_t count[8] = {0}, non_en = 0, with_en = 0;

    (void)state;
    for (size_t i = 0; i < SAMPLE; i++) {
        struct offer o;
        offer_make(1, i, K, &o);
        assert_int_equal(o.nlanguages, 1);
        const char *lang = o.languages[0];
        int li = lang_index(lang);
        assert_true(li >= 0);
        count[li]++;
        /* the title's first entry is in the offer's language; a second one is English */
        assert_true(o.title.n == 1 || o.title.n == 2);
        assert_string_equal(o.title.items[0].lang, lang);
        if (o.title.n == 2) {
            assert_string_not_equal(lang, "en");
            assert_string_equal(o.title.items[1].lang, "en");
        }
        if (i >= GEN_CORPUS_NFIXED) {
            assert_true(title_is_from(words_lang_find(lang), o.title.items[0].text));
            if (o.title.n == 2)
                assert_true(title_is_from(words_lang_find("en"), o.title.items[1].text));
        }
        non_en += strcmp(lang, "en") != 0;
        with_en += o.title.n == 2;
        check_texts_in(&o, lang);
        offer_cleanup(&o);
    }
    for (size_t l = 0; l < 8; l++) {
        print_message("%s: %zu\n", langs8[l], count[l]);
        assert_true(count[l] >= SAMPLE / 50); /* each language at least 2% */
    }
    /* "some fraction" carries an English title: 3 in 10 non-English offers */
    assert_true(with_en * 10 >= non_en * 2 && with_en * 10 <= non_en * 4);
}

/* Titles start with a capital, in every language ("Žiedinės ekonomikos pagrindai"). */
static void test_titles_capitalised(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2000; i++) {
        struct offer o;
        offer_make(5, i, K, &o);
        for (size_t t = 0; t < o.title.n; t++) {
            const unsigned char *p = (const unsigned char *)o.title.items[t].text;
            if (p[0] < 0x80) {
                assert_true(p[0] >= 'A' && p[0] <= 'Z');
            } else {
                unsigned cp = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);
                /* Latin-1 capitals, or the even/odd capitals of Latin Extended-A */
                assert_true((cp >= 0xc0 && cp <= 0xde) || (cp >= 0x100 && cp <= 0x17f));
                assert_true(cp != 0x17e && cp != 0x161 && cp != 0x12f); /* not ž š į */
            }
        }
        offer_cleanup(&o);
    }
}

/* ---- codes ---- */

static char *isced_xsd;

static bool isced_is_valid(const char *code)
{
    char needle[80];

    snprintf(needle, sizeof(needle), "\"http://data.europa.eu/snb/isced-f/%s\"", code);
    return strlen(code) == 4 && strstr(isced_xsd, needle) != NULL;
}

static void test_topic_isced_codes(void **state)
{
    const char *distinct[WORDS_NTOPICS];
    size_t ndistinct = 0;
    bool broad[11] = {false};

    (void)state;
    for (size_t t = 0; t < WORDS_NTOPICS; t++) {
        const char *c = words_topic_isced[t];
        bool seen = false;
        assert_true(isced_is_valid(c));
        for (size_t k = 0; k < ndistinct; k++)
            seen = seen || strcmp(distinct[k], c) == 0;
        if (!seen)
            distinct[ndistinct++] = c;
        broad[(c[0] - '0') * 10 + (c[1] - '0')] = true;
    }
    assert_true(ndistinct >= 40);
    for (size_t b = 0; b <= 10; b++)
        assert_true(broad[b]);
}

static void test_offer_values(void **state)
{
    static const double ects_ok[] = {1, 2, 2.5, 3, 4, 5, 6, 7.5, 10, 15, 30};
    size_t eqf57 = 0, modes[4] = {0}, priced = 0, years[3] = {0};

    (void)state;
    for (size_t i = 0; i < SAMPLE; i++) {
        struct offer o;
        bool ects_found = false;
        offer_make(11, i, K, &o);
        assert_int_equal(o.nisced, 1);
        assert_true(isced_is_valid(o.isced[0]));
        assert_true(o.eqf >= 4 && o.eqf <= 8);
        eqf57 += o.eqf >= 5 && o.eqf <= 7;
        assert_true(o.has_ects);
        for (size_t k = 0; k < MCX_ARRAY_LEN(ects_ok); k++)
            ects_found = ects_found || o.ects == ects_ok[k];
        assert_true(ects_found);
        assert_true(o.mode >= OFFER_MODE_ONLINE && o.mode <= OFFER_MODE_ONSITE);
        modes[o.mode]++;
        assert_true(is_date(o.starts) && is_date(o.ends) && is_date(o.application_deadline));
        assert_true(strcmp(o.starts, "2026-01-01") >= 0 && strcmp(o.starts, "2028-12-31") <= 0);
        years[o.starts[3] - '6']++;
        assert_true(strcmp(o.ends, o.starts) > 0);
        assert_true(strcmp(o.application_deadline, o.starts) < 0);
        priced += o.has_price;
        if (o.has_price)
            assert_string_equal(o.currency, "EUR");
        assert_non_null(o.volume_of_learning);
        assert_int_equal(o.provider_name.n, 1);
        offer_cleanup(&o);
    }
    assert_true(eqf57 * 10 >= SAMPLE * 8); /* mostly 5-7 */
    for (int m = OFFER_MODE_ONLINE; m <= OFFER_MODE_ONSITE; m++)
        assert_true(modes[m] >= SAMPLE / 5);
    for (int y = 0; y < 3; y++)
        assert_true(years[y] >= SAMPLE / 5);
    assert_true(priced >= SAMPLE / 8 && priced <= SAMPLE * 3 / 8);
}

/* What `mcx gen-corpus` publishes must pass the same validation as any catalogue. */
static void test_chunks_validate(void **state)
{
    struct mcx_error err;
    struct loq_schemas *s = loq_schemas_load(MCX_SOURCE_DIR "/schemas/loq", &err);
    enum { N = 400 };
    struct offer *o = xcalloc(N, sizeof(*o));
    const struct offer **list = xcalloc(N, sizeof(*list));
    struct loq_doc d = {0};
    struct buf doc;

    (void)state;
    assert_non_null(s);
    buf_init(&doc);
    for (size_t j = 0; j < N; j++) {
        offer_make(1, j * 7 + 3, GEN_CORPUS_MAX_INSTITUTIONS, &o[j]); /* composed ones too */
        list[j] = &o[j];
    }
    assert_int_equal(loq_export(list, N, LOQ_VERSION_310, &doc), 0);
    assert_int_equal(loq_parse(s, doc.data, doc.len, &d, &err), 0);
    assert_int_equal(d.nitems, N);
    for (size_t j = 0; j < N; j++) {
        const char *field = NULL;
        if (!d.items[j].ok)
            print_message("offer %zu: %s\n", j, d.items[j].errors[0].message);
        assert_true(d.items[j].ok);
        /* the codes survive the round trip: the vocabularies know them all */
        assert_string_equal(d.items[j].offer.isced[0], o[j].isced[0]);
        assert_string_equal(d.items[j].offer.languages[0], o[j].languages[0]);
        assert_int_equal(d.items[j].offer.eqf, o[j].eqf);
        assert_int_equal(d.items[j].offer.mode, o[j].mode);
        if (!offer_equal(&d.items[j].offer, &o[j], &field))
            print_message("offer %zu differs in %s\n", j, field);
    }
    loq_doc_cleanup(&d);
    for (size_t j = 0; j < N; j++)
        offer_cleanup(&o[j]);
    free(o);
    free(list);
    buf_cleanup(&doc);
    loq_schemas_free(s);
}

/* ---- fixed titles ---- */

static void test_fixed_titles(void **state)
{
    /* the table of gen.h, spelled out: changing one means changing the documentation */
    static const struct {
        size_t i;
        const char *lang, *title, *title_en, *isced;
    } doc[] = {
        {0, "en", "Machine learning", NULL, "0613"},
        {1, "en", "Introduction to machine learning", NULL, "0613"},
        {2, "de", "Maschinelles Lernen für Ingenieure", "Machine learning for engineers", "0613"},
        {3, "de", "Grundlagen der Datenanalyse", NULL, "0542"},
        {4, "fr", "Apprentissage automatique", NULL, "0613"},
        {5, "es", "Aprendizaje automático en la práctica", NULL, "0613"},
        {6, "it", "Apprendimento automatico", NULL, "0613"},
        {7, "pl", "Uczenie maszynowe w praktyce", NULL, "0613"},
        {8, "lt", "Mašininio mokymosi pagrindai", NULL, "0613"},
        {9, "pt", "Introdução à ciência de dados", NULL, "0688"},
        {10, "lt", "Duomenų raštingumas", "Data literacy", "0688"},
        {11, "fr", "Économie circulaire", "Circular economy", "0311"},
        {12, "en", "Cybersecurity fundamentals", NULL, "0612"},
    };
    static const uint64_t seeds[] = {1, 2, 99, 123456};
    static const size_t ks[] = {1, 7, 50, GEN_CORPUS_MAX_INSTITUTIONS};

    (void)state;
    assert_int_equal(MCX_ARRAY_LEN(doc), GEN_CORPUS_NFIXED);
    for (size_t r = 0; r < GEN_CORPUS_NFIXED; r++) {
        assert_int_equal(gen_corpus_fixed[r].index, doc[r].i);
        for (size_t s = 0; s < MCX_ARRAY_LEN(seeds); s++) {
            for (size_t k = 0; k < MCX_ARRAY_LEN(ks); k++) {
                struct offer o;
                char ext[32];
                offer_make(seeds[s], doc[r].i, ks[k], &o);
                snprintf(ext, sizeof(ext), "corpus-%07zu", doc[r].i);
                assert_string_equal(o.external_id, ext);
                assert_string_equal(o.languages[0], doc[r].lang);
                assert_string_equal(o.title.items[0].lang, doc[r].lang);
                assert_string_equal(o.title.items[0].text, doc[r].title);
                assert_int_equal(o.title.n, doc[r].title_en ? 2 : 1);
                if (doc[r].title_en)
                    assert_string_equal(lang_map_get(&o.title, "en"), doc[r].title_en);
                assert_string_equal(o.isced[0], doc[r].isced);
                check_texts_in(&o, doc[r].lang);
                offer_cleanup(&o);
            }
        }
    }
}

/* Offer i belongs to institution i % K, whose domain is in its URLs. */
static void test_institution_of_offer(void **state)
{
    (void)state;
    for (size_t i = 0; i < 300; i += 7) {
        struct gen_corpus_institution inst;
        struct offer o;
        char url[160];
        offer_make(1, i, 13, &o);
        assert_int_equal(gen_corpus_institution(i % 13, &inst), 0);
        snprintf(url, sizeof(url), "https://%s/", inst.id);
        assert_string_equal(o.provider_id, url);
        assert_string_equal(o.provider_country, inst.country);
        assert_string_equal(o.provider_name.items[0].text, inst.name);
        assert_true(strncmp(o.homepage, url, strlen(url)) == 0);
        offer_cleanup(&o);
    }
}

/* ---- vocabulary ---- */

struct words_set {
    char **v;
    size_t n;
};

static void words_add_text(struct words_set *ws, const char *s)
{
    while (*s) {
        size_t n = 0;
        /* a word: letters, any non-ASCII byte (accented letters), apostrophes inside */
        while (s[n] && (((unsigned char)s[n] >= 0x80) || (s[n] >= 'a' && s[n] <= 'z') ||
                        (s[n] >= 'A' && s[n] <= 'Z')))
            n++;
        if (n == 0) {
            s++;
            continue;
        }
        char *w = xstrndup(s, n);
        for (char *p = w; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        bool seen = false;
        for (size_t k = 0; k < ws->n && !seen; k++)
            seen = strcmp(ws->v[k], w) == 0;
        if (seen) {
            free(w);
        } else {
            ws->v = xrealloc(ws->v, (ws->n + 1) * sizeof(char *));
            ws->v[ws->n++] = w;
        }
        s += n;
    }
}

static void words_add_all(struct words_set *ws, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_non_null(v[i]);
        words_add_text(ws, v[i]);
    }
}

static bool words_has(const struct words_set *ws, const char *w)
{
    for (size_t k = 0; k < ws->n; k++)
        if (strcmp(ws->v[k], w) == 0)
            return true;
    return false;
}

static void test_vocabulary(void **state)
{
    (void)state;
    assert_int_equal(WORDS_NLANGS, MCX_ARRAY_LEN(langs8));
    for (size_t l = 0; l < WORDS_NLANGS; l++) {
        const struct words_lang *wl = &words_langs[l];
        struct words_set ws = {NULL, 0};
        size_t accents = 0;
        assert_string_equal(wl->code, langs8[l]);
        assert_ptr_equal(words_lang_find(langs8[l]), wl);
        for (size_t t = 0; t < WORDS_NTOPICS; t++) {
            words_add_text(&ws, wl->topics[t].name);
            words_add_text(&ws, wl->topics[t].of);
            for (const char *p = wl->topics[t].name; *p; p++)
                accents += (unsigned char)*p >= 0x80;
        }
        words_add_all(&ws, wl->title_forms, WORDS_NTITLE_FORMS);
        words_add_all(&ws, wl->openers, WORDS_NOPENERS);
        words_add_all(&ws, wl->middles, WORDS_NMIDDLES);
        words_add_all(&ws, wl->mode_sentences, 3);
        words_add_all(&ws, wl->verbs, WORDS_NVERBS);
        words_add_all(&ws, wl->objects, WORDS_NOBJECTS);
        words_add_all(&ws, wl->assessments, WORDS_NASSESSMENTS);
        words_add_text(&ws, wl->outcome);
        words_add_text(&ws, wl->quality_assurance);
        words_add_text(&ws, wl->entry_requirements);
        print_message("%s: %zu distinct words\n", wl->code, ws.n);
        assert_true(ws.n >= 150);
        if (strcmp(wl->code, "en") != 0)
            assert_true(accents > 0); /* unaccent has work to do */
        if (strcmp(wl->code, "de") == 0) {
            /* inflected forms of one stem, so stemming matters */
            assert_true(words_has(&ws, "lernen"));
            assert_true(words_has(&ws, "lernens"));
            assert_true(words_has(&ws, "lernt"));
        }
        for (size_t k = 0; k < ws.n; k++)
            free(ws.v[k]);
        free(ws.v);
    }
}

/* ---- institutions ---- */

static const char *tld_country(const char *id)
{
    static const char *const map[][2] = {
        {".ie", "IE"}, {".de", "DE"}, {".fr", "FR"}, {".es", "ES"}, {".cat", "ES"}, {".it", "IT"},
        {".pl", "PL"}, {".lt", "LT"}, {".pt", "PT"}, {".nl", "NL"}, {".fi", "FI"},  {".se", "SE"},
        {".dk", "DK"}, {".at", "AT"}, {".cz", "CZ"}, {".ee", "EE"}, {".be", "BE"},  {".lv", "LV"},
    };
    const char *dot = strrchr(id, '.');

    for (size_t i = 0; dot != NULL && i < MCX_ARRAY_LEN(map); i++)
        if (strcmp(dot, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static void test_institutions(void **state)
{
    struct gen_corpus_institution all[GEN_CORPUS_MAX_INSTITUTIONS], x;
    bool first8[8] = {false};

    (void)state;
    for (size_t k = 0; k < GEN_CORPUS_MAX_INSTITUTIONS; k++) {
        struct gen_corpus_institution *in = &all[k];
        assert_int_equal(gen_corpus_institution(k, in), 0);
        size_t len = strlen(in->id);
        /* institutions.id: ^[a-z0-9][a-z0-9.-]{0,126}$, and a domain */
        assert_true(len >= 4 && len <= 127);
        assert_int_equal(strspn(in->id, "abcdefghijklmnopqrstuvwxyz0123456789.-"), len);
        assert_non_null(strchr(in->id, '.'));
        assert_non_null(tld_country(in->id));
        assert_string_equal(in->country, tld_country(in->id));
        assert_true(in->name[0] != '\0');
        assert_true(lang_index(in->lang) >= 0);
        for (size_t j = 0; j < k; j++)
            assert_string_not_equal(all[j].id, in->id);
        if (k < 8)
            first8[lang_index(in->lang)] = true;
    }
    for (size_t l = 0; l < 8; l++)
        assert_true(first8[l]);
    assert_int_equal(gen_corpus_institution(GEN_CORPUS_MAX_INSTITUTIONS, &x), -1);
    assert_string_equal(all[0].id, "tcd.ie");
    assert_string_equal(all[6].id, "vdu.lt");
    assert_string_equal(all[1].id, "uni-heidelberg.de");
}

static int setup(void **state)
{
    (void)state;
    isced_xsd = file_read(MCX_SOURCE_DIR "/schemas/loq/cv/isced-f.xsd");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(isced_xsd);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_offers),
        cmocka_unit_test(test_order_does_not_matter),
        cmocka_unit_test(test_other_seed_other_offers),
        cmocka_unit_test(test_documents_are_reproducible),
        cmocka_unit_test(test_languages),
        cmocka_unit_test(test_titles_capitalised),
        cmocka_unit_test(test_topic_isced_codes),
        cmocka_unit_test(test_offer_values),
        cmocka_unit_test(test_chunks_validate),
        cmocka_unit_test(test_fixed_titles),
        cmocka_unit_test(test_institution_of_offer),
        cmocka_unit_test(test_vocabulary),
        cmocka_unit_test(test_institutions),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
