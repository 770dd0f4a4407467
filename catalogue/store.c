/*
 * store.c — building the parameters of the offer statements. Writing happens in
 * one statement per request (offers_put / offers_tombstone), so an offer, its
 * source document and its audit entry commit together or not at all.
 */
#include "catalogue/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "catalogue/loq.h"
#include "catalogue/offer_json.h"
#include "server/db.h"
#include "server/json.h"

/* The source document is kept once per institution and content (deduplicated). */
#define SOURCE_CTES                                                                                \
    "WITH s AS (SELECT id FROM offer_sources WHERE institution_id = $1 AND sha256 = $5), "         \
    "ins AS (INSERT INTO offer_sources (institution_id, format, body, sha256, actor) "             \
    "        SELECT $1, $3, $4, $5, $2 WHERE NOT EXISTS (SELECT 1 FROM s) RETURNING id) "
#define SOURCE_ID "(SELECT id FROM s UNION ALL SELECT id FROM ins LIMIT 1)"

const char store_put_one_sql[] =
    SOURCE_CTES "SELECT p.outcome, p.api FROM offers_put($1, $2, " SOURCE_ID ", $6::jsonb, true) p";

const char store_put_many_sql[] =
    SOURCE_CTES "SELECT p.idx, p.outcome FROM offers_put_many($1, $2, " SOURCE_ID ", $6::jsonb) p";

/* Both CTEs are read by the final SELECT, so both run; they touch disjoint rows. */
const char store_replace_many_sql[] = SOURCE_CTES
    ", put AS (SELECT p.idx, p.outcome FROM offers_put_many($1, $2, " SOURCE_ID ", $6::jsonb) p), "
    "gone AS (SELECT t.id FROM offers_tombstone($1, $2, NULL, $7::text[]) t) "
    "SELECT idx, outcome FROM put UNION ALL SELECT NULL, 'removed' FROM gone";

const char store_harvest_sql[] =
    SOURCE_CTES ", put AS (SELECT p.idx, p.outcome FROM offers_put_many($1, $2, " SOURCE_ID
                ", $6::jsonb, $1) p), "
                "gone AS (SELECT t.id FROM offers_tombstone($1, $2, NULL, $7::text[], $1) t) "
                "SELECT idx, outcome FROM put UNION ALL SELECT NULL, 'removed' FROM gone";

const char store_replicate_sql[] =
    SOURCE_CTES ", put AS (SELECT p.idx, p.outcome FROM offers_put_many($1, $2, " SOURCE_ID
                ", $6::jsonb, $1) p), "
                "gone AS (SELECT t.id FROM unnest($7::text[]) AS d(x) "
                "  CROSS JOIN LATERAL offers_tombstone($1, $2, d.x, NULL, $1) t) "
                "SELECT idx, outcome FROM put UNION ALL SELECT NULL, 'removed' FROM gone";

const char store_sweep_sql[] =
    "SELECT NULL, 'removed' FROM offers_tombstone($1, $2, NULL, $3::text[], $1)";

const char store_delete_sql[] = "SELECT id FROM offers_tombstone($1, $2, $3, NULL::text[])";

void store_items_begin(struct buf *items)
{
    buf_reset(items);
    buf_putc(items, '[');
}

void store_item_append(struct buf *items, const struct offer *o)
{
    const char *missing[OFFER_COMPLETENESS_MAX];
    size_t nmissing = offer_completeness(o, missing);
    char hash[65];
    struct json_writer w;
    struct buf doc;

    offer_content_hash(o, hash);
    json_writer_init(&w, items);
    w.need_comma[0] = items->len > 1; /* inside the array store_items_begin opened */
    json_object_begin(&w);
    json_kv_string(&w, "external_id", o->external_id);
    json_kv_string(&w, "hash", hash);
    json_key(&w, "doc");
    buf_init(&doc);
    offer_write_doc(o, &doc);
    json_raw(&w, doc.data, doc.len);
    buf_cleanup(&doc);
    json_key(&w, "completeness");
    json_array_begin(&w);
    for (size_t i = 0; i < nmissing; i++)
        json_string(&w, missing[i]);
    json_array_end(&w);
    json_object_end(&w);
}

