/*
 * client.c — outbound HTTP(S): libcurl's multi interface driven by the libevent loop.
 * This is the only file that includes curl/curl.h.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one persistent event
 * per socket) and when to wake it (CURLMOPT_TIMERFUNCTION: one timer); both events call
 * curl_multi_socket_action() and then collect finished transfers from
 * curl_multi_info_read(). Nothing here blocks: DNS runs in curl's threaded resolver
 * (checked in client_global_init), and a transfer's callback only ever runs from an
 * event callback, after curl has returned, so callbacks may start, cancel or free.
 *
 * A transfer is either active (in the multi, on c->active) or failed before it could
 * start (on c->failed, delivered by the zero "kick" timer on the next loop turn).
 */
#include "server/client.h"

#include <curl/curl.h>

#include <event2/event.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "server/util.h"

#define CLIENT_MAX_TRANSFERS 4096 /* in flight per client; more is a runaway caller */
#define CLIENT_MAX_REDIRECTS 20
#define CLIENT_MAX_URL 8192
#define CLIENT_MAX_METHOD 16
#define CLIENT_MAX_REQ_HEADERS 64
#define CLIENT_MAX_REQ_HEADER_NAME 256
#define CLIENT_MAX_REQ_HEADER_VALUE 16384
/* Response headers kept per response: far above what feeds and EWP peers send, small
 * enough that a hostile peer cannot make us hold much. curl caps a single line. */
#define CLIENT_MAX_RESP_HEADERS 100
#define CLIENT_MAX_RESP_HEADER_BYTES (64 * 1024)

struct client_sock {
    struct http_client *c;
    struct event *ev; /* EV_PERSIST, read and/or write as curl asks */
    TAILQ_ENTRY(client_sock) link;
};

struct client_req {
    struct http_client *c;
    CURL *easy; /* NULL for a request that failed before it started */
    struct curl_slist *headers;
    char *url;
    client_done_cb cb;
    void *arg;
    size_t max_body;
    int max_redirects;
    bool is_head;
    bool is_active;     /* on c->active and in the multi */
    bool is_delivering; /* its callback runs: client_cancel() is a no-op */
    struct buf body;
    struct buf resp_headers; /* "name\0value\0" pairs of the current response */
    size_t nresp_headers;
    long resp_status;                /* from the current status line */
    bool is_body_checked;            /* Content-Length of this response checked */
    enum client_result abort_result; /* why our callback stopped curl, or CLIENT_OK */
    struct buf upload;               /* a mail's message (client_send_mail) */
    size_t upload_off;
    char message[200]; /* abort reason, or why it failed before starting */
    char errbuf[CURL_ERROR_SIZE];
    TAILQ_ENTRY(client_req) link;
};

TAILQ_HEAD(client_req_list, client_req);
TAILQ_HEAD(client_sock_list, client_sock);

struct http_client {
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* curl's single timeout */
    struct event *kick;  /* zero timer: delivers c->failed on the next turn */
    struct client_req_list active;
    struct client_req_list failed;
    struct client_sock_list socks;
    size_t ntransfers;
    size_t nfailed;
    int depth;    /* event callbacks of ours on the stack */
    bool is_dead; /* client_free() ran inside a callback; destroyed when depth is 0 */
};

static void client_destroy(struct http_client *c);

/* ---- small helpers ---- */

static void die(const char *what)
{
    fprintf(stderr, "mcx: %s failed\n", what);
    abort();
}

static struct event *event_new_or_die(struct event_base *base, evutil_socket_t fd, short what,
                                      event_callback_fn cb, void *arg)
{
    struct event *ev = event_new(base, fd, what, cb, arg);

    if (ev == NULL)
        die("event_new");
    return ev;
}

static void timer_arm(struct event *ev, long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    evtimer_add(ev, &tv);
}

