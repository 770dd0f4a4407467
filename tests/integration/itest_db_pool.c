/*
 * itest_db_pool.c — the async pool, result conversion, the blocking API, migrations
 * and `mcx migrate` against a real PostgreSQL. MCX_TEST_PG_DIR names a running
 * throw-away cluster (socket in $MCX_TEST_PG_DIR/run, superuser mcx, trust auth);
 * the test creates its own databases and drops them at the end.
 */
#include <event2/event.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/cli.h"
#include "server/db.h"
#include "server/json.h"
#include "server/migrate.h"
#include "server/util.h"

#define ITEST_DB
#include "itest.h"

static bool pred_flag(const void *arg)
{
    return *(const bool *)arg;
}

struct pool_target {
    struct db_pool *pool;
    int connected;
    int idle;
};

static bool pred_pool(const void *arg)
{
    const struct pool_target *p = arg;
    struct db_pool_stats st;

    db_pool_get_stats(p->pool, &st);
    return st.connected >= p->connected && st.idle >= p->idle;
}

static bool wait_pool(struct itest *t, struct db_pool *pool, int connected, int idle, int ms)
{
    struct pool_target p = {pool, connected, idle};

    return loop_until(t, pred_pool, &p, ms);
}

static struct db_pool *pool_open(struct itest *t, int size, int max_waiting, int wait_ms,
                                 int stmt_ms)
{
    struct db_pool_config cfg = {
        .conninfo = t->conninfo,
        .size = size,
        .max_waiting = max_waiting,
        .wait_timeout_ms = wait_ms,
        .statement_timeout_ms = stmt_ms,
    };

    return db_pool_new(t->base, &cfg);
}

/* ---- one query or acquire at a time ---- */

struct call {
    bool is_done;
    bool is_in_caller; /* set around the call that started it */
    bool was_sync;     /* the callback ran inside that call: forbidden */
    struct db_result *res;
    bool has_err;
    struct db_error err;
    int64_t done_us;
};

static void call_reset(struct call *c)
{
    db_result_free(c->res);
    memset(c, 0, sizeof(*c));
}

static void call_on_result(struct db_result *res, const struct db_error *err, void *arg)
{
    struct call *c = arg;

    c->was_sync = c->is_in_caller;
    c->is_done = true;
    c->done_us = mcx_now_us();
    if (res != NULL) {
        db_result_keep(res);
        c->res = res;
    } else {
        c->has_err = true;
        c->err = *err;
    }
}

static const char *call_value(const struct call *c, int row, int col)
{
    const char *v = c->res != NULL ? db_result_value(c->res, row, col) : NULL;

    return v != NULL ? v : "(none)";
}

static struct db_op *call_start(struct db_pool *pool, const char *sql, int nparams,
                                const char *const *params, struct call *c)
{
    struct db_op *op;

    call_reset(c);
    c->is_in_caller = true;
    op = db_query(pool, sql, nparams, params, call_on_result, c);
    c->is_in_caller = false;
    return op;
}

static bool pool_run(struct itest *t, struct db_pool *pool, const char *sql, int nparams,
                     const char *const *params, struct call *c)
{
    call_start(pool, sql, nparams, params, c);
    return loop_until(t, pred_flag, &c->is_done, 5000) && !c->was_sync;
}

static int conn_start(struct db_conn *conn, const char *sql, int nparams, const char *const *params,
                      struct call *c)
{
    int rc;

    call_reset(c);
    c->is_in_caller = true;
    rc = db_conn_query(conn, sql, nparams, params, call_on_result, c);
    c->is_in_caller = false;
    return rc;
}

static bool conn_run(struct itest *t, struct db_conn *conn, const char *sql, int nparams,
                     const char *const *params, struct call *c)
{
    if (conn_start(conn, sql, nparams, params, c) < 0)
        return false;
    return loop_until(t, pred_flag, &c->is_done, 5000) && !c->was_sync && !c->has_err;
}

struct acquire {
    bool is_done;
    bool is_in_caller;
    bool was_sync;
    struct db_conn *conn;
    bool has_err;
    struct db_error err;
    int64_t done_us;
};

static void acquire_on_done(struct db_conn *conn, const struct db_error *err, void *arg)
{
    struct acquire *a = arg;

    a->was_sync = a->is_in_caller;
    a->is_done = true;
    a->done_us = mcx_now_us();
    a->conn = conn;
    if (err != NULL) {
        a->has_err = true;
        a->err = *err;
    }
}

