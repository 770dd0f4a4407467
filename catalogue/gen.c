/*
 * gen.c — deterministic offer generator. A splitmix64 stream drives every
 * choice, so a seed names a catalogue. Offers go through the real LOQ exporter,
 * so what comes out validates exactly as published documents must.
 */
#include "catalogue/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/loq.h"

static const char *subjects[] = {
    "Data",
    "Machine learning",
    "Sustainable energy",
    "Public health",
    "Cybersecurity",
    "Digital",
    "Circular economy",
    "Urban mobility",
    "Bioinformatics",
    "Climate",
    "Entrepreneurship",
    "Cloud computing",
    "Intercultural",
    "Financial",
    "Robotics",
    "Food safety",
    "Water management",
    "Project management",
    "Quantum",
    "Accessibility",
};
static const char *forms[] = {
    "literacy",      "fundamentals", "for engineers", "in practice", "analytics",
    "and society",   "policy",       "design studio", "essentials",  "leadership",
    "communication", "methods",      "lab",           "ethics",      "modelling",
};
static const char *lt_subjects[] = {
    "Duomenų",
    "Mašininio mokymosi",
    "Tvarios energetikos",
    "Visuomenės sveikatos",
    "Kibernetinio saugumo",
    "Skaitmeninio",
    "Žiedinės ekonomikos",
    "Miesto judumo",
};
static const char *lt_forms[] = {"raštingumas", "pagrindai", "praktika", "analitika", "etika"};
static const char *verbs[] = {"analyse", "design", "evaluate",    "explain",  "apply",
                              "compare", "build",  "communicate", "critique", "plan"};
static const char *objects[] = {
    "datasets with open tools",
    "a small research project",
    "ethical risks of a system",
    "results to non-specialists",
    "a prototype for a real client",
    "evidence from case studies",
    "the main methods of the field",
    "a policy brief",
    "a team's work plan",
    "the limits of current models",
};
/* ISCED-F 2013 detailed fields (codes in the samples' cv/isced-f.xsd). */
static const char *isced[] = {"0011", "0111", "0211", "0311", "0413", "0421", "0521", "0532",
                              "0588", "0611", "0612", "0613", "0688", "0711", "0712", "0714",
                              "0731", "0811", "0912", "0923", "1013", "1022"};
static const char *languages[] = {"en", "en", "en", "lt", "de", "fr", "es", "it", "pl", "nl"};
static const char *countries[] = {"LT", "ES", "DE", "FR", "IT", "PL", "NL", "FI"};

