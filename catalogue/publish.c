/*
 * publish.c — catalogue handlers. Each request is a struct pub that moves through
 * its steps (authenticate → parse → store → reply) from callbacks; every path
 * ends in exactly one reply, and a client that goes away cancels the pending
 * auth check or query. Parsing is pure (loq.c, ewp.c, elm.c; the two XML formats
 * are then read alike, as a struct store_doc); storing is one statement
 * (offers_put / offers_tombstone in schemas/sql/003_offers.sql), so a write is
 * atomic and its audit entries commit with it.
 */
#include "catalogue/publish.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalogue/elm.h"
#include "catalogue/events.h"
#include "catalogue/ewp.h"
#include "catalogue/loq.h"
#include "catalogue/offer.h"
#include "catalogue/offer_json.h"
#include "catalogue/sigauth.h"
#include "catalogue/store.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/mcxd.h"
#include "server/ops.h"
#include "server/router.h"

enum pub_format { FORMAT_LOQ, FORMAT_ELM, FORMAT_EWP };

/* Per format: offer_sources.format, the element one offer is, and its schema. */
static const struct {
    const char *source;
    const char *element;
    const char *schema;
} formats[] = {
    [FORMAT_LOQ] = {"loq", "learningOpportunity", "the LOQ schema"},
    [FORMAT_ELM] = {"elm", NULL, NULL},
    [FORMAT_EWP] = {"ewp", "learningOpportunitySpecification", "the EWP Courses schema"},
};

enum pub_kind { PUB_PUT, PUB_DELETE, PUB_BULK };

struct pub {
    struct http_request *req;
    struct mcxd *app;
    enum pub_kind kind;
    enum pub_format format;
    struct auth_op *auth;
    struct sigauth_op *sig;
    struct db_op *op;
    char actor[160];
    bool replace;
    struct loq_doc doc;
    bool has_doc;
    struct ewp_doc ewp;
    bool has_ewp;
    struct store_doc view; /* the items of doc or ewp, whichever was parsed */
    struct offer offer;    /* PUT of ELM JSON-LD */
    struct buf items;      /* offers_put's items */
    struct buf keep;       /* replace mode: every external id of the document */
    char sha[65];
};

/* ---- small pure helpers ---- */

/* The media type of a Content-Type or Accept element, lowercased, no parameters. */
static void media_type(const char *value, size_t n, char *out, size_t size)
{
    size_t i = 0;

    while (n > 0 && (*value == ' ' || *value == '\t'))
        value++, n--;
    for (; i + 1 < size && i < n && value[i] != ';' && value[i] != ' '; i++)
        out[i] = (char)tolower((unsigned char)value[i]);
    out[i] = '\0';
}

static int body_format(struct http_request *req, enum pub_format *fmt)
{
    const char *ct = http_request_header(req, "Content-Type");
    char type[64];

    if (ct == NULL)
        return -1;
    media_type(ct, strlen(ct), type, sizeof(type));
    if (strcmp(type, "application/xml") == 0 || strcmp(type, "text/xml") == 0) {
        *fmt = FORMAT_LOQ; /* or EWP: parse_xml reads the root, once authorised */
        return 0;
    }
    if (strcmp(type, "application/ld+json") == 0 || strcmp(type, "application/json") == 0) {
        *fmt = FORMAT_ELM;
        return 0;
    }
    return -1;
}

/* Accept negotiation for an offer: 0 JSON, 1 LOQ XML, 2 JSON-LD; highest q wins. */
static int accept_choice(const char *accept)
{
    static const char *types[] = {"application/json", "application/xml", "application/ld+json",
                                  "text/xml"};
    static const int choice[] = {0, 1, 2, 1};
    double best_q = -1;
    int best = 0;
    const char *p = accept;

    if (accept == NULL)
        return 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char type[64];
        double q = 1.0;
        const char *qp = memmem(p, n, ";q=", 3);
        media_type(p, n, type, sizeof(type));
        if (qp != NULL)
            q = strtod(qp + 3, NULL);
        for (size_t i = 0; i < MCX_ARRAY_LEN(types); i++)
            if (strcmp(type, types[i]) == 0 && q > 0 && q > best_q) { /* q=0: not acceptable */
                best_q = q;
                best = choice[i];
            }
        p = comma ? comma + 1 : p + n;
    }
    return best;
}

/* ---- lifecycle ---- */

