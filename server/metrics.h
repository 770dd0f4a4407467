/*
 * metrics.h — per-worker counters for /metrics in the Prometheus text format:
 * requests by route and status, a latency histogram per route, and gauges the
 * caller supplies at render time (pool, connections, uptime), and series that
 * modules register as sources (exposure events). http.c observes; ops.c renders.
 */
#ifndef MCX_METRICS_H
#define MCX_METRICS_H

#include <stdint.h>

#include "server/util.h"

struct metrics;

struct metrics_gauge {
    const char *name; /* mcx_db_pool_connections */
    const char *help;
    const char *type;  /* "gauge" or "counter" */
    const char *label; /* optional extra label name, e.g. "state" */
    const char *label_value;
    double value;
};

struct metrics *metrics_new(int worker);
void metrics_free(struct metrics *m);
/* route: the route pattern, "static" or "unmatched"; must outlive m. */
void metrics_observe(struct metrics *m, const char *route, int status, int64_t duration_us);
uint64_t metrics_requests_total(const struct metrics *m);
/*
 * A module's own series (a buffer's depth, its counters), asked for at every render
 * and written after the caller's gauges: fn fills at most max entries of g and
 * returns how many. A few sources per worker; remove one before its arg dies.
 */
typedef int (*metrics_source_fn)(void *arg, struct metrics_gauge *g, int max);
void metrics_source_add(struct metrics *m, metrics_source_fn fn, void *arg);
void metrics_source_remove(struct metrics *m, void *arg);
/* Gauges sharing a name must be adjacent (one HELP/TYPE block each). */
void metrics_render(const struct metrics *m, const struct metrics_gauge *gauges, int ngauges,
                    struct buf *out);

#endif
