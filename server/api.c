/*
 * api.c — see api.h. The call owns the handler's data until it replies; a client
 * that goes away cancels the pending check or statement and frees both.
 */
#include "server/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/ops.h"

struct api_call {
    struct http_request *req;
    struct mcxd *app;
    struct auth_op *auth;
    struct db_op *op;
    api_authed_fn fn;
    api_result_fn result; /* api_call_db's continuation */
    void *data;
    void (*data_free)(void *data);
    bool is_optional; /* api_call_optional: no credential is an anonymous caller */
    bool has_bearer;  /* the request sent an Authorization header */
};

static void call_free(struct api_call *c)
{
    if (c->data_free != NULL)
        c->data_free(c->data);
    free(c);
}

static void call_cancel(void *arg)
{
    struct api_call *c = arg;

    auth_op_cancel(c->auth);
    db_op_cancel(c->op);
    call_free(c);
}

/* No more cancellation: the caller replies, then frees. */
static struct http_request *call_detach(struct api_call *c)
{
    http_request_on_cancel(c->req, NULL, NULL);
    return c->req;
}

static void call_authed(const struct auth_user *user, const struct auth_session *session,
                        int status, const char *message, void *arg)
{
    struct api_call *c = arg;

    (void)session; /* either credential will do (a session's CSRF token was checked) */
    c->auth = NULL;
    if (c->is_optional) {
        /* 401 without a bearer token: no cookie, or one naming no live session */
        if (user == NULL && status == 401 && !c->has_bearer) {
            http_response_header(c->req, "Cache-Control", "no-cache");
            c->fn(c, NULL);
            return;
        }
        if (user != NULL)
            http_response_header(c->req, "Cache-Control", "no-store");
    }
    if (user == NULL) {
        auth_reply_error(call_detach(c), status, message);
        call_free(c);
        return;
    }
    c->fn(c, user);
}

struct api_call *api_call_begin(struct http_request *req, struct mcxd *app, api_authed_fn fn,
                                void *data, void (*data_free)(void *data))
{
    struct api_call *c = xcalloc(1, sizeof(*c));

    c->req = req;
    c->app = app;
    c->fn = fn;
    c->data = data;
    c->data_free = data_free;
    /* a caller's own data: no shared cache may keep it */
    http_response_header(req, "Cache-Control", "no-store");
    http_request_on_cancel(req, call_cancel, c);
    c->auth = auth_request_begin(app->base, app->pool, req, call_authed, c);
    return c;
}

struct api_call *api_call_public(struct http_request *req, struct mcxd *app)
{
    struct api_call *c = xcalloc(1, sizeof(*c));

    c->req = req;
    c->app = app;
    http_response_header(req, "Cache-Control", "no-cache");
    http_request_on_cancel(req, call_cancel, c);
    return c;
}

struct api_call *api_call_optional(struct http_request *req, struct mcxd *app, api_authed_fn fn,
                                   void *data, void (*data_free)(void *data))
{
    const char *authorization = http_request_header(req, "Authorization");
    struct api_call *c = xcalloc(1, sizeof(*c));

    c->req = req;
    c->app = app;
    c->fn = fn;
    c->data = data;
    c->data_free = data_free;
    c->is_optional = true;
    /* auth_request_begin's own test: such a header is judged, never passed over */
    c->has_bearer = authorization != NULL && *authorization != '\0';
    http_response_header(req, "Vary", "Authorization, Cookie");
    http_request_on_cancel(req, call_cancel, c);
    /* without a credential it answers 401 on a later loop turn: fn never runs inside
     * this call */
    c->auth = auth_request_begin(app->base, app->pool, req, call_authed, c);
    return c;
}

struct http_request *api_call_request(const struct api_call *c)
{
    return c->req;
}

void *api_call_data(const struct api_call *c)
{
    return c->data;
}

struct mcxd *api_call_app(const struct api_call *c)
{
    return c->app;
}

