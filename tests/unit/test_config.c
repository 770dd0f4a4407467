/*
 * test_config.c — mcxd configuration (server/config.h): defaults, MCX_*
 * environment through a fake getenv, flags over environment, and every bound
 * rejected with a message that names the option the user got wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

/* The fake environment: name/value pairs ended by a NULL name. */
struct env_var {
    const char *name;
    const char *value;
};

static const struct env_var *fake_env;

static const char *fake_getenv(const char *name)
{
    for (const struct env_var *e = fake_env; e != NULL && e->name != NULL; e++)
        if (strcmp(e->name, name) == 0)
            return e->value;
    return NULL;
}

/* Test argv arrays end in NULL, as main()'s do (C11 5.1.2.2.1). */
#define ARGC(a) ((int)MCX_ARRAY_LEN(a) - 1)

/* Loads into a fresh cfg; the caller cleans it up. */
static int load(struct mcx_config *cfg, int argc, char **argv, const struct env_var *env,
                struct mcx_error *err)
{
    config_init(cfg);
    mcx_error_clear(err);
    fake_env = env;
    return config_load(cfg, argc, argv, fake_getenv, err);
}

static void assert_defaults(const struct mcx_config *c)
{
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->database_url, "");
    assert_string_equal(c->web_root, "web");
    assert_string_equal(c->schema_dir, "schemas/sql");
    assert_string_equal(c->tls_cert, "");
    assert_string_equal(c->tls_key, "");
    assert_int_equal(c->pool_size, 8);
    assert_int_equal(c->pool_queue, 1024);
    assert_int_equal(c->pool_timeout_ms, 5000);
    assert_int_equal(c->statement_timeout_ms, 30000);
    assert_int_equal(c->workers, 1);
    assert_int_equal(c->max_connections, 20000);
    assert_int_equal(c->max_header_size, 32768);
    assert_int_equal(c->max_body_size, 16777216);
    assert_int_equal(c->read_timeout_ms, 30000);
    assert_int_equal(c->write_timeout_ms, 30000);
    assert_int_equal(c->keepalive_timeout_ms, 75000);
    assert_int_equal(c->shutdown_timeout_ms, 10000);
    assert_true(c->access_log);
    assert_false(c->migrate);
    assert_false(c->debug_endpoints);
    assert_false(c->show_help);
    assert_false(c->show_version);
}

static void test_defaults(void **state)
{
    (void)state;
    struct mcx_config cfg;
    struct mcx_error err;
    char *argv[] = {"mcxd", NULL};

    config_init(&cfg);
    assert_defaults(&cfg);
    config_cleanup(&cfg);

    assert_int_equal(load(&cfg, ARGC(argv), argv, NULL, &err), 0);
    assert_defaults(&cfg);
    config_cleanup(&cfg);

    /* Variables mcxd does not know are not its business. */
    static const struct env_var env[] = {{"PATH", "/bin"}, {"MCX_UNKNOWN", "x"}, {NULL, NULL}};
    assert_int_equal(load(&cfg, ARGC(argv), argv, env, &err), 0);
    assert_defaults(&cfg);
    config_cleanup(&cfg);
}

static const struct env_var full_env[] = {
    {"MCX_LISTEN", "0.0.0.0:9000"},
    {"MCX_DATABASE_URL", "postgresql:///mcx"},
    {"MCX_WEB_ROOT", "/srv/web"},
    {"MCX_SCHEMA_DIR", "/srv/sql"},
    {"MCX_POOL_SIZE", "16"},
    {"MCX_POOL_QUEUE", "0"},
    {"MCX_POOL_TIMEOUT_MS", "250"},
    {"MCX_STATEMENT_TIMEOUT_MS", "0"},
    {"MCX_WORKERS", "4"},
    {"MCX_MAX_CONNECTIONS", "500"},
    {"MCX_MAX_HEADER_SIZE", "8192"},
    {"MCX_MAX_BODY_SIZE", "1048576"},
    {"MCX_READ_TIMEOUT_MS", "1000"},
    {"MCX_WRITE_TIMEOUT_MS", "2000"},
    {"MCX_KEEPALIVE_TIMEOUT_MS", "3000"},
    {"MCX_SHUTDOWN_TIMEOUT_MS", "4000"},
    {"MCX_TLS_CERT", "/etc/mcx/cert.pem"},
    {"MCX_TLS_KEY", "/etc/mcx/key.pem"},
    {"MCX_ACCESS_LOG", "off"},
    {"MCX_MIGRATE", "1"},
    {"MCX_DEBUG_ENDPOINTS", "yes"},
    {NULL, NULL},
};

