/*
 * itest_db_listen.c — the LISTEN/NOTIFY listener against a real PostgreSQL: the NULL
 * "(re)connected" signal, notifications in order, reconnect after its backend was
 * terminated, and freeing it in every state. MCX_TEST_PG_DIR names a running
 * throw-away cluster (socket in $MCX_TEST_PG_DIR/run, superuser mcx, trust auth);
 * the test creates its own database and drops it at the end.
 */
#include <event2/event.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server/db.h"
#include "server/util.h"

#define ITEST_DB
#include "itest.h"

#define CHANNEL "mcx_itest"
#define INBOX_MAX 32

/* ---- what the listener delivered ---- */

struct inbox {
    int nulls; /* (re)connect signals */
    int count; /* notifications */
    char payload[INBOX_MAX][64];
    bool is_in_caller; /* set around db_listen() */
    bool was_sync;     /* a callback ran inside db_listen(): forbidden */
    /* Frees *self from inside the callback: at the first NULL, or the first payload. */
    struct db_listener **self;
    bool free_on_null;
    bool free_on_payload;
};

static void inbox_on_notify(const char *payload, void *arg)
{
    struct inbox *in = arg;

    if (in->is_in_caller)
        in->was_sync = true;
    if (payload == NULL) {
        in->nulls++;
    } else {
        if (in->count < INBOX_MAX)
            mcx_strlcpy(in->payload[in->count], payload, sizeof(in->payload[0]));
        in->count++;
    }
    if (in->self != NULL &&
        ((payload == NULL && in->free_on_null) || (payload != NULL && in->free_on_payload))) {
        db_listener_free(*in->self);
        *in->self = NULL;
    }
}

struct inbox_target {
    const struct inbox *in;
    int nulls;
    int count;
};

static bool pred_inbox(const void *arg)
{
    const struct inbox_target *w = arg;

    return w->in->nulls >= w->nulls && w->in->count >= w->count;
}

static bool wait_inbox(struct itest *t, const struct inbox *in, int nulls, int count, int ms)
{
    struct inbox_target w = {in, nulls, count};

    return loop_until(t, pred_inbox, &w, ms);
}

static struct db_listener *listen_open(struct itest *t, const char *conninfo, const char *channel,
                                       struct inbox *in)
{
    struct db_listener *l;

    in->is_in_caller = true;
    l = db_listen(t->base, conninfo, channel, inbox_on_notify, in);
    in->is_in_caller = false;
    return l;
}

static int notify(struct db_sync *db, const char *channel, const char *payload)
{
    const char *params[] = {channel, payload};
    struct mcx_error err;
    int rc = db_sync_exec(db, "SELECT pg_notify($1, $2)", 2, params, NULL, &err);

    if (rc < 0)
        fprintf(stderr, "itest: pg_notify: %s\n", err.message);
    return rc;
}

/* The listener's backends in this test's database, found by application_name. */
static long count_listen_backends(struct itest *t, const char *extra_where)
{
    const char *params[] = {t->dbname};
    char sql[512];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity"
             " WHERE application_name = 'mcx-listen' AND datname = $1%s",
             extra_where);
    return sync_number(t->admin_conninfo, sql, 1, params);
}

static long kill_listen_backends(struct itest *t)
{
    const char *params[] = {t->dbname};

    return sync_number(t->admin_conninfo,
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE application_name = 'mcx-listen' AND datname = $1",
                       1, params);
}

/* The server notices a closed socket on its own schedule: poll for a while. */
static bool wait_listen_backends(struct itest *t, long want, int ms)
{
    int64_t start = mcx_now_us();
    long n;

    while ((n = count_listen_backends(t, "")) != want && ms_since(start) < ms)
        loop_for(t, 50);
    return n == want;
}

/* ---- (1) invalid arguments ---- */