static void pub_free(struct pub *p)
{
    store_doc_cleanup(&p->view);
    if (p->has_doc)
        loq_doc_cleanup(&p->doc);
    if (p->has_ewp)
        ewp_doc_cleanup(&p->ewp);
    offer_cleanup(&p->offer);
    buf_cleanup(&p->items);
    buf_cleanup(&p->keep);
    free(p);
}

static void pub_cancel(void *data)
{
    struct pub *p = data;

    auth_op_cancel(p->auth);
    sigauth_cancel(p->sig);
    db_op_cancel(p->op);
    pub_free(p);
}

/* Ends the request's async part: no more cancellation, state freed by caller. */
static struct http_request *pub_detach(struct pub *p)
{
    struct http_request *req = p->req;

    http_request_on_cancel(req, NULL, NULL);
    return req;
}

static void pub_fail_db(struct pub *p, const struct db_error *err)
{
    struct http_request *req = pub_detach(p);

    if (err->kind == DB_ERR_QUERY && strcmp(err->sqlstate, "23503") == 0)
        http_reply_error(req, 404, "not_found", "no institution %s", http_request_param(req, "id"));
    else
        ops_reply_db_error(req, err);
    pub_free(p);
}

/* ---- replies with item errors ---- */

static void reply_item_invalid(struct http_request *req, enum pub_format fmt,
                               const struct store_doc *sd, const struct store_doc_item *it)
{
    struct buf b;
    struct json_writer w;
    char message[128];

    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_key(&w, "error");
    json_object_begin(&w);
    json_kv_string(&w, "code", "validation_failed");
    snprintf(message, sizeof(message), "the learning opportunity does not validate against %s",
             formats[fmt].schema);
    json_kv_string(&w, "message", message);
    json_key(&w, "details");
    store_doc_item_errors_write(&w, sd, it);
    json_object_end(&w);
    json_kv_string(&w, "request_id", http_request_id(req));
    json_object_end(&w);
    http_reply_json(req, 422, &b);
}

static int parse_error_status(const struct mcx_error *err)
{
    if (strcmp(err->code, "malformed_xml") == 0 || strcmp(err->code, "malformed_json") == 0)
        return 400;
    if (strcmp(err->code, "too_large") == 0)
        return 413;
    if (strcmp(err->code, "internal") == 0)
        return 500;
    return 422;
}

/*
 * Parses an XML body into p->view: an EWP courses-response by its root, anything
 * else as LOQ (whose parser then says what is wrong with it).
 */
static int parse_xml(struct pub *p, const char *body, size_t len, struct mcx_error *err)
{
    struct loq_limits lim = {PUBLISH_MAX_CATALOGUE_BYTES, LOQ_MAX_DEPTH_DEFAULT};
    const size_t max = PUBLISH_MAX_CATALOGUE_BYTES;

    if (ewp_sniff_root(body, len) == EWP_ROOT_COURSES) {
        p->format = FORMAT_EWP;
        if (ewp_parse_courses(p->app->ewp, body, len, max, &p->ewp, err) != 0)
            return -1;
        p->has_ewp = true;
        /* the response names no institution: the URL's is the HEI */
        ewp_doc_set_provider(&p->ewp, http_request_param(p->req, "id"));
        store_doc_from_ewp(&p->view, &p->ewp);
        return 0;
    }
    if (loq_parse_limited(p->app->loq, body, len, &lim, &p->doc, err) != 0) {
        /* neither root: name both that are taken */
        if (strcmp(err->code, "unsupported_document") == 0)
            snprintf(err->message, sizeof(err->message),
                     "the root element is neither a LOQ Courses (namespace %s or %s) nor an EWP "
                     "courses-response (namespace %s)",
                     LOQ_NS_310, LOQ_NS_331, EWP_NS_COURSES);
        return -1;
    }
    p->has_doc = true;
    store_doc_from_loq(&p->view, &p->doc);
    return 0;
}

/* ---- PUT one offer ---- */

static void put_stored(struct db_result *res, const struct db_error *err, void *arg)
{
    struct pub *p = arg;
    struct http_request *req;
    struct buf b;

    p->op = NULL;
    if (err != NULL) {
        pub_fail_db(p, err);
        return;
    }
    req = pub_detach(p);
    buf_init(&b);
    const char *outcome = db_result_rows(res) > 0 ? db_result_value(res, 0, 0) : "";
    const char *api = db_result_rows(res) > 0 ? db_result_value(res, 0, 1) : NULL;
    buf_puts(&b, api ? api : "{}");
    http_reply_json(req, strcmp(outcome, "created") == 0 ? 201 : 200, &b);
    pub_free(p);
}