/* vsnprintf, not snprintf: messages are cut to fit on purpose. */
static void message_set(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void message_set(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

static struct curl_slist *slist_add(struct curl_slist *list, const char *line)
{
    struct curl_slist *next = curl_slist_append(list, line);

    if (next == NULL)
        die("curl_slist_append");
    return next;
}

/* RFC 9110 §5.6.2: token = 1*tchar. */
static bool is_token(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
            continue;
        if (strchr("!#$%&'*+-.^_`|~", ch) == NULL)
            return false;
    }
    return true;
}

/* RFC 9110 §5.5: field values are VCHAR, SP, HTAB and obs-text; CR and LF would let a
 * value smuggle in more header lines. */
static bool is_field_value(const char *s)
{
    size_t n = strlen(s);

    if (n > CLIENT_MAX_REQ_HEADER_VALUE)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

static bool is_http_url(const char *url)
{
    size_t n = strlen(url);

    if (n > CLIENT_MAX_URL)
        return false;
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

/* ---- public odds and ends ---- */

int client_global_init(void)
{
    const curl_version_info_data *vi;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    vi = curl_version_info(CURLVERSION_NOW);
    /* Without AsynchDNS curl resolves with a blocking getaddrinfo inside
     * curl_multi_socket_action, which would stall every request on the loop. */
    if (vi == NULL || !(vi->features & CURL_VERSION_ASYNCHDNS) ||
        !(vi->features & CURL_VERSION_SSL)) {
        curl_global_cleanup();
        return -1;
    }
    return 0;
}

void client_global_cleanup(void)
{
    curl_global_cleanup();
}

void client_request_init(struct client_request *req, const char *url)
{
    memset(req, 0, sizeof(*req));
    req->method = "GET";
    req->url = url;
    req->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    req->connect_timeout_ms = CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
    req->low_speed_bytes_per_s = CLIENT_DEFAULT_LOW_SPEED_BYTES_PER_S;
    req->low_speed_window_s = CLIENT_DEFAULT_LOW_SPEED_WINDOW_S;
    req->max_body = CLIENT_DEFAULT_MAX_BODY;
    req->max_redirects = CLIENT_DEFAULT_MAX_REDIRECTS;
}

const char *client_result_name(enum client_result result)
{
    switch (result) {
    case CLIENT_OK:
        return "ok";
    case CLIENT_ERR_TIMEOUT:
        return "timeout";
    case CLIENT_ERR_TOO_LARGE:
        return "too_large";
    case CLIENT_ERR_CONNECT:
        return "connect";
    case CLIENT_ERR_TLS:
        return "tls";
    case CLIENT_ERR_REDIRECTS:
        return "redirects";
    case CLIENT_ERR_PROTOCOL:
        return "protocol";
    case CLIENT_ERR_OTHER:
        break;
    }
    return "other";
}

size_t client_count_transfers(const struct http_client *c)
{
    return c->ntransfers;
}

/* ---- sockets and the timer, as curl asks ---- */

static void client_enter(struct http_client *c)
{
    c->depth++;
}

static void client_leave(struct http_client *c)
{
    if (--c->depth == 0 && c->is_dead)
        client_destroy(c);
}

static void client_check_done(struct http_client *c);

static void sock_on_event(evutil_socket_t fd, short what, void *arg)
{
    struct client_sock *s = arg;
    struct http_client *c = s->c; /* s may be gone once curl has run */
    int flags = 0;
    int running;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    client_enter(c);
    curl_multi_socket_action(c->multi, fd, flags, &running);
    client_check_done(c);
    client_leave(c);
}

static void sock_free(struct client_sock *s)
{
    TAILQ_REMOVE(&s->c->socks, s, link);
    if (s->ev != NULL)
        event_free(s->ev);
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl wants, or stop watching it. */
static int client_on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
    struct http_client *c = arg;
    struct client_sock *s = sockp;
    short kind = EV_PERSIST;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL)
            sock_free(s);
        return 0;
    }
    if (s == NULL) {
        s = xcalloc(1, sizeof(*s));
        s->c = c;
        TAILQ_INSERT_TAIL(&c->socks, s, link);
        curl_multi_assign(c->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    if (s->ev == NULL) {
        s->ev = event_new_or_die(c->base, fd, kind, sock_on_event, s);
    } else {
        event_del(s->ev);
        event_assign(s->ev, c->base, fd, kind, sock_on_event, s);
    }
    /* No timeout here: curl's own timer enforces every deadline of the transfer. */
    event_add(s->ev, NULL);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 cancels; 0 means "soon", which must not be now (we are
 * inside curl), so it is a zero timer like any other. */
static int client_on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct http_client *c = arg;

    (void)multi;
    if (timeout_ms < 0)
        evtimer_del(c->timer);
    else
        timer_arm(c->timer, timeout_ms);
    return 0;
}

static void client_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct http_client *c = arg;
    int running;

    (void)fd;
    (void)what;
    client_enter(c);
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    client_check_done(c);
    client_leave(c);
}

/* ---- response headers and body, as curl hands them over ---- */

static void req_abort(struct client_req *r, enum client_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void req_abort(struct client_req *r, enum client_result result, const char *fmt, ...)
{
    va_list ap;

    r->abort_result = result;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
}

/* "HTTP/1.1 200 OK" or "HTTP/2 200": the three digits after the first space. */
static long parse_status(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    long status = 0;

    if (sp == NULL || (size_t)(line + len - sp) < 4)
        return 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return 0;
        status = status * 10 + (sp[i] - '0');
    }
    return status;
}

static const char *headers_find(const struct client_req *r, const char *name)
{
    const char *p = r->resp_headers.data;
    const char *found = NULL;

    for (size_t i = 0; i < r->nresp_headers; i++) {
        const char *value = p + strlen(p) + 1;
        if (strcasecmp(p, name) == 0)
            found = value;
        p = value + strlen(value) + 1;
    }
    return found;
}

/* Strict 1*DIGIT; -1 when absent, malformed or absurd. */
static long long parse_length(const char *s)
{
    long long n = 0;

    if (s == NULL || *s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || n > (LLONG_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*s - '0');
    }
    return n;
}

/* Does this response carry the body we will keep? Interim (1xx), bodiless (204, 304,
 * HEAD) and followed redirects do not; their Content-Length says nothing about it. */
static bool req_expects_body(const struct client_req *r)
{
    long st = r->resp_status;

    if (r->is_head || (st >= 100 && st < 200) || st == 204 || st == 304)
        return false;
    if (st >= 300 && st < 400 && r->max_redirects > 0 && headers_find(r, "location") != NULL)
        return false;
    return true;
}

/* End of a response's headers: refuse a body announced larger than max_body before a
 * byte of it arrives. (With Content-Encoding this is the encoded size; compression
 * adds at most a few bytes per 64 KiB, so the decoded body would be over the limit too,
 * give or take that much.) */
static int req_check_announced(struct client_req *r)
{
    long long len;

    if (r->is_body_checked || !req_expects_body(r))
        return 0;
    r->is_body_checked = true;
    if (headers_find(r, "transfer-encoding") != NULL)
        return 0; /* RFC 9112 §6.3: Content-Length is then ignored */
    len = parse_length(headers_find(r, "content-length"));
    if (len >= 0 && (unsigned long long)len > r->max_body) {
        req_abort(r, CLIENT_ERR_TOO_LARGE,
                  "the response announces %lld bytes, more than the limit of %zu", len,
                  r->max_body);
        return -1;
    }
    return 0;
}

static void req_store_header(struct client_req *r, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    const char *v;
    const char *end = line + len;

    /* Lines without a name (obs-fold continuations, garbage) are not kept. */
    if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
        return;
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    /* A NUL inside would cut the pair short; such a header is not worth keeping. */
    if (memchr(line, '\0', len) != NULL)
        return;
    buf_append(&r->resp_headers, line, (size_t)(colon - line));
    buf_putc(&r->resp_headers, '\0');
    buf_append(&r->resp_headers, v, (size_t)(end - v));
    buf_putc(&r->resp_headers, '\0');
    r->nresp_headers++;
}

/* CURLOPT_HEADERFUNCTION: one complete line per call, every response of the transfer
 * (interim 1xx and followed redirects too), so a status line starts a fresh set. */
static size_t req_on_header(char *line, size_t size, size_t n, void *arg)
{
    struct client_req *r = arg;
    size_t len = size * n;

    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        buf_reset(&r->resp_headers);
        r->nresp_headers = 0;
        r->resp_status = parse_status(line, len);
        r->is_body_checked = false;
        return len;
    }
    if (len >= 1 && len <= 2 && (line[0] == '\r' || line[0] == '\n'))
        return req_check_announced(r) == 0 ? len : 0;
    if (r->nresp_headers >= CLIENT_MAX_RESP_HEADERS ||
        r->resp_headers.len + len > CLIENT_MAX_RESP_HEADER_BYTES) {
        req_abort(r, CLIENT_ERR_PROTOCOL,
                  "the response has more than %d headers or %d bytes of them",
                  CLIENT_MAX_RESP_HEADERS, CLIENT_MAX_RESP_HEADER_BYTES);
        return 0;
    }
    req_store_header(r, line, len);
    return len;
}

/* CURLOPT_WRITEFUNCTION: decoded body bytes; returning short stops the transfer. */
static size_t req_on_body(char *data, size_t size, size_t n, void *arg)
{
    struct client_req *r = arg;
    size_t len = size * n;

    if (len > r->max_body - r->body.len) {
        req_abort(r, CLIENT_ERR_TOO_LARGE,
                  "the response body is larger than the limit of %zu bytes", r->max_body);
        return 0;
    }
    buf_append(&r->body, data, len);
    return len;
}

/* ---- request setup ---- */

static void req_free(struct client_req *r)
{
    if (r->easy != NULL)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    buf_cleanup(&r->body);
    buf_cleanup(&r->resp_headers);
    buf_cleanup(&r->upload);
    free(r->url);
    free(r);
}

static bool is_method(const char *method, const char *name)
{
    return strcmp(method, name) == 0;
}

static int req_build_headers(struct client_req *r, const struct client_request *req, bool has_body)
{
    bool has_type = false;
    struct buf line;

    if (req->nheaders > CLIENT_MAX_REQ_HEADERS || (req->nheaders > 0 && req->headers == NULL)) {
        message_set(r->message, sizeof(r->message), "too many request headers (limit %d)",
                    CLIENT_MAX_REQ_HEADERS);
        return -1;
    }
    buf_init(&line);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct client_header *h = &req->headers[i];
        if (h->name == NULL || !is_token(h->name, CLIENT_MAX_REQ_HEADER_NAME) || h->value == NULL ||
            !is_field_value(h->value)) {
            message_set(r->message, sizeof(r->message), "request header %zu is not valid", i);
            buf_cleanup(&line);
            return -1;
        }
        has_type = has_type || strcasecmp(h->name, "content-type") == 0;
        buf_reset(&line);
        /* curl drops "Name:" (it means "remove"); "Name;" sends an empty value. */
        if (h->value[0] == '\0')
            buf_printf(&line, "%s;", h->name);
        else
            buf_printf(&line, "%s: %s", h->name, h->value);
        r->headers = slist_add(r->headers, line.data);
    }
    buf_cleanup(&line);
    if (has_body && !has_type)
        r->headers = slist_add(r->headers, "Content-Type: application/octet-stream");
    /* No "Expect: 100-continue" round trip (and its 1 s stall on servers that ignore it). */
    if (has_body)
        r->headers = slist_add(r->headers, "Expect:");
    return 0;
}

