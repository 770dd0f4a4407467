/*
 * feeds.c — feed handlers. A feed holds the offers published here (not the ones
 * harvested from partners: those are their partners' to publish). Its ETag is a
 * digest of (count, newest change, version sum), computed by one cheap query
 * before anything is built, so an unchanged feed costs a 304 and no export.
 */
#include "catalogue/feeds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalogue/loq.h"
#include "catalogue/offer.h"
#include "catalogue/offer_json.h"
#include "catalogue/sigauth.h"
#include "catalogue/store.h"
#include "server/db.h"
#include "server/http.h"
#include "server/mcxd.h"
#include "server/ops.h"
#include "server/router.h"

/* Offers read and written per step: memory holds one page, never the feed. */
#define FEED_PAGE 500
#define FEED_PAGE_S "500"

/* $1: one institution, or NULL for every home institution. */
#define FEED_SCOPE                                                                                 \
    "o.partner_id IS NULL AND (CASE WHEN $1::text IS NULL THEN o.institution_id IN "               \
    "(SELECT id FROM institutions WHERE is_home) ELSE o.institution_id = $1 END)"

static const char state_sql[] =
    "SELECT (SELECT count(*) FROM institutions WHERE $1::text IS NULL OR id = $1), "
    "count(*) FILTER (WHERE o.deleted_at IS NULL), coalesce(sum(o.version), 0), "
    "to_char(max(o.updated_at) AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS \"GMT\"'), "
    "coalesce(max(o.updated_at)::text, ''), "
    "coalesce(floor(extract(epoch FROM max(o.updated_at)))::bigint, 0) FROM offers o "
    "WHERE " FEED_SCOPE;

/* One page of the feed, in a stable order; $2/$3: the last (institution, external id). */
static const char docs_sql[] =
    "SELECT o.doc::text, o.institution_id, o.external_id FROM offers o WHERE " FEED_SCOPE
    " AND o.deleted_at IS NULL AND ($2::text IS NULL OR (o.institution_id, o.external_id) > "
    "($2, $3)) ORDER BY o.institution_id, o.external_id LIMIT " FEED_PAGE_S;

struct feed {
    struct http_request *req;
    struct mcxd *app;
    struct db_op *op;
    struct sigauth_op *sig;
    const char *inst; /* NULL: the node's feed */
    char etag[80];
    struct loq_stream *stream;
    char *after_inst; /* keyset of the last page */
    char *after_ext;
};

static void feed_free(struct feed *f)
{
    loq_stream_free(f->stream);
    free(f->after_inst);
    free(f->after_ext);
    free(f);
}

static void feed_cancel(void *data)
{
    struct feed *f = data;

    db_op_cancel(f->op);
    sigauth_cancel(f->sig);
    feed_free(f);
}

/* The request leaves the feed's hands: call it before the reply, which ends the
 * request; the feed is freed by the caller after replying. */
static struct http_request *feed_detach(struct feed *f)
{
    http_request_on_cancel(f->req, NULL, NULL);
    return f->req;
}

static void feed_next_page(struct feed *f);

static void emit_piece(void *arg, const char *bytes, size_t len, int fd, size_t file_len)
{
    struct http_request *req = arg;

    if (fd < 0)
        http_reply_chunk(req, bytes, len);
    else
        http_reply_chunk_file(req, fd, file_len);
}

/* All pages written to the stream: send it, pieces from its files, chunked. */
static void feed_send(struct feed *f)
{
    struct http_request *req = feed_detach(f);

    http_reply_start(req, 200, "application/xml; charset=utf-8");
    if (loq_stream_finish(f->stream, emit_piece, req) != 0)
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"feed export failed\"}\n");
    http_reply_end(req);
    feed_free(f);
}

