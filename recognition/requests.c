/*
 * requests.c — recognition requests and credit transfers (DESIGN §5
 * "Recognition"). A student submits a credential and a target; it is read
 * (recognition/credential.c), its issuer, offer and the target's agreements are
 * looked up in one statement, the rules engine proposes (recognition/rules.c),
 * and the request is stored 'proposed' with its two audit entries in a second.
 * Decisions and appeals are the locked transitions of 011_recognition.sql.
 *
 * Who sees what: a student their own requests, a registrar those targeting their
 * institution, an admin all; anyone else's id is a 404, so ids cannot be probed.
 */
#include "recognition/requests.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recognition/agreement.h"
#include "recognition/credential.h"
#include "recognition/rules.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/router.h"

#define REQUEST_MAX_BODY (REC_CREDENTIAL_MAX_BYTES + 64 * 1024)
#define REQUESTS_LIST_MAX 200
#define TEXT_MAX 10000 /* reasons, appeal: bytes */

/* ---- submit ---- */

/*
 * The issuer (by id, homepage host or any of its names), the offer it was read from
 * (by the specification's or opportunity's id, the homepage or a title), the
 * target's agreements, and the elective ECTS this student already has recognised
 * there in the credential's half-year (for an elective rule's cap per term; course
 * equivalences are not electives and do not count).
 */
static const char lookup_sql[] =
    "WITH iss AS (SELECT i.id FROM institutions i"
    "  WHERE i.id = $2"
    "   OR ($4::text IS NOT NULL AND lower(substring(i.homepage FROM"
    "       '^https?://(?:www\\.)?([^/:?#]+)')) = lower($4))"
    "   OR ($3::text IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_each_text(i.name) n"
    "       WHERE lower(n.value) = lower($3)))"
    "  ORDER BY i.id = $2 DESC NULLS LAST LIMIT 1),"
    " off AS (SELECT o.id FROM offers o, iss WHERE o.deleted_at IS NULL"
    "  AND o.institution_id = iss.id"
    "  AND (o.doc->>'source_id' IN ($5, $6) OR o.doc->>'homepage' = $7"
    "   OR EXISTS (SELECT 1 FROM jsonb_each_text(o.title) t WHERE lower(t.value) = lower($8)))"
    "  ORDER BY o.doc->>'source_id' IN ($5, $6) DESC NULLS LAST,"
    "   o.doc->>'homepage' = $7 DESC NULLS LAST, o.id LIMIT 1),"
    " ags AS (SELECT coalesce(json_agg(json_build_object('id', a.id, 'content', a.content::text,"
    "   'active', agreement_approved(a), 'terminated_on', a.terminated_on)"
    "   ORDER BY a.created_at, a.id), '[]') j FROM agreements a WHERE $1 = ANY (a.parties))"
    " SELECT EXISTS (SELECT 1 FROM institutions WHERE id = $1), (SELECT id FROM iss),"
    "  (SELECT id::text FROM off), (SELECT j::text FROM ags),"
    "  (SELECT coalesce(sum(ct.credits), 0)::text FROM credit_transfers ct"
    "   JOIN recognition_requests rr ON rr.id = ct.request_id"
    "   WHERE ct.student_id = $9::uuid AND ct.institution_id = $1"
    "    AND ct.outcome <> 'not_recognised' AND rr.proposal->>'as' = 'elective'"
    "    AND date_trunc('year', (ct.credential->>'awarded_on')::date)"
    "      + CASE WHEN extract(month FROM (ct.credential->>'awarded_on')::date) > 6"
    "             THEN interval '6 months' ELSE interval '0' END"
    "      = date_trunc('year', $10::date)"
    "      + CASE WHEN extract(month FROM $10::date) > 6"
    "             THEN interval '6 months' ELSE interval '0' END),"
    "  current_date::text";