/* http and https only; a transfer that starts on https may not be redirected to plain
 * http, where anyone on the path could answer in the partner's name. */
static int req_set_protocols(CURL *e, bool is_https)
{
#if CURL_AT_LEAST_VERSION(7, 85, 0)
    const char *redir = is_https ? "https" : "http,https";
    int bad = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;

    bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, redir) != CURLE_OK;
    return bad;
#else
    long redir = is_https ? CURLPROTO_HTTPS : CURLPROTO_HTTP | CURLPROTO_HTTPS;
    int bad = curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
              CURLE_OK;

    bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, redir) != CURLE_OK;
    return bad;
#endif
}

static long or_default(long v, long def)
{
    return v > 0 ? v : def;
}

/* Every option is checked: an option libcurl does not take (an old build) must fail
 * the request rather than silently lose a limit. */
static int req_set_options(struct client_req *r, const struct client_request *req)
{
    CURL *e = r->easy;
    long timeout = or_default(req->timeout_ms, CLIENT_DEFAULT_TIMEOUT_MS);
    long connect = or_default(req->connect_timeout_ms, CLIENT_DEFAULT_CONNECT_TIMEOUT_MS);
    long speed = or_default(req->low_speed_bytes_per_s, CLIENT_DEFAULT_LOW_SPEED_BYTES_PER_S);
    long window = or_default(req->low_speed_window_s, CLIENT_DEFAULT_LOW_SPEED_WINDOW_S);
    long follow = r->max_redirects > 0 ? 1L : 0L;
    long verify = req->insecure_tls ? 0L : 1L;
    int bad = 0;

    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "mcxd/" MCX_VERSION) != CURLE_OK;
    bad |= req_set_protocols(e, strncasecmp(r->url, "https://", 8) == 0);
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, follow) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)r->max_redirects) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, verify) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, verify * 2) != CURLE_OK;
    /* "": every encoding curl can decode; the write callback sees decoded bytes, so
     * max_body bounds what we hold, not what crossed the wire. */
    bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, speed) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, window) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req_on_body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, req_on_header) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)r) != CURLE_OK;
    if (r->headers != NULL)
        bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK;
    return bad ? -1 : 0;
}