static void test_bad_channel(struct itest *t)
{
    static const char *const bad[] = {
        "",
        "a-b",
        "a b",
        "x\"y",
        "chan;",
        "caf\xc3\xa9",
        "a\n",
        "pg.notify",
        "drop table x",
        "0123456789012345678901234567890123456789012345678901234567890123", /* 64 */
    };
    static const char *const good[] = {
        "_", "0abc", "Mixed_Case_9",
        "012345678901234567890123456789012345678901234567890123456789012", /* 63 */
    };
    struct inbox in = {0};

    for (size_t i = 0; i < MCX_ARRAY_LEN(bad); i++) {
        struct db_listener *l = listen_open(t, t->conninfo, bad[i], &in);
        if (l != NULL)
            fprintf(stderr, "itest: channel '%s' was accepted\n", bad[i]);
        CHECK(t, l == NULL);
        db_listener_free(l);
    }
    CHECK(t, listen_open(t, t->conninfo, NULL, &in) == NULL);
    CHECK(t, db_listen(t->base, t->conninfo, CHANNEL, NULL, NULL) == NULL);
    CHECK(t, db_listen(NULL, t->conninfo, CHANNEL, inbox_on_notify, &in) == NULL);
    for (size_t i = 0; i < MCX_ARRAY_LEN(good); i++) {
        struct db_listener *l = listen_open(t, t->conninfo, good[i], &in);
        CHECK(t, l != NULL);
        CHECK(t, !db_listener_connected(l));
        db_listener_free(l);
    }
    db_listener_free(NULL);
    CHECK(t, !db_listener_connected(NULL));
    CHECK(t, in.nulls == 0 && in.count == 0);
}

/* ---- (2) connecting says NULL once ---- */

static void test_connect(struct itest *t)
{
    struct inbox in = {0};
    struct db_listener *l = listen_open(t, t->conninfo, CHANNEL, &in);

    CHECK(t, l != NULL);
    CHECK(t, !db_listener_connected(l));
    CHECK(t, wait_inbox(t, &in, 1, 0, 5000));
    CHECK(t, !in.was_sync);
    CHECK(t, db_listener_connected(l));
    loop_for(t, 200);
    CHECK(t, in.nulls == 1 && in.count == 0);
    CHECK(t, count_listen_backends(t, " AND query = 'LISTEN \"" CHANNEL "\"'") == 1);
    db_listener_free(l);
    CHECK(t, wait_listen_backends(t, 0, 3000));
}

/* ---- (3) notifications arrive, in order ---- */

static void test_notify(struct itest *t)
{
    static const char tricky[] = "it's \"quoted\", back\\slash, caf\xc3\xa9";
    struct inbox in = {0};
    struct db_listener *l = listen_open(t, t->conninfo, CHANNEL, &in);
    struct db_sync *db = sync_open(t->conninfo);
    struct mcx_error err;
    int64_t start;
    char payload[16];
    bool is_ordered = true;

    CHECK(t, db != NULL && l != NULL);
    if (db == NULL || l == NULL)
        goto out;
    CHECK(t, wait_inbox(t, &in, 1, 0, 5000));
    start = mcx_now_us();
    CHECK(t, db_sync_exec(db, "NOTIFY " CHANNEL ", 'x'", 0, NULL, NULL, &err) == 0);
    CHECK(t, wait_inbox(t, &in, 1, 1, 1000));
    CHECK(t, ms_since(start) < 1000);
    CHECK(t, strcmp(in.payload[0], "x") == 0);
    /* Ten transactions in a row, another channel, an empty payload, quoting. */
    for (int i = 0; i < 10; i++) {
        snprintf(payload, sizeof(payload), "n%d", i);
        CHECK(t, notify(db, CHANNEL, payload) == 0);
    }
    CHECK(t, notify(db, "mcx_itest_other", "not for us") == 0);
    CHECK(t, db_sync_exec(db, "NOTIFY " CHANNEL, 0, NULL, NULL, &err) == 0);
    CHECK(t, notify(db, CHANNEL, tricky) == 0);
    /* Several in one transaction arrive at its commit, in order. */
    CHECK(t, db_sync_exec_script(db,
                                 "BEGIN; NOTIFY " CHANNEL ", 't1'; NOTIFY " CHANNEL ", 't2';"
                                 " NOTIFY " CHANNEL ", 't3'; COMMIT",
                                 &err) == 0);
    CHECK(t, wait_inbox(t, &in, 1, 16, 2000));
    for (int i = 0; i < 10; i++) {
        snprintf(payload, sizeof(payload), "n%d", i);
        is_ordered = is_ordered && strcmp(in.payload[1 + i], payload) == 0;
    }
    CHECK(t, is_ordered);
    CHECK(t, strcmp(in.payload[11], "") == 0);
    CHECK(t, strcmp(in.payload[12], tricky) == 0);
    CHECK(t, strcmp(in.payload[13], "t1") == 0 && strcmp(in.payload[14], "t2") == 0 &&
                 strcmp(in.payload[15], "t3") == 0);
    loop_for(t, 200);
    CHECK(t, in.count == 16 && in.nulls == 1 && !in.was_sync);
out:
    db_sync_close(db);
    db_listener_free(l);
}

