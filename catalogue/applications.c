/*
 * applications.c — POST /api/v1/offers/{id}/applications and GET
 * /api/v1/me/applications. Each request authenticates (the session cookie with its
 * CSRF token, or a bearer token: auth_request_begin), then runs one statement and
 * replies; a client that goes away cancels whichever is pending.
 *
 * An application, its 'application' event and its audit entry are written by one
 * statement. INSERT … ON CONFLICT DO NOTHING on the (user, offer) key decides which
 * of any number of concurrent requests is the first, without a race, and only that
 * one's RETURNING row feeds the event and the audit entry: the impact figure counts
 * each student and offer once. The event carries no visitor id: joined with the
 * application's time it would tie the anonymous mcx_vid cookie to an account.
 */
#include "catalogue/applications.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/mcxd.h"
#include "server/ops.h"
#include "server/router.h"

/* x when it is an http(s) URL, else NULL: a feed's homepage could be javascript:. */
#define HTTP_URL(x) "CASE WHEN " x " ~* '^https?://' THEN " x " END"

/*
 * Where the student goes next: the offer's homepage, else its provider's (as the
 * source document named it), else its institution's, else nowhere (NULL).
 */
static const char apply_sql[] =
    "WITH o AS ("
    " SELECT o.id, o.institution_id, coalesce(" HTTP_URL("o.doc->>'homepage'") ", " HTTP_URL(
        "o.doc->'provider'->>'homepage'") ", " HTTP_URL("i.homepage") ") AS redirect"
                                                                      " FROM offers o JOIN "
                                                                      "institutions i ON i.id = "
                                                                      "o.institution_id"
                                                                      " WHERE o.id = $1::uuid AND "
                                                                      "o.deleted_at IS NULL),"
                                                                      " ins AS (INSERT INTO "
                                                                      "applications (user_id, "
                                                                      "offer_id) SELECT $2::uuid, "
                                                                      "o.id FROM o"
                                                                      "  ON CONFLICT (user_id, "
                                                                      "offer_id) DO NOTHING "
                                                                      "RETURNING offer_id, "
                                                                      "created_at),"
                                                                      " ev AS (INSERT INTO events "
                                                                      "(at, kind, offer_id, "
                                                                      "institution_id, node)"
                                                                      "  SELECT ins.created_at, "
                                                                      "'application', o.id, "
                                                                      "o.institution_id, $3 FROM "
                                                                      "ins, o),"
                                                                      " a AS (INSERT INTO "
                                                                      "audit_log (actor, action, "
                                                                      "entity, entity_id, details)"
                                                                      "  SELECT $4, 'create', "
                                                                      "'application', "
                                                                      "ins.offer_id::text,"
                                                                      "   "
                                                                      "jsonb_build_object('"
                                                                      "institution_id', "
                                                                      "o.institution_id) FROM ins, "
                                                                      "o)"
                                                                      " SELECT o.id::text, "
                                                                      "o.redirect, EXISTS (SELECT "
                                                                      "1 FROM ins) FROM o";

/* Newest first; an offer deleted since is still listed, with "deleted": true. */
static const char list_sql[] =
    "SELECT coalesce(jsonb_agg(jsonb_build_object('offer', offers_api_json(a.offer_id),"
    "  'applied_at', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"
    "  ORDER BY a.created_at DESC, a.offer_id), '[]')::text"
    " FROM (SELECT offer_id, created_at FROM applications WHERE user_id = $1::uuid"
    "  ORDER BY created_at DESC, offer_id LIMIT $2::int) a";

struct appl {
    struct http_request *req;
    struct mcxd *app;
    struct auth_op *auth;
    struct db_op *op;
};

static struct appl *appl_new(struct http_request *req, struct mcxd *app)
{
    struct appl *a = xcalloc(1, sizeof(*a));

    a->req = req;
    a->app = app;
    /* one student's own data: no shared cache may keep it */
    http_response_header(req, "Cache-Control", "no-store");
    return a;
}

static void appl_cancel(void *data)
{
    struct appl *a = data;

    auth_op_cancel(a->auth);
    db_op_cancel(a->op);
    free(a);
}

/* Ends the request's async part: no more cancellation; the caller replies and frees. */
static struct http_request *appl_detach(struct appl *a)
{
    http_request_on_cancel(a->req, NULL, NULL);
    return a->req;
}

