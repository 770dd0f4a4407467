/*
 * itest.h — what the C integration tests share: counted checks, running the loop
 * until something happened, and, with ITEST_DB defined before the include, the
 * database tests' struct itest, a throw-away database in the ctest cluster
 * (MCX_TEST_PG_DIR) and the blocking helpers around it.
 *
 * Without ITEST_DB, define struct itest before including this header; it needs
 * `struct event_base *base; int checks; int failures;`.
 */
#ifndef MCX_ITEST_H
#define MCX_ITEST_H

#include <event2/event.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/util.h"

#ifdef ITEST_DB
#include "server/db.h"

struct itest {
    struct event_base *base;
    char pg_dir[512];
    char dbname[64];
    char admin_conninfo[1024]; /* the maintenance database */
    char conninfo[1024];       /* this test's database */
    int checks;
    int failures;
};
#endif

static inline void check_that(struct itest *t, bool ok, const char *what, const char *file,
                              int line)
{
    t->checks++;
    if (ok)
        return;
    t->failures++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
}

#define CHECK(t, cond) check_that((t), (cond), #cond, __FILE__, __LINE__)

static inline int64_t ms_since(int64_t start_us)
{
    return (mcx_now_us() - start_us) / 1000;
}

/* ---- running the loop until something happened ---- */

typedef bool (*itest_pred)(const void *arg);

static inline void itest_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop in short turns until pred holds or ms pass; returns pred. */
static inline bool loop_until(struct itest *t, itest_pred pred, const void *arg, int ms)
{
    struct timeval tick = {0, 10000};
    struct event *ev = evtimer_new(t->base, itest_on_tick, NULL);
    int64_t start = mcx_now_us();

    while (!pred(arg) && ms_since(start) < ms) {
        evtimer_add(ev, &tick);
        event_base_loop(t->base, EVLOOP_ONCE);
    }
    event_free(ev);
    return pred(arg);
}

static inline bool pred_never(const void *arg)
{
    (void)arg;
    return false;
}

static inline void loop_for(struct itest *t, int ms)
{
    loop_until(t, pred_never, NULL, ms);
}

#ifdef ITEST_DB

/* ---- the blocking side ---- */

static inline struct db_sync *sync_open(const char *conninfo)
{
    struct mcx_error err;
    struct db_sync *db = db_sync_connect(conninfo, &err);

    if (db == NULL)
        fprintf(stderr, "itest: %s\n", err.message);
    return db;
}

/* Runs sql on conninfo and returns the first cell as a number, -1 on error. */
static inline long sync_number(const char *conninfo, const char *sql, int nparams,
                               const char *const *params)
{
    struct mcx_error err;
    struct db_result *res = NULL;
    struct db_sync *db = sync_open(conninfo);
    long n = -1;

    if (db == NULL)
        return -1;
    if (db_sync_exec(db, sql, nparams, params, &res, &err) < 0)
        fprintf(stderr, "itest: %s: %s\n", sql, err.message);
    else if (mcx_parse_int(db_result_value(res, 0, 0), -1, 1L << 40, &n) < 0)
        n = -1;
    db_result_free(res);
    db_sync_close(db);
    return n;
}

static inline int sync_run(const char *conninfo, const char *sql)
{
    struct mcx_error err;
    struct db_sync *db = sync_open(conninfo);
    int rc;

    if (db == NULL)
        return -1;
    rc = db_sync_exec(db, sql, 0, NULL, NULL, &err);
    if (rc < 0)
        fprintf(stderr, "itest: %s: %s\n", sql, err.message);
    db_sync_close(db);
    return rc;
}

/* ---- driver ---- */

/* A database of this test's own (name_<pid>) in the ctest cluster, and a loop. */
static inline int itest_setup(struct itest *t, const char *name)
{
    const char *dir = getenv("MCX_TEST_PG_DIR");
    char sql[128];

    if (dir == NULL || *dir == '\0' || strlen(dir) >= sizeof(t->pg_dir)) {
        fprintf(stderr, "%s: set MCX_TEST_PG_DIR to a running test cluster\n", name);
        return -1;
    }
    mcx_strlcpy(t->pg_dir, dir, sizeof(t->pg_dir));
    snprintf(t->dbname, sizeof(t->dbname), "%s_%ld", name, (long)getpid());
    snprintf(t->admin_conninfo, sizeof(t->admin_conninfo), "host='%s/run' user=mcx dbname=postgres",
             dir);
    snprintf(t->conninfo, sizeof(t->conninfo), "host='%s/run' user=mcx dbname=%s", dir, t->dbname);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", t->dbname);
    if (sync_run(t->admin_conninfo, sql) < 0)
        return -1;
    t->base = event_base_new();
    return t->base != NULL ? 0 : -1;
}

static inline void itest_teardown(struct itest *t)
{
    char sql[128];

    if (t->base != NULL)
        event_base_free(t->base);
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->dbname);
    if (sync_run(t->admin_conninfo, sql) < 0)
        t->failures++;
}

struct itest_case {
    const char *name;
    void (*run)(struct itest *t);
};

/* Runs the cases in order, one TAP-like line each. */
static inline void itest_run_cases(struct itest *t, const struct itest_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int before = t->failures;
        int64_t start = mcx_now_us();
        cases[i].run(t);
        fprintf(stderr, "%s %zu - %s (%lld ms)\n", t->failures == before ? "ok" : "not ok", i + 1,
                cases[i].name, (long long)ms_since(start));
    }
}

/* Drops the database and says how it went: main's exit status. */
static inline int itest_finish(struct itest *t)
{
    itest_teardown(t);
    libevent_global_shutdown();
    fprintf(stderr, "%d checks, %d failed\n", t->checks, t->failures);
    return t->failures == 0 ? 0 : 1;
}

#endif /* ITEST_DB */

#endif