static void feed_docs(struct db_result *res, const struct db_error *err, void *arg)
{
    struct feed *f = arg;
    int n = err ? 0 : db_result_rows(res);
    struct offer *offers = xcalloc((size_t)n + 1, sizeof(struct offer));
    const struct offer **list = xcalloc((size_t)n + 1, sizeof(struct offer *));
    struct mcx_error perr;
    int kept = 0, rc = 0;

    f->op = NULL;
    if (err != NULL) {
        ops_reply_db_error(feed_detach(f), err);
        free(offers);
        free(list);
        feed_free(f);
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *doc = db_result_value(res, i, 0);
        offer_init(&offers[kept]);
        if (offer_read_json(doc, strlen(doc), &offers[kept], &perr) == 0)
            list[kept] = &offers[kept], kept++;
        else
            offer_cleanup(&offers[kept]);
    }
    if (kept > 0)
        rc = loq_stream_add(f->stream, list, (size_t)kept);
    for (int i = 0; i < kept; i++)
        offer_cleanup(&offers[i]);
    free(offers);
    free(list);
    if (rc != 0) {
        http_reply_error(feed_detach(f), 503, "feed_unavailable",
                         "the feed could not be written (temporary storage)");
        feed_free(f);
    } else if (n == FEED_PAGE) {
        free(f->after_inst);
        free(f->after_ext);
        f->after_inst = xstrdup(db_result_value(res, n - 1, 1));
        f->after_ext = xstrdup(db_result_value(res, n - 1, 2));
        feed_next_page(f);
    } else {
        feed_send(f);
    }
}

static void feed_next_page(struct feed *f)
{
    const char *params[3] = {f->inst, f->after_inst, f->after_ext};

    f->op = db_query(f->app->pool, docs_sql, 3, params, feed_docs, f);
}

