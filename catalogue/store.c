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

#include "catalogue/ewp.h"
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

/* The LOQ and EWP paths of an item and of its id element (the codecs' own). */
#define LOQ_ITEM_PATH "/Courses/learningOpportunityReferences/learningOpportunity"
#define EWP_ITEM_PATH "/courses-response/learningOpportunitySpecification"

static void doc_begin(struct store_doc *sd, size_t n, const char *item_path, const char *id_name)
{
    sd->items = xcalloc(n + 1, sizeof(*sd->items));
    sd->nitems = n;
    sd->item_path = item_path;
    sd->id_name = id_name;
}

/* Item i but for its errors' array, which is of the codec's own type. */
static void doc_item(struct store_doc *sd, size_t i, const struct offer *o, const char *external_id,
                     int index, int line, size_t nerrors, bool ok)
{
    sd->items[i] = (struct store_doc_item){.offer = o,
                                           .external_id = external_id,
                                           .index = index,
                                           .line = line,
                                           .nerrors = nerrors,
                                           .repeats = -1,
                                           .ok = ok};
}

void store_doc_from_loq(struct store_doc *sd, const struct loq_doc *d)
{
    doc_begin(sd, d->nitems, LOQ_ITEM_PATH, "identifier");
    for (size_t i = 0; i < d->nitems; i++) {
        const struct loq_item *it = &d->items[i];
        doc_item(sd, i, &it->offer, it->external_id, it->index, it->line, it->nerrors_kept, it->ok);
        sd->items[i].loq_errors = it->errors;
    }
}

void store_doc_from_ewp(struct store_doc *sd, const struct ewp_doc *d)
{
    doc_begin(sd, d->nitems, EWP_ITEM_PATH, "los-id");
    for (size_t i = 0; i < d->nitems; i++) {
        const struct ewp_item *it = &d->items[i];
        doc_item(sd, i, &it->offer, it->external_id, it->index, it->line, it->nerrors_kept, it->ok);
        sd->items[i].ewp_errors = it->errors;
    }
}

void store_doc_cleanup(struct store_doc *sd)
{
    free(sd->items);
    sd->items = NULL;
    sd->nitems = 0;
}

static const char *item_id(const struct store_doc_item *it)
{
    return it->external_id ? it->external_id : "";
}

/* qsort_r comparator: by external id, then by position. */
static int by_external_id(const void *a, const void *b, void *arg)
{
    const struct store_doc *sd = arg;
    const struct store_doc_item *x = &sd->items[*(const size_t *)a];
    const struct store_doc_item *y = &sd->items[*(const size_t *)b];
    int c = strcmp(item_id(x), item_id(y));

    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

size_t store_doc_reject_duplicates(struct store_doc *sd)
{
    size_t *order, n = 0;
    const struct store_doc_item *run;

    if (sd->nitems < 2)
        return 0;
    order = xcalloc(sd->nitems, sizeof(size_t));
    for (size_t i = 0; i < sd->nitems; i++)
        order[i] = i;
    qsort_r(order, sd->nitems, sizeof(size_t), by_external_id, sd);
    run = &sd->items[order[0]];
    for (size_t i = 1; i < sd->nitems; i++) {
        struct store_doc_item *it = &sd->items[order[i]];
        if (item_id(it)[0] == '\0' || strcmp(item_id(it), item_id(run)) != 0) {
            run = it;
            continue;
        }
        if (it->ok) {
            it->ok = false;
            it->repeats = run->index;
            n++;
        }
    }
    free(order);
    return n;
}

/* Why a repeating item is rejected, as a codec would say it. */
static void repeat_error(const struct store_doc *sd, const struct store_doc_item *it, char *path,
                         size_t path_size, char *message, size_t message_size)
{
    snprintf(path, path_size, "%s[%d]/%s", sd->item_path, it->index + 1, sd->id_name);
    snprintf(message, message_size,
             "external id '%.200s' is already used by the learning opportunity at index %d",
             item_id(it), it->repeats);
}

/* A LOQ item that repeats an earlier one's external id: rejected by an error of its own. */
static void loq_item_reject(struct loq_item *it, const struct store_doc *sd,
                            const struct store_doc_item *view)
{
    struct loq_error *e;

    it->ok = false;
    it->errors = xrealloc(it->errors, sizeof(*it->errors) * (it->nerrors_kept + 1));
    e = &it->errors[it->nerrors_kept++];
    it->nerrors++;
    memset(e, 0, sizeof(*e));
    e->line = it->line;
    repeat_error(sd, view, e->path, sizeof(e->path), e->message, sizeof(e->message));
}

size_t store_reject_duplicates(struct loq_doc *d)
{
    struct store_doc sd;
    size_t n;

    store_doc_from_loq(&sd, d);
    n = store_doc_reject_duplicates(&sd);
    for (size_t i = 0; i < sd.nitems; i++)
        if (sd.items[i].repeats >= 0)
            loq_item_reject(&d->items[i], &sd, &sd.items[i]);
    store_doc_cleanup(&sd);
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

static void error_write(struct json_writer *w, const char *path, int line, const char *message)
{
    json_object_begin(w);
    if (path[0])
        json_kv_string(w, "path", path);
    if (line > 0)
        json_kv_int(w, "line", line);
    json_kv_string(w, "message", message);
    json_object_end(w);
}

void store_doc_item_errors_write(struct json_writer *w, const struct store_doc *sd,
                                 const struct store_doc_item *it)
{
    json_array_begin(w);
    for (size_t i = 0; i < it->nerrors; i++) {
        if (it->loq_errors != NULL)
            error_write(w, it->loq_errors[i].path, it->loq_errors[i].line,
                        it->loq_errors[i].message);
        else if (it->ewp_errors != NULL)
            error_write(w, it->ewp_errors[i].path, it->ewp_errors[i].line,
                        it->ewp_errors[i].message);
    }
    if (it->repeats >= 0) {
        char path[256], message[512];
        repeat_error(sd, it, path, sizeof(path), message, sizeof(message));
        error_write(w, path, it->line, message);
    }
    json_array_end(w);
}

void store_doc_report_write(const struct store_counts *c, const struct store_doc *sd,
                            struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    json_kv_int(&w, "accepted", c->accepted);
    json_kv_int(&w, "unchanged", c->unchanged);
    json_kv_int(&w, "removed", c->removed);
    json_key(&w, "rejected");
    json_array_begin(&w);
    for (size_t i = 0; i < sd->nitems; i++) {
        const struct store_doc_item *it = &sd->items[i];
        if (it->ok)
            continue;
        json_object_begin(&w);
        json_kv_int(&w, "index", it->index);
        json_kv_string(&w, "external_id", item_id(it));
        json_kv_int(&w, "line", it->line);
        json_key(&w, "errors");
        store_doc_item_errors_write(&w, sd, it);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
}

void store_report_write(const struct store_counts *c, const struct loq_doc *d, struct buf *out)
{
    struct store_doc sd;

    store_doc_from_loq(&sd, d);
    store_doc_report_write(c, &sd, out);
    store_doc_cleanup(&sd);
}
