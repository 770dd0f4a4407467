/*
 * db.c — the asynchronous PostgreSQL pool (libpq's non-blocking API driven by the
 * libevent loop) and the small blocking db_sync_* API for the CLI and migrations.
 * This is the only file that includes libpq-fe.h.
 *
 * Each pooled connection is a small state machine, PgBouncer style:
 *
 *   DOWN -> CONNECTING -> SETUP -> IDLE -> LENT -> (RESETTING ->) IDLE
 *
 * and every state falls back to DOWN, with a reconnect timer, when its socket
 * breaks. Acquires queue in a bounded FIFO, each with its own timeout; every
 * callback is delivered from an event callback, never from inside the call that
 * asked for it.
 *
 * A LISTEN/NOTIFY listener keeps one more connection of its own, outside the pool,
 * with the same connect, backoff and deadline habits (see "LISTEN/NOTIFY" below).
 */
#include "server/db.h"

#include <libpq-fe.h>

#include <event2/event.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "server/json.h"

#define DB_DEFAULT_SIZE 8
#define DB_MAX_SIZE 1000 /* more backends than this is a configuration error */
#define DB_DEFAULT_MAX_WAITING 1024
#define DB_DEFAULT_WAIT_TIMEOUT_MS 5000
#define DB_DEFAULT_STATEMENT_TIMEOUT_MS 30000

/* Reconnect backoff: first retry after 100 ms, doubling to 5 s, with jitter so that N
 * nodes restarting with one database do not reconnect in lockstep. */
#define DB_BACKOFF_MIN_MS 100
#define DB_BACKOFF_MAX_MS 5000
/* A connection that dies sooner than this after connecting counts as a failed attempt,
 * so a server that accepts and then drops us is not hammered in a tight loop. */
#define DB_MIN_UPTIME_US 1000000
/* libpq's connect_timeout is only honoured by the blocking connect; the pool keeps its
 * own deadline for connect + session setup. */
#define DB_CONNECT_TIMEOUT_MS 10000
/* Draining a cancelled query or rolling back must not hold a slot forever. */
#define DB_RESET_TIMEOUT_MS 10000
#define DB_SYNC_CONNECT_TIMEOUT "10"

/* Type OIDs are fixed in the PostgreSQL catalog (pg_type.dat); libpq does not export
 * them and server headers are not for clients. */
enum db_type_oid {
    DB_OID_BOOL = 16,
    DB_OID_INT8 = 20,
    DB_OID_INT2 = 21,
    DB_OID_INT4 = 23,
    DB_OID_OID = 26,
    DB_OID_JSON = 114,
    DB_OID_FLOAT4 = 700,
    DB_OID_FLOAT8 = 701,
    DB_OID_NUMERIC = 1700,
    DB_OID_JSONB = 3802,
};

enum db_conn_state {
    DB_CONN_DOWN,       /* no socket; the timer starts the next connect attempt */
    DB_CONN_CONNECTING, /* PQconnectPoll in progress; the timer is the deadline */
    DB_CONN_SETUP,      /* running the session SETs; the timer is the deadline */
    DB_CONN_IDLE,       /* in pool->idle, ready to lend */
    DB_CONN_LENT,       /* owned by a caller until db_conn_release() */
    DB_CONN_RESETTING,  /* released: draining a cancelled query or rolling back */
};

enum db_wait_state {
    DB_WAIT_QUEUED,  /* in pool->waits, counted in nwaiting, timer armed */
    DB_WAIT_REFUSED, /* in pool->refused, error delivered on the next kick */
};

struct db_result {
    PGresult *pg;
    bool is_kept;
};

struct db_conn {
    struct db_pool *pool;
    PGconn *pg;
    struct event *ev_read;  /* persistent while a socket exists */
    struct event *ev_write; /* armed only while libpq holds unsent output */
    struct event *timer;    /* meaning depends on the state, see db_conn_state */
    enum db_conn_state state;
    int backoff_ms;
    int64_t up_since_us;
    bool is_querying;  /* a statement was sent and its final result not yet read */
    bool has_rollback; /* RESETTING: ROLLBACK already sent */
    bool has_deferred; /* LENT: deferred holds an error for the next loop turn */
    PGresult *result;  /* the result kept while the rest of the statement drains */
    db_result_cb cb;   /* NULL once cancelled: results are read and dropped */
    void *cb_arg;
    struct db_error deferred;
    TAILQ_ENTRY(db_conn) idle_link;
};

struct db_wait {
    struct db_pool *pool;
    db_acquire_cb cb;
    void *arg;
    struct event *timer;
    enum db_wait_state state;
    bool is_delivering; /* the callback is running: cancel is a no-op */
    struct db_error err;
    TAILQ_ENTRY(db_wait) link;
};

struct db_op {
    char *sql;
    int nparams;
    char **params;
    db_result_cb cb;
    void *arg;
    struct db_wait *wait;
    struct db_conn *conn;
    bool is_delivering;
};

TAILQ_HEAD(db_conn_list, db_conn);
TAILQ_HEAD(db_wait_list, db_wait);

struct db_pool {
    struct event_base *base;
    char *conninfo;
    int size;
    int max_waiting;
    int wait_timeout_ms;
    int statement_timeout_ms;
    struct db_conn *conns;
    struct db_conn_list idle;
    struct db_wait_list waits;
    struct db_wait_list refused;
    int nidle;
    int nwaiting;
    int nrefused;
    struct event *kick; /* zero timer: hands out connections and errors on a later turn */
    bool is_down;       /* no connection up and the last connect attempt failed */
    char down_message[256];
    uint64_t rng;
    unsigned long long queue_rejected;
    unsigned long long queue_timeouts;
};

static void conn_on_socket(evutil_socket_t fd, short what, void *arg);
static void conn_on_timer(evutil_socket_t fd, short what, void *arg);
static void conn_break(struct db_conn *conn, const char *why);
static void op_on_acquire(struct db_conn *conn, const struct db_error *err, void *arg);
static void op_on_result(struct db_result *res, const struct db_error *err, void *arg);
static void op_free(struct db_op *op);

/* ---- small helpers ---- */

/* Copies the first line of msg: libpq messages end in '\n' and may add hint lines. */
static void copy_line(char *dst, size_t size, const char *msg)
{
    size_t n;

    if (msg == NULL || *msg == '\0')
        msg = "unknown database error";
    n = strcspn(msg, "\n");
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '\t' || msg[n - 1] == '\r'))
        n--;
    if (n >= size)
        n = size - 1;
    memcpy(dst, msg, n);
    dst[n] = '\0';
}

static void error_set(struct db_error *e, enum db_error_kind kind, const char *msg)
{
    e->kind = kind;
    e->sqlstate[0] = '\0';
    copy_line(e->message, sizeof(e->message), msg);
}

/* Some server errors mean the session is gone rather than the statement was wrong:
 * class 08 (connection exception) and 57P0x (admin/crash shutdown, cannot connect). */