static int req_set_method(struct client_req *r, const char *method, const char *body,
                          size_t body_len, bool has_body)
{
    CURL *e = r->easy;
    int bad = 0;

    if (is_method(method, "HEAD"))
        bad |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) != CURLE_OK;
    else if (!is_method(method, "GET") && !is_method(method, "POST"))
        bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
    if (has_body) {
        /* The size first: COPYPOSTFIELDS copies that many bytes (the body may hold NULs). */
        bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "") != CURLE_OK;
    }
    return bad ? -1 : 0;
}

/* Validates and copies the request into a ready easy handle; -1 with r->message. */
static int req_setup(struct client_req *r, const struct client_request *req)
{
    const char *method = req->method != NULL ? req->method : "GET";
    bool is_get = is_method(method, "GET");
    bool has_body;

    r->is_head = is_method(method, "HEAD");
    has_body = !is_get && !r->is_head &&
               (req->body_len > 0 || is_method(method, "POST") || is_method(method, "PUT") ||
                is_method(method, "PATCH"));
    if (!is_http_url(r->url)) {
        message_set(r->message, sizeof(r->message),
                    "the URL must be http:// or https://, without spaces or control characters, "
                    "and at most %d bytes",
                    CLIENT_MAX_URL);
        return -1;
    }
    if (!is_token(method, CLIENT_MAX_METHOD)) {
        message_set(r->message, sizeof(r->message), "the method is not an HTTP token");
        return -1;
    }
    if ((is_get || r->is_head) && req->body_len > 0) {
        message_set(r->message, sizeof(r->message), "a %s request carries no body", method);
        return -1;
    }
    if (req->body == NULL && req->body_len > 0) {
        message_set(r->message, sizeof(r->message), "body_len is set but body is NULL");
        return -1;
    }
    if (req_build_headers(r, req, has_body) != 0)
        return -1;
    r->max_body = req->max_body > 0 ? req->max_body : CLIENT_DEFAULT_MAX_BODY;
    r->max_redirects = req->max_redirects < 0 ? CLIENT_DEFAULT_MAX_REDIRECTS : req->max_redirects;
    if (r->max_redirects > CLIENT_MAX_REDIRECTS)
        r->max_redirects = CLIENT_MAX_REDIRECTS;
    r->easy = curl_easy_init();
    if (r->easy == NULL)
        die("curl_easy_init");
    if (req_set_options(r, req) != 0 ||
        req_set_method(r, method, req->body, req->body_len, has_body) != 0) {
        message_set(r->message, sizeof(r->message), "libcurl refused an option (too old?)");
        return -1;
    }
    return 0;
}

