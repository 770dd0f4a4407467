/*
 * mcxd.c — process lifecycle. With --workers N > 1 a small master forks N
 * workers that each bind the port with SO_REUSEPORT and run their own loop and
 * pool (as nginx does); the master only forwards signals and replaces workers
 * that die. With one worker there is no master.
 */
#include "server/mcxd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "catalogue/applications.h"
#include "catalogue/events.h"
#include "catalogue/ewp.h"
#include "catalogue/feeds.h"
#include "catalogue/harvest.h"
#include "catalogue/impact.h"
#include "catalogue/loq.h"
#include "catalogue/manifest.h"
#include "catalogue/partners.h"
#include "catalogue/publish.h"
#include "issuance/credentials.h"
#include "issuance/jades.h"
#include "issuance/readiness.h"
#include "issuance/notice.h"
#include "issuance/outbox.h"
#include "issuance/retention.h"
#include "catalogue/search.h"
#include "catalogue/sigauth.h"
#include "recognition/agreements.h"
#include "recognition/requests.h"
#include "recognition/transfers.h"
#include "server/accounts.h"
#include "server/confirm.h"
#include "server/json.h"
#include "server/admin.h"
#include "server/client.h"
#include "server/db.h"
#include "server/http.h"
#include "server/httpsig.h"
#include "server/metrics.h"
#include "server/offload.h"
#include "server/migrate.h"
#include "server/ops.h"
#include "server/router.h"
#include "server/static.h"

#define EXIT_CONFIG 2

/* What every worker shares, made once before they fork (copy-on-write after). */
struct shared {
    void *tls;                     /* SSL_CTX *, or NULL for plain HTTP */
    void *node_key;                /* EVP_PKEY *, or NULL: feed requests go unsigned */
    const struct loq_schemas *loq; /* the LOQ XSDs, slow to parse */
    const struct ewp_schemas *ewp; /* the EWP Courses XSDs */
    struct jades_key *seal;        /* --europass-adapter local: the eSeal, else NULL */
};

static void log_line(const char *level, int worker, const char *msg)
{
    fprintf(stderr, "{\"level\":\"%s\",\"worker\":%d,\"msg\":\"%s\"}\n", level, worker, msg);
}

/* 10,000 idle keep-alive clients need as many descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void events_drained(void *arg)
{
    struct mcxd *app = arg;

    event_base_loopexit(app->base, NULL);
}

/* No request is left to record an event: write what waits, while the pool is open. */
static void drain_done(void *arg)
{
    struct mcxd *app = arg;

    events_drain(app->events, events_drained, app);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct mcxd *app = arg;
    char msg[96];

    (void)what;
    snprintf(msg, sizeof(msg), "signal %d: draining %d in-flight requests", (int)sig,
             http_server_requests_in_flight(app->http));
    log_line("info", app->worker, msg);
    http_server_drain(app->http, drain_done, app);
}

/* "host:pid" names this worker in harvest_runs and partner claims. */
static void node_name(char *out, size_t size, int worker)
{
    char host[128] = "localhost";

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(out, size, "%s:%d/%d", host, (int)getpid(), worker);
}

static void catalogue_changed(const char *payload, void *arg)
{
    struct mcxd *app = arg;

    search_catalogue_changed(app->search, payload);
}

/* A secret from a file (one line; a trailing newline is not part of it), or "" when
 * path is "". The file should be readable by mcx alone; its content is never logged. */
static int read_secret(const char *path, const char *flag, char **out, struct mcx_error *err)
{
    char line[4096];
    FILE *f;
    size_t n;

    *out = NULL;
    if (path[0] == '\0') {
        *out = xstrdup("");
        return 0;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        mcx_error_set(err, "bad_config", "%s: cannot read %s: %s", flag, path, strerror(errno));
        return -1;
    }
    n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    *out = xstrdup(line);
    OPENSSL_cleanse(line, sizeof(line));
    return 0;
}

