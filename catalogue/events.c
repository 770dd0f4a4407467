/*
 * events.c — exposure rows, buffered per worker and written in batches.
 *
 * A request only appends a row to an in-memory ring (no I/O on the hot path).
 * One flush at a time takes the oldest rows out of the ring and sends them as a
 * single INSERT … SELECT FROM unnest(arrays): on success they are gone, on
 * failure they go back to the front of the ring and wait for the next interval.
 * A flush starts when the oldest waiting row is one interval old, or at once when
 * EVENTS_BATCH_ROWS wait (but not while the database is failing: then only the
 * timer retries, so an outage costs one attempt per interval, not one per request).
 *
 * Limits: EVENTS_MAX_WAITING rows and EVENTS_MAX_BYTES, in flight included;
 * beyond them the oldest waiting rows are dropped and counted. A row the database
 * refuses as data (SQLSTATE class 22 or 23) would block every later flush, so its
 * batch is dropped and counted instead of retried.
 *
 * A connection that breaks after the server committed a batch but before the
 * reply arrived makes the batch be written twice; counts of distinct visitors
 * are unaffected, and the case is rare enough not to pay for a unique key.
 */
#include "catalogue/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "catalogue/search.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/metrics.h"

enum event_kind { KIND_SEARCH, KIND_IMPRESSION, KIND_VIEW };

static const char *const kind_names[] = {"search", "impression", "view"};

struct event_row {
    int64_t at_us; /* wall clock, µs since the epoch: when it happened */
    enum event_kind kind;
    char visitor[EVENTS_VISITOR_SIZE]; /* "" = none */
    char offer[37];                    /* "" = none */
    char *institution;                 /* NULL = none */
    char *detail;                      /* JSON text, NULL = none */
};

/* The waiting rows, oldest first. */
struct ring {
    struct event_row *rows;
    size_t cap, head, n;
};

struct events {
    struct event_base *base;
    struct db_pool *pool;
    struct metrics *metrics;
    char *node;
    int worker;
    int flush_ms;
    bool secure_cookie;
    struct ring ring;
    struct event_row *batch; /* the rows of the flush in flight */
    size_t nbatch;
    struct db_op *op; /* the flush in flight, or NULL */
    size_t bytes;     /* memory held by the rows of ring and batch */
    struct event *timer;
    struct event *deadline; /* drain's limit */
    bool is_failing;        /* the last flush failed: retry on the timer only */
    bool is_dropping;       /* rows were dropped since the last good flush (logged once) */
    bool draining;
    void (*drain_done)(void *arg);
    void *drain_arg;
    uint64_t flushed, dropped, flushes;
};

static const char insert_sql[] =
    "INSERT INTO events (at, kind, visitor, offer_id, institution_id, detail, node) "
    "SELECT u.at, u.kind, u.visitor, u.offer_id, u.institution_id, u.detail, $7 "
    "FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::uuid[], $5::text[], "
    "$6::jsonb[]) AS u(at, kind, visitor, offer_id, institution_id, detail)";

static int64_t wall_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- rows and the ring ---- */

static size_t row_bytes(const struct event_row *row)
{
    return sizeof(*row) + (row->institution ? strlen(row->institution) + 1 : 0) +
           (row->detail ? strlen(row->detail) + 1 : 0);
}

static void row_cleanup(struct event_row *row)
{
    free(row->institution);
    free(row->detail);
}

static struct event_row *ring_at(struct ring *r, size_t i)
{
    return &r->rows[(r->head + i) % r->cap];
}

static void ring_grow(struct ring *r)
{
    size_t cap = r->cap > 0 ? r->cap * 2 : 256;
    struct event_row *rows = xmalloc(cap * sizeof(*rows));

    for (size_t i = 0; i < r->n; i++)
        rows[i] = *ring_at(r, i);
    free(r->rows);
    r->rows = rows;
    r->cap = cap;
    r->head = 0;
}

static void ring_push_back(struct ring *r, const struct event_row *row)
{
    if (r->n == r->cap)
        ring_grow(r);
    r->rows[(r->head + r->n) % r->cap] = *row;
    r->n++;
}

static void ring_push_front(struct ring *r, const struct event_row *row)
{
    if (r->n == r->cap)
        ring_grow(r);
    r->head = (r->head + r->cap - 1) % r->cap;
    r->rows[r->head] = *row;
    r->n++;
}

static struct event_row ring_pop_front(struct ring *r)
{
    struct event_row row = r->rows[r->head];

    r->head = (r->head + 1) % r->cap;
    r->n--;
    return row;
}

