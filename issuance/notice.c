/*
 * notice.c — the learners' notices: claim due ones (a lease of NOTICE_LEASE_S, so a
 * node that dies mid-send leaves them to another), send each through the relay,
 * record it sent, or due again after a backoff, or given up after the last attempt.
 */
#include "issuance/notice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "server/config.h"
#include "server/db.h"
#include "server/json.h"
#include "server/mail.h"
#include "server/mcxd.h"

#define NOTICE_LEASE_S "600" /* longer than a mail may take */

struct notice {
    struct notifier *n;
    char id[37], attempts[16];
    struct mail_op *mail;
    struct db_op *op;
    struct notice *prev, *next;
};

struct notifier {
    struct mcxd *app;
    struct event *tick;
    struct db_op *claim;
    struct notice *list;
    int in_flight;
};

static void notice_free(struct notice *x)
{
    struct notifier *n = x->n;

    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        n->list = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    n->in_flight--;
    free(x);
}

static void recorded(struct db_result *res, const struct db_error *err, void *arg)
{
    struct notice *x = arg;

    (void)res;
    x->op = NULL;
    if (err != NULL) /* the lease runs out and the notice is due again */
        json_log("error", -1, "notice: recording credential %s's notice failed: %s", x->id,
                 err->message);
    notice_free(x);
}

/* Sent: done. Refused: due again after 2^attempts minutes, or given up. */
static const char sent_sql[] =
    "UPDATE credentials SET notified_at = now(), notice_due_at = NULL WHERE id = $1::uuid";
static const char unsent_sql[] =
    "UPDATE credentials SET notice_due_at = CASE WHEN notice_attempts >= $2::int THEN NULL"
    "  ELSE now() + make_interval(mins => power(2, notice_attempts)::int) END"
    " WHERE id = $1::uuid";

static void mailed(bool ok, const char *error, void *arg)
{
    struct notice *x = arg;
    struct notifier *n = x->n;
    char max[16];

    x->mail = NULL;
    if (ok) {
        const char *params[1] = {x->id};
        x->op = db_query(n->app->pool, sent_sql, 1, params, recorded, x);
        return;
    }
    if (atoi(x->attempts) >= NOTICE_MAX_ATTEMPTS)
        json_log("warn", -1, "notice: gave up telling the learner of credential %s: %s", x->id,
                 error);
    snprintf(max, sizeof(max), "%d", NOTICE_MAX_ATTEMPTS);
    const char *params[2] = {x->id, max};
    x->op = db_query(n->app->pool, unsent_sql, 2, params, recorded, x);
}

static void notice_start(struct notifier *n, struct db_result *res, int row)
{
    struct notice *x = xcalloc(1, sizeof(*x));
    char message_id[33];
    struct mail_notice m = {
        .to = db_result_value(res, row, 1),
        .learner = db_result_value(res, row, 2),
        .title = db_result_value(res, row, 3),
        .institution = db_result_value(res, row, 4),
        .credential_id = db_result_value(res, row, 0),
        .public_url = n->app->cfg->public_url,
    };
    struct buf message;

    x->n = n;
    x->next = n->list;
    if (n->list != NULL)
        n->list->prev = x;
    n->list = x;
    n->in_flight++;
    mcx_strlcpy(x->id, db_result_value(res, row, 0), sizeof(x->id));
    mcx_strlcpy(x->attempts, db_result_value(res, row, 5), sizeof(x->attempts));
    mcx_random_hex(message_id);
    buf_init(&message);
    mail_notice_build(n->app->cfg->smtp_from, &m, time(NULL), message_id, &message);
    x->mail = mail_send(n->app, m.to, message.data, message.len, mailed, x);
    buf_cleanup(&message);
}

/* Due notices of sealed, delivered credentials whose learner is still known, the
 * oldest first; each claimed for NOTICE_LEASE_S and counted as an attempt. */
static const char claim_sql[] =
    "WITH due AS (SELECT c.id FROM credentials c WHERE c.notice_due_at <= now()"
    "  AND c.state = 'delivered' AND c.learner_email IS NOT NULL AND c.notified_at IS NULL"
    "  ORDER BY c.notice_due_at LIMIT $1::int FOR UPDATE SKIP LOCKED),"
    " upd AS (UPDATE credentials c SET notice_attempts = c.notice_attempts + 1,"
    "  notice_due_at = now() + make_interval(secs => " NOTICE_LEASE_S ")"
    "  FROM due WHERE c.id = due.id RETURNING c.*)"
    " SELECT upd.id, upd.learner_email, upd.learner_name, upd.title,"
    "  coalesce(i.name->>'en', (SELECT value FROM jsonb_each_text(i.name) LIMIT 1), i.id),"
    "  upd.notice_attempts"
    " FROM upd JOIN institutions i ON i.id = upd.institution_id";

static void claimed(struct db_result *res, const struct db_error *err, void *arg)
{
    struct notifier *n = arg;

    n->claim = NULL;
    if (err != NULL) {
        if (err->kind == DB_ERR_QUERY)
            json_log("error", -1, "notice: claiming failed: %s", err->message);
        return; /* the next tick tries again */
    }
    for (int i = 0; i < db_result_rows(res); i++)
        notice_start(n, res, i);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct notifier *n = arg;
    char limit[16];

    (void)fd;
    (void)what;
    if (n->claim != NULL || n->in_flight >= NOTICE_BATCH)
        return;
    snprintf(limit, sizeof(limit), "%d", NOTICE_BATCH - n->in_flight);
    const char *params[1] = {limit};
    n->claim = db_query(n->app->pool, claim_sql, 1, params, claimed, n);
}

struct notifier *notifier_new(struct mcxd *app, int tick_ms)
{
    struct notifier *n;
    struct timeval tv = {tick_ms / 1000, (tick_ms % 1000) * 1000};

    if (!mail_available(app) || !app->cfg->learner_notices)
        return NULL;
    n = xcalloc(1, sizeof(*n));
    n->app = app;
    n->tick = event_new(app->base, -1, EV_PERSIST, tick, n);
    event_add(n->tick, &tv);
    return n;
}

void notifier_free(struct notifier *n)
{
    if (n == NULL)
        return;
    event_free(n->tick);
    db_op_cancel(n->claim);
    while (n->list != NULL) {
        struct notice *x = n->list;
        mail_cancel(x->mail);
        db_op_cancel(x->op);
        notice_free(x);
    }
    free(n);
}
