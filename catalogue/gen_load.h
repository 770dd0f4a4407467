/*
 * gen_load.h — `mcx gen-corpus`: makes the multilingual corpus of gen.h and
 * publishes it straight into the database the way `mcx publish` does
 * (publish_cli.c): each institution's offers go out as LOQ documents of at most
 * `chunk` offers, validated by the same codec and stored by the same statements
 * (store.h), one transaction per document, with no file in between. Blocking:
 * for the admin CLI, never the loop.
 */
#ifndef MCX_GEN_LOAD_H
#define MCX_GEN_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct db_sync;

#define GEN_LOAD_MAX_CHUNK 20000 /* offers per document: ~100 MB of XML, under the cap */

struct gen_load_opts {
    uint64_t seed;
    size_t count;           /* N: offers in the corpus */
    size_t ninstitutions;   /* K: 1 to GEN_CORPUS_MAX_INSTITUTIONS */
    size_t chunk;           /* offers per document: 1 to GEN_LOAD_MAX_CHUNK */
    const char *actor;      /* audit_log.actor, "cli:<unix user>" */
    const char *schema_dir; /* LOQ XSDs; NULL: schemas/loq, else the source tree's */
};

/*
 * Creates each institution that is missing (as `mcx institution add` would, with
 * its audit entry), then publishes its offers. Progress goes to stderr; the report,
 * one JSON object, to report:
 *   {"offers":N,"accepted":A,"unchanged":U,"rejected":R,"institutions_created":C,
 *    "institutions":{"tcd.ie":40,…},"languages":{"en":812,…},"seconds":S}
 * (accepted: created or changed offers). Running it again with the same arguments
 * changes nothing: every offer comes back unchanged. Returns 0 when every offer
 * was stored, 1 when some were rejected or the run failed.
 */
int gen_load_run(struct db_sync *db, const struct gen_load_opts *o, FILE *report);

#endif