/* An outage can grow the ring to EVENTS_MAX_WAITING rows; give that back after. */
static void ring_shrink_if_empty(struct ring *r)
{
    if (r->n == 0 && r->cap > 4096) {
        free(r->rows);
        r->rows = NULL;
        r->cap = r->head = 0;
    }
}

static void drop_oldest(struct events *ev)
{
    struct event_row row = ring_pop_front(&ev->ring);

    ev->bytes -= row_bytes(&row);
    row_cleanup(&row);
    ev->dropped++;
    if (!ev->is_dropping && !ev->draining)
        json_log("warn", ev->worker,
                 "exposure events: more than %d rows (or %d MiB) wait for the database; "
                 "dropping the oldest",
                 EVENTS_MAX_WAITING, EVENTS_MAX_BYTES >> 20);
    ev->is_dropping = true;
}

static void enforce_limits(struct events *ev)
{
    while (ev->ring.n > 0 &&
           (ev->ring.n + ev->nbatch > EVENTS_MAX_WAITING || ev->bytes > EVENTS_MAX_BYTES))
        drop_oldest(ev);
}

static void batch_free(struct events *ev)
{
    for (size_t i = 0; i < ev->nbatch; i++) {
        ev->bytes -= row_bytes(&ev->batch[i]);
        row_cleanup(&ev->batch[i]);
    }
    free(ev->batch);
    ev->batch = NULL;
    ev->nbatch = 0;
}

/* A failed flush: its rows are again the oldest waiting ones. */
static void batch_requeue(struct events *ev)
{
    for (size_t i = ev->nbatch; i > 0; i--)
        ring_push_front(&ev->ring, &ev->batch[i - 1]);
    free(ev->batch);
    ev->batch = NULL;
    ev->nbatch = 0;
    enforce_limits(ev);
}

/* ---- the flush ---- */

static void flush_start(struct events *ev);
static void drain_finish(struct events *ev);

static void arm(struct events *ev, int64_t delay_ms)
{
    struct timeval tv;

    if (delay_ms < 0)
        delay_ms = 0;
    tv.tv_sec = (time_t)(delay_ms / 1000);
    tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
    evtimer_add(ev->timer, &tv);
}

/*
 * What happens next; called whenever rows arrive, a flush ends or the timer
 * fires. A row waits at most one interval from when it happened, unless a flush
 * is in flight or the database is failing (then one interval between attempts).
 */
static void step(struct events *ev, bool timer_fired)
{
    if (ev->op != NULL)
        return; /* its end steps again */
    if (ev->draining) {
        if (ev->ring.n == 0 || ev->is_failing)
            drain_finish(ev);
        else
            flush_start(ev);
        return;
    }
    if (ev->ring.n == 0)
        return;
    if (timer_fired || (ev->ring.n >= EVENTS_BATCH_ROWS && !ev->is_failing)) {
        flush_start(ev);
        return;
    }
    if (evtimer_pending(ev->timer, NULL))
        return;
    if (ev->is_failing) {
        arm(ev, ev->flush_ms);
    } else {
        int64_t age_ms = (wall_now_us() - ring_at(&ev->ring, 0)->at_us) / 1000;
        /* a clock step must not hold rows longer than an interval */
        arm(ev, age_ms < 0 || age_ms > ev->flush_ms ? 0 : ev->flush_ms - age_ms);
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg, true);
}

static bool refused_as_data(const struct db_error *err)
{
    return err->kind == DB_ERR_QUERY &&
           (strncmp(err->sqlstate, "22", 2) == 0 || strncmp(err->sqlstate, "23", 2) == 0);
}

static void flushed(struct db_result *res, const struct db_error *err, void *arg)
{
    struct events *ev = arg;
    size_t n = ev->nbatch;

    (void)res;
    ev->op = NULL;
    if (err == NULL) {
        ev->flushed += n;
        ev->flushes++;
        batch_free(ev);
        if (ev->is_failing)
            json_log("info", ev->worker, "exposure events are written again (%zu waiting)",
                     ev->ring.n);
        ev->is_failing = false;
        ev->is_dropping = false;
        ring_shrink_if_empty(&ev->ring);
    } else if (refused_as_data(err)) {
        json_log("error", ev->worker, "exposure events: the database refused %zu rows, dropped: %s",
                 n, err->message);
        ev->dropped += n;
        batch_free(ev);
    } else {
        if (!ev->is_failing)
            json_log("warn", ev->worker,
                     "exposure events not written (%zu waiting), retrying every %d ms: %s",
                     ev->ring.n + n, ev->flush_ms, err->message);
        ev->is_failing = true;
        batch_requeue(ev);
    }
    step(ev, false);
}

