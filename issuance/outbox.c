/*
 * outbox.c — hands queued credentials to the Europass issuer, one worker's share.
 * A tick claims due jobs (outbox_claim: SKIP LOCKED, a lease, an attempt row);
 * each job is one request to the issuer (issuance/edci.c builds and reads it) and
 * one outbox_finish: delivered, retried later with exponential backoff and
 * jitter, or failed after the last attempt. A node that dies mid-send leaves its
 * jobs to whoever claims them when the lease ends; the resend names the same
 * credential (Idempotency-Key), so the issuer side delivers it once.
 */
#include "issuance/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "catalogue/harvest.h"
#include "issuance/edci.h"
#include "issuance/local.h"
#include "server/client.h"
#include "server/db.h"
#include "server/json.h"
#include "server/mcxd.h"

#define BACKOFF_CAP_MS (6L * 3600 * 1000)

struct send {
    struct outbox *o;
    char job[24], attempt[16], credential[37];
    bool in_doubt;
    struct edci_request er;
    struct client_req *fetch;
    struct db_op *op;
    struct send *prev, *next;
};

struct outbox {
    struct mcxd *app;
    struct outbox_config cfg;
    struct event *tick;
    struct db_op *claim;
    struct send *sends;
    int in_flight;
    unsigned int seed;
};

static void send_free(struct send *s)
{
    struct outbox *o = s->o;

    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        o->sends = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    edci_request_cleanup(&s->er);
    o->in_flight--;
    free(s);
}

static void finished(struct db_result *res, const struct db_error *err, void *arg)
{
    struct send *s = arg;

    (void)res;
    s->op = NULL;
    if (err != NULL) /* the lease runs out and the job is claimed again: same credential id */
        fprintf(stderr,
                "{\"level\":\"error\",\"msg\":\"outbox: recording the outcome of credential %s "
                "failed: %s\"}\n",
                s->credential, err->message);
    send_free(s);
}

static const char finish_sql[] =
    "SELECT outbox_finish($1::bigint, $2::int, $3, $4, $5::int, $6, $7::jsonb, $8::int)";

static void finish(struct send *s, const struct edci_outcome *out)
{
    struct outbox *o = s->o;
    int attempt = atoi(s->attempt);
    const char *outcome = out->delivered ? "delivered" : out->permanent ? "failed" : "retry";
    char status[16], retry[24];

    if (!out->delivered && !out->permanent && attempt >= o->cfg.max_attempts)
        outcome = "failed";
    snprintf(status, sizeof(status), "%ld", out->http_status);
    snprintf(retry, sizeof(retry), "%ld",
             harvest_backoff_ms(o->cfg.backoff_ms, attempt, BACKOFF_CAP_MS,
                                (double)rand_r(&o->seed) / ((double)RAND_MAX + 1)));
    const char *params[8] = {s->job,
                             s->attempt,
                             o->cfg.node,
                             outcome,
                             out->http_status ? status : NULL,
                             out->error[0] ? out->error : NULL,
                             out->europass.len ? out->europass.data : NULL,
                             retry};
    s->op = db_query(o->app->pool, finish_sql, 8, params, finished, s);
}

static const char sealed_sql[] =
    "SELECT outbox_finish_sealed($1::bigint, $2::int, $3, $4, $5::jsonb)";

/*
 * The local adapter: the credential is completed and sealed here, on the loop (one
 * RS256 signature, about a millisecond), and recorded as delivered with its sealed
 * file, which the learner downloads. Nothing is sent anywhere.
 */
static void seal_start(struct send *s, const char *document)
{
    struct outbox *o = s->o;
    struct mcx_error err;
    struct buf sealed, europass;
    struct json_writer w;
    char url[96];

    buf_init(&sealed);
    if (local_seal(o->cfg.seal, document, time(NULL), &sealed, &err) != 0) {
        /* the same document would fail the same way: fail it now */
        struct edci_outcome out = {.permanent = true};
        buf_init(&out.europass);
        snprintf(out.error, sizeof(out.error), "the credential could not be sealed: %.400s",
                 err.message);
        finish(s, &out);
        buf_cleanup(&sealed);
        return;
    }
    buf_init(&europass);
    json_writer_init(&w, &europass);
    json_object_begin(&w);
    json_kv_string(&w, "adapter", "local");
    json_kv_string(&w, "sealed_by", jades_key_subject(o->cfg.seal));
    snprintf(url, sizeof(url), "/api/v1/credentials/%s/sealed", s->credential);
    json_kv_string(&w, "download_url", url);
    json_object_end(&w);
    const char *params[5] = {s->job, s->attempt, o->cfg.node, sealed.data, europass.data};
    s->op = db_query(o->app->pool, sealed_sql, 5, params, finished, s);
    buf_cleanup(&sealed);
    buf_cleanup(&europass);
}

