/*
 * migrate.c — schema migrations: NNN_name.sql files applied in version order, each
 * once and in its own transaction, recorded with a SHA-256 of its text so that an
 * edited, already-applied file is refused rather than silently skipped.
 */
#include "server/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "server/db.h"

#define MIGRATE_MAX_FILES 10000
#define MIGRATE_MAX_FILE_BYTES (16L * 1024 * 1024)
#define MIGRATE_MAX_VERSION_DIGITS 9 /* fits the integer column */
/* Every node must use the same key; 0x6d6378 is "mcx" in ASCII. */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_lock(7168888)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock(7168888)"
/* How long a node waits for another node's migration before giving up. */
#define MIGRATE_LOCK_TIMEOUT_SQL "SET lock_timeout = '120s'"

struct migration {
    long version;
    char name[256];
    char checksum[65]; /* hex SHA-256 of the file */
    char *sql;
    bool is_applied;
};

struct migration_set {
    struct migration *items;
    size_t len;
    size_t cap;
};

static void migration_set_cleanup(struct migration_set *set)
{
    for (size_t i = 0; i < set->len; i++)
        free(set->items[i].sql);
    free(set->items);
    memset(set, 0, sizeof(*set));
}

static bool name_has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);

    return n >= s && strcmp(name + n - s, suffix) == 0;
}

/* NNN_name.sql: 1-9 digits, '_', then letters, digits, '_' or '-'. */
static int migration_parse_name(const char *name, long *version)
{
    size_t digits = strspn(name, "0123456789");
    size_t len = strlen(name);
    const char *rest = name + digits;
    size_t stem;

    if (digits == 0 || digits > MIGRATE_MAX_VERSION_DIGITS || rest[0] != '_')
        return -1;
    if (len <= digits + 1 + strlen(".sql") || !name_has_suffix(name, ".sql"))
        return -1;
    stem = len - digits - 1 - strlen(".sql");
    if (strspn(rest + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
        stem)
        return -1;
    *version = strtol(name, NULL, 10);
    return 0;
}

static int migration_compare(const void *a, const void *b)
{
    const struct migration *x = a, *y = b;

    return (x->version > y->version) - (x->version < y->version);
}

static int migration_set_add(struct migration_set *set, const char *name, struct mcx_error *err)
{
    struct migration *m;
    long version;

    if (migration_parse_name(name, &version) < 0) {
        mcx_error_set(err, "migrate_dir", "%s is not named like a migration (NNN_name.sql)", name);
        mcx_strlcpy(err->path, name, sizeof(err->path));
        return -1;
    }
    if (set->len >= MIGRATE_MAX_FILES || strlen(name) >= sizeof(m->name)) {
        mcx_error_set(err, "migrate_dir", "too many migration files, or %s too long a name", name);
        return -1;
    }
    if (set->len == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->items = xrealloc(set->items, set->cap * sizeof(*set->items));
    }
    m = &set->items[set->len++];
    memset(m, 0, sizeof(*m));
    m->version = version;
    mcx_strlcpy(m->name, name, sizeof(m->name));
    return 0;
}

static int migration_set_list(struct migration_set *set, const char *dir, struct mcx_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;

    if (d == NULL) {
        mcx_error_set(err, "migrate_dir", "cannot open migrations directory %s: %s", dir,
                      strerror(errno));
        return -1;
    }
    /* Hidden files (editor swap files) and non-.sql files (a README) are not ours. */
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !name_has_suffix(de->d_name, ".sql"))
            continue;
        rc = migration_set_add(set, de->d_name, err);
    }
    closedir(d);
    return rc;
}

static int migration_set_sort(struct migration_set *set, struct mcx_error *err)
{
    if (set->len > 1)
        qsort(set->items, set->len, sizeof(*set->items), migration_compare);
    for (size_t i = 1; i < set->len; i++) {
        if (set->items[i].version == set->items[i - 1].version) {
            mcx_error_set(err, "migrate_dir", "%s and %s have the same version",
                          set->items[i - 1].name, set->items[i].name);
            mcx_strlcpy(err->path, set->items[i].name, sizeof(err->path));
            return -1;
        }
    }
    return 0;
}