static void format_at(int64_t us, char *out, size_t size)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

void events_array_append(struct buf *b, const char *v)
{
    buf_putc(b, b->len == 0 ? '{' : ',');
    if (v == NULL) {
        buf_puts(b, "NULL");
        return;
    }
    /* array_in: inside double quotes only '"' and '\' need a backslash */
    buf_putc(b, '"');
    for (; *v != '\0'; v++) {
        if (*v == '"' || *v == '\\')
            buf_putc(b, '\\');
        buf_putc(b, *v);
    }
    buf_putc(b, '"');
}

static void flush_start(struct events *ev)
{
    size_t n = ev->ring.n < EVENTS_STATEMENT_ROWS ? ev->ring.n : EVENTS_STATEMENT_ROWS;
    struct buf a[6];
    const char *params[7];
    char at[64];

    evtimer_del(ev->timer);
    ev->batch = xmalloc(n * sizeof(*ev->batch));
    ev->nbatch = n;
    for (size_t i = 0; i < MCX_ARRAY_LEN(a); i++)
        buf_init(&a[i]);
    for (size_t i = 0; i < n; i++) {
        struct event_row *row = &ev->batch[i];
        *row = ring_pop_front(&ev->ring);
        format_at(row->at_us, at, sizeof(at));
        events_array_append(&a[0], at);
        events_array_append(&a[1], kind_names[row->kind]);
        events_array_append(&a[2], row->visitor[0] ? row->visitor : NULL);
        events_array_append(&a[3], row->offer[0] ? row->offer : NULL);
        events_array_append(&a[4], row->institution);
        events_array_append(&a[5], row->detail);
    }
    for (size_t i = 0; i < MCX_ARRAY_LEN(a); i++) {
        buf_putc(&a[i], '}');
        params[i] = a[i].data;
    }
    params[6] = ev->node;
    ev->op = db_query(ev->pool, insert_sql, 7, params, flushed, ev);
    for (size_t i = 0; i < MCX_ARRAY_LEN(a); i++)
        buf_cleanup(&a[i]);
}

static void add(struct events *ev, struct event_row *row)
{
    ev->bytes += row_bytes(row);
    ring_push_back(&ev->ring, row);
    enforce_limits(ev);
    step(ev, false);
}

static void row_init(struct event_row *row, enum event_kind kind, const char *visitor,
                     int64_t at_us)
{
    memset(row, 0, sizeof(*row));
    row->at_us = at_us;
    row->kind = kind;
    if (visitor != NULL)
        mcx_strlcpy(row->visitor, visitor, sizeof(row->visitor));
}

/* ---- drain ---- */