static void test_env(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd", NULL};

    assert_int_equal(load(&c, ARGC(argv), argv, full_env, &err), 0);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_string_equal(c.database_url, "postgresql:///mcx");
    assert_string_equal(c.web_root, "/srv/web");
    assert_string_equal(c.schema_dir, "/srv/sql");
    assert_int_equal(c.pool_size, 16);
    assert_int_equal(c.pool_queue, 0);
    assert_int_equal(c.pool_timeout_ms, 250);
    assert_int_equal(c.statement_timeout_ms, 0);
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.max_connections, 500);
    assert_int_equal(c.max_header_size, 8192);
    assert_int_equal(c.max_body_size, 1048576);
    assert_int_equal(c.read_timeout_ms, 1000);
    assert_int_equal(c.write_timeout_ms, 2000);
    assert_int_equal(c.keepalive_timeout_ms, 3000);
    assert_int_equal(c.shutdown_timeout_ms, 4000);
    assert_string_equal(c.tls_cert, "/etc/mcx/cert.pem");
    assert_string_equal(c.tls_key, "/etc/mcx/key.pem");
    assert_false(c.access_log);
    assert_true(c.migrate);
    assert_true(c.debug_endpoints);
    assert_false(c.show_help);
    config_cleanup(&c);
}

static void test_argv_over_env(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd",
                    "--listen",
                    "[::1]:7000",
                    "--database-url=host=db dbname=mcx",
                    "--web-root",
                    "www",
                    "--schema-dir=sql",
                    "--pool-size",
                    "2",
                    "--pool-queue=7",
                    "--pool-timeout-ms",
                    "1",
                    "--statement-timeout-ms=3600000",
                    "--workers",
                    "256",
                    "--max-connections=1",
                    "--max-header-size",
                    "256",
                    "--max-body-size=0",
                    "--read-timeout-ms",
                    "5",
                    "--write-timeout-ms=6",
                    "--keepalive-timeout-ms",
                    "7",
                    "--shutdown-timeout-ms=0",
                    "--tls-cert",
                    "c.pem",
                    "--tls-key=k.pem",
                    "--access-log",
                    "on",
                    "--migrate",
                    "--debug-endpoints",
                    NULL};

    assert_int_equal(load(&c, ARGC(argv), argv, full_env, &err), 0);
    assert_string_equal(c.listen, "[::1]:7000");
    assert_string_equal(c.database_url, "host=db dbname=mcx");
    assert_string_equal(c.web_root, "www");
    assert_string_equal(c.schema_dir, "sql");
    assert_int_equal(c.pool_size, 2);
    assert_int_equal(c.pool_queue, 7);
    assert_int_equal(c.pool_timeout_ms, 1);
    assert_int_equal(c.statement_timeout_ms, 3600000);
    assert_int_equal(c.workers, 256);
    assert_int_equal(c.max_connections, 1);
    assert_int_equal(c.max_header_size, 256);
    assert_int_equal(c.max_body_size, 0);
    assert_int_equal(c.read_timeout_ms, 5);
    assert_int_equal(c.write_timeout_ms, 6);
    assert_int_equal(c.keepalive_timeout_ms, 7);
    assert_int_equal(c.shutdown_timeout_ms, 0);
    assert_string_equal(c.tls_cert, "c.pem");
    assert_string_equal(c.tls_key, "k.pem");
    assert_true(c.access_log);
    assert_true(c.migrate);
    assert_true(c.debug_endpoints);
    config_cleanup(&c);
}

/* The last of a repeated flag wins; the env value is replaced, not leaked. */
static void test_repeated_flag(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd", "--workers", "2", "--workers=3", "--web-root=a", "--web-root=b", NULL};
    static const struct env_var env[] = {
        {"MCX_WEB_ROOT", "env"}, {"MCX_WORKERS", "9"}, {NULL, NULL}};

    assert_int_equal(load(&c, ARGC(argv), argv, env, &err), 0);
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.web_root, "b");
    config_cleanup(&c);
}

struct bound {
    const char *flag; /* without "--" */
    const char *env;
    long min, max;
    size_t offset;
    bool is_size;
};

#define LONG_OPT(f, e, lo, hi, field)                                                              \
    {                                                                                              \
        f, e, lo, hi, offsetof(struct mcx_config, field), false                                    \
    }