static bool sqlstate_is_connection(const char *state)
{
    return strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

static void error_from_result(struct db_error *e, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

    error_set(e, DB_ERR_QUERY, primary != NULL ? primary : PQresultErrorMessage(r));
    if (state != NULL) {
        mcx_strlcpy(e->sqlstate, state, sizeof(e->sqlstate));
        if (sqlstate_is_connection(state))
            e->kind = DB_ERR_CONNECTION;
    }
}

/* Notices ("relation already exists, skipping") are not errors and must not reach
 * stderr from inside a server; a log module may hook in here later. */
static void notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static struct event *event_new_or_die(struct event_base *base, evutil_socket_t fd, short what,
                                      event_callback_fn cb, void *arg)
{
    struct event *ev = event_new(base, fd, what, cb, arg);

    if (ev == NULL) {
        fprintf(stderr, "mcx: event_new failed\n");
        abort();
    }
    return ev;
}

static void timer_arm(struct event *ev, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    evtimer_add(ev, &tv);
}

/* xorshift64*: jitter needs no cryptographic quality, only no shared state. */
static uint64_t rng_next(uint64_t *rng)
{
    *rng ^= *rng >> 12;
    *rng ^= *rng << 25;
    *rng ^= *rng >> 27;
    return *rng * 2685821657736338717ULL;
}

/* A delay in [ms/2, ms]. */
static int jitter_ms(uint64_t *rng, int ms)
{
    if (ms <= 1)
        return ms;
    return ms / 2 + (int)(rng_next(rng) % (uint64_t)(ms / 2 + 1));
}

static int backoff_next(int ms)
{
    if (ms <= 0)
        return DB_BACKOFF_MIN_MS;
    return ms >= DB_BACKOFF_MAX_MS / 2 ? DB_BACKOFF_MAX_MS : ms * 2;
}

static bool conn_is_connected(const struct db_conn *conn)
{
    switch (conn->state) {
    case DB_CONN_IDLE:
    case DB_CONN_RESETTING:
        return true;
    case DB_CONN_LENT:
        return conn->pg != NULL;
    default:
        return false;
    }
}

static int pool_count_connected(const struct db_pool *pool)
{
    int n = 0;

    for (int i = 0; i < pool->size; i++)
        n += conn_is_connected(&pool->conns[i]);
    return n;
}

static void pool_kick(struct db_pool *pool)
{
    timer_arm(pool->kick, 0);
}

/* ---- results ---- */

static struct db_result *result_wrap(PGresult *r)
{
    struct db_result *res = xcalloc(1, sizeof(*res));

    res->pg = r;
    return res;
}

static bool result_is_ok(const PGresult *r)
{
    switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        return true;
    default:
        return false;
    }
}

/* Hands r (owned) to cb as a result or an error; r is freed unless the callback kept it. */
static void result_deliver(PGresult *r, db_result_cb cb, void *arg)
{
    struct db_error e;
    struct db_result *res;

    if (r == NULL) {
        error_set(&e, DB_ERR_CONNECTION, "the statement returned no result");
        cb(NULL, &e, arg);
        return;
    }
    if (!result_is_ok(r)) {
        error_from_result(&e, r);
        PQclear(r);
        cb(NULL, &e, arg);
        return;
    }
    res = result_wrap(r);
    cb(res, NULL, arg);
    if (!res->is_kept)
        db_result_free(res);
}

/* ---- connection: sockets and timers ---- */

static void conn_unwatch(struct db_conn *conn)
{
    if (conn->ev_read != NULL)
        event_free(conn->ev_read);
    if (conn->ev_write != NULL)
        event_free(conn->ev_write);
    conn->ev_read = NULL;
    conn->ev_write = NULL;
}

/*
 * (Re)creates the socket events for the connection's current socket. While
 * connecting, libpq may close one socket and open another (next host or address),
 * and the new one can reuse the old number, so the events are rebuilt at every poll
 * step rather than compared by number.
 */
static int conn_watch(struct db_conn *conn)
{
    struct event_base *base = conn->pool->base;
    int fd = PQsocket(conn->pg);

    conn_unwatch(conn);
    if (fd < 0)
        return -1;
    conn->ev_read = event_new_or_die(base, fd, EV_READ | EV_PERSIST, conn_on_socket, conn);
    conn->ev_write = event_new_or_die(base, fd, EV_WRITE | EV_PERSIST, conn_on_socket, conn);
    return 0;
}

static void conn_arm(struct db_conn *conn, bool want_read, bool want_write)
{
    if (want_read)
        event_add(conn->ev_read, NULL);
    else
        event_del(conn->ev_read);
    if (want_write)
        event_add(conn->ev_write, NULL);
    else
        event_del(conn->ev_write);
}

/* Pushes libpq's output buffer; EV_WRITE stays armed until it is empty. */
static int conn_flush(struct db_conn *conn)
{
    int r = PQflush(conn->pg);

    if (r < 0)
        return -1;
    conn_arm(conn, true, r == 1);
    return 0;
}

/* Drops the socket (events first, while the descriptor is still open). */
static void conn_close(struct db_conn *conn)
{
    conn_unwatch(conn);
    if (conn->pg != NULL)
        PQfinish(conn->pg);
    conn->pg = NULL;
    PQclear(conn->result);
    conn->result = NULL;
    conn->is_querying = false;
    conn->has_rollback = false;
    evtimer_del(conn->timer);
}

static void conn_schedule_connect(struct db_conn *conn, int delay_ms)
{
    conn->state = DB_CONN_DOWN;
    timer_arm(conn->timer, delay_ms);
}

/* ---- pool: lending and refusing ---- */

/* Runs a wait's callback and frees it; db_wait_cancel() from the callback is a no-op. */
static void wait_deliver(struct db_wait *w, struct db_conn *conn, const struct db_error *err)
{
    event_free(w->timer);
    w->timer = NULL;
    w->is_delivering = true;
    w->cb(conn, err, w->arg);
    free(w);
}

static void wait_refuse(struct db_wait *w, const char *msg)
{
    struct db_pool *pool = w->pool;

    error_set(&w->err, DB_ERR_UNAVAILABLE, msg);
    evtimer_del(w->timer);
    w->state = DB_WAIT_REFUSED;
    TAILQ_INSERT_TAIL(&pool->refused, w, link);
    pool->nrefused++;
    pool_kick(pool);
}

/* The database is down: every queued acquire fails now instead of at its timeout. */
static void pool_mark_down(struct db_pool *pool, const char *why)
{
    char line[200];
    struct db_wait *w;

    copy_line(line, sizeof(line), why);
    snprintf(pool->down_message, sizeof(pool->down_message), "database unavailable: %s", line);
    pool->is_down = true;
    while ((w = TAILQ_FIRST(&pool->waits)) != NULL) {
        TAILQ_REMOVE(&pool->waits, w, link);
        pool->nwaiting--;
        wait_refuse(w, pool->down_message);
    }
}

/* Callbacks may queue or refuse new waits; the counts bound one kick so that a caller
 * retrying from its callback is served on a later turn, not in an endless loop here. */
static void pool_deliver_refused(struct db_pool *pool)
{
    int n = pool->nrefused;
    struct db_wait *w;

    while (n-- > 0 && (w = TAILQ_FIRST(&pool->refused)) != NULL) {
        TAILQ_REMOVE(&pool->refused, w, link);
        pool->nrefused--;
        wait_deliver(w, NULL, &w->err);
    }
}

static void pool_lend_idle(struct db_pool *pool)
{
    int n = pool->nwaiting;
    struct db_conn *conn;
    struct db_wait *w;

    while (n-- > 0 && (w = TAILQ_FIRST(&pool->waits)) != NULL &&
           (conn = TAILQ_FIRST(&pool->idle)) != NULL) {
        TAILQ_REMOVE(&pool->waits, w, link);
        pool->nwaiting--;
        TAILQ_REMOVE(&pool->idle, conn, idle_link);
        pool->nidle--;
        conn->state = DB_CONN_LENT;
        wait_deliver(w, conn, NULL);
    }
}

static void pool_on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct db_pool *pool = arg;

    (void)fd;
    (void)what;
    pool_deliver_refused(pool);
    pool_lend_idle(pool);
}

