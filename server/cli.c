/*
 * cli.c — `mcx`, the admin command line. Global options come first, then a
 * subcommand from cli_commands[]; a new command is one more row and one function.
 * Humans read stderr; stdout carries only the value a command was asked for, so
 * scripts can capture it.
 */
#include "server/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/auth.h"
#include "server/db.h"
#include "server/httpsig.h"
#include "catalogue/gen.h"
#include "catalogue/gen_load.h"
#include "catalogue/partners.h"
#include "catalogue/publish_cli.h"
#include "server/json.h"
#include "server/migrate.h"
#include "server/util.h"

#define CLI_MAX_ARGS 16 /* positional arguments one command may take */

struct cli {
    const char *database_url; /* --database-url, else $MCX_DATABASE_URL */
};

struct cli_command;
typedef int (*cli_run_fn)(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);

struct cli_command {
    const char *name;    /* one or more words: "migrate", "institution add" */
    const char *args;    /* what follows the name in the usage line */
    const char *summary; /* one line for `mcx --help` */
    cli_run_fn run;      /* argv[0] is the first word after the name */
};

/* A command's option: --name VALUE / --name=VALUE when value is set, else a flag. */
struct cli_option {
    const char *name;
    const char **value;
    bool *flag;
};

/* What a command's argument parsing found. */
struct cli_args {
    char *pos[CLI_MAX_ARGS];
    int npos;
};

enum cli_parse {
    CLI_PARSE_OK,
    CLI_PARSE_HELP, /* --help was given and printed */
    CLI_PARSE_ERROR /* a usage error was printed */
};