static struct db_wait *acquire_start(struct db_pool *pool, struct acquire *a)
{
    struct db_wait *w;

    memset(a, 0, sizeof(*a));
    a->is_in_caller = true;
    w = db_pool_acquire(pool, acquire_on_done, a);
    a->is_in_caller = false;
    return w;
}

static struct db_conn *pool_borrow(struct itest *t, struct db_pool *pool)
{
    struct acquire a;

    acquire_start(pool, &a);
    if (!loop_until(t, pred_flag, &a.is_done, 5000) || a.was_sync)
        return NULL;
    return a.conn;
}

/* ---- (1) a burst of queries through a small pool ---- */

struct burst {
    struct db_pool *pool;
    int done;
    int ok;
    int unavailable;
    int other;
    int max_busy;
    bool is_issuing;
    int sync_deliveries;
    int64_t last_unavailable_us;
};

static void burst_on_result(struct db_result *res, const struct db_error *err, void *arg)
{
    struct burst *b = arg;
    struct db_pool_stats st;

    db_pool_get_stats(b->pool, &st);
    if (st.busy > b->max_busy)
        b->max_busy = st.busy;
    if (b->is_issuing)
        b->sync_deliveries++;
    b->done++;
    if (res != NULL) {
        b->ok++;
    } else if (err->kind == DB_ERR_UNAVAILABLE) {
        b->unavailable++;
        b->last_unavailable_us = mcx_now_us();
    } else {
        b->other++;
        fprintf(stderr, "itest: burst: unexpected error %d: %s\n", err->kind, err->message);
    }
}

struct count_target {
    const int *n;
    int target;
};

static bool pred_count(const void *arg)
{
    const struct count_target *c = arg;

    return *c->n >= c->target;
}

static void burst_fire(struct burst *b, int n)
{
    b->is_issuing = true;
    for (int i = 0; i < n; i++)
        db_query(b->pool, "SELECT pg_sleep(0.05)", 0, NULL, burst_on_result, b);
    b->is_issuing = false;
}

static long count_pool_backends(struct itest *t)
{
    const char *params[] = {t->dbname};

    return sync_number(t->admin_conninfo,
                       "SELECT count(*) FROM pg_stat_activity"
                       " WHERE datname = $1 AND application_name = 'mcxd'",
                       1, params);
}

static void test_concurrency(struct itest *t)
{
    struct burst b = {0};
    struct count_target done = {&b.done, 200};
    long backends;

    b.pool = pool_open(t, 4, 0, 30000, 0);
    CHECK(t, wait_pool(t, b.pool, 4, 4, 5000));
    burst_fire(&b, 200);
    loop_for(t, 300);
    backends = count_pool_backends(t);
    CHECK(t, loop_until(t, pred_count, &done, 20000));
    CHECK(t, b.ok == 200);
    CHECK(t, b.max_busy <= 4);
    CHECK(t, backends == 4);
    CHECK(t, b.sync_deliveries == 0);
    CHECK(t, wait_pool(t, b.pool, 4, 4, 1000));
    db_pool_free(b.pool);
}

/* ---- (2) a full wait queue refuses at once ---- */

static void test_queue_limit(struct itest *t)
{
    struct burst b = {0};
    struct count_target done = {&b.done, 200};
    struct db_pool_stats st;
    int64_t start;

    b.pool = pool_open(t, 4, 10, 5000, 0);
    CHECK(t, wait_pool(t, b.pool, 4, 4, 5000));
    start = mcx_now_us();
    burst_fire(&b, 200);
    CHECK(t, loop_until(t, pred_count, &done, 10000));
    CHECK(t, b.ok == 14);
    CHECK(t, b.unavailable == 186);
    CHECK(t, b.other == 0);
    CHECK(t, b.sync_deliveries == 0);
    CHECK(t, b.last_unavailable_us > 0 && (b.last_unavailable_us - start) / 1000 < 500);
    db_pool_get_stats(b.pool, &st);
    CHECK(t, st.queue_rejected == 186);
    CHECK(t, st.queue_timeouts == 0);
    db_pool_free(b.pool);
}

/* ---- (3) an acquire that waits too long fails ---- */

