/*
 * publish_cli.c — the CLI's publishing path. It parses and validates with the
 * same codec as the API and stores with the same statements (store.h), in
 * batches inside one transaction so a large catalogue shows progress and still
 * lands whole or not at all.
 */
#include "catalogue/publish_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalogue/loq.h"
#include "catalogue/publish.h"
#include "catalogue/store.h"
#include "server/db.h"
#include "server/json.h"

#define BATCH 500

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "mcx publish: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out->len + n > PUBLISH_MAX_CATALOGUE_BYTES) {
            fprintf(stderr, "mcx publish: %s is larger than %zu bytes\n", path,
                    PUBLISH_MAX_CATALOGUE_BYTES);
            fclose(f);
            return -1;
        }
        buf_append(out, chunk, n);
    }
    fclose(f);
    return 0;
}

struct loq_schemas *publish_cli_schemas(const char *dir, const char *who)
{
    struct mcx_error err;
    struct loq_schemas *s = loq_schemas_load(dir ? dir : "schemas/loq", &err);

    if (s == NULL && dir == NULL)
        s = loq_schemas_load(MCX_SOURCE_DIR "/schemas/loq", &err);
    if (s == NULL)
        fprintf(stderr, "%s: cannot load the LOQ schemas: %s\n", who, err.message);
    return s;
}

static int exec(struct db_sync *db, const char *who, const char *sql, int n,
                const char *const *params, struct db_result **res)
{
    struct mcx_error err;

    if (db_sync_exec(db, sql, n, params, res, &err) == 0)
        return 0;
    if (strstr(err.message, "does not exist") != NULL)
        fprintf(stderr, "%s: %s (is the database migrated? mcx migrate)\n", who, err.message);
    else if (strstr(err.message, "institution") != NULL || strstr(err.message, "foreign key"))
        fprintf(stderr, "%s: %s (is the institution registered?)\n", who, err.message);
    else
        fprintf(stderr, "%s: %s\n", who, err.message);
    return -1;
}

/* What one store needs besides the database. */
struct store_job {
    const char *who, *inst, *actor;
    const struct buf *doc;
    const char *sha;
    const struct loq_doc *d;
    struct store_counts *c;
};

/* Stores valid items [from, to) as one batch. */
static int store_batch(struct db_sync *db, const struct store_job *sj, size_t from, size_t to)
{
    struct buf items;
    struct db_result *res = NULL;
    int rc;

    buf_init(&items);
    store_items_begin(&items);
    for (size_t i = from; i < to; i++)
        if (sj->d->items[i].ok)
            store_item_append(&items, &sj->d->items[i].offer);
    store_items_end(&items);
    /* The document travels once: later batches find its row by hash. */
    const char *params[6] = {sj->inst, sj->actor, "loq", from == 0 ? sj->doc->data : "",
                             sj->sha,  items.data};
    rc = exec(db, sj->who, store_put_many_sql, 6, params, &res);
    if (rc == 0)
        store_counts_add(sj->c, res);
    db_result_free(res);
    buf_cleanup(&items);
    return rc;
}

static int tombstone_absent(struct db_sync *db, const struct store_job *sj)
{
    struct buf keep;
    struct db_result *res = NULL;
    int rc;

    buf_init(&keep);
    store_keep_begin(&keep);
    for (size_t i = 0; i < sj->d->nitems; i++)
        if (sj->d->items[i].external_id && sj->d->items[i].external_id[0])
            store_keep_append(&keep, sj->d->items[i].external_id);
    store_keep_end(&keep);
    const char *params[3] = {sj->inst, sj->actor, keep.data};
    rc = exec(db, sj->who, "SELECT id FROM offers_tombstone($1, $2, NULL, $3::text[])", 3, params,
              &res);
    if (rc == 0)
        sj->c->removed += db_result_rows(res);
    db_result_free(res);
    buf_cleanup(&keep);
    return rc;
}

int publish_cli_store(struct db_sync *db, const char *who, const char *inst, const char *actor,
                      const struct buf *doc, const struct loq_doc *d, bool replace, bool progress,
                      struct store_counts *c)
{
    char sha[65];
    struct store_job sj = {who, inst, actor, doc, sha, d, c};

    store_sha256_hex(doc->data, doc->len, sha);
    if (exec(db, who, "BEGIN", 0, NULL, NULL) != 0)
        return -1;
    for (size_t from = 0; from < d->nitems; from += BATCH) {
        size_t to = from + BATCH < d->nitems ? from + BATCH : d->nitems;
        if (store_batch(db, &sj, from, to) != 0)
            goto fail;
        if (progress && d->nitems > BATCH)
            fprintf(stderr, "%s: %zu/%zu offers processed\n", who, to, d->nitems);
    }
    if (replace && tombstone_absent(db, &sj) != 0)
        goto fail;
    if (exec(db, who, "COMMIT", 0, NULL, NULL) != 0)
        goto fail;
    return 0;
fail:
    exec(db, who, "ROLLBACK", 0, NULL, NULL);
    return -1;
}

static void write_report(const struct loq_doc *d, const struct store_counts *c, FILE *out)
{
    struct buf b;

    for (size_t i = 0; i < d->nitems; i++) {
        const struct loq_item *it = &d->items[i];
        for (size_t k = 0; !it->ok && k < it->nerrors_kept; k++)
            fprintf(stderr, "mcx publish: offer %d (%s), line %d: %s\n", it->index,
                    it->external_id ? it->external_id : "?", it->errors[k].line,
                    it->errors[k].message);
    }
    buf_init(&b);
    store_report_write(c, d, &b);
    fprintf(out, "%s\n", b.data);
    buf_cleanup(&b);
}

int publish_cli_run(struct db_sync *db, const struct publish_cli_opts *o, FILE *report)
{
    struct buf doc;
    struct loq_schemas *schemas = NULL;
    struct loq_doc d = {0};
    struct store_counts c = {0, 0, 0};
    struct mcx_error err;
    size_t rejected = 0;
    int rc = 1;

    buf_init(&doc);
    if (read_file(o->file, &doc) != 0 ||
        (schemas = publish_cli_schemas(o->schema_dir, "mcx publish")) == NULL)
        goto out;
    if (!utf8_is_valid(doc.data, doc.len)) {
        fprintf(stderr, "mcx publish: %s is not valid UTF-8\n", o->file);
        goto out;
    }
    struct loq_limits lim = {PUBLISH_MAX_CATALOGUE_BYTES, LOQ_MAX_DEPTH_DEFAULT};
    if (loq_parse_limited(schemas, doc.data, doc.len, &lim, &d, &err) != 0) {
        fprintf(stderr, "mcx publish: %s: line %d: %s\n", o->file, err.line, err.message);
        goto out;
    }
    store_reject_duplicates(&d);
    fprintf(stderr, "mcx publish: %zu offers read from %s\n", d.nitems, o->file);
    if (publish_cli_store(db, "mcx publish", o->institution, o->actor, &doc, &d, o->replace, true,
                          &c) != 0)
        goto out;
    for (size_t i = 0; i < d.nitems; i++)
        rejected += !d.items[i].ok;
    write_report(&d, &c, report);
    fprintf(stderr, "mcx publish: %ld accepted, %ld unchanged, %ld removed, %zu rejected\n",
            c.accepted, c.unchanged, c.removed, rejected);
    rc = rejected == 0 ? 0 : 1;
out:
    loq_doc_cleanup(&d);
    loq_schemas_free(schemas);
    buf_cleanup(&doc);
    return rc;
}