static int cli_cmd_migrate(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
static int cli_cmd_institution_add(struct cli *cli, const struct cli_command *cmd, int argc,
                                   char **argv);
static int cli_cmd_user_add(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
static int cli_cmd_user_confirm(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv);
static int cli_cmd_token_create(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv);
static int cli_cmd_token_revoke(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv);
static int cli_cmd_gen_loq(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
static int cli_cmd_gen_corpus(struct cli *cli, const struct cli_command *cmd, int argc,
                              char **argv);
static int cli_cmd_publish(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
static int cli_cmd_partner_add(struct cli *cli, const struct cli_command *cmd, int argc,
                               char **argv);
static int cli_cmd_key_generate(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv);

static const struct cli_command cli_commands[] = {
    {"migrate", "[--dir DIR]", "apply pending database migrations (schemas/sql)", cli_cmd_migrate},
    {"institution add",
     "ID --name NAME --country CC [--local-name LANG=NAME] [--homepage URL] [--home]",
     "register an institution (NAME in English; --home: run by this node)",
     cli_cmd_institution_add},
    {"user add",
     "EMAIL --role student|publisher|registrar|admin [--institution ID] [--password-stdin]",
     "create an account; prints a generated password unless --password-stdin", cli_cmd_user_add},
    {"user confirm", "EMAIL",
     "vouch for an account's e-mail address (as its confirmation link would): the credentials "
     "issued to it become visible to it",
     cli_cmd_user_confirm},
    {"token create", "--user EMAIL [--name LABEL]",
     "create an API token for a user; prints it (the only time it is shown)", cli_cmd_token_create},
    {"token revoke", "TOKEN", "revoke an API token (the whole token, or its id)",
     cli_cmd_token_revoke},
    {"partner add",
     "ID --feed-url URL --format loq|elm|ewp|mcx [--public-key FILE] [--name NAME --country CC] "
     "[--interval SECONDS]",
     "register a partner whose feed this node harvests (creates its institution when new)",
     cli_cmd_partner_add},
    {"publish", "FILE --institution ID [--replace]",
     "publish a LOQ catalogue (one transaction; progress and per-offer report on stderr, the "
     "report as JSON on stdout; exit 1 if any offer was rejected)",
     cli_cmd_publish},
    {"gen-loq", "COUNT [--seed N] [--institution ID] [--invalid I,J,...]",
     "write a deterministic LOQ catalogue of COUNT realistic offers to stdout (benchmarks, "
     "demos); --invalid breaks the offers at those 0-based positions",
     cli_cmd_gen_loq},
    {"gen-corpus", "N [--seed S] [--institutions K] [--chunk C]",
     "load a deterministic multilingual corpus of N offers (8 languages) over K institutions "
     "(default 50, created when missing) for search tests and benchmarks, published as `mcx "
     "publish` does, C offers per document (default 5000); progress on stderr, a report as "
     "JSON on stdout; a second run with the same arguments changes nothing",
     cli_cmd_gen_corpus},
    {"key generate", "--out DIR [--bits 2048|3072|4096]",
     "make an RSA key pair for HTTP Signatures (partner auth, EWP): DIR/private.pem (mode "
     "0600) and DIR/public.pem, never over existing files; prints the keyId",
     cli_cmd_key_generate},
};

static void cli_usage(FILE *out)
{
    fprintf(out, "usage: mcx [--database-url URL] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < MCX_ARRAY_LEN(cli_commands); i++) {
        const struct cli_command *c = &cli_commands[i];
        fprintf(out, "  mcx %s %s\n      %s\n", c->name, c->args, c->summary);
    }
    fprintf(out, "\noptions:\n"
                 "  --database-url URL  PostgreSQL URL (default: $MCX_DATABASE_URL)\n"
                 "  -h, --help          show this help (also: mcx COMMAND --help)\n"
                 "  -V, --version       print the version\n");
}

static void cli_command_usage(const struct cli_command *cmd, FILE *out)
{
    fprintf(out, "usage: mcx %s %s\n  %s\n", cmd->name, cmd->args, cmd->summary);
}

/*
 * Matches argv[*i] against an option that takes a value. Returns 1 and advances *i
 * past the value when it matched, 0 when it is another option, -1 when the value
 * is missing.
 */
static int cli_take_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *out = arg + n + 1;
        (*i)++;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "mcx: %s needs a value\n", name);
        return -1;
    }
    *out = argv[*i + 1];
    *i += 2;
    return 1;
}

/* One option of a command: 1 taken, 0 not one of them, -1 usage error. */
static int cli_take_option(struct cli *cli, const struct cli_option *opts, size_t nopts, int argc,
                           char **argv, int *i)
{
    int r = cli_take_value(argc, argv, i, "--database-url", &cli->database_url);

    for (size_t k = 0; r == 0 && k < nopts; k++) {
        if (opts[k].value != NULL) {
            r = cli_take_value(argc, argv, i, opts[k].name, opts[k].value);
        } else if (strcmp(argv[*i], opts[k].name) == 0) {
            *opts[k].flag = true;
            (*i)++;
            r = 1;
        }
    }
    return r;
}

static enum cli_parse cli_parse_args(struct cli *cli, const struct cli_command *cmd,
                                     const struct cli_option *opts, size_t nopts, int argc,
                                     char **argv, struct cli_args *args)
{
    bool is_options_done = false;
    int i = 0;

    args->npos = 0;
    while (i < argc) {
        const char *arg = argv[i];
        if (!is_options_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            cli_command_usage(cmd, stdout);
            return CLI_PARSE_HELP;
        }
        if (!is_options_done && strcmp(arg, "--") == 0) {
            is_options_done = true;
            i++;
            continue;
        }
        if (!is_options_done && arg[0] == '-' && arg[1] != '\0') {
            int r = cli_take_option(cli, opts, nopts, argc, argv, &i);
            if (r == 1)
                continue;
            if (r == 0)
                fprintf(stderr, "mcx %s: unknown option %s\n", cmd->name, arg);
            cli_command_usage(cmd, stderr);
            return CLI_PARSE_ERROR;
        }
        if (args->npos >= CLI_MAX_ARGS) {
            fprintf(stderr, "mcx %s: too many arguments\n", cmd->name);
            return CLI_PARSE_ERROR;
        }
        args->pos[args->npos++] = argv[i++];
    }
    return CLI_PARSE_OK;
}

/* Parses a command's arguments and checks their count; returns an exit status to
 * stop with, or -1 to go on. */
static int cli_parse_expect(struct cli *cli, const struct cli_command *cmd,
                            const struct cli_option *opts, size_t nopts, int argc, char **argv,
                            struct cli_args *args, int min_pos, int max_pos)
{
    switch (cli_parse_args(cli, cmd, opts, nopts, argc, argv, args)) {
    case CLI_PARSE_HELP:
        return CLI_EXIT_OK;
    case CLI_PARSE_ERROR:
        return CLI_EXIT_USAGE;
    case CLI_PARSE_OK:
        break;
    }
    if (args->npos < min_pos || args->npos > max_pos) {
        fprintf(stderr, "mcx %s: wrong number of arguments\n", cmd->name);
        cli_command_usage(cmd, stderr);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

static const char *cli_database_url(struct cli *cli)
{
    const char *url = cli->database_url;

    if (url == NULL || *url == '\0')
        url = getenv("MCX_DATABASE_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "mcx: no database: set MCX_DATABASE_URL or pass --database-url\n");
        return NULL;
    }
    return url;
}

static bool dir_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* $MCX_SCHEMA_DIR, else ./schemas/sql (run from a checkout), else the source tree the
 * binary was built from. */
static const char *cli_schema_dir(void)
{
    const char *env = getenv("MCX_SCHEMA_DIR");

    if (env != NULL && *env != '\0')
        return env;
    if (dir_exists("schemas/sql"))
        return "schemas/sql";
#ifdef MCX_SOURCE_DIR
    return MCX_SOURCE_DIR "/schemas/sql";
#else
    return "schemas/sql";
#endif
}

static void cli_print_error(const char *what, const struct mcx_error *err)
{
    fprintf(stderr, "mcx %s: %s\n", what, err->message);
}

static int cli_cmd_migrate(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
    const char *dir = NULL;
    const struct cli_option opts[] = {{"--dir", &dir, NULL}};
    struct cli_args args;
    struct mcx_error err;
    const char *url;
    int applied = 0;
    int rc;

    rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 0, 0);
    if (rc >= 0)
        return rc;
    url = cli_database_url(cli);
    if (url == NULL)
        return CLI_EXIT_USAGE;
    if (dir == NULL)
        dir = cli_schema_dir();
    if (migrate_run(url, dir, &applied, &err) < 0) {
        cli_print_error(cmd->name, &err);
        if (applied > 0)
            fprintf(stderr, "mcx migrate: %d migration(s) were applied before the error\n",
                    applied);
        return CLI_EXIT_FAILED;
    }
    fprintf(stderr, "mcx migrate: %d migration(s) applied from %s; the database is up to date\n",
            applied, dir);
    return CLI_EXIT_OK;
}

/* ---- shared by the account commands ---- */

#define CLI_MAX_NAME_BYTES 500 /* institution names, token labels */
#define CLI_PASSWORD_MIN_LEN 8 /* NIST SP 800-63B §5.1.1.2 minimum */

/* A required option that was not given: a usage error. */
static int cli_missing(const struct cli_command *cmd, const char *option)
{
    fprintf(stderr, "mcx %s: %s is required\n", cmd->name, option);
    cli_command_usage(cmd, stderr);
    return CLI_EXIT_USAGE;
}

/* A value that cannot be right whatever the database holds: a usage error. */
static int cli_invalid(const struct cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cli_invalid(const struct cli_command *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "mcx %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

/* Text for a label: non-empty, at most max bytes, UTF-8, no control characters. */
static bool cli_text_is_valid(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);

    if (len == 0 || len > max || !utf8_is_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < ' ' || c == 0x7f)
            return false;
    }
    return true;
}

/* "cli:<unix user>" for audit_log.actor: who ran the command, not whom it is about. */
static void cli_actor(char *out, size_t size)
{
    struct passwd *pw = getpwuid(geteuid());

    if (pw != NULL && pw->pw_name != NULL && *pw->pw_name != '\0')
        snprintf(out, size, "cli:%s", pw->pw_name);
    else
        snprintf(out, size, "cli:uid:%u", (unsigned)geteuid());
}

/* Connects for a command; NULL after printing why (*rc holds the exit status). */
static struct db_sync *cli_connect(struct cli *cli, const struct cli_command *cmd, int *rc)
{
    const char *url = cli_database_url(cli);
    struct mcx_error err;
    struct db_sync *db;

    if (url == NULL) {
        *rc = CLI_EXIT_USAGE;
        return NULL;
    }
    db = db_sync_connect(url, &err);
    if (db == NULL) {
        cli_print_error(cmd->name, &err);
        *rc = CLI_EXIT_FAILED;
    }
    return db;
}

/* Runs one statement; on failure prints the database's reason. 0 or -1. */
static int cli_exec(struct db_sync *db, const struct cli_command *cmd, const char *sql, int nparams,
                    const char *const *params, struct db_result **res)
{
    struct mcx_error err;

    if (db_sync_exec(db, sql, nparams, params, res, &err) < 0) {
        cli_print_error(cmd->name, &err);
        return -1;
    }
    return 0;
}

/* ---- mcx institution add ---- */

/* The row and its audit entry in one statement: both are written or neither. No row
 * back means the id was taken. */
static const char cli_institution_add_sql[] =
    "WITH ins AS ("
    " INSERT INTO institutions (id, name, country, is_home, homepage)"
    " VALUES ($1, jsonb_build_object('en', $2::text) || CASE WHEN $6::text IS NULL THEN '{}'"
    "  ELSE jsonb_build_object($6::text, $7::text) END, $3, $4::boolean, $8)"
    " ON CONFLICT (id) DO NOTHING RETURNING *)"
    " INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    " SELECT $5, 'create', 'institution', ins.id, audit_hash(to_jsonb(ins)),"
    "  jsonb_build_object('name', ins.name, 'country', ins.country, 'is_home', ins.is_home,"
    "  'homepage', ins.homepage)"
    " FROM ins RETURNING entity_id";

/* Two ASCII letters, either case, as ISO 3166-1 alpha-2 upper case. */
static int cli_country_parse(const char *in, char out[3])
{
    for (int i = 0; i < 2; i++) {
        char c = in[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return -1;
        out[i] = c;
    }
    out[2] = '\0';
    return in[2] == '\0' ? 0 : -1;
}

struct cli_institution {
    const char *id, *name, *country;
    const char *local_lang, *local_name; /* both or neither */
    const char *homepage;                /* or NULL */
    bool is_home;
};

static int cli_institution_insert(struct db_sync *db, const struct cli_command *cmd,
                                  const struct cli_institution *in)
{
    char actor[160];
    const char *params[8] = {in->id, in->name,       in->country,    in->is_home ? "true" : "false",
                             actor,  in->local_lang, in->local_name, in->homepage};
    struct db_result *res;
    int rows;

    cli_actor(actor, sizeof(actor));
    if (cli_exec(db, cmd, cli_institution_add_sql, 8, params, &res) < 0)
        return CLI_EXIT_FAILED;
    rows = db_result_rows(res);
    db_result_free(res);
    if (rows != 1) {
        fprintf(stderr, "mcx %s: institution %s exists\n", cmd->name, in->id);
        return CLI_EXIT_FAILED;
    }
    fprintf(stderr, "mcx %s: added %s institution %s (%s, %s)\n", cmd->name,
            in->is_home ? "home" : "partner", in->id, in->name, in->country);
    return CLI_EXIT_OK;
}

/* "lt=Vytauto Didžiojo universitetas": the language into lang[], the name after '='. */
static const char *cli_local_name_parse(const char *in, char lang[4])
{
    size_t n = strcspn(in, "=");

    if (n < 2 || n > 3 || in[n] != '=')
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (in[i] < 'a' || in[i] > 'z')
            return NULL;
        lang[i] = in[i];
    }
    lang[n] = '\0';
    return in + n + 1;
}

static bool cli_homepage_is_valid(const char *url)
{
    return (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) &&
           strlen(url) <= 2000 && strpbrk(url, " \t\r\n\"<>") == NULL;
}

static int cli_cmd_institution_add(struct cli *cli, const struct cli_command *cmd, int argc,
                                   char **argv)
{
    const char *name = NULL, *country = NULL, *local = NULL, *homepage = NULL;
    bool is_home = false;
    const struct cli_option opts[] = {{"--name", &name, NULL},
                                      {"--country", &country, NULL},
                                      {"--local-name", &local, NULL},
                                      {"--homepage", &homepage, NULL},
                                      {"--home", NULL, &is_home}};
    struct cli_institution in = {0};
    struct cli_args args;
    struct db_sync *db;
    char cc[3], lang[4];
    int rc;

    rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 1, 1);
    if (rc >= 0)
        return rc;
    if (name == NULL)
        return cli_missing(cmd, "--name");
    if (country == NULL)
        return cli_missing(cmd, "--country");
    if (!mcx_institution_id_is_valid(args.pos[0]))
        return cli_invalid(cmd,
                           "invalid institution id '%s': lowercase letters, digits, '.' and "
                           "'-', starting with a letter or digit, at most 127 characters",
                           args.pos[0]);
    if (!cli_text_is_valid(name, CLI_MAX_NAME_BYTES))
        return cli_invalid(cmd, "invalid --name '%s': 1-500 bytes of UTF-8 text on one line", name);
    if (cli_country_parse(country, cc) < 0)
        return cli_invalid(cmd, "invalid --country '%s': an ISO 3166-1 alpha-2 code such as LT",
                           country);
    if (local != NULL) {
        in.local_name = cli_local_name_parse(local, lang);
        if (in.local_name == NULL || !cli_text_is_valid(in.local_name, CLI_MAX_NAME_BYTES))
            return cli_invalid(cmd,
                               "invalid --local-name '%s': LANG=NAME, a two- or three-letter "
                               "lower-case language code, '=' and 1-500 bytes of text",
                               local);
        in.local_lang = lang;
    }
    if (homepage != NULL && !cli_homepage_is_valid(homepage))
        return cli_invalid(cmd, "invalid --homepage '%s': an http:// or https:// URL", homepage);
    in.id = args.pos[0];
    in.name = name;
    in.country = cc;
    in.homepage = homepage;
    in.is_home = is_home;
    db = cli_connect(cli, cmd, &rc);
    if (db == NULL)
        return rc;
    rc = cli_institution_insert(db, cmd, &in);
    db_sync_close(db);
    return rc;
}

/* ---- mcx user add ---- */

static const char *const cli_roles[] = {"student", "publisher", "registrar", "admin"};

static bool cli_role_is_valid(const char *role)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(cli_roles); i++) {
        if (strcmp(role, cli_roles[i]) == 0)
            return true;
    }
    return false;
}

