/*
 * transfers.c — GET /api/v1/credit-transfers: the records recognition decisions
 * made, for the student's home institution. JSON by default; per student, CSV
 * (Accept: text/csv) or an EMREX ELMO transcript (Accept: application/xml) for
 * the registrar's student information system (recognition/export.c writes both).
 *
 * A student sees their own; a registrar their institution's (one student's, with
 * ?student=ID or e-mail); an admin all. Publishers see none.
 */
#include "recognition/transfers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "recognition/export.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/mcxd.h"
#include "server/router.h"

#define TRANSFERS_MAX 1000

/* $1 role, $2 user, $3 institution, $4 student (uuid or e-mail, or NULL). */
static const char transfers_sql[] =
    "SELECT ct.id, ct.request_id, ct.outcome, recognition_time(ct.decided_at), ct.programme,"
    "  ct.course, ct.credits::text, ct.grade, ct.credential->>'title',"
    "  coalesce(r.issuer_id, ct.credential->'issuer'->>'id'),"
    "  coalesce(iss.name->>'en', ct.credential->'issuer'->>'name'),"
    "  coalesce(iss.country, ct.credential->'issuer'->>'country'),"
    "  ct.credential->>'awarded_on', ct.credential->>'grade', ct.credential->>'ects',"
    "  ct.credential->>'eqf', ct.credential->'isced'->>0, r.offer_id,"
    "  u.id, u.email, u.display_name,"
    "  hi.id, coalesce(hi.name->>'en', (SELECT value FROM jsonb_each_text(hi.name) LIMIT 1)),"
    "  hi.country, hi.homepage"
    " FROM credit_transfers ct"
    " JOIN recognition_requests r ON r.id = ct.request_id"
    " JOIN users u ON u.id = ct.student_id"
    " JOIN institutions hi ON hi.id = ct.institution_id"
    " LEFT JOIN institutions iss ON iss.id = r.issuer_id"
    " WHERE (($1 = 'student' AND ct.student_id = $2::uuid)"
    "     OR ($1 = 'registrar' AND ct.institution_id = $3) OR $1 = 'admin')"
    "   AND ($4::text IS NULL OR u.id::text = $4 OR lower(u.email) = lower($4))"
    " ORDER BY ct.decided_at, ct.id LIMIT $5::int";

enum format { FORMAT_JSON, FORMAT_CSV, FORMAT_ELMO };

struct listing {
    enum format format;
};

/* The first media type of Accept that we serve, JSON when none is asked for. */
static int format_of(const char *accept, enum format *out)
{
    static const struct {
        const char *type;
        enum format f;
    } types[] = {{"application/json", FORMAT_JSON},
                 {"text/csv", FORMAT_CSV},
                 {"application/xml", FORMAT_ELMO},
                 {"text/xml", FORMAT_ELMO},
                 {"*/*", FORMAT_JSON},
                 {"application/*", FORMAT_JSON}};
    const char *p = accept;

    *out = FORMAT_JSON;
    if (accept == NULL || *accept == '\0')
        return 0;
    while (*p != '\0') {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ";, \t");
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strlen(types[i].type) == n && strncasecmp(p, types[i].type, n) == 0) {
                *out = types[i].f;
                return 0;
            }
        p += strcspn(p, ",");
    }
    return -1;
}

static const char *cell(struct db_result *res, int row, int col)
{
    return db_result_is_null(res, row, col) ? NULL : db_result_value(res, row, col);
}

static void transfer_of(struct db_result *res, int i, struct rec_transfer *t)
{
    const char *credits = cell(res, i, 6), *ects = cell(res, i, 14), *eqf = cell(res, i, 15);

    memset(t, 0, sizeof(*t));
    t->id = cell(res, i, 0);
    t->request_id = cell(res, i, 1);
    t->outcome = cell(res, i, 2);
    t->decided_at = cell(res, i, 3);
    t->programme = cell(res, i, 4);
    t->course = cell(res, i, 5);
    t->has_credits = credits != NULL;
    t->credits = credits != NULL ? atof(credits) : 0;
    t->grade = cell(res, i, 7);
    t->title = cell(res, i, 8);
    t->issuer_id = cell(res, i, 9);
    t->issuer_name = cell(res, i, 10);
    t->issuer_country = cell(res, i, 11);
    t->awarded_on = cell(res, i, 12);
    t->original_grade = cell(res, i, 13);
    t->has_original_ects = ects != NULL;
    t->original_ects = ects != NULL ? atof(ects) : 0;
    t->eqf = eqf != NULL ? atoi(eqf) : 0;
    t->isced = cell(res, i, 16);
    t->offer_id = cell(res, i, 17);
}

