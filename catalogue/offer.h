/*
 * offer.h — the offer: one learning opportunity of a partner institution, as mcx
 * stores, searches and exports it (DESIGN §4, §5). The codecs (loq.c, elm.c) fill
 * it from Europass LOQ XML or ELM 3 JSON-LD and write it back; the store keeps
 * it in PostgreSQL. Pure data and pure functions: no I/O here.
 */
#ifndef MCX_OFFER_H
#define MCX_OFFER_H

#include <stdbool.h>
#include <stddef.h>

#include "server/util.h"

struct json_writer;

/* One text in one language. lang: ISO 639-1 ("en") where one exists, else the
 * lowercase ISO 639-2/3 code ("hai"); "" when the source gave none. */
struct lang_string {
    char *lang;
    char *text;
};

/* A language map: texts in source order, at most one per language. */
struct lang_map {
    struct lang_string *items;
    size_t n;
};

enum offer_mode {
    OFFER_MODE_UNKNOWN = 0,
    OFFER_MODE_ONLINE,  /* Europass modes vocabulary: Online */
    OFFER_MODE_BLENDED, /* Blended */
    OFFER_MODE_ONSITE,  /* Presential */
};

struct offer {
    /* identity */
    char *external_id; /* skos:notation of the first identifier, else the source id */
    char *source_id;   /* the learning opportunity's id in its document (LOQ @id, JSON-LD id) */

    /* what a student reads */
    struct lang_map title;
    struct lang_map description;
    char *homepage;   /* first homepage's contentUrl */
    char **languages; /* languages of instruction, ISO 639-1 where one exists */
    size_t nlanguages;
    char **isced; /* ISCED-F 2013 field codes as strings: "0613" (or broad "06") */
    size_t nisced;
    int eqf; /* EQF level 1..8; 0 = not given */
    bool has_ects;
    double ects; /* ECTS credit points */
    enum offer_mode mode;
    char starts[11]; /* YYYY-MM-DD or "" */
    char ends[11];
    char application_deadline[11];
    bool has_price;
    double price_amount;
    char currency[4];                   /* ISO 4217, "" if none */
    struct lang_map *learning_outcomes; /* one language map per outcome */
    size_t noutcomes;
    struct lang_map assessment; /* assessment type/description */
    struct lang_map quality_assurance;
    struct lang_map entry_requirements; /* prerequisites */
    char *volume_of_learning;           /* ISO 8601 duration, e.g. "PT60H"; NULL if none */

    /* who provides it */
    char *provider_id;             /* the organisation's id in the source document */
    struct lang_map provider_name; /* legalName */
    char provider_country[3];      /* ISO 3166-1 alpha-2, "" if unknown */
    char *provider_homepage;
};

void offer_init(struct offer *o);
void offer_cleanup(struct offer *o);

void lang_map_add(struct lang_map *m, const char *lang, const char *text);
/* The text in lang, else English, else the first; NULL when empty. */
const char *lang_map_get(const struct lang_map *m, const char *lang);
void lang_map_cleanup(struct lang_map *m);

/* Field-by-field equality (the round-trip tests' notion of "equal offers"). On a
 * difference, *field (optional) names the first differing field. */
bool offer_equal(const struct offer *a, const struct offer *b, const char **field);

/*
 * The mandatory elements of the EU Council Recommendation of 16 June 2022
 * (Annex I) that an offer can carry: title, awarding_body (provider), country,
 * learning_outcomes, ects (notional workload), eqf, assessment, mode (form of
 * participation), quality_assurance. Writes the names of the missing ones, in
 * that order, to missing[] (room for OFFER_COMPLETENESS_MAX) and returns how many.
 */
#define OFFER_COMPLETENESS_MAX 9
size_t offer_completeness(const struct offer *o, const char *missing[OFFER_COMPLETENESS_MAX]);

const char *offer_mode_name(enum offer_mode m);               /* "online" … or NULL */
int offer_mode_parse(const char *name, enum offer_mode *out); /* 0 or -1 */

/*
 * Writes the offer's content fields into an open JSON object, as DESIGN §5 names
 * them: external_id, title, description, homepage, languages, isced, eqf, ects,
 * mode, starts, ends, application_deadline, price, learning_outcomes, assessment,
 * quality_assurance, entry_requirements, volume_of_learning, provider. The store
 * adds id, institution, provenance, completeness, version, updated_at, deleted.
 */
void offer_write_json_fields(const struct offer *o, struct json_writer *w);

/* SHA-256 (hex) over a canonical serialisation of the content: equal offers hash
 * equal, so re-publishing identical content changes nothing. */
void offer_content_hash(const struct offer *o, char out[65]);

#endif