static void wait_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct db_wait *w = arg;
    struct db_pool *pool = w->pool;
    struct db_error e;

    (void)fd;
    (void)what;
    TAILQ_REMOVE(&pool->waits, w, link);
    pool->nwaiting--;
    pool->queue_timeouts++;
    error_set(&e, DB_ERR_UNAVAILABLE, "timed out waiting for a database connection");
    wait_deliver(w, NULL, &e);
}

/* ---- connection: lifecycle ---- */

static void conn_make_idle(struct db_conn *conn)
{
    struct db_pool *pool = conn->pool;

    evtimer_del(conn->timer);
    conn->state = DB_CONN_IDLE;
    conn->cb = NULL;
    TAILQ_INSERT_TAIL(&pool->idle, conn, idle_link);
    pool->nidle++;
    pool_kick(pool);
}

static void conn_fail_attempt(struct db_conn *conn, const char *why)
{
    struct db_pool *pool = conn->pool;

    conn->backoff_ms = backoff_next(conn->backoff_ms);
    conn_schedule_connect(conn, jitter_ms(&pool->rng, conn->backoff_ms));
    if (pool_count_connected(pool) == 0)
        pool_mark_down(pool, why);
}

/* An established connection went away: reconnect at once unless it keeps dying. */
static void conn_reconnect_after_break(struct db_conn *conn)
{
    if (mcx_now_us() - conn->up_since_us < DB_MIN_UPTIME_US)
        conn->backoff_ms = backoff_next(conn->backoff_ms);
    else
        conn->backoff_ms = 0;
    conn_schedule_connect(conn, jitter_ms(&conn->pool->rng, conn->backoff_ms));
}

static void conn_fail_query(struct db_conn *conn, const struct db_error *e)
{
    db_result_cb cb = conn->cb;

    conn->cb = NULL;
    if (cb != NULL)
        cb(NULL, e, conn->cb_arg);
}

/*
 * The socket broke (or a deadline passed). A lent connection stays lent, without a
 * socket, until its owner releases it; its running query gets DB_ERR_CONNECTION.
 */
static void conn_break(struct db_conn *conn, const char *why)
{
    struct db_pool *pool = conn->pool;
    enum db_conn_state state = conn->state;
    struct db_error e;

    /* The server's own FATAL ("terminating connection due to administrator command")
     * says more than libpq's "server closed the connection unexpectedly". */
    if (conn->result != NULL && PQresultStatus(conn->result) == PGRES_FATAL_ERROR)
        error_from_result(&e, conn->result);
    else
        error_set(&e, DB_ERR_CONNECTION, why);
    e.kind = DB_ERR_CONNECTION;
    conn_close(conn);
    switch (state) {
    case DB_CONN_CONNECTING:
    case DB_CONN_SETUP:
        conn_fail_attempt(conn, e.message);
        break;
    case DB_CONN_IDLE:
        TAILQ_REMOVE(&pool->idle, conn, idle_link);
        pool->nidle--;
        conn_reconnect_after_break(conn);
        break;
    case DB_CONN_RESETTING:
        conn_reconnect_after_break(conn);
        break;
    case DB_CONN_LENT:
        conn->has_deferred = false;
        conn_fail_query(conn, &e);
        break;
    case DB_CONN_DOWN:
        break;
    }
}

static void conn_start_connect(struct db_conn *conn)
{
    char why[256];

    conn->pg = PQconnectStart(conn->pool->conninfo);
    if (conn->pg == NULL) {
        fprintf(stderr, "mcx: out of memory in PQconnectStart\n");
        abort();
    }
    PQsetNoticeProcessor(conn->pg, notice_ignore, NULL);
    if (PQstatus(conn->pg) == CONNECTION_BAD) {
        copy_line(why, sizeof(why), PQerrorMessage(conn->pg));
        conn_close(conn);
        conn_fail_attempt(conn, why);
        return;
    }
    conn->state = DB_CONN_CONNECTING;
    timer_arm(conn->timer, DB_CONNECT_TIMEOUT_MS);
    /* libpq: "consider PGRES_POLLING_WRITING" before the first PQconnectPoll. */
    if (conn_watch(conn) < 0) {
        conn_break(conn, "libpq returned no socket");
        return;
    }
    conn_arm(conn, false, true);
}

/* Session settings every pooled connection carries; the values come from the config,
 * never from a request. */
static void conn_start_setup(struct db_conn *conn)
{
    char sql[128];
    int timeout = conn->pool->statement_timeout_ms;

    if (timeout > 0)
        snprintf(sql, sizeof(sql), "SET application_name = 'mcxd'; SET statement_timeout = %d",
                 timeout);
    else
        snprintf(sql, sizeof(sql), "SET application_name = 'mcxd'");
    conn->state = DB_CONN_SETUP;
    if (conn_watch(conn) < 0 || PQsetnonblocking(conn->pg, 1) != 0 || !PQsendQuery(conn->pg, sql)) {
        conn_break(conn, PQerrorMessage(conn->pg));
        return;
    }
    conn->is_querying = true;
    if (conn_flush(conn) < 0)
        conn_break(conn, PQerrorMessage(conn->pg));
}

static void conn_finish_setup(struct db_conn *conn, PGresult *r)
{
    struct db_pool *pool = conn->pool;
    bool is_ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;

    if (!is_ok) {
        conn->result = r; /* conn_break reports the server's message */
        conn_break(conn, "session setup failed");
        return;
    }
    PQclear(r);
    /* backoff_ms is kept: conn_reconnect_after_break resets it only for a connection
     * that stayed up, so a server that accepts and then drops is not retried every
     * 100 ms forever */
    conn->up_since_us = mcx_now_us();
    pool->is_down = false;
    conn_make_idle(conn);
}

static void conn_poll_connect(struct db_conn *conn)
{
    switch (PQconnectPoll(conn->pg)) {
    case PGRES_POLLING_READING:
        if (conn_watch(conn) < 0)
            conn_break(conn, "libpq returned no socket");
        else
            conn_arm(conn, true, false);
        break;
    case PGRES_POLLING_WRITING:
        if (conn_watch(conn) < 0)
            conn_break(conn, "libpq returned no socket");
        else
            conn_arm(conn, false, true);
        break;
    case PGRES_POLLING_OK:
        conn_start_setup(conn);
        break;
    default:
        conn_break(conn, PQerrorMessage(conn->pg));
        break;
    }
}

/* ---- connection: statements ---- */

/*
 * Asks the server to stop the running statement. PostgreSQL 15's libpq has no
 * non-blocking cancel (PQcancelStart arrived in 17): PQcancel opens a second
 * connection and waits until the postmaster has taken the request. Over the local
 * Unix socket that is well under a millisecond, so it runs inline; a remote
 * database over a slow network would want it moved off the loop.
 */
static void conn_send_cancel(struct db_conn *conn)
{
    char errbuf[256];
    PGcancel *cancel;

    cancel = PQgetCancel(conn->pg);
    if (cancel == NULL)
        return;
    /* Failure is harmless: the statement then runs to its end (or statement_timeout)
     * and its result is dropped all the same. */
    PQcancel(cancel, errbuf, (int)sizeof(errbuf));
    PQfreeCancel(cancel);
}

static int conn_send(struct db_conn *conn, const char *sql)
{
    if (!PQsendQuery(conn->pg, sql))
        return -1;
    conn->is_querying = true;
    return conn_flush(conn);
}

/* Released: roll back an open transaction, or return to the idle list. */
static void conn_continue_reset(struct db_conn *conn)
{
    if (PQtransactionStatus(conn->pg) == PQTRANS_IDLE) {
        conn_make_idle(conn);
        return;
    }
    if (conn->has_rollback) {
        conn_break(conn, "ROLLBACK did not end the transaction");
        return;
    }
    conn->has_rollback = true;
    if (conn_send(conn, "ROLLBACK") < 0)
        conn_break(conn, PQerrorMessage(conn->pg));
}

