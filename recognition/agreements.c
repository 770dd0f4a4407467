/*
 * agreements.c — mutual recognition agreements (DESIGN §5 "Recognition"):
 * create, read, edit, approve by hash, terminate. The body is validated and
 * canonicalised in C (recognition/agreement.c: its SHA-256 is what parties
 * approve); the state checks, locks and audit entries are the functions of
 * schemas/sql/011_recognition.sql, so two registrars racing cannot both win.
 *
 * Who may: agreements are public to read (a student sees what their university
 * recognises); a registrar writes those their institution is a party to, an admin
 * any, and only a registrar approves (an institution's act, for its institution).
 */
#include "recognition/agreements.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recognition/agreement.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/http.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/router.h"

#define AGREEMENT_MAX_BODY (256 * 1024)
#define AGREEMENTS_LIST_MAX 500

/* The four writes, by the functions of 011_recognition.sql. */
static const char create_sql[] =
    "SELECT * FROM recognition_agreement_create($1::jsonb, $2, $3::text[], $4::date, $5::date, $6)";
static const char update_sql[] = "SELECT * FROM recognition_agreement_update($1::uuid, $2::jsonb, "
                                 "$3, $4::text[], $5::date, $6::date, $7, $8)";
static const char approve_sql[] =
    "SELECT * FROM recognition_agreement_approve($1::uuid, $2, $3, $4::uuid, $5)";
static const char terminate_sql[] =
    "SELECT * FROM recognition_agreement_terminate($1::uuid, $2::date, $3, $4)";

static const char get_sql[] =
    "SELECT CASE WHEN j IS NULL THEN 404 ELSE 200 END, coalesce(j::text, 'no agreement ' || $1)"
    " FROM (SELECT agreements_api_json($1::uuid) j) x";
/* Newest first; ?institution= keeps those it is a party to. */
static const char list_sql[] =
    "SELECT 200, json_build_object('items', coalesce(json_agg(agreements_api_json(a.id)"
    "  ORDER BY a.created_at DESC, a.id), '[]'))::text"
    " FROM (SELECT id, created_at FROM agreements"
    "  WHERE $1::text IS NULL OR $1 = ANY (parties)"
    "  ORDER BY created_at DESC, id LIMIT $2::int) a";

/* The caller as the audit log names it. */
static void actor_of(const struct auth_user *u, char out[64])
{
    snprintf(out, 64, "user:%s", u->id);
}

/* A registrar's institution, NULL for an admin; false (and the reply) for anyone else. */
static bool writer_institution(struct api_call *c, const struct auth_user *u, const char **inst)
{
    if (strcmp(u->role, "admin") == 0) {
        *inst = NULL;
        return true;
    }
    if (strcmp(u->role, "registrar") == 0 && u->institution_id[0] != '\0') {
        *inst = u->institution_id;
        return true;
    }
    api_call_fail(c, 403, "forbidden",
                  "only a registrar of a party (or an admin) changes "
                  "agreements");
    return false;
}

/* The id in the path, or false after a 404 (an id that is no UUID names nothing). */
static bool path_id(struct api_call *c, const char **id)
{
    *id = http_request_param(api_call_request(c), "id");
    if (*id != NULL && auth_uuid_is_valid(*id))
        return true;
    api_call_fail(c, 404, "not_found", "no agreement %s", *id ? *id : "");
    return false;
}

/* The body as a validated agreement, or false after a 4xx (doc then cleaned up). */
static bool agreement_body(struct api_call *c, struct rec_agreement_doc *doc)
{
    const char *body;
    size_t len;
    struct mcx_error err;

    if (!api_call_body(c, &body, &len))
        return false;
    if (rec_agreement_parse(body, len, doc, &err) != 0) {
        /* not JSON at all is the client's syntax (400); JSON that is no agreement, 422 */
        if (strcmp(err.code, "invalid_agreement") == 0)
            api_call_fail(c, 422, "validation_failed", "%s", err.message);
        else
            api_call_fail(c, 400, "malformed_json", "%s", err.message);
        return false;
    }
    return true;
}

/* "{a,b}": the parties as a PostgreSQL array literal (ids hold no quotes or commas). */
static void parties_literal(const struct rec_agreement *ag, struct buf *out)
{
    buf_putc(out, '{');
    for (size_t i = 0; i < ag->nparties; i++)
        buf_printf(out, "%s%s", i ? "," : "", ag->parties[i]);
    buf_putc(out, '}');
}

static bool is_party(const struct rec_agreement *ag, const char *inst)
{
    for (size_t i = 0; i < ag->nparties; i++)
        if (strcmp(ag->parties[i], inst) == 0)
            return true;
    return false;
}

/* ---- create and edit ---- */

static void create_authed(struct api_call *c, const struct auth_user *u)
{
    struct rec_agreement_doc doc;
    const char *inst;
    char actor[64];
    struct buf parties;

    if (!writer_institution(c, u, &inst) || !agreement_body(c, &doc))
        return;
    if (inst != NULL && !is_party(&doc.ag, inst)) {
        rec_agreement_doc_cleanup(&doc);
        api_call_fail(c, 403, "forbidden",
                      "%s is not among the parties: a registrar creates "
                      "agreements of their own institution",
                      inst);
        return;
    }
    actor_of(u, actor);
    buf_init(&parties);
    parties_literal(&doc.ag, &parties);
    const char *params[6] = {doc.canonical.data, doc.hash,           parties.data,
                             doc.ag.valid_from,  doc.ag.valid_until, actor};
    api_call_query(c, create_sql, 6, params); /* libpq copies the parameters */
    buf_cleanup(&parties);
    rec_agreement_doc_cleanup(&doc);
}