/* ---- results ---- */

static enum client_result result_from_code(const struct client_req *r, CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return CLIENT_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return CLIENT_ERR_TIMEOUT;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
        return r->abort_result != CLIENT_OK ? r->abort_result : CLIENT_ERR_OTHER;
    case CURLE_FILESIZE_EXCEEDED:
        return CLIENT_ERR_TOO_LARGE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return CLIENT_ERR_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return CLIENT_ERR_TLS;
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_UNSUPPORTED_PROTOCOL: /* our URL was checked: only a redirect gets here */
        return CLIENT_ERR_REDIRECTS;
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_GOT_NOTHING:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
        return CLIENT_ERR_PROTOCOL;
    default:
        return CLIENT_ERR_OTHER;
    }
}

static const char *result_sentence(enum client_result result, CURLcode code)
{
    switch (result) {
    case CLIENT_OK:
        return "";
    case CLIENT_ERR_TIMEOUT:
        return "timed out";
    case CLIENT_ERR_TOO_LARGE:
        return "response too large";
    case CLIENT_ERR_CONNECT:
        return "connection failed";
    case CLIENT_ERR_TLS:
        return "TLS failed";
    case CLIENT_ERR_REDIRECTS:
        return code == CURLE_TOO_MANY_REDIRECTS
                   ? "too many redirects"
                   : "redirected to a URL that is not http or https (or from https to http)";
    case CLIENT_ERR_PROTOCOL:
        return "bad HTTP response";
    case CLIENT_ERR_OTHER:
        break;
    }
    return "transfer failed";
}

