/*
 * client.h — outbound HTTP(S) on the libevent loop (libcurl multi underneath): partner
 * feeds, EWP peers, the Europass EDCI API. Domain modules reach the network only
 * through this header; only client.c includes curl/curl.h.
 */
#ifndef MCX_CLIENT_H
#define MCX_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;

struct http_client; /* one per event loop */
struct client_req;  /* one transfer, cancellable until its callback has run */

enum client_result {
    CLIENT_OK = 0,        /* an HTTP response arrived, whatever its status */
    CLIENT_ERR_TIMEOUT,   /* timeout_ms, connect_timeout_ms or the low-speed limit hit */
    CLIENT_ERR_TOO_LARGE, /* the (decoded) body, or its Content-Length, exceeds max_body */
    CLIENT_ERR_CONNECT,   /* DNS failed, connection refused, or the connection broke */
    CLIENT_ERR_TLS,       /* handshake failed or the certificate did not verify */
    CLIENT_ERR_REDIRECTS, /* more than max_redirects, to a non-http(s) URL, https -> http */
    CLIENT_ERR_PROTOCOL,  /* not HTTP, truncated, bad encoding, too many headers */
    CLIENT_ERR_OTHER,     /* a bad request (URL, method, header), too many transfers, ... */
};

struct client_header {
    const char *name;
    const char *value;
};

#define CLIENT_DEFAULT_TIMEOUT_MS 30000L
#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define CLIENT_DEFAULT_LOW_SPEED_BYTES_PER_S 100L
#define CLIENT_DEFAULT_LOW_SPEED_WINDOW_S 30L
#define CLIENT_DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)
#define CLIENT_DEFAULT_MAX_REDIRECTS 3
#define CLIENT_REDIRECTS_DEFAULT (-1) /* max_redirects value that asks for the default */

/*
 * What to fetch. Everything is copied by client_fetch(), so the request may live on
 * the caller's stack. Numeric limits that are zero (or negative) take the defaults
 * above, so a zero-initialised request is safe. max_redirects is the exception:
 * 0 means "do not follow" (a 3xx is then delivered as CLIENT_OK with its status and
 * Location header), negative means the default (3); client_request_init() sets it.
 * Redirects go to http/https only, and from https to https only. The headers go to
 * every hop (curl drops only Authorization and Cookie when the host changes), so a
 * request carrying a Signature should set max_redirects = 0.
 */
struct client_request {
    const char *method;                  /* "GET" when NULL; "HEAD" asks for no body */
    const char *url;                     /* http:// or https:// only */
    const struct client_header *headers; /* e.g. If-None-Match, Date, Digest, Signature */
    size_t nheaders;
    const char *body; /* sent for methods other than GET/HEAD (Content-Type from headers,
                         application/octet-stream when absent) */
    size_t body_len;
    long timeout_ms;            /* whole transfer, default 30000 */
    long connect_timeout_ms;    /* default 5000 */
    long low_speed_bytes_per_s; /* abort when slower than this ... */
    long low_speed_window_s;    /* ... for this long: default 100 bytes/s over 30 s */
    size_t max_body;            /* decoded body limit, default 64 MiB */
    int max_redirects;          /* 0 = none, negative = default (3) */
    bool insecure_tls;          /* tests only: skips certificate verification */
};

struct client_response {
    enum client_result result;
    char error[256];  /* one sentence when result != CLIENT_OK, else "" */
    long status;      /* HTTP status of the last response, 0 if none */
    const char *body; /* NUL-terminated; "" unless CLIENT_OK; valid during the callback only */
    size_t body_len;
    double total_s;               /* wall time of the transfer, redirects included */
    const char *effective_url;    /* after redirects; valid during the callback only */
    const struct client_req *req; /* the transfer; client_response_header() reads it */
};

typedef void (*client_done_cb)(const struct client_response *resp, void *arg);

/*
 * Once per process, before any thread or worker exists: mcxd calls it in main before
 * forking workers (curl_global_init is not thread-safe, and every worker then builds
 * its own http_client after the fork). Returns -1 if libcurl cannot initialise or
 * was built without an asynchronous resolver (CURL_VERSION_ASYNCHDNS): a blocking
 * getaddrinfo would stall the whole loop.
 */
int client_global_init(void);
void client_global_cleanup(void);

/* Fills in the defaults (GET, the limits above, 3 redirects) for url. */
void client_request_init(struct client_request *req, const char *url);

struct http_client *client_new(struct event_base *base);
/* Cancels every transfer without calling its callback. Safe from inside a callback:
 * the client then goes away when that callback returns. client_free(NULL) is a no-op. */
void client_free(struct http_client *c);

/*
 * Starts a transfer. cb runs exactly once, on a later loop turn (never inside this
 * call, even when the request is invalid), unless the transfer is cancelled or the
 * client freed first. The returned handle is valid until cb has returned. NULL only
 * when a callback has freed this client and still asks it for more.
 */
struct client_req *client_fetch(struct http_client *c, const struct client_request *req,
                                client_done_cb cb, void *arg);
/* One mail to submit over SMTP (RFC 6409). Everything is copied by client_send_mail. */
struct client_mail {
    const char *url;     /* smtp://host[:port] (STARTTLS when offered) or smtps://host[:port] */
    const char *from;    /* the envelope sender (MAIL FROM), a plain address */
    const char *to;      /* the one recipient (RCPT TO), a plain address */
    const char *message; /* header lines, an empty line, the body; CRLF line ends */
    size_t message_len;
    const char *user; /* AUTH, when not NULL or "" */
    const char *password;
    long timeout_ms;  /* the whole exchange, default 30000 */
    bool require_tls; /* smtp://: fail unless STARTTLS succeeds */
};

/* A plain address for MAIL FROM / RCPT TO (a[0..n), not NUL-terminated): one '@' with
 * text on both sides, no spaces, controls or specials ("<>(),;:\\[]"). */
bool client_mail_address_ok(const char *a, size_t n);

/*
 * Submits a mail on the loop, as client_fetch does a request: cb runs once, later.
 * CLIENT_OK (status: the server's last reply code, 250) when the server accepted
 * it; otherwise an error whose sentence carries the server's refusal ("RCPT failed:
 * 550", "Login denied").
 */
struct client_req *client_send_mail(struct http_client *c, const struct client_mail *m,
                                    client_done_cb cb, void *arg);

/* cb will not be called. No-op for NULL and from inside the transfer's own callback. */
void client_cancel(struct client_req *r);

/* The last value of a response header, case-insensitive; NULL when absent.
 * Valid during the callback only. */
const char *client_response_header(const struct client_response *r, const char *name);

/* Transfers started and not yet delivered or cancelled (for metrics and tests). */
size_t client_count_transfers(const struct http_client *c);

const char *client_result_name(enum client_result result); /* "timeout", ... */

#endif