static int app_init(struct mcxd *app, const struct mcx_config *cfg, int worker,
                    const struct shared *sh, struct mcx_error *err)
{
    struct db_pool_config pc = {
        .conninfo = cfg->database_url,
        .size = (int)cfg->pool_size,
        .max_waiting = (int)cfg->pool_queue,
        .wait_timeout_ms = (int)cfg->pool_timeout_ms,
        .statement_timeout_ms = (int)cfg->statement_timeout_ms,
    };
    struct http_server_config hc = {
        .max_header_size = cfg->max_header_size,
        .max_body_size = cfg->max_body_size,
        .read_timeout_ms = (int)cfg->read_timeout_ms,
        .write_timeout_ms = (int)cfg->write_timeout_ms,
        .keepalive_timeout_ms = (int)cfg->keepalive_timeout_ms,
        .max_connections = (int)cfg->max_connections,
        .shutdown_timeout_ms = (int)cfg->shutdown_timeout_ms,
        .tls_ctx = sh->tls,
        .worker = worker,
        .access_log = cfg->access_log,
    };

    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    app->worker = worker;
    app->loq = sh->loq;
    app->ewp = sh->ewp;
    app->node_key = sh->node_key;
    node_name(app->node, sizeof(app->node), worker);
    app->started_us = mcx_now_us();
    app->base = event_base_new();
    if (app->base == NULL) {
        mcx_error_set(err, "startup", "cannot create the event loop");
        return -1;
    }
    app->web = static_files_new(cfg->web_root, err);
    if (app->web == NULL)
        return -1;
    app->pool = db_pool_new(app->base, &pc);
    app->metrics = metrics_new(worker);
    app->router = router_new();
    app->http = http_server_new(app->base, &hc, app->router, app->metrics);
    app->client = client_new(app->base);
    struct events_config ec = {
        .node = app->node,
        .worker = worker,
        .flush_ms = (int)cfg->events_flush_ms,
        /* behind a TLS-terminating proxy the public URL says what the browser sees */
        .secure_cookie = sh->tls != NULL || strncmp(cfg->public_url, "https://", 8) == 0,
    };
    app->events = events_new(app->base, app->pool, app->metrics, &ec);
    if (cfg->harvest) {
        struct harvest_config hv = {
            .tick_ms = (int)cfg->harvest_tick_ms,
            .timeout_ms = (int)cfg->harvest_timeout_ms,
            .max_body = cfg->harvest_max_body,
            .backoff_ms = (int)cfg->harvest_backoff_ms,
            .concurrency = (int)cfg->harvest_concurrency,
            .node = app->node,
        };
        app->harvester = harvester_new(app, &hv);
    }
    if (read_secret(cfg->europass_seal_password_file, "--europass-seal-password-file",
                    &app->europass_password, err) != 0 ||
        read_secret(cfg->europass_token_file, "--europass-token-file", &app->europass_token, err) !=
            0 ||
        read_secret(cfg->smtp_password_file, "--smtp-password-file", &app->smtp_password, err) != 0)
        return -1;
    if (cfg->outbox && (cfg->europass_url[0] != '\0' || sh->seal != NULL)) {
        struct outbox_config oc = {
            .tick_ms = (int)cfg->outbox_tick_ms,
            .concurrency = (int)cfg->outbox_concurrency,
            .max_attempts = (int)cfg->outbox_max_attempts,
            .backoff_ms = (int)cfg->outbox_backoff_ms,
            .node = app->node,
            .seal = sh->seal,
            .edci = {.url = cfg->europass_url,
                     .api = cfg->europass_api,
                     .seal_password = app->europass_password,
                     .token = app->europass_token,
                     .timeout_ms = cfg->outbox_timeout_ms},
        };
        app->outbox = outbox_new(app, &oc);
    }
    app->retention = retention_new(app, cfg->learner_retention_days);
    app->notifier = notifier_new(app, (int)cfg->outbox_tick_ms);
    app->sweeper = sigauth_sweeper_new(app);
    ops_routes_add(app);
    publish_routes_add(app);
    accounts_routes_add(app);
    confirm_routes_add(app);
    admin_routes_add(app);
    applications_routes_add(app);
    impact_routes_add(app);
    partners_routes_add(app);
    feeds_routes_add(app);
    manifest_routes_add(app);
    agreements_routes_add(app);
    requests_routes_add(app);
    transfers_routes_add(app);
    credentials_routes_add(app);
    readiness_routes_add(app);
    app->offload = offload_new(app->base, 1, 64); /* scrypt: one helper thread per worker */
    app->search = search_new(app);
    search_routes_add(app, app->search);
    /* every node hears of every catalogue change: search ETags stay honest */
    app->listener =
        db_listen(app->base, cfg->database_url, "mcx_catalogue", catalogue_changed, app);
    static_pages_add(app->web, app->router);
    http_server_set_fallback(app->http, static_serve, app->web);
    return http_server_listen(app->http, cfg->listen, cfg->workers > 1, err);
}

