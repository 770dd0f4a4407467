/*
 * http.c — HTTP/1.1 over libevent bufferevents. Every connection is a small
 * state machine (read head → read body → handling → writing → read head...),
 * every wait has a timeout, every buffer a limit, and every request gets
 * exactly one reply, or none at all once its client has gone.
 */
#include "server/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server/json.h"
#include "server/metrics.h"

enum conn_state {
    CONN_READ_HEAD,
    CONN_READ_BODY,
    CONN_HANDLING,
    CONN_WRITING,
};

struct http_conn {
    struct http_server *server;
    struct bufferevent *bev;
    enum conn_state state;
    struct http_request *req;
    int64_t started_us; /* first byte of the request being read; 0 while idle */
    bool close_after;
    struct http_conn *prev, *next;
};

struct query_value {
    char *name;
    char *value;
    struct query_value *next;
};

struct http_request {
    struct http_server *server;
    struct http_conn *conn; /* NULL once the client has gone */
    char *head_bytes;
    struct http_head head;
    struct http_target target;
    struct route_match match;
    const char *route_label;
    http_handler_fn handler;
    void *handler_arg;
    struct buf body;
    size_t body_expected;
    char id[72];
    int64_t start_us;
    struct buf resp_headers;
    int status;
    size_t bytes_out;
    bool has_replied;
    bool is_streaming;
    bool is_finished;
    void (*cancel_cb)(void *data);
    void *cancel_data;
    struct query_value *queries;
};

struct http_server {
    struct event_base *base;
    struct http_server_config cfg;
    struct router *router;
    struct metrics *metrics;
    struct evconnlistener *listener;
    struct event *accept_retry;
    int port;
    http_handler_fn fallback;
    void *fallback_arg;
    struct http_conn *conns;
    int nconns;
    int inflight;
    bool is_draining;
    void (*drain_done)(void *arg);
    void *drain_arg;
    struct event *drain_timer;
    uint64_t next_id;
    char id_prefix[12];
    char date[40];
    time_t date_at;
};

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_process(struct http_conn *c);
static void request_finish(struct http_request *req);

/* ---- status reasons ---- */

const char *http_status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* ---- server ---- */

struct http_server *http_server_new(struct event_base *base, const struct http_server_config *cfg,
                                    struct router *router, struct metrics *metrics)
{
    struct http_server *s = xcalloc(1, sizeof(*s));
    char rnd[33];

    s->base = base;
    s->cfg = *cfg;
    s->router = router;
    s->metrics = metrics;
    mcx_random_hex(rnd);
    snprintf(s->id_prefix, sizeof(s->id_prefix), "%.8s", rnd);
    return s;
}

static void conn_free(struct http_conn *c);

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    while (s->conns != NULL)
        conn_free(s->conns);
    if (s->listener != NULL)
        evconnlistener_free(s->listener);
    if (s->accept_retry != NULL)
        event_free(s->accept_retry);
    if (s->drain_timer != NULL)
        event_free(s->drain_timer);
    free(s);
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_set_fallback(struct http_server *s, http_handler_fn fn, void *arg)
{
    s->fallback = fn;
    s->fallback_arg = arg;
}

int http_server_connections(const struct http_server *s)
{
    return s->nconns;
}

int http_server_requests_in_flight(const struct http_server *s)
{
    return s->inflight;
}

static const char *server_date(struct http_server *s)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now != s->date_at) {
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_at = now;
    }
    return s->date;
}

static void drain_check(struct http_server *s)
{
    void (*done)(void *);

    if (!s->is_draining || s->nconns > 0 || s->drain_done == NULL)
        return;
    done = s->drain_done;
    s->drain_done = NULL;
    done(s->drain_arg);
}

static void drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *s = arg;
    void (*done)(void *) = s->drain_done;

    (void)fd;
    (void)what;
    if (done == NULL)
        return;
    fprintf(stderr,
            "{\"level\":\"warn\",\"msg\":\"shutdown timeout: %d requests still in flight\","
            "\"worker\":%d}\n",
            s->inflight, s->cfg.worker);
    s->drain_done = NULL;
    done(s->drain_arg);
}