static bool etag_matches(const char *inm, const char *etag)
{
    return inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

/* RFC 9110 §13.1.3: only without If-None-Match; an unparsable date is ignored. */
static bool not_modified_since(const char *ims, const char *newest_epoch)
{
    struct tm tm;
    long newest;
    const char *end;

    if (ims == NULL || mcx_parse_int(newest_epoch, 0, 1L << 40, &newest) != 0)
        return false;
    memset(&tm, 0, sizeof(tm));
    end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return false;
    return newest > 0 && (long)timegm(&tm) >= newest;
}

static void feed_state(struct db_result *res, const struct db_error *err, void *arg)
{
    struct feed *f = arg;
    struct http_request *req = f->req;
    char digest[65];
    struct buf key;

    f->op = NULL;
    if (err != NULL) {
        ops_reply_db_error(feed_detach(f), err);
        feed_free(f);
        return;
    }
    if (f->inst != NULL && strcmp(db_result_value(res, 0, 0), "0") == 0) {
        http_reply_error(feed_detach(f), 404, "not_found", "no institution %s", f->inst);
        feed_free(f);
        return;
    }
    buf_init(&key);
    buf_printf(&key, "%s|%s|%s|%s", f->inst ? f->inst : "*", db_result_value(res, 0, 1),
               db_result_value(res, 0, 2), db_result_value(res, 0, 4));
    store_sha256_hex(key.data, key.len, digest);
    buf_cleanup(&key);
    snprintf(f->etag, sizeof(f->etag), "\"%.32s\"", digest);
    http_response_header(req, "ETag", f->etag);
    http_response_header(req, "Cache-Control", "no-cache");
    if (!db_result_is_null(res, 0, 3))
        http_response_header(req, "Last-Modified", db_result_value(res, 0, 3));
    const char *inm = http_request_header(req, "If-None-Match");
    if (etag_matches(inm, f->etag) ||
        (inm == NULL && not_modified_since(http_request_header(req, "If-Modified-Since"),
                                           db_result_value(res, 0, 5)))) {
        http_reply(feed_detach(f), 304, NULL, NULL, 0);
        feed_free(f);
        return;
    }
    f->stream = loq_stream_new(LOQ_VERSION_310);
    if (f->stream == NULL) {
        http_reply_error(feed_detach(f), 503, "feed_unavailable",
                         "no temporary storage to write the feed");
        feed_free(f);
        return;
    }
    feed_next_page(f);
}

static void feed_query(struct feed *f)
{
    const char *params[1] = {f->inst};

    f->op = db_query(f->app->pool, state_sql, 1, params, feed_state, f);
}

/* Feeds are public, but a signed request must carry a valid signature: a partner
 * node that signs expects its identity to be checked (EWP cliauth). */
static void feed_signed(const char *partner, int status, const char *code, const char *message,
                        void *arg)
{
    struct feed *f = arg;
    struct http_request *req;

    f->sig = NULL;
    if (partner != NULL) {
        feed_query(f);
        return;
    }
    req = feed_detach(f);
    if (status == 401)
        http_response_header(req, "WWW-Authenticate", "Signature");
    http_reply_error(req, status, code, "%s", message);
    feed_free(f);
}

static void feed_start(struct http_request *req, struct mcxd *app, const char *inst)
{
    struct feed *f = xcalloc(1, sizeof(*f));

    f->req = req;
    f->app = app;
    f->inst = inst;
    http_request_on_cancel(req, feed_cancel, f);
    if (sigauth_is_signed(req))
        f->sig = sigauth_begin(app, req, feed_signed, f);
    else
        feed_query(f);
}

static void handle_node_feed(struct http_request *req, void *arg)
{
    feed_start(req, arg, NULL);
}

static void handle_institution_feed(struct http_request *req, void *arg)
{
    feed_start(req, arg, http_request_param(req, "id"));
}

/* ---- replication ---- */

/*
 * Offers changed after modified_since (all when absent), oldest change first, with
 * tombstones, harvested ones included (with their partner, so a peer can skip what
 * it published itself); at most `limit` per page and `next` to continue from (the keyset of
 * the last one). Peers then fetch the offers they lack by id, or ask for them inline
 * (include=doc: each live offer's stored document, what an mcx peer stores as is).
 * $5: one institution (NULL: all; an unknown one gives NULL: 404), $6: include docs.
 */
static const char replication_sql[] =
    "WITH page AS (SELECT o.id, o.institution_id, o.external_id, o.version, o.updated_at, "
    "  o.deleted_at IS NOT NULL AS deleted, o.partner_id, "
    "  CASE WHEN $6::boolean AND o.deleted_at IS NULL THEN o.doc END AS doc FROM offers o "
    "  WHERE ($1::timestamptz IS NULL OR o.updated_at > $1) "
    "    AND ($2::timestamptz IS NULL OR (o.updated_at, o.id) > ($2, $3::uuid)) "
    "    AND ($5::text IS NULL OR o.institution_id = $5) "
    "  ORDER BY o.updated_at, o.id LIMIT $4::int + 1) "
    "SELECT CASE WHEN $5::text IS NULL OR EXISTS (SELECT 1 FROM institutions WHERE id = $5) "
    "THEN jsonb_build_object('offers', coalesce((SELECT jsonb_agg(CASE WHEN p.doc IS NULL "
    "  THEN '{}'::jsonb ELSE jsonb_build_object('doc', p.doc) END || jsonb_build_object("
    "  'id', p.id::text, 'institution', p.institution_id, 'external_id', p.external_id, "
    "  'version', p.version, 'updated_at', "
    "  to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "  'deleted', p.deleted, 'partner', p.partner_id) ORDER BY p.updated_at, p.id) "
    "  FROM (SELECT * FROM page "
    "  ORDER BY updated_at, id LIMIT $4::int) p), '[]'), "
    "'next', CASE WHEN (SELECT count(*) FROM page) > $4::int THEN (SELECT "
    "  to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '~' || "
    "  p.id FROM (SELECT * FROM page ORDER BY updated_at, id LIMIT $4::int) p "
    "  ORDER BY p.updated_at DESC, p.id DESC LIMIT 1) END)::text END";

static void replication_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct feed *f = arg;
    struct http_request *req = feed_detach(f);
    struct buf b;

    f->op = NULL;
    if (err != NULL && err->kind == DB_ERR_QUERY && strncmp(err->sqlstate, "22", 2) == 0) {
        http_reply_error(req, 400, "invalid_parameter",
                         "modified_since and cursor must be RFC 3339 times (cursor: as given)");
    } else if (err != NULL) {
        ops_reply_db_error(req, err);
    } else if (db_result_is_null(res, 0, 0)) {
        http_reply_error(req, 404, "not_found", "no such institution on this node");
    } else {
        buf_init(&b);
        buf_puts(&b, db_result_value(res, 0, 0));
        http_reply_json(req, 200, &b);
    }
    feed_free(f);
}

