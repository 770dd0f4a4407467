/*
 * credentials.c — issuing (DESIGN §5 "Issuance"): the offer's credential template and
 * the institution's default one, one learner's credential with an idempotency key, a
 * Moodle gradebook import, the registry (list, CSV, one), revoke, reissue, and the
 * public /verify/{id}.
 * A credential is built here (issuance/builder.c) and stored with its outbox job
 * in one statement; the outbox (outbox.c) sends it. Re-sending the same key, or
 * re-importing the same file, finds the rows already there and queues nothing.
 *
 * Who may: a publisher for their institution's offers, an admin for any; the
 * verification page is public and shows the learner's name and nothing else.
 */
#include "issuance/credentials.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "issuance/builder.h"
#include "issuance/jades.h"
#include "issuance/moodle.h"
#include "issuance/outbox.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/router.h"
#include "server/static.h"

#define IMPORT_MAX_BODY (16 * 1024 * 1024)
#define IMPORT_MAX_ROWS 20000
#define REGISTRY_MAX 5000       /* JSON: the newest; `counts` tells how many match */
#define REGISTRY_CSV_MAX 100000 /* an export: everything an institution plausibly has */

/* ---- shared pieces ---- */

/* A new credential id (UUID v4 from the OS CSPRNG). */
static void new_uuid(char out[37])
{
    char hex[33];

    mcx_random_hex(hex);
    hex[12] = '4';                                                /* version 4 */
    hex[16] = "89ab"[strtol((char[]){hex[16], 0}, NULL, 16) & 3]; /* variant 10xx */
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void now_rfc3339(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Publishers issue for their institution; an admin for any; nobody else. */
static bool may_issue(struct api_call *c, const struct auth_user *u)
{
    if (strcmp(u->role, "admin") == 0 ||
        (strcmp(u->role, "publisher") == 0 && u->institution_id[0] != '\0'))
        return true;
    api_call_fail(c, 403, "forbidden",
                  "only a publisher of the offer's institution issues "
                  "credentials");
    return false;
}

/*
 * The offer as the builder reads it, its institution, and its template (the
 * offer's own, else the institution's default): $1 offer id.
 */
static const char offer_sql[] =
    "SELECT offers_api_json(o.id)::text, o.institution_id,"
    "  (SELECT t.content::text FROM credential_templates t"
    "    WHERE t.offer_id = o.id OR (t.offer_id IS NULL AND t.institution_id = o.institution_id)"
    "    ORDER BY t.offer_id IS NULL LIMIT 1)"
    " FROM offers o WHERE o.id = $1::uuid AND o.deleted_at IS NULL";

/* The offer row's checks: 404 unknown, 403 another institution's. False after replying. */
static bool offer_ok(struct api_call *c, const struct auth_user *u, struct db_result *res,
                     const char *offer_id)
{
    if (db_result_rows(res) != 1) {
        api_call_fail(c, 404, "not_found", "no offer %s", offer_id);
        return false;
    }
    if (strcmp(u->role, "admin") != 0 &&
        strcmp(db_result_value(res, 0, 1), u->institution_id) != 0) {
        api_call_fail(c, 403, "forbidden", "offer %s is not %s's", offer_id, u->institution_id);
        return false;
    }
    return true;
}

/*
 * A micro-credential carries every mandatory element of the Council Recommendation
 * (2022/C 243/02, Annex I): the offer's own, else its template's. False after a 422
 * that names what is missing and where to add it.
 */
static bool credential_complete(struct api_call *c, const char *offer_json,
                                const struct iss_template *t)
{
    const char *missing[ISS_COMPLETENESS_MAX];
    size_t n = iss_completeness(offer_json, t, missing, ISS_COMPLETENESS_MAX);
    struct buf names;

    if (n == 0)
        return true;
    buf_init(&names);
    for (size_t i = 0; i < n; i++)
        buf_printf(&names, "%s%s", i > 0 ? ", " : "", missing[i]);
    api_call_fail(c, 422, "validation_failed",
                  "the credential would lack mandatory elements: %s; add them to the offer's "
                  "credential template (or publish the offer with them)",
                  names.data);
    buf_cleanup(&names);
    return false;
}

struct built {
    char id[37];
    struct buf document;
};

/* Builds one credential: 0, or -1 with err. t may be NULL. */
static int build_one(const char *offer_json, const struct iss_template *t,
                     const struct iss_learner *l, const struct iss_result *r, const char *issued,
                     struct built *out, struct mcx_error *err)
{
    char urn[48];

    new_uuid(out->id);
    snprintf(urn, sizeof(urn), "urn:uuid:%s", out->id);
    buf_init(&out->document);
    struct iss_build b = {urn, offer_json, t, l, r, issued};
    if (iss_build_credential(&b, &out->document, err) != 0) {
        buf_cleanup(&out->document);
        return -1;
    }
    return 0;
}

/*
 * Inserts credentials and their outbox jobs, skipping idempotency keys already
 * issued by the institution: $1 institution, $2 actor, $3 offer, $4 a JSON array of
 * {id, key, learner, name, email, result, title, document}, $5 the import's batch
 * id (NULL for one credential). Returns a row per item:
 * key, the credential's id, true when it is new (queued now).
 */
static const char insert_sql[] =
    "WITH items AS (SELECT * FROM jsonb_to_recordset($4::jsonb) AS x(id uuid, key text,"
    "   learner jsonb, name text, email text, result jsonb, title text, document text)),"
    " ins AS (INSERT INTO credentials (id, institution_id, offer_id, idempotency_key, learner,"
    "   learner_name, learner_email, result, title, document, state, created_by, batch)"
    "  SELECT id, $1, $3::uuid, key, learner, name, email, result, title, document, 'queued', $2,"
    "   $5::uuid"
    "  FROM items ON CONFLICT (institution_id, idempotency_key) DO NOTHING RETURNING *),"
    " job AS (INSERT INTO outbox (credential_id) SELECT id FROM ins),"
    " aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, details)"
    "  SELECT $2, 'issue', 'credential', ins.id::text, jsonb_build_object('offer_id', $3)"
    "  FROM ins)"
    " SELECT i.key, coalesce(ins.id, c.id)::text, ins.id IS NOT NULL,"
    "  (CASE WHEN ins.id IS NOT NULL THEN credentials_api_json(ins::credentials)"
    "   ELSE credentials_api_json(c) END)::text"
    " FROM items i LEFT JOIN ins ON ins.idempotency_key = i.key"
    " LEFT JOIN credentials c ON c.institution_id = $1 AND c.idempotency_key = i.key";

/* One item of insert_sql's array. */
static void item_json(struct json_writer *w, const struct built *b, const char *key,
                      const struct iss_learner *l, const struct iss_result *r, const char *title)
{
    char name[600];

    snprintf(name, sizeof(name), "%s%s%s", l->given_name ? l->given_name : "",
             l->given_name && l->family_name ? " " : "", l->family_name ? l->family_name : "");
    json_object_begin(w);
    json_kv_string(w, "id", b->id);
    json_kv_string(w, "key", key);
    json_key(w, "learner");
    json_object_begin(w);
    json_kv_string(w, "given_name", l->given_name);
    json_kv_string(w, "family_name", l->family_name);
    json_kv_string(w, "email", l->email);
    json_kv_string(w, "date_of_birth", l->date_of_birth);
    json_object_end(w);
    json_kv_string(w, "name", name);
    json_kv_string(w, "email", l->email);
    json_key(w, "result");
    json_object_begin(w);
    json_kv_string(w, "grade", r->grade);
    json_key(w, "ects");
    if (r->has_ects)
        json_double(w, r->ects);
    else
        json_null(w);
    json_kv_string(w, "date", r->date);
    json_object_end(w);
    json_kv_string(w, "title", title);
    json_kv_string(w, "document", b->document.data);
    json_object_end(w);
}

/* The offer's title for the registry: English, else the first. */
static char *offer_title(const char *offer_json)
{
    struct mcx_error err;
    struct json_value *v = json_parse(offer_json, strlen(offer_json), 64, &err);
    const struct json_value *t = v != NULL ? json_object_get(v, "title") : NULL;
    const char *s = NULL;
    char *out;

    if (t != NULL && json_is_object(t)) {
        s = json_string_value(json_object_get(t, "en"), NULL);
        if (s == NULL && json_object_len(t) > 0)
            s = json_string_value(json_object_value_at(t, 0), NULL);
    }
    out = xstrdup(s != NULL ? s : "Micro-credential");
    json_value_free(v);
    return out;
}

/*
 * The template of the offer row (column 0 the offer, column 2 its template), parsed,
 * and the credential they make checked complete. False after a 500 (a stored template
 * that does not read) or a 422 (credential_complete), with t cleaned up.
 */
static bool issuable_template(struct api_call *c, struct db_result *res, struct iss_template *t,
                              bool *has)
{
    struct mcx_error err;

    iss_template_init(t);
    *has = !db_result_is_null(res, 0, 2);
    if (*has) {
        const char *text = db_result_value(res, 0, 2);
        if (iss_template_parse(text, strlen(text), t, &err) != 0) {
            iss_template_cleanup(t);
            api_call_fail(c, 500, "internal_error", "the stored template does not read: %s",
                          err.message);
            return false;
        }
    }
    if (!credential_complete(c, db_result_value(res, 0, 0), *has ? t : NULL)) {
        iss_template_cleanup(t);
        return false;
    }
    return true;
}

/* ---- POST /api/v1/credentials ---- */

struct single {
    char offer_id[37], key[201], actor[64], user_inst[128], role[16], inst[128];
    char *given, *family, *email, *dob, *grade, *date;
    double ects;
    bool has_ects;
};

static void single_free(void *data)
{
    struct single *s = data;

    free(s->given);
    free(s->family);
    free(s->email);
    free(s->dob);
    free(s->grade);
    free(s->date);
    free(s);
}

/* An optional string member copied (1..max bytes, no control characters); false with err. */
static bool take_string(const struct json_value *obj, const char *key, size_t max, char **out,
                        const char *path, struct mcx_error *err)
{
    const struct json_value *v = obj != NULL ? json_object_get(obj, key) : NULL;
    const char *s;
    size_t len;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    s = json_string_value(v, &len);
    bool ok = s != NULL && len > 0 && len <= max && strlen(s) == len;
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)s[i] >= 0x20;
    if (!ok) {
        mcx_error_set(err, "validation_failed", "%s%s: a string of 1 to %zu characters", path, key,
                      max);
        return false;
    }
    *out = xstrdup(s);
    return true;
}

static int single_read(struct single *s, const char *body, size_t len, struct mcx_error *err)
{
    struct json_value *v = json_parse(body, len, 8, err);
    const struct json_value *learner, *result, *ects;
    char *offer = NULL, *key = NULL;
    int rc = 422;

    if (v == NULL)
        return 400;
    if (!json_is_object(v)) {
        mcx_error_set(err, "malformed_json", "the body is not a JSON object");
        json_value_free(v);
        return 400;
    }
    learner = json_object_get(v, "learner");
    result = json_object_get(v, "result");
    if (!take_string(v, "offer_id", 36, &offer, "", err) || offer == NULL ||
        !auth_uuid_is_valid(offer)) {
        mcx_error_set(err, "validation_failed", "offer_id: the offer's id (a UUID)");
    } else if (!take_string(v, "idempotency_key", 200, &key, "", err) || key == NULL) {
        mcx_error_set(err, "validation_failed",
                      "idempotency_key: 1 to 200 characters naming this issuance once");
    } else if (learner == NULL || !json_is_object(learner)) {
        mcx_error_set(err, "validation_failed", "learner: an object with the learner's names");
    } else if (!take_string(learner, "given_name", 200, &s->given, "learner.", err) ||
               !take_string(learner, "family_name", 200, &s->family, "learner.", err) ||
               !take_string(learner, "email", 254, &s->email, "learner.", err) ||
               !take_string(learner, "date_of_birth", 10, &s->dob, "learner.", err)) {
    } else if (s->given == NULL && s->family == NULL) {
        mcx_error_set(err, "validation_failed", "learner: given_name or family_name");
    } else if (s->email == NULL || !auth_email_is_valid(s->email)) {
        mcx_error_set(err, "validation_failed",
                      "learner.email: an e-mail address (the credential is delivered to it)");
    } else if (s->dob != NULL && !mcx_date_is_valid(s->dob)) {
        mcx_error_set(err, "validation_failed", "learner.date_of_birth: a date YYYY-MM-DD");
    } else if (result != NULL && !json_is_object(result)) {
        mcx_error_set(err, "validation_failed", "result: an object with grade, ects and date");
    } else if (!take_string(result, "grade", 64, &s->grade, "result.", err) ||
               !take_string(result, "date", 10, &s->date, "result.", err)) {
    } else if (s->date != NULL && !mcx_date_is_valid(s->date)) {
        mcx_error_set(err, "validation_failed", "result.date: a date YYYY-MM-DD");
    } else if ((ects = result ? json_object_get(result, "ects") : NULL) != NULL &&
               !json_is_null(ects) &&
               (json_number_double(ects, &s->ects) != 0 || !isfinite(s->ects) || s->ects < 0 ||
                s->ects > 300)) {
        mcx_error_set(err, "validation_failed", "result.ects: a number from 0 to 300");
    } else {
        s->has_ects = ects != NULL && !json_is_null(ects);
        mcx_strlcpy(s->offer_id, offer, sizeof(s->offer_id));
        mcx_strlcpy(s->key, key, sizeof(s->key));
        rc = 0;
    }
    free(offer);
    free(key);
    json_value_free(v);
    return rc;
}

static const char existing_one_sql[] =
    "SELECT CASE WHEN c.id IS NULL THEN 409 ELSE 200 END, coalesce(credentials_api_json(c)::text,"
    "  'another request with this idempotency key did not finish: send it again')"
    " FROM (SELECT 1) x LEFT JOIN credentials c ON c.institution_id = $1"
    "  AND c.idempotency_key = $2";

static void single_inserted(struct api_call *c, struct db_result *res)
{
    struct single *s = api_call_data(c);
    struct mcxd *app = api_call_app(c);
    bool is_new = strcmp(db_result_value(res, 0, 2), "t") == 0;
    struct buf b;

    if (!is_new && db_result_is_null(res, 0, 1)) {
        /* a concurrent request with the same key inserted it after this statement's
         * snapshot (ON CONFLICT waited for its commit): read it now */
        const char *params[2] = {s->inst, s->key};
        api_call_query(c, existing_one_sql, 2, params);
        return;
    }

    buf_init(&b);
    buf_puts(&b, db_result_value(res, 0, 3));
    if (is_new)
        outbox_kick(app->outbox);
    api_call_reply_json(c, is_new ? 202 : 200, &b);
}

static void single_offer(struct api_call *c, struct db_result *res)
{
    struct single *s = api_call_data(c);
    struct auth_user u = {0};
    struct iss_template t;
    bool has_t;
    struct mcx_error err;
    struct built b;
    char issued[32];

    mcx_strlcpy(u.role, s->role, sizeof(u.role));
    mcx_strlcpy(u.institution_id, s->user_inst, sizeof(u.institution_id));
    if (!offer_ok(c, &u, res, s->offer_id))
        return;
    if (!issuable_template(c, res, &t, &has_t))
        return;
    const char *offer_json = db_result_value(res, 0, 0);
    struct iss_learner l = {s->given, s->family, s->email, s->dob};
    struct iss_result r = {s->grade, s->ects, s->has_ects, s->date};
    now_rfc3339(issued);
    int rc = build_one(offer_json, has_t ? &t : NULL, &l, &r, issued, &b, &err);
    iss_template_cleanup(&t);
    if (rc != 0) {
        api_call_fail(c, 422, "validation_failed", "the credential cannot be built: %s",
                      err.message);
        return;
    }
    char *title = offer_title(offer_json);
    struct buf items;
    struct json_writer w;
    buf_init(&items);
    json_writer_init(&w, &items);
    json_array_begin(&w);
    item_json(&w, &b, s->key, &l, &r, title);
    json_array_end(&w);
    free(title);
    buf_cleanup(&b.document);
    mcx_strlcpy(s->inst, db_result_value(res, 0, 1), sizeof(s->inst));
    const char *params[5] = {s->inst, s->actor, s->offer_id, items.data, NULL};
    api_call_db(c, insert_sql, 5, params, single_inserted);
    buf_cleanup(&items);
}

static void single_authed(struct api_call *c, const struct auth_user *u)
{
    struct single *s = api_call_data(c);
    const char *body;
    size_t len;
    struct mcx_error err;
    int status;

    if (!may_issue(c, u) || !api_call_body(c, &body, &len))
        return;
    status = single_read(s, body, len, &err);
    if (status != 0) {
        api_call_fail(c, status, status == 400 ? "malformed_json" : "validation_failed", "%s",
                      err.message);
        return;
    }
    snprintf(s->actor, sizeof(s->actor), "user:%s", u->id);
    mcx_strlcpy(s->role, u->role, sizeof(s->role));
    mcx_strlcpy(s->user_inst, u->institution_id, sizeof(s->user_inst));
    const char *params[1] = {s->offer_id};
    api_call_db(c, offer_sql, 1, params, single_offer);
}

static void handle_issue(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, single_authed, xcalloc(1, sizeof(struct single)), single_free);
}