void http_server_drain(struct http_server *s, void (*done)(void *arg), void *arg)
{
    struct http_conn *c, *next;
    struct timeval tv;

    if (s->is_draining)
        return; /* a second SIGTERM: already draining (and the timer already exists) */
    s->is_draining = true;
    s->drain_done = done;
    s->drain_arg = arg;
    if (s->listener != NULL) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
    /* Idle keep-alive connections have nothing in flight: close them now. */
    for (c = s->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == CONN_READ_HEAD && c->started_us == 0)
            conn_free(c);
        else
            c->close_after = true;
    }
    tv.tv_sec = s->cfg.shutdown_timeout_ms / 1000;
    tv.tv_usec = (s->cfg.shutdown_timeout_ms % 1000) * 1000;
    s->drain_timer = evtimer_new(s->base, drain_timeout_cb, s);
    evtimer_add(s->drain_timer, &tv);
    drain_check(s);
}

/* ---- connections ---- */

static void set_timeouts(struct http_conn *c, int read_ms, int write_ms)
{
    struct timeval r = {read_ms / 1000, (read_ms % 1000) * 1000};
    struct timeval w = {write_ms / 1000, (write_ms % 1000) * 1000};

    bufferevent_set_timeouts(c->bev, read_ms > 0 ? &r : NULL, write_ms > 0 ? &w : NULL);
}

