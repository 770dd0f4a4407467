/*
 * harvest.c — the harvest loop of one worker. A tick claims due partners; each
 * claimed partner becomes a job that walks fetch → parse → store → record, one
 * async step at a time, so a hanging partner holds only its own job. Every job
 * ends in exactly one harvest_runs row and one schedule update for its partner.
 */
#include "catalogue/harvest.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "catalogue/elm.h"
#include "catalogue/ewp.h"
#include "catalogue/loq.h"
#include "catalogue/offer_json.h"
#include "catalogue/publish.h"
#include "catalogue/store.h"
#include "server/client.h"
#include "server/db.h"
#include "server/httpsig.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"

/* Offers asked for per page of an incremental replication, and pages per run at most. */
#define REPLICATION_PAGE "500"
#define REPLICATION_MAX_PAGES 2000

struct job {
    struct harvester *h;
    char *partner;
    char *feed_url;
    char *format;
    char *etag;
    char *last_modified;
    long interval_s;
    int failures;
    char started[40];
    struct client_req *fetch;
    struct db_op *op;
    long http_status;
    size_t bytes;
    int fetched, accepted, unchanged, removed, rejected;
    char *new_etag;
    char *new_last_modified;
    char error[512];
    struct loq_doc doc;
    bool has_doc;
    struct ewp_doc ewp;
    bool has_ewp;
    struct elm_feed elm;
    bool has_elm;
    /* incremental replication (formats mcx, and ewp through a manifest) */
    char *since;     /* modified_since asked, NULL: a full replication */
    char *cursor;    /* mcx: where the next page starts, NULL: no more pages */
    char *high;      /* the newest change seen (the partner's clock) */
    struct buf keep; /* full replication: every external id the partner listed */
    int pages;
    enum { FETCH_FEED, FETCH_EWP_LIST, FETCH_EWP_COURSES } stage;
    struct ewp_manifest_apis apis; /* ewp: where the partner's course APIs are */
    struct ewp_id_list ids;        /* ewp: the LOS ids its replication listed */
    size_t next_id;                /* ewp: the first id not asked for yet */
    struct job *prev, *next;
};

struct harvester {
    struct mcxd *app;
    struct harvest_config cfg;
    struct event *tick;
    struct db_op *claim;
    struct job *jobs;
    int in_flight;
    unsigned int seed;
};

static void job_record(struct job *j);

long harvest_backoff_ms(int base_ms, int failures, long cap_ms, double r)
{
    double d = base_ms;

    for (int i = 1; i < failures && d < cap_ms; i++)
        d *= 2;
    d *= 0.8 + 0.4 * r; /* ±20%: nodes that failed together do not retry together */
    if (d > cap_ms)
        d = cap_ms;
    return d < 1 ? 1 : (long)d;
}

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

