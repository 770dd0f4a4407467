/*
 * config.c — one table describes every option: its flag, environment variable,
 * kind, bounds and help line, so --help, parsing and the docs cannot drift.
 */
#include "server/config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "server/mail.h"

enum opt_kind { OPT_STRING, OPT_LONG, OPT_SIZE, OPT_BOOL, OPT_FLAG };

struct opt {
    const char *flag; /* without "--" */
    const char *env;
    enum opt_kind kind;
    size_t offset;
    long min, max;
    const char *arg;
    const char *help;
};

#define OFF(f) offsetof(struct mcx_config, f)

static const struct opt opts[] = {
    {"listen", "MCX_LISTEN", OPT_STRING, OFF(listen), 0, 0, "HOST:PORT",
     "address to serve HTTP on (default 127.0.0.1:8080)"},
    {"database-url", "MCX_DATABASE_URL", OPT_STRING, OFF(database_url), 0, 0, "CONNINFO",
     "PostgreSQL connection string or URI (default: libpq's PG* environment)"},
    {"web-root", "MCX_WEB_ROOT", OPT_STRING, OFF(web_root), 0, 0, "DIR",
     "static front end to serve (default ./web)"},
    {"schema-dir", "MCX_SCHEMA_DIR", OPT_STRING, OFF(schema_dir), 0, 0, "DIR",
     "SQL migrations for --migrate (default ./schemas/sql)"},
    {"loq-schemas", "MCX_LOQ_SCHEMAS", OPT_STRING, OFF(loq_schema_dir), 0, 0, "DIR",
     "Europass LOQ XSDs that published documents are validated against (default "
     "./schemas/loq)"},
    {"node-key", "MCX_NODE_KEY", OPT_STRING, OFF(node_key), 0, 0, "FILE",
     "this node's RSA private key (PEM, `mcx key generate`): signs partner feed requests "
     "(EWP HTTP Signatures)"},
    {"public-url", "MCX_PUBLIC_URL", OPT_STRING, OFF(public_url), 0, 0, "URL",
     "this node's public base URL, e.g. https://mcx.vdu.lt: absolute links in "
     "/ewp/manifest.xml (default: the request's scheme and Host header)"},
    {"admin-email", "MCX_ADMIN_EMAIL", OPT_STRING, OFF(admin_email), 0, 0, "EMAIL",
     "contact named in /ewp/manifest.xml, a role address (default postmaster@ the public "
     "host)"},
    {"pool-size", "MCX_POOL_SIZE", OPT_LONG, OFF(pool_size), 1, 1000, "N",
     "PostgreSQL connections per worker (default 8)"},
    {"pool-queue", "MCX_POOL_QUEUE", OPT_LONG, OFF(pool_queue), 0, 1000000, "N",
     "requests that may wait for a connection; beyond it 503 (default 1024)"},
    {"pool-timeout-ms", "MCX_POOL_TIMEOUT_MS", OPT_LONG, OFF(pool_timeout_ms), 1, 600000, "MS",
     "longest wait for a connection before 503 (default 5000)"},
    {"statement-timeout-ms", "MCX_STATEMENT_TIMEOUT_MS", OPT_LONG, OFF(statement_timeout_ms), 0,
     3600000, "MS", "server-side statement timeout, 0 = none (default 30000)"},
    {"workers", "MCX_WORKERS", OPT_LONG, OFF(workers), 1, 256, "N",
     "processes sharing the port with SO_REUSEPORT (default 1)"},
    {"max-connections", "MCX_MAX_CONNECTIONS", OPT_LONG, OFF(max_connections), 1, 1000000, "N",
     "open client connections per worker; beyond it 503 (default 20000)"},
    {"max-header-size", "MCX_MAX_HEADER_SIZE", OPT_SIZE, OFF(max_header_size), 256, 1 << 24,
     "BYTES", "request line + headers; beyond it 431 (default 32768)"},
    {"max-body-size", "MCX_MAX_BODY_SIZE", OPT_SIZE, OFF(max_body_size), 0, 1L << 34, "BYTES",
     "request body unless a route says otherwise; beyond it 413 (default 16777216)"},
    {"read-timeout-ms", "MCX_READ_TIMEOUT_MS", OPT_LONG, OFF(read_timeout_ms), 1, 3600000, "MS",
     "a request must arrive within it, else 408 (default 30000)"},
    {"write-timeout-ms", "MCX_WRITE_TIMEOUT_MS", OPT_LONG, OFF(write_timeout_ms), 1, 3600000, "MS",
     "a client that stops reading is dropped after it (default 30000)"},
    {"keepalive-timeout-ms", "MCX_KEEPALIVE_TIMEOUT_MS", OPT_LONG, OFF(keepalive_timeout_ms), 1,
     3600000, "MS", "idle keep-alive connections close after it (default 75000)"},
    {"shutdown-timeout-ms", "MCX_SHUTDOWN_TIMEOUT_MS", OPT_LONG, OFF(shutdown_timeout_ms), 0,
     3600000, "MS", "on SIGTERM, in-flight requests may finish within it (default 10000)"},
    {"tls-cert", "MCX_TLS_CERT", OPT_STRING, OFF(tls_cert), 0, 0, "FILE",
     "PEM certificate chain: serve HTTPS (needs --tls-key)"},
    {"tls-key", "MCX_TLS_KEY", OPT_STRING, OFF(tls_key), 0, 0, "FILE", "PEM private key"},
    {"access-log", "MCX_ACCESS_LOG", OPT_BOOL, OFF(access_log), 0, 0, "on|off",
     "one JSON line per request on stderr (default on)"},
    {"harvest", "MCX_HARVEST", OPT_BOOL, OFF(harvest), 0, 0, "on|off",
     "harvest partner feeds from this process (default on)"},
    {"harvest-tick-ms", "MCX_HARVEST_TICK_MS", OPT_LONG, OFF(harvest_tick_ms), 10, 3600000, "MS",
     "how often due partners are claimed (default 1000)"},
    {"harvest-timeout-ms", "MCX_HARVEST_TIMEOUT_MS", OPT_LONG, OFF(harvest_timeout_ms), 100,
     3600000, "MS", "one partner feed request, whole transfer (default 120000)"},
    {"harvest-max-body", "MCX_HARVEST_MAX_BODY", OPT_SIZE, OFF(harvest_max_body), 1024, 1L << 34,
     "BYTES", "a larger partner feed is aborted (default 268435456)"},
    {"harvest-backoff-ms", "MCX_HARVEST_BACKOFF_MS", OPT_LONG, OFF(harvest_backoff_ms), 10,
     86400000, "MS", "first retry after a failed harvest; doubles, with jitter (default 60000)"},
    {"harvest-concurrency", "MCX_HARVEST_CONCURRENCY", OPT_LONG, OFF(harvest_concurrency), 1, 1000,
     "N", "partner feeds fetched at once per worker (default 16)"},
    {"events-flush-ms", "MCX_EVENTS_FLUSH_MS", OPT_LONG, OFF(events_flush_ms), 10, 3600000, "MS",
     "exposure events (searches, offer reads) are written at least this often; a crash "
     "loses at most this much (default 1000)"},
    {"europass-adapter", "MCX_EUROPASS_ADAPTER", OPT_STRING, OFF(europass_adapter), 0, 0,
     "edci|local",
     "how credentials are sealed and delivered (default edci: a self-hosted EDCI issuer; "
     "local: mcx seals with the institution's eSeal, --europass-seal-file)"},
    {"europass-url", "MCX_EUROPASS_URL", OPT_STRING, OFF(europass_url), 0, 0, "URL",
     "the EDCI issuer's base URL, e.g. https://host/europass2/edci-issuer (unset: the outbox "
     "keeps credentials queued)"},
    {"europass-api", "MCX_EUROPASS_API", OPT_STRING, OFF(europass_api), 0, 0, "v2",
     "the EDCI issuer's public API version (default v2)"},
    {"europass-seal-password-file", "MCX_EUROPASS_SEAL_PASSWORD_FILE", OPT_STRING,
     OFF(europass_seal_password_file), 0, 0, "FILE",
     "the password of the seal certificate (edci: sent as the password part; local: opens "
     "--europass-seal-file)"},
    {"europass-seal-file", "MCX_EUROPASS_SEAL_FILE", OPT_STRING, OFF(europass_seal_file), 0, 0,
     "FILE",
     "local: the eSeal, a PKCS#12 file (.p12/.pfx) or a PEM private key (with its certificates, "
     "or see --europass-seal-chain)"},
    {"europass-seal-chain", "MCX_EUROPASS_SEAL_CHAIN", OPT_STRING, OFF(europass_seal_chain), 0, 0,
     "FILE",
     "local: the eSeal's certificates in PEM, leaf first (default: in --europass-seal-file)"},
    {"europass-token-file", "MCX_EUROPASS_TOKEN_FILE", OPT_STRING, OFF(europass_token_file), 0, 0,
     "FILE", "a bearer token for the authentication in front of the issuer's public API"},
    {"smtp-url", "MCX_SMTP_URL", OPT_STRING, OFF(smtp_url), 0, 0, "URL",
     "the mail relay for e-mail address confirmations: smtp://host:587 (STARTTLS when "
     "offered) or smtps://host:465 (unset: no mail is sent)"},
    {"smtp-from", "MCX_SMTP_FROM", OPT_STRING, OFF(smtp_from), 0, 0, "ADDRESS",
     "the mails' sender, \"Name <address>\" or an address (required with --smtp-url)"},
    {"smtp-user", "MCX_SMTP_USER", OPT_STRING, OFF(smtp_user), 0, 0, "NAME",
     "the relay's user name for AUTH (unset: no AUTH)"},
    {"smtp-password-file", "MCX_SMTP_PASSWORD_FILE", OPT_STRING, OFF(smtp_password_file), 0, 0,
     "FILE", "the relay's password, one line"},
    {"smtp-require-tls", "MCX_SMTP_REQUIRE_TLS", OPT_BOOL, OFF(smtp_require_tls), 0, 0, "on|off",
     "smtp://: fail unless the relay offers STARTTLS (default off: TLS when offered)"},
    {"learner-notices", "MCX_LEARNER_NOTICES", OPT_BOOL, OFF(learner_notices), 0, 0, "on|off",
     "with mail: tell each learner whose credential this node sealed (--europass-adapter "
     "local) where to download it (default on)"},
    {"outbox", "MCX_OUTBOX", OPT_BOOL, OFF(outbox), 0, 0, "on|off",
     "send queued credentials from this process (default on)"},
    {"outbox-max-attempts", "MCX_OUTBOX_MAX_ATTEMPTS", OPT_LONG, OFF(outbox_max_attempts), 1, 1000,
     "N", "attempts before a credential is failed (default 8)"},
    {"outbox-backoff-ms", "MCX_OUTBOX_BACKOFF_MS", OPT_LONG, OFF(outbox_backoff_ms), 10, 86400000,
     "MS", "first retry delay; doubles, with jitter (default 30000)"},
    {"outbox-tick-ms", "MCX_OUTBOX_TICK_MS", OPT_LONG, OFF(outbox_tick_ms), 10, 3600000, "MS",
     "how often due credentials are claimed (default 1000)"},
    {"outbox-concurrency", "MCX_OUTBOX_CONCURRENCY", OPT_LONG, OFF(outbox_concurrency), 1, 256, "N",
     "credentials sent at once by each worker (default 4)"},
    {"learner-retention-days", "MCX_LEARNER_RETENTION_DAYS", OPT_LONG, OFF(learner_retention_days),
     0, 36500, "DAYS",
     "learners' e-mail and birth date are deleted this long after delivery; the registry "
     "keeps the name, result and state (default 365; 0 keeps them)"},
    {"outbox-timeout-ms", "MCX_OUTBOX_TIMEOUT_MS", OPT_LONG, OFF(outbox_timeout_ms), 100, 3600000,
     "MS", "one request to the issuer, whole transfer (default 60000)"},
    {"migrate", "MCX_MIGRATE", OPT_FLAG, OFF(migrate), 0, 0, NULL,
     "apply pending migrations before serving"},
    {"debug-endpoints", "MCX_DEBUG_ENDPOINTS", OPT_FLAG, OFF(debug_endpoints), 0, 0, NULL,
     "enable /debug/* (tests and benchmarks only)"},
    {"help", NULL, OPT_FLAG, OFF(show_help), 0, 0, NULL, "show this help and exit"},
    {"version", NULL, OPT_FLAG, OFF(show_version), 0, 0, NULL, "print the version and exit"},
};