static void test_wait_timeout(struct itest *t)
{
    struct db_pool *pool = pool_open(t, 1, 0, 200, 0);
    struct call hold = {0};
    struct acquire a, cancelled;
    struct db_pool_stats st;
    struct db_op *op;
    int64_t start;

    CHECK(t, wait_pool(t, pool, 1, 1, 5000));
    op = call_start(pool, "SELECT pg_sleep(5)", 0, NULL, &hold);
    loop_for(t, 50);
    start = mcx_now_us();
    acquire_start(pool, &a);
    CHECK(t, loop_until(t, pred_flag, &a.is_done, 2000));
    CHECK(t, !a.was_sync && a.has_err && a.conn == NULL);
    CHECK(t, a.err.kind == DB_ERR_UNAVAILABLE);
    CHECK(t, strstr(a.err.message, "timed out") != NULL);
    CHECK(t, (a.done_us - start) / 1000 >= 190 && (a.done_us - start) / 1000 < 1000);
    db_pool_get_stats(pool, &st);
    CHECK(t, st.queue_timeouts == 1 && st.waiting == 0);
    /* A cancelled wait never calls back, even past its timeout. */
    db_wait_cancel(acquire_start(pool, &cancelled));
    loop_for(t, 400);
    CHECK(t, !cancelled.is_done);
    CHECK(t, !hold.is_done);
    db_op_cancel(op);
    CHECK(t, wait_pool(t, pool, 1, 1, 2000));
    call_reset(&hold);
    db_pool_free(pool);
}

/* ---- (4) a transaction on a lent connection ---- */

static long call_number(const struct call *c)
{
    long n = -1;

    if (c->res == NULL || mcx_parse_int(db_result_value(c->res, 0, 0), 0, 1L << 40, &n) < 0)
        return -1;
    return n;
}

static long pool_count_rows(struct itest *t, struct db_pool *pool, const char *sql)
{
    struct call c = {0};
    long n;

    if (!pool_run(t, pool, sql, 0, NULL, &c) || c.has_err)
        fprintf(stderr, "itest: %s: %s\n", sql, c.err.message);
    n = call_number(&c);
    call_reset(&c);
    return n;
}

static void test_transaction_rollback(struct itest *t, struct db_pool *pool)
{
    const char *params[] = {"42"};
    struct call c = {0};
    struct db_conn *conn = pool_borrow(t, pool);

    CHECK(t, conn != NULL);
    if (conn == NULL)
        return;
    CHECK(t, conn_run(t, conn, "BEGIN", 0, NULL, &c));
    CHECK(t, conn_run(t, conn, "INSERT INTO t4 (x) VALUES ($1)", 1, params, &c));
    CHECK(t, strcmp(db_result_cmd_tuples(c.res), "1") == 0);
    CHECK(t, conn_run(t, conn, "SELECT count(*) FROM t4 WHERE x = $1", 1, params, &c));
    CHECK(t, call_number(&c) == 1);
    /* One statement at a time per connection. */
    CHECK(t, conn_start(conn, "SELECT 1", 0, NULL, &c) == 0);
    CHECK(t, db_conn_query(conn, "SELECT 2", 0, NULL, call_on_result, &c) == -1);
    CHECK(t, loop_until(t, pred_flag, &c.is_done, 2000) && !c.was_sync);
    call_reset(&c);
    db_conn_release(conn);
    CHECK(t, wait_pool(t, pool, 2, 2, 2000));
    CHECK(t, pool_count_rows(t, pool, "SELECT count(*) FROM t4") == 0);
}

static void test_transaction_commit(struct itest *t, struct db_pool *pool)
{
    struct call c = {0};
    struct db_conn *conn = pool_borrow(t, pool);

    CHECK(t, conn != NULL);
    if (conn == NULL)
        return;
    CHECK(t, conn_run(t, conn, "BEGIN", 0, NULL, &c));
    CHECK(t, conn_run(t, conn, "INSERT INTO t4 (x) VALUES (1)", 0, NULL, &c));
    CHECK(t, conn_run(t, conn, "COMMIT", 0, NULL, &c));
    call_reset(&c);
    db_conn_release(conn);
    CHECK(t, pool_count_rows(t, pool, "SELECT count(*) FROM t4") == 1);
}