void store_items_end(struct buf *items)
{
    buf_putc(items, ']');
}

void store_keep_begin(struct buf *keep)
{
    buf_reset(keep);
    buf_putc(keep, '{');
}

/* Quoted, with " and \ escaped, so any external id survives the literal. */
void store_keep_append(struct buf *keep, const char *s)
{
    if (keep->len > 1)
        buf_putc(keep, ',');
    buf_putc(keep, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_putc(keep, '\\');
        buf_putc(keep, *s);
    }
    buf_putc(keep, '"');
}

void store_keep_end(struct buf *keep)
{
    buf_putc(keep, '}');
}

void store_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static const char *item_id(const struct loq_item *it)
{
    return it->external_id ? it->external_id : "";
}

/* qsort_r comparator: by external id, then by position. */
static int by_external_id(const void *a, const void *b, void *arg)
{
    const struct loq_doc *d = arg;
    const struct loq_item *x = &d->items[*(const size_t *)a];
    const struct loq_item *y = &d->items[*(const size_t *)b];
    int c = strcmp(item_id(x), item_id(y));

    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

static void reject(struct loq_item *it, const struct loq_item *first)
{
    struct loq_error *e;

    it->ok = false;
    it->errors = xrealloc(it->errors, sizeof(*it->errors) * (it->nerrors_kept + 1));
    e = &it->errors[it->nerrors_kept++];
    it->nerrors++;
    memset(e, 0, sizeof(*e));
    e->line = it->line;
    snprintf(e->path, sizeof(e->path),
             "/Courses/learningOpportunityReferences/learningOpportunity[%d]/identifier",
             it->index + 1);
    snprintf(e->message, sizeof(e->message),
             "external id '%.200s' is already used by the learning opportunity at index %d",
             item_id(it), first->index);
}

size_t store_reject_duplicates(struct loq_doc *d)
{
    size_t *order, n = 0;
    const struct loq_item *run;

    if (d->nitems < 2)
        return 0;
    order = xcalloc(d->nitems, sizeof(size_t));
    for (size_t i = 0; i < d->nitems; i++)
        order[i] = i;
    qsort_r(order, d->nitems, sizeof(size_t), by_external_id, d);
    run = &d->items[order[0]];
    for (size_t i = 1; i < d->nitems; i++) {
        struct loq_item *it = &d->items[order[i]];
        if (item_id(it)[0] == '\0' || strcmp(item_id(it), item_id(run)) != 0) {
            run = it;
            continue;
        }
        if (it->ok) {
            reject(it, run);
            n++;
        }
    }
    free(order);
    return n;
}

void store_counts_add(struct store_counts *c, const struct db_result *res)
{
    for (int i = 0; res != NULL && i < db_result_rows(res); i++) {
        const char *outcome = db_result_value(res, i, 1);
        if (strcmp(outcome, "unchanged") == 0)
            c->unchanged++;
        else if (strcmp(outcome, "removed") == 0)
            c->removed++;
        else
            c->accepted++;
    }
}

void store_errors_write(struct json_writer *w, const struct loq_error *e, size_t n)
{
    json_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        json_object_begin(w);
        if (e[i].path[0])
            json_kv_string(w, "path", e[i].path);
        if (e[i].line > 0)
            json_kv_int(w, "line", e[i].line);
        json_kv_string(w, "message", e[i].message);
        json_object_end(w);
    }
    json_array_end(w);
}

void store_report_write(const struct store_counts *c, const struct loq_doc *d, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    json_kv_int(&w, "accepted", c->accepted);
    json_kv_int(&w, "unchanged", c->unchanged);
    json_kv_int(&w, "removed", c->removed);
    json_key(&w, "rejected");
    json_array_begin(&w);
    for (size_t i = 0; i < d->nitems; i++) {
        const struct loq_item *it = &d->items[i];
        if (it->ok)
            continue;
        json_object_begin(&w);
        json_kv_int(&w, "index", it->index);
        json_kv_string(&w, "external_id", it->external_id ? it->external_id : "");
        json_kv_int(&w, "line", it->line);
        json_key(&w, "errors");
        store_errors_write(&w, it->errors, it->nerrors_kept);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
}