#define SIZE_OPT(f, e, lo, hi, field)                                                              \
    {                                                                                              \
        f, e, lo, hi, offsetof(struct mcx_config, field), true                                     \
    }

static const struct bound bounds[] = {
    LONG_OPT("pool-size", "MCX_POOL_SIZE", 1, 1000, pool_size),
    LONG_OPT("pool-queue", "MCX_POOL_QUEUE", 0, 1000000, pool_queue),
    LONG_OPT("pool-timeout-ms", "MCX_POOL_TIMEOUT_MS", 1, 600000, pool_timeout_ms),
    LONG_OPT("statement-timeout-ms", "MCX_STATEMENT_TIMEOUT_MS", 0, 3600000, statement_timeout_ms),
    LONG_OPT("workers", "MCX_WORKERS", 1, 256, workers),
    LONG_OPT("max-connections", "MCX_MAX_CONNECTIONS", 1, 1000000, max_connections),
    SIZE_OPT("max-header-size", "MCX_MAX_HEADER_SIZE", 256, 1L << 24, max_header_size),
    SIZE_OPT("max-body-size", "MCX_MAX_BODY_SIZE", 0, 1L << 34, max_body_size),
    LONG_OPT("read-timeout-ms", "MCX_READ_TIMEOUT_MS", 1, 3600000, read_timeout_ms),
    LONG_OPT("write-timeout-ms", "MCX_WRITE_TIMEOUT_MS", 1, 3600000, write_timeout_ms),
    LONG_OPT("keepalive-timeout-ms", "MCX_KEEPALIVE_TIMEOUT_MS", 1, 3600000, keepalive_timeout_ms),
    LONG_OPT("shutdown-timeout-ms", "MCX_SHUTDOWN_TIMEOUT_MS", 0, 3600000, shutdown_timeout_ms),
};

static long field_value(const struct mcx_config *c, const struct bound *b)
{
    const char *p = (const char *)c + b->offset;
    return b->is_size ? (long)*(const size_t *)p : *(const long *)p;
}

/* Loads "--flag=value" and then env flag=value; both must give want_rc. */
static void check_value(const struct bound *b, const char *value, int want_rc)
{
    struct mcx_config c;
    struct mcx_error err;
    char arg[96];
    char *argv[] = {"mcxd", arg, NULL};
    const struct env_var env[] = {{b->env, value}, {NULL, NULL}};
    long n = 0;

    snprintf(arg, sizeof(arg), "--%s=%s", b->flag, value);
    int rc = load(&c, ARGC(argv), argv, NULL, &err);
    if (rc != want_rc)
        fail_msg("%s: got %d, want %d (%s)", arg, rc, want_rc, err.message);
    if (rc == 0) {
        assert_int_equal(mcx_parse_int(value, b->min, b->max, &n), 0);
        assert_int_equal(field_value(&c, b), n);
    } else {
        char name[64];
        snprintf(name, sizeof(name), "--%s:", b->flag);
        if (strncmp(err.message, name, strlen(name)) != 0)
            fail_msg("%s: message '%s' does not name the option", arg, err.message);
        assert_non_null(strstr(err.message, value));
        assert_string_equal(err.code, "bad_config");
    }
    config_cleanup(&c);

    /* "--flag value" as two arguments */
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s", b->flag);
    char *argv2[] = {"mcxd", flag, (char *)value, NULL};
    rc = load(&c, ARGC(argv2), argv2, NULL, &err);
    if (rc != want_rc)
        fail_msg("%s %s: got %d, want %d (%s)", flag, value, rc, want_rc, err.message);
    if (rc == 0)
        assert_int_equal(field_value(&c, b), n);
    else
        assert_non_null(strstr(err.message, flag));
    config_cleanup(&c);

    char *argv0[] = {"mcxd", NULL};
    rc = load(&c, ARGC(argv0), argv0, env, &err);
    if (rc != want_rc)
        fail_msg("%s=%s: got %d, want %d (%s)", b->env, value, rc, want_rc, err.message);
    if (rc == 0) {
        assert_int_equal(field_value(&c, b), n);
    } else {
        char name[64];
        snprintf(name, sizeof(name), "%s:", b->env);
        if (strncmp(err.message, name, strlen(name)) != 0)
            fail_msg("%s: message '%s' does not name the variable", b->env, err.message);
    }
    config_cleanup(&c);
}