/* RFC 3339 date-time, strictly: PostgreSQL alone would also take "yesterday". */
static bool is_rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0;

    for (; shape[i]; i++) {
        char c = s[i];
        if (shape[i] == 'd' ? !(c >= '0' && c <= '9')
                            : c != shape[i] && !(shape[i] == 'T' && c == 't'))
            return false;
    }
    if (s[i] == '.') {
        size_t digits = strspn(s + i + 1, "0123456789");
        if (digits == 0 || digits > 9)
            return false;
        i += 1 + digits;
    }
    if (s[i] == 'Z' || s[i] == 'z')
        return s[i + 1] == '\0';
    return (s[i] == '+' || s[i] == '-') && s[i + 1] >= '0' && s[i + 1] <= '9' && s[i + 2] >= '0' &&
           s[i + 2] <= '9' && s[i + 3] == ':' && s[i + 4] >= '0' && s[i + 4] <= '9' &&
           s[i + 5] >= '0' && s[i + 5] <= '9' && s[i + 6] == '\0';
}

static void handle_replication(struct http_request *req, void *arg)
{
    struct mcxd *app = arg;
    const char *since = http_request_query(req, "modified_since");
    const char *cursor = http_request_query(req, "cursor");
    const char *limit = http_request_query(req, "limit");
    const char *inst = http_request_query(req, "institution");
    const char *include = http_request_query(req, "include");
    char after[64] = "", after_id[64] = "";
    long n = 1000;
    struct feed *f;

    if (since != NULL && !is_rfc3339(since)) {
        http_reply_error(req, 400, "invalid_parameter",
                         "modified_since is an RFC 3339 time such as 2026-11-30T12:00:00Z");
        return;
    }
    if (limit != NULL && mcx_parse_int(limit, 1, 10000, &n) != 0) {
        http_reply_error(req, 400, "invalid_parameter", "limit is 1 to 10000");
        return;
    }
    if (include != NULL && strcmp(include, "doc") != 0) {
        http_reply_error(req, 400, "invalid_parameter", "include takes one value: doc");
        return;
    }
    if (inst != NULL && inst[0] == '\0') {
        http_reply_error(req, 400, "invalid_parameter", "institution is an institution id");
        return;
    }
    if (cursor != NULL) {
        const char *tilde = strchr(cursor, '~');
        if (tilde == NULL || (size_t)(tilde - cursor) >= sizeof(after) ||
            strlen(tilde + 1) >= sizeof(after_id)) {
            http_reply_error(req, 400, "invalid_parameter", "cursor is not one this node gave");
            return;
        }
        memcpy(after, cursor, (size_t)(tilde - cursor));
        after[tilde - cursor] = '\0';
        mcx_strlcpy(after_id, tilde + 1, sizeof(after_id));
        if (!is_rfc3339(after)) {
            http_reply_error(req, 400, "invalid_parameter", "cursor is not one this node gave");
            return;
        }
    }
    char nbuf[16];
    snprintf(nbuf, sizeof(nbuf), "%ld", n);
    const char *params[6] = {since,
                             cursor ? after : NULL,
                             cursor ? after_id : NULL,
                             nbuf,
                             inst,
                             include != NULL ? "true" : "false"};
    f = xcalloc(1, sizeof(*f));
    f->req = req;
    f->app = app;
    http_request_on_cancel(req, feed_cancel, f);
    f->op = db_query(app->pool, replication_sql, 6, params, replication_done, f);
}

void feeds_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_GET, "/feeds/loq.xml", handle_node_feed, app, 0);
    router_add(app->router, HTTP_GET, "/feeds/institutions/{id}/loq.xml", handle_institution_feed,
               app, 0);
    router_add(app->router, HTTP_GET, "/api/v1/replication/offers", handle_replication, app, 0);
}