/* The channel is quoted, so its case is kept: only the exact spelling reaches it. */
static void test_channel_case(struct itest *t)
{
    struct inbox in = {0};
    struct db_listener *l = listen_open(t, t->conninfo, "Mixed_Case", &in);
    struct db_sync *db = sync_open(t->conninfo);

    CHECK(t, db != NULL && l != NULL);
    if (db == NULL || l == NULL)
        goto out;
    CHECK(t, wait_inbox(t, &in, 1, 0, 5000));
    CHECK(t, notify(db, "mixed_case", "folded") == 0);
    CHECK(t, notify(db, "Mixed_Case", "exact") == 0);
    CHECK(t, wait_inbox(t, &in, 1, 1, 1000));
    loop_for(t, 200);
    CHECK(t, in.count == 1 && strcmp(in.payload[0], "exact") == 0);
out:
    db_sync_close(db);
    db_listener_free(l);
}

/* ---- (4) reconnect after the backend was terminated ---- */

static bool notify_arrives(struct itest *t, struct inbox *in, const char *payload)
{
    struct db_sync *db = sync_open(t->conninfo);
    int before = in->count;
    bool is_ok;

    if (db == NULL)
        return false;
    is_ok = notify(db, CHANNEL, payload) == 0 && wait_inbox(t, in, 0, before + 1, 1000) &&
            strcmp(in->payload[before], payload) == 0;
    db_sync_close(db);
    return is_ok;
}

static void test_reconnect(struct itest *t)
{
    struct inbox in = {0};
    struct db_listener *l = listen_open(t, t->conninfo, CHANNEL, &in);
    int64_t start;

    CHECK(t, wait_inbox(t, &in, 1, 0, 5000));
    CHECK(t, notify_arrives(t, &in, "before"));
    /* Killed soon after connecting: retried after a short backoff. */
    start = mcx_now_us();
    CHECK(t, kill_listen_backends(t) == 1);
    CHECK(t, wait_inbox(t, &in, 2, 0, 5000));
    CHECK(t, ms_since(start) < 2000);
    CHECK(t, db_listener_connected(l));
    CHECK(t, notify_arrives(t, &in, "after1"));
    /* Killed after more than a second up: retried at once. */
    loop_for(t, 1100);
    start = mcx_now_us();
    CHECK(t, kill_listen_backends(t) == 1);
    CHECK(t, wait_inbox(t, &in, 3, 0, 5000));
    CHECK(t, ms_since(start) < 2000);
    CHECK(t, notify_arrives(t, &in, "after2"));
    CHECK(t, in.nulls == 3 && in.count == 3);
    CHECK(t, count_listen_backends(t, "") == 1);
    db_listener_free(l);
    CHECK(t, wait_listen_backends(t, 0, 3000));
}

/* ---- (5) freeing in every state ---- */

/* A TCP port that accepts connections (the kernel completes the handshake) but
 * never answers: a connect attempt to it stays in CONNECTING. */