static bool cli_role_needs_institution(const char *role)
{
    return strcmp(role, "publisher") == 0 || strcmp(role, "registrar") == 0;
}

/*
 * The password from stdin, one line: a trailing "\n" or "\r\n" is not part of it (echo
 * adds one), anything else is. Refuses NUL bytes, a second line, invalid UTF-8 and
 * lengths outside CLI_PASSWORD_MIN_LEN..AUTH_PASSWORD_MAX_LEN. size must leave room
 * for the line end and one byte more, to tell "too long" from "just fits".
 */
static int cli_password_read(const struct cli_command *cmd, char *out, size_t size)
{
    const char *why = NULL;
    size_t n;

    if (isatty(STDIN_FILENO))
        fprintf(stderr, "mcx %s: type the password, then Enter and Ctrl-D\n", cmd->name);
    n = fread(out, 1, size - 1, stdin);

    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '\r')
        out[--n] = '\0';
    if (ferror(stdin))
        why = "unreadable";
    else if (n > AUTH_PASSWORD_MAX_LEN || fgetc(stdin) != EOF)
        why = "longer than 1024 bytes";
    else if (memchr(out, '\0', n) != NULL || strpbrk(out, "\r\n") != NULL)
        why = "more than one line, or holds a NUL byte";
    else if (!utf8_is_valid(out, n))
        why = "not UTF-8";
    else if (n < CLI_PASSWORD_MIN_LEN)
        why = "shorter than 8 characters";
    if (why == NULL)
        return 0;
    explicit_bzero(out, size);
    fprintf(stderr, "mcx %s: the password on stdin is %s\n", cmd->name, why);
    return -1;
}

