/*
 * harvest.h — pulls the catalogues of partner institutions on a schedule. Every
 * worker of every node runs one harvester; partners are claimed from the shared
 * queue (partners_claim, FOR UPDATE SKIP LOCKED), fetched concurrently through
 * server/client.h, parsed, and stored with their provenance. A feed that fails
 * changes nothing: the last good offers stay, the failure is recorded and retried
 * with exponential backoff and jitter. mcxd.c creates it; partners.c kicks it.
 */
#ifndef MCX_HARVEST_H
#define MCX_HARVEST_H

#include <stddef.h>

struct mcxd;
struct harvester;

struct harvest_config {
    int tick_ms;      /* how often due partners are claimed */
    int timeout_ms;   /* one feed request, whole transfer */
    size_t max_body;  /* a larger feed is aborted and the run fails */
    int backoff_ms;   /* first retry delay after a failure; doubles, with ±20% jitter */
    int concurrency;  /* feeds fetched at once by this worker */
    const char *node; /* recorded in harvest_runs.node */
};

struct harvester *harvester_new(struct mcxd *app, const struct harvest_config *cfg);
void harvester_free(struct harvester *h);
/* Claims due partners now instead of at the next tick (after a manual trigger). */
void harvester_kick(struct harvester *h);
/* Feeds being fetched or stored by this worker (for /metrics). */
int harvester_in_flight(const struct harvester *h);
/* The retry delay after n consecutive failures (pure; jitter from r in [0,1)). */
long harvest_backoff_ms(int base_ms, int failures, long cap_ms, double r);

#endif
