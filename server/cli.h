/*
 * cli.h — the admin command line `mcx` (DESIGN.md §5 "Admin CLI"): global options,
 * then one subcommand from a table. server/mcx_main.c is only its main(); tests may
 * call it directly. Human output goes to stderr, the asked-for value alone to stdout.
 */
#ifndef MCX_CLI_H
#define MCX_CLI_H

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,
    CLI_EXIT_USAGE = 2,
};

/* Runs `mcx ARGS`; returns the process exit status (enum cli_exit). */
int mcx_cli_main(int argc, char **argv);

#endif