/* ---- POST /api/v1/credentials/import ---- */

struct import {
    char offer_id[37], actor[64], user_inst[128], role[16];
    char batch[37]; /* this import's credentials carry it (GET /api/v1/credentials?batch=) */
    bool dry_run;
    struct moodle_pass_rule pass;
    char pass_storage[MOODLE_PASS_STORAGE_SIZE];
    struct moodle_mapping map;
    char *body;
    size_t body_len;
    struct moodle_import imp;
    bool parsed;
};

static void import_free(void *data)
{
    struct import *im = data;

    if (im->parsed)
        moodle_import_cleanup(&im->imp);
    free(im->body);
    free(im);
}

/* The report: {"queued","skipped","dry_run","grade_column","rows":[{row,status,reason,id}]}.
 * ids: per row, the credential id (queued or already issued) or NULL. */
static void import_report(struct api_call *c, const char *const *ids, const bool *fresh)
{
    struct import *im = api_call_data(c);
    struct buf b;
    struct json_writer w;
    size_t queued = 0, skipped = 0;

    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    for (size_t i = 0; i < im->imp.nrows; i++) {
        const struct moodle_row *r = &im->imp.rows[i];
        if (r->status == MOODLE_ROW_OK && (fresh == NULL || fresh[i]))
            queued++;
        else
            skipped++;
    }
    json_kv_int(&w, "queued", (int64_t)queued);
    json_kv_int(&w, "skipped", (int64_t)skipped);
    json_kv_bool(&w, "dry_run", im->dry_run);
    if (!im->dry_run)
        json_kv_string(&w, "batch", im->batch);
    json_kv_string(&w, "grade_column", im->imp.grade_column);
    json_key(&w, "rows");
    json_array_begin(&w);
    for (size_t i = 0; i < im->imp.nrows; i++) {
        const struct moodle_row *r = &im->imp.rows[i];
        enum moodle_row_status st = r->status;
        if (st == MOODLE_ROW_OK && fresh != NULL && !fresh[i])
            st = MOODLE_ROW_ALREADY_ISSUED;
        const char *status = moodle_row_status_name(st);
        json_object_begin(&w);
        json_kv_int(&w, "row", (int64_t)r->row);
        json_kv_string(&w, "status", status);
        if (r->status != MOODLE_ROW_OK)
            json_kv_string(&w, "reason", r->reason);
        else if (fresh != NULL && !fresh[i])
            json_kv_string(&w, "reason",
                           "a credential was issued to this learner for this "
                           "offer before");
        json_kv_string(&w, "email", r->email);
        json_kv_string(&w, "credential_id", ids != NULL ? ids[i] : NULL);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
    api_call_reply_json(c, im->dry_run ? 200 : 201, &b);
}

static void import_inserted(struct api_call *c, struct db_result *res)
{
    struct import *im = api_call_data(c);
    const char **ids = xcalloc(im->imp.nrows + 1, sizeof(*ids));
    bool *fresh = xcalloc(im->imp.nrows + 1, sizeof(*fresh));
    int rows = db_result_rows(res);
    bool any = false;

    /* rows come back per item; items are the OK rows in file order, matched by key */
    for (size_t i = 0; i < im->imp.nrows; i++) {
        const struct moodle_row *r = &im->imp.rows[i];
        if (r->status != MOODLE_ROW_OK)
            continue;
        for (int k = 0; k < rows; k++)
            if (strcmp(db_result_value(res, k, 0), r->key) == 0) {
                /* fresh: queued now, or in a dry run, would be */
                fresh[i] = strcmp(db_result_value(res, k, 2), "t") == 0;
                ids[i] = fresh[i] && im->dry_run ? NULL : db_result_value(res, k, 1);
                any = any || (fresh[i] && !im->dry_run);
                break;
            }
    }
    if (any)
        outbox_kick(api_call_app(c)->outbox);
    import_report(c, ids, fresh);
    free(ids);
    free(fresh);
}

/* Dry run: which keys the institution already issued (nothing is written). */
static const char existing_sql[] =
    "SELECT k, c.id::text, c.id IS NULL FROM unnest($2::text[]) k"
    " LEFT JOIN credentials c ON c.institution_id = $1 AND c.idempotency_key = k";

static void import_offer(struct api_call *c, struct db_result *res)
{
    struct import *im = api_call_data(c);
    struct auth_user u = {0};
    struct iss_template t;
    bool has_t;
    struct mcx_error err;
    char issued[32];

    mcx_strlcpy(u.role, im->role, sizeof(u.role));
    mcx_strlcpy(u.institution_id, im->user_inst, sizeof(u.institution_id));
    if (!offer_ok(c, &u, res, im->offer_id))
        return;
    if (moodle_import_parse(im->body, im->body_len, im->offer_id, &im->map, &im->pass,
                            IMPORT_MAX_ROWS, &im->imp, &err) != 0) {
        api_call_fail(c, 422, "validation_failed", "%s", err.message);
        return;
    }
    im->parsed = true;
    free(im->body);
    im->body = NULL;
    if (!issuable_template(c, res, &t, &has_t))
        return;
    const char *offer_json = db_result_value(res, 0, 0);
    const char *inst = db_result_value(res, 0, 1);
    char *title = offer_title(offer_json);
    struct buf items, keys;
    struct json_writer w;
    buf_init(&items);
    buf_init(&keys);
    json_writer_init(&w, &items);
    json_array_begin(&w);
    buf_putc(&keys, '{');
    now_rfc3339(issued);
    char today[11];
    memcpy(today, issued, 10); /* a row without a completion date: awarded today */
    today[10] = '\0';
    for (size_t i = 0; i < im->imp.nrows; i++) {
        struct moodle_row *r = &im->imp.rows[i];
        if (r->status != MOODLE_ROW_OK)
            continue;
        struct iss_learner l = {r->given_name, r->family_name, r->email, NULL};
        struct iss_result rr = {r->grade, 0, false, r->date[0] ? r->date : today};
        struct built b;
        buf_printf(&keys, "%s%s", keys.len > 1 ? "," : "", r->key);
        if (im->dry_run)
            continue;
        if (build_one(offer_json, has_t ? &t : NULL, &l, &rr, issued, &b, &err) != 0) {
            r->status = MOODLE_ROW_INVALID;
            snprintf(r->reason, sizeof(r->reason), "the credential cannot be built: %.200s",
                     err.message);
            continue;
        }
        item_json(&w, &b, r->key, &l, &rr, title);
        buf_cleanup(&b.document);
    }
    json_array_end(&w);
    buf_putc(&keys, '}');
    free(title);
    iss_template_cleanup(&t);
    if (im->dry_run) {
        const char *params[2] = {inst, keys.data};
        api_call_db(c, existing_sql, 2, params, import_inserted);
    } else {
        new_uuid(im->batch);
        const char *params[5] = {inst, im->actor, im->offer_id, items.data, im->batch};
        api_call_db(c, insert_sql, 5, params, import_inserted);
    }
    buf_cleanup(&items);
    buf_cleanup(&keys);
}

/* Every '%' of a raw query string starts a %XX escape. */
static bool escapes_ok(const char *qs)
{
    for (const char *p = qs != NULL ? strchr(qs, '%') : NULL; p != NULL; p = strchr(p + 1, '%'))
        if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
            return false;
    return true;
}

static void import_authed(struct api_call *c, const struct auth_user *u)
{
    struct import *im = api_call_data(c);
    struct http_request *req = api_call_request(c);
    const char *offer = http_request_query(req, "offer_id");
    const char *pass = http_request_query(req, "pass_mark");
    const char *dry = http_request_query(req, "dry_run");
    const char *ct = http_request_header(req, "Content-Type");
    const char *body;
    size_t len;
    struct mcx_error err;

    if (!may_issue(c, u))
        return;
    if (!escapes_ok(http_request_query_string(req))) {
        /* a dropped pass_mark=60% would issue to everyone: refuse, never guess */
        api_call_fail(c, 400, "invalid_parameter",
                      "the query string has a bad %%-escape (write a %% sign as %%25, e.g. "
                      "pass_mark=60%%25)");
        return;
    }
    if (offer == NULL || !auth_uuid_is_valid(offer)) {
        api_call_fail(c, 400, "invalid_parameter", "offer_id: the offer's id (a UUID)");
        return;
    }
    if (dry != NULL && strcmp(dry, "1") != 0 && strcmp(dry, "true") != 0 && strcmp(dry, "0") != 0 &&
        strcmp(dry, "false") != 0) {
        api_call_fail(c, 400, "invalid_parameter", "dry_run: 1 or true (a preview), 0 or false");
        return;
    }
    if (ct == NULL || strncasecmp(ct, "text/csv", 8) != 0) {
        api_call_fail(c, 415, "unsupported_media_type",
                      "send the Moodle gradebook export as text/csv");
        return;
    }
    body = http_request_body(req, &len);
    if (len == 0) {
        api_call_fail(c, 400, "empty_body", "the request has no CSV file");
        return;
    }
    if (moodle_pass_rule_parse(pass != NULL ? pass : "", &im->pass, im->pass_storage,
                               sizeof(im->pass_storage), &err) != 0) {
        api_call_fail(c, 400, "invalid_parameter", "pass_mark: %s", err.message);
        return;
    }
    im->dry_run = dry != NULL && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0);
    im->map.grade = http_request_query(req, "grade_column");
    im->map.email = http_request_query(req, "email_column");
    im->map.given_name = http_request_query(req, "given_name_column");
    im->map.family_name = http_request_query(req, "family_name_column");
    im->map.id_number = http_request_query(req, "id_number_column");
    im->map.date = http_request_query(req, "date_column");
    mcx_strlcpy(im->offer_id, offer, sizeof(im->offer_id));
    snprintf(im->actor, sizeof(im->actor), "user:%s", u->id);
    mcx_strlcpy(im->role, u->role, sizeof(im->role));
    mcx_strlcpy(im->user_inst, u->institution_id, sizeof(im->user_inst));
    im->body = xmalloc(len + 1);
    memcpy(im->body, body, len);
    im->body[len] = '\0';
    im->body_len = len;
    const char *params[1] = {im->offer_id};
    api_call_db(c, offer_sql, 1, params, import_offer);
}

