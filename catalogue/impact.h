/*
 * impact.h — GET /api/v1/stats/impact (catalogue/impact.c): the network's four
 * impact figures (exposed, applied, issued, mobilities) over a period, per month and
 * per institution, as schemas/sql/013_impact.sql counts them. mcxd.c adds the route.
 */
#ifndef MCX_IMPACT_H
#define MCX_IMPACT_H

#include "server/util.h"

struct mcxd;

#define IMPACT_DEFAULT_DAYS 365 /* no from: the 365 days ending on to */
#define IMPACT_MAX_DAYS 3653    /* ten years, leap days included */
#define IMPACT_DATE_SIZE 11     /* YYYY-MM-DD + NUL */

/* The period and the institution of a request, checked. */
struct impact_params {
    char from[IMPACT_DATE_SIZE];
    char to[IMPACT_DATE_SIZE];
    char institution[128]; /* "" = the whole network */
};

void impact_routes_add(struct mcxd *app);

/* ---- pure helpers (exposed for the unit tests) ---- */

/*
 * Reads the query parameters from, to and institution (each NULL or "" when absent)
 * into out, with today (YYYY-MM-DD, UTC) for the defaults: to is today, from the
 * IMPACT_DEFAULT_DAYS days ending on to. 0, or -1 with err->message naming the
 * parameter ("from: …"): a date that is no calendar date, from after to, a period of
 * more than IMPACT_MAX_DAYS days, an institution that is no institution id.
 */
int impact_params_read(const char *from, const char *to, const char *institution, const char *today,
                       struct impact_params *out, struct mcx_error *err);

/* Days since 1970-01-01 of a date mcx_date_is_valid accepts (proleptic Gregorian). */
long impact_date_days(const char *date);
/* The date of a day count, written YYYY-MM-DD into out. */
void impact_days_date(long days, char out[IMPACT_DATE_SIZE]);

#endif
