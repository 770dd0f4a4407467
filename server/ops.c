/*
 * ops.c — the endpoints an operator and a load balancer poll. /healthz says the
 * loop turns; /readyz asks the database; /metrics renders this worker's series.
 */
#include "server/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/harvest.h"
#include "issuance/outbox.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/mcxd.h"
#include "server/metrics.h"
#include "server/router.h"

static const char healthz_body[] = "{\"status\":\"ok\"}";

static void healthz(struct http_request *req, void *arg)
{
    (void)arg;
    http_response_header(req, "Cache-Control", "no-store");
    http_reply(req, 200, "application/json", healthz_body, sizeof(healthz_body) - 1);
}

void ops_reply_db_error(struct http_request *req, const struct db_error *err)
{
    switch (err->kind) {
    case DB_ERR_UNAVAILABLE:
    case DB_ERR_CONNECTION:
        http_response_header(req, "Retry-After", "1");
        http_reply_error(req, 503, "database_unavailable", "%s", err->message);
        return;
    case DB_ERR_QUERY:
        if (strcmp(err->sqlstate, "57014") == 0) {
            http_reply_error(req, 504, "database_timeout", "the query took too long");
            return;
        }
        break;
    case DB_ERR_CANCELLED:
        break;
    }
    fprintf(stderr,
            "{\"level\":\"error\",\"msg\":\"database error %s: %s\",\"request_id\":\"%s\"}\n",
            err->sqlstate, err->message, http_request_id(req));
    http_reply_error(req, 500, "internal_error", "the database reported an error");
}

/* A pending database call bound to its request, cancelled if the client leaves. */
struct ops_call {
    struct http_request *req;
    struct db_op *op;
};

static void call_cancel(void *data)
{
    struct ops_call *call = data;

    db_op_cancel(call->op);
    free(call);
}

static struct ops_call *call_start(struct http_request *req, struct db_pool *pool, const char *sql,
                                   int nparams, const char *const *params, db_result_cb cb)
{
    struct ops_call *call = xcalloc(1, sizeof(*call));

    call->req = req;
    http_request_on_cancel(req, call_cancel, call);
    call->op = db_query(pool, sql, nparams, params, cb, call);
    return call;
}

static void readyz_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct ops_call *call = arg;
    struct http_request *req = call->req;

    (void)res;
    http_request_on_cancel(req, NULL, NULL);
    free(call);
    http_response_header(req, "Cache-Control", "no-store");
    if (err != NULL) {
        http_response_header(req, "Retry-After", "1");
        http_reply_error(req, 503, "database_unavailable", "the database does not answer: %s",
                         err->message);
        return;
    }
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"status\":\"ready\",\"database\":\"ok\"}");
    http_reply_json(req, 200, &b);
}

static void readyz(struct http_request *req, void *arg)
{
    struct mcxd *app = arg;

    call_start(req, app->pool, "SELECT 1", 0, NULL, readyz_done);
}

static void add_pool_gauges(struct mcxd *app, struct metrics_gauge *g, int *n)
{
    struct db_pool_stats st;

    db_pool_get_stats(app->pool, &st);
    static const char *conn_help = "PostgreSQL connections of this worker's pool, by state.";
    g[(*n)++] = (struct metrics_gauge){
        "mcx_db_pool_connections", conn_help, "gauge", "state", "busy", st.busy};
    g[(*n)++] = (struct metrics_gauge){
        "mcx_db_pool_connections", conn_help, "gauge", "state", "idle", st.idle};
    g[(*n)++] = (struct metrics_gauge){
        "mcx_db_pool_connections", conn_help, "gauge", "state", "connected", st.connected};
    g[(*n)++] = (struct metrics_gauge){
        "mcx_db_pool_size", "Configured pool connections.", "gauge", NULL, NULL, st.size};
    g[(*n)++] = (struct metrics_gauge){"mcx_db_pool_waiting",
                                       "Requests waiting for a pool connection.",
                                       "gauge",
                                       NULL,
                                       NULL,
                                       st.waiting};
    g[(*n)++] = (struct metrics_gauge){"mcx_db_pool_rejected_total",
                                       "Waits refused because the queue was full.",
                                       "counter",
                                       NULL,
                                       NULL,
                                       (double)st.queue_rejected};
    g[(*n)++] = (struct metrics_gauge){
        "mcx_db_pool_timeouts_total", "Waits that timed out in the queue.", "counter", NULL, NULL,
        (double)st.queue_timeouts};
}

static void metrics_page(struct http_request *req, void *arg)
{
    struct mcxd *app = arg;
    struct metrics_gauge g[16];
    int n = 0;
    struct buf out;

    add_pool_gauges(app, g, &n);
    g[n++] = (struct metrics_gauge){
        "mcx_http_connections_open",       "Open client connections.", "gauge", NULL, NULL,
        http_server_connections(app->http)};
    g[n++] = (struct metrics_gauge){"mcx_http_requests_in_flight",
                                    "Requests being handled now.",
                                    "gauge",
                                    NULL,
                                    NULL,
                                    http_server_requests_in_flight(app->http)};
    g[n++] = (struct metrics_gauge){"mcx_harvest_in_flight",
                                    "Partner feeds being fetched or stored by this worker.",
                                    "gauge",
                                    NULL,
                                    NULL,
                                    harvester_in_flight(app->harvester)};
    g[n++] = (struct metrics_gauge){"mcx_outbox_in_flight",
                                    "Credentials being sent to the Europass issuer by this worker.",
                                    "gauge",
                                    NULL,
                                    NULL,
                                    outbox_in_flight(app->outbox)};
    g[n++] = (struct metrics_gauge){"mcx_uptime_seconds",
                                    "Seconds since this worker started.",
                                    "gauge",
                                    NULL,
                                    NULL,
                                    (double)(mcx_now_us() - app->started_us) / 1e6};
    buf_init(&out);
    metrics_render(app->metrics, g, n, &out);
    http_response_header(req, "Cache-Control", "no-store");
    http_reply_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &out);
}

static void sleep_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct ops_call *call = arg;
    struct http_request *req = call->req;

    (void)res;
    http_request_on_cancel(req, NULL, NULL);
    free(call);
    if (err != NULL) {
        ops_reply_db_error(req, err);
        return;
    }
    struct buf b;
    buf_init(&b);
    buf_puts(&b, "{\"slept\":true}");
    http_reply_json(req, 200, &b);
}

/* GET /debug/sleep?seconds=S: holds a pool connection for S seconds (≤ 60). */
static void debug_sleep(struct http_request *req, void *arg)
{
    struct mcxd *app = arg;
    const char *s = http_request_query(req, "seconds");
    double secs;

    if (s == NULL || mcx_parse_double(s, 0, 60, &secs) != 0) {
        http_reply_error(req, 400, "invalid_parameter", "seconds must be a number from 0 to 60");
        return;
    }
    const char *params[1] = {s};
    call_start(req, app->pool, "SELECT pg_sleep($1::float8)", 1, params, sleep_done);
}

void ops_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_GET, "/healthz", healthz, app, 0);
    router_add(app->router, HTTP_GET, "/readyz", readyz, app, 0);
    router_add(app->router, HTTP_GET, "/metrics", metrics_page, app, 0);
    if (app->cfg->debug_endpoints)
        router_add(app->router, HTTP_GET, "/debug/sleep", debug_sleep, app, 0);
}