static void handle_import(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, import_authed, xcalloc(1, sizeof(struct import)), import_free);
}

/* ---- the registry ---- */

/* The registry's filter: $1 role, $2 institution, $3 offer, $5 learner (e-mail or
 * name part), $7 batch, $8 the institution asked for (an admin's choice); $4 state is
 * applied apart (the counts ignore it). */
#define REGISTRY_WHERE                                                                             \
    " ($1 = 'admin' OR c.institution_id = $2) AND ($8::text IS NULL OR c.institution_id = $8)"     \
    " AND ($3::uuid IS NULL OR c.offer_id = $3::uuid) AND ($7::uuid IS NULL OR c.batch = "         \
    "$7::uuid)"                                                                                    \
    " AND ($5::text IS NULL OR lower(c.learner_email) = lower($5)"                                 \
    "      OR c.learner_name ILIKE '%' || $5 || '%')"

/* $6 limit. items: newest first; counts: per state, over the filter without $4. */
static const char list_sql[] =
    "SELECT 200, json_build_object('items', coalesce((SELECT json_agg(credentials_api_json(c)"
    "  ORDER BY c.created_at DESC, c.id) FROM (SELECT * FROM credentials c WHERE" REGISTRY_WHERE
    "   AND ($4::text IS NULL OR c.state = $4) ORDER BY c.created_at DESC, c.id LIMIT $6::int) c),"
    "  '[]'), 'counts', (SELECT json_build_object('queued', count(*) FILTER (WHERE state = "
    "'queued'),"
    "  'sending', count(*) FILTER (WHERE state = 'sending'),"
    "  'delivered', count(*) FILTER (WHERE state = 'delivered'),"
    "  'failed', count(*) FILTER (WHERE state = 'failed'),"
    "  'revoked', count(*) FILTER (WHERE state = 'revoked'))"
    "  FROM credentials c WHERE" REGISTRY_WHERE "))::text";