/* Releasing while a statement runs inside a transaction: cancel, drain, roll back. */
static void test_transaction_release_running(struct itest *t, struct db_pool *pool)
{
    struct call c = {0};
    struct db_conn *conn = pool_borrow(t, pool);
    int64_t start;

    CHECK(t, conn != NULL);
    if (conn == NULL)
        return;
    CHECK(t, conn_run(t, conn, "BEGIN", 0, NULL, &c));
    CHECK(t, conn_run(t, conn, "INSERT INTO t4 (x) VALUES (7)", 0, NULL, &c));
    CHECK(t, conn_start(conn, "SELECT pg_sleep(10)", 0, NULL, &c) == 0);
    loop_for(t, 100);
    start = mcx_now_us();
    db_conn_release(conn);
    CHECK(t, wait_pool(t, pool, 2, 2, 3000));
    CHECK(t, ms_since(start) < 1000);
    CHECK(t, !c.is_done);
    CHECK(t, pool_count_rows(t, pool, "SELECT count(*) FROM t4 WHERE x = 7") == 0);
}

static void test_transactions(struct itest *t)
{
    struct db_pool *pool = pool_open(t, 2, 0, 5000, 0);
    struct call c = {0};

    CHECK(t, wait_pool(t, pool, 2, 2, 5000));
    CHECK(t, pool_run(t, pool, "CREATE TABLE t4 (x int)", 0, NULL, &c) && !c.has_err);
    call_reset(&c);
    test_transaction_rollback(t, pool);
    test_transaction_commit(t, pool);
    test_transaction_release_running(t, pool);
    db_pool_free(pool);
}

/* ---- (5) cancellation ---- */

static long count_sleepers(struct itest *t)
{
    const char *params[] = {t->dbname};

    return sync_number(t->admin_conninfo,
                       "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
                       " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'",
                       1, params);
}

static void test_op_cancel(struct itest *t, struct db_pool *pool)
{
    struct call c = {0};
    struct db_pool_stats st;
    struct db_op *op;
    int64_t start;

    op = call_start(pool, "SELECT pg_sleep(10)", 0, NULL, &c);
    loop_for(t, 150);
    db_pool_get_stats(pool, &st);
    CHECK(t, st.busy == 1);
    CHECK(t, count_sleepers(t) == 1);
    start = mcx_now_us();
    db_op_cancel(op);
    CHECK(t, wait_pool(t, pool, 2, 2, 2000));
    CHECK(t, ms_since(start) < 1000);
    loop_for(t, 300);
    CHECK(t, !c.is_done);
    CHECK(t, count_sleepers(t) == 0);
    CHECK(t, pool_count_rows(t, pool, "SELECT 5") == 5);
}

static void test_conn_cancel(struct itest *t, struct db_pool *pool)
{
    struct call sleeper = {0}, c = {0};
    struct db_conn *conn = pool_borrow(t, pool);
    int64_t start;

    CHECK(t, conn != NULL);
    if (conn == NULL)
        return;
    CHECK(t, conn_start(conn, "SELECT pg_sleep(10)", 0, NULL, &sleeper) == 0);
    loop_for(t, 100);
    start = mcx_now_us();
    db_conn_cancel(conn);
    /* Busy until the cancelled statement has drained, then usable again. */
    while (conn_start(conn, "SELECT 6", 0, NULL, &c) < 0 && ms_since(start) < 3000)
        loop_for(t, 10);
    CHECK(t, ms_since(start) < 1000);
    CHECK(t, loop_until(t, pred_flag, &c.is_done, 2000) && !c.has_err);
    CHECK(t, call_number(&c) == 6);
    CHECK(t, !sleeper.is_done);
    call_reset(&c);
    db_conn_release(conn);
    CHECK(t, wait_pool(t, pool, 2, 2, 2000));
}

static void test_cancel(struct itest *t)
{
    struct db_pool *pool = pool_open(t, 2, 0, 5000, 0);

    CHECK(t, wait_pool(t, pool, 2, 2, 5000));
    test_op_cancel(t, pool);
    test_conn_cancel(t, pool);
    db_pool_free(pool);
}

/* ---- (6) SQL errors ---- */