/* The request and its two audit entries (submitted, then proposed by the engine). */
static const char insert_sql[] =
    "WITH r AS (INSERT INTO recognition_requests (student_id, target_institution,"
    "  target_programme, target_course, credential_format, credential_source, credential,"
    "  issuer_id, offer_id, status, proposal)"
    "  VALUES ($1::uuid, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::uuid, 'proposed', $10::jsonb)"
    "  RETURNING *),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    "  SELECT CASE v.n WHEN 1 THEN $11 ELSE 'system' END, v.action, 'recognition_request',"
    "   r.id::text, audit_hash(to_jsonb(r)),"
    "   CASE v.n WHEN 1 THEN jsonb_build_object('target', r.target_institution,"
    "     'issuer', r.issuer_id, 'format', r.credential_format) ELSE r.proposal END"
    "  FROM r CROSS JOIN (VALUES (1, 'submit'), (2, 'propose')) v(n, action) ORDER BY v.n)"
    " SELECT 201, recognition_request_json(r)::text FROM r";

struct submit {
    char user_id[37], actor[64], registry_id[37], email[256];
    char target[128], programme[256], course[256];
    const char *format; /* elm3 | elm2 */
    char *source;       /* the credential as sent */
    struct rec_parsed parsed;
    bool parsed_ok;
};

static void submit_free(void *data)
{
    struct submit *s = data;

    if (s->parsed_ok)
        rec_parsed_cleanup(&s->parsed);
    free(s->source);
    free(s);
}

/* Copies an optional string member (≤ size-1 bytes, no control characters); false
 * (with err) when present and not such a string. */
static bool opt_chars(const struct json_value *obj, const char *key, char *out, size_t size,
                      const char *path, bool lines, struct mcx_error *err)
{
    const struct json_value *v = json_object_get(obj, key);
    const char *s;
    size_t len;

    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return true;
    s = json_string_value(v, &len);
    if (s == NULL || len >= size || strlen(s) != len) {
        mcx_error_set(err, "validation_failed", "%s.%s: a string of at most %zu bytes", path, key,
                      size - 1);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && !(lines && strchr("\t\r\n", s[i]) != NULL)) {
            mcx_error_set(err, "validation_failed", "%s.%s: no control characters", path, key);
            return false;
        }
    memcpy(out, s, len + 1);
    return true;
}

/* A one-line string member (a name, a code). */
static bool opt_string(const struct json_value *obj, const char *key, char *out, size_t size,
                       const char *path, struct mcx_error *err)
{
    return opt_chars(obj, key, out, size, path, false, err);
}

/* A text a person writes (reasons, an appeal): line breaks and tabs allowed. */
static bool opt_text(const struct json_value *obj, const char *key, char *out, size_t size,
                     const char *path, struct mcx_error *err)
{
    return opt_chars(obj, key, out, size, path, true, err);
}

/* Reads the body into s: the target and the credential (parsed). 0, or the status to
 * answer with err. */