static void conn_free(struct http_conn *c)
{
    struct http_server *s = c->server;
    struct http_request *req = c->req;

    if (req != NULL) {
        req->conn = NULL;
        c->req = NULL;
        if (!req->has_replied) {
            /* The client went away mid-request: cancel the handler's work. */
            req->status = 499;
            if (req->cancel_cb != NULL) {
                void (*cb)(void *) = req->cancel_cb;
                req->cancel_cb = NULL;
                cb(req->cancel_data);
                request_finish(req);
            }
            /* else: the handler still owns req and frees it by replying */
        } else {
            request_finish(req);
        }
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    bufferevent_free(c->bev);
    free(c);
    drain_check(s);
}

/* Beyond --max-connections: a 503 written straight to the fresh socket, whose
 * send buffer is empty, and the connection closed. */
static void reply_busy(struct http_server *s, evutil_socket_t fd)
{
    char body[256], msg[512], id[40];
    int blen, n;

    snprintf(id, sizeof(id), "%s-%llx", s->id_prefix, (unsigned long long)++s->next_id);
    blen = snprintf(body, sizeof(body),
                    "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the server is "
                    "at its connection limit\"},\"request_id\":\"%s\"}",
                    id);
    n = snprintf(msg, sizeof(msg),
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 "X-Request-Id: %s\r\nConnection: close\r\nRetry-After: 1\r\n"
                 "Content-Length: %d\r\n\r\n%s",
                 id, blen, body);
    if (n > 0 && (size_t)n < sizeof(msg)) {
        ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    metrics_observe(s->metrics, "unmatched", 503, 0);
    evutil_closesocket(fd);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct http_server *s = arg;
    struct http_conn *c;
    int one = 1;

    (void)l;
    (void)sa;
    (void)salen;
    if (s->nconns >= s->cfg.max_connections) {
        reply_busy(s, fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = xcalloc(1, sizeof(*c));
    c->server = s;
    if (s->cfg.tls_ctx != NULL) {
        SSL *ssl = SSL_new(s->cfg.tls_ctx);
        c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE);
    } else {
        c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* Bound what one connection may buffer: a head, or a slice of body. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, s->cfg.max_header_size + 16384);
    set_timeouts(c, s->cfg.keepalive_timeout_ms, s->cfg.write_timeout_ms);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *s = arg;

    (void)fd;
    (void)what;
    if (s->listener != NULL)
        evconnlistener_enable(s->listener);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct http_server *s = arg;
    struct timeval tv = {0, 100000};
    int err = EVUTIL_SOCKET_ERROR();

    /* EMFILE/ENFILE: pause accepting briefly instead of spinning on the error. */
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"accept failed: %s\",\"worker\":%d}\n",
            evutil_socket_error_to_string(err), s->cfg.worker);
    evconnlistener_disable(l);
    if (s->accept_retry == NULL)
        s->accept_retry = evtimer_new(s->base, accept_retry_cb, s);
    evtimer_add(s->accept_retry, &tv);
}

static int split_hostport(const char *hostport, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(hostport, ':');
    long p;

    if (colon == NULL || (size_t)(colon - hostport) >= hostlen)
        return -1;
    if (mcx_parse_int(colon + 1, 0, 65535, &p) != 0)
        return -1;
    if (hostport[0] == '[' && colon > hostport + 1 && colon[-1] == ']') {
        memcpy(host, hostport + 1, (size_t)(colon - hostport - 2));
        host[colon - hostport - 2] = '\0';
    } else {
        memcpy(host, hostport, (size_t)(colon - hostport));
        host[colon - hostport] = '\0';
    }
    *port = (int)p;
    return 0;
}

/* "host:port" (host may be empty or [v6]) as a passive address; the caller frees ai. */
static int listen_resolve(const char *hostport, struct evutil_addrinfo **ai, struct mcx_error *err)
{
    char host[256], portstr[16];
    struct evutil_addrinfo hints = {0};
    int port, rc;

    if (split_hostport(hostport, host, sizeof(host), &port) != 0) {
        mcx_error_set(err, "bad_config", "listen address '%s' is not HOST:PORT", hostport);
        return -1;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV;
    rc = evutil_getaddrinfo(host[0] ? host : NULL, portstr, &hints, ai);
    if (rc != 0) {
        mcx_error_set(err, "bad_config", "cannot resolve %s: %s", host, evutil_gai_strerror(rc));
        return -1;
    }
    return 0;
}

int http_server_listen(struct http_server *s, const char *hostport, bool reuseport,
                       struct mcx_error *err)
{
    struct evutil_addrinfo *ai = NULL;
    unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    if (listen_resolve(hostport, &ai, err) != 0)
        return -1;
    if (reuseport)
        flags |= LEV_OPT_REUSEABLE_PORT;
    s->listener = evconnlistener_new_bind(s->base, accept_cb, s, flags, 4096, ai->ai_addr,
                                          (int)ai->ai_addrlen);
    evutil_freeaddrinfo(ai);
    if (s->listener == NULL) {
        mcx_error_set(err, "listen_failed", "cannot listen on %s: %s", hostport, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(s->listener, accept_error_cb);
    if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &sslen) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

int http_port_reserve(const char *hostport, int *fd, int *port, struct mcx_error *err)
{
    struct evutil_addrinfo *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int one = 1;

    if (listen_resolve(hostport, &ai, err) != 0)
        return -1;
    *fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0 || setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(*fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(*fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) != 0 ||
        getsockname(*fd, (struct sockaddr *)&ss, &sslen) != 0) {
        mcx_error_set(err, "listen_failed", "cannot bind %s: %s", hostport, strerror(errno));
        if (*fd >= 0)
            close(*fd);
        evutil_freeaddrinfo(ai);
        return -1;
    }
    evutil_freeaddrinfo(ai);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* ---- requests ---- */

static bool request_id_is_valid(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > 64)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._:-", *p) != NULL))
            return false;
    return true;
}

/* "<prefix>-<n in hex>", the request id (X-Request-Id), without printf: every request
 * makes one. */
static void request_id(char *out, size_t size, const char *prefix, unsigned long long n)
{
    static const char hex[] = "0123456789abcdef";
    char digits[17];
    size_t i = sizeof(digits) - 1, o = mcx_strlcpy(out, prefix, size);

    digits[i] = '\0';
    do
        digits[--i] = hex[n & 15];
    while ((n >>= 4) != 0);
    if (o + 1 < size) {
        out[o++] = '-';
        mcx_strlcpy(out + o, digits + i, size - o);
    }
}

static struct http_request *request_new(struct http_conn *c)
{
    struct http_server *s = c->server;
    struct http_request *req = xcalloc(1, sizeof(*req));

    req->server = s;
    req->conn = c;
    req->start_us = c->started_us ? c->started_us : mcx_now_us();
    req->route_label = "unmatched";
    req->head.method = HTTP_GET;
    req->head.method_name = "-";
    buf_init(&req->body);
    buf_init(&req->resp_headers);
    request_id(req->id, sizeof(req->id), s->id_prefix, ++s->next_id);
    c->req = req;
    s->inflight++;
    return req;
}

static void request_free(struct http_request *req)
{
    struct query_value *q, *next;

    for (q = req->queries; q != NULL; q = next) {
        next = q->next;
        free(q->name);
        free(q->value);
        free(q);
    }
    route_match_cleanup(&req->match);
    http_target_cleanup(&req->target);
    buf_cleanup(&req->body);
    buf_cleanup(&req->resp_headers);
    free(req->head_bytes);
    free(req);
}

static void log_request(struct http_request *req, int64_t dur_us)
{
    struct buf line;
    struct json_writer w;
    struct timespec ts;
    struct tm tm;
    char when[32], stamp[64], ms[32];
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, sizeof(stamp), "%s.%03ldZ", when, ts.tv_nsec / 1000000);
    buf_init(&line);
    json_writer_init(&w, &line);
    json_object_begin(&w);
    json_kv_string(&w, "time", stamp);
    json_kv_string(&w, "level", "info");
    json_kv_string(&w, "msg", "request");
    json_kv_string(&w, "request_id", req->id);
    json_kv_int(&w, "worker", req->server->cfg.worker);
    json_kv_string(&w, "method", req->head.method_name);
    json_kv_string(&w, "path", req->target.path ? req->target.path : "-");
    json_kv_string(&w, "route", req->route_label);
    json_kv_int(&w, "status", req->status);
    json_kv_int(&w, "bytes", (int64_t)req->bytes_out);
    json_key(&w, "duration_ms");
    n = snprintf(ms, sizeof(ms), "%.3f", (double)dur_us / 1000.0);
    json_raw(&w, ms, (size_t)n);
    json_object_end(&w);
    buf_putc(&line, '\n');
    fwrite(line.data, 1, line.len, stderr);
    buf_cleanup(&line);
}

/* Bookkeeping once a request is answered (or abandoned); frees it. */
static void request_finish(struct http_request *req)
{
    struct http_server *s = req->server;
    int64_t dur = mcx_now_us() - req->start_us;

    if (req->is_finished)
        return;
    req->is_finished = true;
    s->inflight--;
    metrics_observe(s->metrics, req->route_label, req->status, dur);
    if (s->cfg.access_log)
        log_request(req, dur);
    request_free(req);
}

enum http_method http_request_method(const struct http_request *req)
{
    return req->head.method;
}

const char *http_request_path(const struct http_request *req)
{
    return req->target.path;
}

const struct http_target *http_request_target(const struct http_request *req)
{
    return &req->target;
}

const char *http_request_query_string(const struct http_request *req)
{
    return req->target.query ? req->target.query : "";
}

const char *http_request_query(struct http_request *req, const char *name)
{
    struct query_value *q;
    char *v;

    for (q = req->queries; q != NULL; q = q->next)
        if (strcmp(q->name, name) == 0)
            return q->value;
    v = http_query_get(http_request_query_string(req), name);
    if (v == NULL)
        return NULL;
    q = xcalloc(1, sizeof(*q));
    q->name = xstrdup(name);
    q->value = v;
    q->next = req->queries;
    req->queries = q;
    return v;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    return http_head_get(&req->head, name);
}

const char *http_request_header_nth(const struct http_request *req, const char *name, size_t nth)
{
    for (int i = 0; i < req->head.nheaders; i++)
        if (strcasecmp(req->head.headers[i].name, name) == 0 && nth-- == 0)
            return req->head.headers[i].value;
    return NULL;
}

const char *http_request_target_raw(const struct http_request *req)
{
    return req->head.target;
}

const char *http_request_method_name(const struct http_request *req)
{
    return req->head.method_name;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    return route_match_param(&req->match, name);
}

const char *http_request_id(const struct http_request *req)
{
    return req->id;
}

const char *http_request_route(const struct http_request *req)
{
    return req->route_label;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
    if (len != NULL)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

struct event_base *http_request_base(const struct http_request *req)
{
    return req->server->base;
}

void http_request_on_cancel(struct http_request *req, void (*cb)(void *data), void *data)
{
    req->cancel_cb = cb;
    req->cancel_data = data;
}

/* ---- replies ---- */

void http_response_header(struct http_request *req, const char *name, const char *value)
{
    /* Refuse to emit a header that could split the response. */
    if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
        return;
    buf_puts(&req->resp_headers, name);
    buf_append(&req->resp_headers, ": ", 2);
    buf_puts(&req->resp_headers, value);
    buf_append(&req->resp_headers, "\r\n", 2);
}

static bool status_has_body(int status)
{
    return !(status == 204 || status == 304 || (status >= 100 && status < 200));
}

/*
 * The response head, assembled without printf (every reply writes one: the hot path
 * of /healthz). What goes in is bounded — a reason phrase, the date, the request id
 * (< 72), "keep-alive", a content type (at most HEAD_CTYPE_MAX, else a generic one)
 * and a number — so it always fits; head_put would stop at the end rather than
 * overrun.
 */
#define HEAD_CTYPE_MAX 200
struct head {
    char b[640];
    size_t n;
};

static void head_put(struct head *h, const char *s)
{
    size_t len = strlen(s);

    if (len > sizeof(h->b) - h->n)
        len = sizeof(h->b) - h->n;
    memcpy(h->b + h->n, s, len);
    h->n += len;
}

static void head_num(struct head *h, unsigned long long v)
{
    char digits[24];
    size_t i = sizeof(digits) - 1;

    digits[i] = '\0';
    do
        digits[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    head_put(h, digits + i);
}

/* Writes the status line and headers; chunked when len < 0. */
static void write_head(struct http_request *req, int status, const char *ctype, long long len)
{
    struct http_conn *c = req->conn;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct head h = {.n = 0};

    if (c->server->is_draining)
        c->close_after = true;
    head_put(&h, "HTTP/1.1 ");
    head_num(&h, (unsigned long long)status);
    head_put(&h, " ");
    head_put(&h, http_status_reason(status));
    head_put(&h, "\r\nDate: ");
    head_put(&h, server_date(c->server));
    head_put(&h, "\r\nX-Request-Id: ");
    head_put(&h, req->id);
    head_put(&h, c->close_after ? "\r\nConnection: close\r\n" : "\r\nConnection: keep-alive\r\n");
    if (ctype != NULL && status_has_body(status)) {
        head_put(&h, "Content-Type: ");
        head_put(&h, strlen(ctype) <= HEAD_CTYPE_MAX ? ctype : "application/octet-stream");
        head_put(&h, "\r\n");
    }
    if (len < 0) {
        head_put(&h, "Transfer-Encoding: chunked\r\n");
    } else if (status_has_body(status)) {
        head_put(&h, "Content-Length: ");
        head_num(&h, (unsigned long long)len);
        head_put(&h, "\r\n");
    }
    evbuffer_add(out, h.b, h.n);
    evbuffer_add(out, req->resp_headers.data ? req->resp_headers.data : "", req->resp_headers.len);
    evbuffer_add(out, "\r\n", 2);
}

/* Common start of every reply: false when nothing may be written. */
static bool reply_begin(struct http_request *req, int status)
{
    if (req->has_replied) {
        fprintf(stderr,
                "{\"level\":\"error\",\"msg\":\"second reply to request\","
                "\"request_id\":\"%s\"}\n",
                req->id);
        return false;
    }
    req->has_replied = true;
    req->status = status;
    if (req->conn == NULL) {
        request_finish(req); /* the client is gone; drop the reply */
        return false;
    }
    return true;
}

/* After the whole reply is queued: account for it and wait for the flush. */
static void reply_done(struct http_request *req)
{
    struct http_conn *c = req->conn;

    c->req = NULL;
    c->state = CONN_WRITING;
    request_finish(req);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        conn_write_cb(c->bev, c);
}

void http_reply(struct http_request *req, int status, const char *content_type, const void *body,
                size_t len)
{
    bool with_body = status_has_body(status) && req->head.method != HTTP_HEAD;

    if (!reply_begin(req, status))
        return;
    write_head(req, status, content_type, (long long)len);
    if (with_body && len > 0)
        evbuffer_add(bufferevent_get_output(req->conn->bev), body, len);
    req->bytes_out = with_body ? len : 0;
    reply_done(req);
}

static void free_stolen(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

void http_reply_buf(struct http_request *req, int status, const char *content_type, struct buf *b)
{
    size_t len;
    char *data = buf_steal(b, &len);
    bool with_body = status_has_body(status) && req->head.method != HTTP_HEAD;

    if (!reply_begin(req, status)) {
        free(data);
        return;
    }
    write_head(req, status, content_type, (long long)len);
    if (with_body && len > 0) {
        evbuffer_add_reference(bufferevent_get_output(req->conn->bev), data, len, free_stolen,
                               NULL);
    } else {
        free(data);
    }
    req->bytes_out = with_body ? len : 0;
    reply_done(req);
}

void http_reply_json(struct http_request *req, int status, struct buf *json)
{
    http_reply_buf(req, status, "application/json", json);
}

static void error_body(struct http_request *req, const char *code, const char *message,
                       const struct mcx_error *detail, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    json_key(&w, "error");
    json_object_begin(&w);
    json_kv_string(&w, "code", code);
    json_kv_string(&w, "message", message);
    if (detail != NULL && (detail->path[0] || detail->line > 0)) {
        json_key(&w, "details");
        json_array_begin(&w);
        json_object_begin(&w);
        if (detail->path[0])
            json_kv_string(&w, "path", detail->path);
        if (detail->line > 0)
            json_kv_int(&w, "line", detail->line);
        json_kv_string(&w, "message", message);
        json_object_end(&w);
        json_array_end(&w);
    }
    json_object_end(&w);
    json_kv_string(&w, "request_id", req->id);
    json_object_end(&w);
}

void http_reply_error(struct http_request *req, int status, const char *code, const char *fmt, ...)
{
    char message[512];
    struct buf b;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    buf_init(&b);
    error_body(req, code, message, NULL, &b);
    http_reply_json(req, status, &b);
}

void http_reply_mcx_error(struct http_request *req, int status, const struct mcx_error *err)
{
    struct buf b;

    buf_init(&b);
    error_body(req, err->code[0] ? err->code : "error", err->message, err, &b);
    http_reply_json(req, status, &b);
}

void http_reply_file(struct http_request *req, int status, const char *content_type, int fd,
                     off_t len)
{
    bool with_body = status_has_body(status) && req->head.method != HTTP_HEAD;

    if (!reply_begin(req, status)) {
        close(fd);
        return;
    }
    write_head(req, status, content_type, (long long)len);
    if (with_body && len > 0) {
        /* Takes fd; for TLS connections libevent falls back to read+write. */
        evbuffer_add_file(bufferevent_get_output(req->conn->bev), fd, 0, len);
    } else {
        close(fd);
    }
    req->bytes_out = with_body ? (size_t)len : 0;
    reply_done(req);
}

void http_reply_start(struct http_request *req, int status, const char *content_type)
{
    if (!reply_begin(req, status))
        return;
    req->is_streaming = true;
    write_head(req, status, content_type, -1);
}

void http_reply_chunk(struct http_request *req, const void *data, size_t len)
{
    struct evbuffer *out;

    if (!req->is_streaming || req->conn == NULL || len == 0 || req->head.method == HTTP_HEAD)
        return;
    out = bufferevent_get_output(req->conn->bev);
    evbuffer_add_printf(out, "%zx\r\n", len);
    evbuffer_add(out, data, len);
    evbuffer_add(out, "\r\n", 2);
    req->bytes_out += len;
}

int http_reply_chunk_file(struct http_request *req, int fd, size_t len)
{
    struct evbuffer *out;
    int copy;

    if (!req->is_streaming || req->conn == NULL || len == 0 || req->head.method == HTTP_HEAD)
        return 0;
    /* libevent reads the file as the socket drains (sendfile when it can) and closes
     * its descriptor: memory stays flat whatever the file's size */
    if ((copy = dup(fd)) < 0)
        return -1;
    out = bufferevent_get_output(req->conn->bev);
    evbuffer_add_printf(out, "%zx\r\n", len);
    if (evbuffer_add_file(out, copy, 0, (ev_off_t)len) != 0) {
        close(copy);
        return -1;
    }
    evbuffer_add(out, "\r\n", 2);
    req->bytes_out += len;
    return 0;
}

void http_reply_end(struct http_request *req)
{
    if (!req->is_streaming)
        return;
    req->is_streaming = false;
    if (req->conn == NULL) {
        request_finish(req);
        return;
    }
    if (req->head.method != HTTP_HEAD)
        evbuffer_add(bufferevent_get_output(req->conn->bev), "0\r\n\r\n", 5);
    reply_done(req);
}

/* ---- reading and dispatch ---- */

/* An error found while reading: answer it and close the connection. */
static void conn_fail(struct http_conn *c, int status, const char *code, const char *msg)
{
    struct http_request *req = c->req ? c->req : request_new(c);

    c->close_after = true;
    bufferevent_disable(c->bev, EV_READ);
    http_reply_error(req, status, code, "%s", msg);
}

static void dispatch(struct http_conn *c)
{
    struct http_request *req = c->req;

    c->state = CONN_HANDLING;
    c->started_us = 0;
    /* No read timeout while the handler works; reading stays on to see EOF. */
    set_timeouts(c, 0, c->server->cfg.write_timeout_ms);
    req->handler(req, req->handler_arg);
}

/* Offset just past the blank line ending the head, or 0 if not there yet. */
static size_t find_head_end(const char *p, size_t n)
{
    const char *nl = p;

    while ((nl = memchr(nl, '\n', (size_t)(p + n - nl))) != NULL) {
        size_t i = (size_t)(nl - p);
        if (i + 1 < n && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
        nl++;
    }
    return 0;
}

static int content_length(const struct http_head *h, size_t *out)
{
    const char *v = NULL;
    long long n = 0;

    for (int i = 0; i < h->nheaders; i++) {
        if (strcasecmp(h->headers[i].name, "Content-Length") != 0)
            continue;
        if (v != NULL && strcmp(v, h->headers[i].value) != 0)
            return -1; /* conflicting lengths: request smuggling risk */
        v = h->headers[i].value;
    }
    *out = 0;
    if (v == NULL)
        return 0;
    if (*v == '\0' || strlen(v) > 18)
        return -1;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (*p - '0');
    }
    *out = (size_t)n;
    return 0;
}

static bool wants_keep_alive(const struct http_head *h)
{
    const char *conn = http_head_get(h, "Connection");

    if (h->version_minor == 0)
        return conn != NULL && strcasecmp(conn, "keep-alive") == 0;
    return conn == NULL || strcasestr(conn, "close") == NULL;
}

static void route_request(struct http_conn *c, struct http_request *req)
{
    struct http_server *s = c->server;
    int rc = router_match(s->router, req->head.method, &req->target, &req->match);
    char allow[128];

    if (rc == 0) {
        req->route_label = req->match.route->pattern;
        req->handler = req->match.route->handler;
        req->handler_arg = req->match.route->arg;
        return;
    }
    if (rc == 404 && s->fallback != NULL &&
        (req->head.method == HTTP_GET || req->head.method == HTTP_HEAD)) {
        req->route_label = "static";
        req->handler = s->fallback;
        req->handler_arg = s->fallback_arg;
        return;
    }
    if (rc == 405) {
        http_methods_format(req->match.allowed, allow, sizeof(allow));
        http_response_header(req, "Allow", allow);
    }
}

static void reply_unrouted(struct http_request *req)
{
    if (req->match.allowed != 0)
        http_reply_error(req, 405, "method_not_allowed", "%s is not allowed on %s",
                         req->head.method_name, req->target.path);
    else
        http_reply_error(req, 404, "not_found", "no resource at %s", req->target.path);
}

/* Everything known once the head is parsed: target, id, route, body size. */
static void conn_start_request(struct http_conn *c, struct http_request *req)
{
    struct http_server *s = c->server;
    const char *rid = http_head_get(&req->head, "X-Request-Id");
    size_t limit;
    int rc;

    if (rid != NULL && request_id_is_valid(rid))
        snprintf(req->id, sizeof(req->id), "%s", rid);
    c->close_after = !wants_keep_alive(&req->head) || s->is_draining;
    rc = http_target_parse(req->head.target, &req->target);
    if (rc == 404) {
        http_reply_error(req, 404, "not_found", "no resource at this path");
        return;
    }
    if (rc != 0)
        return conn_fail(c, 400, "bad_request", "malformed request target");
    if (req->head.version_minor >= 1 && http_head_get(&req->head, "Host") == NULL)
        return conn_fail(c, 400, "bad_request", "HTTP/1.1 request without Host");
    if (http_head_get(&req->head, "Transfer-Encoding") != NULL)
        return conn_fail(c, 411, "length_required",
                         "chunked request bodies are not accepted; send Content-Length");
    if (content_length(&req->head, &req->body_expected) != 0)
        return conn_fail(c, 400, "bad_request", "invalid Content-Length");
    route_request(c, req);
    limit = req->match.route && req->match.route->max_body ? req->match.route->max_body
                                                           : s->cfg.max_body_size;
    if (req->body_expected > limit) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes", limit);
        return conn_fail(c, 413, "payload_too_large", msg);
    }
    if (req->handler == NULL && req->body_expected > 0)
        c->close_after = true; /* don't read a body we will not use */
    if (req->handler == NULL)
        return reply_unrouted(req);
    if (req->body_expected == 0)
        return dispatch(c);
    const char *expect = http_head_get(&req->head, "Expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
        bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    buf_reserve(&req->body, req->body_expected);
    c->state = CONN_READ_BODY;
    conn_process(c);
}

static bool request_overdue(struct http_conn *c)
{
    int64_t limit = (int64_t)c->server->cfg.read_timeout_ms * 1000;

    if (c->started_us == 0) {
        c->started_us = mcx_now_us();
        set_timeouts(c, c->server->cfg.read_timeout_ms, c->server->cfg.write_timeout_ms);
        return false;
    }
    return mcx_now_us() - c->started_us > limit;
}

static void conn_read_head(struct http_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t max = c->server->cfg.max_header_size;
    size_t len, n, end, skip = 0;
    char *p;

    len = evbuffer_get_length(in);
    if (len == 0)
        return;
    n = len < max + 4 ? len : max + 4;
    p = (char *)evbuffer_pullup(in, (ev_ssize_t)n);
    /* RFC 9112 §2.2: empty lines before a request are ignored. */
    while (skip < n && (p[skip] == '\r' || p[skip] == '\n'))
        skip++;
    if (skip > 0) {
        evbuffer_drain(in, skip);
        return conn_read_head(c);
    }
    if (request_overdue(c))
        return conn_fail(c, 408, "request_timeout", "the request did not arrive in time");
    end = find_head_end(p, n);
    if (end == 0 && len <= max)
        return; /* wait for more */
    if (end == 0 || end > max)
        return conn_fail(c, 431, "headers_too_large", "request head over the size limit");

    struct http_request *req = request_new(c);
    struct mcx_error err;
    req->head_bytes = xmalloc(end + 1);
    evbuffer_remove(in, req->head_bytes, end);
    req->head_bytes[end] = '\0';
    int status = http_parse_head(req->head_bytes, end, &req->head, &err);
    if (status != 0) {
        req->head.method_name = "-";
        return conn_fail(c, status, err.code, err.message);
    }
    conn_start_request(c, req);
}

static void conn_read_body(struct http_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct http_request *req = c->req;
    size_t want = req->body_expected - req->body.len;
    size_t avail = evbuffer_get_length(in);
    size_t n = avail < want ? avail : want;

    if (n > 0) {
        buf_reserve(&req->body, n);
        evbuffer_remove(in, req->body.data + req->body.len, n);
        req->body.len += n;
        req->body.data[req->body.len] = '\0';
    }
    if (req->body.len == req->body_expected)
        return dispatch(c);
    if (request_overdue(c))
        conn_fail(c, 408, "request_timeout", "the request body did not arrive in time");
}

static void conn_process(struct http_conn *c)
{
    switch (c->state) {
    case CONN_READ_HEAD:
        conn_read_head(c);
        break;
    case CONN_READ_BODY:
        conn_read_body(c);
        break;
    case CONN_HANDLING:
    case CONN_WRITING:
        break; /* pipelined bytes wait, bounded by the read watermark */
    }
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct http_conn *c = arg;

    (void)bev;
    if (c->state != CONN_WRITING)
        return;
    if (c->close_after) {
        conn_free(c);
        return;
    }
    c->state = CONN_READ_HEAD;
    c->started_us = 0;
    set_timeouts(c, c->server->cfg.keepalive_timeout_ms, c->server->cfg.write_timeout_ms);
    bufferevent_enable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        conn_process(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct http_conn *c = arg;

    (void)bev;
    if (what == BEV_EVENT_CONNECTED)
        return; /* the TLS handshake completed */
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
        (c->state == CONN_READ_BODY || (c->state == CONN_READ_HEAD && c->started_us != 0))) {
        conn_fail(c, 408, "request_timeout", "the request did not arrive in time");
        return;
    }
    /* EOF, error, idle keep-alive timeout or a stalled reader: drop it. */
    conn_free(c);
}

/* ---- TLS ---- */

void *http_tls_ctx_new(const char *cert_file, const char *key_file, struct mcx_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    char msg[256];

    if (ctx == NULL) {
        mcx_error_set(err, "tls", "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
        mcx_error_set(err, "tls", "cannot load certificate %s / key %s: %s", cert_file, key_file,
                      msg);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void http_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}