static void write_json(struct db_result *res, struct buf *out)
{
    struct json_writer w;
    int rows = db_result_rows(res);

    json_writer_init(&w, out);
    json_object_begin(&w);
    json_key(&w, "items");
    json_array_begin(&w);
    for (int i = 0; i < rows; i++) {
        struct rec_transfer t;
        transfer_of(res, i, &t);
        json_object_begin(&w);
        json_kv_string(&w, "id", t.id);
        json_kv_string(&w, "request_id", t.request_id);
        json_kv_string(&w, "student", cell(res, i, 18));
        json_kv_string(&w, "student_email", cell(res, i, 19));
        json_kv_string(&w, "institution", cell(res, i, 21));
        json_kv_string(&w, "programme", t.programme);
        json_kv_string(&w, "course", t.course);
        json_kv_string(&w, "outcome", t.outcome);
        json_key(&w, "credits");
        if (t.has_credits)
            json_raw(&w, cell(res, i, 6), strlen(cell(res, i, 6)));
        else
            json_null(&w);
        json_kv_string(&w, "grade", t.grade);
        json_key(&w, "credential");
        json_object_begin(&w);
        json_kv_string(&w, "title", t.title);
        json_kv_string(&w, "issuer", t.issuer_id);
        json_kv_string(&w, "issuer_name", t.issuer_name);
        json_kv_string(&w, "awarded_on", t.awarded_on);
        json_kv_string(&w, "grade", t.original_grade);
        json_object_end(&w);
        json_kv_string(&w, "offer_id", t.offer_id);
        json_kv_string(&w, "decided_at", t.decided_at);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
}

static void listed(struct api_call *c, struct db_result *res)
{
    struct listing *l = api_call_data(c);
    int rows = db_result_rows(res);
    struct buf out;

    buf_init(&out);
    if (l->format == FORMAT_JSON) {
        write_json(res, &out);
        api_call_reply_json(c, 200, &out);
        return;
    }
    /* CSV and ELMO are one student's record: the rows must all be theirs */
    for (int i = 1; i < rows; i++)
        if (strcmp(db_result_value(res, i, 18), db_result_value(res, 0, 18)) != 0) {
            buf_cleanup(&out);
            api_call_fail(c, 400, "invalid_parameter",
                          "student: CSV and ELMO exports are per student; name one (id or "
                          "e-mail)");
            return;
        }
    struct rec_transfer *t = xcalloc((size_t)rows + 1, sizeof(*t));
    for (int i = 0; i < rows; i++)
        transfer_of(res, i, &t[i]);
    struct rec_learner learner = {rows ? cell(res, 0, 18) : NULL, rows ? cell(res, 0, 19) : NULL,
                                  rows ? cell(res, 0, 20) : NULL, NULL};
    struct rec_home home = {rows ? cell(res, 0, 21) : NULL, rows ? cell(res, 0, 22) : NULL,
                            rows ? cell(res, 0, 23) : NULL, rows ? cell(res, 0, 24) : NULL};
    if (l->format == FORMAT_CSV) {
        rec_export_csv(&learner, &home, t, (size_t)rows, &out);
        free(t);
        api_call_reply_buf(c, 200, "text/csv; charset=utf-8", &out);
        return;
    }
    char now[32];
    time_t tt = time(NULL);
    struct tm tm;
    struct mcx_error err;
    gmtime_r(&tt, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (rows == 0) {
        free(t);
        buf_cleanup(&out);
        api_call_fail(c, 404, "not_found", "no credit transfers for this student");
        return;
    }
    int rc = rec_export_elmo(&learner, &home, t, (size_t)rows, now, &out, &err);
    free(t);
    if (rc != 0) {
        buf_cleanup(&out);
        api_call_fail(c, 500, "internal_error", "the ELMO export failed: %s", err.message);
        return;
    }
    api_call_reply_buf(c, 200, "application/xml; charset=utf-8", &out);
}

static void list_authed(struct api_call *c, const struct auth_user *u)
{
    struct listing *l = api_call_data(c);
    struct http_request *req = api_call_request(c);
    const char *student = http_request_query(req, "student");
    char limit[16];

    if (strcmp(u->role, "publisher") == 0 ||
        (strcmp(u->role, "registrar") == 0 && u->institution_id[0] == '\0')) {
        api_call_fail(c, 403, "forbidden", "credit transfers are for students and registrars");
        return;
    }
    if (format_of(http_request_header(req, "Accept"), &l->format) != 0) {
        api_call_fail(c, 406, "not_acceptable",
                      "credit transfers come as application/json, text/csv or application/xml");
        return;
    }
    if (student != NULL && (student[0] == '\0' || strlen(student) > 254)) {
        api_call_fail(c, 400, "invalid_parameter", "student: a user id or e-mail address");
        return;
    }
    if (l->format != FORMAT_JSON && student == NULL && strcmp(u->role, "student") != 0) {
        api_call_fail(c, 400, "invalid_parameter",
                      "student: CSV and ELMO exports are per student; name one (id or e-mail)");
        return;
    }
    if (strcmp(u->role, "student") == 0 && student != NULL && strcmp(student, u->id) != 0 &&
        strcasecmp(student, u->email) != 0) {
        api_call_fail(c, 403, "forbidden", "a student sees their own credit transfers only");
        return;
    }
    snprintf(limit, sizeof(limit), "%d", TRANSFERS_MAX);
    const char *params[5] = {u->role, u->id, u->institution_id, student, limit};
    api_call_db(c, transfers_sql, 5, params, listed);
}

static void handle_list(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, list_authed, xcalloc(1, sizeof(struct listing)), free);
}

void transfers_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_GET, "/api/v1/credit-transfers", handle_list, app, 0);
}