void config_init(struct mcx_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = xstrdup("127.0.0.1:8080");
    cfg->database_url = xstrdup("");
    cfg->web_root = xstrdup("web");
    cfg->schema_dir = xstrdup("schemas/sql");
    cfg->loq_schema_dir = xstrdup("schemas/loq");
    cfg->node_key = xstrdup("");
    cfg->europass_adapter = xstrdup("edci");
    cfg->europass_url = xstrdup("");
    cfg->europass_api = xstrdup("v2");
    cfg->europass_seal_password_file = xstrdup("");
    cfg->europass_token_file = xstrdup("");
    cfg->europass_seal_file = xstrdup("");
    cfg->smtp_url = xstrdup("");
    cfg->smtp_from = xstrdup("");
    cfg->smtp_user = xstrdup("");
    cfg->smtp_password_file = xstrdup("");
    cfg->europass_seal_chain = xstrdup("");
    cfg->public_url = xstrdup("");
    cfg->admin_email = xstrdup("");
    cfg->tls_cert = xstrdup("");
    cfg->tls_key = xstrdup("");
    cfg->pool_size = 8;
    cfg->pool_queue = 1024;
    cfg->pool_timeout_ms = 5000;
    cfg->statement_timeout_ms = 30000;
    cfg->workers = 1;
    cfg->max_connections = 20000;
    cfg->max_header_size = 32768;
    cfg->max_body_size = 16 * 1024 * 1024;
    cfg->read_timeout_ms = 30000;
    cfg->write_timeout_ms = 30000;
    cfg->keepalive_timeout_ms = 75000;
    cfg->shutdown_timeout_ms = 10000;
    cfg->access_log = true;
    cfg->harvest = true;
    cfg->harvest_tick_ms = 1000;
    cfg->harvest_timeout_ms = 120000;
    cfg->harvest_max_body = (size_t)256 * 1024 * 1024;
    cfg->harvest_backoff_ms = 60000;
    cfg->harvest_concurrency = 16;
    cfg->events_flush_ms = 1000;
    cfg->outbox = true;
    cfg->learner_notices = true;
    cfg->outbox_max_attempts = 8;
    cfg->outbox_backoff_ms = 30000;
    cfg->outbox_tick_ms = 1000;
    cfg->outbox_concurrency = 4;
    cfg->outbox_timeout_ms = 60000;
    cfg->learner_retention_days = 365;
}