static void sent(const struct client_response *resp, void *arg)
{
    struct send *s = arg;
    struct edci_outcome out;

    s->fetch = NULL;
    edci_read_response(resp, &out);
    finish(s, &out);
    edci_outcome_cleanup(&out);
}

static void send_start(struct outbox *o, struct db_result *res, int row)
{
    struct send *s = xcalloc(1, sizeof(*s));
    struct mcx_error err;

    s->o = o;
    s->next = o->sends;
    if (o->sends != NULL)
        o->sends->prev = s;
    o->sends = s;
    o->in_flight++;
    mcx_strlcpy(s->job, db_result_value(res, row, 0), sizeof(s->job));
    mcx_strlcpy(s->credential, db_result_value(res, row, 1), sizeof(s->credential));
    mcx_strlcpy(s->attempt, db_result_value(res, row, 2), sizeof(s->attempt));
    s->in_doubt = strcmp(db_result_value(res, row, 5), "t") == 0;
    if (o->cfg.seal != NULL) {
        seal_start(s, db_result_value(res, row, 3));
        return;
    }
    if (edci_request_build(&o->cfg.edci, s->credential, db_result_value(res, row, 3),
                           db_result_is_null(res, row, 4) ? NULL : db_result_value(res, row, 4),
                           &s->er, &err) != 0) {
        /* a credential that cannot be sent will not become sendable: fail it now */
        struct edci_outcome out = {.permanent = true};
        buf_init(&out.europass);
        snprintf(out.error, sizeof(out.error), "the request could not be built: %.400s",
                 err.message);
        finish(s, &out);
        return;
    }
    if (s->in_doubt)
        fprintf(stderr,
                "{\"level\":\"warn\",\"msg\":\"outbox: credential %s: an earlier attempt never "
                "finished; resending with the same Idempotency-Key\"}\n",
                s->credential);
    s->fetch = client_fetch(o->app->client, &s->er.req, sent, s);
}

static const char claim_sql[] =
    "SELECT job, credential_id, attempt, document, learner::text, in_doubt"
    " FROM outbox_claim($1, $2::int, $3::int)";

static void claimed(struct db_result *res, const struct db_error *err, void *arg)
{
    struct outbox *o = arg;

    o->claim = NULL;
    if (err != NULL) {
        if (err->kind == DB_ERR_QUERY)
            fprintf(stderr, "{\"level\":\"error\",\"msg\":\"outbox: claiming failed: %s\"}\n",
                    err->message);
        return; /* the database is away: the next tick tries again */
    }
    for (int i = 0; i < db_result_rows(res); i++)
        send_start(o, res, i);
    if (db_result_rows(res) > 0 && o->in_flight < o->cfg.concurrency)
        event_active(o->tick, EV_TIMEOUT, 0); /* more may be due: do not wait a tick */
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct outbox *o = arg;
    char limit[16], lease[32];

    (void)fd;
    (void)what;
    if (o->claim != NULL || o->in_flight >= o->cfg.concurrency)
        return;
    snprintf(limit, sizeof(limit), "%d", o->cfg.concurrency - o->in_flight);
    /* longer than a request may take: a live node always finishes before it ends */
    snprintf(lease, sizeof(lease), "%ld", o->cfg.edci.timeout_ms / 1000 + 60);
    const char *params[3] = {o->cfg.node, limit, lease};
    o->claim = db_query(o->app->pool, claim_sql, 3, params, claimed, o);
}

struct outbox *outbox_new(struct mcxd *app, const struct outbox_config *cfg)
{
    struct outbox *o = xcalloc(1, sizeof(*o));
    struct timeval tv = {cfg->tick_ms / 1000, (cfg->tick_ms % 1000) * 1000};

    o->app = app;
    o->cfg = *cfg;
    o->seed = (unsigned int)mcx_now_us() ^ (unsigned int)app->worker;
    o->tick = event_new(app->base, -1, EV_PERSIST, tick, o);
    event_add(o->tick, &tv);
    return o;
}

void outbox_kick(struct outbox *o)
{
    if (o != NULL)
        event_active(o->tick, EV_TIMEOUT, 0);
}

int outbox_in_flight(const struct outbox *o)
{
    return o != NULL ? o->in_flight : 0;
}

void outbox_free(struct outbox *o)
{
    if (o == NULL)
        return;
    event_free(o->tick);
    db_op_cancel(o->claim);
    while (o->sends != NULL) {
        struct send *s = o->sends;
        client_cancel(s->fetch);
        db_op_cancel(s->op);
        send_free(s);
    }
    free(o);
}