static int sha256_hex(const char *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static int file_read_all(const char *path, struct buf *out, struct mcx_error *err)
{
    char chunk[8192];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        mcx_error_set(err, "migrate_dir", "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out->len + n > (size_t)MIGRATE_MAX_FILE_BYTES)
            break;
        buf_append(out, chunk, n);
    }
    if (ferror(f) || n > 0) {
        mcx_error_set(err, "migrate_dir", "cannot read %s: %s", path,
                      n > 0 ? "file larger than 16 MiB" : strerror(errno));
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Reads the file once: the text that is checked is the text that is applied. */
static int migration_load(struct migration *m, const char *dir, struct mcx_error *err)
{
    struct buf path, text;
    int rc = -1;

    buf_init(&path);
    buf_init(&text);
    buf_printf(&path, "%s/%s", dir, m->name);
    if (file_read_all(path.data, &text, err) < 0)
        goto out;
    buf_reserve(&text, 0); /* an empty file still gets a terminated buffer */
    /* libpq takes a C string: an embedded NUL would silently cut the script short. */
    if (memchr(text.data, '\0', text.len) != NULL) {
        mcx_error_set(err, "migrate_dir", "%s contains a NUL byte", m->name);
        goto out;
    }
    if (sha256_hex(text.data, text.len, m->checksum) < 0) {
        mcx_error_set(err, "migrate_failed", "cannot compute SHA-256 of %s", m->name);
        goto out;
    }
    m->sql = buf_steal(&text, NULL);
    rc = 0;
out:
    if (rc < 0)
        mcx_strlcpy(err->path, m->name, sizeof(err->path));
    buf_cleanup(&path);
    buf_cleanup(&text);
    return rc;
}

static int migration_set_load(struct migration_set *set, const char *dir, struct mcx_error *err)
{
    if (migration_set_list(set, dir, err) < 0 || migration_set_sort(set, err) < 0)
        return -1;
    for (size_t i = 0; i < set->len; i++) {
        if (migration_load(&set->items[i], dir, err) < 0)
            return -1;
    }
    return 0;
}

/* Session-level lock: a second node blocks here until the first one is done, then
 * finds everything applied. */
static int migrate_lock(struct db_sync *db, struct mcx_error *err)
{
    if (db_sync_exec(db, MIGRATE_LOCK_TIMEOUT_SQL, 0, NULL, NULL, err) < 0 ||
        db_sync_exec(db, MIGRATE_LOCK_SQL, 0, NULL, NULL, err) < 0)
        return -1;
    return db_sync_exec(db, "RESET lock_timeout", 0, NULL, NULL, err);
}

static int migrate_ensure_table(struct db_sync *db, struct mcx_error *err)
{
    static const char sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              " version integer PRIMARY KEY,"
                              " name text NOT NULL,"
                              " checksum text NOT NULL,"
                              " applied_at timestamptz NOT NULL DEFAULT now())";

    return db_sync_exec(db, sql, 0, NULL, NULL, err);
}

static struct migration *migration_set_find(struct migration_set *set, long version)
{
    struct migration key = {.version = version};

    if (set->len == 0)
        return NULL;
    return bsearch(&key, set->items, set->len, sizeof(key), migration_compare);
}

/* One recorded migration against the file of the same version. */
static int migrate_check_one(struct migration *m, const char *name, const char *checksum,
                             struct mcx_error *err)
{
    if (strcmp(m->name, name) != 0) {
        mcx_error_set(err, "migrate_changed",
                      "migration %ld was applied as %s but the file is now %s; "
                      "restore the old name",
                      m->version, name, m->name);
    } else if (strcmp(m->checksum, checksum) != 0) {
        mcx_error_set(err, "migrate_changed",
                      "%s was changed after it was applied (checksum %.12s... in the "
                      "database, %.12s... on disk); restore it and put the change in a "
                      "new migration",
                      m->name, checksum, m->checksum);
    } else {
        m->is_applied = true;
        return 0;
    }
    mcx_strlcpy(err->path, m->name, sizeof(err->path));
    return -1;
}

static int migrate_check_applied(struct db_sync *db, struct migration_set *set,
                                 struct mcx_error *err)
{
    struct db_result *res;
    long version;
    int rc = 0;

    if (db_sync_exec(db, "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
                     0, NULL, &res, err) < 0)
        return -1;
    for (int row = 0; rc == 0 && row < db_result_rows(res); row++) {
        const char *name = db_result_value(res, row, 1);
        const char *checksum = db_result_value(res, row, 2);
        struct migration *m;
        if (mcx_parse_int(db_result_value(res, row, 0), 0, 999999999, &version) < 0 ||
            name == NULL || checksum == NULL) {
            mcx_error_set(err, "migrate_failed", "schema_migrations holds an unreadable row");
            rc = -1;
        } else if ((m = migration_set_find(set, version)) == NULL) {
            /* A newer node applied it; this one just has fewer files. */
            fprintf(stderr, "note: %s is applied but not in this directory\n", name);
        } else {
            rc = migrate_check_one(m, name, checksum, err);
        }
    }
    db_result_free(res);
    return rc;
}

/* Rewrites a database error so that it names the file and line. */
static void migrate_error_in_file(const struct migration *m, struct mcx_error *err)
{
    char msg[sizeof(err->message)];
    char code[sizeof(err->code)];
    int line = err->line;

    mcx_strlcpy(msg, err->message, sizeof(msg));
    mcx_strlcpy(code, err->code, sizeof(code));
    if (line > 0)
        mcx_error_set(err, code, "%s, line %d: %s", m->name, line, msg);
    else
        mcx_error_set(err, code, "%s: %s", m->name, msg);
    err->line = line;
    mcx_strlcpy(err->path, m->name, sizeof(err->path));
}

static int migrate_apply_one(struct db_sync *db, const struct migration *m, struct mcx_error *err)
{
    char version[16];
    const char *params[3] = {version, m->name, m->checksum};

    snprintf(version, sizeof(version), "%ld", m->version);
    if (db_sync_exec(db, "BEGIN", 0, NULL, NULL, err) < 0)
        return -1;
    if (db_sync_exec_script(db, m->sql, err) < 0 ||
        db_sync_exec(db,
                     "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                     " VALUES ($1, $2, $3, now())",
                     3, params, NULL, err) < 0 ||
        db_sync_exec(db, "COMMIT", 0, NULL, NULL, err) < 0) {
        migrate_error_in_file(m, err);
        db_sync_exec(db, "ROLLBACK", 0, NULL, NULL, NULL);
        return -1;
    }
    fprintf(stderr, "applied %s\n", m->name);
    return 0;
}

static int migrate_apply_all(struct db_sync *db, struct migration_set *set, int *applied,
                             struct mcx_error *err)
{
    if (migrate_lock(db, err) < 0 || migrate_ensure_table(db, err) < 0 ||
        migrate_check_applied(db, set, err) < 0)
        return -1;
    for (size_t i = 0; i < set->len; i++) {
        if (set->items[i].is_applied)
            continue;
        if (migrate_apply_one(db, &set->items[i], err) < 0)
            return -1;
        (*applied)++;
    }
    return db_sync_exec(db, MIGRATE_UNLOCK_SQL, 0, NULL, NULL, err);
}

int migrate_run(const char *conninfo, const char *dir, int *applied, struct mcx_error *err)
{
    struct migration_set set = {0};
    struct db_sync *db = NULL;
    struct mcx_error ignored;
    int count = 0;
    int rc = -1;

    if (err == NULL)
        err = &ignored;
    mcx_error_clear(err);
    /* The files are read and checked before the database is touched. */
    if (migration_set_load(&set, dir, err) < 0)
        goto out;
    db = db_sync_connect(conninfo, err);
    if (db == NULL)
        goto out;
    rc = migrate_apply_all(db, &set, &count, err);
out:
    if (applied != NULL)
        *applied = count;
    db_sync_close(db); /* also drops the advisory lock if an error left it held */
    migration_set_cleanup(&set);
    return rc;
}
