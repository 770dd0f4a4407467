/*
 * sigauth.c — signature check for pushes: parse (pure), find the partner by keyId
 * (query), verify (pure), record the request id (query: a replay finds it taken).
 * Every failure is a 401 whose error code names the reason.
 */
#include "catalogue/sigauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "server/db.h"
#include "server/http.h"
#include "server/httpsig.h"
#include "server/mcxd.h"

struct sigauth_op {
    struct mcxd *app;
    struct http_request *req;
    sigauth_cb cb;
    void *arg;
    struct db_op *op;
    struct event *later; /* failures found before any query are delivered from here */
    struct httpsig_params params;
    struct httpsig_verified verified;
    char partner[128];
    int status;
    char code[48];
    char message[320];
};

static const char key_sql[] =
    "SELECT id, public_key FROM partners WHERE key_id = lower($1) AND public_key IS NOT NULL";
static const char seen_sql[] = "INSERT INTO httpsig_seen (key_id, request_id) VALUES ($1, $2) "
                               "ON CONFLICT DO NOTHING RETURNING 1";

bool sigauth_is_signed(const struct http_request *req)
{
    const char *a = http_request_header(req, "Authorization");

    return http_request_header(req, "Signature") != NULL ||
           (a != NULL && strncasecmp(a, "Signature ", 10) == 0);
}

static void finish(struct sigauth_op *op)
{
    sigauth_cb cb = op->cb;
    void *arg = op->arg;
    char partner[128];
    int status = op->status;
    char code[48], message[320];

    mcx_strlcpy(partner, op->partner, sizeof(partner));
    mcx_strlcpy(code, op->code, sizeof(code));
    mcx_strlcpy(message, op->message, sizeof(message));
    if (op->later != NULL)
        event_free(op->later);
    free(op);
    cb(status == 200 ? partner : NULL, status, code, message, arg);
}

static void fail(struct sigauth_op *op, int status, const char *code, const char *message)
{
    op->status = status;
    mcx_strlcpy(op->code, code, sizeof(op->code));
    snprintf(op->message, sizeof(op->message), "signature rejected (%.40s): %.240s", code, message);
    finish(op);
}

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg);
}

static const char *header_of(void *arg, const char *name, size_t nth)
{
    return http_request_header_nth(arg, name, nth);
}

static void request_of(struct sigauth_op *op, struct httpsig_request *r)
{
    size_t len;

    memset(r, 0, sizeof(*r));
    r->method = http_request_method_name(op->req);
    r->target = http_request_target_raw(op->req);
    r->header = header_of;
    r->header_arg = op->req;
    r->body = http_request_body(op->req, &len);
    r->body_len = len;
}

static void seen_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct sigauth_op *op = arg;

    op->op = NULL;
    if (err != NULL)
        fail(op, 503, "database_unavailable", err->message);
    else if (db_result_rows(res) == 0)
        fail(op, 401, "replayed", "this X-Request-Id was already used with this key");
    else {
        op->status = 200;
        finish(op);
    }
}

static void key_found(struct db_result *res, const struct db_error *err, void *arg)
{
    struct sigauth_op *op = arg;
    struct httpsig_request r;
    struct httpsig_verify_opts opts = {time(NULL), 0};
    struct mcx_error e;
    EVP_PKEY *key = NULL;
    int rc;

    op->op = NULL;
    if (err != NULL) {
        fail(op, 503, "database_unavailable", err->message);
        return;
    }
    if (db_result_rows(res) == 0) {
        fail(op, 401, "unknown_key", "no partner has registered this keyId");
        return;
    }
    mcx_strlcpy(op->partner, db_result_value(res, 0, 0), sizeof(op->partner));
    const char *pem = db_result_value(res, 0, 1);
    key = httpsig_key_read_public(pem, strlen(pem), &e);
    request_of(op, &r);
    rc = httpsig_request_verify(&r, &op->params, key, &opts, &op->verified, &e);
    EVP_PKEY_free(key);
    if (rc != 0) {
        fail(op, 401, e.code, e.message);
        return;
    }
    const char *params[2] = {op->verified.key_id, op->verified.request_id};
    op->op = db_query(op->app->pool, seen_sql, 2, params, seen_done, op);
}

struct sigauth_op *sigauth_begin(struct mcxd *app, struct http_request *req, sigauth_cb cb,
                                 void *arg)
{
    struct sigauth_op *op = xcalloc(1, sizeof(*op));
    struct httpsig_request r;
    struct mcx_error e;

    op->app = app;
    op->req = req;
    op->cb = cb;
    op->arg = arg;
    request_of(op, &r);
    if (httpsig_request_find(&r, &op->params, &e) != 0) {
        op->status = 401;
        mcx_strlcpy(op->code, e.code, sizeof(op->code));
        snprintf(op->message, sizeof(op->message), "signature rejected (%.40s): %.240s", e.code,
                 e.message);
        /* never call back from inside the caller: deliver on the next loop turn */
        op->later = evtimer_new(app->base, later_cb, op);
        struct timeval now = {0, 0};
        evtimer_add(op->later, &now);
        return op;
    }
    const char *params[1] = {op->params.key_id};
    op->op = db_query(app->pool, key_sql, 1, params, key_found, op);
    return op;
}

void sigauth_cancel(struct sigauth_op *op)
{
    if (op == NULL)
        return;
    db_op_cancel(op->op);
    if (op->later != NULL)
        event_free(op->later);
    free(op);
}

struct sigauth_sweeper {
    struct mcxd *app;
    struct event *timer;
    struct db_op *op;
};

static void swept(struct db_result *res, const struct db_error *err, void *arg)
{
    struct sigauth_sweeper *s = arg;

    (void)res;
    (void)err; /* the database may be away: the next minute tries again */
    s->op = NULL;
}

static void sweep(evutil_socket_t fd, short what, void *arg)
{
    struct sigauth_sweeper *s = arg;

    (void)fd;
    (void)what;
    if (s->op == NULL)
        s->op = db_query(s->app->pool,
                         "DELETE FROM httpsig_seen WHERE seen_at < now() - interval '15 minutes'",
                         0, NULL, swept, s);
}

struct sigauth_sweeper *sigauth_sweeper_new(struct mcxd *app)
{
    struct sigauth_sweeper *s = xcalloc(1, sizeof(*s));
    struct timeval minute = {60, 0};

    s->app = app;
    s->timer = event_new(app->base, -1, EV_PERSIST, sweep, s);
    event_add(s->timer, &minute);
    event_active(s->timer, EV_TIMEOUT, 0); /* and once at start */
    return s;
}

void sigauth_sweeper_free(struct sigauth_sweeper *s)
{
    if (s == NULL)
        return;
    event_free(s->timer);
    db_op_cancel(s->op);
    free(s);
}
