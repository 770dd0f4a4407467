/*
 * config.h — mcxd's configuration: defaults, then MCX_* environment variables,
 * then command-line flags (flags win). Pure code; mcxd.c calls it at start.
 */
#ifndef MCX_CONFIG_H
#define MCX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "server/util.h"

struct mcx_config {
    char *listen;
    char *database_url;
    char *web_root;
    char *schema_dir;
    char *loq_schema_dir;
    char *node_key;
    char *public_url;  /* "https://mcx.vdu.lt", no trailing slash; "" = from the Host header */
    char *admin_email; /* the discovery manifest's contact; "" = postmaster@ the public host */
    char *tls_cert;
    char *tls_key;
    long pool_size;
    long pool_queue;
    long pool_timeout_ms;
    long statement_timeout_ms;
    long workers;
    long max_connections;
    size_t max_header_size;
    size_t max_body_size;
    long read_timeout_ms;
    long write_timeout_ms;
    long keepalive_timeout_ms;
    long shutdown_timeout_ms;
    bool access_log;
    bool migrate;
    bool debug_endpoints;
    bool harvest;
    long harvest_tick_ms;
    long harvest_timeout_ms;
    size_t harvest_max_body;
    long harvest_backoff_ms;
    long harvest_concurrency;
    long events_flush_ms;
    /* issuance: the Europass adapter and the outbox (issuance/outbox.c) */
    char *europass_adapter;            /* "edci" (default) or "local" */
    char *europass_url;                /* the EDCI issuer's base; NULL: nothing is sent */
    char *europass_api;                /* "v2" (default) or "v1" */
    char *europass_seal_password_file; /* the EDCI seal certificate's password */
    char *europass_token_file;         /* a bearer token for the auth in front of EDCI */
    char *europass_seal_file;          /* local: the eSeal (PKCS#12, or PEM key [+ chain]) */
    char *europass_seal_chain;         /* local: the eSeal's certificates (PEM), or "" */
    bool outbox;                       /* send from this process (default on) */
    /* mail (server/mail.c): e-mail address confirmations */
    char *smtp_url;           /* smtp:// or smtps://, or "": no mail is sent */
    char *smtp_from;          /* "Name <address>" or an address */
    char *smtp_user;          /* AUTH user, or "" */
    char *smtp_password_file; /* AUTH password, one line */
    bool smtp_require_tls;    /* smtp://: STARTTLS or fail */
    bool learner_notices;     /* mail the learners of credentials sealed here */
    long outbox_max_attempts;
    long outbox_backoff_ms;
    long outbox_tick_ms;
    long outbox_concurrency;
    long outbox_timeout_ms;
    long learner_retention_days; /* personal data kept after delivery; 0: kept for good */
    bool show_help;
    bool show_version;
};

void config_init(struct mcx_config *cfg);
void config_cleanup(struct mcx_config *cfg);
/*
 * Applies environment (getenv_fn lets tests supply their own) then argv.
 * Returns 0, or -1 with err naming the option and what is wrong.
 */
int config_load(struct mcx_config *cfg, int argc, char **argv,
                const char *(*getenv_fn)(const char *name), struct mcx_error *err);
void config_print_help(FILE *out);

/*
 * A URL authority without userinfo (RFC 3986 §3.2): a DNS name, an IPv4 address or a
 * bracketed IPv6 address, then optionally ':' and a port 1-65535. For --public-url and
 * for handlers that build absolute URLs from a request's Host header (RFC 9110 §7.2).
 */
bool config_authority_is_valid(const char *s, size_t len);

#endif