static void req_build_response(struct client_req *r, CURLcode code, struct client_response *resp)
{
    const char *detail = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(code);
    char *url = NULL;

    memset(resp, 0, sizeof(*resp));
    resp->req = r;
    resp->body = "";
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &resp->total_s);
    curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
    resp->effective_url = url != NULL ? url : r->url;
    resp->result = result_from_code(r, code);
    if (resp->result == CLIENT_OK) {
        if (r->body.data != NULL)
            resp->body = r->body.data;
        resp->body_len = r->body.len;
    } else if (r->abort_result != CLIENT_OK && resp->result == r->abort_result) {
        message_set(resp->error, sizeof(resp->error), "%s", r->message);
    } else {
        message_set(resp->error, sizeof(resp->error), "%s: %s", result_sentence(resp->result, code),
                    detail);
    }
}

/* Runs the callback and frees r; client_cancel(r) inside the callback is a no-op. */
static void req_deliver(struct client_req *r, const struct client_response *resp)
{
    r->is_delivering = true;
    if (r->cb != NULL)
        r->cb(resp, r->arg);
    req_free(r);
}

static void client_finish(struct http_client *c, CURL *easy, CURLcode code)
{
    struct client_response resp;
    struct client_req *r = NULL;
    void *priv = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    r = priv;
    req_build_response(r, code, &resp);
    curl_multi_remove_handle(c->multi, easy);
    TAILQ_REMOVE(&c->active, r, link);
    r->is_active = false;
    c->ntransfers--;
    req_deliver(r, &resp);
}

/* Callbacks may start, cancel or free: the message is copied before each one runs
 * (curl_multi_remove_handle drops a cancelled transfer's queued message). */
static void client_check_done(struct http_client *c)
{
    CURLMsg *msg;
    int left;

    while (!c->is_dead && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE)
            client_finish(c, msg->easy_handle, msg->data.result);
    }
}

/* ---- requests that failed before they started ---- */

static void client_on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct http_client *c = arg;
    size_t n = c->nfailed; /* those queued by callbacks wait for the next kick */
    struct client_response resp;
    struct client_req *r;

    (void)fd;
    (void)what;
    client_enter(c);
    while (n-- > 0 && !c->is_dead && (r = TAILQ_FIRST(&c->failed)) != NULL) {
        TAILQ_REMOVE(&c->failed, r, link);
        c->nfailed--;
        c->ntransfers--;
        memset(&resp, 0, sizeof(resp));
        resp.result = CLIENT_ERR_OTHER;
        resp.body = "";
        resp.effective_url = r->url;
        resp.req = r;
        message_set(resp.error, sizeof(resp.error), "%s", r->message);
        req_deliver(r, &resp);
    }
    client_leave(c);
}

static void client_queue_failed(struct http_client *c, struct client_req *r)
{
    if (r->easy != NULL) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    TAILQ_INSERT_TAIL(&c->failed, r, link);
    c->nfailed++;
    timer_arm(c->kick, 0);
}

/* ---- the client ---- */

struct http_client *client_new(struct event_base *base)
{
    struct http_client *c = xcalloc(1, sizeof(*c));
    int bad = 0;