static void test_sql_errors(struct itest *t)
{
    struct db_pool *pool = pool_open(t, 2, 0, 5000, 0);
    const char *params[] = {"1"};
    struct call c = {0};

    CHECK(t, pool_run(t, pool, "SELECT * FROM no_such_table", 0, NULL, &c));
    CHECK(t, c.has_err && c.err.kind == DB_ERR_QUERY);
    CHECK(t, strcmp(c.err.sqlstate, "42P01") == 0);
    CHECK(t, strstr(c.err.message, "no_such_table") != NULL);
    CHECK(t, strchr(c.err.message, '\n') == NULL);
    CHECK(t, pool_run(t, pool, "CREATE TABLE t6 (id int PRIMARY KEY)", 0, NULL, &c) && !c.has_err);
    CHECK(t, pool_run(t, pool, "INSERT INTO t6 VALUES ($1)", 1, params, &c) && !c.has_err);
    CHECK(t, pool_run(t, pool, "INSERT INTO t6 VALUES ($1)", 1, params, &c));
    CHECK(t, c.has_err && c.err.kind == DB_ERR_QUERY && strcmp(c.err.sqlstate, "23505") == 0);
    CHECK(t, pool_run(t, pool, "SELECT $1::int", 1, (const char *const[]){"x"}, &c));
    CHECK(t, c.has_err && strcmp(c.err.sqlstate, "22P02") == 0);
    /* The pool is unharmed. */
    CHECK(t, pool_count_rows(t, pool, "SELECT count(*) FROM t6") == 1);
    call_reset(&c);
    db_pool_free(pool);
}

/* ---- (7) results as JSON ---- */

static void test_json(struct itest *t)
{
    static const char sql[] =
        "SELECT 1::int2 AS i2, -2::int4 AS i4, 9007199254740993::int8 AS i8,"
        " 12345678901234567890.50::numeric AS num, 1.5::float8 AS f8,"
        " 'NaN'::float8 AS nan, true AS yes, false AS no,"
        " '{\"k\":[1,2]}'::jsonb AS jb, '[1, {\"a\":null}]'::json AS js,"
        " E'say \"hi\"\\n' AS txt, NULL::int AS nil, '2026-02-01'::date AS day";
    static const char want[] =
        "[{\"i2\":1,\"i4\":-2,\"i8\":9007199254740993,\"num\":12345678901234567890.50,"
        "\"f8\":1.5,\"nan\":null,\"yes\":true,\"no\":false,\"jb\":{\"k\": [1, 2]},"
        "\"js\":[1, {\"a\":null}],\"txt\":\"say \\\"hi\\\"\\n\",\"nil\":null,"
        "\"day\":\"2026-02-01\"}]";
    struct db_pool *pool = pool_open(t, 1, 0, 5000, 0);
    struct json_writer w;
    struct call c = {0};
    struct buf out;

    buf_init(&out);
    CHECK(t, pool_run(t, pool, sql, 0, NULL, &c) && !c.has_err);
    json_writer_init(&w, &out);
    db_result_rows_json(c.res, &w);
    CHECK(t, out.data != NULL && strcmp(out.data, want) == 0);
    if (out.data != NULL && strcmp(out.data, want) != 0)
        fprintf(stderr, "itest: json got  %s\nitest: json want %s\n", out.data, want);
    CHECK(t, db_result_rows(c.res) == 1 && db_result_cols(c.res) == 13);
    CHECK(t, db_result_col(c.res, "jb") == 8 && db_result_col(c.res, "JB") == -1);
    CHECK(t, strcmp(db_result_name(c.res, 12), "day") == 0);
    CHECK(t, db_result_is_null(c.res, 0, 11) && db_result_value(c.res, 0, 11) == NULL);
    CHECK(t, db_result_value(c.res, 1, 0) == NULL && db_result_value(c.res, 0, 99) == NULL);
    CHECK(t, strcmp(call_value(&c, 0, 6), "t") == 0);
    call_reset(&c);
    buf_cleanup(&out);
    db_pool_free(pool);
}

/* ---- (8) reconnect after the server dropped every connection ---- */

struct retry {
    struct itest *t;
    struct db_pool *pool;
    struct call c;
    bool is_ok;
};

static bool pred_query_ok(const void *arg)
{
    struct retry *r = (struct retry *)arg;

    if (r->is_ok)
        return true;
    if (r->c.is_done) {
        r->is_ok = !r->c.has_err;
        r->c.is_done = false;
        if (!r->is_ok)
            call_start(r->pool, "SELECT 1", 0, NULL, &r->c);
    }
    return r->is_ok;
}

