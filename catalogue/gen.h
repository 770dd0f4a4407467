/*
 * gen.h — deterministic generators of realistic offers, for benchmarks, demos and
 * tests: titles, descriptions and outcomes composed from word lists, codes from the
 * Europass vocabularies (ISCED-F, EQF, languages, modes). The same seed always
 * gives the same offers. `mcx gen-loq` writes gen_offer's as a LOQ catalogue;
 * `mcx gen-corpus` loads gen_corpus_offer's multilingual corpus (gen_load.h).
 */
#ifndef MCX_GEN_H
#define MCX_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "catalogue/offer.h"
#include "server/util.h"

struct gen {
    uint64_t state;
};

void gen_init(struct gen *g, uint64_t seed);
/* The splitmix64 stream behind every choice: the next value, and one in [0, n). */
uint64_t gen_next(struct gen *g);
size_t gen_pick(struct gen *g, size_t n);
/* Fills an offer_init'ed o as offer number n of a catalogue of institution inst. */
void gen_offer(struct gen *g, size_t n, const char *inst, struct offer *o);
/*
 * Writes a LOQ Courses document of count offers; the ones whose 0-based index is
 * in invalid[] get an element the schema forbids (for tests of per-item reports).
 */
int gen_loq_document(uint64_t seed, size_t count, const char *inst, const size_t *invalid,
                     size_t ninvalid, struct buf *out);

/* ---- the multilingual corpus: search tests and benchmarks (gen_corpus.c) ---- */

/*
 * A corpus of N offers over K institutions. Offer i (0-based, i < N) belongs to
 * institution i % K, has external id "corpus-%07zu" of i ("corpus-0000042") and
 * depends only on (seed, i, K): a larger N adds offers and changes none.
 *
 * Its language is one of GEN_CORPUS_LANGUAGES, mostly its institution's (or English):
 * languages = [that language]; title, description, learning outcomes, assessment,
 * quality assurance and entry requirements are in it, composed from words.h (the
 * topic decides the ISCED-F field), and 3 in 10 non-English offers carry an English
 * title as a second entry. EQF 4-8 (mostly 5-7), ECTS from 1 to 30 (mostly 3-6),
 * mode online/blended/onsite, starts in 2026-2028, ends after it starts, application
 * deadline 2 to 13 weeks before it starts, a price on one in four.
 *
 * Fixed offers, for tests to rely on (any seed, any K; present when i < N). Other
 * offers may carry the same titles by chance, so count matches, don't assume one:
 *
 *    i  language  title                                  English title
 *    0  en        Machine learning
 *    1  en        Introduction to machine learning
 *    2  de        Maschinelles Lernen für Ingenieure     Machine learning for engineers
 *    3  de        Grundlagen der Datenanalyse
 *    4  fr        Apprentissage automatique
 *    5  es        Aprendizaje automático en la práctica
 *    6  it        Apprendimento automatico
 *    7  pl        Uczenie maszynowe w praktyce
 *    8  lt        Mašininio mokymosi pagrindai
 *    9  pt        Introdução à ciência de dados
 *   10  lt        Duomenų raštingumas                    Data literacy
 *   11  fr        Économie circulaire                    Circular economy
 *   12  en        Cybersecurity fundamentals
 *
 * Offers 0-8 are about machine learning (ISCED-F 0613), 3 data analysis (0542), 9
 * and 10 data science (0688), 11 the circular economy (0311), 12 cybersecurity (0612).
 */
#define GEN_CORPUS_LANGUAGES "en de fr es it pl lt pt"
#define GEN_CORPUS_NFIXED 13
/* Curated real university domains first, then plausible composed ones. */
#define GEN_CORPUS_MAX_INSTITUTIONS 157

struct gen_corpus_fixed {
    size_t index;         /* i */
    const char *lang;     /* the offer's language, its title's first entry */
    const char *title;    /* in lang */
    const char *title_en; /* the second, English title, or NULL */
    size_t topic;         /* words.h topic: description, outcomes and ISCED-F field */
};

/* The table above (GEN_CORPUS_NFIXED rows, by index). */
extern const struct gen_corpus_fixed gen_corpus_fixed[GEN_CORPUS_NFIXED];

struct gen_corpus_institution {
    char id[64];      /* a SCHAC-like domain: "vdu.lt", "uni-heidelberg.de" */
    char name[128];   /* in English */
    char country[3];  /* ISO 3166-1 alpha-2, the domain's */
    const char *lang; /* the language most of its offers are in */
};

/* Institution k (0-based) of every corpus; -1 when k >= GEN_CORPUS_MAX_INSTITUTIONS. */
int gen_corpus_institution(size_t k, struct gen_corpus_institution *out);
/* Fills an offer_init'ed o as offer i of a corpus over ninstitutions (1 to the max). */
void gen_corpus_offer(uint64_t seed, size_t i, size_t ninstitutions, struct offer *o);

#endif