static void drain_finish(struct events *ev)
{
    void (*done)(void *) = ev->drain_done;
    size_t lost = ev->ring.n;

    while (ev->ring.n > 0)
        drop_oldest(ev);
    if (lost > 0)
        json_log("warn", ev->worker, "exposure events: %zu rows could not be written before exit",
                 lost);
    evtimer_del(ev->timer);
    evtimer_del(ev->deadline);
    ev->drain_done = NULL;
    if (done != NULL)
        done(ev->drain_arg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct events *ev = arg;

    (void)fd;
    (void)what;
    if (ev->op != NULL) {
        db_op_cancel(ev->op);
        ev->op = NULL;
        batch_requeue(ev);
    }
    drain_finish(ev);
}

void events_drain(struct events *ev, void (*done)(void *arg), void *arg)
{
    struct timeval limit = {EVENTS_DRAIN_TIMEOUT_MS / 1000,
                            (EVENTS_DRAIN_TIMEOUT_MS % 1000) * 1000};

    ev->draining = true;
    ev->is_failing = false; /* one last attempt, even during an outage */
    ev->drain_done = done;
    ev->drain_arg = arg;
    evtimer_add(ev->deadline, &limit);
    arm(ev, 0); /* the timer steps: done() never runs inside this call */
}

/* ---- lifecycle and metrics ---- */

static int metrics_source(void *arg, struct metrics_gauge *g, int max)
{
    struct events *ev = arg;

    if (max < 3)
        return 0;
    g[0] = (struct metrics_gauge){"mcx_events_buffered",
                                  "Exposure events waiting to be written (in flight included).",
                                  "gauge",
                                  NULL,
                                  NULL,
                                  (double)(ev->ring.n + ev->nbatch)};
    g[1] = (struct metrics_gauge){"mcx_events_flushed_total",
                                  "Exposure events written to the database.",
                                  "counter",
                                  NULL,
                                  NULL,
                                  (double)ev->flushed};
    g[2] = (struct metrics_gauge){"mcx_events_dropped_total",
                                  "Exposure events lost: over the buffer limits, refused by the "
                                  "database, or unwritten at exit.",
                                  "counter",
                                  NULL,
                                  NULL,
                                  (double)ev->dropped};
    return 3;
}

struct events *events_new(struct event_base *base, struct db_pool *pool, struct metrics *metrics,
                          const struct events_config *cfg)
{
    struct events *ev = xcalloc(1, sizeof(*ev));

    ev->base = base;
    ev->pool = pool;
    ev->metrics = metrics;
    ev->node = xstrdup(cfg->node);
    ev->worker = cfg->worker;
    ev->flush_ms = cfg->flush_ms > 0 ? cfg->flush_ms : 1000;
    ev->secure_cookie = cfg->secure_cookie;
    ev->timer = evtimer_new(base, timer_cb, ev);
    ev->deadline = evtimer_new(base, deadline_cb, ev);
    if (ev->timer == NULL || ev->deadline == NULL)
        abort(); /* out of memory */
    if (metrics != NULL)
        metrics_source_add(metrics, metrics_source, ev);
    return ev;
}

void events_free(struct events *ev)
{
    if (ev == NULL)
        return;
    if (ev->metrics != NULL)
        metrics_source_remove(ev->metrics, ev);
    db_op_cancel(ev->op);
    ev->op = NULL;
    batch_requeue(ev);
    ev->draining = true; /* no log line per row */
    while (ev->ring.n > 0)
        drop_oldest(ev);
    free(ev->ring.rows);
    event_free(ev->timer);
    event_free(ev->deadline);
    free(ev->node);
    free(ev);
}

void events_get_stats(const struct events *ev, struct events_stats *out)
{
    out->waiting = ev->ring.n + ev->nbatch;
    out->flushed = ev->flushed;
    out->dropped = ev->dropped;
    out->flushes = ev->flushes;
}

/* ---- the visitor ---- */

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

bool events_cookie_visitor(const char *h, char out[EVENTS_VISITOR_SIZE])
{
    const size_t name_len = sizeof(EVENTS_COOKIE) - 1;
    const char *p = h;

    out[0] = '\0';
    if (h == NULL)
        return false;
    while (*p != '\0') {
        const char *end = p + strcspn(p, ";");
        const char *eq = memchr(p, '=', (size_t)(end - p));
        while (p < end && is_blank(*p))
            p++;
        if (eq != NULL) {
            const char *name_end = eq, *v = eq + 1, *v_end = end;
            while (name_end > p && is_blank(name_end[-1]))
                name_end--;
            while (v < v_end && is_blank(*v))
                v++;
            while (v_end > v && is_blank(v_end[-1]))
                v_end--;
            if ((size_t)(name_end - p) == name_len && memcmp(p, EVENTS_COOKIE, name_len) == 0 &&
                v_end - v == EVENTS_VISITOR_SIZE - 1 && is_lower_hex(v, EVENTS_VISITOR_SIZE - 1)) {
                memcpy(out, v, EVENTS_VISITOR_SIZE - 1);
                out[EVENTS_VISITOR_SIZE - 1] = '\0';
                return true;
            }
        }
        p = *end == ';' ? end + 1 : end;
    }
    return false;
}

static bool is_one(const char *v)
{
    if (v == NULL)
        return false;
    while (is_blank(*v))
        v++;
    if (*v++ != '1')
        return false;
    while (is_blank(*v))
        v++;
    return *v == '\0';
}

bool events_opted_out(const char *dnt, const char *gpc)
{
    return is_one(dnt) || is_one(gpc);
}

bool events_visitor(struct events *ev, struct http_request *req, char out[EVENTS_VISITOR_SIZE])
{
    char cookie[160];
    const char *h;

    out[0] = '\0';
    if (ev == NULL ||
        events_opted_out(http_request_header(req, "DNT"), http_request_header(req, "Sec-GPC")))
        return false;
    /* RFC 6265 §5.4 says one Cookie field, but HTTP/2 gateways may split it */
    for (size_t i = 0; (h = http_request_header_nth(req, "Cookie", i)) != NULL; i++)
        if (events_cookie_visitor(h, out))
            return false;
    mcx_random_hex(out);
    snprintf(cookie, sizeof(cookie), "%s=%s; Max-Age=%d; Path=/; HttpOnly; SameSite=Lax%s",
             EVENTS_COOKIE, out, EVENTS_COOKIE_MAX_AGE, ev->secure_cookie ? "; Secure" : "");
    http_response_header(req, "Set-Cookie", cookie);
    return true;
}

/* ---- recording ---- */

/* A checked array literal of search.c ("{en,de}": no quotes or escapes) as JSON. */
static void json_literal_array(struct json_writer *w, const char *key, const char *lit,
                               bool numbers)
{
    const char *p;

    if (lit == NULL || lit[0] != '{')
        return;
    json_key(w, key);
    json_array_begin(w);
    for (p = lit + 1; *p != '\0' && *p != '}';) {
        size_t n = strcspn(p, ",}");
        if (numbers)
            json_int(w, strtol(p, NULL, 10));
        else
            json_string_len(w, p, n);
        p += n;
        if (*p == ',')
            p++;
    }
    json_array_end(w);
}

/* A checked decimal ("7.5", ".5") as a JSON number. */
static void json_decimal(struct json_writer *w, const char *key, const char *v)
{
    char num[32];

    if (v == NULL)
        return;
    snprintf(num, sizeof(num), "%.10g", strtod(v, NULL));
    json_key(w, key);
    json_raw(w, num, strlen(num));
}

static char *search_detail(const struct search_params *p, const char *total)
{
    static const char *const sorts[] = {"relevance", "start", "ects", "title"};
    struct json_writer w;
    struct buf b;

    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    if (p->q != NULL)
        json_kv_string(&w, "q", p->q);
    json_literal_array(&w, "language", p->language, false);
    json_literal_array(&w, "isced", p->isced, false);
    json_literal_array(&w, "eqf", p->eqf, true);
    json_literal_array(&w, "mode", p->mode, false);
    json_literal_array(&w, "institution", p->institution, false);
    json_decimal(&w, "ects_min", p->ects_min);
    json_decimal(&w, "ects_max", p->ects_max);
    if (p->starts_after[0] != '\0')
        json_kv_string(&w, "starts_after", p->starts_after);
    if (p->starts_before[0] != '\0')
        json_kv_string(&w, "starts_before", p->starts_before);
    if ((size_t)p->sort < MCX_ARRAY_LEN(sorts))
        json_kv_string(&w, "sort", sorts[p->sort]);
    if (p->lang[0] != '\0')
        json_kv_string(&w, "lang", p->lang);
    json_kv_int(&w, "limit", p->limit);
    if (p->cursor != NULL)
        json_kv_bool(&w, "cursor", true); /* a later page of the same search */
    if (total != NULL && total[0] != '\0' && strspn(total, "0123456789") == strlen(total))
        json_kv_int(&w, "total", strtoll(total, NULL, 10));
    json_object_end(&w);
    return buf_steal(&b, NULL);
}

static bool is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_lower_hex(s + i, 1))
            return false;
    }
    return true;
}