static void conn_begin_reset(struct db_conn *conn)
{
    conn->state = DB_CONN_RESETTING;
    conn->has_rollback = false;
    timer_arm(conn->timer, DB_RESET_TIMEOUT_MS);
    if (!conn->is_querying)
        conn_continue_reset(conn);
}

/* Keeps the first error, else the last result: a statement yields one result, but
 * the SETUP script yields one per statement. */
static void conn_keep_result(struct db_conn *conn, PGresult *r)
{
    if (conn->result != NULL && PQresultStatus(conn->result) == PGRES_FATAL_ERROR) {
        PQclear(r);
        return;
    }
    PQclear(conn->result);
    conn->result = r;
}

static void conn_on_statement_done(struct db_conn *conn)
{
    PGresult *r = conn->result;
    db_result_cb cb = conn->cb;

    conn->result = NULL;
    conn->is_querying = false;
    switch (conn->state) {
    case DB_CONN_SETUP:
        conn_finish_setup(conn, r);
        break;
    case DB_CONN_LENT:
        conn->cb = NULL;
        if (cb != NULL)
            result_deliver(r, cb, conn->cb_arg);
        else
            PQclear(r); /* cancelled: drained and dropped */
        break;
    case DB_CONN_RESETTING:
        PQclear(r);
        conn_continue_reset(conn);
        break;
    default:
        PQclear(r);
        break;
    }
}

static bool result_is_copy(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);

    return st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH;
}

/* Reads every result that is complete; returns after the statement finished (the
 * callback may have started the next one) or when more input is needed. */
static void conn_collect(struct db_conn *conn)
{
    while (!PQisBusy(conn->pg)) {
        PGresult *r = PQgetResult(conn->pg);
        if (r == NULL) {
            conn_on_statement_done(conn);
            return;
        }
        if (result_is_copy(r)) {
            /* COPY needs its own data flow; the pool API has none, so the session
             * cannot be brought back to a known state. */
            PQclear(r);
            conn_break(conn, "COPY is not supported on pooled connections");
            return;
        }
        conn_keep_result(conn, r);
    }
}

static void conn_drain_notifies(struct db_conn *conn)
{
    PGnotify *n;

    while ((n = PQnotifies(conn->pg)) != NULL)
        PQfreemem(n);
}

static void conn_on_readable(struct db_conn *conn)
{
    if (!PQconsumeInput(conn->pg)) {
        conn_break(conn, PQerrorMessage(conn->pg));
        return;
    }
    /* libpq: when a non-blocking send is pending, reading may free space to send. */
    if (event_pending(conn->ev_write, EV_WRITE, NULL) && conn_flush(conn) < 0) {
        conn_break(conn, PQerrorMessage(conn->pg));
        return;
    }
    /* PQnotifies also parses messages the server sends outside a statement. */
    conn_drain_notifies(conn);
    if (conn->is_querying)
        conn_collect(conn);
    else if (PQstatus(conn->pg) == CONNECTION_BAD)
        conn_break(conn, PQerrorMessage(conn->pg));
}

static void conn_on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct db_conn *conn = arg;

    (void)fd;
    if (conn->state == DB_CONN_CONNECTING) {
        conn_poll_connect(conn);
        return;
    }
    if ((what & EV_WRITE) && conn_flush(conn) < 0) {
        conn_break(conn, PQerrorMessage(conn->pg));
        return;
    }
    if (what & EV_READ)
        conn_on_readable(conn);
}

/* LENT: an error found while starting a statement, delivered a turn later. */
static void conn_fire_deferred(struct db_conn *conn)
{
    struct db_error e = conn->deferred;

    if (!conn->has_deferred)
        return;
    conn->has_deferred = false;
    if (conn->pg != NULL && e.kind == DB_ERR_CONNECTION) {
        conn_break(conn, e.message);
        return;
    }
    conn_fail_query(conn, &e);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct db_conn *conn = arg;

    (void)fd;
    (void)what;
    switch (conn->state) {
    case DB_CONN_DOWN:
        conn_start_connect(conn);
        break;
    case DB_CONN_CONNECTING:
    case DB_CONN_SETUP:
        conn_break(conn, "timed out connecting to the database");
        break;
    case DB_CONN_RESETTING:
        conn_break(conn, "timed out returning a connection to the pool");
        break;
    case DB_CONN_LENT:
        conn_fire_deferred(conn);
        break;
    case DB_CONN_IDLE:
        break;
    }
}

static void conn_defer_error(struct db_conn *conn, enum db_error_kind kind, const char *msg)
{
    error_set(&conn->deferred, kind, msg);
    conn->has_deferred = true;
    timer_arm(conn->timer, 0);
}

/* ---- pool: public API ---- */

static int config_value(int v, int dflt)
{
    return v > 0 ? v : dflt;
}

struct db_pool *db_pool_new(struct event_base *base, const struct db_pool_config *cfg)
{
    struct db_pool *pool = xcalloc(1, sizeof(*pool));

    pool->base = base;
    pool->conninfo = xstrdup(cfg->conninfo != NULL ? cfg->conninfo : "");
    pool->size = config_value(cfg->size, DB_DEFAULT_SIZE);
    if (pool->size > DB_MAX_SIZE)
        pool->size = DB_MAX_SIZE;
    pool->max_waiting = config_value(cfg->max_waiting, DB_DEFAULT_MAX_WAITING);
    pool->wait_timeout_ms = config_value(cfg->wait_timeout_ms, DB_DEFAULT_WAIT_TIMEOUT_MS);
    pool->statement_timeout_ms =
        cfg->statement_timeout_ms < 0 ? DB_DEFAULT_STATEMENT_TIMEOUT_MS : cfg->statement_timeout_ms;
    pool->rng = (uint64_t)mcx_now_us() ^ (uint64_t)(uintptr_t)pool;
    pool->rng |= 1;
    TAILQ_INIT(&pool->idle);
    TAILQ_INIT(&pool->waits);
    TAILQ_INIT(&pool->refused);
    pool->kick = event_new_or_die(base, -1, 0, pool_on_kick, pool);
    pool->conns = xcalloc((size_t)pool->size, sizeof(*pool->conns));
    for (int i = 0; i < pool->size; i++) {
        struct db_conn *conn = &pool->conns[i];
        conn->pool = pool;
        conn->timer = event_new_or_die(base, -1, 0, conn_on_timer, conn);
        /* Connect from the loop, not from here: PQconnectStart may already talk. */
        conn_schedule_connect(conn, 0);
    }
    return pool;
}

/* Outstanding ops are found through the callbacks they registered. */
static void pool_free_wait(struct db_wait *w)
{
    if (w->cb == op_on_acquire)
        op_free(w->arg);
    event_free(w->timer);
    free(w);
}

static void pool_free_waits(struct db_wait_list *list)
{
    struct db_wait *w;

    while ((w = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, w, link);
        pool_free_wait(w);
    }
}

void db_pool_free(struct db_pool *pool)
{
    if (pool == NULL)
        return;
    pool_free_waits(&pool->waits);
    pool_free_waits(&pool->refused);
    for (int i = 0; i < pool->size; i++) {
        struct db_conn *conn = &pool->conns[i];
        if (conn->cb == op_on_result)
            op_free(conn->cb_arg);
        conn_close(conn);
        event_free(conn->timer);
    }
    event_free(pool->kick);
    free(pool->conns);
    free(pool->conninfo);
    free(pool);
}

