/*
 * itest_client.c — the outbound HTTP client (server/client.c) against tests/feedserver.py:
 * files with validators, broken servers (hang, 500, garbage, truncated, slow drip, huge,
 * redirect chains), refused and TLS connections, cancellation, many transfers at once,
 * and freeing the client with transfers in flight; meanwhile the loop must never stall.
 * Needs MCX_SOURCE_DIR (the script) and MCX_SHARED_DIR (the samples it serves).
 */
#include <event2/event.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/client.h"
#include "server/jsonparse.h"
#include "server/util.h"

#define PYTHON "/usr/bin/python3"
#define SAMPLE "/elm/loq/examples/loq.xml"
#define SAMPLE_SMALL "/ewp/catalog.xml"
#define MIB ((size_t)1024 * 1024)

struct feed {
    pid_t pid;
    int port;
    bool is_tls;
};

struct itest {
    struct event_base *base;
    struct http_client *client;
    struct feed plain;
    struct feed tls;
    char root[1024];
    struct buf sample;
    int checks;
    int failures;
};

#include "itest.h"

/* What a callback saw, copied out of the response (which dies with the callback). */
struct got {
    int calls;
    enum client_result result;
    long status;
    char error[256];
    struct buf body;
    char etag[128];
    char last_modified[128];
    char location[512];
    char effective_url[512];
    bool is_header_lookup_ok; /* "etag" and "ETAG" give the same value, absent gives NULL */
    bool has_filler;          /* "x-filler-89: v89" from /_headers/90 */
    bool is_refetch_null;     /* client_fetch on the client just freed gave NULL */
    int64_t at_us;
    long rss_kb;                 /* VmRSS while the response body was still held */
    struct client_req *self;     /* the handle client_fetch returned */
    struct client_req *cancel;   /* cancel this one from the callback */
    struct http_client *to_free; /* free this client from the callback */
    bool is_cancelling_self;     /* call client_cancel(self) from the callback */
};

static void note_got(const char *what, const struct got *g)
{
    fprintf(stderr, "  %s: calls=%d result=%s status=%ld body=%zu error=\"%s\"\n", what, g->calls,
            client_result_name(g->result), g->status, g->body.len, g->error);
}

/* ---- /proc/self/status ---- */

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    size_t n = strlen(field);
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0); false where that is not allowed. */
static bool peak_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");

    if (f == NULL)
        return false;
    fputs("5", f);
    return fclose(f) == 0;
}

/* ---- the loop ---- */

static bool pred_called(const void *arg)
{
    return ((const struct got *)arg)->calls > 0;
}

struct got_set {
    struct got *g;
    int n;
};

static bool pred_all_called(const void *arg)
{
    const struct got_set *s = arg;

    for (int i = 0; i < s->n; i++) {
        if (s->g[i].calls == 0)
            return false;
    }
    return true;
}

/* A 50 ms heartbeat: the largest gap between its firings shows a stalled loop. */
struct heartbeat {
    struct event *ev;
    int64_t last_us;
    int64_t max_gap_us;
    int ticks;
};

static void heartbeat_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct heartbeat *hb = arg;
    int64_t now = mcx_now_us();

    (void)fd;
    (void)what;
    if (now - hb->last_us > hb->max_gap_us)
        hb->max_gap_us = now - hb->last_us;
    hb->last_us = now;
    hb->ticks++;
}

static void heartbeat_start(struct itest *t, struct heartbeat *hb)
{
    struct timeval tv = {0, 50000};

    memset(hb, 0, sizeof(*hb));
    hb->ev = event_new(t->base, -1, EV_PERSIST, heartbeat_on_tick, hb);
    hb->last_us = mcx_now_us();
    event_add(hb->ev, &tv);
}

static void heartbeat_stop(struct heartbeat *hb)
{
    heartbeat_on_tick(-1, 0, hb); /* the gap up to now counts too */
    hb->ticks--;
    event_free(hb->ev);
}

/* ---- transfers ---- */

static void got_init(struct got *g)
{
    memset(g, 0, sizeof(*g));
    buf_init(&g->body);
}

static void got_cleanup(struct got *g)
{
    buf_cleanup(&g->body);
}

static void copy_header(char *dst, size_t size, const struct client_response *resp,
                        const char *name)
{
    const char *v = client_response_header(resp, name);

    mcx_strlcpy(dst, v != NULL ? v : "", size);
}

