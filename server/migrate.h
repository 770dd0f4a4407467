/*
 * migrate.h — applies the schema migrations (schemas/sql/NNN_name.sql) in order,
 * each once and in its own transaction, recorded in schema_migrations.
 * Called by `mcx migrate` and `mcxd --migrate`; uses only the blocking db_sync API.
 */
#ifndef MCX_MIGRATE_H
#define MCX_MIGRATE_H

#include "server/util.h"

/*
 * Applies every migration in dir that the database has not recorded, printing
 * "applied NNN_name.sql" on stderr for each; *applied (optional) receives the count.
 * Refuses, before applying anything, when an applied file's checksum changed. Holds
 * a PostgreSQL advisory lock meanwhile, so nodes migrating at once take turns.
 * On failure err->path names the file and err->line the line when known.
 */
int migrate_run(const char *conninfo, const char *dir, int *applied, struct mcx_error *err);

#endif