static void test_numeric_bounds(void **state)
{
    (void)state;
    char v[32];

    for (size_t i = 0; i < MCX_ARRAY_LEN(bounds); i++) {
        const struct bound *b = &bounds[i];
        snprintf(v, sizeof(v), "%ld", b->min);
        check_value(b, v, 0);
        snprintf(v, sizeof(v), "%ld", b->max);
        check_value(b, v, 0);
        snprintf(v, sizeof(v), "%ld", b->min - 1);
        check_value(b, v, -1);
        snprintf(v, sizeof(v), "%ld", b->max + 1);
        check_value(b, v, -1);
        static const char *const junk[] = {
            "abc", "12abc", "1.5", "0x10", "-", "1e3", "99999999999999999999999"};
        for (size_t j = 0; j < MCX_ARRAY_LEN(junk); j++)
            check_value(b, junk[j], -1);
    }
}

static void test_numeric_empty_value(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd", "--workers=", NULL};
    static const struct env_var env[] = {{"MCX_WORKERS", ""}, {NULL, NULL}};
    char *argv0[] = {"mcxd", NULL};

    assert_int_equal(load(&c, ARGC(argv), argv, NULL, &err), -1);
    assert_non_null(strstr(err.message, "--workers"));
    config_cleanup(&c);
    assert_int_equal(load(&c, ARGC(argv0), argv0, env, &err), -1);
    assert_non_null(strstr(err.message, "MCX_WORKERS"));
    config_cleanup(&c);
}

/* An env error stops loading before argv is read. */
static void test_env_error_wins(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd", "--workers", "2", NULL};
    static const struct env_var env[] = {{"MCX_WORKERS", "0"}, {NULL, NULL}};

    assert_int_equal(load(&c, ARGC(argv), argv, env, &err), -1);
    assert_non_null(strstr(err.message, "MCX_WORKERS"));
    config_cleanup(&c);
}

static void test_argv_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args[4];
        const char *want; /* a substring of the message */
    } cases[] = {
        {{"--nope"}, "unknown option '--nope'"},
        {{"--nope=1"}, "--nope"},
        {{"-x"}, "unknown option"},
        {{"--workers", "2", "--bogus", "1"}, "--bogus"},
        {{"--listen"}, "option '--listen' needs a value"},
        {{"--workers"}, "'--workers' needs a value"},
        {{"--tls-key"}, "'--tls-key' needs a value"},
        {{"extra"}, "unexpected argument 'extra'"},
        {{"--workers", "2", "extra"}, "unexpected argument 'extra'"},
        {{"--", "--workers"}, "unexpected argument '--workers'"},
        {{"--migrate=off"}, "--migrate"}, /* a flag takes no value */
        {{"--access-log", "maybe"}, "--access-log: 'maybe' is not on or off"},
        {{"--access-log="}, "--access-log"},
        {{"--access-log", "ON"}, "--access-log"},
        {{"--listen", "localhost"}, "--listen: 'localhost' is not HOST:PORT"},
        {{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
        {{"--tls-key", "k.pem"}, "--tls-cert and --tls-key go together"},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct mcx_config c;
        struct mcx_error err;
        char *argv[6] = {"mcxd"}; /* the rest NULL */
        int argc = 1;
        for (int j = 0; j < 4 && cases[i].args[j] != NULL; j++)
            argv[argc++] = (char *)cases[i].args[j];
        int rc = load(&c, argc, argv, NULL, &err);
        if (rc != -1)
            fail_msg("case %zu (%s): accepted", i, cases[i].args[0]);
        if (strstr(err.message, cases[i].want) == NULL)
            fail_msg("case %zu (%s): message '%s' lacks '%s'", i, cases[i].args[0], err.message,
                     cases[i].want);
        assert_string_equal(err.code, "bad_config");
        config_cleanup(&c);
    }
}

static void test_env_errors(void **state)
{
    (void)state;
    static const struct {
        struct env_var env[2];
        const char *want;
    } cases[] = {
        {{{"MCX_ACCESS_LOG", "maybe"}}, "MCX_ACCESS_LOG: 'maybe' is not on or off"},
        {{{"MCX_ACCESS_LOG", ""}}, "MCX_ACCESS_LOG"},
        {{{"MCX_MIGRATE", "sure"}}, "MCX_MIGRATE: 'sure' is not on or off"},
        {{{"MCX_DEBUG_ENDPOINTS", "2"}}, "MCX_DEBUG_ENDPOINTS"},
        {{{"MCX_LISTEN", "8080"}}, "--listen: '8080' is not HOST:PORT"},
        {{{"MCX_TLS_CERT", "c.pem"}}, "--tls-cert and --tls-key go together"},
        {{{"MCX_TLS_KEY", "k.pem"}}, "--tls-cert and --tls-key go together"},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct mcx_config c;
        struct mcx_error err;
        char *argv[] = {"mcxd", NULL};
        if (load(&c, ARGC(argv), argv, cases[i].env, &err) != -1)
            fail_msg("case %zu (%s): accepted", i, cases[i].env[0].name);
        if (strstr(err.message, cases[i].want) == NULL)
            fail_msg("case %zu: message '%s' lacks '%s'", i, err.message, cases[i].want);
        config_cleanup(&c);
    }
}

static void test_tls_pairs(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd", "--tls-key", "k.pem", NULL};
    static const struct env_var env[] = {{"MCX_TLS_CERT", "c.pem"}, {NULL, NULL}};

    /* cert from the environment, key from a flag */
    assert_int_equal(load(&c, ARGC(argv), argv, env, &err), 0);
    assert_string_equal(c.tls_cert, "c.pem");
    assert_string_equal(c.tls_key, "k.pem");
    config_cleanup(&c);

    /* a flag can clear what the environment set */
    char *argv2[] = {"mcxd", "--tls-cert=", NULL};
    assert_int_equal(load(&c, ARGC(argv2), argv2, env, &err), 0);
    assert_string_equal(c.tls_cert, "");
    config_cleanup(&c);
}

static void test_booleans(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        bool want;
    } cases[] = {
        {"on", true},   {"1", true},  {"true", true},   {"yes", true},
        {"off", false}, {"0", false}, {"false", false}, {"no", false},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct mcx_config c;
        struct mcx_error err;
        char *argv[] = {"mcxd", "--access-log", (char *)cases[i].v, NULL};
        char *argv0[] = {"mcxd", NULL};
        const struct env_var env[] = {{"MCX_ACCESS_LOG", cases[i].v},
                                      {"MCX_MIGRATE", cases[i].v},
                                      {"MCX_DEBUG_ENDPOINTS", cases[i].v},
                                      {NULL, NULL}};

        assert_int_equal(load(&c, ARGC(argv), argv, NULL, &err), 0);
        assert_int_equal(c.access_log, cases[i].want);
        config_cleanup(&c);

        assert_int_equal(load(&c, ARGC(argv0), argv0, env, &err), 0);
        assert_int_equal(c.access_log, cases[i].want);
        assert_int_equal(c.migrate, cases[i].want);
        assert_int_equal(c.debug_endpoints, cases[i].want);
        config_cleanup(&c);
    }
}

