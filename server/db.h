/*
 * db.h — the asynchronous PostgreSQL pool on the libevent loop, and a small
 * blocking API for the admin CLI and migrations (never used on the loop).
 * Handlers reach the database only through this header; only db.c includes libpq.
 */
#ifndef MCX_DB_H
#define MCX_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "server/util.h"

struct event_base;
struct json_writer;

struct db_pool;
struct db_conn;   /* one pooled connection, lent to a caller between acquire and release */
struct db_wait;   /* a pending acquire, cancellable */
struct db_op;     /* a one-shot query (acquire + query + release), cancellable */
struct db_result; /* a query result (wraps PGresult) */

enum db_error_kind {
    DB_ERR_UNAVAILABLE = 1, /* no connection: pool down, queue full, wait timed out */
    DB_ERR_QUERY,           /* the server rejected the statement; sqlstate is set */
    DB_ERR_CONNECTION,      /* the connection broke while the query ran */
    DB_ERR_CANCELLED,       /* cancelled by the caller (never delivered to a callback) */
};

struct db_error {
    enum db_error_kind kind;
    char sqlstate[6];  /* "23505" etc. for DB_ERR_QUERY, else "" */
    char message[512]; /* server or pool message, one line */
};

/* Zero (or negative) size, max_waiting and wait_timeout_ms take the defaults;
 * statement_timeout_ms is 0 for none and negative for the default. */
struct db_pool_config {
    const char *conninfo;     /* libpq connection string or URI */
    int size;                 /* connections kept open (default 8) */
    int max_waiting;          /* acquires allowed to queue when all are busy (default 1024) */
    int wait_timeout_ms;      /* how long an acquire may queue (default 5000) */
    int statement_timeout_ms; /* server-side statement_timeout, 0 = none (default 30000) */
};

struct db_pool_stats {
    int size;                          /* configured connections */
    int connected;                     /* connections currently open and usable */
    int busy;                          /* lent out to callers */
    int idle;                          /* connected and free */
    int waiting;                       /* acquires in the wait queue */
    unsigned long long queue_rejected; /* acquires refused: queue full */
    unsigned long long queue_timeouts; /* acquires that timed out in the queue */
};

/* Result callback. Exactly one of res/err is non-NULL. res is freed after the
 * callback returns unless the callback took it with db_result_keep(). */
typedef void (*db_result_cb)(struct db_result *res, const struct db_error *err, void *arg);
typedef void (*db_acquire_cb)(struct db_conn *conn, const struct db_error *err, void *arg);

struct db_pool *db_pool_new(struct event_base *base, const struct db_pool_config *cfg);
/* Closes every connection; outstanding waits/ops are dropped without callbacks.
 * Not from inside a pool callback; lent connections become invalid. */
void db_pool_free(struct db_pool *pool);
void db_pool_get_stats(const struct db_pool *pool, struct db_pool_stats *out);

/*
 * Lends a connection. The callback runs on a later loop turn (never inside this
 * call), with a connection or an error (DB_ERR_UNAVAILABLE when the queue is full,
 * the wait timed out or the database is down). Returns a handle that
 * db_wait_cancel() accepts until the callback has run.
 */
struct db_wait *db_pool_acquire(struct db_pool *pool, db_acquire_cb cb, void *arg);
void db_wait_cancel(struct db_wait *wait);

/*
 * Runs one parameterised statement on a lent connection (text params, NULL = SQL
 * NULL). One query at a time per connection; returns -1 if one is running (a
 * cancelled one counts until it has drained). The callback runs on a later loop
 * turn; a connection that broke gives DB_ERR_CONNECTION and must still be released.
 * Several queries in sequence on the same conn form a transaction when the first
 * is BEGIN.
 */
int db_conn_query(struct db_conn *conn, const char *sql, int nparams, const char *const *params,
                  db_result_cb cb, void *arg);
/* Asks the server to cancel the running query; its callback is NOT called. */
void db_conn_cancel(struct db_conn *conn);
/* Returns the connection; an open transaction is rolled back first. */
void db_conn_release(struct db_conn *conn);

/* One-shot: acquire, run, release. The callback runs exactly once unless cancelled. */
struct db_op *db_query(struct db_pool *pool, const char *sql, int nparams,
                       const char *const *params, db_result_cb cb, void *arg);
/* Cancels a queued or running op; its callback will not be called. */
void db_op_cancel(struct db_op *op);

/* Result access (row/col are 0-based). */
int db_result_rows(const struct db_result *res);
int db_result_cols(const struct db_result *res);
const char *db_result_name(const struct db_result *res, int col);
const char *db_result_value(const struct db_result *res, int row, int col); /* NULL if SQL NULL */
bool db_result_is_null(const struct db_result *res, int row, int col);
int db_result_col(const struct db_result *res, const char *name); /* -1 if absent */
const char *db_result_cmd_tuples(const struct db_result *res);    /* "3" after UPDATE */
/* Keeps the result past the callback; free it with db_result_free() (only a kept
 * result, or one from db_sync_exec). */
void db_result_keep(struct db_result *res);
void db_result_free(struct db_result *res);

/*
 * JSON helpers: one row as an object, or all rows as an array of objects.
 * Types follow the column: int/numeric → number, bool → true/false,
 * json/jsonb → inlined, NULL → null, everything else → string.
 */
void db_result_row_json(const struct db_result *res, int row, struct json_writer *w);
void db_result_rows_json(const struct db_result *res, struct json_writer *w);

/* ---- blocking API: admin CLI and migrations only, never on the loop ---- */
struct db_sync;
struct db_sync *db_sync_connect(const char *conninfo, struct mcx_error *err);
void db_sync_close(struct db_sync *db);
/* Runs one statement; *res (optional) receives the result, caller frees. */
int db_sync_exec(struct db_sync *db, const char *sql, int nparams, const char *const *params,
                 struct db_result **res, struct mcx_error *err);
/* Runs a script of several statements (no parameters), e.g. a migration file. */
int db_sync_exec_script(struct db_sync *db, const char *sql, struct mcx_error *err);

/* ---- LISTEN/NOTIFY: one dedicated connection per listener, on the loop ---- */
struct db_listener;

/*
 * Called for each notification on the channel (payload may be "", never NULL for a
 * notification; it is valid only during the call), and with payload NULL each time
 * the listener (re)connects and is LISTENing: then the caller must assume it missed
 * notifications and re-read what it caches. Always from an event callback, never
 * inside db_listen(); db_listener_free() may be called from it.
 */
typedef void (*db_notify_cb)(const char *payload, void *arg);

/*
 * Opens its own connection (not from the pool; application_name "mcx-listen"),
 * runs LISTEN on channel and keeps it up: reconnects with backoff (100 ms doubling
 * to 5 s, jittered) when it breaks, and sends a keepalive every 30 s so that a
 * database that silently went away is noticed within 40 s. The channel is 1-63
 * ASCII letters, digits or '_' and is quoted, so its case counts: notify with
 * pg_notify('Name', ...) or NOTIFY "Name". Returns NULL for an invalid channel or a
 * NULL base or cb; a database that is down is not an error here, only logged.
 */
struct db_listener *db_listen(struct event_base *base, const char *conninfo, const char *channel,
                              db_notify_cb cb, void *arg);
/* Closes the connection in any state; no callback runs afterwards. NULL is a no-op. */
void db_listener_free(struct db_listener *l);
/* True while LISTEN is in effect (between a NULL callback and the next break). */
bool db_listener_connected(const struct db_listener *l);

#endif
