/*
 * mcxd.h — the process: configuration, workers, one event loop per worker, the
 * pool, the HTTP server and the modules' routes. main.c only calls mcxd_main().
 */
#ifndef MCX_MCXD_H
#define MCX_MCXD_H

#include <stdint.h>
#include <time.h>

#include "server/config.h"

struct event_base;
struct db_pool;
struct http_server;
struct router;
struct metrics;
struct static_files;
struct loq_schemas;
struct ewp_schemas;
struct http_client;
struct harvester;
struct sigauth_sweeper;
struct events;

/* The one process context (per worker); handlers get it as their route arg. */
struct mcxd {
    const struct mcx_config *cfg;
    int worker;
    char node[192]; /* host:pid/worker */
    struct event_base *base;
    struct db_pool *pool;
    struct router *router;
    struct metrics *metrics;
    struct http_server *http;
    struct static_files *web;
    const struct loq_schemas *loq; /* loaded once before the workers fork */
    const struct ewp_schemas *ewp; /* EWP Courses XSDs, likewise */
    struct http_client *client;    /* outgoing HTTP (partner feeds) */
    void *node_key;                /* EVP_PKEY * signing outgoing requests, or NULL */
    struct harvester *harvester;   /* NULL with --harvest off */
    struct sigauth_sweeper *sweeper;
    struct search *search;        /* GET /api/v1/offers */
    struct db_listener *listener; /* LISTEN mcx_catalogue */
    struct offload *offload;      /* helper threads for scrypt */
    struct events *events;        /* exposure counting: searches and offer reads */
    struct outbox *outbox;        /* NULL without --europass-url or with --outbox off */
    struct retention *retention;  /* NULL with --learner-retention-days 0 */
    struct notifier *notifier;    /* NULL without mail or with --learner-notices off */
    char *europass_password;      /* from --europass-seal-password-file, or "" */
    char *europass_token;         /* from --europass-token-file, or "" */
    char *smtp_password;          /* from --smtp-password-file, or "" */
    int64_t started_us;
};

int mcxd_main(int argc, char **argv);

#endif