void db_pool_get_stats(const struct db_pool *pool, struct db_pool_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->size = pool->size;
    for (int i = 0; i < pool->size; i++) {
        const struct db_conn *conn = &pool->conns[i];
        if (!conn_is_connected(conn))
            continue;
        out->connected++;
        if (conn->state == DB_CONN_IDLE)
            out->idle++;
        else
            out->busy++;
    }
    out->waiting = pool->nwaiting;
    out->queue_rejected = pool->queue_rejected;
    out->queue_timeouts = pool->queue_timeouts;
}

struct db_wait *db_pool_acquire(struct db_pool *pool, db_acquire_cb cb, void *arg)
{
    struct db_wait *w = xcalloc(1, sizeof(*w));

    w->pool = pool;
    w->cb = cb;
    w->arg = arg;
    w->timer = event_new_or_die(pool->base, -1, 0, wait_on_timeout, w);
    if (pool->is_down) {
        wait_refuse(w, pool->down_message);
        return w;
    }
    /* Idle connections serve queued acquires on the next turn; the limit counts only
     * the acquires that will really have to wait. */
    if (pool->nwaiting >= pool->nidle + pool->max_waiting) {
        pool->queue_rejected++;
        wait_refuse(w, "too many requests waiting for a database connection");
        return w;
    }
    w->state = DB_WAIT_QUEUED;
    TAILQ_INSERT_TAIL(&pool->waits, w, link);
    pool->nwaiting++;
    timer_arm(w->timer, pool->wait_timeout_ms);
    if (pool->nidle > 0)
        pool_kick(pool);
    return w;
}

void db_wait_cancel(struct db_wait *w)
{
    struct db_pool *pool;

    if (w == NULL || w->is_delivering)
        return;
    pool = w->pool;
    if (w->state == DB_WAIT_QUEUED) {
        TAILQ_REMOVE(&pool->waits, w, link);
        pool->nwaiting--;
    } else {
        TAILQ_REMOVE(&pool->refused, w, link);
        pool->nrefused--;
    }
    event_free(w->timer);
    free(w);
}

int db_conn_query(struct db_conn *conn, const char *sql, int nparams, const char *const *params,
                  db_result_cb cb, void *arg)
{
    if (conn == NULL || conn->state != DB_CONN_LENT || conn->is_querying || conn->has_deferred)
        return -1;
    if (sql == NULL || cb == NULL || nparams < 0 || (nparams > 0 && params == NULL))
        return -1;
    conn->cb = cb;
    conn->cb_arg = arg;
    if (conn->pg == NULL) {
        conn_defer_error(conn, DB_ERR_CONNECTION, "the database connection was lost");
        return 0;
    }
    if (!PQsendQueryParams(conn->pg, sql, nparams, NULL, params, NULL, NULL, 0)) {
        /* Refused before sending (e.g. too many parameters) or the socket is gone. */
        bool is_up = PQstatus(conn->pg) == CONNECTION_OK;
        conn_defer_error(conn, is_up ? DB_ERR_QUERY : DB_ERR_CONNECTION, PQerrorMessage(conn->pg));
        return 0;
    }
    conn->is_querying = true;
    if (conn_flush(conn) < 0)
        conn_defer_error(conn, DB_ERR_CONNECTION, PQerrorMessage(conn->pg));
    return 0;
}

void db_conn_cancel(struct db_conn *conn)
{
    if (conn == NULL || conn->state != DB_CONN_LENT)
        return;
    conn->cb = NULL;
    if (conn->is_querying && conn->pg != NULL && !conn->has_deferred)
        conn_send_cancel(conn);
}

void db_conn_release(struct db_conn *conn)
{
    if (conn == NULL || conn->state != DB_CONN_LENT)
        return;
    conn->cb = NULL;
    if (conn->has_deferred) {
        conn->has_deferred = false;
        evtimer_del(conn->timer);
        if (conn->pg != NULL && conn->deferred.kind == DB_ERR_CONNECTION)
            conn_close(conn);
    }
    if (conn->pg == NULL) {
        conn_reconnect_after_break(conn);
        return;
    }
    if (conn->is_querying) {
        conn_send_cancel(conn);
        conn_begin_reset(conn);
        return;
    }
    if (PQtransactionStatus(conn->pg) != PQTRANS_IDLE) {
        conn_begin_reset(conn);
        return;
    }
    conn_make_idle(conn);
}

/* ---- one-shot operations ---- */

static void op_free(struct db_op *op)
{
    if (op == NULL)
        return;
    for (int i = 0; i < op->nparams; i++)
        free(op->params[i]);
    free(op->params);
    free(op->sql);
    free(op);
}

/* Runs the op's callback and frees it; db_op_cancel() from the callback is a no-op. */
static void op_finish(struct db_op *op, struct db_result *res, const struct db_error *err)
{
    op->is_delivering = true;
    op->cb(res, err, op->arg);
    op_free(op);
}

static void op_on_result(struct db_result *res, const struct db_error *err, void *arg)
{
    struct db_op *op = arg;

    /* The result does not depend on the connection: free it up before the caller's
     * callback, which may well start the next query. */
    db_conn_release(op->conn);
    op->conn = NULL;
    op_finish(op, res, err);
}

static void op_on_acquire(struct db_conn *conn, const struct db_error *err, void *arg)
{
    struct db_op *op = arg;
    struct db_error e;

    op->wait = NULL;
    if (err != NULL) {
        op_finish(op, NULL, err);
        return;
    }
    op->conn = conn;
    if (db_conn_query(conn, op->sql, op->nparams, (const char *const *)op->params, op_on_result,
                      op) < 0) {
        db_conn_release(conn);
        op->conn = NULL;
        error_set(&e, DB_ERR_QUERY, "invalid query arguments");
        op_finish(op, NULL, &e);
    }
}

struct db_op *db_query(struct db_pool *pool, const char *sql, int nparams,
                       const char *const *params, db_result_cb cb, void *arg)
{
    struct db_op *op = xcalloc(1, sizeof(*op));

    op->sql = xstrdup(sql);
    op->nparams = nparams > 0 ? nparams : 0;
    op->params = xcalloc((size_t)op->nparams + 1, sizeof(*op->params));
    /* The caller's parameters may live on its stack: the op outlives this call. */
    for (int i = 0; i < op->nparams; i++)
        op->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
    op->cb = cb;
    op->arg = arg;
    op->wait = db_pool_acquire(pool, op_on_acquire, op);
    return op;
}

void db_op_cancel(struct db_op *op)
{
    if (op == NULL || op->is_delivering)
        return;
    if (op->wait != NULL)
        db_wait_cancel(op->wait);
    /* Releasing a connection whose statement still runs cancels it and drains it. */
    if (op->conn != NULL)
        db_conn_release(op->conn);
    op_free(op);
}

/* ---- result access ---- */

static bool result_has_cell(const struct db_result *res, int row, int col)
{
    return res != NULL && row >= 0 && col >= 0 && row < PQntuples(res->pg) &&
           col < PQnfields(res->pg);
}

int db_result_rows(const struct db_result *res)
{
    return res != NULL ? PQntuples(res->pg) : 0;
}

int db_result_cols(const struct db_result *res)
{
    return res != NULL ? PQnfields(res->pg) : 0;
}

const char *db_result_name(const struct db_result *res, int col)
{
    if (res == NULL || col < 0 || col >= PQnfields(res->pg))
        return NULL;
    return PQfname(res->pg, col);
}

const char *db_result_value(const struct db_result *res, int row, int col)
{
    if (!result_has_cell(res, row, col) || PQgetisnull(res->pg, row, col))
        return NULL;
    return PQgetvalue(res->pg, row, col);
}