static const char get_sql[] =
    "SELECT CASE WHEN j IS NULL THEN 404 ELSE 200 END, coalesce(j::text, 'no credential ' || $3)"
    " FROM (SELECT (SELECT credentials_api_json(c) || jsonb_build_object('attempt_log',"
    "   (SELECT coalesce(jsonb_agg(jsonb_build_object('attempt', a.attempt, 'node', a.node,"
    "     'started_at', recognition_time(a.started_at),"
    "     'finished_at', recognition_time(a.finished_at), 'http_status', a.http_status,"
    "     'outcome', a.outcome, 'error', a.error) ORDER BY a.id), '[]')"
    "    FROM credential_attempts a WHERE a.credential_id = c.id))"
    "   FROM credentials c WHERE c.id = $3::uuid AND ($1 = 'admin' OR c.institution_id = $2)) j) x";

static const char csv_sql[] =
    "SELECT c.id, c.offer_id, c.title, c.learner_name, c.learner_email, c.result->>'grade',"
    "  c.result->>'ects', c.result->>'date', c.state, c.attempts, c.last_error,"
    "  recognition_time(c.created_at), recognition_time(c.delivered_at),"
    "  recognition_time(c.revoked_at), c.revoke_reason"
    " FROM credentials c WHERE" REGISTRY_WHERE " AND ($4::text IS NULL OR c.state = $4)"
    " ORDER BY c.created_at DESC, c.id LIMIT $6::int";

/* A CSV cell (RFC 4180; a leading = + - @ is quoted away from spreadsheet formulas). */
static void csv_cell(struct buf *b, const char *s, bool last)
{
    if (s != NULL) {
        bool quote = strpbrk(s, ",\"\r\n") != NULL;
        bool formula = strchr("=+-@\t", s[0]) != NULL && s[0] != '\0';
        if (quote || formula)
            buf_putc(b, '"');
        if (formula)
            buf_putc(b, '\'');
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                buf_putc(b, '"');
            buf_putc(b, *p);
        }
        if (quote || formula)
            buf_putc(b, '"');
    }
    buf_puts(b, last ? "\r\n" : ",");
}

static void registry_csv(struct api_call *c, struct db_result *res)
{
    static const char *const head[] = {"credential_id", "offer_id", "title",        "learner",
                                       "email",         "grade",    "ects",         "date",
                                       "state",         "attempts", "last_error",   "created",
                                       "delivered",     "revoked",  "revoke_reason"};
    struct buf b;
    int cols = (int)(sizeof(head) / sizeof(head[0]));

    buf_init(&b);
    for (int i = 0; i < cols; i++)
        csv_cell(&b, head[i], i == cols - 1);
    for (int r = 0; r < db_result_rows(res); r++)
        for (int i = 0; i < cols; i++)
            csv_cell(&b, db_result_is_null(res, r, i) ? NULL : db_result_value(res, r, i),
                     i == cols - 1);
    api_call_reply_buf(c, 200, "text/csv; charset=utf-8", &b);
}