    c->base = base;
    TAILQ_INIT(&c->active);
    TAILQ_INIT(&c->failed);
    TAILQ_INIT(&c->socks);
    c->timer = event_new_or_die(base, -1, 0, client_on_timer, c);
    c->kick = event_new_or_die(base, -1, 0, client_on_kick, c);
    c->multi = curl_multi_init();
    if (c->multi == NULL)
        die("curl_multi_init");
    bad |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, client_on_curl_socket) != CURLM_OK;
    bad |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c) != CURLM_OK;
    bad |= curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, client_on_curl_timer) != CURLM_OK;
    bad |= curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, (void *)c) != CURLM_OK;
    if (bad)
        die("curl_multi_setopt");
    return c;
}

/* Drops every transfer without its callback. */
static void client_drop_all(struct http_client *c)
{
    struct client_req *r;

    while ((r = TAILQ_FIRST(&c->active)) != NULL) {
        TAILQ_REMOVE(&c->active, r, link);
        curl_multi_remove_handle(c->multi, r->easy);
        req_free(r);
    }
    while ((r = TAILQ_FIRST(&c->failed)) != NULL) {
        TAILQ_REMOVE(&c->failed, r, link);
        req_free(r);
    }
    c->ntransfers = 0;
    c->nfailed = 0;
}

static void client_destroy(struct http_client *c)
{
    struct client_sock *s;

    /* Our events go first, while their sockets are still open, and curl is told to stop
     * calling back: it may still close cached connections while it cleans up. */
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, (curl_socket_callback)NULL);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, (curl_multi_timer_callback)NULL);
    while ((s = TAILQ_FIRST(&c->socks)) != NULL)
        sock_free(s);
    curl_multi_cleanup(c->multi);
    event_free(c->timer);
    event_free(c->kick);
    free(c);
}

void client_free(struct http_client *c)
{
    if (c == NULL || c->is_dead)
        return;
    c->is_dead = true;
    client_drop_all(c);
    if (c->depth == 0)
        client_destroy(c);
}

static struct client_req *req_new(struct http_client *c, const char *url, client_done_cb cb,
                                  void *arg)
{
    struct client_req *r = xcalloc(1, sizeof(*r));

    r->c = c;
    r->cb = cb;
    r->arg = arg;
    buf_init(&r->body);
    buf_init(&r->resp_headers);
    buf_init(&r->upload);
    r->url = xstrdup(url != NULL ? url : "");
    c->ntransfers++;
    return r;
}

/* Adds a set-up transfer to the multi handle, or delivers its failure (r->message)
 * on the next loop turn. */
static struct client_req *req_start(struct http_client *c, struct client_req *r, bool ready)
{
    if (ready) {
        CURLMcode mc = curl_multi_add_handle(c->multi, r->easy);
        if (mc == CURLM_OK) {
            TAILQ_INSERT_TAIL(&c->active, r, link);
            r->is_active = true;
            return r;
        }
        message_set(r->message, sizeof(r->message), "could not start the transfer: %s",
                    curl_multi_strerror(mc));
    }
    client_queue_failed(c, r);
    return r;
}

static bool req_too_many(struct client_req *r)
{
    if (r->c->ntransfers <= CLIENT_MAX_TRANSFERS)
        return false;
    message_set(r->message, sizeof(r->message), "too many transfers in flight (limit %d)",
                CLIENT_MAX_TRANSFERS);
    return true;
}

struct client_req *client_fetch(struct http_client *c, const struct client_request *req,
                                client_done_cb cb, void *arg)
{
    struct client_req *r;
    bool ready = false;

    if (c->is_dead)
        return NULL; /* a callback of this client freed it and then asked for more */
    r = req_new(c, req != NULL ? req->url : NULL, cb, arg);
    if (req == NULL)
        message_set(r->message, sizeof(r->message), "no request");
    else if (!req_too_many(r))
        ready = req_setup(r, req) == 0;
    return req_start(c, r, ready);
}

/* ---- mail (SMTP submission) ---- */

/* CURLOPT_READFUNCTION: the message, as much as fits each time. */
static size_t req_on_read(char *dst, size_t size, size_t n, void *arg)
{
    struct client_req *r = arg;
    size_t left = r->upload.len - r->upload_off, want = size * n;

    if (want > left)
        want = left;
    memcpy(dst, r->upload.data + r->upload_off, want);
    r->upload_off += want;
    return want;
}