/* 0 when the institution exists; else prints why and returns -1. */
static int cli_institution_check(struct db_sync *db, const struct cli_command *cmd, const char *id)
{
    const char *params[1] = {id};
    struct db_result *res;
    int rows;

    if (cli_exec(db, cmd, "SELECT 1 FROM institutions WHERE id = $1", 1, params, &res) < 0)
        return -1;
    rows = db_result_rows(res);
    db_result_free(res);
    if (rows == 1)
        return 0;
    fprintf(stderr, "mcx %s: unknown institution %s (add it with: mcx institution add)\n",
            cmd->name, id);
    return -1;
}

/* A taken address (in any case) gives no row back rather than an error. */
static const char cli_user_add_sql[] =
    "WITH ins AS ("
    " INSERT INTO users (email, password_hash, role, institution_id)"
    " VALUES ($1, $2, $3, $4)"
    " ON CONFLICT ((lower(email))) DO NOTHING RETURNING *)"
    " INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    " SELECT $5, 'create', 'user', ins.id::text, audit_hash(to_jsonb(ins)),"
    "  jsonb_build_object('email', ins.email, 'role', ins.role,"
    "                     'institution_id', ins.institution_id)"
    " FROM ins RETURNING entity_id";

struct cli_new_user {
    const char *email;
    const char *role;
    const char *institution;                  /* NULL: none */
    char password[AUTH_PASSWORD_MAX_LEN + 3]; /* + line end + one byte too many */
};

static int cli_user_insert(struct db_sync *db, const struct cli_command *cmd,
                           const struct cli_new_user *u)
{
    char hash[AUTH_PASSWORD_HASH_SIZE];
    char actor[160];
    const char *params[5] = {u->email, hash, u->role, u->institution, actor};
    struct db_result *res;
    int rc = CLI_EXIT_FAILED;

    if (auth_password_hash(u->password, hash, sizeof(hash)) < 0) {
        fprintf(stderr, "mcx %s: cannot hash the password (scrypt failed)\n", cmd->name);
        return CLI_EXIT_FAILED;
    }
    cli_actor(actor, sizeof(actor));
    if (cli_exec(db, cmd, cli_user_add_sql, 5, params, &res) < 0)
        return CLI_EXIT_FAILED;
    if (db_result_rows(res) != 1) {
        fprintf(stderr, "mcx %s: a user with e-mail %s exists\n", cmd->name, u->email);
    } else {
        fprintf(stderr, "mcx %s: created %s %s%s%s (id %s)\n", cmd->name, u->role, u->email,
                u->institution != NULL ? " at " : "", u->institution != NULL ? u->institution : "",
                db_result_value(res, 0, 0));
        rc = CLI_EXIT_OK;
    }
    db_result_free(res);
    return rc;
}

/* Checks what needs no database; returns an exit status, or -1 to go on. */
static int cli_user_validate(const struct cli_command *cmd, const struct cli_new_user *u)
{
    if (u->role == NULL)
        return cli_missing(cmd, "--role");
    if (!auth_email_is_valid(u->email))
        return cli_invalid(cmd, "invalid e-mail address '%s'", u->email);
    if (!cli_role_is_valid(u->role))
        return cli_invalid(cmd, "invalid --role '%s': student, publisher, registrar or admin",
                           u->role);
    if (u->institution == NULL && cli_role_needs_institution(u->role))
        return cli_invalid(cmd, "a %s needs --institution ID", u->role);
    if (u->institution != NULL && !mcx_institution_id_is_valid(u->institution))
        return cli_invalid(cmd, "invalid institution id '%s'", u->institution);
    return -1;
}

static int cli_user_add_run(struct cli *cli, const struct cli_command *cmd, struct cli_new_user *u,
                            bool is_from_stdin)
{
    struct db_sync *db;
    int rc;

    if (is_from_stdin) {
        if (cli_password_read(cmd, u->password, sizeof(u->password)) < 0)
            return CLI_EXIT_USAGE;
    } else if (auth_password_generate(u->password, sizeof(u->password)) < 0) {
        fprintf(stderr, "mcx %s: cannot generate a password\n", cmd->name);
        return CLI_EXIT_FAILED;
    }
    db = cli_connect(cli, cmd, &rc);
    if (db == NULL)
        return rc;
    rc = CLI_EXIT_FAILED;
    if (u->institution == NULL || cli_institution_check(db, cmd, u->institution) == 0)
        rc = cli_user_insert(db, cmd, u);
    db_sync_close(db);
    /* Shown only once the account exists: a password for nothing would mislead. */
    if (rc == CLI_EXIT_OK && !is_from_stdin) {
        printf("%s\n", u->password);
        fprintf(stderr, "mcx %s: the generated password is on stdout; it is not shown again\n",
                cmd->name);
    }
    return rc;
}

static int cli_cmd_user_add(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
    struct cli_new_user u;
    bool is_from_stdin = false;
    const struct cli_option opts[] = {{"--role", &u.role, NULL},
                                      {"--institution", &u.institution, NULL},
                                      {"--password-stdin", NULL, &is_from_stdin}};
    struct cli_args args;
    int rc;

    memset(&u, 0, sizeof(u));
    rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 1, 1);
    if (rc >= 0)
        return rc;
    u.email = args.pos[0];
    rc = cli_user_validate(cmd, &u);
    if (rc < 0)
        rc = cli_user_add_run(cli, cmd, &u, is_from_stdin);
    explicit_bzero(u.password, sizeof(u.password));
    return rc;
}

/* ---- mcx token create / revoke ---- */

static const char cli_token_create_sql[] =
    "WITH ins AS ("
    " INSERT INTO api_tokens (id, user_id, name, secret_hash)"
    " VALUES ($1::uuid, $2::uuid, $3, $4) RETURNING *)"
    " INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    " SELECT $5, 'create', 'api_token', ins.id::text, audit_hash(to_jsonb(ins)),"
    "  jsonb_build_object('user_id', ins.user_id, 'name', ins.name)"
    " FROM ins RETURNING entity_id";