static void now_rfc3339(char out[40])
{
    struct timespec ts;
    struct tm tm;
    char sec[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.19s.%06dZ", sec, (int)(ts.tv_nsec / 1000) % 1000000);
}

/* ---- jobs ---- */

static void job_free(struct job *j)
{
    struct harvester *h = j->h;

    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        h->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    h->in_flight--;
    if (j->has_doc)
        loq_doc_cleanup(&j->doc);
    if (j->has_ewp)
        ewp_doc_cleanup(&j->ewp);
    if (j->has_elm)
        elm_feed_cleanup(&j->elm);
    buf_cleanup(&j->keep);
    ewp_manifest_apis_cleanup(&j->apis);
    ewp_id_list_cleanup(&j->ids);
    free(j->since);
    free(j->cursor);
    free(j->high);
    free(j->partner);
    free(j->feed_url);
    free(j->format);
    free(j->etag);
    free(j->last_modified);
    free(j->new_etag);
    free(j->new_last_modified);
    free(j);
}

static void job_fail(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends a job as failed: nothing was stored, the reason goes to harvest_runs. */
static void job_fail(struct job *j, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(j->error, sizeof(j->error), fmt, ap); /* a long reason is cut, not lost */
    va_end(ap);
    job_record(j);
}

static void job_recorded(struct db_result *res, const struct db_error *err, void *arg)
{
    struct job *j = arg;

    (void)res;
    j->op = NULL;
    if (err != NULL)
        fprintf(stderr,
                "{\"level\":\"error\",\"msg\":\"harvest of %s not recorded: %s\","
                "\"worker\":%d}\n",
                j->partner, err->message, j->h->app->worker);
    job_free(j);
}

/*
 * A partner's run history is bounded: each recorded run drops what lies beyond the
 * newest HARVEST_RUNS_KEPT (a month and more at the default hourly interval), so the
 * table does not grow for ever. The new run is not seen by the DELETE (one snapshot):
 * a partner keeps at most HARVEST_RUNS_KEPT + 1.
 */
#define HARVEST_RUNS_KEPT "1000"

static const char record_sql[] =
    "WITH r AS (INSERT INTO harvest_runs (partner_id, node, started_at, status, http_status, "
    "  bytes, fetched, accepted, unchanged, removed, rejected, error) "
    "  VALUES ($1, $2, $3::timestamptz, $4, nullif($5, '0')::int, $6::bigint, $7::int, $8::int, "
    "          $9::int, $10::int, $11::int, nullif($12, ''))), "
    "old AS (DELETE FROM harvest_runs WHERE partner_id = $1 AND id <= (SELECT id FROM harvest_runs "
    "  WHERE partner_id = $1 ORDER BY id DESC OFFSET " HARVEST_RUNS_KEPT " LIMIT 1)) "
    "UPDATE partners SET "
    "  etag = CASE WHEN $4 = 'ok' THEN nullif($13, '') ELSE etag END, "
    "  last_modified = CASE WHEN $4 = 'ok' THEN nullif($14, '') ELSE last_modified END, "
    "  consecutive_failures = CASE WHEN $4 = 'failed' THEN consecutive_failures + 1 ELSE 0 END, "
    "  last_success_at = CASE WHEN $4 = 'failed' THEN last_success_at ELSE now() END, "
    "  last_error = CASE WHEN $4 = 'failed' THEN $12 ELSE NULL END, "
    "  last_error_at = CASE WHEN $4 = 'failed' THEN now() ELSE last_error_at END, "
    "  next_attempt_at = now() + make_interval(secs => $15::double precision), "
    "  modified_since = CASE WHEN $4 = 'ok' AND $16 <> '' THEN $16::timestamptz "
    "    ELSE modified_since END, "
    "  last_full_at = CASE WHEN $4 = 'ok' AND $17 THEN now() ELSE last_full_at END, "
    "  claimed_by = NULL, updated_at = now() "
    "WHERE id = $1";

/* Writes the run and the partner's next attempt: the last step of every job. */
static void job_record(struct job *j)
{
    struct harvester *h = j->h;
    const char *status = j->error[0] ? "failed" : j->http_status == 304 ? "not_modified" : "ok";
    char nums[8][24], next_s[32];
    long next_ms;

    if (j->error[0]) {
        next_ms = harvest_backoff_ms(h->cfg.backoff_ms, j->failures + 1, j->interval_s * 1000L,
                                     (double)rand_r(&h->seed) / ((double)RAND_MAX + 1));
        fprintf(stderr,
                "{\"level\":\"warn\",\"msg\":\"harvest of %s failed: %s; retry in %.1f s\","
                "\"worker\":%d}\n",
                j->partner, j->error, next_ms / 1000.0, h->app->worker);
    } else {
        next_ms = j->interval_s * 1000L;
    }
    snprintf(nums[0], sizeof(nums[0]), "%ld", j->http_status);
    snprintf(nums[1], sizeof(nums[1]), "%zu", j->bytes);
    snprintf(nums[2], sizeof(nums[2]), "%d", j->fetched);
    snprintf(nums[3], sizeof(nums[3]), "%d", j->accepted);
    snprintf(nums[4], sizeof(nums[4]), "%d", j->unchanged);
    snprintf(nums[5], sizeof(nums[5]), "%d", j->removed);
    snprintf(nums[6], sizeof(nums[6]), "%d", j->rejected);
    snprintf(next_s, sizeof(next_s), "%.3f", next_ms / 1000.0);
    bool replicated = j->stage != FETCH_FEED || strcmp(j->format, "mcx") == 0;
    const char *params[17] = {j->partner,
                              h->cfg.node,
                              j->started,
                              status,
                              nums[0],
                              nums[1],
                              nums[2],
                              nums[3],
                              nums[4],
                              nums[5],
                              nums[6],
                              j->error,
                              j->new_etag ? j->new_etag : "",
                              j->new_last_modified ? j->new_last_modified : "",
                              next_s,
                              j->high ? j->high : "",
                              replicated && j->since == NULL ? "true" : "false"};
    j->op = db_query(h->app->pool, record_sql, 17, params, job_recorded, j);
}

/* Adds a store statement's outcomes to the run's counts. */
static void job_count(struct job *j, const struct db_result *res)
{
    struct store_counts c = {0, 0, 0};

    store_counts_add(&c, res);
    j->accepted += (int)c.accepted;
    j->unchanged += (int)c.unchanged;
    j->removed += (int)c.removed;
}

static void job_stored(struct db_result *res, const struct db_error *err, void *arg)
{
    struct job *j = arg;

    j->op = NULL;
    if (err != NULL) {
        job_fail(j, "storing the offers failed: %s", err->message);
        return;
    }
    job_count(j, res);
    job_record(j);
}

/* One parsed feed item, whatever the format: what storing it needs. */
struct feed_item {
    const struct offer *offer;
    const char *external_id;
    bool ok;
};

/*
 * Sends one store statement for the partner: $3 format, $4 the document (kept
 * once per content), $6 items, $7 a text[] (the keep-list or the deleted ids).
 */
static void job_store(struct job *j, const char *sql, const char *format, const char *body,
                      size_t len, const struct buf *items, const struct buf *list, db_result_cb cb)
{
    char sha[65], actor[160];

    store_sha256_hex(body, len, sha);
    snprintf(actor, sizeof(actor), "harvest:%s", j->partner);
    const char *params[7] = {j->partner, actor, format, body, sha, items->data, list->data};
    j->op = db_query(j->h->app->pool, sql, 7, params, cb, j);
}

/*
 * Stores a parsed full feed: every valid item, and the partner's offers the feed no
 * longer lists are tombstoned (invalid items still count as listed: their last good
 * version stays). An invalid item with no external id could be any offer: then
 * nothing is tombstoned this run.
 */
static void job_store_items(struct job *j, const struct client_response *resp, const char *format,
                            const struct feed_item *fi, size_t n)
{
    struct buf items, keep;
    bool sweep = true;

    buf_init(&items);
    buf_init(&keep);
    store_items_begin(&items);
    store_keep_begin(&keep);
    for (size_t i = 0; i < n; i++) {
        bool named = fi[i].external_id != NULL && fi[i].external_id[0] != '\0';
        if (named)
            store_keep_append(&keep, fi[i].external_id);
        if (fi[i].ok)
            store_item_append(&items, fi[i].offer);
        else
            j->rejected++;
        if (!fi[i].ok && !named)
            sweep = false;
    }
    store_items_end(&items);
    store_keep_end(&keep);
    if (!sweep) {
        fprintf(stderr,
                "{\"level\":\"warn\",\"msg\":\"harvest of %s: an invalid item has no id, "
                "so no offer is removed this run\",\"worker\":%d}\n",
                j->partner, j->h->app->worker);
        buf_reset(&keep);
        buf_puts(&keep, "{}"); /* store_replicate_sql: removes only these, i.e. none */
    }
    j->fetched = (int)n;
    job_store(j, sweep ? store_harvest_sql : store_replicate_sql, format, resp->body,
              resp->body_len, &items, &keep, job_stored);
    buf_cleanup(&items);
    buf_cleanup(&keep);
}

/* A whole LOQ feed. */
static void job_store_loq(struct job *j, const struct client_response *resp)
{
    struct mcx_error err;
    struct loq_limits lim = {j->h->cfg.max_body, LOQ_MAX_DEPTH_DEFAULT};
    struct feed_item *fi;

    if (loq_parse_limited(j->h->app->loq, resp->body, resp->body_len, &lim, &j->doc, &err) != 0) {
        job_fail(j, "invalid document: %s", err.message);
        return;
    }
    j->has_doc = true;
    if (j->doc.nerrors > 0) {
        job_fail(j, "invalid document: line %d: %.300s", j->doc.errors[0].line,
                 j->doc.errors[0].message);
        return;
    }
    store_reject_duplicates(&j->doc);
    fi = xcalloc(j->doc.nitems + 1, sizeof(*fi));
    for (size_t i = 0; i < j->doc.nitems; i++)
        fi[i] = (struct feed_item){&j->doc.items[i].offer, j->doc.items[i].external_id,
                                   j->doc.items[i].ok};
    job_store_items(j, resp, "loq", fi, j->doc.nitems);
    free(fi);
}

static int by_ewp_id(const void *a, const void *b, void *arg)
{
    const struct ewp_doc *d = arg;
    const char *x = d->items[*(const size_t *)a].external_id;
    const char *y = d->items[*(const size_t *)b].external_id;

    return strcmp(x ? x : "", y ? y : "");
}

/* A los-id twice in one response: the first wins, the others are rejected. */
static void ewp_reject_duplicates(struct ewp_doc *d)
{
    size_t *order = xcalloc(d->nitems + 1, sizeof(size_t));

    for (size_t i = 0; i < d->nitems; i++)
        order[i] = i;
    qsort_r(order, d->nitems, sizeof(size_t), by_ewp_id, d);
    for (size_t i = 1; i < d->nitems; i++) {
        struct ewp_item *a = &d->items[order[i - 1]], *b = &d->items[order[i]];
        if (a->external_id && b->external_id && strcmp(a->external_id, b->external_id) == 0) {
            struct ewp_item *later = a->index > b->index ? a : b;
            later->ok = false;
        }
    }
    free(order);
}

/*
 * A whole EWP Courses API response (the partner's catalogue as one document):
 * every valid learning opportunity specification is stored, absent ones go.
 */
static void job_store_ewp(struct job *j, const struct client_response *resp)
{
    struct mcx_error err;
    struct feed_item *fi;

    if (ewp_parse_courses(j->h->app->ewp, resp->body, resp->body_len, j->h->cfg.max_body, &j->ewp,
                          &err) != 0) {
        job_fail(j, "invalid document: %s", err.message);
        return;
    }
    j->has_ewp = true;
    if (j->ewp.nerrors > 0) {
        job_fail(j, "invalid document: line %d: %.300s", j->ewp.errors[0].line,
                 j->ewp.errors[0].message);
        return;
    }
    ewp_doc_set_provider(&j->ewp, j->partner); /* the partner id is its HEI id */
    ewp_reject_duplicates(&j->ewp);
    fi = xcalloc(j->ewp.nitems + 1, sizeof(*fi));
    for (size_t i = 0; i < j->ewp.nitems; i++)
        fi[i] = (struct feed_item){&j->ewp.items[i].offer, j->ewp.items[i].external_id,
                                   j->ewp.items[i].ok};
    job_store_items(j, resp, "ewp", fi, j->ewp.nitems);
    free(fi);
}

/* A whole ELM feed: one JSON-LD learning opportunity, an array of them, or an @graph. */
static void job_store_elm(struct job *j, const struct client_response *resp)
{
    struct mcx_error err;
    struct feed_item *fi;

    if (elm_parse_feed(resp->body, resp->body_len, EWP_MAX_ITEMS, &j->elm, &err) != 0) {
        job_fail(j, "invalid document: %s", err.message);
        return;
    }
    j->has_elm = true;
    fi = xcalloc(j->elm.nitems + 1, sizeof(*fi));
    for (size_t i = 0; i < j->elm.nitems; i++) {
        struct elm_feed_item *it = &j->elm.items[i];
        it->ok = it->ok && it->offer.external_id != NULL;
        fi[i] = (struct feed_item){&it->offer, it->offer.external_id, it->ok};
    }
    /* a duplicate id: the first wins, as in the other formats */
    for (size_t i = 0; i < j->elm.nitems; i++)
        for (size_t k = 0; fi[i].ok && k < i; k++)
            if (fi[k].ok && strcmp(fi[k].external_id, fi[i].external_id) == 0)
                fi[i].ok = false;
    job_store_items(j, resp, "elm", fi, j->elm.nitems);
    free(fi);
}

/* ---- incremental replication from another mcx node ---- */

static void job_fetch(struct job *j, const char *url, bool conditional);

/* Appends ?name=value (or &name=value) to a URL, the value percent-encoded. */
static void url_param(struct buf *url, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";

    buf_putc(url, memchr(url->data, '?', url->len) != NULL ? '&' : '?');
    buf_puts(url, name);
    buf_putc(url, '=');
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if (isalnum(*p) || strchr("-._~", *p) != NULL) {
            buf_putc(url, (char)*p);
        } else {
            buf_putc(url, '%');
            buf_putc(url, hex[*p >> 4]);
            buf_putc(url, hex[*p & 15]);
        }
    }
}

/*
 * The next page of the partner's offers: its replication endpoint (the feed URL,
 * or the node's base URL to which the API path is added), for this institution,
 * changed since the last complete run, with their documents inline.
 */
static void job_mcx_fetch_page(struct job *j)
{
    const char *host = strstr(j->feed_url, "://");
    const char *path = host != NULL ? strpbrk(host + 3, "/?") : NULL;
    struct buf url;

    buf_init(&url);
    buf_puts(&url, j->feed_url);
    if (path == NULL || strcmp(path, "/") == 0) {
        if (path != NULL)
            url.data[--url.len] = '\0';
        buf_puts(&url, "/api/v1/replication/offers");
    }
    url_param(&url, "institution", j->partner);
    url_param(&url, "include", "doc");
    url_param(&url, "limit", REPLICATION_PAGE);
    if (j->since != NULL)
        url_param(&url, "modified_since", j->since);
    if (j->cursor != NULL)
        url_param(&url, "cursor", j->cursor);
    j->pages++;
    job_fetch(j, url.data, false);
    buf_cleanup(&url);
}

static void job_swept(struct db_result *res, const struct db_error *err, void *arg)
{
    struct job *j = arg;

    j->op = NULL;
    if (err != NULL) {
        job_fail(j, "removing offers the partner no longer lists failed: %s", err->message);
        return;
    }
    job_count(j, res);
    job_record(j);
}

static void job_ewp_fetch_batch(struct job *j);

/* After a page: the next one, or (a full replication) the sweep, or the record. */
static void job_next(struct job *j)
{
    char actor[160];

    if (j->stage == FETCH_EWP_COURSES && j->next_id < j->ids.n) {
        job_ewp_fetch_batch(j);
        return;
    }
    if (j->stage == FETCH_FEED && j->cursor != NULL) {
        if (j->pages >= REPLICATION_MAX_PAGES) {
            job_fail(j, "the partner's replication has more than %d pages of %s",
                     REPLICATION_MAX_PAGES, REPLICATION_PAGE);
            return;
        }
        job_mcx_fetch_page(j);
        return;
    }
    if (j->since != NULL) {
        job_record(j);
        return;
    }
    store_keep_end(&j->keep);
    snprintf(actor, sizeof(actor), "harvest:%s", j->partner);
    const char *params[3] = {j->partner, actor, j->keep.data};
    j->op = db_query(j->h->app->pool, store_sweep_sql, 3, params, job_swept, j);
}

static void job_page_stored(struct db_result *res, const struct db_error *err, void *arg)
{
    struct job *j = arg;

    j->op = NULL;
    if (err != NULL) {
        job_fail(j, "storing the offers failed: %s", err->message);
        return;
    }
    job_count(j, res);
    job_next(j);
}

/* Stores one page (items, and gone: the ids the partner deleted), then goes on. */
static void job_store_page(struct job *j, const char *format, const char *body, size_t len,
                           struct buf *items, struct buf *gone)
{
    store_items_end(items);
    store_keep_end(gone);
    if (items->len <= 2 && gone->len <= 2) { /* "[]" and "{}": nothing to store */
        job_next(j);
        return;
    }
    job_store(j, store_replicate_sql, format, body, len, items, gone, job_page_stored);
}

static const char *entry_string(const struct json_value *e, const char *key)
{
    const struct json_value *v = json_object_get(e, key);

    return json_is_string(v) ? json_string_value(v, NULL) : NULL;
}

/*
 * One replication entry: a tombstone goes to gone, a live offer to items (if its
 * document reads as an offer with the entry's external id). Entries of another
 * institution, or that the partner itself harvested from elsewhere (their origin
 * serves them), are skipped. -1 with why when the entry is not one at all.
 */
static int job_mcx_entry(struct job *j, const struct json_value *e, struct buf *items,
                         struct buf *gone, char *why, size_t whysize)
{
    const char *inst = entry_string(e, "institution"), *ext = entry_string(e, "external_id");
    const char *updated = entry_string(e, "updated_at");
    const struct json_value *deleted = json_object_get(e, "deleted");
    const struct json_value *partner = json_object_get(e, "partner");
    struct mcx_error err;
    struct offer o;

    if (inst == NULL || ext == NULL || ext[0] == '\0' || updated == NULL ||
        !json_is_bool(deleted)) {
        snprintf(why, whysize, "an entry lacks institution, external_id, updated_at or deleted");
        return -1;
    }
    if (j->high == NULL || strcmp(updated, j->high) > 0) {
        free(j->high);
        j->high = xstrdup(updated);
    }
    if (strcmp(inst, j->partner) != 0 || (partner != NULL && !json_is_null(partner)))
        return 0;
    if (json_bool_value(deleted)) {
        store_keep_append(gone, ext);
        return 0;
    }
    j->fetched++;
    if (j->since == NULL)
        store_keep_append(&j->keep, ext);
    offer_init(&o);
    if (offer_read_json_value(json_object_get(e, "doc"), &o, &err) == 0 && o.external_id != NULL &&
        strcmp(o.external_id, ext) == 0)
        store_item_append(items, &o);
    else
        j->rejected++;
    offer_cleanup(&o);
    return 0;
}

/* One page of the partner's replication: checked whole, then stored in one statement. */
static void job_mcx_page(struct job *j, const struct client_response *resp)
{
    struct mcx_error err;
    struct json_value *page = json_parse(resp->body, resp->body_len, 0, &err);
    const struct json_value *list = json_object_get(page, "offers");
    const struct json_value *next = json_object_get(page, "next");
    struct buf items, gone;
    char why[200] = "";

    if (page == NULL) {
        job_fail(j, "invalid replication page: %s", err.message);
        return;
    }
    if (!json_is_array(list) || (next != NULL && !json_is_null(next) && !json_is_string(next))) {
        json_value_free(page);
        job_fail(j, "invalid replication page: not {\"offers\":[…],\"next\":…}");
        return;
    }
    buf_init(&items);
    buf_init(&gone);
    store_items_begin(&items);
    store_keep_begin(&gone);
    for (size_t i = 0; i < json_array_len(list) && why[0] == '\0'; i++) {
        if (job_mcx_entry(j, json_array_at(list, i), &items, &gone, why, sizeof(why)) != 0)
            snprintf(why + strlen(why), sizeof(why) - strlen(why), " (entry %zu)", i);
    }
    const char *cursor = json_is_string(next) ? json_string_value(next, NULL) : NULL;
    if (why[0] == '\0' && cursor != NULL && j->cursor != NULL && strcmp(cursor, j->cursor) == 0)
        snprintf(why, sizeof(why), "the partner's next page is the same page again");
    if (why[0] != '\0') {
        json_value_free(page);
        buf_cleanup(&items);
        buf_cleanup(&gone);
        job_fail(j, "invalid replication page: %s", why);
        return;
    }
    free(j->cursor);
    j->cursor = cursor != NULL ? xstrdup(cursor) : NULL;
    json_value_free(page);
    job_store_page(j, "mcx", resp->body, resp->body_len, &items, &gone);
    buf_cleanup(&items);
    buf_cleanup(&gone);
}

/* ---- incremental replication from an EWP partner (Discovery manifest) ---- */

/*
 * The partner's clock from the Date header of its replication answer, as
 * RFC 3339; the start of the run when it sent none usable.
 */
static char *partner_now(const struct job *j, const struct client_response *resp)
{
    const char *date = client_response_header(resp, "Date");
    struct tm tm;
    char out[40];

    memset(&tm, 0, sizeof(tm));
    if (date != NULL) {
        const char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (end != NULL && *end == '\0') {
            strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
            return xstrdup(out);
        }
    }
    return xstrdup(j->started);
}

/* Asks the Courses API for the next max-los-ids listed ids. */
static void job_ewp_fetch_batch(struct job *j)
{
    struct buf url;
    size_t end = j->next_id + (size_t)j->apis.max_los_ids;

    if (end > j->ids.n)
        end = j->ids.n;
    buf_init(&url);
    buf_puts(&url, j->apis.courses_url);
    url_param(&url, "hei_id", j->partner);
    for (size_t i = j->next_id; i < end; i++)
        url_param(&url, "los_id", j->ids.ids[i]);
    j->pages++;
    j->stage = FETCH_EWP_COURSES;
    job_fetch(j, url.data, false);
    buf_cleanup(&url);
}

/*
 * One Courses API answer for the ids just asked for: valid LOS are stored, asked-for
 * ids it does not hold are the partner's deletions (the spec: absent means gone), an
 * invalid LOS keeps its last good version.
 */
static void job_ewp_batch(struct job *j, const struct client_response *resp)
{
    size_t from = j->next_id, to = from + (size_t)j->apis.max_los_ids;
    struct ewp_doc doc;
    struct mcx_error err;
    struct buf items, gone;

    if (to > j->ids.n)
        to = j->ids.n;
    if (ewp_parse_courses(j->h->app->ewp, resp->body, resp->body_len, j->h->cfg.max_body, &doc,
                          &err) != 0) {
        job_fail(j, "invalid Courses API answer: %s", err.message);
        return;
    }
    if (doc.nerrors > 0) {
        job_fail(j, "invalid Courses API answer: line %d: %.300s", doc.errors[0].line,
                 doc.errors[0].message);
        ewp_doc_cleanup(&doc);
        return;
    }
    ewp_doc_set_provider(&doc, j->partner);
    buf_init(&items);
    buf_init(&gone);
    store_items_begin(&items);
    store_keep_begin(&gone);
    for (size_t i = from; i < to; i++) {
        const struct ewp_item *it = NULL;
        for (size_t k = 0; k < doc.nitems && it == NULL; k++)
            if (doc.items[k].external_id != NULL &&
                strcmp(doc.items[k].external_id, j->ids.ids[i]) == 0)
                it = &doc.items[k];
        if (it == NULL) {
            store_keep_append(&gone, j->ids.ids[i]);
            continue;
        }
        j->fetched++;
        if (it->ok)
            store_item_append(&items, &it->offer);
        else
            j->rejected++;
    }
    ewp_doc_cleanup(&doc);
    j->next_id = to;
    job_store_page(j, "ewp", resp->body, resp->body_len, &items, &gone);
    buf_cleanup(&items);
    buf_cleanup(&gone);
}

/* The partner's Simple Course Replication answer: the LOS ids to ask the Courses API for. */
static void job_ewp_list(struct job *j, const struct client_response *resp)
{
    struct mcx_error err;

    if (ewp_parse_replication(j->h->app->ewp, resp->body, resp->body_len, j->h->cfg.max_body,
                              &j->ids, &err) != 0) {
        job_fail(j, "invalid Simple Course Replication answer: %s", err.message);
        return;
    }
    free(j->high);
    j->high = partner_now(j, resp);
    if (j->since == NULL)
        for (size_t i = 0; i < j->ids.n; i++)
            store_keep_append(&j->keep, j->ids.ids[i]);
    j->stage = FETCH_EWP_COURSES;
    job_next(j);
}

/* The feed URL is the partner's Discovery manifest: find its course APIs, list the ids. */
static void job_ewp_manifest(struct job *j, const struct client_response *resp)
{
    struct mcx_error err;
    struct buf url;

    if (ewp_parse_manifest(resp->body, resp->body_len, j->h->cfg.max_body, j->partner, &j->apis,
                           &err) != 0) {
        job_fail(j, "invalid discovery manifest: %s", err.message);
        return;
    }
    if (j->apis.replication_url == NULL) {
        job_fail(j,
                 "the manifest lists no Simple Course Replication API for %s: its courses "
                 "cannot be listed (register a Courses API response URL instead)",
                 j->partner);
        return;
    }
    if (!j->apis.replication_modified_since) {
        free(j->since); /* the list is always whole: read it as such */
        j->since = NULL;
    }
    buf_init(&url);
    buf_puts(&url, j->apis.replication_url);
    url_param(&url, "hei_id", j->partner);
    if (j->since != NULL)
        url_param(&url, "modified_since", j->since);
    j->stage = FETCH_EWP_LIST;
    job_fetch(j, url.data, false);
    buf_cleanup(&url);
}

/* A partner of format ewp: its feed URL serves a manifest or a whole Courses answer. */
static void job_ewp_feed(struct job *j, const struct client_response *resp)
{
    switch (ewp_sniff_root(resp->body, resp->body_len)) {
    case EWP_ROOT_MANIFEST:
        free(j->new_etag); /* the manifest is no catalogue: never answer it with a 304 */
        free(j->new_last_modified);
        j->new_etag = j->new_last_modified = NULL;
        job_ewp_manifest(j, resp);
        break;
    case EWP_ROOT_REPLICATION:
        job_fail(j, "the feed URL serves a course replication list, which needs the Courses API "
                    "as well: register the partner's discovery manifest URL instead");
        break;
    default:
        job_store_ewp(j, resp); /* a Courses answer, or a clear error why not */
        break;
    }
}

static void job_fetched(const struct client_response *resp, void *arg)
{
    struct job *j = arg;
    char what[300];

    j->fetch = NULL;
    j->http_status = resp->status;
    j->bytes += resp->body_len;
    if (resp->result != CLIENT_OK) {
        snprintf(what, sizeof(what), "%s (%s)", resp->error, client_result_name(resp->result));
        job_fail(j, "fetching the feed failed: %s", what);
        return;
    }
    if (resp->status == 304) {
        job_record(j);
        return;
    }
    if (resp->status != 200) {
        snprintf(what, sizeof(what), "%ld", resp->status);
        job_fail(j, "the feed answered HTTP %s", what);
        return;
    }
    if (j->stage == FETCH_EWP_LIST) {
        job_ewp_list(j, resp);
        return;
    }
    if (j->stage == FETCH_EWP_COURSES) {
        job_ewp_batch(j, resp);
        return;
    }
    if (strcmp(j->format, "mcx") == 0) {
        job_mcx_page(j, resp);
        return;
    }
    j->new_etag = dup_or_null(client_response_header(resp, "ETag"));
    j->new_last_modified = dup_or_null(client_response_header(resp, "Last-Modified"));
    if (strcmp(j->format, "loq") == 0)
        job_store_loq(j, resp);
    else if (strcmp(j->format, "ewp") == 0)
        job_ewp_feed(j, resp);
    else if (strcmp(j->format, "elm") == 0)
        job_store_elm(j, resp);
    else
        job_fail(j, "harvesting format %s is not supported by this node", j->format);
}

/*
 * Signs a request to url with the node key (EWP HTTP Signatures: (request-target),
 * host, date, digest, x-request-id), so a partner can tell which node asks.
 */
static int job_sign(const char *url, const struct mcxd *app, struct httpsig_signed *out)
{
    const char *scheme_end = strstr(url, "://");
    const char *host, *slash;
    char hostbuf[256];
    struct mcx_error err;

    if (scheme_end == NULL)
        return -1;
    host = scheme_end + 3;
    slash = strchr(host, '/');
    size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
    if (hlen == 0 || hlen >= sizeof(hostbuf))
        return -1;
    memcpy(hostbuf, host, hlen);
    hostbuf[hlen] = '\0';
    struct httpsig_sign_input in = {
        .method = "GET",
        .target = slash ? slash : "/",
        .host = hostbuf,
        .body = NULL,
        .body_len = 0,
        .request_id = NULL,
        .now = time(NULL),
    };
    if (httpsig_request_sign(&in, app->node_key, out, &err) != 0) {
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"cannot sign the feed request: %s\"}\n",
                err.message);
        return -1;
    }
    return 0;
}

