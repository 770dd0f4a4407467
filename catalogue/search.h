/*
 * search.h — student search, GET /api/v1/offers (DESIGN §5): full text in each
 * offer's languages with typo tolerance, credit filters, facets counted with every
 * other filter applied, signed keyset cursors, and ETags that follow the catalogue
 * version every node hears of through LISTEN mcx_catalogue.
 */
#ifndef MCX_SEARCH_H
#define MCX_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "server/util.h"

struct mcxd;
struct search;

struct search *search_new(struct mcxd *app);
void search_free(struct search *s);
void search_routes_add(struct mcxd *app, struct search *s);

/*
 * The catalogue changed (payload: the new version as decimal text), or, with
 * payload NULL, the listener (re)connected and may have missed changes: the
 * version is read again and, until it is, no request is answered with 304.
 */
void search_catalogue_changed(struct search *s, const char *payload);

/* Limits of the parameters (DESIGN §5; messages name the parameter). */
#define SEARCH_Q_MAX_CHARS 200
#define SEARCH_LIMIT_DEFAULT 20
#define SEARCH_LIMIT_MAX 100
#define SEARCH_VALUES_MAX 20 /* values of one repeatable filter */

/*
 * The parsed and checked parameters of one search. Pure: search_params_parse
 * reads a raw query string (and the Accept-Language header) and either fills p
 * or sets err (code "invalid_parameter", a message naming the parameter).
 */
enum search_sort { SEARCH_SORT_RELEVANCE, SEARCH_SORT_START, SEARCH_SORT_ECTS, SEARCH_SORT_TITLE };

struct search_params {
    char *q; /* NULL: no text */
    /* repeatable filters as PostgreSQL array literals ("{en,de}"), NULL when absent */
    char *language, *isced, *eqf, *mode, *institution;
    char *ects_min, *ects_max; /* checked decimal numbers, NULL when absent */
    char starts_after[11];     /* YYYY-MM-DD or "" */
    char starts_before[11];
    enum search_sort sort;
    long limit;
    char lang[4];            /* preferred language ("" none): lang=, else Accept-Language */
    char recognised_by[128]; /* only offers an agreement of this institution covers ("" all) */
    char home[128];          /* show what each offer gives there ("" none; recognised_by's) */
    char *cursor;            /* as given, NULL when absent */
    struct buf canon;        /* every parameter but cursor and limit, canonically: binds cursors */
};

int search_params_parse(const char *query, const char *accept_language, struct search_params *p,
                        struct mcx_error *err);
void search_params_cleanup(struct search_params *p);

#endif