static void on_done(const struct client_response *resp, void *arg)
{
    struct got *g = arg;
    const char *lower = client_response_header(resp, "etag");
    const char *upper = client_response_header(resp, "ETAG");

    g->calls++;
    g->at_us = mcx_now_us();
    g->rss_kb = status_kb("VmRSS");
    g->result = resp->result;
    g->status = resp->status;
    mcx_strlcpy(g->error, resp->error, sizeof(g->error));
    buf_reset(&g->body);
    buf_append(&g->body, resp->body, resp->body_len);
    copy_header(g->etag, sizeof(g->etag), resp, "ETag");
    copy_header(g->last_modified, sizeof(g->last_modified), resp, "Last-Modified");
    copy_header(g->location, sizeof(g->location), resp, "Location");
    mcx_strlcpy(g->effective_url, resp->effective_url != NULL ? resp->effective_url : "",
                sizeof(g->effective_url));
    g->is_header_lookup_ok = lower == upper && client_response_header(resp, "X-Absent") == NULL;
    g->has_filler = client_response_header(resp, "x-filler-89") != NULL &&
                    strcmp(client_response_header(resp, "x-filler-89"), "v89") == 0;
    if (g->cancel != NULL)
        client_cancel(g->cancel);
    if (g->is_cancelling_self)
        client_cancel(g->self); /* a no-op by contract: no double free under asan */
    if (g->to_free != NULL) {
        struct client_request again;
        client_request_init(&again, "http://127.0.0.1:1/");
        client_free(g->to_free);
        g->is_refetch_null = client_fetch(g->to_free, &again, on_done, NULL) == NULL;
    }
}

static void url_of(const struct feed *f, const char *path, char *out, size_t size)
{
    int n = snprintf(out, size, "%s://127.0.0.1:%d%s", f->is_tls ? "https" : "http", f->port, path);

    if (n < 0 || (size_t)n >= size)
        out[0] = '\0';
}

/* Starts a transfer and checks the callback does not run inside client_fetch. */
static struct client_req *fetch_start_on(struct itest *t, struct http_client *c,
                                         const struct client_request *req, struct got *g)
{
    struct client_req *r = client_fetch(c, req, on_done, g);

    g->self = r;
    CHECK(t, r != NULL);
    CHECK(t, g->calls == 0);
    return r;
}

static struct client_req *fetch_start(struct itest *t, const struct client_request *req,
                                      struct got *g)
{
    return fetch_start_on(t, t->client, req, g);
}

static void run(struct itest *t, const struct client_request *req, struct got *g, int ms)
{
    fetch_start(t, req, g);
    CHECK(t, loop_until(t, pred_called, g, ms));
}

static void get(struct itest *t, const char *path, struct client_request *req, char *url,
                size_t size)
{
    url_of(&t->plain, path, url, size);
    client_request_init(req, url);
}

static bool body_is_sample(const struct itest *t, const struct got *g)
{
    return g->body.len == t->sample.len && memcmp(g->body.data, t->sample.data, g->body.len) == 0;
}

/* ---- the feed server ---- */

static int read_port_line(int fd, int timeout_ms)
{
    char line[64];
    size_t len = 0;
    int64_t start = mcx_now_us();
    long port;

    while (len < sizeof(line) - 1 && ms_since(start) < timeout_ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = read(fd, line + len, 1);
        if (n <= 0)
            return -1;
        if (line[len] == '\n') {
            line[len] = '\0';
            if (strncmp(line, "port ", 5) != 0 || mcx_parse_int(line + 5, 1, 65535, &port) != 0)
                return -1;
            return (int)port;
        }
        len++;
    }
    return -1;
}