/* Sends one request of the job (the feed, or one page of it). */
static void job_fetch(struct job *j, const char *url, bool conditional)
{
    struct harvester *h = j->h;
    struct client_request req;
    struct client_header hdr[6];
    struct httpsig_signed sig;
    bool is_signed = false;
    size_t nh = 0;

    if (conditional && j->etag != NULL)
        hdr[nh++] = (struct client_header){"If-None-Match", j->etag};
    if (conditional && j->last_modified != NULL)
        hdr[nh++] = (struct client_header){"If-Modified-Since", j->last_modified};
    client_request_init(&req, url);
    if (h->app->node_key != NULL && job_sign(url, h->app, &sig) == 0) {
        hdr[nh++] = (struct client_header){"Date", sig.date};
        hdr[nh++] = (struct client_header){"Digest", sig.digest};
        hdr[nh++] = (struct client_header){"X-Request-Id", sig.request_id};
        hdr[nh++] = (struct client_header){"Authorization", sig.authorization};
        req.max_redirects = 0; /* a signature must not travel to another host */
        is_signed = true;
    }
    req.headers = hdr;
    req.nheaders = nh;
    req.timeout_ms = h->cfg.timeout_ms;
    req.max_body = h->cfg.max_body;
    j->fetch = client_fetch(h->app->client, &req, job_fetched, j);
    if (is_signed)
        httpsig_signed_cleanup(&sig);
}