static void list_authed(struct api_call *c, const struct auth_user *u)
{
    struct http_request *req = api_call_request(c);
    const char *offer = http_request_query(req, "offer_id");
    const char *state = http_request_query(req, "state");
    const char *learner = http_request_query(req, "learner");
    const char *batch = http_request_query(req, "batch");
    const char *inst = http_request_query(req, "institution");
    const char *accept = http_request_header(req, "Accept");
    char limit[16];

    if (!may_issue(c, u)) /* the registry: the same people */
        return;
    if (offer != NULL && !auth_uuid_is_valid(offer)) {
        api_call_fail(c, 400, "invalid_parameter", "offer_id: an offer id (a UUID)");
        return;
    }
    if (state != NULL && strcmp(state, "queued") != 0 && strcmp(state, "sending") != 0 &&
        strcmp(state, "delivered") != 0 && strcmp(state, "failed") != 0 &&
        strcmp(state, "revoked") != 0) {
        api_call_fail(c, 400, "invalid_parameter",
                      "state: queued, sending, delivered, failed or revoked");
        return;
    }
    if (inst != NULL && !mcx_institution_id_is_valid(inst)) {
        api_call_fail(c, 400, "invalid_parameter", "institution: an institution id");
        return;
    }
    if (batch != NULL && !auth_uuid_is_valid(batch)) {
        api_call_fail(c, 400, "invalid_parameter", "batch: an import's batch id (a UUID)");
        return;
    }
    if (learner != NULL && (learner[0] == '\0' || strlen(learner) > 254)) {
        api_call_fail(c, 400, "invalid_parameter", "learner: an e-mail address or a name");
        return;
    }
    bool csv = accept != NULL && strncasecmp(accept, "text/csv", 8) == 0;
    snprintf(limit, sizeof(limit), "%d", csv ? REGISTRY_CSV_MAX : REGISTRY_MAX);
    const char *params[8] = {u->role, u->institution_id, offer, state, learner, limit, batch, inst};
    if (csv)
        api_call_db(c, csv_sql, 8, params, registry_csv);
    else
        api_call_query(c, list_sql, 8, params);
}

static void get_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id = http_request_param(api_call_request(c), "id");

    if (!may_issue(c, u)) /* the registry: the same people */
        return;
    if (!auth_uuid_is_valid(id)) {
        api_call_fail(c, 404, "not_found", "no credential %s", id);
        return;
    }
    const char *params[3] = {u->role, u->institution_id, id};
    api_call_query(c, get_sql, 3, params);
}

static void handle_list(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, list_authed, NULL, NULL);
}

static void handle_get(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, get_authed, NULL, NULL);
}

/* ---- GET /api/v1/credentials/{id}/sealed: the file the local adapter sealed ---- */

/* Staff of the institution (as the registry), or the learner: a signed-in account
 * whose confirmed e-mail address is the one the credential was issued to. Anyone
 * else: 404. */
static const char sealed_get_sql[] =
    "SELECT c.state, c.sealed, c.learner IS NULL"
    " FROM credentials c WHERE c.id = $1::uuid AND ($2 = 'admin'"
    "  OR $2 = 'publisher' AND c.institution_id = $3 OR lower(c.learner_email) = lower($4)"
    "  AND EXISTS (SELECT 1 FROM users u WHERE u.id = $5::uuid"
    "   AND u.email_confirmed_at IS NOT NULL))";

static void sealed_got(struct api_call *c, struct db_result *res)
{
    const char *id = http_request_param(api_call_request(c), "id");
    char disposition[96];
    struct buf b;

    if (db_result_rows(res) == 0) {
        api_call_fail(c, 404, "not_found", "no credential %s", id);
        return;
    }
    const char *state = db_result_value(res, 0, 0);
    if (strcmp(state, "revoked") == 0) {
        api_call_fail(c, 409, "revoked", "credential %s was revoked: it is not handed out", id);
        return;
    }
    if (db_result_is_null(res, 0, 1)) {
        if (strcmp(db_result_value(res, 0, 2), "t") == 0)
            api_call_fail(c, 409, "not_sealed",
                          "credential %s: its personal data, and the sealed file with them, were "
                          "purged after the retention period",
                          id);
        else if (strcmp(state, "delivered") == 0)
            api_call_fail(c, 409, "not_sealed",
                          "credential %s was sealed by the EDCI issuer, which delivered it to the "
                          "learner's Europass wallet: mcx has no sealed file",
                          id);
        else
            api_call_fail(c, 409, "not_sealed", "credential %s is not sealed: it is %s", id, state);
        return;
    }
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"credential-%s.json\"", id);
    http_response_header(api_call_request(c), "Content-Disposition", disposition);
    buf_init(&b);
    buf_puts(&b, db_result_value(res, 0, 1));
    api_call_reply_buf(c, 200, "application/json", &b);
}

static void sealed_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id = http_request_param(api_call_request(c), "id");

    if (!auth_uuid_is_valid(id)) {
        api_call_fail(c, 404, "not_found", "no credential %s", id);
        return;
    }
    const char *params[5] = {id, u->role, u->institution_id, u->email, u->id};
    api_call_db(c, sealed_get_sql, 5, params, sealed_got);
}

static void handle_sealed(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, sealed_authed, NULL, NULL);
}

/* ---- GET /api/v1/me/credentials: what was issued to the signed-in person ---- */

/* By the e-mail address the credential names, once the account's address is
 * confirmed (anyone may sign up with any address); failed ones are the institution's
 * to send again, so they are not listed. Newest first, at most ME_CREDENTIALS_MAX. */
#define ME_CREDENTIALS_MAX "500"
static const char mine_sql[] =
    "SELECT 200, jsonb_build_object('items', coalesce(jsonb_agg(j ORDER BY created DESC, id),"
    "  '[]'), 'email_confirmed', (SELECT email_confirmed_at IS NOT NULL FROM users"
    "  WHERE id = $2::uuid))::text FROM (SELECT c.created_at AS created, c.id, jsonb_build_object("
    "   'id', c.id, 'offer_id', c.offer_id, 'title', c.title,"
    "   'institution', jsonb_build_object('id', i.id, 'name', i.name), 'state', c.state,"
    "   'result', c.result, 'issued_at', recognition_time(c.delivered_at),"
    "   'revoked_at', recognition_time(c.revoked_at),"
    "   'verify_url', CASE WHEN c.delivered_at IS NOT NULL THEN '/verify/' || c.id END,"
    "   'viewer_url', c.europass->'viewerURL'->>0,"
    "   'download_url', CASE WHEN c.sealed IS NOT NULL AND c.state = 'delivered'"
    "     THEN '/api/v1/credentials/' || c.id || '/sealed' END) AS j"
    "  FROM credentials c JOIN institutions i ON i.id = c.institution_id"
    "  WHERE lower(c.learner_email) = lower($1) AND c.learner_email IS NOT NULL"
    "   AND c.state <> 'failed' AND EXISTS (SELECT 1 FROM users u WHERE u.id = $2::uuid"
    "   AND u.email_confirmed_at IS NOT NULL)"
    "  ORDER BY c.created_at DESC, c.id LIMIT " ME_CREDENTIALS_MAX ") x";

static void mine_authed(struct api_call *c, const struct auth_user *u)
{
    const char *params[2] = {u->email, u->id};

    api_call_query(c, mine_sql, 2, params);
}

static void handle_mine(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, mine_authed, NULL, NULL);
}

/* ---- revoke ---- */

static const char revoke_sql[] = "SELECT * FROM credential_revoke($1::uuid, $2, $3, $4, $5)";