/* The id of an enabled user by e-mail (in any case) into id; else prints why, -1. */
static int cli_user_find(struct db_sync *db, const struct cli_command *cmd, const char *email,
                         char id[AUTH_UUID_LEN + 1])
{
    const char *params[1] = {email};
    struct db_result *res;
    int rc = -1;

    if (cli_exec(db, cmd,
                 "SELECT id::text, disabled_at IS NOT NULL FROM users"
                 " WHERE lower(email) = lower($1)",
                 1, params, &res) < 0)
        return -1;
    if (db_result_rows(res) != 1)
        fprintf(stderr, "mcx %s: no user with e-mail %s\n", cmd->name, email);
    else if (strcmp(db_result_value(res, 0, 1), "t") == 0)
        fprintf(stderr, "mcx %s: user %s is disabled\n", cmd->name, email);
    else if (mcx_strlcpy(id, db_result_value(res, 0, 0), AUTH_UUID_LEN + 1) == AUTH_UUID_LEN)
        rc = 0;
    db_result_free(res);
    return rc;
}

static int cli_token_insert(struct db_sync *db, const struct cli_command *cmd, const char *user_id,
                            const char *email, const char *label)
{
    char token[AUTH_TOKEN_SIZE], id[AUTH_UUID_LEN + 1], hash[AUTH_HASH_HEX_SIZE];
    char actor[160];
    const char *params[5] = {id, user_id, label, hash, actor};

    if (auth_token_generate(token, sizeof(token), id, hash) < 0) {
        fprintf(stderr, "mcx %s: cannot generate a token\n", cmd->name);
        return CLI_EXIT_FAILED;
    }
    cli_actor(actor, sizeof(actor));
    if (cli_exec(db, cmd, cli_token_create_sql, 5, params, NULL) < 0) {
        explicit_bzero(token, sizeof(token));
        return CLI_EXIT_FAILED;
    }
    printf("%s\n", token);
    explicit_bzero(token, sizeof(token));
    fprintf(stderr,
            "mcx %s: token %s for %s is on stdout; only its hash is stored, so it is not "
            "shown again\n",
            cmd->name, id, email);
    return CLI_EXIT_OK;
}

static int cli_cmd_token_create(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv)
{
    const char *email = NULL, *label = NULL;
    const struct cli_option opts[] = {{"--user", &email, NULL}, {"--name", &label, NULL}};
    char user_id[AUTH_UUID_LEN + 1];
    struct cli_args args;
    struct db_sync *db;
    int rc;

    rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 0, 0);
    if (rc >= 0)
        return rc;
    if (email == NULL)
        return cli_missing(cmd, "--user");
    if (!auth_email_is_valid(email))
        return cli_invalid(cmd, "invalid e-mail address '%s'", email);
    if (label != NULL && !cli_text_is_valid(label, CLI_MAX_NAME_BYTES))
        return cli_invalid(cmd, "invalid --name '%s': 1-500 bytes of UTF-8 text on one line",
                           label);
    db = cli_connect(cli, cmd, &rc);
    if (db == NULL)
        return rc;
    rc = CLI_EXIT_FAILED;
    if (cli_user_find(db, cmd, email, user_id) == 0)
        rc = cli_token_insert(db, cmd, user_id, email, label);
    db_sync_close(db);
    return rc;
}

/*
 * Revokes a live token and records it in one statement; the row lock makes a
 * concurrent revoke wait and then find nothing to do (no row back).
 */
static const char cli_token_revoke_sql[] =
    "WITH old AS ("
    " SELECT * FROM api_tokens WHERE id = $1::uuid AND revoked_at IS NULL FOR UPDATE),"
    " upd AS ("
    " UPDATE api_tokens t SET revoked_at = now() FROM old WHERE t.id = old.id RETURNING t.*)"
    " INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, after_hash, details)"
    " SELECT $2, 'revoke', 'api_token', upd.id::text, audit_hash(to_jsonb(old)),"
    "  audit_hash(to_jsonb(upd)), jsonb_build_object('user_id', upd.user_id, 'name', upd.name)"
    " FROM upd JOIN old ON old.id = upd.id RETURNING entity_id";

/*
 * TOKEN is the whole token, whose secret must then match (a typo must not revoke
 * somebody else's), or just its id, for a token whose holder lost it.
 */
