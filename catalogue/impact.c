/*
 * impact.c — GET /api/v1/stats/impact?from=&to=&institution= (DESIGN §5
 * "Issuance", issue 11): students exposed to the catalogue, applications,
 * credentials delivered and recognised credit transfers across institutions, over
 * a period, per month and per institution. The counting is impact_reply() of
 * schemas/sql/013_impact.sql (where each figure is defined); this file checks the
 * parameters and the caller and picks JSON or CSV.
 *
 * Who sees what ("public summary, full detail for staff"): anyone gets the
 * network's totals and monthly series; publishers, registrars and admins also get
 * by_institution and may ask for one institution. Authentication is optional
 * (api_call_optional): no credential, or a stale session cookie, is an anonymous
 * caller; a bad bearer token is still 401.
 */
#include "catalogue/impact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/mcxd.h"
#include "server/router.h"

/* $1 from, $2 to, $3 institution (NULL: network), $4 with by_institution, $5 as CSV. */
static const char reply_sql[] =
    "SELECT status, body FROM impact_reply($1::date, $2::date, $3, $4::boolean, $5::boolean)";

enum impact_format { IMPACT_JSON, IMPACT_CSV };

struct impact_call {
    struct impact_params p;
};

/* ---- dates: days since the epoch (H. Hinnant's civil calendar algorithms) ---- */

long impact_date_days(const char *date)
{
    long y = strtol(date, NULL, 10), m = strtol(date + 5, NULL, 10), d = strtol(date + 8, NULL, 10);

    y -= m <= 2;
    long era = y / 400; /* years 1900-2999 only: never negative */
    long yoe = y - era * 400;
    long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void impact_days_date(long days, char out[IMPACT_DATE_SIZE])
{
    long z = days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    long y = yoe + era * 400 + (m <= 2);
    char tmp[64]; /* the compiler cannot see that the fields fit */

    snprintf(tmp, sizeof(tmp), "%04ld-%02ld-%02ld", y, m, d);
    mcx_strlcpy(out, tmp, IMPACT_DATE_SIZE);
}

/* ---- parameters ---- */

static bool is_given(const char *v)
{
    return v != NULL && v[0] != '\0';
}

static int date_param(const char *name, const char *v, char out[IMPACT_DATE_SIZE],
                      struct mcx_error *err)
{
    if (strnlen(v, IMPACT_DATE_SIZE) != IMPACT_DATE_SIZE - 1 || !mcx_date_is_valid(v)) {
        mcx_error_set(err, "invalid_parameter", "%s: a calendar date YYYY-MM-DD, not %.40s", name,
                      v);
        return -1;
    }
    memcpy(out, v, IMPACT_DATE_SIZE);
    return 0;
}

int impact_params_read(const char *from, const char *to, const char *institution, const char *today,
                       struct impact_params *out, struct mcx_error *err)
{
    long days;

    memset(out, 0, sizeof(*out));
    if (date_param("to", is_given(to) ? to : today, out->to, err) != 0)
        return -1;
    if (is_given(from)) {
        if (date_param("from", from, out->from, err) != 0)
            return -1;
    } else {
        impact_days_date(impact_date_days(out->to) - (IMPACT_DEFAULT_DAYS - 1), out->from);
    }
    days = impact_date_days(out->to) - impact_date_days(out->from) + 1;
    if (days < 1) {
        mcx_error_set(err, "invalid_parameter", "from: %s is after to (%s)", out->from, out->to);
        return -1;
    }
    if (days > IMPACT_MAX_DAYS) {
        mcx_error_set(err, "invalid_parameter",
                      "to: the period from %s to %s is %ld days; at most %d (ten years)", out->from,
                      out->to, days, IMPACT_MAX_DAYS);
        return -1;
    }
    if (is_given(institution)) {
        if (!mcx_institution_id_is_valid(institution)) {
            mcx_error_set(err, "invalid_parameter",
                          "institution: an institution id such as vdu.lt (lowercase letters, "
                          "digits, '.' and '-'), not %.40s",
                          institution);
            return -1;
        }
        mcx_strlcpy(out->institution, institution, sizeof(out->institution));
    }
    return 0;
}

/* ---- the request ---- */

/* The first media type of Accept that is served (q values are not weighed), as
 * recognition/transfers.c reads it; -1 when none is. */
static int format_of(const char *accept, enum impact_format *out)
{
    static const struct {
        const char *type;
        enum impact_format f;
    } types[] = {{"application/json", IMPACT_JSON},
                 {"text/csv", IMPACT_CSV},
                 {"*/*", IMPACT_JSON},
                 {"application/*", IMPACT_JSON}};
    const char *p = accept;

    *out = IMPACT_JSON;
    if (accept == NULL || *accept == '\0')
        return 0;
    while (*p != '\0') {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ";, \t");
        for (size_t i = 0; i < MCX_ARRAY_LEN(types); i++)
            if (strlen(types[i].type) == n && strncasecmp(p, types[i].type, n) == 0) {
                *out = types[i].f;
                return 0;
            }
        p += strcspn(p, ",");
    }
    return -1;
}