static void revoke_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id = http_request_param(api_call_request(c), "id");
    struct mcx_error err;
    struct json_value *v;
    char *reason = NULL, actor[64];

    if (!may_issue(c, u))
        return;
    if (!auth_uuid_is_valid(id)) {
        api_call_fail(c, 404, "not_found", "no credential %s", id);
        return;
    }
    if ((v = api_call_json_object(c, 4)) == NULL)
        return;
    bool ok = take_string(v, "reason", 2000, &reason, "", &err) && reason != NULL;
    json_value_free(v);
    if (!ok) {
        free(reason);
        api_call_fail(c, 422, "validation_failed",
                      "reason: why the credential is revoked (verifiers see that it is)");
        return;
    }
    snprintf(actor, sizeof(actor), "user:%s", u->id);
    const char *params[5] = {id, u->role, u->institution_id, reason, actor};
    api_call_query(c, revoke_sql, 5, params);
    free(reason);
}

static void handle_revoke(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, revoke_authed, NULL, NULL);
}

/* ---- reissue: the same learner and result, a new credential id, sent again ---- */

struct reissue {
    char id[37], actor[64], role[16], user_inst[128];
};

static const char reissue_src_sql[] =
    "SELECT offers_api_json(c.offer_id)::text, c.institution_id,"
    "  (SELECT t.content::text FROM credential_templates t"
    "    WHERE t.offer_id = c.offer_id"
    "     OR (t.offer_id IS NULL AND t.institution_id = c.institution_id)"
    "    ORDER BY t.offer_id IS NULL LIMIT 1),"
    "  c.learner::text, c.result::text, c.idempotency_key, c.offer_id::text, c.title"
    " FROM credentials c WHERE c.id = $1::uuid AND ($2 = 'admin' OR c.institution_id = $3)";

static const char reissue_sql[] =
    "WITH old AS (SELECT * FROM credentials WHERE id = $1::uuid FOR UPDATE),"
    " ins AS (INSERT INTO credentials (id, institution_id, offer_id, idempotency_key, learner,"
    "   learner_name, learner_email, result, title, document, state, created_by, reissue_of)"
    "  SELECT $2::uuid, old.institution_id, old.offer_id, $3, old.learner, old.learner_name,"
    "   old.learner_email, old.result, old.title, $4, 'queued', $5, old.id FROM old"
    "  WHERE old.learner IS NOT NULL RETURNING *),"
    " job AS (INSERT INTO outbox (credential_id) SELECT id FROM ins),"
    " aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, details)"
    "  SELECT $5, 'reissue', 'credential', ins.id::text, jsonb_build_object('reissue_of', $1)"
    "  FROM ins)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM old) THEN 404"
    "  WHEN NOT EXISTS (SELECT 1 FROM ins) THEN 409 ELSE 202 END,"
    "  coalesce((SELECT credentials_api_json(ins::credentials)::text FROM ins),"
    "   'the learner''s personal data was purged after the retention period: issue anew')";

static void reissue_inserted(struct api_call *c, struct db_result *res)
{
    int status = atoi(db_result_value(res, 0, 0));
    struct buf b;

    if (status != 202) {
        api_call_fail(c, status, api_error_code(status), "%s", db_result_value(res, 0, 1));
        return;
    }
    outbox_kick(api_call_app(c)->outbox);
    buf_init(&b);
    buf_puts(&b, db_result_value(res, 0, 1));
    api_call_reply_json(c, 202, &b);
}

static void reissue_source(struct api_call *c, struct db_result *res)
{
    struct reissue *ri = api_call_data(c);
    struct iss_template t;
    bool has_t;
    struct mcx_error err;
    struct built b;
    char issued[32], key[300];

    if (db_result_rows(res) != 1) {
        api_call_fail(c, 404, "not_found", "no credential %s", ri->id);
        return;
    }
    if (db_result_is_null(res, 0, 3)) {
        api_call_fail(c, 409, "conflict",
                      "the learner's personal data was purged after the retention period: "
                      "issue anew");
        return;
    }
    if (db_result_is_null(res, 0, 0)) {
        api_call_fail(c, 409, "conflict", "the credential's offer no longer exists");
        return;
    }
    if (!issuable_template(c, res, &t, &has_t))
        return;
    const char *lj = db_result_value(res, 0, 3), *rj = db_result_value(res, 0, 4);
    struct json_value *lv = json_parse(lj, strlen(lj), 4, &err);
    struct json_value *rv = json_parse(rj, strlen(rj), 4, &err);
    struct iss_learner l = {0};
    struct iss_result r = {0};
    if (lv != NULL) {
        l.given_name = json_string_value(json_object_get(lv, "given_name"), NULL);
        l.family_name = json_string_value(json_object_get(lv, "family_name"), NULL);
        l.email = json_string_value(json_object_get(lv, "email"), NULL);
        l.date_of_birth = json_string_value(json_object_get(lv, "date_of_birth"), NULL);
    }
    if (rv != NULL) {
        const struct json_value *e = json_object_get(rv, "ects");
        r.grade = json_string_value(json_object_get(rv, "grade"), NULL);
        r.date = json_string_value(json_object_get(rv, "date"), NULL);
        r.has_ects = e != NULL && json_number_double(e, &r.ects) == 0;
    }
    now_rfc3339(issued);
    int rc = build_one(db_result_value(res, 0, 0), has_t ? &t : NULL, &l, &r, issued, &b, &err);
    json_value_free(lv);
    json_value_free(rv);
    iss_template_cleanup(&t);
    if (rc != 0) {
        api_call_fail(c, 422, "validation_failed", "the credential cannot be built: %s",
                      err.message);
        return;
    }
    /* a new key per reissue (the original's key still names the original), made
     * from the new id, so that two reissues at once cannot collide */
    snprintf(key, sizeof(key), "%.200s#reissue-%s", db_result_value(res, 0, 5), b.id);
    const char *params[5] = {ri->id, b.id, key, b.document.data, ri->actor};
    api_call_db(c, reissue_sql, 5, params, reissue_inserted);
    buf_cleanup(&b.document);
}

static void reissue_authed(struct api_call *c, const struct auth_user *u)
{
    struct reissue *ri = api_call_data(c);
    const char *id = http_request_param(api_call_request(c), "id");

    if (!may_issue(c, u))
        return;
    if (!auth_uuid_is_valid(id)) {
        api_call_fail(c, 404, "not_found", "no credential %s", id);
        return;
    }
    mcx_strlcpy(ri->id, id, sizeof(ri->id));
    snprintf(ri->actor, sizeof(ri->actor), "user:%s", u->id);
    const char *params[3] = {id, u->role, u->institution_id};
    api_call_db(c, reissue_src_sql, 3, params, reissue_source);
}

static void handle_reissue(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, reissue_authed, xcalloc(1, sizeof(struct reissue)), free);
}

/* ---- the offer's credential template ---- */

static const char template_get_sql[] =
    "SELECT CASE WHEN o.id IS NULL THEN 404 WHEN $2 <> 'admin' AND o.institution_id <> $3 THEN"
    "  403 ELSE 200 END, CASE WHEN o.id IS NULL THEN 'no offer ' || $1"
    "  WHEN $2 <> 'admin' AND o.institution_id <> $3 THEN 'the offer is not ' || $3 || '''s'"
    "  ELSE offers_api_json(o.id)::text END,"
    "  (SELECT t.content::text FROM credential_templates t WHERE t.offer_id = o.id),"
    "  (SELECT t.content::text FROM credential_templates t"
    "    WHERE t.offer_id IS NULL AND t.institution_id = o.institution_id)"
    " FROM (SELECT $1::uuid) x(want) LEFT JOIN offers o ON o.id = x.want AND o.deleted_at IS NULL";