static int cli_token_target(const struct cli_command *cmd, const char *arg,
                            char id[AUTH_UUID_LEN + 1], char hash[AUTH_HASH_HEX_SIZE])
{
    char secret[AUTH_SECRET_SIZE];
    int rc = 0;

    hash[0] = '\0';
    if (auth_uuid_is_valid(arg)) {
        mcx_strlcpy(id, arg, AUTH_UUID_LEN + 1);
        return 0;
    }
    if (auth_token_parse(arg, id, secret, sizeof(secret)) < 0 ||
        auth_secret_hash(secret, hash) < 0) {
        fprintf(stderr, "mcx %s: not a token (mcx_<id>_<secret>) nor a token id\n", cmd->name);
        rc = -1;
    }
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

enum cli_token_state {
    CLI_TOKEN_ERROR = -1, /* reason printed */
    CLI_TOKEN_REVOKED,
    CLI_TOKEN_LIVE,
};

/* Is the token there, with that secret when one is given, and still live? */
static enum cli_token_state cli_token_state(struct db_sync *db, const struct cli_command *cmd,
                                            const char *id, const char *hash)
{
    const char *params[1] = {id};
    enum cli_token_state state = CLI_TOKEN_ERROR;
    struct db_result *res;

    if (cli_exec(db, cmd,
                 "SELECT secret_hash, revoked_at IS NULL, revoked_at FROM api_tokens"
                 " WHERE id = $1::uuid",
                 1, params, &res) < 0)
        return CLI_TOKEN_ERROR;
    if (db_result_rows(res) != 1 ||
        (hash[0] != '\0' && !auth_hash_equal(db_result_value(res, 0, 0), hash))) {
        fprintf(stderr, "mcx %s: no such token\n", cmd->name);
    } else if (strcmp(db_result_value(res, 0, 1), "t") == 0) {
        state = CLI_TOKEN_LIVE;
    } else {
        fprintf(stderr, "mcx %s: token %s was already revoked at %s\n", cmd->name, id,
                db_result_value(res, 0, 2));
        state = CLI_TOKEN_REVOKED;
    }
    db_result_free(res);
    return state;
}

static int cli_token_revoke_run(struct db_sync *db, const struct cli_command *cmd, const char *id,
                                const char *hash)
{
    char actor[160];
    const char *params[2] = {id, actor};
    struct db_result *res;

    switch (cli_token_state(db, cmd, id, hash)) {
    case CLI_TOKEN_ERROR:
        return CLI_EXIT_FAILED;
    case CLI_TOKEN_REVOKED:
        return CLI_EXIT_OK; /* idempotent: the token is dead either way */
    case CLI_TOKEN_LIVE:
        break;
    }
    cli_actor(actor, sizeof(actor));
    if (cli_exec(db, cmd, cli_token_revoke_sql, 2, params, &res) < 0)
        return CLI_EXIT_FAILED;
    if (db_result_rows(res) == 1)
        fprintf(stderr, "mcx %s: revoked token %s\n", cmd->name, id);
    else
        fprintf(stderr, "mcx %s: token %s was revoked meanwhile\n", cmd->name, id);
    db_result_free(res);
    return CLI_EXIT_OK;
}

static int cli_cmd_token_revoke(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv)
{
    char id[AUTH_UUID_LEN + 1], hash[AUTH_HASH_HEX_SIZE];
    struct cli_args args;
    struct db_sync *db;
    int rc;

    rc = cli_parse_expect(cli, cmd, NULL, 0, argc, argv, &args, 1, 1);
    if (rc >= 0)
        return rc;
    if (cli_token_target(cmd, args.pos[0], id, hash) < 0)
        return CLI_EXIT_USAGE;
    db = cli_connect(cli, cmd, &rc);
    if (db == NULL)
        return rc;
    rc = cli_token_revoke_run(db, cmd, id, hash);
    db_sync_close(db);
    return rc;
}

/* Confirms the address of the account (any case) that has it: (user id, whether it was
 * confirmed already), no row for an unknown address. */
static const char cli_user_confirm_sql[] =
    "WITH u AS (SELECT id, email_confirmed_at IS NOT NULL AS was FROM users"
    "  WHERE lower(email) = lower($1) FOR UPDATE),"
    " upd AS (UPDATE users SET email_confirmed_at = now() FROM u"
    "  WHERE users.id = u.id AND NOT u.was RETURNING users.id, users.email),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, details)"
    "  SELECT $2, 'confirm_email', 'user', upd.id::text,"
    "   jsonb_build_object('email', upd.email, 'via', 'cli') FROM upd)"
    " SELECT id::text, was FROM u";

static int cli_cmd_user_confirm(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv)
{
    struct cli_args args;
    struct db_result *res;
    struct db_sync *db;
    char actor[160];
    int rc;

    rc = cli_parse_expect(cli, cmd, NULL, 0, argc, argv, &args, 1, 1);
    if (rc >= 0)
        return rc;
    db = cli_connect(cli, cmd, &rc);
    if (db == NULL)
        return rc;
    cli_actor(actor, sizeof(actor));
    const char *params[2] = {args.pos[0], actor};
    if (cli_exec(db, cmd, cli_user_confirm_sql, 2, params, &res) < 0) {
        db_sync_close(db);
        return CLI_EXIT_FAILED;
    }
    if (db_result_rows(res) == 0) {
        fprintf(stderr, "mcx %s: no account has the address %s\n", cmd->name, args.pos[0]);
        rc = CLI_EXIT_FAILED;
    } else {
        fprintf(stderr, "mcx %s: %s %s\n", cmd->name, args.pos[0],
                strcmp(db_result_value(res, 0, 1), "t") == 0 ? "was confirmed already"
                                                             : "is confirmed");
        printf("%s\n", db_result_value(res, 0, 0));
        rc = CLI_EXIT_OK;
    }
    db_result_free(res);
    db_sync_close(db);
    return rc;
}

/* How many words of argv name cmd, or 0 when they do not. */
static int cli_command_match(const struct cli_command *cmd, int argc, char **argv)
{
    const char *p = cmd->name;
    int i = 0;

    while (*p != '\0') {
        size_t n = strcspn(p, " ");
        if (i >= argc || strlen(argv[i]) != n || strncmp(argv[i], p, n) != 0)
            return 0;
        i++;
        p += n;
        p += *p == ' ';
    }
    return i;
}

static int cli_run_command(struct cli *cli, int argc, char **argv)
{
    for (size_t k = 0; k < MCX_ARRAY_LEN(cli_commands); k++) {
        const struct cli_command *cmd = &cli_commands[k];
        int words = cli_command_match(cmd, argc, argv);
        if (words > 0)
            return cmd->run(cli, cmd, argc - words, argv + words);
    }
    fprintf(stderr, "mcx: unknown command '%s'\n", argv[0]);
    cli_usage(stderr);
    return CLI_EXIT_USAGE;
}

int mcx_cli_main(int argc, char **argv)
{
    struct cli cli = {0};
    int i = 1;

    while (i < argc && argv[i][0] == '-') {
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("mcx %s\n", MCX_VERSION);
            return CLI_EXIT_OK;
        }
        r = cli_take_value(argc, argv, &i, "--database-url", &cli.database_url);
        if (r == 1)
            continue;
        if (r == 0)
            fprintf(stderr, "mcx: unknown option %s\n", argv[i]);
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (i >= argc) {
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    return cli_run_command(&cli, argc - i, argv + i);
}

/* "3,17,42" → sorted indexes; -1 on anything else. */
static int cli_parse_indexes(const char *s, size_t **out, size_t *n)
{
    char *copy = xstrdup(s), *save = NULL;
    long v;

    *out = NULL;
    *n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (mcx_parse_int(tok, 0, 100000000, &v) != 0) {
            free(copy);
            free(*out);
            return -1;
        }
        *out = xrealloc(*out, sizeof(size_t) * (*n + 1));
        (*out)[(*n)++] = (size_t)v;
    }
    free(copy);
    return 0;
}

static int cli_cmd_gen_loq(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
    const char *seed_s = "1", *inst = "example.edu", *invalid_s = NULL;
    struct cli_option opts[] = {
        {"--seed", &seed_s, NULL},
        {"--institution", &inst, NULL},
        {"--invalid", &invalid_s, NULL},
    };
    struct cli_args args;
    size_t *invalid = NULL, ninvalid = 0;
    long count, seed;
    struct buf out;
    int rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 1, 1);

    if (rc >= 0)
        return rc;
    if (mcx_parse_int(args.pos[0], 0, 10000000, &count) != 0 ||
        mcx_parse_int(seed_s, 0, 0x7fffffffL, &seed) != 0 ||
        (invalid_s != NULL && cli_parse_indexes(invalid_s, &invalid, &ninvalid) != 0)) {
        fprintf(stderr, "mcx gen-loq: COUNT, --seed and --invalid take whole numbers\n");
        cli_command_usage(cmd, stderr);
        return CLI_EXIT_USAGE;
    }
    buf_init(&out);
    rc = gen_loq_document((uint64_t)seed, (size_t)count, inst, invalid, ninvalid, &out);
    if (rc == 0 && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = -1;
    fprintf(stderr, "mcx gen-loq: %ld offers of %s (seed %ld, %zu invalid)\n", count, inst, seed,
            ninvalid);
    buf_cleanup(&out);
    free(invalid);
    return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

static int cli_cmd_gen_corpus(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
    const char *seed_s = "1", *inst_s = "50", *chunk_s = "5000";
    const struct cli_option opts[] = {
        {"--seed", &seed_s, NULL},
        {"--institutions", &inst_s, NULL},
        {"--chunk", &chunk_s, NULL},
    };
    struct cli_args args;
    struct db_sync *db;
    long count, seed, ninst, chunk;
    char actor[160];
    int rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 1, 1);

    if (rc >= 0)
        return rc;
    if (mcx_parse_int(args.pos[0], 0, 100000000, &count) != 0 ||
        mcx_parse_int(seed_s, 0, 0x7fffffffL, &seed) != 0 ||
        mcx_parse_int(inst_s, 1, GEN_CORPUS_MAX_INSTITUTIONS, &ninst) != 0 ||
        mcx_parse_int(chunk_s, 1, GEN_LOAD_MAX_CHUNK, &chunk) != 0)
        return cli_invalid(cmd,
                           "N is 0 to 100000000, --seed a whole number, --institutions 1 to %d, "
                           "--chunk 1 to %d",
                           GEN_CORPUS_MAX_INSTITUTIONS, GEN_LOAD_MAX_CHUNK);
    if ((db = cli_connect(cli, cmd, &rc)) == NULL)
        return rc;
    cli_actor(actor, sizeof(actor));
    struct gen_load_opts o = {.seed = (uint64_t)seed,
                              .count = (size_t)count,
                              .ninstitutions = (size_t)ninst,
                              .chunk = (size_t)chunk,
                              .actor = actor,
                              .schema_dir = getenv("MCX_LOQ_SCHEMAS")};
    rc = gen_load_run(db, &o, stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    db_sync_close(db);
    return rc;
}

static int cli_cmd_publish(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
    const char *inst = NULL;
    bool replace = false;
    const struct cli_option opts[] = {{"--institution", &inst, NULL},
                                      {"--replace", NULL, &replace}};
    struct cli_args args;
    struct db_sync *db;
    char actor[160];
    int rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 1, 1);

    if (rc >= 0)
        return rc;
    if (inst == NULL)
        return cli_missing(cmd, "--institution");
    if ((db = cli_connect(cli, cmd, &rc)) == NULL)
        return rc;
    cli_actor(actor, sizeof(actor));
    struct publish_cli_opts o = {args.pos[0], inst, actor, getenv("MCX_LOQ_SCHEMAS"), replace};
    rc = publish_cli_run(db, &o, stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    db_sync_close(db);
    return rc;
}

/* ---- mcx key generate ---- */

/*
 * Writes a new file: O_EXCL, so an existing file (or a link planted there) is never
 * overwritten; fchmod because the umask may have taken bits off mode. On failure the
 * half-written file is removed and why is printed. 0 or -1.
 */
static int cli_key_file_write(const struct cli_command *cmd, const char *path, const char *data,
                              size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    size_t done = 0;
    bool is_ok;
    int saved;

    if (fd < 0) {
        fprintf(stderr, "mcx %s: %s: %s\n", cmd->name, path, strerror(errno));
        return -1;
    }
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    is_ok = done == len && fchmod(fd, mode) == 0 && fsync(fd) == 0;
    saved = errno;
    if (close(fd) != 0 && is_ok) {
        is_ok = false;
        saved = errno;
    }
    if (is_ok)
        return 0;
    fprintf(stderr, "mcx %s: cannot write %s: %s\n", cmd->name, path, strerror(saved));
    unlink(path);
    return -1;
}

/* DIR itself, created 0700 when missing (one level, like mkdir). 0, or -1 after saying why. */
static int cli_key_dir_prepare(const struct cli_command *cmd, const char *dir)
{
    if (mkdir(dir, 0700) == 0) {
        fprintf(stderr, "mcx %s: created %s (mode 0700)\n", cmd->name, dir);
        return 0;
    }
    if (errno == EEXIST && dir_exists(dir))
        return 0;
    fprintf(stderr, "mcx %s: cannot create directory %s: %s\n", cmd->name, dir,
            errno == EEXIST ? "a file of that name exists" : strerror(errno));
    return -1;
}

/* Refuses before the slow key generation when either file is there already. */
static int cli_key_files_absent(const struct cli_command *cmd, const char *priv, const char *pub)
{
    struct stat st;
    const char *taken = lstat(priv, &st) == 0 ? priv : lstat(pub, &st) == 0 ? pub : NULL;

    if (taken == NULL)
        return 0;
    fprintf(stderr, "mcx %s: %s exists; not overwriting a key (move it away first)\n", cmd->name,
            taken);
    return -1;
}

/* The pair as PEM into the two files; the private text is wiped from memory after. */
static int cli_key_write_pair(const struct cli_command *cmd, EVP_PKEY *key, const char *priv,
                              const char *pub)
{
    struct buf priv_pem, pub_pem;
    struct mcx_error err;
    int rc = -1;

    buf_init(&priv_pem);
    buf_init(&pub_pem);
    if (httpsig_key_write_private(key, &priv_pem, &err) < 0 ||
        httpsig_key_write_public(key, &pub_pem, &err) < 0) {
        cli_print_error(cmd->name, &err);
    } else if (cli_key_file_write(cmd, priv, priv_pem.data, priv_pem.len, 0600) == 0) {
        if (cli_key_file_write(cmd, pub, pub_pem.data, pub_pem.len, 0644) == 0)
            rc = 0;
        else
            unlink(priv); /* half a pair is no use; leave the directory as it was */
    }
    if (priv_pem.data != NULL)
        explicit_bzero(priv_pem.data, priv_pem.len);
    buf_cleanup(&priv_pem);
    buf_cleanup(&pub_pem);
    return rc;
}

static int cli_key_generate_run(const struct cli_command *cmd, const char *dir, int bits)
{
    char key_id[HTTPSIG_KEY_ID_SIZE];
    struct buf priv, pub;
    struct mcx_error err;
    EVP_PKEY *key = NULL;
    size_t n = strlen(dir);
    int rc = CLI_EXIT_FAILED;

    while (n > 1 && dir[n - 1] == '/') /* "keys/" names the same directory as "keys" */
        n--;
    buf_init(&priv);
    buf_init(&pub);
    buf_printf(&priv, "%.*s/private.pem", (int)n, dir);
    buf_printf(&pub, "%.*s/public.pem", (int)n, dir);
    if (cli_key_dir_prepare(cmd, dir) < 0 || cli_key_files_absent(cmd, priv.data, pub.data) < 0)
        goto out;
    key = httpsig_key_generate(bits, &err);
    if (key == NULL || httpsig_key_id_compute(key, key_id, &err) < 0) {
        cli_print_error(cmd->name, &err);
        goto out;
    }
    if (cli_key_write_pair(cmd, key, priv.data, pub.data) < 0)
        goto out;
    printf("%s\n", key_id);
    fprintf(stderr,
            "mcx %s: wrote %s (RSA-%d, mode 0600; keep it secret) and %s; the keyId (hex "
            "SHA-256 of the public key) is on stdout\n",
            cmd->name, priv.data, bits, pub.data);
    rc = CLI_EXIT_OK;
out:
    EVP_PKEY_free(key);
    buf_cleanup(&priv);
    buf_cleanup(&pub);
    return rc;
}

static int cli_cmd_key_generate(struct cli *cli, const struct cli_command *cmd, int argc,
                                char **argv)
{
    const char *dir = NULL, *bits_s = "2048";
    const struct cli_option opts[] = {{"--out", &dir, NULL}, {"--bits", &bits_s, NULL}};
    struct cli_args args;
    long bits;
    int rc;

    rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 0, 0);
    if (rc >= 0)
        return rc;
    if (dir == NULL)
        return cli_missing(cmd, "--out");
    if (*dir == '\0')
        return cli_invalid(cmd, "--out needs a directory");
    if (mcx_parse_int(bits_s, 2048, 4096, &bits) != 0 ||
        (bits != 2048 && bits != 3072 && bits != 4096))
        return cli_invalid(cmd, "invalid --bits '%s': 2048, 3072 or 4096", bits_s);
    return cli_key_generate_run(cmd, dir, (int)bits);
}

/* ---- mcx partner add ---- */

/* The partner, its institution when new, and the audit entry: one statement. */
static const char cli_partner_add_sql[] =
    "WITH inst AS (INSERT INTO institutions (id, name, country) "
    "  SELECT $1, jsonb_build_object('en', coalesce(nullif($2, ''), $1)), upper($3) "
    "  WHERE NOT EXISTS (SELECT 1 FROM institutions WHERE id = $1) RETURNING id), "
    "p AS (INSERT INTO partners (id, feed_url, format, public_key, key_id, interval_s) "
    "  SELECT $1, $4, $5, nullif($6, ''), nullif($7, ''), $8::int "
    "  WHERE EXISTS (SELECT 1 FROM inst) OR EXISTS (SELECT 1 FROM institutions WHERE id = $1) "
    "  ON CONFLICT (id) DO NOTHING RETURNING id), "
    "a AS (INSERT INTO audit_log (actor, action, entity, entity_id, details) "
    "  SELECT $9, 'create', 'partner', p.id, jsonb_build_object('feed_url', $4, 'format', $5) "
    "  FROM p) "
    "SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM institutions WHERE id = $1)";

/* Reads a PEM public key file and computes its keyId; -1 after printing why. */
static int cli_partner_key(const char *path, struct buf *pem, char key_id[HTTPSIG_KEY_ID_SIZE])
{
    struct mcx_error err;
    EVP_PKEY *key = httpsig_key_load_public(path, &err);
    int rc = -1;

    if (key != NULL && httpsig_key_id_compute(key, key_id, &err) == 0 &&
        httpsig_key_write_public(key, pem, &err) == 0)
        rc = 0;
    else
        fprintf(stderr, "mcx partner add: --public-key %s: %s\n", path, err.message);
    EVP_PKEY_free(key);
    return rc;
}

static int cli_cmd_partner_add(struct cli *cli, const struct cli_command *cmd, int argc,
                               char **argv)
{
    const char *url = NULL, *format = NULL, *keyfile = NULL, *name = "", *country = "",
               *interval = "3600";
    const struct cli_option opts[] = {
        {"--feed-url", &url, NULL}, {"--format", &format, NULL},   {"--public-key", &keyfile, NULL},
        {"--name", &name, NULL},    {"--country", &country, NULL}, {"--interval", &interval, NULL}};
    char key_id[HTTPSIG_KEY_ID_SIZE] = "", actor[160], cc[3] = "";
    struct cli_args args;
    struct db_sync *db;
    struct db_result *res = NULL;
    struct buf pem;
    long secs;
    int rc = cli_parse_expect(cli, cmd, opts, MCX_ARRAY_LEN(opts), argc, argv, &args, 1, 1);

    if (rc >= 0)
        return rc;
    if (url == NULL)
        return cli_missing(cmd, "--feed-url");
    if (format == NULL)
        return cli_missing(cmd, "--format");
    if (!mcx_institution_id_is_valid(args.pos[0]) ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        !partners_format_is_supported(format) || mcx_parse_int(interval, 10, 604800, &secs) != 0 ||
        (country[0] != '\0' && cli_country_parse(country, cc) != 0)) {
        fprintf(stderr,
                "mcx %s: ID is an institution code, --feed-url an http(s) URL, --format "
                "loq, elm, ewp or mcx, --interval 10..604800 seconds, "
                "--country two letters\n",
                cmd->name);
        return CLI_EXIT_USAGE;
    }
    buf_init(&pem);
    if (keyfile != NULL && cli_partner_key(keyfile, &pem, key_id) != 0) {
        buf_cleanup(&pem);
        return CLI_EXIT_FAILED;
    }
    if ((db = cli_connect(cli, cmd, &rc)) == NULL) {
        buf_cleanup(&pem);
        return rc;
    }
    if (cc[0] == '\0') {
        /* a new institution needs its country; an existing one has it */
        const char *p1[1] = {args.pos[0]};
        int known =
            cli_exec(db, cmd, "SELECT 1 FROM institutions WHERE id = $1", 1, p1, &res) == 0 &&
            db_result_rows(res) == 1;
        db_result_free(res);
        res = NULL;
        if (!known) {
            fprintf(stderr, "mcx %s: institution %s is new: give --name and --country\n", cmd->name,
                    args.pos[0]);
            db_sync_close(db);
            buf_cleanup(&pem);
            return CLI_EXIT_USAGE;
        }
    }
    cli_actor(actor, sizeof(actor));
    const char *params[9] = {args.pos[0], name,     cc[0] ? cc : "ZZ",
                             url,         format,   pem.data ? pem.data : "",
                             key_id,      interval, actor};
    rc = CLI_EXIT_FAILED;
    if (cli_exec(db, cmd, cli_partner_add_sql, 9, params, &res) == 0) {
        if (strcmp(db_result_value(res, 0, 0), "1") == 0) {
            fprintf(stderr, "mcx %s: partner %s added; its feed %s is harvested every %ld s\n",
                    cmd->name, args.pos[0], url, secs);
            if (key_id[0])
                printf("%s\n", key_id);
            rc = CLI_EXIT_OK;
        } else {
            fprintf(stderr, "mcx %s: partner %s exists\n", cmd->name, args.pos[0]);
        }
    }
    db_result_free(res);
    db_sync_close(db);
    buf_cleanup(&pem);
    return rc;
}