/* The shared front: a failed check replies (and frees a); NULL then. */
static const struct auth_user *appl_authed(struct appl *a, const struct auth_user *user, int status,
                                           const char *message)
{
    a->auth = NULL;
    if (user == NULL) {
        auth_reply_error(appl_detach(a), status, message);
        free(a);
    }
    return user;
}

/* ---- apply ---- */

static void apply_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct appl *a = arg;
    struct http_request *req = appl_detach(a);
    struct json_writer w;
    struct buf b;
    bool is_new;

    a->op = NULL;
    if (err != NULL) {
        ops_reply_db_error(req, err);
    } else if (db_result_rows(res) != 1) {
        http_reply_error(req, 404, "not_found", "no offer %s", http_request_param(req, "id"));
    } else {
        is_new = strcmp(db_result_value(res, 0, 2), "t") == 0;
        buf_init(&b);
        json_writer_init(&w, &b);
        json_object_begin(&w);
        json_kv_string(&w, "offer_id", db_result_value(res, 0, 0));
        json_key(&w, "redirect");
        if (db_result_is_null(res, 0, 1))
            json_null(&w);
        else
            json_string(&w, db_result_value(res, 0, 1));
        json_object_end(&w);
        http_reply_json(req, is_new ? 201 : 200, &b);
    }
    free(a);
}

static void apply_authed(const struct auth_user *user, const struct auth_session *session,
                         int status, const char *message, void *arg)
{
    struct appl *a = arg;
    const char *offer_id = http_request_param(a->req, "id");
    char actor[64];
    const char *params[4];

    (void)session; /* either credential will do (a session's CSRF token is checked) */
    if (appl_authed(a, user, status, message) == NULL)
        return;
    if (strcmp(user->role, "student") != 0) {
        auth_reply_error(appl_detach(a), 403, "only students apply to offers");
        free(a);
        return;
    }
    if (!auth_uuid_is_valid(offer_id)) {
        http_reply_error(appl_detach(a), 404, "not_found", "no offer %s", offer_id);
        free(a);
        return;
    }
    snprintf(actor, sizeof(actor), "user:%s", user->id);
    params[0] = offer_id;
    params[1] = user->id;
    params[2] = a->app->node;
    params[3] = actor;
    a->op = db_query(a->app->pool, apply_sql, 4, params, apply_done, a);
}

static void handle_apply(struct http_request *req, void *arg)
{
    struct appl *a = appl_new(req, arg);

    http_request_on_cancel(req, appl_cancel, a);
    a->auth = auth_request_begin(a->app->base, a->app->pool, req, apply_authed, a);
}

/* ---- the student's list ---- */

static void list_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct appl *a = arg;
    struct http_request *req = appl_detach(a);
    struct buf b;

    a->op = NULL;
    if (err != NULL) {
        ops_reply_db_error(req, err);
    } else {
        buf_init(&b);
        buf_printf(&b, "{\"items\":%s}", db_result_value(res, 0, 0));
        http_reply_json(req, 200, &b);
    }
    free(a);
}

static void list_authed(const struct auth_user *user, const struct auth_session *session,
                        int status, const char *message, void *arg)
{
    struct appl *a = arg;
    char limit[16];
    const char *params[2];

    (void)session; /* either credential will do (a session's CSRF token is checked) */
    if (appl_authed(a, user, status, message) == NULL)
        return;
    snprintf(limit, sizeof(limit), "%d", APPLICATIONS_LIST_MAX);
    params[0] = user->id;
    params[1] = limit;
    a->op = db_query(a->app->pool, list_sql, 2, params, list_done, a);
}

static void handle_list(struct http_request *req, void *arg)
{
    struct appl *a = appl_new(req, arg);

    http_request_on_cancel(req, appl_cancel, a);
    a->auth = auth_request_begin(a->app->base, a->app->pool, req, list_authed, a);
}

void applications_routes_add(struct mcxd *app)
{
    struct router *r = app->router;

    /* no body is read: anything sent is ignored, and little is accepted */
    router_add(r, HTTP_POST, "/api/v1/offers/{id}/applications", handle_apply, app, 4096);
    router_add(r, HTTP_GET, "/api/v1/me/applications", handle_list, app, 0);
}