/* The offer of a PUT, once parsed: its external id must be the URL's. */
static const struct offer *put_offer(struct pub *p)
{
    struct http_request *req = p->req;
    const char *want = http_request_param(req, "external_id");
    const struct offer *o;

    if (p->format == FORMAT_ELM) {
        o = &p->offer;
    } else {
        if (p->view.nitems != 1) {
            http_reply_error(pub_detach(p), 422, "validation_failed",
                             "a PUT carries exactly one %s (found %zu); use POST "
                             "/api/v1/institutions/{id}/catalogue for more",
                             formats[p->format].element, p->view.nitems);
            return NULL;
        }
        if (!p->view.items[0].ok) {
            reply_item_invalid(pub_detach(p), p->format, &p->view, &p->view.items[0]);
            return NULL;
        }
        o = p->view.items[0].offer;
    }
    if (o->external_id == NULL || strcmp(o->external_id, want) != 0) {
        http_reply_error(pub_detach(p), 422, "external_id_mismatch",
                         "the document's external id '%s' is not the URL's '%s'",
                         o->external_id ? o->external_id : "", want);
        return NULL;
    }
    return o;
}

static int parse_body(struct pub *p)
{
    struct mcx_error err;
    size_t len;
    const char *body = http_request_body(p->req, &len);
    int rc;

    if (p->format == FORMAT_ELM)
        rc = elm_parse_offer(body, len, &p->offer, &err);
    else
        rc = parse_xml(p, body, len, &err);
    if (rc != 0) {
        http_reply_mcx_error(pub_detach(p), parse_error_status(&err), &err);
        return -1;
    }
    return 0;
}

static void put_store(struct pub *p)
{
    const struct offer *o = put_offer(p); /* NULL: it replied, p->req is gone */
    const char *params[6];
    const char *body;
    size_t len;

    if (o == NULL) {
        pub_free(p);
        return;
    }
    body = http_request_body(p->req, &len);
    store_items_begin(&p->items);
    store_item_append(&p->items, o);
    store_items_end(&p->items);
    params[0] = http_request_param(p->req, "id");
    params[1] = p->actor;
    params[2] = formats[p->format].source;
    params[3] = body;
    params[4] = p->sha;
    params[5] = p->items.data;
    p->op = db_query(p->app->pool, store_put_one_sql, 6, params, put_stored, p);
}

/* ---- POST a whole catalogue ---- */

static void bulk_report(struct pub *p, struct db_result *res, struct buf *out)
{
    struct store_counts c = {0, 0, 0};

    store_counts_add(&c, res);
    store_doc_report_write(&c, &p->view, out);
}

static void bulk_stored(struct db_result *res, const struct db_error *err, void *arg)
{
    struct pub *p = arg;
    struct buf b;

    p->op = NULL;
    if (err != NULL) {
        pub_fail_db(p, err);
        return;
    }
    buf_init(&b);
    bulk_report(p, res, &b);
    http_reply_json(pub_detach(p), 200, &b);
    pub_free(p);
}

static void bulk_store(struct pub *p)
{
    size_t len;
    const char *body = http_request_body(p->req, &len);
    const char *params[7];

    store_doc_reject_duplicates(&p->view);
    store_items_begin(&p->items);
    store_keep_begin(&p->keep);
    for (size_t i = 0; i < p->view.nitems; i++) {
        const struct store_doc_item *it = &p->view.items[i];
        if (it->external_id != NULL && it->external_id[0] != '\0')
            store_keep_append(&p->keep, it->external_id);
        if (!it->ok)
            continue;
        store_item_append(&p->items, it->offer);
    }
    store_items_end(&p->items);
    store_keep_end(&p->keep);
    /* Even with no valid offer the store runs: it answers 404 for an unknown
     * institution and, in replace mode, removes what the document lacks. */
    params[0] = http_request_param(p->req, "id");
    params[1] = p->actor;
    params[2] = formats[p->format].source;
    params[3] = body;
    params[4] = p->sha;
    params[5] = p->items.data;
    params[6] = p->keep.data;
    p->op = db_query(p->app->pool, p->replace ? store_replace_many_sql : store_put_many_sql,
                     p->replace ? 7 : 6, params, bulk_stored, p);
}

/* ---- DELETE ---- */

