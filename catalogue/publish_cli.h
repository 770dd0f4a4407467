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

/* The pieces `mcx gen-corpus` shares. Messages go to stderr prefixed "who: ". */
struct buf;
struct loq_doc;
struct loq_schemas;
struct store_counts;
/* The LOQ XSDs from dir, else schemas/loq, else the source tree's; NULL after a message. */
struct loq_schemas *publish_cli_schemas(const char *dir, const char *who);
/*
 * Stores the valid items of doc (parsed into d) for inst in one transaction, 500
 * per statement (the document itself once); with replace, also tombstones the
 * institution's live offers d does not name; outcomes added to c; progress lines
 * when asked. 0, or -1 after a message (rolled back).
 */
int publish_cli_store(struct db_sync *db, const char *who, const char *inst, const char *actor,
                      const struct buf *doc, const struct loq_doc *d, bool replace, bool progress,
                      struct store_counts *c);

#endif