static void update_authed(struct api_call *c, const struct auth_user *u)
{
    struct rec_agreement_doc doc;
    const char *inst, *id;
    char actor[64];
    struct buf parties;

    if (!writer_institution(c, u, &inst) || !path_id(c, &id) || !agreement_body(c, &doc))
        return;
    actor_of(u, actor);
    buf_init(&parties);
    parties_literal(&doc.ag, &parties);
    const char *params[8] = {id,
                             doc.canonical.data,
                             doc.hash,
                             parties.data,
                             doc.ag.valid_from,
                             doc.ag.valid_until,
                             inst,
                             actor};
    api_call_query(c, update_sql, 8, params);
    buf_cleanup(&parties);
    rec_agreement_doc_cleanup(&doc);
}

/* ---- approve and terminate: small bodies with one field ---- */

/* The string member key of a JSON object body, copied into out; false after a 4xx. */
static bool body_string(struct api_call *c, const char *key, char *out, size_t size)
{
    const char *body;
    size_t len, slen;
    struct mcx_error err;
    struct json_value *v;
    const char *s;

    if (!api_call_body(c, &body, &len))
        return false;
    v = json_parse(body, len, 4, &err);
    if (v == NULL) {
        api_call_fail(c, 400, "malformed_json", "%s", err.message);
        return false;
    }
    s = json_is_object(v) ? json_string_value(json_object_get(v, key), &slen) : NULL;
    if (s == NULL || slen == 0 || slen >= size || strlen(s) != slen) {
        json_value_free(v);
        api_call_fail(c, 422, "validation_failed", "the body is {\"%s\": \"…\"}", key);
        return false;
    }
    memcpy(out, s, slen + 1);
    json_value_free(v);
    return true;
}

static void approve_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id;
    char hash[80], actor[64];

    /* approval is the institution's act: an admin cannot give it for one */
    if (strcmp(u->role, "registrar") != 0 || u->institution_id[0] == '\0') {
        api_call_fail(c, 403, "forbidden", "only a registrar of a party approves an agreement");
        return;
    }
    if (!path_id(c, &id) || !body_string(c, "hash", hash, sizeof(hash)))
        return;
    actor_of(u, actor);
    const char *params[5] = {id, hash, u->institution_id, u->id, actor};
    api_call_query(c, approve_sql, 5, params);
}

static void terminate_authed(struct api_call *c, const struct auth_user *u)
{
    const char *inst, *id;
    char date[16], actor[64];

    if (!writer_institution(c, u, &inst) || !path_id(c, &id) ||
        !body_string(c, "date", date, sizeof(date)))
        return;
    if (!mcx_date_is_valid(date)) {
        api_call_fail(c, 422, "validation_failed", "date: a calendar date YYYY-MM-DD, not %s",
                      date);
        return;
    }
    actor_of(u, actor);
    const char *params[4] = {id, date, inst, actor};
    api_call_query(c, terminate_sql, 4, params);
}

/* ---- reads (public) ---- */

static void handle_get(struct http_request *req, void *arg)
{
    struct api_call *c = api_call_public(req, arg);
    const char *id;

    if (!path_id(c, &id))
        return;
    const char *params[1] = {id};
    api_call_query(c, get_sql, 1, params);
}

static void handle_list(struct http_request *req, void *arg)
{
    struct api_call *c = api_call_public(req, arg);
    const char *inst = http_request_query(req, "institution");
    char limit[16];

    snprintf(limit, sizeof(limit), "%d", AGREEMENTS_LIST_MAX);
    const char *params[2] = {inst != NULL && inst[0] != '\0' ? inst : NULL, limit};
    api_call_query(c, list_sql, 2, params);
}

static void handle_create(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, create_authed, NULL, NULL);
}

static void handle_update(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, update_authed, NULL, NULL);
}

static void handle_approve(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, approve_authed, NULL, NULL);
}

static void handle_terminate(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, terminate_authed, NULL, NULL);
}

void agreements_routes_add(struct mcxd *app)
{
    struct router *r = app->router;

    router_add(r, HTTP_POST, "/api/v1/agreements", handle_create, app, AGREEMENT_MAX_BODY);
    router_add(r, HTTP_GET, "/api/v1/agreements", handle_list, app, 0);
    router_add(r, HTTP_GET, "/api/v1/agreements/{id}", handle_get, app, 0);
    router_add(r, HTTP_PUT, "/api/v1/agreements/{id}", handle_update, app, AGREEMENT_MAX_BODY);
    router_add(r, HTTP_POST, "/api/v1/agreements/{id}/approve", handle_approve, app, 4096);
    router_add(r, HTTP_POST, "/api/v1/agreements/{id}/terminate", handle_terminate, app, 4096);
}
