/*
 * retention.c — see retention.h. Every ten minutes (and once at start) one
 * statement purges what is due and writes one audit entry for the lot.
 */
#include "issuance/retention.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "server/db.h"
#include "server/mcxd.h"

#define RETENTION_PERIOD_S 600

struct retention {
    struct mcxd *app;
    char days[24];
    struct event *timer;
    struct db_op *op;
};

/* Delivered (or revoked after delivery) more than $1 days ago, not yet purged: the
 * learner's details go, and so do the built document and the file sealed here, which
 * hold them too (the learner has the credential; a reissue after the purge is refused
 * anyway). */
static const char purge_sql[] =
    "WITH p AS (UPDATE credentials SET learner = NULL, learner_email = NULL, document = '',"
    "  sealed = NULL,"
    "  updated_at = now()"
    "  WHERE learner IS NOT NULL AND delivered_at < now() - make_interval(days => $1::int)"
    "  RETURNING id),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, details)"
    "  SELECT 'system', 'purge_personal_data', 'credential', NULL,"
    "   jsonb_build_object('credentials', count(*), 'retention_days', $1::int)"
    "  FROM p HAVING count(*) > 0)"
    " SELECT count(*) FROM p";

static void purged(struct db_result *res, const struct db_error *err, void *arg)
{
    struct retention *r = arg;

    r->op = NULL;
    if (err != NULL) {
        if (err->kind == DB_ERR_QUERY)
            fprintf(stderr, "{\"level\":\"error\",\"msg\":\"retention: purge failed: %s\"}\n",
                    err->message);
        return;
    }
    long n = atol(db_result_value(res, 0, 0));
    if (n > 0)
        fprintf(stderr,
                "{\"level\":\"info\",\"msg\":\"retention: personal data of %ld learner(s) "
                "purged, %s days after delivery\"}\n",
                n, r->days);
}

static void sweep(evutil_socket_t fd, short what, void *arg)
{
    struct retention *r = arg;

    (void)fd;
    (void)what;
    if (r->op != NULL)
        return;
    const char *params[1] = {r->days};
    r->op = db_query(r->app->pool, purge_sql, 1, params, purged, r);
}

struct retention *retention_new(struct mcxd *app, long days)
{
    struct retention *r;
    struct timeval period = {RETENTION_PERIOD_S, 0};

    if (days <= 0)
        return NULL;
    r = xcalloc(1, sizeof(*r));
    r->app = app;
    snprintf(r->days, sizeof(r->days), "%ld", days);
    r->timer = event_new(app->base, -1, EV_PERSIST, sweep, r);
    event_add(r->timer, &period);
    event_active(r->timer, EV_TIMEOUT, 0); /* and once at start */
    return r;
}

void retention_free(struct retention *r)
{
    if (r == NULL)
        return;
    event_free(r->timer);
    db_op_cancel(r->op);
    free(r);
}
