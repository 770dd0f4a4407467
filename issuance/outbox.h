/*
 * outbox.h — sends queued credentials to the Europass issuer (issuance/outbox.c).
 * Every worker of every node runs one when --europass-url is set; jobs are claimed
 * from the shared outbox table with SKIP LOCKED. mcxd.c creates it; the credential
 * handlers kick it after queueing.
 */
#ifndef MCX_OUTBOX_H
#define MCX_OUTBOX_H

#include "issuance/edci.h"
#include "issuance/jades.h"

struct mcxd;
struct outbox;

struct outbox_config {
    int tick_ms;      /* how often due jobs are claimed */
    int concurrency;  /* requests in flight per worker */
    int max_attempts; /* then the credential is failed */
    int backoff_ms;   /* first retry delay; doubles, with ±20% jitter */
    const char *node; /* recorded with each attempt */
    /* --europass-adapter local: sealed here with this eSeal, nothing is sent; else NULL
     * and each credential goes to the EDCI issuer */
    const struct jades_key *seal;
    struct edci_config edci;
};

struct outbox *outbox_new(struct mcxd *app, const struct outbox_config *cfg);
void outbox_free(struct outbox *o);
/* Claims due jobs now instead of at the next tick (after something was queued). */
void outbox_kick(struct outbox *o);
int outbox_in_flight(const struct outbox *o);

#endif