bool db_result_is_null(const struct db_result *res, int row, int col)
{
    return !result_has_cell(res, row, col) || PQgetisnull(res->pg, row, col);
}

/* Exact match: PQfnumber would fold unquoted names to lower case. */
int db_result_col(const struct db_result *res, const char *name)
{
    int n = db_result_cols(res);

    for (int i = 0; i < n; i++) {
        if (strcmp(PQfname(res->pg, i), name) == 0)
            return i;
    }
    return -1;
}

const char *db_result_cmd_tuples(const struct db_result *res)
{
    return res != NULL ? PQcmdTuples(res->pg) : "";
}

void db_result_keep(struct db_result *res)
{
    if (res != NULL)
        res->is_kept = true;
}

void db_result_free(struct db_result *res)
{
    if (res == NULL)
        return;
    PQclear(res->pg);
    free(res);
}

/* ---- JSON conversion ---- */

static size_t skip_digits(const char *s, size_t i, size_t len)
{
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* True when s is a JSON number (RFC 8259 §6). PostgreSQL also prints NaN and
 * Infinity for floats and numeric, which JSON cannot carry. */
static bool json_number_is_valid(const char *s, size_t len)
{
    size_t i = 0, start;

    if (i < len && s[i] == '-')
        i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
        return false;
    i = s[i] == '0' ? i + 1 : skip_digits(s, i, len);
    if (i < len && s[i] == '.') {
        start = ++i;
        i = skip_digits(s, i, len);
        if (i == start)
            return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        start = i;
        i = skip_digits(s, i, len);
        if (i == start)
            return false;
    }
    return i == len;
}

static void json_write_cell(const PGresult *r, int row, int col, struct json_writer *w)
{
    const char *v;
    size_t len;

    if (PQgetisnull(r, row, col)) {
        json_null(w);
        return;
    }
    v = PQgetvalue(r, row, col);
    len = (size_t)PQgetlength(r, row, col);
    switch (PQftype(r, col)) {
    case DB_OID_INT2:
    case DB_OID_INT4:
    case DB_OID_INT8:
    case DB_OID_OID:
    case DB_OID_FLOAT4:
    case DB_OID_FLOAT8:
    case DB_OID_NUMERIC:
        /* Raw text keeps numeric's full precision; NaN/Infinity become null as in
         * json_double(). */
        if (json_number_is_valid(v, len))
            json_raw(w, v, len);
        else
            json_null(w);
        break;
    case DB_OID_BOOL:
        json_bool(w, len > 0 && v[0] == 't');
        break;
    case DB_OID_JSON:
    case DB_OID_JSONB:
        /* The server validated it on input. */
        json_raw(w, v, len);
        break;
    default:
        json_string_len(w, v, len);
        break;
    }
}

void db_result_row_json(const struct db_result *res, int row, struct json_writer *w)
{
    int ncols = db_result_cols(res);

    if (res == NULL || row < 0 || row >= PQntuples(res->pg)) {
        json_null(w);
        return;
    }
    json_object_begin(w);
    for (int col = 0; col < ncols; col++) {
        json_key(w, PQfname(res->pg, col));
        json_write_cell(res->pg, row, col, w);
    }
    json_object_end(w);
}

void db_result_rows_json(const struct db_result *res, struct json_writer *w)
{
    int nrows = db_result_rows(res);

    json_array_begin(w);
    for (int row = 0; row < nrows; row++)
        db_result_row_json(res, row, w);
    json_array_end(w);
}

/* ---- LISTEN/NOTIFY listener ---- */

/*
 * One dedicated connection per listener, outside the pool: a pooled session is lent
 * to others and reset, which would drop its LISTEN. It is a state machine too:
 *
 *   DOWN -> CONNECTING -> SUBSCRIBING -> LISTENING
 *
 * and every state falls back to DOWN, with a backoff timer, when the socket breaks.
 * Notifications sent while it was down are lost (PostgreSQL queues them only for
 * sessions that are listening), so each arrival in LISTENING is announced to the
 * caller with a NULL payload: "re-read what you cache".
 */

/* NAMEDATALEN - 1: the server truncates longer identifiers, so two long names could
 * silently become one channel. */
#define DB_CHANNEL_MAX 63
/* An idle LISTEN connection carries no traffic, so a server that vanished without a
 * FIN/RST (host crash, network partition) would go unnoticed; a keepalive statement
 * every 30 s, answered within 10 s, finds it. TCP keepalives would not cover a Unix
 * socket or a hung backend. */
#define DB_LISTEN_KEEPALIVE_MS 30000
#define DB_LISTEN_KEEPALIVE_TIMEOUT_MS 10000
#define DB_LISTEN_APPLICATION_NAME "mcx-listen"

enum db_listener_state {
    DB_LISTENER_DOWN,        /* no socket; the timer starts the next connect attempt */
    DB_LISTENER_CONNECTING,  /* PQconnectPoll in progress; the timer is the deadline */
    DB_LISTENER_SUBSCRIBING, /* LISTEN sent; the timer is still the connect deadline */
    DB_LISTENER_LISTENING,   /* the timer sends the keepalive, or is its deadline */
};

struct db_listener {
    struct event_base *base;
    char *conninfo;
    char channel[DB_CHANNEL_MAX + 1];
    db_notify_cb cb;
    void *arg;
    PGconn *pg;
    struct event *ev_read;  /* persistent while a socket exists */
    struct event *ev_write; /* armed only while libpq holds unsent output */
    struct event *timer;    /* meaning depends on the state, see db_listener_state */
    enum db_listener_state state;
    int backoff_ms;
    int64_t up_since_us;
    bool is_querying;     /* LISTEN or the keepalive sent, final result not yet read */
    bool has_error;       /* that statement failed; error holds why */
    int depth;            /* event callbacks of this listener on the stack */
    bool is_freed;        /* db_listener_free() ran inside the caller's callback */
    char error[256];      /* the failed statement's message */
    char fatal[256];      /* the server's FATAL message before it hung up, else "" */
    char last_error[256]; /* the failure last logged: repeats are not logged again */
    uint64_t rng;
};

static void listener_on_socket(evutil_socket_t fd, short what, void *arg);
static void listener_on_timer(evutil_socket_t fd, short what, void *arg);

/* Letters, digits and '_' (ASCII only), 1 to 63 bytes. */
static bool channel_is_valid(const char *s)
{
    size_t n;

    if (s == NULL)
        return false;
    for (n = 0; s[n] != '\0'; n++) {
        char c = s[n];
        bool is_ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!is_ok || n >= DB_CHANNEL_MAX)
            return false;
    }
    return n > 0;
}

/* One JSON line per state change, like the rest of the server's log. */
static void listener_log(const struct db_listener *l, const char *level, const char *msg,
                         const char *why, int retry_ms)
{
    struct buf line;
    struct json_writer w;

    buf_init(&line);
    json_writer_init(&w, &line);
    json_object_begin(&w);
    json_kv_string(&w, "level", level);
    json_kv_string(&w, "msg", msg);
    json_kv_string(&w, "channel", l->channel);
    if (why != NULL)
        json_kv_string(&w, "error", why);
    if (retry_ms >= 0)
        json_kv_int(&w, "retry_ms", retry_ms);
    json_object_end(&w);
    buf_putc(&line, '\n');
    fwrite(line.data, 1, line.len, stderr);
    buf_cleanup(&line);
}

/* A backend that is terminated says why in a FATAL message, which libpq hands to the
 * notice receiver when no statement runs; keep it for the log line. */
static void listener_on_notice(void *arg, const PGresult *r)
{
    struct db_listener *l = arg;
    const char *severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

    if (severity == NULL || primary == NULL)
        return;
    if (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0)
        copy_line(l->fatal, sizeof(l->fatal), primary);
}