static int fake_server_open(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Reads what the peer sent until it closes; true at EOF within 2 s. */
static bool peer_closes(int fd)
{
    struct timeval tv = {2, 0};
    char buf[256];
    ssize_t n;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        ;
    return n == 0;
}

static void test_free_while_connecting(struct itest *t)
{
    struct inbox in = {0};
    struct db_listener *l;
    char conninfo[128];
    int port, lfd, fd;

    /* Before the loop ever ran: only the connect timer exists. */
    l = listen_open(t, t->conninfo, CHANNEL, &in);
    db_listener_free(l);
    lfd = fake_server_open(&port);
    CHECK(t, lfd >= 0);
    if (lfd < 0)
        return;
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=mcx dbname=x", port);
    l = listen_open(t, conninfo, CHANNEL, &in);
    loop_for(t, 300);
    CHECK(t, !db_listener_connected(l));
    /* Its TCP connection is there: the listener is waiting for the server's reply. */
    fd = accept(lfd, NULL, NULL);
    CHECK(t, fd >= 0);
    db_listener_free(l);
    if (fd >= 0) {
        CHECK(t, peer_closes(fd));
        close(fd);
    }
    close(lfd);
    CHECK(t, in.nulls == 0 && in.count == 0);
}

static void test_free_in_backoff(struct itest *t)
{
    struct inbox in = {0};
    struct db_listener *l;
    char conninfo[1200];
    int port, fd;

    /* A port that was just free: connections are refused. */
    fd = fake_server_open(&port);
    CHECK(t, fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=mcx dbname=x", port);
    l = listen_open(t, conninfo, CHANNEL, &in);
    loop_for(t, 500);
    CHECK(t, !db_listener_connected(l));
    db_listener_free(l);
    /* A Unix socket that does not exist, and a database that does not. */
    l = listen_open(t, "host=/nonexistent/itest_db_listen user=mcx dbname=x", CHANNEL, &in);
    loop_for(t, 300);
    CHECK(t, !db_listener_connected(l));
    db_listener_free(l);
    snprintf(conninfo, sizeof(conninfo), "host='%s/run' user=mcx dbname=%s_absent", t->pg_dir,
             t->dbname);
    l = listen_open(t, conninfo, CHANNEL, &in);
    loop_for(t, 300);
    CHECK(t, !db_listener_connected(l));
    db_listener_free(l);
    CHECK(t, in.nulls == 0 && in.count == 0);
}

static void test_free_from_callback(struct itest *t)
{
    struct inbox in = {0};
    struct db_listener *l;
    struct db_sync *db;
    struct mcx_error err;

    /* At the NULL signal. */
    in.self = &l;
    in.free_on_null = true;
    l = listen_open(t, t->conninfo, CHANNEL, &in);
    CHECK(t, wait_inbox(t, &in, 1, 0, 5000));
    CHECK(t, l == NULL);
    loop_for(t, 200);
    CHECK(t, in.nulls == 1);
    CHECK(t, wait_listen_backends(t, 0, 3000));
    /* At the first of three notifications that arrived together. */
    memset(&in, 0, sizeof(in));
    in.self = &l;
    l = listen_open(t, t->conninfo, CHANNEL, &in);
    CHECK(t, wait_inbox(t, &in, 1, 0, 5000));
    in.free_on_payload = true;
    db = sync_open(t->conninfo);
    CHECK(t, db != NULL);
    if (db != NULL) {
        CHECK(t, db_sync_exec_script(db,
                                     "BEGIN; NOTIFY " CHANNEL ", 'a'; NOTIFY " CHANNEL
                                     ", 'b'; NOTIFY " CHANNEL ", 'c'; COMMIT",
                                     &err) == 0);
        db_sync_close(db);
    }
    CHECK(t, wait_inbox(t, &in, 1, 1, 1000));
    loop_for(t, 200);
    CHECK(t, l == NULL && in.count == 1 && strcmp(in.payload[0], "a") == 0);
    db_listener_free(l);
    CHECK(t, wait_listen_backends(t, 0, 3000));
}

/* While listening, with notifications sent but not yet read. */
static void test_free_while_listening(struct itest *t)
{
    struct inbox in = {0};
    struct db_listener *l = listen_open(t, t->conninfo, CHANNEL, &in);
    struct db_sync *db = sync_open(t->conninfo);

    CHECK(t, wait_inbox(t, &in, 1, 0, 5000));
    if (db != NULL) {
        CHECK(t, notify(db, CHANNEL, "unread") == 0);
        db_sync_close(db);
    }
    db_listener_free(l);
    loop_for(t, 100);
    CHECK(t, in.count == 0);
    CHECK(t, wait_listen_backends(t, 0, 3000));
}

/* ---- driver ---- */

int main(void)
{
    static const struct itest_case cases[] = {
        {"invalid channel names and arguments give NULL", test_bad_channel},
        {"connecting calls back with NULL once", test_connect},
        {"notifications arrive within 1 s, in order", test_notify},
        {"the channel's case is kept", test_channel_case},
        {"reconnect after the backend was terminated", test_reconnect},
        {"free while connecting", test_free_while_connecting},
        {"free in backoff", test_free_in_backoff},
        {"free from inside the callback", test_free_from_callback},
        {"free while listening", test_free_while_listening},
    };
    struct itest t = {0};

    if (itest_setup(&t, "itest_db_listen") < 0)
        return 1;
    itest_run_cases(&t, cases, MCX_ARRAY_LEN(cases));
    CHECK(&t, wait_listen_backends(&t, 0, 3000));
    return itest_finish(&t);
}