static void delete_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct pub *p = arg;
    struct http_request *req;

    p->op = NULL;
    if (err != NULL) {
        pub_fail_db(p, err);
        return;
    }
    req = pub_detach(p);
    if (db_result_rows(res) == 0)
        http_reply_error(req, 404, "not_found", "no live offer %s at %s",
                         http_request_param(req, "external_id"), http_request_param(req, "id"));
    else
        http_reply(req, 204, NULL, NULL, 0);
    pub_free(p);
}

static void delete_store(struct pub *p)
{
    const char *params[3] = {http_request_param(p->req, "id"), p->actor,
                             http_request_param(p->req, "external_id")};

    p->op = db_query(p->app->pool, store_delete_sql, 3, params, delete_done, p);
}

/* ---- the common front: authenticate, authorise, parse, store ---- */

static void pub_proceed(struct pub *p);

/* A bearer token (scripts, `mcx publish` peers) or a browser session with its CSRF
 * token (the publisher page): the caller must publish for the URL's institution. */
static void pub_authed(const struct auth_user *user, const struct auth_session *session, int status,
                       const char *message, void *arg)
{
    struct pub *p = arg;
    const char *inst = http_request_param(p->req, "id");

    (void)session;
    p->auth = NULL;
    if (user == NULL) {
        auth_reply_error(pub_detach(p), status, message);
        pub_free(p);
        return;
    }
    if (!auth_may_write_institution(user, inst)) {
        auth_reply_error(pub_detach(p), 403, "you may not publish for this institution");
        pub_free(p);
        return;
    }
    snprintf(p->actor, sizeof(p->actor), "user:%s", user->id);
    pub_proceed(p);
}

/* A signed push: the partner whose key signed it may write its own institution. */
static void pub_signed(const char *partner, int status, const char *code, const char *message,
                       void *arg)
{
    struct pub *p = arg;
    struct http_request *req;

    p->sig = NULL;
    if (partner == NULL) {
        req = pub_detach(p);
        if (status == 401)
            http_response_header(req, "WWW-Authenticate", "Signature");
        http_reply_error(req, status, code, "%s", message);
        pub_free(p);
        return;
    }
    if (strcmp(partner, http_request_param(p->req, "id")) != 0) {
        http_reply_error(pub_detach(p), 403, "forbidden",
                         "partner %s may publish only its own offers", partner);
        pub_free(p);
        return;
    }
    snprintf(p->actor, sizeof(p->actor), "partner:%s", partner);
    pub_proceed(p);
}

/* Authenticated and authorised: do the work. */
static void pub_proceed(struct pub *p)
{
    if (p->kind == PUB_DELETE) {
        delete_store(p);
        return;
    }
    if (parse_body(p) != 0) {
        pub_free(p);
        return;
    }
    if (p->kind == PUB_PUT)
        put_store(p);
    else
        bulk_store(p);
}

static struct pub *pub_new(struct http_request *req, struct mcxd *app, enum pub_kind kind)
{
    struct pub *p = xcalloc(1, sizeof(*p));

    p->req = req;
    p->app = app;
    p->kind = kind;
    offer_init(&p->offer);
    buf_init(&p->items);
    buf_init(&p->keep);
    return p;
}

/* Checks that need no database: media type and encoding. 0, or replied. */
static int pub_check_body(struct http_request *req, enum pub_format *fmt, bool xml_only)
{
    size_t len;
    const char *body = http_request_body(req, &len);

    if (body_format(req, fmt) != 0 || (xml_only && *fmt != FORMAT_LOQ)) {
        http_reply_error(req, 415, "unsupported_media_type",
                         xml_only ? "send a LOQ Courses document or an EWP courses-response as "
                                    "application/xml"
                                  : "send LOQ XML or an EWP courses-response as application/xml, "
                                    "or ELM JSON-LD as application/ld+json");
        return -1;
    }
    if (len == 0) {
        http_reply_error(req, 400, "empty_body", "the request has no document");
        return -1;
    }
    if (!utf8_is_valid(body, len)) {
        http_reply_error(req, 400, "invalid_utf8", "the document is not valid UTF-8");
        return -1;
    }
    return 0;
}

static void pub_start(struct http_request *req, struct mcxd *app, enum pub_kind kind,
                      enum pub_format fmt)
{
    struct pub *p = pub_new(req, app, kind);
    size_t len;
    const char *body = http_request_body(req, &len);