static void listener_unwatch(struct db_listener *l)
{
    if (l->ev_read != NULL)
        event_free(l->ev_read);
    if (l->ev_write != NULL)
        event_free(l->ev_write);
    l->ev_read = NULL;
    l->ev_write = NULL;
}

/* Rebuilt at every connect step, as conn_watch() explains. */
static int listener_watch(struct db_listener *l)
{
    int fd = PQsocket(l->pg);

    listener_unwatch(l);
    if (fd < 0)
        return -1;
    l->ev_read = event_new_or_die(l->base, fd, EV_READ | EV_PERSIST, listener_on_socket, l);
    l->ev_write = event_new_or_die(l->base, fd, EV_WRITE | EV_PERSIST, listener_on_socket, l);
    return 0;
}

static void listener_arm(struct db_listener *l, bool want_read, bool want_write)
{
    if (want_read)
        event_add(l->ev_read, NULL);
    else
        event_del(l->ev_read);
    if (want_write)
        event_add(l->ev_write, NULL);
    else
        event_del(l->ev_write);
}

static int listener_flush(struct db_listener *l)
{
    int r = PQflush(l->pg);

    if (r < 0)
        return -1;
    listener_arm(l, true, r == 1);
    return 0;
}

static void listener_close(struct db_listener *l)
{
    listener_unwatch(l);
    if (l->pg != NULL)
        PQfinish(l->pg);
    l->pg = NULL;
    l->is_querying = false;
    l->has_error = false;
    evtimer_del(l->timer);
}

/*
 * The socket broke, a statement failed or a deadline passed: close and retry later.
 * A connection that was listening for a while is retried at once; one that never
 * got there, or died within DB_MIN_UPTIME_US, backs off.
 */
static void listener_break(struct db_listener *l, const char *why)
{
    enum db_listener_state was = l->state;
    char msg[256];
    int delay;

    /* why may point into the PGconn: copy it before PQfinish. */
    copy_line(msg, sizeof(msg), l->fatal[0] != '\0' ? l->fatal : why);
    listener_close(l);
    if (was == DB_LISTENER_LISTENING && mcx_now_us() - l->up_since_us >= DB_MIN_UPTIME_US)
        l->backoff_ms = 0;
    else
        l->backoff_ms = backoff_next(l->backoff_ms);
    delay = jitter_ms(&l->rng, l->backoff_ms);
    if (was == DB_LISTENER_LISTENING) {
        listener_log(l, "warn", "db listener: connection lost", msg, delay);
        mcx_strlcpy(l->last_error, msg, sizeof(l->last_error));
    } else if (strcmp(msg, l->last_error) != 0) {
        listener_log(l, "warn", "db listener: cannot listen", msg, delay);
        mcx_strlcpy(l->last_error, msg, sizeof(l->last_error));
    }
    l->state = DB_LISTENER_DOWN;
    timer_arm(l->timer, delay);
}

static void listener_start_connect(struct db_listener *l)
{
    /* application_name comes after the expanded conninfo so that it wins: operators
     * (and tests) find this session by it in pg_stat_activity. */
    const char *const keys[] = {"dbname", "application_name", NULL};
    const char *const values[] = {l->conninfo, DB_LISTEN_APPLICATION_NAME, NULL};

    l->fatal[0] = '\0';
    l->pg = PQconnectStartParams(keys, values, 1);
    if (l->pg == NULL) {
        fprintf(stderr, "mcx: out of memory in PQconnectStartParams\n");
        abort();
    }
    PQsetNoticeReceiver(l->pg, listener_on_notice, l);
    if (PQstatus(l->pg) == CONNECTION_BAD) {
        listener_break(l, PQerrorMessage(l->pg));
        return;
    }
    l->state = DB_LISTENER_CONNECTING;
    timer_arm(l->timer, DB_CONNECT_TIMEOUT_MS);
    if (listener_watch(l) < 0) {
        listener_break(l, "libpq returned no socket");
        return;
    }
    listener_arm(l, false, true);
}

static int listener_send(struct db_listener *l, const char *sql)
{
    if (!PQsendQuery(l->pg, sql))
        return -1;
    l->is_querying = true;
    l->has_error = false;
    return listener_flush(l);
}

/* The channel was validated, but it is quoted all the same: never build SQL from a
 * caller's string unquoted. Quoting keeps its case: NOTIFY must spell it alike. */
static void listener_subscribe(struct db_listener *l)
{
    char sql[32 + 2 * DB_CHANNEL_MAX];
    char *quoted;
    int n;

    l->state = DB_LISTENER_SUBSCRIBING;
    if (listener_watch(l) < 0 || PQsetnonblocking(l->pg, 1) != 0) {
        listener_break(l, PQerrorMessage(l->pg));
        return;
    }
    quoted = PQescapeIdentifier(l->pg, l->channel, strlen(l->channel));
    if (quoted == NULL) {
        listener_break(l, PQerrorMessage(l->pg));
        return;
    }
    n = snprintf(sql, sizeof(sql), "LISTEN %s", quoted);
    PQfreemem(quoted);
    if (n < 0 || (size_t)n >= sizeof(sql)) {
        listener_break(l, "channel name too long");
        return;
    }
    if (listener_send(l, sql) < 0)
        listener_break(l, PQerrorMessage(l->pg));
}

static void listener_poll_connect(struct db_listener *l)
{
    switch (PQconnectPoll(l->pg)) {
    case PGRES_POLLING_READING:
        if (listener_watch(l) < 0)
            listener_break(l, "libpq returned no socket");
        else
            listener_arm(l, true, false);
        break;
    case PGRES_POLLING_WRITING:
        if (listener_watch(l) < 0)
            listener_break(l, "libpq returned no socket");
        else
            listener_arm(l, false, true);
        break;
    case PGRES_POLLING_OK:
        listener_subscribe(l);
        break;
    default:
        listener_break(l, PQerrorMessage(l->pg));
        break;
    }
}

/* Calls the caller back; false when it freed the listener from the callback. */
static bool listener_deliver(struct db_listener *l, const char *payload)
{
    l->cb(payload, l->arg);
    return !l->is_freed;
}

static void listener_become_listening(struct db_listener *l)
{
    l->state = DB_LISTENER_LISTENING;
    l->up_since_us = mcx_now_us();
    l->last_error[0] = '\0';
    timer_arm(l->timer, DB_LISTEN_KEEPALIVE_MS);
    listener_log(l, "info", "db listener: listening", NULL, -1);
    listener_deliver(l, NULL);
}

static void listener_on_statement_done(struct db_listener *l)
{
    l->is_querying = false;
    if (l->has_error) {
        listener_break(l, l->error);
        return;
    }
    if (l->state == DB_LISTENER_SUBSCRIBING)
        listener_become_listening(l);
    else
        timer_arm(l->timer, DB_LISTEN_KEEPALIVE_MS); /* the keepalive was answered */
}

/* Reads the results that are complete; the statement is done at the NULL one. */
static void listener_collect(struct db_listener *l)
{
    while (!PQisBusy(l->pg)) {
        PGresult *r = PQgetResult(l->pg);
        if (r == NULL) {
            listener_on_statement_done(l);
            return;
        }
        if (!result_is_ok(r) && !l->has_error) {
            const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            copy_line(l->error, sizeof(l->error), msg != NULL ? msg : PQresultErrorMessage(r));
            l->has_error = true;
        }
        PQclear(r);
    }
}

/* Hands every parsed notification to the caller, in the order the server sent them;
 * false when the caller freed the listener. The payload lives only during the call. */
