/*
 * cli.c — `mcx`, the admin command line. Global options come first, then a
 * subcommand from cli_commands[]; a new command is one more row and one function.
 * Humans read stderr; stdout carries only the value a command was asked for, so
 * scripts can capture it.
 */
#include "server/cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/migrate.h"
#include "server/util.h"

#define CLI_MAX_ARGS 16 /* positional arguments one command may take */

struct cli {
    const char *database_url; /* --database-url, else $MCX_DATABASE_URL */
};

struct cli_command;
typedef int (*cli_run_fn)(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);

struct cli_command {
    const char *name;    /* one or more words: "migrate", later "institution add" */
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

static const struct cli_command cli_commands[] = {
    {"migrate", "[--dir DIR]", "apply pending database migrations (schemas/sql)", cli_cmd_migrate},
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