static int feed_start(struct itest *t, struct feed *f, bool is_tls)
{
    const char *src = getenv("MCX_SOURCE_DIR");
    char script[1024];
    int fds[2];
    int n;

    f->is_tls = is_tls;
    n = snprintf(script, sizeof(script), "%s/tests/feedserver.py",
                 src != NULL ? src : MCX_SOURCE_DIR);
    if (n < 0 || (size_t)n >= sizeof(script) || pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    f->pid = fork();
    if (f->pid < 0)
        return -1;
    if (f->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        execl(PYTHON, PYTHON, script, "--root", t->root, "--lifetime", "240",
              is_tls ? "--tls" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f->port = read_port_line(fds[0], 60000);
    close(fds[0]);
    return f->port > 0 ? 0 : -1;
}

static void feed_stop(struct feed *f)
{
    int64_t start = mcx_now_us();
    int status;

    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    while (waitpid(f->pid, &status, WNOHANG) == 0) {
        if (ms_since(start) > 5000) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &status, 0);
            break;
        }
        usleep(20000);
    }
    f->pid = 0;
}

static int file_read(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;

    if (f == NULL)
        return -1;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(out, chunk, n);
    fclose(f);
    return 0;
}

/* ---- the checks ---- */

static void test_file_and_validators(struct itest *t)
{
    struct client_request req;
    struct client_header h;
    char url[256];
    char etag[128];
    char last_modified[128];
    struct got g;

    get(t, SAMPLE, &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.calls == 1);
    CHECK(t, g.result == CLIENT_OK && g.status == 200);
    CHECK(t, body_is_sample(t, &g));
    CHECK(t, g.etag[0] == '"');
    CHECK(t, g.last_modified[0] != '\0');
    CHECK(t, g.is_header_lookup_ok);
    CHECK(t, strcmp(g.effective_url, url) == 0);
    mcx_strlcpy(etag, g.etag, sizeof(etag));
    mcx_strlcpy(last_modified, g.last_modified, sizeof(last_modified));
    got_cleanup(&g);

    /* If-None-Match with the ETag: 304, no body, the validator repeated. */
    h = (struct client_header){"If-None-Match", etag};
    req.headers = &h;
    req.nheaders = 1;
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 304 && g.body.len == 0);
    CHECK(t, strcmp(g.etag, etag) == 0);
    got_cleanup(&g);

    /* A stale ETag gets the file again. */
    h = (struct client_header){"If-None-Match", "\"stale\""};
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && body_is_sample(t, &g));
    got_cleanup(&g);

    h = (struct client_header){"If-Modified-Since", last_modified};
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 304 && g.body.len == 0);
    got_cleanup(&g);

    /* HEAD: the Content-Length (300 KB) is the file's, not a body over max_body. */
    get(t, SAMPLE, &req, url, sizeof(url));
    req.method = "HEAD";
    req.max_body = 1000;
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && g.body.len == 0);
    got_cleanup(&g);

    /* A name, through curl's threaded resolver. */
    char host_url[256];
    snprintf(host_url, sizeof(host_url), "http://localhost:%d%s", t->plain.port, SAMPLE);
    client_request_init(&req, host_url);
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && body_is_sample(t, &g));
    got_cleanup(&g);
}

