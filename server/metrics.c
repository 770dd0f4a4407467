/*
 * metrics.c — counters kept per (route, status) and histograms per route in
 * small arrays: a node has a few dozen routes, and a pointer comparison finds
 * the slot on the hot path.
 */
#include "server/metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds in seconds, Prometheus' default buckets. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS MCX_ARRAY_LEN(buckets)

struct status_count {
    const char *route;
    int status;
    uint64_t count;
};

struct route_hist {
    const char *route;
    uint64_t bucket[NBUCKETS]; /* non-cumulative; summed when rendered */
    uint64_t count;
    double sum;
};

#define MAX_SOURCES 8
#define MAX_SOURCE_GAUGES 16 /* series one source may add */

struct source {
    metrics_source_fn fn;
    void *arg;
};

struct metrics {
    int worker;
    struct source sources[MAX_SOURCES];
    int nsources;
    struct status_count *counts;
    size_t ncounts;
    struct route_hist *hists;
    size_t nhists;
    uint64_t total;
};

struct metrics *metrics_new(int worker)
{
    struct metrics *m = xcalloc(1, sizeof(*m));
    m->worker = worker;
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    free(m->counts);
    free(m->hists);
    free(m);
}

static bool same_route(const char *a, const char *b)
{
    return a == b || strcmp(a, b) == 0;
}

static struct status_count *count_slot(struct metrics *m, const char *route, int status)
{
    for (size_t i = 0; i < m->ncounts; i++)
        if (m->counts[i].status == status && same_route(m->counts[i].route, route))
            return &m->counts[i];
    m->counts = xrealloc(m->counts, sizeof(*m->counts) * (m->ncounts + 1));
    m->counts[m->ncounts] = (struct status_count){route, status, 0};
    return &m->counts[m->ncounts++];
}

static struct route_hist *hist_slot(struct metrics *m, const char *route)
{
    for (size_t i = 0; i < m->nhists; i++)
        if (same_route(m->hists[i].route, route))
            return &m->hists[i];
    m->hists = xrealloc(m->hists, sizeof(*m->hists) * (m->nhists + 1));
    memset(&m->hists[m->nhists], 0, sizeof(*m->hists));
    m->hists[m->nhists].route = route;
    return &m->hists[m->nhists++];
}

void metrics_observe(struct metrics *m, const char *route, int status, int64_t duration_us)
{
    double secs = (double)duration_us / 1e6;
    struct route_hist *h;

    count_slot(m, route, status)->count++;
    h = hist_slot(m, route);
    h->count++;
    h->sum += secs;
    for (size_t i = 0; i < NBUCKETS; i++) {
        if (secs <= buckets[i]) {
            h->bucket[i]++;
            break;
        }
    }
    m->total++;
}

uint64_t metrics_requests_total(const struct metrics *m)
{
    return m->total;
}

/* Label values escape backslash, double quote and newline (exposition format). */
static void label_value(struct buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_putc(out, '\\');
        if (*v == '\n') {
            buf_puts(out, "\\n");
            continue;
        }
        buf_putc(out, *v);
    }
}

static void render_requests(const struct metrics *m, struct buf *out)
{
    buf_puts(out, "# HELP mcx_http_requests_total HTTP requests answered, by route and status.\n"
                  "# TYPE mcx_http_requests_total counter\n");
    for (size_t i = 0; i < m->ncounts; i++) {
        buf_printf(out, "mcx_http_requests_total{worker=\"%d\",route=\"", m->worker);
        label_value(out, m->counts[i].route);
        buf_printf(out, "\",status=\"%d\"} %" PRIu64 "\n", m->counts[i].status, m->counts[i].count);
    }
}

static void render_hist(const struct metrics *m, const struct route_hist *h, struct buf *out)
{
    uint64_t cum = 0;
    struct buf lbl;

    buf_init(&lbl);
    buf_printf(&lbl, "worker=\"%d\",route=\"", m->worker);
    label_value(&lbl, h->route);
    buf_putc(&lbl, '"');
    for (size_t b = 0; b < NBUCKETS; b++) {
        cum += h->bucket[b];
        buf_printf(out, "mcx_http_request_duration_seconds_bucket{%s,le=\"%g\"} %" PRIu64 "\n",
                   lbl.data, buckets[b], cum);
    }
    buf_printf(out, "mcx_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n",
               lbl.data, h->count);
    buf_printf(out, "mcx_http_request_duration_seconds_sum{%s} %.6f\n", lbl.data, h->sum);
    buf_printf(out, "mcx_http_request_duration_seconds_count{%s} %" PRIu64 "\n", lbl.data,
               h->count);
    buf_cleanup(&lbl);
}

static void render_gauges(const struct metrics *m, const struct metrics_gauge *g, int n,
                          struct buf *out)
{
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(g[i].name, g[i - 1].name) != 0)
            buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", g[i].name, g[i].help, g[i].name,
                       g[i].type);
        buf_printf(out, "%s{worker=\"%d\"", g[i].name, m->worker);
        if (g[i].label != NULL) {
            buf_printf(out, ",%s=\"", g[i].label);
            label_value(out, g[i].label_value);
            buf_putc(out, '"');
        }
        buf_printf(out, "} %.17g\n", g[i].value);
    }
}

void metrics_source_add(struct metrics *m, metrics_source_fn fn, void *arg)
{
    if (m->nsources >= MAX_SOURCES)
        abort(); /* a programming error: raise MAX_SOURCES */
    m->sources[m->nsources++] = (struct source){fn, arg};
}

void metrics_source_remove(struct metrics *m, void *arg)
{
    for (int i = 0; i < m->nsources; i++)
        if (m->sources[i].arg == arg) {
            memmove(&m->sources[i], &m->sources[i + 1],
                    sizeof(m->sources[0]) * (size_t)(m->nsources - i - 1));
            m->nsources--;
            i--;
        }
}

void metrics_render(const struct metrics *m, const struct metrics_gauge *gauges, int ngauges,
                    struct buf *out)
{
    struct metrics_gauge g[MAX_SOURCE_GAUGES];

    render_requests(m, out);
    buf_puts(out, "# HELP mcx_http_request_duration_seconds Time from request head to reply.\n"
                  "# TYPE mcx_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->nhists; i++)
        render_hist(m, &m->hists[i], out);
    render_gauges(m, gauges, ngauges, out);
    for (int i = 0; i < m->nsources; i++) {
        int n = m->sources[i].fn(m->sources[i].arg, g, MAX_SOURCE_GAUGES);
        render_gauges(m, g, n, out);
    }
}