    p->format = fmt;
    if (kind != PUB_DELETE)
        store_sha256_hex(body, len, p->sha);
    if (kind == PUB_BULK) {
        const char *mode = http_request_query(req, "mode");
        if (mode != NULL && strcmp(mode, "replace") != 0 && strcmp(mode, "merge") != 0) {
            http_reply_error(req, 400, "invalid_parameter", "mode is merge or replace");
            pub_free(p);
            return;
        }
        p->replace = mode != NULL && strcmp(mode, "replace") == 0;
    }
    http_request_on_cancel(req, pub_cancel, p);
    if (sigauth_is_signed(req))
        p->sig = sigauth_begin(app, req, pub_signed, p);
    else
        p->auth = auth_request_begin(app->base, app->pool, req, pub_authed, p);
}

static void handle_put(struct http_request *req, void *arg)
{
    enum pub_format fmt;

    if (pub_check_body(req, &fmt, false) == 0)
        pub_start(req, arg, PUB_PUT, fmt);
}

static void handle_bulk(struct http_request *req, void *arg)
{
    enum pub_format fmt;

    if (pub_check_body(req, &fmt, true) == 0)
        pub_start(req, arg, PUB_BULK, fmt);
}

static void handle_delete(struct http_request *req, void *arg)
{
    pub_start(req, arg, PUB_DELETE, FORMAT_LOQ);
}

/* ---- reads ---- */

struct read {
    struct http_request *req;
    struct mcxd *app;
    struct db_op *op;
    int choice;
};

static void read_cancel(void *data)
{
    struct read *r = data;

    db_op_cancel(r->op);
    free(r);
}

/* The offer as LOQ XML or JSON-LD into b: its media type, or NULL if it cannot be read. */
static const char *export_offer(int choice, const char *doc, struct buf *b)
{
    struct offer o;
    struct mcx_error err;
    const struct offer *list[1] = {&o};

    offer_init(&o);
    if (offer_read_json(doc, strlen(doc), &o, &err) != 0) {
        offer_cleanup(&o);
        return NULL;
    }
    if (choice == 1)
        loq_export(list, 1, LOQ_VERSION_310, b);
    else
        elm_export_offer(&o, NULL, b);
    offer_cleanup(&o);
    return choice == 1 ? "application/xml; charset=utf-8" : "application/ld+json";
}

/* A found offer (columns: API JSON, doc, id, institution): the reply, counted as a view. */
static void reply_offer(struct read *r, struct http_request *req, struct db_result *res)
{
    static const char *const as[] = {"json", "xml", "jsonld"};
    const char *ctype = "application/json";
    char visitor[EVENTS_VISITOR_SIZE];
    struct buf b;

    buf_init(&b);
    if (r->choice == 0) {
        buf_puts(&b, db_result_value(res, 0, 0));
    } else if ((ctype = export_offer(r->choice, db_result_value(res, 0, 1), &b)) == NULL) {
        buf_cleanup(&b);
        http_reply_error(req, 500, "internal_error", "the stored offer cannot be read");
        return;
    }
    http_response_header(req, "Vary", "Accept");
    if (events_visitor(r->app->events, req, visitor))
        http_response_header(req, "Cache-Control", "private"); /* it sets this client's id */
    events_view(r->app->events, req, visitor, db_result_value(res, 0, 2),
                db_result_value(res, 0, 3), as[r->choice]);
    http_reply_buf(req, 200, ctype, &b);
}

static void read_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct read *r = arg;
    struct http_request *req = r->req;

    http_request_on_cancel(req, NULL, NULL);
    if (err != NULL)
        ops_reply_db_error(req, err);
    else if (db_result_rows(res) == 0)
        http_reply_error(req, 404, "not_found", "no offer at %s", http_request_path(req));
    else
        reply_offer(r, req, res);
    free(r);
}

static void read_start(struct http_request *req, struct mcxd *app, const char *sql, int n,
                       const char *const *params)
{
    struct read *r = xcalloc(1, sizeof(*r));

    r->req = req;
    r->app = app;
    r->choice = accept_choice(http_request_header(req, "Accept"));
    http_request_on_cancel(req, read_cancel, r);
    r->op = db_query(app->pool, sql, n, params, read_done, r);
}

/* ?home=ID: the offer carries what it gives at ID ("recognition"); NULL when absent,
 * false after a 400. */
static bool home_param(struct http_request *req, const char **home)
{
    *home = http_request_query(req, "home");
    if (*home == NULL || mcx_institution_id_is_valid(*home))
        return true;
    http_reply_error(req, 400, "invalid_parameter",
                     "home must be an institution id such as vdu.lt");
    return false;
}