static bool listener_deliver_notifies(struct db_listener *l)
{
    PGnotify *n;

    while (l->pg != NULL && (n = PQnotifies(l->pg)) != NULL) {
        bool is_ours = l->state == DB_LISTENER_LISTENING && strcmp(n->relname, l->channel) == 0;
        bool is_alive = !is_ours || listener_deliver(l, n->extra != NULL ? n->extra : "");
        PQfreemem(n);
        if (!is_alive)
            return false;
    }
    return true;
}

static void listener_on_readable(struct db_listener *l)
{
    if (!PQconsumeInput(l->pg)) {
        listener_break(l, PQerrorMessage(l->pg));
        return;
    }
    if (event_pending(l->ev_write, EV_WRITE, NULL) && listener_flush(l) < 0) {
        listener_break(l, PQerrorMessage(l->pg));
        return;
    }
    /* LISTEN's result first: the NULL callback must precede the first notification. */
    if (l->is_querying)
        listener_collect(l);
    if (l->is_freed || l->pg == NULL || !listener_deliver_notifies(l))
        return;
    if (PQstatus(l->pg) == CONNECTION_BAD)
        listener_break(l, PQerrorMessage(l->pg));
}

static void listener_destroy(struct db_listener *l)
{
    listener_close(l);
    event_free(l->timer);
    free(l->conninfo);
    free(l);
}

/* Every event callback brackets its work with depth so that a db_listener_free()
 * from the caller's callback is finished here, after the stack has unwound. */
static void listener_leave(struct db_listener *l)
{
    if (--l->depth == 0 && l->is_freed)
        listener_destroy(l);
}

static void listener_on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct db_listener *l = arg;

    (void)fd;
    l->depth++;
    if (l->state == DB_LISTENER_CONNECTING)
        listener_poll_connect(l);
    else if ((what & EV_WRITE) && listener_flush(l) < 0)
        listener_break(l, PQerrorMessage(l->pg));
    else if (what & EV_READ)
        listener_on_readable(l);
    listener_leave(l);
}

static void listener_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct db_listener *l = arg;

    (void)fd;
    (void)what;
    l->depth++;
    switch (l->state) {
    case DB_LISTENER_DOWN:
        listener_start_connect(l);
        break;
    case DB_LISTENER_CONNECTING:
    case DB_LISTENER_SUBSCRIBING:
        listener_break(l, "timed out connecting to the database");
        break;
    case DB_LISTENER_LISTENING:
        if (l->is_querying) {
            listener_break(l, "keepalive timed out: the database does not answer");
            break;
        }
        /* The empty statement costs the server nothing but a round trip. */
        if (listener_send(l, "") < 0) {
            listener_break(l, PQerrorMessage(l->pg));
            break;
        }
        timer_arm(l->timer, DB_LISTEN_KEEPALIVE_TIMEOUT_MS);
        break;
    }
    listener_leave(l);
}

struct db_listener *db_listen(struct event_base *base, const char *conninfo, const char *channel,
                              db_notify_cb cb, void *arg)
{
    struct db_listener *l;

    if (base == NULL || cb == NULL || !channel_is_valid(channel))
        return NULL;
    l = xcalloc(1, sizeof(*l));
    l->base = base;
    l->conninfo = xstrdup(conninfo != NULL ? conninfo : "");
    mcx_strlcpy(l->channel, channel, sizeof(l->channel));
    l->cb = cb;
    l->arg = arg;
    l->rng = ((uint64_t)mcx_now_us() ^ (uint64_t)(uintptr_t)l) | 1;
    l->timer = event_new_or_die(base, -1, 0, listener_on_timer, l);
    /* Connect from the loop, not from here: PQconnectStart may already talk. */
    l->state = DB_LISTENER_DOWN;
    timer_arm(l->timer, 0);
    return l;
}

void db_listener_free(struct db_listener *l)
{
    if (l == NULL)
        return;
    if (l->depth > 0) {
        l->is_freed = true;
        return;
    }
    listener_destroy(l);
}

bool db_listener_connected(const struct db_listener *l)
{
    return l != NULL && !l->is_freed && l->state == DB_LISTENER_LISTENING;
}

/* ---- blocking API ---- */

struct db_sync {
    PGconn *pg;
};

struct db_sync *db_sync_connect(const char *conninfo, struct mcx_error *err)
{
    /* connect_timeout comes first so that one in conninfo (expanded from "dbname")
     * overrides it: libpq keeps the last value of a repeated keyword. */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const values[] = {DB_SYNC_CONNECT_TIMEOUT, conninfo != NULL ? conninfo : "", NULL};
    char why[256];
    struct db_sync *db;
    PGconn *pg;

    pg = PQconnectdbParams(keys, values, 1);
    if (pg == NULL) {
        fprintf(stderr, "mcx: out of memory in PQconnectdbParams\n");
        abort();
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        copy_line(why, sizeof(why), PQerrorMessage(pg));
        mcx_error_set(err, "db_unavailable", "cannot connect to the database: %s", why);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, notice_ignore, NULL);
    db = xcalloc(1, sizeof(*db));
    db->pg = pg;
    return db;
}

void db_sync_close(struct db_sync *db)
{
    if (db == NULL)
        return;
    PQfinish(db->pg);
    free(db);
}

/* The line of a 1-based character position (PG_DIAG_STATEMENT_POSITION counts
 * characters, not bytes) in UTF-8 text. */
static int text_line_at(const char *text, long pos)
{
    int line = 1;
    long chars = 0;

    for (const char *p = text; *p != '\0'; p++) {
        if (((unsigned char)*p & 0xc0) == 0x80)
            continue;
        if (++chars >= pos)
            break;
        if (*p == '\n')
            line++;
    }
    return line;
}

static void sync_error_set(struct db_sync *db, const PGresult *r, const char *sql,
                           struct mcx_error *err)
{
    struct db_error e;
    const char *pos;
    long n;

    if (r == NULL) {
        error_set(&e, DB_ERR_CONNECTION, PQerrorMessage(db->pg));
    } else {
        error_from_result(&e, r);
        if (PQstatus(db->pg) != CONNECTION_OK)
            e.kind = DB_ERR_CONNECTION;
    }
    if (e.kind == DB_ERR_CONNECTION)
        mcx_error_set(err, "db_unavailable", "database connection lost: %s", e.message);
    else if (e.sqlstate[0] != '\0')
        mcx_error_set(err, "db_query", "%s (SQLSTATE %s)", e.message, e.sqlstate);
    else
        mcx_error_set(err, "db_query", "%s", e.message);
    pos = r != NULL ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
    if (err != NULL && pos != NULL && sql != NULL && mcx_parse_int(pos, 1, 1L << 30, &n) == 0)
        err->line = text_line_at(sql, n);
}

int db_sync_exec(struct db_sync *db, const char *sql, int nparams, const char *const *params,
                 struct db_result **res, struct mcx_error *err)
{
    PGresult *r;

    if (res != NULL)
        *res = NULL;
    r = PQexecParams(db->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    if (r == NULL || !result_is_ok(r)) {
        sync_error_set(db, r, sql, err);
        PQclear(r);
        return -1;
    }
    if (res != NULL)
        *res = result_wrap(r);
    else
        PQclear(r);
    return 0;
}

int db_sync_exec_script(struct db_sync *db, const char *sql, struct mcx_error *err)
{
    /* PQexec (simple protocol) runs every statement of the string and stops at the
     * first error, whose result is the one returned. */
    PGresult *r = PQexec(db->pg, sql);

    if (r == NULL || !result_is_ok(r)) {
        sync_error_set(db, r, sql, err);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}