/* A flag given as an empty environment variable stays off, as if unset. */
static void test_empty_flag_env(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd", NULL};
    static const struct env_var env[] = {
        {"MCX_MIGRATE", ""}, {"MCX_DEBUG_ENDPOINTS", ""}, {NULL, NULL}};

    assert_int_equal(load(&c, ARGC(argv), argv, env, &err), 0);
    assert_false(c.migrate);
    assert_false(c.debug_endpoints);
    config_cleanup(&c);

    /* --migrate on the command line beats MCX_MIGRATE=off */
    static const struct env_var off[] = {{"MCX_MIGRATE", "off"}, {NULL, NULL}};
    char *argv2[] = {"mcxd", "--migrate", NULL};
    assert_int_equal(load(&c, ARGC(argv2), argv2, off, &err), 0);
    assert_true(c.migrate);
    config_cleanup(&c);
}

static void test_help_version(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *help[] = {"mcxd", "--help", NULL};
    char *h[] = {"mcxd", "-h", NULL};
    char *version[] = {"mcxd", "--version", NULL};
    /* --help answers even when the rest would not pass the final checks */
    char *help_bad[] = {"mcxd", "--tls-cert", "c.pem", "--listen=nocolon", "--help", NULL};

    assert_int_equal(load(&c, ARGC(help), help, NULL, &err), 0);
    assert_true(c.show_help);
    assert_false(c.show_version);
    config_cleanup(&c);
    assert_int_equal(load(&c, ARGC(h), h, NULL, &err), 0);
    assert_true(c.show_help);
    config_cleanup(&c);
    assert_int_equal(load(&c, ARGC(version), version, NULL, &err), 0);
    assert_true(c.show_version);
    assert_false(c.show_help);
    config_cleanup(&c);
    assert_int_equal(load(&c, ARGC(help_bad), help_bad, NULL, &err), 0);
    assert_true(c.show_help);
    config_cleanup(&c);

    /* --help and --version are not environment variables */
    static const struct env_var env[] = {{"MCX_HELP", "1"}, {"MCX_VERSION", "1"}, {NULL, NULL}};
    char *argv0[] = {"mcxd", NULL};
    assert_int_equal(load(&c, ARGC(argv0), argv0, env, &err), 0);
    assert_false(c.show_help);
    assert_false(c.show_version);
    config_cleanup(&c);
}