static int submit_read(struct submit *s, const char *body, size_t len, struct mcx_error *err)
{
    struct json_value *v = json_parse(body, len, REC_CREDENTIAL_MAX_DEPTH, err);
    const struct json_value *target, *cred, *xml, *id;
    int status = 0;

    if (v == NULL)
        return 400;
    if (!json_is_object(v)) {
        mcx_error_set(err, "malformed_json", "the body is not a JSON object");
        json_value_free(v);
        return 400;
    }
    target = json_object_get(v, "target");
    cred = json_object_get(v, "credential");
    xml = json_object_get(v, "credential_xml");
    id = json_object_get(v, "credential_id");
    if (target == NULL || !json_is_object(target)) {
        mcx_error_set(err, "validation_failed", "target: an object with the institution");
        status = 422;
    } else if (!opt_string(target, "institution", s->target, sizeof(s->target), "target", err) ||
               !opt_string(target, "programme", s->programme, sizeof(s->programme), "target",
                           err) ||
               !opt_string(target, "course", s->course, sizeof(s->course), "target", err)) {
        status = 422;
    } else if (s->target[0] == '\0') {
        mcx_error_set(err, "validation_failed", "target.institution: the home institution's id");
        status = 422;
    } else if ((cred != NULL) + (xml != NULL) + (id != NULL) != 1) {
        mcx_error_set(err, "validation_failed",
                      "give one of credential (ELM 3 JSON-LD), credential_xml (ELM 2 XML) or "
                      "credential_id");
        status = 422;
    } else if (id != NULL) {
        const char *rid = json_string_value(id, NULL);
        if (rid == NULL || !auth_uuid_is_valid(rid)) {
            mcx_error_set(err, "validation_failed",
                          "credential_id: the id of a credential this node issued (a UUID)");
            status = 422;
        } else {
            s->format = "registry"; /* read from the registry before the lookup */
            mcx_strlcpy(s->registry_id, rid, sizeof(s->registry_id));
        }
    } else if (cred != NULL) {
        s->format = "elm3";
        if (rec_parse_elm3_value(cred, body, len, &s->parsed, err) != 0)
            status = 422;
        else
            s->source = xstrndup(body, len); /* the whole body: the credential as sent */
    } else {
        size_t xlen;
        const char *x = json_string_value(xml, &xlen);
        s->format = "elm2";
        if (x == NULL) {
            mcx_error_set(err, "validation_failed", "credential_xml: the XML as a string");
            status = 422;
        } else if (rec_parse_elm2(x, xlen, &s->parsed, err) != 0) {
            status = strcmp(err->code, "malformed_xml") == 0 ? 400 : 422;
        } else {
            s->source = xstrndup(x, xlen);
        }
    }
    if (status == 0 && s->registry_id[0] == '\0')
        s->parsed_ok = true;
    json_value_free(v);
    return status;
}

static void submit_inserted(struct api_call *c, struct db_result *res);

/* The agreements of the lookup, parsed into docs[0..n) (the caller cleans up). */
static size_t agreements_load(const char *json, struct rec_agreement_doc **docs,
                              struct rec_agreement **ags)
{
    struct mcx_error err;
    struct json_value *v = json_parse(json, strlen(json), 64, &err);
    size_t n = v != NULL && json_is_array(v) ? json_array_len(v) : 0, k = 0;

    *docs = xcalloc(n + 1, sizeof(**docs));
    *ags = xcalloc(n + 1, sizeof(**ags));
    for (size_t i = 0; i < n; i++) {
        const struct json_value *a = json_array_at(v, i);
        size_t clen;
        const char *content = json_string_value(json_object_get(a, "content"), &clen);
        /* the stored content is the canonical form: it parses again as it was */
        if (content != NULL && rec_agreement_parse(content, clen, &(*docs)[k], &err) == 0) {
            struct rec_agreement *ag = &(*ags)[k];
            const char *term = json_string_value(json_object_get(a, "terminated_on"), NULL);
            *ag = (*docs)[k].ag;
            ag->id = xstrdup(json_string_value(json_object_get(a, "id"), NULL));
            ag->active = json_bool_value(json_object_get(a, "active"));
            ag->terminated_on = term != NULL ? xstrdup(term) : NULL;
            k++;
        }
    }
    json_value_free(v);
    return k;
}

static void agreements_free(struct rec_agreement_doc *docs, struct rec_agreement *ags, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)ags[i].id);
        free((char *)ags[i].terminated_on);
        rec_agreement_doc_cleanup(&docs[i]);
    }
    free(docs);
    free(ags);
}