void config_cleanup(struct mcx_config *cfg)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(opts); i++)
        if (opts[i].kind == OPT_STRING)
            free(*(char **)((char *)cfg + opts[i].offset));
    memset(cfg, 0, sizeof(*cfg));
}

static int set_bool(bool *dst, const char *v)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
        strcmp(v, "yes") == 0)
        *dst = true;
    else if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
             strcmp(v, "no") == 0)
        *dst = false;
    else
        return -1;
    return 0;
}

static int opt_apply(struct mcx_config *cfg, const struct opt *o, const char *v, const char *src,
                     struct mcx_error *err)
{
    void *dst = (char *)cfg + o->offset;
    long n;

    switch (o->kind) {
    case OPT_STRING:
        free(*(char **)dst);
        *(char **)dst = xstrdup(v);
        return 0;
    case OPT_LONG:
    case OPT_SIZE:
        if (mcx_parse_int(v, o->min, o->max, &n) != 0) {
            mcx_error_set(err, "bad_config", "%s: '%s' is not a whole number from %ld to %ld", src,
                          v, o->min, o->max);
            return -1;
        }
        if (o->kind == OPT_LONG)
            *(long *)dst = n;
        else
            *(size_t *)dst = (size_t)n;
        return 0;
    case OPT_BOOL:
    case OPT_FLAG:
        if (v == NULL)
            v = "on";
        if (set_bool(dst, v) != 0) {
            mcx_error_set(err, "bad_config", "%s: '%s' is not on or off", src, v);
            return -1;
        }
        return 0;
    }
    return 0;
}