bool client_mail_address_ok(const char *a, size_t n)
{
    const char *at = a != NULL ? memchr(a, '@', n) : NULL;

    if (at == NULL || n > 254 || at == a || at == a + n - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f || strchr("<>\"(),;:\\[]", a[i]) != NULL)
            return false;
    return memchr(at + 1, '@', (size_t)(a + n - at - 1)) == NULL;
}

static bool is_smtp_url(const char *url)
{
    bool smtps = strncmp(url, "smtps://", 8) == 0;

    if (!smtps && strncmp(url, "smtp://", 7) != 0)
        return false;
    if (strlen(url) > CLIENT_MAX_URL)
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

static int mail_setup(struct client_req *r, const struct client_mail *m)
{
    char envelope[300];
    CURL *e;
    int bad = 0;

    if (!is_smtp_url(r->url)) {
        message_set(r->message, sizeof(r->message),
                    "the mail server's URL must be smtp:// or smtps://, without spaces or control "
                    "characters");
        return -1;
    }
    if (m->from == NULL || m->to == NULL || !client_mail_address_ok(m->from, strlen(m->from)) ||
        !client_mail_address_ok(m->to, strlen(m->to))) {
        message_set(r->message, sizeof(r->message),
                    "the sender and the recipient must be plain e-mail addresses");
        return -1;
    }
    if (m->message == NULL || m->message_len == 0) {
        message_set(r->message, sizeof(r->message), "the mail has no message");
        return -1;
    }
    buf_append(&r->upload, m->message, m->message_len);
    snprintf(envelope, sizeof(envelope), "<%s>", m->to);
    r->headers = slist_add(NULL, envelope);
    r->easy = e = curl_easy_init();
    if (e == NULL)
        die("curl_easy_init");
#if LIBCURL_VERSION_NUM >= 0x075500
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK;
#else
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS)) !=
           CURLE_OK;
#endif
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                            or_default(m->timeout_ms, CLIENT_DEFAULT_TIMEOUT_MS)) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CLIENT_DEFAULT_CONNECT_TIMEOUT_MS) !=
           CURLE_OK;
    snprintf(envelope, sizeof(envelope), "<%s>", m->from);
    bad |= curl_easy_setopt(e, CURLOPT_MAIL_FROM, envelope) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->headers) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_READFUNCTION, req_on_read) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_READDATA, (void *)r) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->upload.len) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req_on_body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)r) != CURLE_OK;
    /* smtp://: STARTTLS when the server offers it, or always with require_tls */
    bad |= curl_easy_setopt(e, CURLOPT_USE_SSL,
                            (long)(m->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY)) != CURLE_OK;
    if (m->user != NULL && m->user[0] != '\0') {
        bad |= curl_easy_setopt(e, CURLOPT_USERNAME, m->user) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_PASSWORD, m->password != NULL ? m->password : "") !=
               CURLE_OK;
    }
    if (bad) {
        message_set(r->message, sizeof(r->message), "libcurl refused an option (too old?)");
        return -1;
    }
    r->max_body = CLIENT_DEFAULT_MAX_BODY;
    return 0;
}

struct client_req *client_send_mail(struct http_client *c, const struct client_mail *m,
                                    client_done_cb cb, void *arg)
{
    struct client_req *r;
    bool ready = false;

    if (c->is_dead)
        return NULL;
    r = req_new(c, m != NULL ? m->url : NULL, cb, arg);
    if (m == NULL)
        message_set(r->message, sizeof(r->message), "no mail");
    else if (!req_too_many(r))
        ready = mail_setup(r, m) == 0;
    return req_start(c, r, ready);
}

void client_cancel(struct client_req *r)
{
    struct http_client *c;

    if (r == NULL || r->is_delivering)
        return;
    c = r->c;
    if (r->is_active) {
        TAILQ_REMOVE(&c->active, r, link);
        curl_multi_remove_handle(c->multi, r->easy);
    } else {
        TAILQ_REMOVE(&c->failed, r, link);
        c->nfailed--;
    }
    c->ntransfers--;
    req_free(r);
}

const char *client_response_header(const struct client_response *r, const char *name)
{
    if (r == NULL || r->req == NULL || name == NULL)
        return NULL;
    return headers_find(r->req, name);
}