static void submit_looked_up(struct api_call *c, struct db_result *res)
{
    struct submit *s = api_call_data(c);
    struct rec_credential *cred = &s->parsed.cred;
    struct rec_agreement_doc *docs;
    struct rec_agreement *ags;
    struct rec_proposal prop;
    struct rec_target target = {s->target, s->programme[0] ? s->programme : NULL,
                                s->course[0] ? s->course : NULL};
    struct buf credential, proposal;
    char issuer[128] = "", offer[37] = "", today[11];
    size_t n;

    if (strcmp(db_result_value(res, 0, 0), "t") != 0) {
        api_call_fail(c, 422, "validation_failed", "target.institution: no institution %s",
                      s->target);
        return;
    }
    if (!db_result_is_null(res, 0, 1))
        mcx_strlcpy(issuer, db_result_value(res, 0, 1), sizeof(issuer));
    if (!db_result_is_null(res, 0, 2))
        mcx_strlcpy(offer, db_result_value(res, 0, 2), sizeof(offer));
    mcx_strlcpy(today, db_result_value(res, 0, 5), sizeof(today));
    cred->issuer_known = issuer[0] != '\0';
    if (cred->issuer_known)
        cred->issuer = issuer; /* the node's id for it, however the credential named it */
    cred->offer_id = offer[0] ? offer : NULL;
    n = agreements_load(db_result_value(res, 0, 3), &docs, &ags);
    rec_propose(cred, ags, n, &target, atof(db_result_value(res, 0, 4)), today, &prop);
    agreements_free(docs, ags, n);

    buf_init(&credential);
    rec_parsed_write_json(&s->parsed, &credential);
    buf_init(&proposal);
    rec_proposal_write_json(&prop, &proposal);
    const char *params[11] = {s->user_id,
                              s->target,
                              s->programme[0] ? s->programme : NULL,
                              s->course[0] ? s->course : NULL,
                              s->format,
                              s->source,
                              credential.data,
                              issuer[0] ? issuer : NULL,
                              offer[0] ? offer : NULL,
                              proposal.data,
                              s->actor};
    api_call_db(c, insert_sql, 11, params, submit_inserted);
    buf_cleanup(&credential);
    buf_cleanup(&proposal);
}

static void submit_inserted(struct api_call *c, struct db_result *res)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, db_result_value(res, 0, 1));
    api_call_reply_json(c, 201, &b);
}

static void submit_lookup(struct api_call *c);

/* A credential of this node's registry, delivered to the student asking (matched by
 * e-mail, once the student's address is confirmed: anyone may sign up with any
 * address): whether it is, then the credential's document, state and whether it was
 * purged (NULL: no such credential for this address). $1 id, $2 the student. */
static const char registry_sql[] =
    "SELECT u.email_confirmed_at IS NOT NULL, c.document, c.state, c.document = ''"
    " FROM users u LEFT JOIN credentials c"
    "  ON c.id = $1::uuid AND lower(c.learner_email) = lower(u.email)"
    " WHERE u.id = $2::uuid";

static void submit_registry(struct api_call *c, struct db_result *res)
{
    struct submit *s = api_call_data(c);
    struct mcx_error err;

    if (db_result_rows(res) == 1 && strcmp(db_result_value(res, 0, 0), "t") != 0) {
        api_call_fail(c, 403, "email_unconfirmed",
                      "credential_id: confirm your e-mail address first (the link in the "
                      "confirmation mail; My applications sends it again)");
        return;
    }
    if (db_result_rows(res) != 1 || db_result_is_null(res, 0, 1)) {
        api_call_fail(c, 422, "validation_failed",
                      "credential_id: this node issued no credential %s to %s", s->registry_id,
                      s->email);
        return;
    }
    if (strcmp(db_result_value(res, 0, 2), "delivered") != 0) {
        api_call_fail(c, 422, "validation_failed",
                      "credential_id: the credential is %s, not "
                      "delivered",
                      db_result_value(res, 0, 2));
        return;
    }
    if (strcmp(db_result_value(res, 0, 3), "t") == 0) {
        api_call_fail(c, 422, "validation_failed",
                      "credential_id: the registry no longer keeps this credential's document "
                      "(personal data retention); send the credential itself");
        return;
    }
    const char *doc = db_result_value(res, 0, 1);
    if (rec_parse_elm3(doc, strlen(doc), &s->parsed, &err) != 0) {
        api_call_fail(c, 422, "validation_failed",
                      "credential_id: the registry's copy does not "
                      "read: %s",
                      err.message);
        return;
    }
    s->parsed_ok = true;
    s->source = xstrdup(doc);
    submit_lookup(c);
}