static int load_env(struct mcx_config *cfg, const char *(*getenv_fn)(const char *),
                    struct mcx_error *err)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(opts); i++) {
        const char *v;
        if (opts[i].env == NULL || (v = getenv_fn(opts[i].env)) == NULL)
            continue;
        if (opts[i].kind == OPT_FLAG && v[0] == '\0')
            continue;
        if (opt_apply(cfg, &opts[i], v, opts[i].env, err) != 0)
            return -1;
    }
    return 0;
}

static int load_argv(struct mcx_config *cfg, int argc, char **argv, struct mcx_error *err)
{
    struct option lopts[MCX_ARRAY_LEN(opts) + 1];
    char src[64];
    int c, idx;

    memset(lopts, 0, sizeof(lopts));
    for (size_t i = 0; i < MCX_ARRAY_LEN(opts); i++) {
        lopts[i].name = opts[i].flag;
        lopts[i].has_arg = opts[i].kind == OPT_FLAG ? no_argument : required_argument;
        lopts[i].val = 0;
    }
    optind = 0; /* 0, not 1: glibc then also resets its position in "-xh" */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lopts, &idx)) != -1) {
        if (c == 'h') {
            cfg->show_help = true;
            continue;
        }
        if (c == '?') {
            if (optopt != 0)
                mcx_error_set(err, "bad_config", "unknown option '-%c'", optopt);
            else
                mcx_error_set(err, "bad_config", "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
        if (c == ':') {
            mcx_error_set(err, "bad_config", "option '%s' needs a value", argv[optind - 1]);
            return -1;
        }
        snprintf(src, sizeof(src), "--%s", opts[idx].flag);
        if (opt_apply(cfg, &opts[idx], optarg, src, err) != 0)
            return -1;
    }
    if (optind < argc) {
        mcx_error_set(err, "bad_config", "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return 0;
}

/* A DNS name (RFC 1123 §2.1): dot-separated labels of letters, digits and inner hyphens. */
static bool is_dns_name(const char *s, size_t len)
{
    size_t label = 0;

    if (len > 1 && s[len - 1] == '.') /* a fully qualified name's root */
        len--;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0 && s[len - 1] != '-';
}

/* "[v6]" (RFC 3986 §3.2.2 IP-literal; IPvFuture is not taken). */
static bool is_ipv6_literal(const char *s, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned char bin[16];

    if (len < 4 || len - 2 >= sizeof(addr) || s[0] != '[' || s[len - 1] != ']')
        return false;
    memcpy(addr, s + 1, len - 2);
    addr[len - 2] = '\0';
    return inet_pton(AF_INET6, addr, bin) == 1;
}

bool config_authority_is_valid(const char *s, size_t len)
{
    const char *end = s + len, *colon;
    long port;
    char digits[8];

    if (len == 0 || len > 270)
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL || !is_ipv6_literal(s, (size_t)(close - s + 1)))
            return false;
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return false;
    } else {
        colon = memchr(s, ':', len);
        if (!is_dns_name(s, colon ? (size_t)(colon - s) : len))
            return false;
    }
    if (colon == NULL)
        return true;
    len = (size_t)(end - colon - 1);
    if (len == 0 || len >= sizeof(digits) || strspn(colon + 1, "0123456789") < len)
        return false;
    memcpy(digits, colon + 1, len);
    digits[len] = '\0';
    return mcx_parse_int(digits, 1, 65535, &port) == 0;
}

/* http(s)://authority[/path], no userinfo, query or fragment; trailing '/' removed. */
static int check_public_url(char *url, struct mcx_error *err)
{
    /* RFC 3986 §3.3 pchar and '/', percent-encoded or not */
    static const char path_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-._~!$&'()*+,;=:@%/";
    const char *auth, *path;
    size_t n;

    if (url[0] == '\0')
        return 0;
    if (strncmp(url, "https://", 8) == 0)
        auth = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        auth = url + 7;
    else
        goto bad;
    path = auth + strcspn(auth, "/");
    n = strlen(path);
    if (strlen(url) > 1024 || !config_authority_is_valid(auth, (size_t)(path - auth)) ||
        strspn(path, path_chars) != n)
        goto bad;
    while (n > 0 && path[n - 1] == '/')
        n--;
    url[(size_t)(path - url) + n] = '\0';
    return 0;
bad:
    mcx_error_set(err, "bad_config",
                  "--public-url: '%s' is not an http:// or https:// URL without query "
                  "(e.g. https://mcx.vdu.lt)",
                  url);
    return -1;
}

/* The shape EWP's common-types.xsd wants ([^@]+@[^.]+\..+), in printable ASCII. */
static bool is_admin_email(const char *s)
{
    const char *at = strchr(s, '@'), *dot;
    size_t len = strlen(s);

    if (len > 254 || at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    dot = strchr(at + 1, '.');
    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

static int check(struct mcx_config *cfg, struct mcx_error *err)
{
    if ((cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0')) {
        mcx_error_set(err, "bad_config", "--tls-cert and --tls-key go together");
        return -1;
    }
    if (strrchr(cfg->listen, ':') == NULL) {
        mcx_error_set(err, "bad_config", "--listen: '%s' is not HOST:PORT", cfg->listen);
        return -1;
    }
    if (check_public_url(cfg->public_url, err) != 0)
        return -1;
    if (strcmp(cfg->europass_adapter, "edci") != 0 && strcmp(cfg->europass_adapter, "local") != 0) {
        mcx_error_set(err, "bad_config", "--europass-adapter: edci or local, not '%s'",
                      cfg->europass_adapter);
        return -1;
    }
    bool local = strcmp(cfg->europass_adapter, "local") == 0;
    if (local && cfg->europass_seal_file[0] == '\0') {
        mcx_error_set(err, "bad_config",
                      "--europass-adapter local seals with the institution's eSeal: give it "
                      "with --europass-seal-file");
        return -1;
    }
    if (!local && (cfg->europass_seal_file[0] != '\0' || cfg->europass_seal_chain[0] != '\0')) {
        mcx_error_set(err, "bad_config",
                      "--europass-seal-file and --europass-seal-chain are for "
                      "--europass-adapter local (with edci, the EDCI issuer holds the eSeal)");
        return -1;
    }
    if (local && cfg->europass_url[0] != '\0') {
        mcx_error_set(err, "bad_config",
                      "--europass-url is for --europass-adapter edci (local sends nothing)");
        return -1;
    }
    if (cfg->smtp_url[0] != '\0') {
        char addr[MAIL_ADDRESS_SIZE];
        if (strncmp(cfg->smtp_url, "smtp://", 7) != 0 &&
            strncmp(cfg->smtp_url, "smtps://", 8) != 0) {
            mcx_error_set(err, "bad_config", "--smtp-url: '%s' is not smtp:// or smtps://",
                          cfg->smtp_url);
            return -1;
        }
        if (cfg->smtp_from[0] == '\0') {
            mcx_error_set(err, "bad_config", "--smtp-url needs --smtp-from (the mails' sender)");
            return -1;
        }
        if (mail_from_parse(cfg->smtp_from, addr, err) != 0)
            return -1;
        if (cfg->public_url[0] == '\0') {
            mcx_error_set(err, "bad_config",
                          "--smtp-url needs --public-url: the links in the mails point there");
            return -1;
        }
    }
    /* v1 (ELM 2 XML sealed with XAdES, EDCI before 2.1) is named in DESIGN §5 and not
     * built: refused, not silently ignored */
    if (strcmp(cfg->europass_api, "v2") != 0) {
        mcx_error_set(err, "bad_config",
                      "--europass-api: only v2 (EDCI 2.1 and later, ELM 3 JSON-LD) is available, "
                      "not '%s'",
                      cfg->europass_api);
        return -1;
    }
    for (size_t n = strlen(cfg->europass_url); n > 0 && cfg->europass_url[n - 1] == '/'; n--)
        cfg->europass_url[n - 1] = '\0'; /* the API paths are appended with their own '/' */
    if (cfg->europass_url[0] != '\0' && strncmp(cfg->europass_url, "https://", 8) != 0 &&
        strncmp(cfg->europass_url, "http://", 7) != 0) {
        mcx_error_set(err, "bad_config", "--europass-url: '%s' is not an http(s) URL",
                      cfg->europass_url);
        return -1;
    }
    if (cfg->admin_email[0] != '\0' && !is_admin_email(cfg->admin_email)) {
        mcx_error_set(err, "bad_config", "--admin-email: '%s' is not an e-mail address",
                      cfg->admin_email);
        return -1;
    }
    return 0;
}

int config_load(struct mcx_config *cfg, int argc, char **argv,
                const char *(*getenv_fn)(const char *name), struct mcx_error *err)
{
    if (load_env(cfg, getenv_fn, err) != 0 || load_argv(cfg, argc, argv, err) != 0)
        return -1;
    if (cfg->show_help || cfg->show_version)
        return 0;
    return check(cfg, err);
}

void config_print_help(FILE *out)
{
    char left[64];

    fprintf(out, "usage: mcxd [OPTIONS]\n\n"
                 "mcxd serves the mcx micro-credential exchange: the HTTP API, partner feeds\n"
                 "and the web front end. Every option can also be set by the environment\n"
                 "variable shown; a flag wins over the environment.\n\n");
    for (size_t i = 0; i < MCX_ARRAY_LEN(opts); i++) {
        snprintf(left, sizeof(left), "--%s%s%s", opts[i].flag, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(out, "  %-30s %s", left, opts[i].help);
        if (opts[i].env)
            fprintf(out, " [%s]", opts[i].env);
        fputc('\n', out);
    }
    fprintf(out, "\nExit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad "
                 "configuration.\n");
}
