/*
 * publish_cli.h — `mcx publish FILE --institution ID [--replace]`: publishes a LOQ
 * catalogue straight into the database (blocking; for the admin CLI, never the
 * loop), in one transaction, with progress and a per-item report on stderr and
 * the report as JSON on stdout, the same shape as the bulk API's.
 */
#ifndef MCX_PUBLISH_CLI_H
#define MCX_PUBLISH_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct db_sync;

struct publish_cli_opts {
    const char *file;
    const char *institution;
    const char *actor;
    const char *schema_dir; /* LOQ XSDs; NULL: schemas/loq, else the source tree's */
    bool replace;
};

/* 0 when every offer was stored, 1 when some were rejected or the run failed. */
int publish_cli_run(struct db_sync *db, const struct publish_cli_opts *o, FILE *report);

#endif