static void submit_authed(struct api_call *c, const struct auth_user *u)
{
    struct submit *s = api_call_data(c);
    const char *body;
    size_t len;
    struct mcx_error err;
    int status;

    if (strcmp(u->role, "student") != 0) {
        api_call_fail(c, 403, "forbidden", "only students ask for recognition");
        return;
    }
    if (!api_call_body(c, &body, &len))
        return;
    mcx_strlcpy(s->user_id, u->id, sizeof(s->user_id));
    snprintf(s->actor, sizeof(s->actor), "user:%s", u->id);
    mcx_strlcpy(s->email, u->email, sizeof(s->email));
    status = submit_read(s, body, len, &err);
    if (status != 0) {
        api_call_fail(c, status, status == 400 ? err.code : "validation_failed", "%s", err.message);
        return;
    }
    if (s->registry_id[0] != '\0') {
        const char *params[2] = {s->registry_id, s->user_id};
        api_call_db(c, registry_sql, 2, params, submit_registry);
        return;
    }
    submit_lookup(c);
}

/* The issuer, offer and agreements of the parsed credential (lookup_sql). */
static void submit_lookup(struct api_call *c)
{
    struct submit *s = api_call_data(c);
    const char *pa = NULL, *pn = NULL, *ph = NULL, *p5 = NULL, *p6 = NULL, *p7 = NULL, *p8 = NULL;
    const struct rec_parsed *p = &s->parsed;
    pa = p->issuer_id;
    pn = p->issuer_name;
    if (p->issuer_homepage != NULL) { /* its host, as the lookup compares it */
        const char *h = strstr(p->issuer_homepage, "://");
        ph = h != NULL ? h + 3 : p->issuer_homepage;
        if (strncmp(ph, "www.", 4) == 0)
            ph += 4;
    }
    p5 = p->specification_id;
    p6 = p->opportunity_id;
    p7 = p->homepage;
    p8 = p->title;
    char host[256] = "";
    if (ph != NULL) {
        size_t hl = strcspn(ph, "/:?#");
        snprintf(host, sizeof(host), "%.*s", (int)(hl < sizeof(host) ? hl : sizeof(host) - 1), ph);
    }
    const char *params[10] = {s->target,  pa,
                              pn,         host[0] ? host : NULL,
                              p5,         p6,
                              p7,         p8,
                              s->user_id, p->awarded_on[0] ? p->awarded_on : NULL};
    api_call_db(c, lookup_sql, 10, params, submit_looked_up);
}

static void handle_submit(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, submit_authed, xcalloc(1, sizeof(struct submit)), submit_free);
}

/* ---- reads ---- */

/* The requests the caller may see: $1 role, $2 user, $3 institution. */
#define VISIBLE                                                                                    \
    "(($1 = 'student' AND r.student_id = $2::uuid) OR"                                             \
    " ($1 = 'registrar' AND r.target_institution = $3) OR $1 = 'admin')"

/*
 * $4 status, $5 limit, $6 partner (the credential's issuer: a known institution's id,
 * or the id the credential gives), $7 programme (the target's). Beside the items,
 * the values the filters can take among the requests the caller sees: partners
 * ({"id","name"}) and programmes.
 */
static const char list_sql[] =
    "SELECT 200, json_build_object('items', coalesce((SELECT json_agg(recognition_request_json(r)"
    "  ORDER BY r.created_at DESC, r.id) FROM (SELECT * FROM recognition_requests r WHERE " VISIBLE
    "  AND ($4::text IS NULL OR r.status = $4)"
    "  AND ($6::text IS NULL OR r.issuer_id = $6 OR r.credential->'issuer'->>'id' = $6)"
    "  AND ($7::text IS NULL OR r.target_programme = $7)"
    "  ORDER BY r.created_at DESC, r.id LIMIT $5::int) r), '[]'),"
    " 'partners', (SELECT coalesce(json_agg(json_build_object('id', p.id, 'name', p.name)"
    "   ORDER BY lower(p.name), p.id), '[]') FROM (SELECT"
    "   coalesce(r.issuer_id, r.credential->'issuer'->>'id') AS id,"
    "   min(coalesce(r.credential->'issuer'->>'name', r.issuer_id,"
    "    r.credential->'issuer'->>'id')) AS name"
    "   FROM recognition_requests r WHERE " VISIBLE
    "   AND coalesce(r.issuer_id, r.credential->'issuer'->>'id') IS NOT NULL GROUP BY 1) p),"
    " 'programmes', (SELECT coalesce(json_agg(DISTINCT r.target_programme), '[]')"
    "   FROM recognition_requests r WHERE " VISIBLE " AND r.target_programme IS NOT NULL))::text";