static void job_start(struct harvester *h, struct db_result *res, int row)
{
    struct job *j = xcalloc(1, sizeof(*j));
    long n;

    j->h = h;
    j->partner = xstrdup(db_result_value(res, row, 0));
    j->feed_url = xstrdup(db_result_value(res, row, 1));
    j->format = xstrdup(db_result_value(res, row, 2));
    j->etag = dup_or_null(db_result_value(res, row, 3));
    j->last_modified = dup_or_null(db_result_value(res, row, 4));
    j->interval_s = mcx_parse_int(db_result_value(res, row, 5), 1, 1L << 30, &n) == 0 ? n : 3600;
    j->failures = mcx_parse_int(db_result_value(res, row, 6), 0, 1L << 30, &n) == 0 ? (int)n : 0;
    j->since = dup_or_null(db_result_value(res, row, 7));
    buf_init(&j->keep);
    store_keep_begin(&j->keep);
    now_rfc3339(j->started);
    j->next = h->jobs;
    if (h->jobs != NULL)
        h->jobs->prev = j;
    h->jobs = j;
    h->in_flight++;
    if (strcmp(j->format, "mcx") == 0)
        job_mcx_fetch_page(j);
    else
        job_fetch(j, j->feed_url, true);
}

/* ---- claiming ---- */