static void test_statuses(struct itest *t)
{
    struct client_request req;
    char url[256];
    struct got g;

    get(t, "/_500" SAMPLE, &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.calls == 1 && g.result == CLIENT_OK && g.status == 500);
    CHECK(t, strcmp(g.body.data, "internal error (on purpose)\n") == 0);
    CHECK(t, g.error[0] == '\0');
    got_cleanup(&g);

    get(t, "/no/such/file.xml", &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 404);
    got_cleanup(&g);

    get(t, "/_garbage" SAMPLE, &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && g.body.len == 8192);
    got_cleanup(&g);

    /* Content-Encoding: gzip is decoded by curl. */
    get(t, "/_gzip" SAMPLE, &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && body_is_sample(t, &g));
    got_cleanup(&g);

    /* Response headers are bounded: 90 are kept, 150 end the transfer. */
    get(t, "/_headers/90", &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && g.has_filler);
    got_cleanup(&g);

    get(t, "/_headers/150", &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    note_got("150 headers", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_PROTOCOL && g.body.len == 0);
    got_cleanup(&g);

    get(t, "/_truncated" SAMPLE, &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    note_got("truncated", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_PROTOCOL);
    CHECK(t, g.error[0] != '\0' && g.body.len == 0);
    got_cleanup(&g);
}

/* The echo's headers as "Name: value" lines, for strstr. */
static void echo_parse(struct itest *t, const struct got *g, struct buf *method, struct buf *hdrs,
                       struct buf *body)
{
    struct mcx_error err;
    struct json_value *doc = json_parse(g->body.data, g->body.len, 0, &err);
    const struct json_value *list;

    CHECK(t, doc != NULL);
    if (doc == NULL)
        return;
    buf_puts(method, json_string_value(json_object_get(doc, "method"), NULL));
    buf_puts(body, json_string_value(json_object_get(doc, "body"), NULL));
    list = json_object_get(doc, "headers");
    for (size_t i = 0; list != NULL && i < json_array_len(list); i++) {
        const struct json_value *pair = json_array_at(list, i);
        buf_printf(hdrs, "%s: %s\n", json_string_value(json_array_at(pair, 0), NULL),
                   json_string_value(json_array_at(pair, 1), NULL));
    }
    json_value_free(doc);
}

static void test_methods(struct itest *t)
{
    struct client_header hs[] = {{"Content-Type", "application/json"}, {"X-Mcx-Test", "yes"}};
    const char *json = "{\"a\": 1}";
    struct buf method, hdrs, body;
    struct client_request req;
    char url[256];
    struct got g;

    get(t, "/_echo", &req, url, sizeof(url));
    req.method = "POST";
    req.headers = hs;
    req.nheaders = 2;
    req.body = json;
    req.body_len = strlen(json);
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200);
    buf_init(&method);
    buf_init(&hdrs);
    buf_init(&body);
    echo_parse(t, &g, &method, &hdrs, &body);
    CHECK(t, method.data != NULL && strcmp(method.data, "POST") == 0);
    CHECK(t, body.data != NULL && strcmp(body.data, json) == 0);
    CHECK(t, hdrs.data != NULL && strstr(hdrs.data, "User-Agent: mcxd/" MCX_VERSION "\n"));
    CHECK(t, hdrs.data != NULL && strstr(hdrs.data, "X-Mcx-Test: yes\n"));
    CHECK(t, hdrs.data != NULL && strstr(hdrs.data, "Content-Type: application/json\n"));
    CHECK(t, hdrs.data != NULL && strstr(hdrs.data, "Expect") == NULL);
    CHECK(t, hdrs.data != NULL && strstr(hdrs.data, "Accept-Encoding: "));
    buf_cleanup(&method);
    buf_cleanup(&hdrs);
    buf_cleanup(&body);
    got_cleanup(&g);

    /* PUT without a Content-Type gets octet-stream, not curl's form default. */
    get(t, "/_echo", &req, url, sizeof(url));
    req.method = "PUT";
    req.body = "x";
    req.body_len = 1;
    got_init(&g);
    run(t, &req, &g, 5000);
    buf_init(&method);
    buf_init(&hdrs);
    buf_init(&body);
    echo_parse(t, &g, &method, &hdrs, &body);
    CHECK(t, method.data != NULL && strcmp(method.data, "PUT") == 0);
    CHECK(t, hdrs.data != NULL && strstr(hdrs.data, "Content-Type: application/octet-stream\n"));
    CHECK(t, body.data != NULL && strcmp(body.data, "x") == 0);
    buf_cleanup(&method);
    buf_cleanup(&hdrs);
    buf_cleanup(&body);
    got_cleanup(&g);
}

/* A hanging server times out on time while a fast transfer and a 50 ms heartbeat carry on. */
static void test_hang(struct itest *t)
{
    struct client_request hang_req, fast_req;
    char hang_url[256], fast_url[256];
    struct got hang, fast;
    struct heartbeat hb;
    int64_t start;

    get(t, "/_hang" SAMPLE, &hang_req, hang_url, sizeof(hang_url));
    hang_req.timeout_ms = 1000;
    get(t, SAMPLE, &fast_req, fast_url, sizeof(fast_url));
    got_init(&hang);
    got_init(&fast);
    heartbeat_start(t, &hb);
    start = mcx_now_us();
    fetch_start(t, &hang_req, &hang);
    fetch_start(t, &fast_req, &fast);
    CHECK(t, loop_until(t, pred_called, &hang, 5000));
    heartbeat_stop(&hb);
    note_got("hang", &hang);
    fprintf(stderr, "  hang: %lld ms; fast: %lld ms; heartbeat: %d ticks, largest gap %lld ms\n",
            (long long)(hang.at_us - start) / 1000, (long long)(fast.at_us - start) / 1000,
            hb.ticks, (long long)hb.max_gap_us / 1000);
    CHECK(t, hang.calls == 1 && hang.result == CLIENT_ERR_TIMEOUT);
    CHECK(t, hang.at_us - start >= 900000 && hang.at_us - start < 2500000);
    CHECK(t, fast.calls == 1 && fast.result == CLIENT_OK && body_is_sample(t, &fast));
    CHECK(t, fast.at_us - start < 500000);
    CHECK(t, hb.max_gap_us < 200000);
    CHECK(t, hb.ticks >= 15);
    got_cleanup(&hang);
    got_cleanup(&fast);
}

static void test_slow(struct itest *t)
{
    struct client_request req;
    char url[256];
    struct got g;
    int64_t start = mcx_now_us();

    get(t, "/_slow" SAMPLE, &req, url, sizeof(url));
    req.timeout_ms = 20000;
    req.low_speed_bytes_per_s = 100;
    req.low_speed_window_s = 2;
    got_init(&g);
    run(t, &req, &g, 10000);
    note_got("slow", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_TIMEOUT);
    /* The low-speed window, not the 20 s timeout, ended it. */
    CHECK(t, g.at_us - start >= 1500000 && g.at_us - start < 6000000);
    got_cleanup(&g);
}

static void test_big(struct itest *t)
{
    struct client_request req;
    char url[256];
    struct got g;
    int64_t start;
    long rss_before, limit_kb;
    bool has_peak;

    /* Content-Length announces 200 MiB: refused before any body arrives. */
    get(t, "/_big/200", &req, url, sizeof(url));
    req.max_body = 8 * MIB;
    got_init(&g);
    start = mcx_now_us();
    run(t, &req, &g, 10000);
    note_got("big, Content-Length", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_TOO_LARGE);
    CHECK(t, strstr(g.error, "announces") != NULL);
    CHECK(t, g.at_us - start < 2000000);
    got_cleanup(&g);

    /* Chunked, so the limit must stop it while streaming; memory stays bounded. */
    get(t, "/_big/200?chunked", &req, url, sizeof(url));
    req.max_body = 8 * MIB;
    req.timeout_ms = 60000;
    got_init(&g);
    has_peak = peak_reset();
    rss_before = status_kb("VmRSS");
    run(t, &req, &g, 60000);
    note_got("big, chunked", &g);
    limit_kb = (long)((8 * MIB + 32 * MIB) / 1024);
    fprintf(stderr, "  big, chunked: VmRSS %ld kB before, %ld kB in the callback, peak %ld kB%s\n",
            rss_before, g.rss_kb, status_kb("VmHWM"), has_peak ? "" : " (peak not reset)");
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_TOO_LARGE);
    CHECK(t, strstr(g.error, "larger than the limit") != NULL);
    CHECK(t, rss_before > 0 && g.rss_kb > 0 && g.rss_kb - rss_before < limit_kb);
    if (has_peak)
        CHECK(t, status_kb("VmHWM") - rss_before < limit_kb);
    got_cleanup(&g);

    /* gzip: a small download that decodes past max_body (the limit is on decoded bytes). */
    get(t, "/_big/200?gzip", &req, url, sizeof(url));
    req.max_body = 8 * MIB;
    req.timeout_ms = 60000;
    got_init(&g);
    run(t, &req, &g, 60000);
    note_got("big, gzip", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_TOO_LARGE);
    got_cleanup(&g);

    /* Just under the limit is fine. */
    get(t, "/_big/8?chunked", &req, url, sizeof(url));
    req.max_body = 8 * MIB;
    got_init(&g);
    run(t, &req, &g, 30000);
    CHECK(t, g.result == CLIENT_OK && g.body.len == 8 * MIB);
    CHECK(t, g.body.len > 20 && strncmp(g.body.data + g.body.len - 8, "</feed>\n", 8) == 0);
    got_cleanup(&g);
}