/* One request with its audit trail (every step: who — for staff with the account's
 * e-mail when a user acted — when, what), oldest first. */
static const char get_sql[] =
    "SELECT CASE WHEN j IS NULL THEN 404 ELSE 200 END, coalesce(j::text, 'no recognition "
    "request ' || $4)"
    " FROM (SELECT (SELECT recognition_request_json(r) || jsonb_build_object('audit',"
    "   (SELECT coalesce(jsonb_agg(jsonb_build_object('at', recognition_time(a.at),"
    "     'actor', a.actor, 'actor_email', (SELECT u.email FROM users u"
    "      WHERE $1 <> 'student' AND a.actor = 'user:' || u.id::text),"
    "     'action', a.action, 'details', a.details)"
    "     ORDER BY a.id), '[]')"
    "    FROM audit_log a WHERE a.entity = 'recognition_request' AND a.entity_id = r.id::text))"
    "  FROM recognition_requests r WHERE r.id = $4::uuid AND " VISIBLE ") j) x";

static bool may_read(struct api_call *c, const struct auth_user *u)
{
    if (strcmp(u->role, "student") == 0 || strcmp(u->role, "admin") == 0 ||
        (strcmp(u->role, "registrar") == 0 && u->institution_id[0] != '\0'))
        return true;
    api_call_fail(c, 403, "forbidden", "recognition requests are for students and registrars");
    return false;
}

static void list_authed(struct api_call *c, const struct auth_user *u)
{
    const char *status = http_request_query(api_call_request(c), "status");
    const char *partner = http_request_query(api_call_request(c), "partner");
    const char *programme = http_request_query(api_call_request(c), "programme");
    char limit[16];

    if (!may_read(c, u))
        return;
    if (status != NULL && strcmp(status, "submitted") != 0 && strcmp(status, "proposed") != 0 &&
        strcmp(status, "decided") != 0 && strcmp(status, "appealed") != 0) {
        api_call_fail(c, 400, "invalid_parameter",
                      "status: one of submitted, proposed, decided, appealed");
        return;
    }
    if ((partner != NULL && (partner[0] == '\0' || strlen(partner) > 512)) ||
        (programme != NULL && (programme[0] == '\0' || strlen(programme) > 512))) {
        api_call_fail(c, 400, "invalid_parameter",
                      "partner and programme: 1 to 512 characters when given");
        return;
    }
    snprintf(limit, sizeof(limit), "%d", REQUESTS_LIST_MAX);
    const char *params[7] = {u->role, u->id, u->institution_id, status, limit, partner, programme};
    api_call_query(c, list_sql, 7, params);
}

static void get_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id = http_request_param(api_call_request(c), "id");

    if (!may_read(c, u))
        return;
    if (!auth_uuid_is_valid(id)) {
        api_call_fail(c, 404, "not_found", "no recognition request %s", id);
        return;
    }
    const char *params[4] = {u->role, u->id, u->institution_id, id};
    api_call_query(c, get_sql, 4, params);
}

static void handle_list(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, list_authed, NULL, NULL);
}

static void handle_get(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, get_authed, NULL, NULL);
}

/* ---- decide and appeal ---- */

static const char decide_sql[] = "SELECT * FROM recognition_decide($1::uuid, $2::uuid, $3, $4, "
                                 "$5::numeric, $6, $7, $8)";
static const char appeal_sql[] = "SELECT * FROM recognition_appeal($1::uuid, $2::uuid, $3, $4)";

/* The id of the path for a transition, or NULL after a 404. */
static const char *transition_id(struct api_call *c)
{
    const char *id = http_request_param(api_call_request(c), "id");

    if (auth_uuid_is_valid(id))
        return id;
    api_call_fail(c, 404, "not_found", "no recognition request %s", id);
    return NULL;
}