static void app_cleanup(struct mcxd *app)
{
    sigauth_sweeper_free(app->sweeper);
    db_listener_free(app->listener);
    search_free(app->search);
    harvester_free(app->harvester);
    outbox_free(app->outbox);
    notifier_free(app->notifier);
    retention_free(app->retention);
    events_free(app->events);
    client_free(app->client);
    http_server_free(app->http);
    offload_free(app->offload); /* after the requests: their jobs are cancelled by now */
    router_free(app->router);
    metrics_free(app->metrics);
    db_pool_free(app->pool);
    static_files_free(app->web);
    if (app->europass_password != NULL)
        OPENSSL_cleanse(app->europass_password, strlen(app->europass_password));
    free(app->europass_password);
    free(app->europass_token);
    if (app->smtp_password != NULL)
        OPENSSL_cleanse(app->smtp_password, strlen(app->smtp_password));
    free(app->smtp_password);
    if (app->base != NULL)
        event_base_free(app->base);
}

/* One worker: its loop runs until a signal's drain completes. */
static int worker_run(const struct mcx_config *cfg, int worker, const struct shared *sh)
{
    struct mcxd app;
    struct mcx_error err;
    struct event *sigterm, *sigint;
    char msg[600];
    sigset_t none;
    int rc = 0;

    if (app_init(&app, cfg, worker, sh, &err) != 0) {
        fprintf(stderr, "mcxd: %s\n", err.message);
        app_cleanup(&app);
        return EXIT_CONFIG;
    }
    sigterm = evsignal_new(app.base, SIGTERM, on_signal, &app);
    sigint = evsignal_new(app.base, SIGINT, on_signal, &app);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    /* A forked worker starts with the master's signals blocked, so a SIGTERM that
     * arrives while it starts waits for the handlers above and drains, instead of
     * killing it; the helper threads made in app_init keep them blocked. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    snprintf(msg, sizeof(msg), "listening on %s://%.*s:%d/", sh->tls ? "https" : "http",
             (int)(strrchr(cfg->listen, ':') - cfg->listen), cfg->listen,
             http_server_port(app.http));
    log_line("info", worker, msg);
    if (event_base_dispatch(app.base) != 0)
        rc = 1;
    log_line("info", worker, "stopped");
    event_free(sigterm);
    event_free(sigint);
    app_cleanup(&app);
    return rc;
}

static pid_t worker_spawn(const struct mcx_config *cfg, int worker, const struct shared *sh)
{
    pid_t pid = fork();

    if (pid == 0)
        _exit(worker_run(cfg, worker, sh));
    return pid;
}

static int worker_index(const pid_t *pids, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid)
            return i;
    return -1;
}

/* Reaps exited workers; returns how many are still alive. */
static int master_reap(const struct mcx_config *cfg, pid_t *pids, int n, bool stopping,
                       const struct shared *sh, int *rc)
{
    int status, alive = 0;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int i = worker_index(pids, n, pid);
        if (i < 0)
            continue;
        pids[i] = 0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (stopping || code == EXIT_CONFIG) {
            if (code != 0 && *rc == 0)
                *rc = code == EXIT_CONFIG ? EXIT_CONFIG : 1;
            continue;
        }
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"worker %d exited (%d); restarting\"}\n", i,
                code);
        sleep(1); /* a crash loop must not spin */
        pids[i] = worker_spawn(cfg, i, sh);
    }
    for (int i = 0; i < n; i++)
        alive += pids[i] > 0;
    return alive;
}

