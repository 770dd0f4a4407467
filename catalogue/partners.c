/*
 * partners.c — admin handlers for partners. Each request authenticates (a browser
 * session with its CSRF token, as the admin page sends, or a bearer token), checks the
 * admin role, then runs one statement; the partner's JSON (with its harvest state and
 * last run) is built by SQL so every reply has the same shape.
 */
#include "catalogue/partners.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/harvest.h"
#include "server/auth.h"
#include "server/httpsig.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/ops.h"
#include "server/router.h"

bool partners_format_is_supported(const char *format)
{
    return strcmp(format, "loq") == 0 || strcmp(format, "ewp") == 0 || strcmp(format, "elm") == 0 ||
           strcmp(format, "mcx") == 0;
}

/* The partner as the API shows it. */
#define PARTNER_JSON                                                                               \
    "jsonb_build_object('id', p.id, 'name', coalesce(i.name->>'en', p.id), "                       \
    "'country', i.country, 'feed_url', p.feed_url, 'format', p.format, 'key_id', p.key_id, "       \
    "'interval_s', p.interval_s, 'offers', (SELECT count(*) FROM offers o WHERE "                  \
    "o.partner_id = p.id AND o.deleted_at IS NULL), 'state', jsonb_build_object("                  \
    "'next_attempt_at', p.next_attempt_at, 'last_success_at', p.last_success_at, "                 \
    "'last_error', p.last_error, 'last_error_at', p.last_error_at, "                               \
    "'consecutive_failures', p.consecutive_failures, "                                             \
    "'running', p.claimed_by IS NOT NULL AND p.next_attempt_at > now()), "                         \
    "'last_run', (SELECT to_jsonb(r) - "                                                           \
    "'partner_id' FROM harvest_runs r WHERE r.partner_id = p.id ORDER BY r.id DESC LIMIT 1))"

static const char list_sql[] = "SELECT coalesce(jsonb_agg(" PARTNER_JSON " ORDER BY p.id), "
                               "'[]')::text FROM partners p JOIN institutions i ON i.id = p.id";
static const char one_sql[] = "SELECT (" PARTNER_JSON ")::text FROM partners p "
                              "JOIN institutions i ON i.id = p.id WHERE p.id = $1";
static const char trigger_sql[] =
    "UPDATE partners SET next_attempt_at = now(), updated_at = now() WHERE id = $1 RETURNING id";

/* Creates the partner's institution when it is new, then the partner. */
static const char add_sql[] =
    "WITH inst AS (INSERT INTO institutions (id, name, country) "
    "  SELECT $1, jsonb_build_object('en', coalesce(nullif($2, ''), $1)), upper($3) "
    "  WHERE NOT EXISTS (SELECT 1 FROM institutions WHERE id = $1) RETURNING id), "
    "p AS (INSERT INTO partners (id, feed_url, format, public_key, interval_s, key_id) "
    "  SELECT $1, $4, $5, nullif($6, ''), $7::int, nullif($9, '') "
    "  WHERE EXISTS (SELECT 1 FROM inst) OR EXISTS (SELECT 1 FROM institutions WHERE id = $1) "
    "  ON CONFLICT (id) DO NOTHING RETURNING id), "
    "a AS (INSERT INTO audit_log (actor, action, entity, entity_id, details) "
    "  SELECT $8, 'create', 'partner', p.id, jsonb_build_object('feed_url', $4, 'format', $5) "
    "  FROM p) "
    "SELECT id FROM p";

enum op { OP_LIST, OP_GET, OP_ADD, OP_TRIGGER };

struct preq {
    struct http_request *req;
    struct mcxd *app;
    enum op op;
    struct auth_op *auth;
    struct db_op *dbop;
    char actor[64];
    int ok_status; /* 200, 201 after a create, 202 after a trigger */
    char *params[10];
    int nparams;
};

static void preq_free(struct preq *p)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(p->params); i++)
        free(p->params[i]);
    free(p);
}

static void preq_cancel(void *data)
{
    struct preq *p = data;

    auth_op_cancel(p->auth);
    db_op_cancel(p->dbop);
    preq_free(p);
}

static struct http_request *preq_detach(struct preq *p)
{
    http_request_on_cancel(p->req, NULL, NULL);
    return p->req;
}