static void test_redirects(struct itest *t)
{
    struct client_request req;
    char url[256], target[512];
    struct got g;

    get(t, "/_redirect/3" SAMPLE, &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && body_is_sample(t, &g));
    CHECK(t, strstr(g.effective_url, "/_redirect/0" SAMPLE) != NULL);
    CHECK(t, g.location[0] == '\0'); /* headers of the final response only */
    got_cleanup(&g);

    get(t, "/_redirect/4" SAMPLE, &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    note_got("4 redirects, limit 3", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_REDIRECTS);
    got_cleanup(&g);

    /* max_redirects 0: the 302 itself is the answer. */
    get(t, "/_redirect/1" SAMPLE, &req, url, sizeof(url));
    req.max_redirects = 0;
    got_init(&g);
    run(t, &req, &g, 5000);
    CHECK(t, g.result == CLIENT_OK && g.status == 302);
    CHECK(t, strcmp(g.location, "/_redirect/0" SAMPLE) == 0);
    got_cleanup(&g);

    /* Redirects only to http/https. */
    const char *targets[] = {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"};
    for (size_t i = 0; i < MCX_ARRAY_LEN(targets); i++) {
        snprintf(target, sizeof(target), "/_goto?url=%s", targets[i]);
        get(t, target, &req, url, sizeof(url));
        got_init(&g);
        run(t, &req, &g, 5000);
        note_got(targets[i], &g);
        CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_REDIRECTS);
        CHECK(t, g.body.len == 0);
        got_cleanup(&g);
    }
}

static int closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static void test_connect_and_tls(struct itest *t)
{
    struct client_request req;
    char url[256], path[200];
    struct got g;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", closed_port());
    client_request_init(&req, url);
    got_init(&g);
    run(t, &req, &g, 5000);
    note_got("refused", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_CONNECT && g.status == 0);
    CHECK(t, strstr(g.error, "connection failed") != NULL);
    got_cleanup(&g);

    /* https to the plain-HTTP port */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", t->plain.port, SAMPLE);
    client_request_init(&req, url);
    got_init(&g);
    run(t, &req, &g, 5000);
    note_got("https to http", &g);
    CHECK(t, g.calls == 1 && (g.result == CLIENT_ERR_TLS || g.result == CLIENT_ERR_CONNECT));
    CHECK(t, strstr(g.error, "TLS") != NULL || strstr(g.error, "connection") != NULL);
    got_cleanup(&g);

    /* A self-signed certificate: refused by default, accepted only with insecure_tls. */
    url_of(&t->tls, SAMPLE, url, sizeof(url));
    client_request_init(&req, url);
    got_init(&g);
    run(t, &req, &g, 10000);
    note_got("self-signed", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_TLS && g.body.len == 0);
    got_cleanup(&g);

    req.insecure_tls = true;
    got_init(&g);
    run(t, &req, &g, 10000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && body_is_sample(t, &g));
    got_cleanup(&g);

    /* https may redirect to https, never down to plain http. */
    url_of(&t->tls, "/_redirect/1" SAMPLE, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 10000);
    CHECK(t, g.result == CLIENT_OK && g.status == 200 && body_is_sample(t, &g));
    got_cleanup(&g);

    snprintf(path, sizeof(path), "/_goto?url=http://127.0.0.1:%d%s", t->plain.port, SAMPLE);
    url_of(&t->tls, path, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 10000);
    note_got("https to http redirect", &g);
    CHECK(t, g.calls == 1 && g.result == CLIENT_ERR_REDIRECTS && g.body.len == 0);
    got_cleanup(&g);
}

/* Bad requests fail on a later turn with CLIENT_ERR_OTHER, never inside client_fetch. */
static void test_invalid(struct itest *t)
{
    struct client_header crlf = {"X-Evil", "a\r\nInjected: yes"};
    struct client_header badname = {"Bad Name", "x"};
    struct client_request reqs[7];
    struct got g[7];
    struct got_set set = {g, 7};
    char url[256];

    url_of(&t->plain, SAMPLE, url, sizeof(url));
    for (int i = 0; i < 7; i++) {
        client_request_init(&reqs[i], url);
        got_init(&g[i]);
    }
    reqs[0].url = "ftp://127.0.0.1/x";
    reqs[1].url = "http://127.0.0.1/a b";
    reqs[2].headers = &crlf;
    reqs[2].nheaders = 1;
    reqs[3].headers = &badname;
    reqs[3].nheaders = 1;
    reqs[4].method = "G T";
    reqs[5].body = "x";
    reqs[5].body_len = 1; /* a GET with a body */
    reqs[6].url = NULL;
    for (int i = 0; i < 7; i++)
        fetch_start(t, &reqs[i], &g[i]);
    CHECK(t, loop_until(t, pred_all_called, &set, 2000));
    for (int i = 0; i < 7; i++) {
        CHECK(t, g[i].calls == 1 && g[i].result == CLIENT_ERR_OTHER && g[i].error[0] != '\0');
        got_cleanup(&g[i]);
    }
    fprintf(stderr, "  invalid: \"%s\"\n", g[2].error);
    CHECK(t, client_count_transfers(t->client) == 0);

    /* A NULL request is reported the same way. */
    got_init(&g[0]);
    fetch_start(t, NULL, &g[0]);
    CHECK(t, loop_until(t, pred_called, &g[0], 2000));
    CHECK(t, g[0].result == CLIENT_ERR_OTHER);
    got_cleanup(&g[0]);
}

static void test_cancel(struct itest *t)
{
    struct client_request hang_req, fast_req, bad_req;
    char hang_url[256], fast_url[256];
    struct got g[6];
    struct client_req *r[6];

    get(t, "/_hang" SAMPLE, &hang_req, hang_url, sizeof(hang_url));
    hang_req.timeout_ms = 1000;
    get(t, SAMPLE, &fast_req, fast_url, sizeof(fast_url));
    client_request_init(&bad_req, "ftp://nowhere/");
    for (int i = 0; i < 6; i++)
        got_init(&g[i]);

    r[0] = fetch_start(t, &fast_req, &g[0]); /* cancelled in the same turn */
    r[1] = fetch_start(t, &hang_req, &g[1]); /* cancelled while hanging */
    r[2] = fetch_start(t, &bad_req, &g[2]);  /* cancelled before its error is delivered */
    r[3] = fetch_start(t, &hang_req, &g[3]); /* cancelled from g[4]'s callback */
    r[4] = fetch_start(t, &fast_req, &g[4]);
    r[5] = fetch_start(t, &fast_req, &g[5]); /* cancels itself in its callback: a no-op */
    g[4].cancel = r[3];
    g[5].is_cancelling_self = true;
    client_cancel(r[0]);
    client_cancel(r[2]);
    client_cancel(NULL);
    loop_for(t, 200);
    client_cancel(r[1]);
    loop_for(t, 1500); /* past the hang timeout */
    CHECK(t, g[0].calls == 0 && g[1].calls == 0 && g[2].calls == 0 && g[3].calls == 0);
    CHECK(t, g[4].calls == 1 && g[4].result == CLIENT_OK);
    CHECK(t, g[5].calls == 1 && g[5].result == CLIENT_OK);
    CHECK(t, client_count_transfers(t->client) == 0);
    for (int i = 0; i < 6; i++)
        got_cleanup(&g[i]);
}

static long stats_count(struct itest *t, const char *path)
{
    struct client_request req;
    char url[256];
    struct got g;
    struct mcx_error err;
    struct json_value *doc;
    const struct json_value *v;
    double n = -1;

    get(t, "/_stats", &req, url, sizeof(url));
    got_init(&g);
    run(t, &req, &g, 5000);
    doc = g.result == CLIENT_OK ? json_parse(g.body.data, g.body.len, 0, &err) : NULL;
    v = doc != NULL ? json_object_get(doc, path) : NULL;
    if (v == NULL || json_number_double(v, &n) != 0)
        n = 0;
    json_value_free(doc);
    got_cleanup(&g);
    return (long)n;
}

static void test_many(struct itest *t)
{
    enum { N = 50 };
    struct client_request req;
    struct got g[N];
    struct got_set set = {g, N};
    char url[256];
    long before = stats_count(t, SAMPLE_SMALL);
    int64_t start;
    int ok = 0;
    get(t, SAMPLE_SMALL, &req, url, sizeof(url));
    start = mcx_now_us();
    for (int i = 0; i < N; i++) {
        got_init(&g[i]);
        fetch_start(t, &req, &g[i]);
    }
    CHECK(t, client_count_transfers(t->client) == N);
    CHECK(t, loop_until(t, pred_all_called, &set, 20000));
    for (int i = 0; i < N; i++) {
        ok += g[i].calls == 1 && g[i].result == CLIENT_OK && g[i].status == 200 &&
              g[i].body.len == 2500;
        got_cleanup(&g[i]);
    }
    fprintf(stderr, "  %d concurrent: %d ok in %lld ms\n", N, ok, (long long)ms_since(start));
    CHECK(t, ok == N);
    CHECK(t, stats_count(t, SAMPLE_SMALL) - before == N);
    CHECK(t, client_count_transfers(t->client) == 0);
}

/* client_free with transfers in every state: no callbacks afterwards, nothing leaked. */
static void test_free_in_flight(struct itest *t)
{
    struct http_client *c = client_new(t->base);
    struct client_request hang_req, fast_req, bad_req;
    char hang_url[256], fast_url[256];
    struct got g[7];
    int calls_at_free = 0, calls_after = 0;

    get(t, "/_hang" SAMPLE, &hang_req, hang_url, sizeof(hang_url));
    hang_req.timeout_ms = 1000;
    get(t, "/_big/100?chunked", &fast_req, fast_url, sizeof(fast_url));
    client_request_init(&bad_req, "ftp://nowhere/");
    for (int i = 0; i < 7; i++)
        got_init(&g[i]);
    for (int i = 0; i < 3; i++)
        fetch_start_on(t, c, &hang_req, &g[i]);
    for (int i = 3; i < 6; i++)
        fetch_start_on(t, c, &fast_req, &g[i]); /* mid-body when freed */
    fetch_start_on(t, c, &bad_req, &g[6]);      /* its error not yet delivered */
    loop_for(t, 100);
    for (int i = 0; i < 7; i++)
        calls_at_free += g[i].calls;
    client_free(c);
    loop_for(t, 1500);
    for (int i = 0; i < 7; i++) {
        calls_after += g[i].calls;
        got_cleanup(&g[i]);
    }
    CHECK(t, calls_at_free == 1); /* only the bad request's error, on the first turn */
    CHECK(t, calls_after == calls_at_free);
    client_free(NULL);
}

/* client_free from inside one of its own callbacks. */
static void test_free_in_callback(struct itest *t)
{
    struct http_client *c = client_new(t->base);
    struct client_request hang_req, fast_req;
    char hang_url[256], fast_url[256];
    struct got g[4];

    get(t, "/_hang" SAMPLE, &hang_req, hang_url, sizeof(hang_url));
    hang_req.timeout_ms = 1000;
    get(t, SAMPLE, &fast_req, fast_url, sizeof(fast_url));
    for (int i = 0; i < 4; i++)
        got_init(&g[i]);
    fetch_start_on(t, c, &fast_req, &g[0]);
    fetch_start_on(t, c, &hang_req, &g[1]);
    fetch_start_on(t, c, &hang_req, &g[2]);
    fetch_start_on(t, c, &fast_req, &g[3]);
    g[0].to_free = c;
    g[3].to_free = c;
    loop_for(t, 2000);
    CHECK(t, g[0].calls + g[3].calls == 1); /* whichever came first freed the client */
    CHECK(t, g[0].is_refetch_null || g[3].is_refetch_null);
    CHECK(t, g[1].calls == 0 && g[2].calls == 0);
    for (int i = 0; i < 4; i++)
        got_cleanup(&g[i]);

    /* The same from the delivery of errors for requests that never started. */
    struct client_request bad_req;
    c = client_new(t->base);
    client_request_init(&bad_req, "ftp://nowhere/");
    for (int i = 0; i < 4; i++)
        got_init(&g[i]);
    fetch_start_on(t, c, &bad_req, &g[0]);
    fetch_start_on(t, c, &bad_req, &g[1]);
    fetch_start_on(t, c, &hang_req, &g[2]);
    g[0].to_free = c;
    g[1].to_free = c;
    loop_for(t, 1500);
    CHECK(t, g[0].calls == 1 && g[0].is_refetch_null && g[1].calls == 0 && g[2].calls == 0);
    for (int i = 0; i < 4; i++)
        got_cleanup(&g[i]);
}

int main(void)
{
    struct itest t = {0};
    const char *shared = getenv("MCX_SHARED_DIR");
    char sample_path[1200];

    signal(SIGPIPE, SIG_IGN);
    snprintf(t.root, sizeof(t.root), "%s/samples",
             shared != NULL ? shared : MCX_SOURCE_DIR "/../shared");
    snprintf(sample_path, sizeof(sample_path), "%s%s", t.root, SAMPLE);
    buf_init(&t.sample);
    if (file_read(sample_path, &t.sample) != 0) {
        fprintf(stderr, "itest_client: cannot read %s\n", sample_path);
        return 1;
    }
    /* 0 also means curl resolves asynchronously (CURL_VERSION_ASYNCHDNS). */
    if (client_global_init() != 0) {
        fprintf(stderr, "itest_client: client_global_init failed (no AsynchDNS or TLS?)\n");
        return 1;
    }
    if (feed_start(&t, &t.plain, false) != 0 || feed_start(&t, &t.tls, true) != 0) {
        fprintf(stderr, "itest_client: could not start tests/feedserver.py\n");
        feed_stop(&t.plain);
        feed_stop(&t.tls);
        return 1;
    }
    fprintf(stderr, "feed server on port %d, TLS on port %d\n", t.plain.port, t.tls.port);
    t.base = event_base_new();
    t.client = client_new(t.base);

    test_file_and_validators(&t);
    test_statuses(&t);
    test_methods(&t);
    test_hang(&t);
    test_slow(&t);
    test_big(&t);
    test_redirects(&t);
    test_connect_and_tls(&t);
    test_invalid(&t);
    test_cancel(&t);
    test_many(&t);
    test_free_in_flight(&t);
    test_free_in_callback(&t);

    client_free(t.client);
    event_base_free(t.base);
    feed_stop(&t.plain);
    feed_stop(&t.tls);
    client_global_cleanup();
    buf_cleanup(&t.sample);
    fprintf(stderr, "itest_client: %d checks, %d failed\n", t.checks, t.failures);
    return t.failures == 0 ? 0 : 1;
}