static const char template_put_sql[] =
    "WITH o AS (SELECT id, institution_id FROM offers WHERE id = $1::uuid AND deleted_at IS NULL),"
    " up AS (INSERT INTO credential_templates (institution_id, offer_id, content, updated_by)"
    "  SELECT o.institution_id, o.id, $4::jsonb, $5 FROM o"
    "  WHERE $2 = 'admin' OR o.institution_id = $3"
    "  ON CONFLICT (offer_id) WHERE offer_id IS NOT NULL"
    "  DO UPDATE SET content = EXCLUDED.content, updated_by = EXCLUDED.updated_by,"
    "   updated_at = now() RETURNING id),"
    " aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    "  SELECT $5, 'update', 'credential_template', $1, audit_hash($4::jsonb), NULL FROM up)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM o) THEN 404"
    "  WHEN NOT EXISTS (SELECT 1 FROM up) THEN 403 ELSE 200 END,"
    "  (SELECT offers_api_json(id)::text FROM o)";

/* {"offer_id","template","completeness":{"missing":[…]},"inherited":bool} */
static void template_reply(struct api_call *c, const char *offer_id, const char *offer_json,
                           const char *own, const char *inherited)
{
    struct iss_template t;
    struct mcx_error err;
    const char *use = own != NULL ? own : inherited;
    const char *missing[ISS_COMPLETENESS_MAX];
    size_t n;
    struct buf b;
    struct json_writer w;

    iss_template_init(&t);
    bool has = use != NULL && iss_template_parse(use, strlen(use), &t, &err) == 0;
    n = iss_completeness(offer_json, has ? &t : NULL, missing, ISS_COMPLETENESS_MAX);
    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_kv_string(&w, "offer_id", offer_id);
    json_key(&w, "template");
    if (has) {
        struct buf tj;
        buf_init(&tj);
        iss_template_write_json(&t, &tj);
        json_raw(&w, tj.data, tj.len);
        buf_cleanup(&tj);
    } else {
        json_null(&w);
    }
    json_kv_bool(&w, "inherited", own == NULL && has);
    json_key(&w, "completeness");
    json_object_begin(&w);
    json_key(&w, "missing");
    json_array_begin(&w);
    for (size_t i = 0; i < n; i++)
        json_string(&w, missing[i]);
    json_array_end(&w);
    json_object_end(&w);
    json_object_end(&w);
    iss_template_cleanup(&t);
    api_call_reply_json(c, 200, &b);
}

static void template_got(struct api_call *c, struct db_result *res)
{
    int status = atoi(db_result_value(res, 0, 0));
    const char *id = http_request_param(api_call_request(c), "id");

    if (status != 200) {
        api_call_fail(c, status, api_error_code(status), "%s", db_result_value(res, 0, 1));
        return;
    }
    template_reply(c, id, db_result_value(res, 0, 1),
                   db_result_is_null(res, 0, 2) ? NULL : db_result_value(res, 0, 2),
                   db_result_is_null(res, 0, 3) ? NULL : db_result_value(res, 0, 3));
}

static void template_get_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id = http_request_param(api_call_request(c), "id");

    if (!may_issue(c, u))
        return;
    if (!auth_uuid_is_valid(id)) {
        api_call_fail(c, 404, "not_found", "no offer %s", id);
        return;
    }
    const char *params[3] = {id, u->role, u->institution_id};
    api_call_db(c, template_get_sql, 3, params, template_got);
}

struct template_put {
    struct buf canonical;
};

static void template_put_free(void *data)
{
    struct template_put *tp = data;

    buf_cleanup(&tp->canonical);
    free(tp);
}

static void template_put_done(struct api_call *c, struct db_result *res)
{
    struct template_put *tp = api_call_data(c);
    int status = atoi(db_result_value(res, 0, 0));
    const char *id = http_request_param(api_call_request(c), "id");

    if (status != 200) {
        api_call_fail(c, status, api_error_code(status),
                      status == 404 ? "no offer %s" : "offer %s is not your institution's", id);
        return;
    }
    template_reply(c, id, db_result_value(res, 0, 1), tp->canonical.data, NULL);
}

/* The request's template, checked, in its canonical form (out). False after a 400
 * (not JSON) or 422 (a field is wrong, named by its JSON pointer). */
static bool template_body(struct api_call *c, struct buf *out)
{
    const char *body;
    size_t len;
    struct mcx_error err;
    struct iss_template t;

    if (!api_call_body(c, &body, &len))
        return false;
    struct json_value *syntax_check = json_parse(body, len, 64, &err);
    if (syntax_check == NULL) { /* not JSON at all: the client's syntax (DESIGN §3: 400) */
        api_call_fail(c, 400, "malformed_json", "%s", err.message);
        return false;
    }
    json_value_free(syntax_check);
    iss_template_init(&t);
    if (iss_template_parse(body, len, &t, &err) != 0) {
        iss_template_cleanup(&t);
        bool syntax = strcmp(err.code, "invalid_template") != 0;
        api_call_fail(c, syntax ? 400 : 422, syntax ? "malformed_json" : "validation_failed", "%s",
                      err.message);
        return false;
    }
    iss_template_write_json(&t, out);
    iss_template_cleanup(&t);
    return true;
}

static void template_put_authed(struct api_call *c, const struct auth_user *u)
{
    struct template_put *tp = api_call_data(c);
    const char *id = http_request_param(api_call_request(c), "id");
    char actor[64];

    if (!may_issue(c, u))
        return;
    if (!auth_uuid_is_valid(id)) {
        api_call_fail(c, 404, "not_found", "no offer %s", id);
        return;
    }
    if (!template_body(c, &tp->canonical))
        return;
    snprintf(actor, sizeof(actor), "user:%s", u->id);
    const char *params[5] = {id, u->role, u->institution_id, tp->canonical.data, actor};
    api_call_db(c, template_put_sql, 5, params, template_put_done);
}

static void handle_template_get(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, template_get_authed, NULL, NULL);
}

static void handle_template_put(struct http_request *req, void *arg)
{
    struct template_put *tp = xcalloc(1, sizeof(*tp));

    buf_init(&tp->canonical);
    api_call_begin(req, arg, template_put_authed, tp, template_put_free);
}

/* ---- the institution's default template ---- */

/*
 * What every offer of an institution without a template of its own inherits:
 * GET/PUT/DELETE /api/v1/institutions/{id}/credential-template. The reply is
 * {"institution","template"|null,"updated_at"|null}; a default alone has no
 * completeness (each offer's is in GET /api/v1/institutions/{id}/offers).
 */
#define DEFAULT_JSON(inst, t)                                                                      \
    "jsonb_build_object('institution', " inst ", 'template', " t ".content, 'updated_at',"         \
    " recognition_time(" t ".updated_at))::text"

static const char default_get_sql[] =
    "SELECT CASE WHEN i.id IS NULL THEN 404 ELSE 200 END,"
    "  CASE WHEN i.id IS NULL THEN 'no institution ' || $1 ELSE " DEFAULT_JSON(
        "i.id",
        "t") " END"
             " FROM (SELECT $1::text) x(want) LEFT JOIN institutions i ON i.id = x.want"
             " LEFT JOIN credential_templates t ON t.institution_id = i.id AND t.offer_id IS NULL";

/* $1 institution, $2 canonical template, $3 actor. */
static const char default_put_sql[] =
    "WITH i AS (SELECT id FROM institutions WHERE id = $1),"
    " up AS (INSERT INTO credential_templates (institution_id, offer_id, content, updated_by)"
    "  SELECT i.id, NULL, $2::jsonb, $3 FROM i"
    "  ON CONFLICT (institution_id) WHERE offer_id IS NULL"
    "  DO UPDATE SET content = EXCLUDED.content, updated_by = EXCLUDED.updated_by,"
    "   updated_at = now() RETURNING *),"
    " aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    "  SELECT $3, 'update', 'credential_template', $1, audit_hash($2::jsonb),"
    "   jsonb_build_object('default', true) FROM up)"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM up) THEN 200 ELSE 404 END,"
    "  coalesce((SELECT " DEFAULT_JSON("up.institution_id", "up") " FROM up),"
                                                                  "   'no institution ' || $1)";