uint64_t gen_next(struct gen *g)
{
    uint64_t z = (g->state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

size_t gen_pick(struct gen *g, size_t n)
{
    return (size_t)(gen_next(g) % n);
}

static size_t pick(struct gen *g, size_t n)
{
    return gen_pick(g, n);
}

#define PICK(g, arr) ((arr)[pick((g), MCX_ARRAY_LEN(arr))])

void gen_init(struct gen *g, uint64_t seed)
{
    g->state = seed;
}

static char **strv1(const char *s, size_t *n)
{
    char **v = xcalloc(1, sizeof(char *));

    v[0] = xstrdup(s);
    *n = 1;
    return v;
}

static void gen_texts(struct gen *g, size_t n, struct offer *o)
{
    char buf[512];
    const char *subj = PICK(g, subjects), *form = PICK(g, forms);

    snprintf(buf, sizeof(buf), "%s %s", subj, form);
    lang_map_add(&o->title, "en", buf);
    if (pick(g, 3) == 0) {
        snprintf(buf, sizeof(buf), "%s %s", PICK(g, lt_subjects), PICK(g, lt_forms));
        lang_map_add(&o->title, "lt", buf);
    }
    snprintf(buf, sizeof(buf),
             "A short course on %s %s for students of partner universities. Course %zu "
             "combines online lectures, weekly exercises and a final project.",
             subj, form, n + 1);
    lang_map_add(&o->description, "en", buf);
    o->noutcomes = 2 + pick(g, 3);
    o->learning_outcomes = xcalloc(o->noutcomes, sizeof(struct lang_map));
    for (size_t i = 0; i < o->noutcomes; i++) {
        snprintf(buf, sizeof(buf), "The learner can %s %s.", PICK(g, verbs), PICK(g, objects));
        lang_map_add(&o->learning_outcomes[i], "en", buf);
    }
    lang_map_add(&o->assessment, "en",
                 pick(g, 2) ? "Written exam and graded project"
                            : "Portfolio reviewed by two teachers");
    lang_map_add(&o->quality_assurance, "en",
                 "Internal quality assurance of the university, accredited by the national "
                 "agency");
    lang_map_add(&o->entry_requirements, "en", "Completed first year of a bachelor programme");
}

static void gen_dates(struct gen *g, struct offer *o)
{
    int month = 1 + (int)pick(g, 12), day = 1 + (int)pick(g, 28);
    int len = 1 + (int)pick(g, 4);
    char d[32];

    snprintf(d, sizeof(d), "2027-%02d-%02d", month, day);
    mcx_strlcpy(o->starts, d, sizeof(o->starts));
    snprintf(d, sizeof(d), "%04d-%02d-%02d", 2027 + (month + len > 12), (month + len - 1) % 12 + 1,
             day);
    mcx_strlcpy(o->ends, d, sizeof(o->ends));
    snprintf(d, sizeof(d), "%04d-%02d-%02d", 2026 + (month > 1), month > 1 ? month - 1 : 12, day);
    mcx_strlcpy(o->application_deadline, d, sizeof(o->application_deadline));
}

void gen_offer(struct gen *g, size_t n, const char *inst, struct offer *o)
{
    char buf[256];
    static const double ects[] = {1, 2, 3, 3, 4, 5, 5, 6, 7.5, 10};

    snprintf(buf, sizeof(buf), "%s-MC-%05zu", inst, n + 1);
    o->external_id = xstrdup(buf);
    snprintf(buf, sizeof(buf), "https://%s/courses/%05zu", inst, n + 1);
    o->source_id = xstrdup(buf);
    o->homepage = xstrdup(buf);
    gen_texts(g, n, o);
    o->languages = strv1(PICK(g, languages), &o->nlanguages);
    o->isced = strv1(PICK(g, isced), &o->nisced);
    o->eqf = 5 + (int)pick(g, 3);
    o->has_ects = true;
    o->ects = PICK(g, ects);
    o->mode = (enum offer_mode)(1 + pick(g, 3));
    gen_dates(g, o);
    o->has_price = pick(g, 4) == 0;
    o->price_amount = o->has_price ? (double)(50 * (1 + pick(g, 10))) : 0;
    if (o->has_price)
        mcx_strlcpy(o->currency, "EUR", sizeof(o->currency));
    o->volume_of_learning = xstrdup(o->ects >= 5 ? "PT150H" : "PT60H");
    snprintf(buf, sizeof(buf), "https://%s/", inst);
    o->provider_id = xstrdup(buf);
    o->provider_homepage = xstrdup(buf);
    snprintf(buf, sizeof(buf), "University %s", inst);
    lang_map_add(&o->provider_name, "en", buf);
    mcx_strlcpy(o->provider_country, countries[n % MCX_ARRAY_LEN(countries)],
                sizeof(o->provider_country));
}

/* Puts an element the schema forbids first inside the k-th learningOpportunity. */
static void corrupt(struct buf *doc, size_t k)
{
    const char *p = doc->data;
    static const char open[] = "<learningOpportunity ";
    static const char bad[] = "<notAnElementOfLoq/>";

    for (size_t i = 0; p != NULL; i++) {
        p = strstr(p, open);
        if (p == NULL)
            return;
        if (i == k) {
            const char *gt = strchr(p, '>');
            size_t at = (size_t)(gt + 1 - doc->data);
            struct buf out;
            buf_init(&out);
            buf_append(&out, doc->data, at);
            buf_puts(&out, bad);
            buf_append(&out, doc->data + at, doc->len - at);
            buf_cleanup(doc);
            *doc = out;
            return;
        }
        p += sizeof(open) - 1;
    }
}

int gen_loq_document(uint64_t seed, size_t count, const char *inst, const size_t *invalid,
                     size_t ninvalid, struct buf *out)
{
    struct offer *offers = xcalloc(count ? count : 1, sizeof(struct offer));
    const struct offer **list = xcalloc(count ? count : 1, sizeof(struct offer *));
    struct gen g;
    int rc;

    gen_init(&g, seed);
    for (size_t i = 0; i < count; i++) {
        offer_init(&offers[i]);
        gen_offer(&g, i, inst, &offers[i]);
        list[i] = &offers[i];
    }
    rc = loq_export(list, count, LOQ_VERSION_310, out);
    /* from the last to the first, so earlier offsets stay where they were */
    for (size_t i = ninvalid; rc == 0 && i > 0; i--)
        corrupt(out, invalid[i - 1]);
    for (size_t i = 0; i < count; i++)
        offer_cleanup(&offers[i]);
    free(offers);
    free(list);
    return rc;
}