static void test_reconnect(struct itest *t)
{
    const char *params[] = {t->dbname};
    struct db_pool *pool = pool_open(t, 4, 0, 5000, 0);
    struct retry r = {.t = t, .pool = pool};
    struct call victim = {0};
    long killed;

    CHECK(t, wait_pool(t, pool, 4, 4, 5000));
    call_start(pool, "SELECT pg_sleep(10)", 0, NULL, &victim);
    loop_for(t, 100);
    killed = sync_number(t->admin_conninfo,
                         "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                         " WHERE application_name = 'mcxd' AND datname = $1",
                         1, params);
    CHECK(t, killed == 4);
    CHECK(t, loop_until(t, pred_flag, &victim.is_done, 3000));
    CHECK(t, victim.has_err && victim.err.kind == DB_ERR_CONNECTION);
    call_start(pool, "SELECT 1", 0, NULL, &r.c);
    CHECK(t, loop_until(t, pred_query_ok, &r, 5000));
    CHECK(t, wait_pool(t, pool, 4, 4, 5000));
    CHECK(t, count_pool_backends(t) == 4);
    /* The op from a failed try may still be out; freeing the pool drops it. */
    db_pool_free(pool);
    call_reset(&r.c);
    call_reset(&victim);
}

/* ---- (10) a database that is down fails fast ---- */

static void test_down_fails_fast(struct itest *t)
{
    struct db_pool_config cfg = {
        .conninfo = "host=/nonexistent/itest_db_pool user=mcx dbname=nothing",
        .size = 2,
        .wait_timeout_ms = 5000,
    };
    struct db_pool *pool = db_pool_new(t->base, &cfg);
    struct db_pool_stats st;
    struct acquire a;
    int64_t start = mcx_now_us();

    acquire_start(pool, &a);
    CHECK(t, loop_until(t, pred_flag, &a.is_done, 3000));
    CHECK(t, !a.was_sync && a.has_err && a.err.kind == DB_ERR_UNAVAILABLE);
    CHECK(t, strstr(a.err.message, "database unavailable") != NULL);
    CHECK(t, (a.done_us - start) / 1000 < 1000);
    start = mcx_now_us();
    acquire_start(pool, &a);
    CHECK(t, loop_until(t, pred_flag, &a.is_done, 3000));
    CHECK(t, !a.was_sync && a.has_err && a.err.kind == DB_ERR_UNAVAILABLE);
    CHECK(t, (a.done_us - start) / 1000 < 100);
    db_pool_get_stats(pool, &st);
    CHECK(t, st.connected == 0 && st.waiting == 0);
    db_pool_free(pool);
}

/* A database that comes up later is found by the reconnect backoff, same pool. */
static void test_down_then_up(struct itest *t)
{
    char db[96], conninfo[1200], sql[160];
    struct db_pool_config cfg = {.conninfo = conninfo, .size = 2, .wait_timeout_ms = 5000};
    struct db_pool *pool;
    struct acquire a;
    struct call c = {0};

    snprintf(db, sizeof(db), "%s_late", t->dbname);
    snprintf(conninfo, sizeof(conninfo), "host='%s/run' user=mcx dbname=%s", t->pg_dir, db);
    pool = db_pool_new(t->base, &cfg);
    acquire_start(pool, &a);
    CHECK(t, loop_until(t, pred_flag, &a.is_done, 3000));
    CHECK(t, a.has_err && a.err.kind == DB_ERR_UNAVAILABLE);
    CHECK(t, strstr(a.err.message, "does not exist") != NULL);
    loop_for(t, 300);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    CHECK(t, sync_run(t->admin_conninfo, sql) == 0);
    CHECK(t, wait_pool(t, pool, 2, 2, 7000));
    CHECK(t, pool_run(t, pool, "SELECT 1", 0, NULL, &c) && !c.has_err);
    call_reset(&c);
    db_pool_free(pool);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    CHECK(t, sync_run(t->admin_conninfo, sql) == 0);
}

/* ---- (11) session settings ---- */

static void test_session_settings(struct itest *t)
{
    struct db_pool *pool = pool_open(t, 1, 0, 5000, 100);
    struct db_pool *dflt = pool_open(t, 1, 0, 5000, -1);
    struct call c = {0};

    CHECK(t, pool_run(t, pool, "SHOW application_name", 0, NULL, &c) && !c.has_err);
    CHECK(t, strcmp(call_value(&c, 0, 0), "mcxd") == 0);
    CHECK(t, pool_run(t, pool, "SELECT pg_sleep(1)", 0, NULL, &c));
    CHECK(t, c.has_err && c.err.kind == DB_ERR_QUERY && strcmp(c.err.sqlstate, "57014") == 0);
    CHECK(t, pool_run(t, dflt, "SHOW statement_timeout", 0, NULL, &c) && !c.has_err);
    CHECK(t, strcmp(call_value(&c, 0, 0), "30s") == 0);
    call_reset(&c);
    db_pool_free(pool);
    db_pool_free(dflt);
}