/* $1 institution, $2 actor: 204 removed (or there was none), 404 no institution. */
static const char default_delete_sql[] =
    "WITH i AS (SELECT id FROM institutions WHERE id = $1),"
    " del AS (DELETE FROM credential_templates WHERE institution_id = $1 AND offer_id IS NULL"
    "  RETURNING content),"
    " aud AS (INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, details)"
    "  SELECT $2, 'delete', 'credential_template', $1, audit_hash(content),"
    "   jsonb_build_object('default', true) FROM del)"
    " SELECT EXISTS (SELECT 1 FROM i)";

/* A publisher of the URL's institution, or an admin; false after a 403. */
static bool may_edit_default(struct api_call *c, const struct auth_user *u, const char *inst)
{
    if (!may_issue(c, u))
        return false;
    if (strcmp(u->role, "admin") == 0 || strcmp(u->institution_id, inst) == 0)
        return true;
    api_call_fail(c, 403, "forbidden", "only a publisher of %s edits its default template", inst);
    return false;
}

static void default_get_authed(struct api_call *c, const struct auth_user *u)
{
    const char *inst = http_request_param(api_call_request(c), "id");

    if (!may_edit_default(c, u, inst))
        return;
    const char *params[1] = {inst};
    api_call_query(c, default_get_sql, 1, params);
}

static void default_put_authed(struct api_call *c, const struct auth_user *u)
{
    struct template_put *tp = api_call_data(c);
    const char *inst = http_request_param(api_call_request(c), "id");
    char actor[64];

    if (!may_edit_default(c, u, inst) || !template_body(c, &tp->canonical))
        return;
    snprintf(actor, sizeof(actor), "user:%s", u->id);
    const char *params[3] = {inst, tp->canonical.data, actor};
    api_call_query(c, default_put_sql, 3, params);
}

static void default_deleted(struct api_call *c, struct db_result *res)
{
    struct buf empty;

    if (strcmp(db_result_value(res, 0, 0), "t") != 0) {
        api_call_fail(c, 404, "not_found", "no institution %s",
                      http_request_param(api_call_request(c), "id"));
        return;
    }
    buf_init(&empty);
    api_call_reply_buf(c, 204, NULL, &empty);
}

static void default_delete_authed(struct api_call *c, const struct auth_user *u)
{
    const char *inst = http_request_param(api_call_request(c), "id");
    char actor[64];

    if (!may_edit_default(c, u, inst))
        return;
    snprintf(actor, sizeof(actor), "user:%s", u->id);
    const char *params[2] = {inst, actor};
    api_call_db(c, default_delete_sql, 2, params, default_deleted);
}

static void handle_default_get(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, default_get_authed, NULL, NULL);
}

static void handle_default_put(struct http_request *req, void *arg)
{
    struct template_put *tp = xcalloc(1, sizeof(*tp));

    buf_init(&tp->canonical);
    api_call_begin(req, arg, default_put_authed, tp, template_put_free);
}

static void handle_default_delete(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, default_delete_authed, NULL, NULL);
}

/* ---- GET /verify/{id}: public ---- */

/* Valid or revoked, with the issuer, title, date and the learner's name: nothing
 * else of the learner. Queued or failed credentials were never issued: unknown. */
static const char verify_sql[] =
    "SELECT CASE WHEN j IS NULL THEN 404 ELSE 200 END,"
    "  coalesce(j::text, '{\"status\":\"unknown\"}'), x.sealed"
    " FROM (SELECT 1) one LEFT JOIN (SELECT jsonb_build_object("
    "   'id', c.id, 'status', CASE WHEN c.state = 'revoked' THEN 'revoked' ELSE 'valid' END,"
    "   'issuer', jsonb_build_object('id', i.id, 'name', coalesce(i.name->>'en',"
    "     (SELECT value FROM jsonb_each_text(i.name) LIMIT 1)), 'country', i.country),"
    "   'title', c.title, 'issued', recognition_time(coalesce(c.delivered_at, c.created_at)),"
    "   'learner', c.learner_name, 'revoked_at', recognition_time(c.revoked_at),"
    "   'revoke_reason', c.revoke_reason) AS j, c.sealed"
    "  FROM credentials c JOIN institutions i ON i.id = c.institution_id"
    "  WHERE c.id = $1::uuid AND (c.state = 'delivered' OR c.state = 'revoked' AND"
    "   c.delivered_at IS NOT NULL)) x ON true";

/* A file sealed here (the local adapter) is checked on every read: "valid" says it is
 * intact and sealed by the certificate it names (not checked against a trust list). */
static void seal_check(struct buf *b, const char *sealed)
{
    char subject[JADES_SUBJECT_SIZE];
    struct mcx_error err;
    struct buf payload;
    struct json_writer w;
    bool ok;

    buf_init(&payload);
    ok = jades_verify(sealed, strlen(sealed), &payload, subject, sizeof(subject), &err) == 0;
    buf_cleanup(&payload);
    json_writer_init(&w, b);
    json_object_begin(&w);
    json_kv_bool(&w, "valid", ok);
    if (ok)
        json_kv_string(&w, "sealed_by", subject);
    else
        json_kv_string(&w, "problem", err.message);
    json_object_end(&w);
}

static void verify_done(struct api_call *c, struct db_result *res)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, db_result_value(res, 0, 1));
    if (!db_result_is_null(res, 0, 2)) {
        struct buf seal;
        buf_init(&seal);
        seal_check(&seal, db_result_value(res, 0, 2));
        json_object_append(&b, "seal", seal.data);
        buf_cleanup(&seal);
    }
    api_call_reply_json(c, atoi(db_result_value(res, 0, 0)), &b);
}

static bool wants_json(const char *accept)
{
    return accept != NULL && strstr(accept, "application/json") != NULL &&
           strstr(accept, "text/html") == NULL;
}

static void handle_verify(struct http_request *req, void *arg)
{
    struct mcxd *app = arg;
    const char *id = http_request_param(req, "id");

    if (!wants_json(http_request_header(req, "Accept"))) {
        static_serve_file(req, app->web, "verify.html"); /* the page asks for the JSON */
        return;
    }
    struct api_call *c = api_call_public(req, app);
    if (!auth_uuid_is_valid(id)) {
        struct buf b;
        buf_init(&b);
        buf_puts(&b, "{\"status\":\"unknown\"}");
        api_call_reply_json(c, 404, &b);
        return;
    }
    const char *params[1] = {id};
    api_call_db(c, verify_sql, 1, params, verify_done);
}

void credentials_routes_add(struct mcxd *app)
{
    struct router *r = app->router;

    router_add(r, HTTP_POST, "/api/v1/credentials", handle_issue, app, 64 * 1024);
    router_add(r, HTTP_POST, "/api/v1/credentials/import", handle_import, app, IMPORT_MAX_BODY);
    router_add(r, HTTP_GET, "/api/v1/credentials", handle_list, app, 0);
    router_add(r, HTTP_GET, "/api/v1/credentials/{id}", handle_get, app, 0);
    router_add(r, HTTP_GET, "/api/v1/credentials/{id}/sealed", handle_sealed, app, 0);
    router_add(r, HTTP_GET, "/api/v1/me/credentials", handle_mine, app, 0);
    router_add(r, HTTP_POST, "/api/v1/credentials/{id}/revoke", handle_revoke, app, 8192);
    router_add(r, HTTP_POST, "/api/v1/credentials/{id}/reissue", handle_reissue, app, 4096);
    router_add(r, HTTP_GET, "/api/v1/offers/{id}/credential-template", handle_template_get, app, 0);
    router_add(r, HTTP_PUT, "/api/v1/offers/{id}/credential-template", handle_template_put, app,
               ISS_TEMPLATE_MAX_BYTES);
    router_add(r, HTTP_GET, "/api/v1/institutions/{id}/credential-template", handle_default_get,
               app, 0);
    router_add(r, HTTP_PUT, "/api/v1/institutions/{id}/credential-template", handle_default_put,
               app, ISS_TEMPLATE_MAX_BYTES);
    router_add(r, HTTP_DELETE, "/api/v1/institutions/{id}/credential-template",
               handle_default_delete, app, 0);
    router_add(r, HTTP_GET | HTTP_HEAD, "/verify/{id}", handle_verify, app, 0);
}