static void reply_partner(struct preq *p, struct db_result *res)
{
    struct http_request *req = preq_detach(p);
    const char *id = http_request_param(req, "id");
    struct buf b;

    buf_init(&b);
    if (db_result_rows(res) == 0 || db_result_is_null(res, 0, 0)) {
        http_reply_error(req, 404, "not_found", "no partner %s", id ? id : "");
        return;
    }
    if (p->op == OP_LIST)
        buf_printf(&b, "{\"items\":%s}", db_result_value(res, 0, 0));
    else
        buf_puts(&b, db_result_value(res, 0, 0));
    http_reply_json(req, p->ok_status, &b);
}

static void step_done(struct db_result *res, const struct db_error *err, void *arg);

static void run_one(struct preq *p, const char *id)
{
    const char *params[1] = {id};

    p->dbop = db_query(p->app->pool, one_sql, 1, params, step_done, p);
}

static void step_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct preq *p = arg;
    struct http_request *req = p->req;

    p->dbop = NULL;
    if (err != NULL && err->kind == DB_ERR_QUERY && strcmp(err->sqlstate, "23505") == 0) {
        http_reply_error(preq_detach(p), 409, "conflict",
                         "another partner has registered this public key");
        preq_free(p);
        return;
    }
    if (err != NULL && err->kind == DB_ERR_QUERY && strncmp(err->sqlstate, "23", 2) == 0) {
        /* a CHECK the checks above did not foresee: still the client's input */
        http_reply_error(preq_detach(p), 422, "validation_failed", "the partner was refused: %s",
                         err->message);
        preq_free(p);
        return;
    }
    if (err != NULL) {
        ops_reply_db_error(preq_detach(p), err);
        preq_free(p);
        return;
    }
    if (p->op == OP_ADD && db_result_rows(res) == 0) {
        http_reply_error(preq_detach(p), 409, "conflict", "partner %s exists", p->params[0]);
    } else if (p->op == OP_TRIGGER && db_result_rows(res) == 0) {
        http_reply_error(preq_detach(p), 404, "not_found", "no partner %s",
                         http_request_param(req, "id"));
    } else if (p->op == OP_TRIGGER) {
        harvester_kick(p->app->harvester);
        p->op = OP_GET;
        p->ok_status = 202;
        http_response_header(req, "Location", http_request_path(req));
        run_one(p, http_request_param(req, "id"));
        return;
    } else if (p->op == OP_ADD) {
        p->op = OP_GET;
        p->ok_status = 201;
        harvester_kick(p->app->harvester);
        run_one(p, p->params[0]);
        return;
    } else {
        reply_partner(p, res);
    }
    preq_free(p);
}

/* Reads and checks the POST body into p->params (add_sql's $1..$7). */
static int parse_add(struct preq *p)
{
    struct http_request *req = p->req;
    size_t len;
    const char *body = http_request_body(req, &len);
    struct mcx_error err;
    struct json_value *v = json_parse(body, len, 16, &err);
    static const char *keys[] = {"id", "name", "country", "feed_url", "format", "public_key"};
    char interval[24] = "3600";

    if (v == NULL || !json_is_object(v)) {
        json_value_free(v);
        http_reply_error(req, 400, "malformed_json", "the body is not a JSON object");
        return -1;
    }
    for (size_t i = 0; i < MCX_ARRAY_LEN(keys); i++) {
        const struct json_value *f = json_object_get(v, keys[i]);
        const char *s = f != NULL && json_is_string(f) ? json_string_value(f, NULL) : "";
        p->params[p->nparams++] = xstrdup(s);
    }
    const struct json_value *iv = json_object_get(v, "interval_s");
    double d;
    if (iv != NULL &&
        (!json_is_number(iv) || json_number_double(iv, &d) != 0 || d < 10 || d > 604800)) {
        json_value_free(v);
        http_reply_error(req, 422, "validation_failed", "interval_s is 10..604800 seconds");
        return -1;
    }
    if (iv != NULL)
        snprintf(interval, sizeof(interval), "%d", (int)d);
    p->params[p->nparams++] = xstrdup(interval);
    json_value_free(v);
    return 0;
}

/* A public key must be a usable RSA key: its keyId is what signed requests name. */
static int partner_key_id(struct preq *p)
{
    const char *pem = p->params[5];
    struct mcx_error err;
    char key_id[HTTPSIG_KEY_ID_SIZE];
    EVP_PKEY *key = httpsig_key_read_public(pem, strlen(pem), &err);

    if (key == NULL || httpsig_key_id_compute(key, key_id, &err) != 0) {
        EVP_PKEY_free(key);
        http_reply_error(p->req, 422, "validation_failed", "public_key: %s", err.message);
        return -1;
    }
    EVP_PKEY_free(key);
    free(p->params[8]);
    p->params[8] = xstrdup(key_id); /* $9 */
    return 0;
}