/* ---- (9) migrations and `mcx migrate` ---- */

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static long table_exists(struct itest *t, const char *name)
{
    const char *params[] = {name};

    return sync_number(t->conninfo, "SELECT (to_regclass($1) IS NOT NULL)::int", 1, params);
}

static void test_migrate_refusals(struct itest *t, const char *dir)
{
    struct mcx_error err;
    int applied = -1;

    /* An applied file changed: nothing at all is applied, the file is named. */
    CHECK(t, write_file(dir, "001_first.sql", "CREATE TABLE m1 (id int);\n-- edited\n") == 0);
    CHECK(t, write_file(dir, "003_third.sql", "CREATE TABLE m3 (id int);\n") == 0);
    CHECK(t, migrate_run(t->conninfo, dir, &applied, &err) == -1 && applied == 0);
    CHECK(t, strstr(err.message, "001_first.sql") != NULL);
    CHECK(t, strcmp(err.path, "001_first.sql") == 0);
    CHECK(t, table_exists(t, "m3") == 0);
    CHECK(t, write_file(dir, "001_first.sql", "CREATE TABLE m1 (id int);\n") == 0);
    CHECK(t, migrate_run(t->conninfo, dir, &applied, &err) == 0 && applied == 1);
    /* A failing file is rolled back and named with its line. */
    CHECK(t, write_file(dir, "004_bad.sql", "CREATE TABLE m4 (id int);\nSELECT nope;\n") == 0);
    CHECK(t, migrate_run(t->conninfo, dir, &applied, &err) == -1 && applied == 0);
    CHECK(t, strstr(err.message, "004_bad.sql, line 2") != NULL && err.line == 2);
    CHECK(t, table_exists(t, "m4") == 0);
    remove_file(dir, "004_bad.sql");
    CHECK(t, write_file(dir, "notes.sql", "SELECT 1;\n") == 0);
    CHECK(t, migrate_run(t->conninfo, dir, &applied, &err) == -1);
    CHECK(t, strstr(err.message, "notes.sql") != NULL);
    remove_file(dir, "notes.sql");
}

/* A second migrator waits for the advisory lock the first one holds. */
static void test_migrate_lock(struct itest *t, const char *dir)
{
    struct mcx_error err;
    struct db_sync *db = sync_open(t->conninfo);
    int status = -1;
    pid_t pid;

    CHECK(t, db != NULL);
    if (db == NULL)
        return;
    CHECK(t, db_sync_exec(db, "SELECT pg_advisory_lock(7168888)", 0, NULL, NULL, &err) == 0);
    CHECK(t, write_file(dir, "005_fifth.sql", "CREATE TABLE m5 (id int);\n") == 0);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int applied = 0;
        int rc = migrate_run(t->conninfo, dir, &applied, &err);
        _exit(rc == 0 && applied == 1 ? 0 : 1);
    }
    CHECK(t, pid > 0);
    usleep(400000);
    CHECK(t, waitpid(pid, &status, WNOHANG) == 0);
    CHECK(t, table_exists(t, "m5") == 0);
    CHECK(t, db_sync_exec(db, "SELECT pg_advisory_unlock(7168888)", 0, NULL, NULL, &err) == 0);
    CHECK(t, waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(t, table_exists(t, "m5") == 1);
    db_sync_close(db);
}

