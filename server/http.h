/*
 * http.h — the HTTP/1.1 server on the libevent loop: connections, limits,
 * timeouts, request ids, access log, routing, replies and graceful drain.
 * Handlers (ops, catalogue, recognition, issuance) see only struct http_request.
 *
 * Why not evhttp: libevent 2.1's evhttp answers oversized heads with a fixed HTML
 * 413 (never 431), never sends 408, has one body limit for every route and no
 * connection cap. mcx needs each of those as JSON errors (DESIGN §3), so it
 * keeps libevent's bufferevents and does its own (small, strict) HTTP/1.1.
 */
#ifndef MCX_HTTP_H
#define MCX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "server/http_parser.h"
#include "server/router.h"
#include "server/util.h"

struct event_base;
struct metrics;
struct http_server;
struct http_request;

struct http_server_config {
    size_t max_header_size;   /* request line + header fields; over it → 431 */
    size_t max_body_size;     /* default per route; over it → 413 */
    int read_timeout_ms;      /* a whole request head+body must arrive within it → 408 */
    int write_timeout_ms;     /* a stalled reader is dropped */
    int keepalive_timeout_ms; /* idle time between requests before closing */
    int max_connections;      /* beyond it new connections get 503 and are closed */
    int shutdown_timeout_ms;  /* in-flight requests may finish within it on drain */
    void *tls_ctx;            /* SSL_CTX * for HTTPS, or NULL */
    int worker;               /* index, for request ids and logs */
    bool access_log;          /* one JSON line per request on stderr */
};

struct http_server *http_server_new(struct event_base *base, const struct http_server_config *cfg,
                                    struct router *router, struct metrics *metrics);
void http_server_free(struct http_server *s);
/* Binds "host:port" (SO_REUSEPORT when reuseport, so workers share it). */
int http_server_listen(struct http_server *s, const char *hostport, bool reuseport,
                       struct mcx_error *err);
/*
 * Binds (without listening) a SO_REUSEPORT socket on hostport and returns it and
 * its port: with port 0 the kernel picks one, and workers that bind the same
 * port later join it. A bound socket that never listens receives no connections.
 */
int http_port_reserve(const char *hostport, int *fd, int *port, struct mcx_error *err);
/* Port actually bound (useful with port 0). */
int http_server_port(const struct http_server *s);
/* Called for GET/HEAD requests no route matched (the static files). */
void http_server_set_fallback(struct http_server *s, http_handler_fn fn, void *arg);
/*
 * Stops accepting, closes idle connections, lets in-flight requests finish and
 * calls done() once none are left, or when shutdown_timeout_ms has passed.
 */
void http_server_drain(struct http_server *s, void (*done)(void *arg), void *arg);
int http_server_connections(const struct http_server *s);
int http_server_requests_in_flight(const struct http_server *s);

/* Loads a certificate chain and key into a new SSL_CTX (returned as void *). */
void *http_tls_ctx_new(const char *cert_file, const char *key_file, struct mcx_error *err);
void http_tls_ctx_free(void *ctx);

/* ---- the request, as handlers see it ---- */
enum http_method http_request_method(const struct http_request *req);
const char *http_request_path(const struct http_request *req);
const struct http_target *http_request_target(const struct http_request *req);
const char *http_request_query_string(const struct http_request *req);
/* First value of a query parameter, decoded; owned by the request. NULL if absent. */
const char *http_request_query(struct http_request *req, const char *name);
const char *http_request_header(const struct http_request *req, const char *name);
/* The nth (0-based) header field with this name, in the order received. */
const char *http_request_header_nth(const struct http_request *req, const char *name, size_t nth);
/* The request-target exactly as received (not decoded), e.g. for signatures. */
const char *http_request_target_raw(const struct http_request *req);
const char *http_request_method_name(const struct http_request *req);
/* A {name} path parameter of the matched route, decoded. */
const char *http_request_param(const struct http_request *req, const char *name);
const char *http_request_id(const struct http_request *req);
const char *http_request_route(const struct http_request *req);
const char *http_request_body(const struct http_request *req, size_t *len);
struct event_base *http_request_base(const struct http_request *req);
/*
 * Registers what to do if the client goes away before the reply: cb(data) runs,
 * the handler must stop its work and free its state, and must not reply.
 */
void http_request_on_cancel(struct http_request *req, void (*cb)(void *data), void *data);

/* ---- replies: exactly one per request ---- */
void http_response_header(struct http_request *req, const char *name, const char *value);
void http_reply(struct http_request *req, int status, const char *content_type, const void *body,
                size_t len);
/* Takes the bytes of b (leaves it empty). */
void http_reply_buf(struct http_request *req, int status, const char *content_type, struct buf *b);
void http_reply_json(struct http_request *req, int status, struct buf *json);
/* The DESIGN §3 error body: {"error":{"code","message"[,"details"]},"request_id"}. */
void http_reply_error(struct http_request *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same, from a struct mcx_error (its path/line become one details entry). */
void http_reply_mcx_error(struct http_request *req, int status, const struct mcx_error *err);
/* Sends len bytes of an open file (the server closes fd). */
void http_reply_file(struct http_request *req, int status, const char *content_type, int fd,
                     off_t len);
/* Streamed reply in chunked transfer coding; for large documents (feeds). */
void http_reply_start(struct http_request *req, int status, const char *content_type);
void http_reply_chunk(struct http_request *req, const void *data, size_t len);
/* A chunk read from a file (fd is duplicated; the caller keeps its own). -1 on error. */
int http_reply_chunk_file(struct http_request *req, int fd, size_t len);
void http_reply_end(struct http_request *req);

const char *http_status_reason(int status);

#endif