const char *api_error_code(int status)
{
    switch (status) {
    case 400:
        return "invalid_parameter";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 409:
        return "conflict";
    case 422:
        return "validation_failed";
    default:
        return "error";
    }
}

static void call_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct api_call *c = arg;
    struct http_request *req = call_detach(c);

    c->op = NULL;
    if (err != NULL) {
        ops_reply_db_error(req, err);
    } else if (db_result_rows(res) != 1 || db_result_is_null(res, 0, 0)) {
        http_reply_error(req, 500, "internal_error", "the statement gave no answer");
    } else {
        int status = atoi(db_result_value(res, 0, 0));
        const char *body = db_result_value(res, 0, 1);
        if (status >= 200 && status < 300) {
            struct buf b;
            buf_init(&b);
            buf_puts(&b, body);
            http_reply_json(req, status, &b);
        } else {
            http_reply_error(req, status, api_error_code(status), "%s", body ? body : "");
        }
    }
    call_free(c);
}

static void step_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct api_call *c = arg;

    c->op = NULL;
    if (err != NULL) {
        ops_reply_db_error(call_detach(c), err);
        call_free(c);
        return;
    }
    c->result(c, res); /* res is the pool's, freed after this returns */
}

void api_call_db(struct api_call *c, const char *sql, int nparams, const char *const *params,
                 api_result_fn fn)
{
    c->result = fn;
    c->op = db_query(c->app->pool, sql, nparams, params, step_done, c);
}

void api_call_query(struct api_call *c, const char *sql, int nparams, const char *const *params)
{
    c->op = db_query(c->app->pool, sql, nparams, params, call_done, c);
}

void api_call_reply_json(struct api_call *c, int status, struct buf *json)
{
    http_reply_json(call_detach(c), status, json);
    call_free(c);
}

void api_call_reply_buf(struct api_call *c, int status, const char *content_type, struct buf *b)
{
    http_reply_buf(call_detach(c), status, content_type, b);
    call_free(c);
}

void api_call_fail(struct api_call *c, int status, const char *code, const char *fmt, ...)
{
    struct http_request *req = call_detach(c);
    char message[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    http_reply_error(req, status, code, "%s", message);
    call_free(c);
}

/* 0, or the status of a body that is not a JSON request's, with its code and message. */
static int body_check(struct http_request *req, const char **body, size_t *len, const char **code,
                      const char **message)
{
    const char *ct = http_request_header(req, "Content-Type");
    size_t n = ct != NULL ? strcspn(ct, "; \t") : 0;

    if (ct == NULL || n != 16 || strncasecmp(ct, "application/json", 16) != 0) {
        *code = "unsupported_media_type";
        *message = "send a JSON object as application/json";
        return 415;
    }
    *body = http_request_body(req, len);
    if (*len == 0) {
        *code = "empty_body";
        *message = "the request has no JSON object";
        return 400;
    }
    return 0;
}

bool api_json_body(struct http_request *req, const char **body, size_t *len)
{
    const char *code, *message;
    int status = body_check(req, body, len, &code, &message);

    if (status != 0)
        http_reply_error(req, status, code, "%s", message);
    return status == 0;
}

bool api_call_body(struct api_call *c, const char **body, size_t *len)
{
    const char *code, *message;
    int status = body_check(c->req, body, len, &code, &message);

    if (status != 0)
        api_call_fail(c, status, code, "%s", message);
    return status == 0;
}

struct json_value *api_call_json_object(struct api_call *c, int max_depth)
{
    const char *body;
    size_t len;
    struct mcx_error err;
    struct json_value *v;

    if (!api_call_body(c, &body, &len))
        return NULL;
    v = json_parse(body, len, max_depth, &err);
    if (v == NULL || !json_is_object(v)) {
        json_value_free(v);
        api_call_fail(c, 400, "malformed_json", "the body is not a JSON object");
        return NULL;
    }
    return v;
}