static void handle_get_by_external(struct http_request *req, void *arg)
{
    const char *params[3] = {http_request_param(req, "id"), http_request_param(req, "external_id"),
                             NULL};

    if (!home_param(req, &params[2]))
        return;
    read_start(req, arg,
               "SELECT offers_api_json(o.id, $3), o.doc, o.id, o.institution_id FROM offers o "
               "WHERE o.institution_id = $1 AND o.external_id = $2 AND o.deleted_at IS NULL",
               3, params);
}

static void handle_get_by_id(struct http_request *req, void *arg)
{
    const char *params[2] = {http_request_param(req, "id"), NULL};

    if (!auth_uuid_is_valid(params[0])) {
        http_reply_error(req, 404, "not_found", "no offer at %s", http_request_path(req));
        return;
    }
    if (!home_param(req, &params[1]))
        return;
    read_start(req, arg,
               "SELECT offers_api_json(o.id, $2), o.doc, o.id, o.institution_id FROM offers o "
               "WHERE o.id = $1::uuid AND o.deleted_at IS NULL",
               2, params);
}

/* Institutions: a list, or one (404 if unknown). */
static const char institutions_sql[] =
    "SELECT coalesce(jsonb_agg(jsonb_build_object("
    "  'id', i.id, 'name', coalesce(i.name->>'en', (SELECT value FROM jsonb_each_text(i.name) "
    "  LIMIT 1)), 'names', i.name, 'country', i.country, 'home', i.is_home, "
    "  'homepage', i.homepage, 'logo_url', i.logo_url, "
    "  'offers', (SELECT count(*) FROM offers o WHERE o.institution_id = i.id "
    "             AND o.deleted_at IS NULL)) ORDER BY i.id), '[]'::jsonb)::text "
    "FROM institutions i WHERE $1::text IS NULL OR i.id = $1";

struct inst_read {
    struct http_request *req;
    struct db_op *op;
    bool one;
};

static void inst_cancel(void *data)
{
    struct inst_read *r = data;

    db_op_cancel(r->op);
    free(r);
}

static void inst_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct inst_read *r = arg;
    struct http_request *req = r->req;
    const char *list;
    struct buf b;

    http_request_on_cancel(req, NULL, NULL);
    buf_init(&b);
    if (err != NULL) {
        ops_reply_db_error(req, err);
    } else {
        list = db_result_value(res, 0, 0);
        if (!r->one) {
            buf_printf(&b, "{\"items\":%s}", list);
            http_reply_json(req, 200, &b);
        } else if (strcmp(list, "[]") == 0) {
            http_reply_error(req, 404, "not_found", "no institution %s",
                             http_request_param(req, "id"));
        } else {
            /* one element: strip the array brackets */
            buf_append(&b, list + 1, strlen(list) - 2);
            http_reply_json(req, 200, &b);
        }
    }
    buf_cleanup(&b);
    free(r);
}

static void inst_start(struct http_request *req, struct mcxd *app, const char *id)
{
    struct inst_read *r = xcalloc(1, sizeof(*r));
    const char *params[1] = {id};

    r->req = req;
    r->one = id != NULL;
    http_request_on_cancel(req, inst_cancel, r);
    r->op = db_query(app->pool, institutions_sql, 1, params, inst_done, r);
}

static void handle_institutions(struct http_request *req, void *arg)
{
    inst_start(req, arg, NULL);
}

static void handle_institution(struct http_request *req, void *arg)
{
    inst_start(req, arg, http_request_param(req, "id"));
}

void publish_routes_add(struct mcxd *app)
{
    struct router *r = app->router;

    router_add(r, HTTP_GET, "/api/v1/institutions", handle_institutions, app, 0);
    router_add(r, HTTP_GET, "/api/v1/institutions/{id}", handle_institution, app, 0);
    router_add(r, HTTP_GET, "/api/v1/offers/{id}", handle_get_by_id, app, 0);
    router_add(r, HTTP_GET, "/api/v1/institutions/{id}/offers/{external_id}",
               handle_get_by_external, app, 0);
    router_add(r, HTTP_PUT, "/api/v1/institutions/{id}/offers/{external_id}", handle_put, app, 0);
    router_add(r, HTTP_DELETE, "/api/v1/institutions/{id}/offers/{external_id}", handle_delete, app,
               0);
    router_add(r, HTTP_POST, "/api/v1/institutions/{id}/catalogue", handle_bulk, app,
               PUBLISH_MAX_CATALOGUE_BYTES);
}