/* A HEAD request is a client checking a link, not a person shown the catalogue. */
static bool counts(const struct events *ev, const struct http_request *req)
{
    return ev != NULL && (req == NULL || http_request_method(req) != HTTP_HEAD);
}

void events_search(struct events *ev, const struct http_request *req, const char *visitor,
                   const struct search_params *p, const char *total, const char *shown)
{
    int64_t at = wall_now_us();
    struct event_row row;

    if (!counts(ev, req))
        return;
    row_init(&row, KIND_SEARCH, visitor, at);
    row.detail = search_detail(p, total);
    add(ev, &row);
    for (const char *s = shown; s != NULL && *s != '\0';) {
        size_t len = strcspn(s, "\n");
        if (len > 36 && len - 36 < 256 && is_uuid(s)) {
            row_init(&row, KIND_IMPRESSION, visitor, at);
            memcpy(row.offer, s, 36);
            row.offer[36] = '\0';
            row.institution = xstrndup(s + 36, len - 36);
            add(ev, &row);
        }
        s += len;
        if (*s == '\n')
            s++;
    }
}

void events_view(struct events *ev, const struct http_request *req, const char *visitor,
                 const char *offer_id, const char *institution_id, const char *format)
{
    struct event_row row;
    struct buf b;

    if (!counts(ev, req) || offer_id == NULL || strlen(offer_id) != 36 || !is_uuid(offer_id))
        return;
    row_init(&row, KIND_VIEW, visitor, wall_now_us());
    memcpy(row.offer, offer_id, sizeof(row.offer));
    if (institution_id != NULL)
        row.institution = xstrdup(institution_id);
    if (format != NULL) {
        buf_init(&b);
        buf_puts(&b, "{\"format\":");
        json_escape(&b, format, strlen(format));
        buf_putc(&b, '}');
        row.detail = buf_steal(&b, NULL);
    }
    add(ev, &row);
}