static bool is_staff(const struct auth_user *u)
{
    return u != NULL && (strcmp(u->role, "publisher") == 0 || strcmp(u->role, "registrar") == 0 ||
                         strcmp(u->role, "admin") == 0);
}

static void today_utc(char out[IMPACT_DATE_SIZE])
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(out, IMPACT_DATE_SIZE, "%Y-%m-%d", &tm);
}

static void csv_done(struct api_call *c, struct db_result *res)
{
    struct impact_call *ic = api_call_data(c);
    char disposition[96];
    struct buf b;

    if (db_result_rows(res) != 1 || db_result_is_null(res, 0, 1)) {
        api_call_fail(c, 500, "internal_error", "the statement gave no answer");
        return;
    }
    int status = atoi(db_result_value(res, 0, 0));
    if (status != 200) {
        api_call_fail(c, status, api_error_code(status), "%s", db_result_value(res, 0, 1));
        return;
    }
    /* a plain link downloads it under a name that says what it holds */
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"mcx-impact-%s-%s.csv\"",
             ic->p.from, ic->p.to);
    http_response_header(api_call_request(c), "Content-Disposition", disposition);
    buf_init(&b);
    buf_puts(&b, db_result_value(res, 0, 1));
    api_call_reply_buf(c, 200, "text/csv; charset=utf-8", &b);
}

static void stats_authed(struct api_call *c, const struct auth_user *u)
{
    struct impact_call *ic = api_call_data(c);
    struct http_request *req = api_call_request(c);
    enum impact_format format;
    char today[IMPACT_DATE_SIZE];
    struct mcx_error err;

    if (format_of(http_request_header(req, "Accept"), &format) != 0) {
        api_call_fail(c, 406, "not_acceptable",
                      "the impact figures come as application/json or text/csv");
        return;
    }
    today_utc(today);
    if (impact_params_read(http_request_query(req, "from"), http_request_query(req, "to"),
                           http_request_query(req, "institution"), today, &ic->p, &err) != 0) {
        api_call_fail(c, 400, "invalid_parameter", "%s", err.message);
        return;
    }
    if (ic->p.institution[0] != '\0' && !is_staff(u)) {
        api_call_fail(c, 403, "forbidden",
                      "institution: one institution's figures are for staff (publisher, "
                      "registrar or admin); the public summary is the whole network's");
        return;
    }
    const char *params[5] = {ic->p.from, ic->p.to, ic->p.institution[0] ? ic->p.institution : NULL,
                             is_staff(u) ? "true" : "false",
                             format == IMPACT_CSV ? "true" : "false"};
    if (format == IMPACT_CSV)
        api_call_db(c, reply_sql, 5, params, csv_done);
    else
        api_call_query(c, reply_sql, 5, params);
}

static void handle_stats(struct http_request *req, void *arg)
{
    http_response_header(req, "Vary", "Accept");
    api_call_optional(req, arg, stats_authed, xcalloc(1, sizeof(struct impact_call)), free);
}

void impact_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_GET, "/api/v1/stats/impact", handle_stats, app, 0);
}