static void test_migrate_cli(struct itest *t, const char *dir)
{
    char *ok[] = {"mcx", "--database-url", t->conninfo, "migrate", "--dir", (char *)dir, NULL};
    char *no_value[] = {"mcx", "migrate", "--dir", NULL};
    char *unknown[] = {"mcx", "frobnicate", NULL};
    char *bad_opt[] = {"mcx", "migrate", "--nope", NULL};
    char *none[] = {"mcx", NULL};
    char *version[] = {"mcx", "--version", NULL};

    CHECK(t, mcx_cli_main(6, ok) == CLI_EXIT_OK);
    CHECK(t, mcx_cli_main(3, no_value) == CLI_EXIT_USAGE);
    CHECK(t, mcx_cli_main(2, unknown) == CLI_EXIT_USAGE);
    CHECK(t, mcx_cli_main(3, bad_opt) == CLI_EXIT_USAGE);
    CHECK(t, mcx_cli_main(1, none) == CLI_EXIT_USAGE);
    CHECK(t, mcx_cli_main(2, version) == CLI_EXIT_OK);
    CHECK(t, write_file(dir, "002_second.sql", "CREATE TABLE m2 (id bigint);\n") == 0);
    CHECK(t, mcx_cli_main(6, ok) == CLI_EXIT_FAILED);
}

/* The project's own schemas/sql on a fresh database, through the CLI. */
static void test_migrate_project(struct itest *t)
{
    char db[96], conninfo[1200], sql[160];
    char *argv[] = {
        "mcx", "--database-url", conninfo, "migrate", "--dir", MCX_SOURCE_DIR "/schemas/sql", NULL};

    snprintf(db, sizeof(db), "%s_schema", t->dbname);
    snprintf(conninfo, sizeof(conninfo), "host='%s/run' user=mcx dbname=%s", t->pg_dir, db);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    CHECK(t, sync_run(t->admin_conninfo, sql) == 0);
    CHECK(t, mcx_cli_main(6, argv) == CLI_EXIT_OK);
    CHECK(t, mcx_cli_main(6, argv) == CLI_EXIT_OK);
    CHECK(t, sync_number(conninfo,
                         "SELECT count(*) FROM pg_extension"
                         " WHERE extname IN ('pg_trgm', 'unaccent')",
                         0, NULL) == 2);
    CHECK(t, sync_number(conninfo, "SELECT count(*) FROM schema_migrations", 0, NULL) >= 1);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    CHECK(t, sync_run(t->admin_conninfo, sql) == 0);
}

static void test_migrations(struct itest *t)
{
    static const char *const files[] = {"001_first.sql", "002_second.sql", "003_third.sql",
                                        "005_fifth.sql", "README.txt"};
    char dir[] = "/tmp/itest_migrate_XXXXXX";
    struct mcx_error err;
    int applied = -1;

    CHECK(t, mkdtemp(dir) != NULL);
    CHECK(t, write_file(dir, "001_first.sql", "CREATE TABLE m1 (id int);\n") == 0);
    CHECK(t, write_file(dir, "002_second.sql",
                        "CREATE TABLE m2 (id int);\n"
                        "INSERT INTO m2 VALUES (2);\n") == 0);
    CHECK(t, write_file(dir, "README.txt", "not a migration\n") == 0);
    CHECK(t, migrate_run(t->conninfo, dir, &applied, &err) == 0 && applied == 2);
    CHECK(t, sync_number(t->conninfo,
                         "SELECT count(*) FROM schema_migrations WHERE length(checksum) = 64", 0,
                         NULL) == 2);
    CHECK(t, migrate_run(t->conninfo, dir, &applied, &err) == 0 && applied == 0);
    test_migrate_refusals(t, dir);
    test_migrate_lock(t, dir);
    test_migrate_cli(t, dir);
    test_migrate_project(t);
    for (size_t i = 0; i < MCX_ARRAY_LEN(files); i++)
        remove_file(dir, files[i]);
    CHECK(t, rmdir(dir) == 0);
}

/* ---- driver ---- */

int main(void)
{
    static const struct itest_case cases[] = {
        {"concurrency: 200 queries through 4 connections", test_concurrency},
        {"queue limit: 14 served, 186 refused at once", test_queue_limit},
        {"wait timeout", test_wait_timeout},
        {"transactions on a lent connection", test_transactions},
        {"cancellation", test_cancel},
        {"SQL errors", test_sql_errors},
        {"JSON conversion", test_json},
        {"reconnect after the backends were terminated", test_reconnect},
        {"migrations and mcx migrate", test_migrations},
        {"database down fails fast", test_down_fails_fast},
        {"database that comes up later is found", test_down_then_up},
        {"session settings", test_session_settings},
    };
    struct itest t = {0};

    if (itest_setup(&t, "itest_db_pool") < 0)
        return 1;
    itest_run_cases(&t, cases, MCX_ARRAY_LEN(cases));
    return itest_finish(&t);
}