static int check_add(struct preq *p)
{
    struct http_request *req = p->req;
    const char *id = p->params[0], *url = p->params[3], *format = p->params[4];

    if (strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(id) || id[0] == '\0' ||
        strlen(id) > 127) {
        http_reply_error(req, 422, "validation_failed",
                         "id is the institution's code: lowercase letters, digits, '.', '-'");
        return -1;
    }
    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) > 2048) {
        http_reply_error(req, 422, "validation_failed",
                         "feed_url must be an http(s) URL of at most 2048 characters");
        return -1;
    }
    const char *cc = p->params[2];
    if (cc[0] != '\0' &&
        (strlen(cc) != 2 || !isalpha((unsigned char)cc[0]) || !isalpha((unsigned char)cc[1]))) {
        http_reply_error(req, 422, "validation_failed", "country is a two-letter ISO code");
        return -1;
    }
    if (!partners_format_is_supported(format)) {
        http_reply_error(req, 422, "validation_failed", "format is loq, elm, ewp or mcx");
        return -1;
    }
    if (p->params[5][0] != '\0' && partner_key_id(p) != 0)
        return -1;
    return 0;
}

static void authed(const struct auth_user *user, const struct auth_session *session, int status,
                   const char *message, void *arg)
{
    struct preq *p = arg;
    struct http_request *req = p->req;

    (void)session; /* either credential will do (a session's CSRF token was checked) */
    p->auth = NULL;
    if (user == NULL || strcmp(user->role, "admin") != 0) {
        auth_reply_error(preq_detach(p), user == NULL ? status : 403,
                         user == NULL ? message : "partners are managed by admins");
        preq_free(p);
        return;
    }
    snprintf(p->actor, sizeof(p->actor), "user:%s", user->id);
    switch (p->op) {
    case OP_LIST:
        p->dbop = db_query(p->app->pool, list_sql, 0, NULL, step_done, p);
        return;
    case OP_GET:
        run_one(p, http_request_param(req, "id"));
        return;
    case OP_TRIGGER: {
        const char *params[1] = {http_request_param(req, "id")};
        p->dbop = db_query(p->app->pool, trigger_sql, 1, params, step_done, p);
        return;
    }
    case OP_ADD:
        preq_detach(p); /* the checks may reply, which ends the request */
        if (parse_add(p) != 0 || check_add(p) != 0) {
            preq_free(p);
            return;
        }
        http_request_on_cancel(req, preq_cancel, p);
        p->params[p->nparams++] = xstrdup(p->actor);
        if (p->params[8] == NULL)
            p->params[8] = xstrdup("");
        p->nparams = 9; /* $9: the keyId, "" without a key */
        p->dbop = db_query(p->app->pool, add_sql, p->nparams, (const char *const *)p->params,
                           step_done, p);
        return;
    }
}

static void start(struct http_request *req, struct mcxd *app, enum op op)
{
    struct preq *p = xcalloc(1, sizeof(*p));

    p->req = req;
    p->app = app;
    p->op = op;
    p->ok_status = 200;
    http_request_on_cancel(req, preq_cancel, p);
    /* the admin page (session cookie + CSRF token) or a script (bearer token) */
    http_response_header(req, "Cache-Control", "no-store");
    p->auth = auth_request_begin(app->base, app->pool, req, authed, p);
}

static void handle_list(struct http_request *req, void *arg)
{
    start(req, arg, OP_LIST);
}

static void handle_get(struct http_request *req, void *arg)
{
    start(req, arg, OP_GET);
}

static void handle_add(struct http_request *req, void *arg)
{
    start(req, arg, OP_ADD);
}

static void handle_trigger(struct http_request *req, void *arg)
{
    start(req, arg, OP_TRIGGER);
}

void partners_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_GET, "/api/v1/partners", handle_list, app, 0);
    router_add(app->router, HTTP_POST, "/api/v1/partners", handle_add, app, 65536);
    router_add(app->router, HTTP_GET, "/api/v1/partners/{id}", handle_get, app, 0);
    router_add(app->router, HTTP_POST, "/api/v1/partners/{id}/harvest", handle_trigger, app, 0);
}