static void decide_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id, *outcome = NULL;
    char credits[32] = "", grade[64], reasons[TEXT_MAX + 1], actor[64];
    struct json_value *v;
    struct mcx_error err;
    double n;

    if (strcmp(u->role, "registrar") != 0 || u->institution_id[0] == '\0') {
        api_call_fail(c, 403, "forbidden", "only a registrar of the target institution decides");
        return;
    }
    if ((id = transition_id(c)) == NULL || (v = api_call_json_object(c, 8)) == NULL)
        return;
    outcome = json_string_value(json_object_get(v, "outcome"), NULL);
    const struct json_value *cv = json_object_get(v, "credits");
    if (outcome == NULL ||
        (strcmp(outcome, "recognised") != 0 && strcmp(outcome, "partially_recognised") != 0 &&
         strcmp(outcome, "not_recognised") != 0)) {
        json_value_free(v);
        api_call_fail(c, 422, "validation_failed",
                      "outcome: recognised, partially_recognised or not_recognised");
        return;
    }
    if (cv != NULL && !json_is_null(cv)) {
        if (json_number_double(cv, &n) != 0 || !isfinite(n) || n < 0 || n > 300) {
            json_value_free(v);
            api_call_fail(c, 422, "validation_failed", "credits: a number of ECTS from 0 to 300");
            return;
        }
        snprintf(credits, sizeof(credits), "%s", json_number_text(cv));
    } else if (strcmp(outcome, "not_recognised") != 0) {
        json_value_free(v);
        api_call_fail(c, 422, "validation_failed", "credits: required when credits are recognised");
        return;
    }
    if (!opt_string(v, "grade", grade, sizeof(grade), "body", &err) ||
        !opt_text(v, "reasons", reasons, sizeof(reasons), "body", &err)) {
        json_value_free(v);
        api_call_fail(c, 422, "validation_failed", "%s", err.message + strlen("body."));
        return;
    }
    char outcome_copy[32];
    mcx_strlcpy(outcome_copy, outcome, sizeof(outcome_copy));
    json_value_free(v);
    snprintf(actor, sizeof(actor), "user:%s", u->id);
    const char *params[8] = {id,
                             u->id,
                             u->institution_id,
                             outcome_copy,
                             credits[0] ? credits : NULL,
                             grade[0] ? grade : NULL,
                             reasons[0] ? reasons : NULL,
                             actor};
    api_call_query(c, decide_sql, 8, params);
}

static void appeal_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id;
    char text[TEXT_MAX + 1], actor[64];
    struct json_value *v;
    struct mcx_error err;

    if (strcmp(u->role, "student") != 0) {
        api_call_fail(c, 403, "forbidden", "only the student who asked appeals a decision");
        return;
    }
    if ((id = transition_id(c)) == NULL || (v = api_call_json_object(c, 8)) == NULL)
        return;
    if (!opt_text(v, "text", text, sizeof(text), "body", &err) || text[0] == '\0') {
        json_value_free(v);
        api_call_fail(c, 422, "validation_failed",
                      "text: why the decision should change, 1 to %d bytes", TEXT_MAX);
        return;
    }
    json_value_free(v);
    snprintf(actor, sizeof(actor), "user:%s", u->id);
    const char *params[4] = {id, u->id, text, actor};
    api_call_query(c, appeal_sql, 4, params);
}

static void handle_decide(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, decide_authed, NULL, NULL);
}

static void handle_appeal(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, appeal_authed, NULL, NULL);
}

void requests_routes_add(struct mcxd *app)
{
    struct router *r = app->router;

    router_add(r, HTTP_POST, "/api/v1/recognition-requests", handle_submit, app, REQUEST_MAX_BODY);
    router_add(r, HTTP_GET, "/api/v1/recognition-requests", handle_list, app, 0);
    router_add(r, HTTP_GET, "/api/v1/recognition-requests/{id}", handle_get, app, 0);
    router_add(r, HTTP_POST, "/api/v1/recognition-requests/{id}/decision", handle_decide, app,
               64 * 1024);
    router_add(r, HTTP_POST, "/api/v1/recognition-requests/{id}/appeal", handle_appeal, app,
               64 * 1024);
}