static void master_signal(pid_t *pids, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], sig);
}

static int master_run(const struct mcx_config *cfg, const struct shared *sh)
{
    int n = (int)cfg->workers, rc = 0, sig;
    pid_t *pids = xcalloc((size_t)n, sizeof(pid_t));
    bool stopping = false;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (int i = 0; i < n; i++)
        pids[i] = worker_spawn(cfg, i, sh);
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT) {
            stopping = true;
            master_signal(pids, n, SIGTERM);
            continue;
        }
        int alive = master_reap(cfg, pids, n, stopping, sh, &rc);
        if (rc == EXIT_CONFIG && !stopping) {
            stopping = true; /* a worker could not start: stop them all */
            master_signal(pids, n, SIGTERM);
        }
        if (alive == 0)
            break;
    }
    free(pids);
    return rc;
}

/*
 * Workers bind the port themselves (SO_REUSEPORT), so "port 0" must be turned
 * into one real port first, or each worker would get its own. The reserved
 * socket stays bound (never listening) until the master exits.
 */
static int reserve_port(struct mcx_config *cfg, int *fd)
{
    struct mcx_error err;
    struct buf listen;
    int port;

    if (http_port_reserve(cfg->listen, fd, &port, &err) != 0) {
        fprintf(stderr, "mcxd: %s\n", err.message);
        return -1;
    }
    buf_init(&listen);
    buf_printf(&listen, "%.*s:%d", (int)(strrchr(cfg->listen, ':') - cfg->listen), cfg->listen,
               port);
    free(cfg->listen);
    cfg->listen = buf_steal(&listen, NULL);
    return 0;
}

static int run_migrations(const struct mcx_config *cfg)
{
    struct mcx_error err;
    int applied = 0;

    if (migrate_run(cfg->database_url, cfg->schema_dir, &applied, &err) != 0) {
        fprintf(stderr, "mcxd: migration failed: %s\n", err.message);
        return -1;
    }
    return 0;
}

/*
 * The local adapter's eSeal, loaded once before the workers fork so that a wrong
 * password or an expired certificate stops mcxd at start-up. A file that starts as
 * PEM is a key (its certificates in it or in --europass-seal-chain), else PKCS#12.
 */
static int seal_load(const struct mcx_config *cfg, struct shared *sh)
{
    const char *file = cfg->europass_seal_file;
    char *password = NULL, head[16] = "";
    struct mcx_error err;
    time_t now = time(NULL);
    FILE *f;
    int rc;

    if (read_secret(cfg->europass_seal_password_file, "--europass-seal-password-file", &password,
                    &err) != 0) {
        fprintf(stderr, "mcxd: %s\n", err.message);
        return -1;
    }
    f = fopen(file, "rb");
    if (f != NULL) {
        head[fread(head, 1, sizeof(head) - 1, f)] = '\0';
        fclose(f);
    }
    if (strncmp(head, "-----BEGIN", 10) == 0)
        rc = jades_key_load_pem(file, cfg->europass_seal_chain[0] ? cfg->europass_seal_chain : file,
                                password[0] ? password : NULL, now, &sh->seal, &err);
    else if (cfg->europass_seal_chain[0] != '\0') {
        mcx_error_set(&err, "bad_config",
                      "--europass-seal-chain goes with a PEM key; %s is not PEM (a PKCS#12 file "
                      "holds its own certificates)",
                      file);
        rc = -1;
    } else
        rc = jades_key_load_p12(file, password, now, &sh->seal, &err);
    OPENSSL_cleanse(password, strlen(password));
    free(password);
    if (rc != 0) {
        fprintf(stderr, "mcxd: --europass-seal-file: %s\n", err.message);
        return -1;
    }
    time_t left = jades_key_not_after(sh->seal) - now;
    json_log(left < 30L * 86400 ? "warn" : "info", -1,
             "europass: sealing locally as %s; the certificate expires in %ld days",
             jades_key_subject(sh->seal), (long)(left / 86400));
    return 0;
}

