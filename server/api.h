/*
 * api.h — the common shape of an authenticated JSON API call: authenticate the
 * request (session with CSRF, or bearer token), let the handler check the caller
 * and the input, run one statement that answers (status, body), reply. Handlers of
 * recognition/ use it; the statement's functions hold the state checks and locks.
 */
#ifndef MCX_API_H
#define MCX_API_H

#include <stdbool.h>
#include <stddef.h>

struct http_request;
struct json_value;
struct mcxd;
struct auth_user;
struct api_call;

/* Runs once the caller is known (user valid only during the call). The handler
 * either calls api_call_query, or replies with api_call_fail. */
typedef void (*api_authed_fn)(struct api_call *c, const struct auth_user *user);

/* Starts a call; a failed authentication replies (401/403/503…) without fn. */
struct api_call *api_call_begin(struct http_request *req, struct mcxd *app, api_authed_fn fn,
                                void *data, void (*data_free)(void *data));
/* A call anyone may make (a public read): no authentication, no data. */
struct api_call *api_call_public(struct http_request *req, struct mcxd *app);
/*
 * A public read that answers more to a signed-in user: fn runs with the user when
 * the request authenticates as for api_call_begin, and with user NULL when it
 * carries no credential or a session cookie that names no live session (a stale
 * cookie must not hide a public page). A bad bearer token is still 401, and a
 * database failure 503/504/500, without fn. The reply varies by Authorization and
 * Cookie: Cache-Control no-store for a user, no-cache otherwise.
 */
struct api_call *api_call_optional(struct http_request *req, struct mcxd *app, api_authed_fn fn,
                                   void *data, void (*data_free)(void *data));
struct http_request *api_call_request(const struct api_call *c);
void *api_call_data(const struct api_call *c);
struct mcxd *api_call_app(const struct api_call *c);

/*
 * Runs sql, whose one row is (status integer, body text): a 2xx body is the JSON
 * reply; otherwise body is the error message, replied with the code of its status
 * (403 forbidden, 404 not_found, 409 conflict, 422 validation_failed). Then frees c.
 */
void api_call_query(struct api_call *c, const char *sql, int nparams, const char *const *params);
/* One step of a longer call: fn gets the result (valid during fn) and goes on with
 * another step, api_call_query, a reply or api_call_fail; a database error replies
 * (503/504/500) without fn. */
struct db_result;
typedef void (*api_result_fn)(struct api_call *c, struct db_result *res);
void api_call_db(struct api_call *c, const char *sql, int nparams, const char *const *params,
                 api_result_fn fn);
/* Replies json (taking its bytes) and frees c. */
struct buf;
void api_call_reply_json(struct api_call *c, int status, struct buf *json);
/* The same for any content type. */
void api_call_reply_buf(struct api_call *c, int status, const char *content_type, struct buf *b);
/* Replies an error and frees c. */
void api_call_fail(struct api_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error code this project uses for a status (see above); "error" for others. */
const char *api_error_code(int status);

/*
 * The request body, checked as JSON: 415 unless Content-Type is application/json
 * (an HTML form on another site cannot send that without a CORS preflight, which
 * mcx never grants), 400 when empty. True with body and len set, else false after
 * replying.
 */
bool api_json_body(struct http_request *req, const char **body, size_t *len);
/* The same inside a call: false after api_call_fail (c is freed then). */
bool api_call_body(struct api_call *c, const char **body, size_t *len);
/* The body as a JSON object nested at most max_depth deep (the caller frees it), or
 * NULL after api_call_fail: 400 malformed_json for anything else. */
struct json_value *api_call_json_object(struct api_call *c, int max_depth);

#endif