static void test_print_help(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    config_print_help(f);
    fclose(f);
    assert_non_null(strstr(text, "usage: mcxd"));
    for (size_t i = 0; i < MCX_ARRAY_LEN(bounds); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s ", bounds[i].flag);
        assert_non_null(strstr(text, flag));
        assert_non_null(strstr(text, bounds[i].env));
    }
    static const char *const more[] = {
        "--listen HOST:PORT",  "--database-url CONNINFO",
        "--web-root DIR",      "--schema-dir DIR",
        "--tls-cert FILE",     "--tls-key FILE",
        "--access-log on|off", "--migrate",
        "--debug-endpoints",   "--help",
        "--version",           "[MCX_LISTEN]",
        "[MCX_TLS_KEY]",       "[MCX_ACCESS_LOG]",
        "[MCX_MIGRATE]",
    };
    for (size_t i = 0; i < MCX_ARRAY_LEN(more); i++)
        if (strstr(text, more[i]) == NULL)
            fail_msg("help lacks '%s'", more[i]);
    assert_null(strstr(text, "MCX_HELP"));
    free(text);
}

/*
 * Clears glibc's getopt scan state (optind = 0 re-initialises it) so each of
 * the tests below starts clean whatever ran before it.
 */
static int getopt_reset(void **state)
{
    char *argv[] = {"reset", NULL};

    (void)state;
    optind = 0;
    opterr = 0;
    (void)getopt(1, argv, "");
    return 0;
}

/*
 * An unknown short option inside a cluster ("-xh") must be named in the message.
 * getopt does not advance optind while the cluster has characters left, so
 * argv[optind - 1] is the previous word (here argv[0], "mcxd"); optopt holds 'x'.
 */
static void test_unknown_short_option_in_cluster(void **state)
{
    (void)state;
    struct mcx_config c;
    struct mcx_error err;
    char *argv[] = {"mcxd", "-xh", NULL};

    int rc = load(&c, ARGC(argv), argv, NULL, &err);
    config_cleanup(&c); /* before asserting: a failure must not leak */
    assert_int_equal(rc, -1);
    if (strstr(err.message, "'-x") == NULL || strstr(err.message, "mcxd") != NULL)
        fail_msg("message '%s' does not name -x", err.message);
}

/*
 * config_load may run more than once in a process (tests, a future reload).
 * glibc's getopt keeps its place inside a short-option cluster across calls
 * unless reset with optind = 0; optind = 1 leaves "-xh"'s 'h' pending, and the
 * next, unrelated argv is scanned from it: --help appears from nowhere and
 * argv is read past argv[argc] (a NULL dereference inside getopt under ASan).
 */
static void test_reload_after_error(void **state)
{
    (void)state;
    /* static: if getopt crashes, the strings stay reachable, not reported leaks */
    static struct mcx_config c;
    struct mcx_error err;
    char *bad[] = {"mcxd", "-xh", NULL};
    char *clean[] = {"mcxd", NULL};

    int rc = load(&c, ARGC(bad), bad, NULL, &err);
    config_cleanup(&c);
    assert_int_equal(rc, -1);
    rc = load(&c, ARGC(clean), clean, NULL, &err);
    bool help = c.show_help;
    config_cleanup(&c);
    assert_int_equal(rc, 0);
    assert_false(help);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_argv_over_env),
        cmocka_unit_test(test_repeated_flag),
        cmocka_unit_test(test_numeric_bounds),
        cmocka_unit_test(test_numeric_empty_value),
        cmocka_unit_test(test_env_error_wins),
        cmocka_unit_test(test_argv_errors),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_tls_pairs),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_empty_flag_env),
        cmocka_unit_test(test_help_version),
        cmocka_unit_test(test_print_help),
        /* Last: these expose known bugs and may leave getopt's state dirty. */
        cmocka_unit_test_setup(test_unknown_short_option_in_cluster, getopt_reset),
        cmocka_unit_test_setup(test_reload_after_error, getopt_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