static const char claim_sql[] =
    "SELECT id, feed_url, format, coalesce(etag, ''), coalesce(last_modified, ''), interval_s, "
    "consecutive_failures, "
    /* a margin for changes committed late with an earlier time: they come again */
    "CASE WHEN last_full_at > now() - interval '1 day' THEN "
    "coalesce(to_char((modified_since - interval '2 minutes') AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '') ELSE '' END "
    "FROM partners_claim($1, $2::int, $3::int)";

static void claimed(struct db_result *res, const struct db_error *err, void *arg)
{
    struct harvester *h = arg;

    h->claim = NULL;
    if (err != NULL) {
        if (err->kind == DB_ERR_QUERY)
            fprintf(stderr, "{\"level\":\"error\",\"msg\":\"claiming partners failed: %s\"}\n",
                    err->message);
        return; /* the database is away: the next tick tries again */
    }
    for (int i = 0; i < db_result_rows(res); i++)
        job_start(h, res, i);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    struct harvester *h = arg;
    char limit[16], lease[16];

    (void)fd;
    (void)what;
    if (h->claim != NULL || h->in_flight >= h->cfg.concurrency)
        return;
    snprintf(limit, sizeof(limit), "%d", h->cfg.concurrency - h->in_flight);
    /* A lease longer than any run: a node that dies gives its partners back. */
    snprintf(lease, sizeof(lease), "%d", h->cfg.timeout_ms / 1000 + 300);
    const char *params[3] = {h->cfg.node, limit, lease};
    h->claim = db_query(h->app->pool, claim_sql, 3, params, claimed, h);
}

struct harvester *harvester_new(struct mcxd *app, const struct harvest_config *cfg)
{
    struct harvester *h = xcalloc(1, sizeof(*h));
    struct timeval tv = {cfg->tick_ms / 1000, (cfg->tick_ms % 1000) * 1000};

    h->app = app;
    h->cfg = *cfg;
    h->seed = (unsigned int)mcx_now_us() ^ (unsigned int)app->worker;
    h->tick = event_new(app->base, -1, EV_PERSIST, tick, h);
    event_add(h->tick, &tv);
    return h;
}

void harvester_kick(struct harvester *h)
{
    if (h != NULL)
        event_active(h->tick, EV_TIMEOUT, 0);
}

int harvester_in_flight(const struct harvester *h)
{
    return h != NULL ? h->in_flight : 0;
}

void harvester_free(struct harvester *h)
{
    if (h == NULL)
        return;
    event_free(h->tick);
    db_op_cancel(h->claim);
    while (h->jobs != NULL) {
        struct job *j = h->jobs;
        client_cancel(j->fetch);
        db_op_cancel(j->op);
        job_free(j);
    }
    free(h);
}