/* Loads what the workers share; -1 with a message printed. */
static int shared_load(const struct mcx_config *cfg, struct shared *sh)
{
    struct mcx_error err;

    if (client_global_init() != 0) {
        fprintf(stderr, "mcxd: libcurl cannot start (it needs its asynchronous resolver)\n");
        return -1;
    }
    if (cfg->tls_cert[0] != '\0' &&
        (sh->tls = http_tls_ctx_new(cfg->tls_cert, cfg->tls_key, &err)) == NULL) {
        fprintf(stderr, "mcxd: %s\n", err.message);
        return -1;
    }
    if (cfg->node_key[0] != '\0' &&
        (sh->node_key = httpsig_key_load_private(cfg->node_key, &err)) == NULL) {
        fprintf(stderr, "mcxd: --node-key %s: %s\n", cfg->node_key, err.message);
        return -1;
    }
    if (cfg->europass_seal_file[0] != '\0' && seal_load(cfg, sh) != 0)
        return -1;
    sh->loq = loq_schemas_load(cfg->loq_schema_dir, &err);
    /* The default is relative to the working directory; a build run from
     * elsewhere (tests, bench) still finds the copy in its source tree. */
    if (sh->loq == NULL && strcmp(cfg->loq_schema_dir, "schemas/loq") == 0)
        sh->loq = loq_schemas_load(MCX_SOURCE_DIR "/schemas/loq", &err);
    if (sh->loq != NULL) {
        /* the EWP schemas live beside the LOQ ones: schemas/ewp */
        struct buf dir;
        buf_init(&dir);
        buf_printf(&dir, "%s/../ewp", cfg->loq_schema_dir);
        sh->ewp = ewp_schemas_load(dir.data, &err);
        if (sh->ewp == NULL && strcmp(cfg->loq_schema_dir, "schemas/loq") == 0)
            sh->ewp = ewp_schemas_load(MCX_SOURCE_DIR "/schemas/ewp", &err);
        buf_cleanup(&dir);
        if (sh->ewp == NULL) {
            fprintf(stderr, "mcxd: cannot load the EWP schemas: %s\n", err.message);
            return -1;
        }
    }
    if (sh->loq == NULL) {
        fprintf(stderr, "mcxd: cannot load the LOQ schemas from %s: %s\n", cfg->loq_schema_dir,
                err.message);
        return -1;
    }
    return 0;
}

static void shared_free(struct shared *sh)
{
    client_global_cleanup();
    jades_key_free(sh->seal);
    EVP_PKEY_free(sh->node_key);
    http_tls_ctx_free(sh->tls);
    loq_schemas_free((struct loq_schemas *)sh->loq);
    ewp_schemas_free((struct ewp_schemas *)sh->ewp);
}

int mcxd_main(int argc, char **argv)
{
    struct mcx_config cfg;
    struct mcx_error err;
    struct shared sh = {0};
    int rc, reserved_fd = -1;

    config_init(&cfg);
    if (config_load(&cfg, argc, argv, (const char *(*)(const char *))getenv, &err) != 0) {
        fprintf(stderr, "mcxd: %s\nTry 'mcxd --help'.\n", err.message);
        config_cleanup(&cfg);
        return EXIT_CONFIG;
    }
    if (cfg.show_help || cfg.show_version) {
        if (cfg.show_help)
            config_print_help(stdout);
        else
            printf("mcxd %s\n", MCX_VERSION);
        config_cleanup(&cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (shared_load(&cfg, &sh) != 0)
        rc = EXIT_CONFIG;
    else if (cfg.migrate && run_migrations(&cfg) != 0)
        rc = 1;
    else if (cfg.workers > 1 && reserve_port(&cfg, &reserved_fd) != 0)
        rc = EXIT_CONFIG;
    else
        rc = cfg.workers > 1 ? master_run(&cfg, &sh) : worker_run(&cfg, 0, &sh);
    if (reserved_fd >= 0)
        close(reserved_fd);
    shared_free(&sh);
    config_cleanup(&cfg);
    return rc;
}
