/*
 * admin.c — users and API tokens from the web (see admin.h): what `mcx user add` and
 * `mcx token create/revoke` do from a shell, for an admin signed in to the admin page
 * or holding a token. Each request is an api_call (server/api.h): authenticate, check
 * the caller and the input here, then one statement that writes with its audit_log
 * entry and answers. A new account's password is hashed on a helper thread
 * (server/offload.h), as sign-up's is.
 *
 * Secrets are shown once: a generated password and a new token appear in the 201
 * reply and nowhere else (the database keeps the scrypt hash and the token's SHA-256;
 * neither is ever sent to it in the clear).
 */
#include "server/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "server/accounts.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/offload.h"
#include "server/router.h"

/* The user as the admin API shows it (u: an alias of a users row); times in RFC 3339
 * UTC (recognition_time). */
#define USER_JSON(u)                                                                               \
    "json_build_object('id', " u ".id::text, 'email', " u ".email, 'role', " u ".role,"            \
    " 'institution', " u ".institution_id, 'display_name', " u ".display_name,"                    \
    " 'disabled', " u ".disabled_at IS NOT NULL,"                                                  \
    " 'email_confirmed', " u ".email_confirmed_at IS NOT NULL,"                                    \
    " 'disabled_at', recognition_time(" u ".disabled_at),"                                         \
    " 'created_at', recognition_time(" u ".created_at),"                                           \
    " 'tokens', (SELECT count(*) FROM api_tokens k"                                                \
    "  WHERE k.user_id = " u ".id AND k.revoked_at IS NULL))"

/* A token as the API shows it, never its secret (t: api_tokens, u: its user). */
#define TOKEN_JSON(t, u)                                                                           \
    "json_build_object('id', " t ".id::text, 'name', " t ".name,"                                  \
    " 'user', json_build_object('id', " u ".id::text, 'email', " u ".email,"                       \
    "  'role', " u ".role, 'institution', " u ".institution_id),"                                  \
    " 'created_at', recognition_time(" t ".created_at),"                                           \
    " 'last_used_at', recognition_time(" t ".last_used_at),"                                       \
    " 'revoked_at', recognition_time(" t ".revoked_at))"

/* By e-mail; each filter only when given. strpos, not LIKE: the text is no pattern. */
static const char users_list_sql[] =
    "SELECT 200, json_build_object('items', coalesce(json_agg(" USER_JSON(
        "u") " ORDER BY lower(u.email)), '[]'))::text"
             " FROM (SELECT * FROM users"
             "  WHERE ($1::text IS NULL OR role = $1) AND ($2::text IS NULL OR institution_id = $2)"
             "   AND ($3::text IS NULL OR strpos(lower(email), lower($3)) > 0"
             "        OR strpos(lower(coalesce(display_name, '')), lower($3)) > 0)"
             "  ORDER BY lower(email) LIMIT $4::int) u";

/*
 * A staff account. No row back: the institution is unknown (422) or the address is
 * taken, in any case (409). The admin is the actor; the password never reaches SQL.
 */
static const char user_create_sql[] =
    "WITH i AS (SELECT 1 AS ok WHERE $4::text IS NULL"
    "   OR EXISTS (SELECT 1 FROM institutions WHERE id = $4)),"
    " u AS (INSERT INTO users (email, password_hash, role, institution_id, display_name)"
    "  SELECT $1, $2, $3, $4, $5 FROM i WHERE true"
    "  ON CONFLICT ((lower(email))) DO NOTHING RETURNING *),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    "  SELECT $6, 'create', 'user', u.id::text, audit_hash(to_jsonb(u)),"
    "   jsonb_build_object('email', u.email, 'role', u.role, 'institution_id', u.institution_id,"
    "                      'via', 'admin') FROM u)"
    " SELECT CASE WHEN u.id IS NOT NULL THEN 201 WHEN NOT EXISTS (SELECT 1 FROM i) THEN 422"
    "  ELSE 409 END, (" USER_JSON("u") ")::text"
                                       " FROM (SELECT 1) one LEFT JOIN u ON true";

/*
 * Disable ($2 true) or enable a user. Disabling ends the user's sessions at once (a
 * token stops working by itself: the bearer check joins users and skips the disabled).
 * The audit log records a change, not a repeat.
 */
static const char user_state_sql[] =
    "WITH old AS (SELECT * FROM users WHERE id = $1::uuid FOR UPDATE),"
    " upd AS (UPDATE users u SET disabled_at ="
    "   CASE WHEN $2::boolean THEN coalesce(old.disabled_at, now()) END"
    "  FROM old WHERE u.id = old.id RETURNING u.*),"
    " s AS (DELETE FROM sessions WHERE $2::boolean AND user_id IN (SELECT id FROM upd)),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, after_hash,"
    "   details)"
    "  SELECT $3, CASE WHEN $2::boolean THEN 'disable' ELSE 'enable' END, 'user', upd.id::text,"
    "   audit_hash(to_jsonb(old)), audit_hash(to_jsonb(upd)), jsonb_build_object('email',"
    "   upd.email) FROM upd JOIN old ON old.id = upd.id"
    "  WHERE (old.disabled_at IS NULL) = $2::boolean)"
    " SELECT CASE WHEN upd.id IS NULL THEN 404 ELSE 200 END,"
    "  CASE WHEN upd.id IS NULL THEN 'no user ' || $1 ELSE (" USER_JSON(
        "upd") ")::text END"
               " FROM (SELECT 1) one LEFT JOIN upd ON true";

/* Newest first; $1: one user's only (NULL: everyone's). */
static const char tokens_list_sql[] =
    "SELECT 200, json_build_object('items', coalesce(json_agg(" TOKEN_JSON(
        "t",
        "u") " ORDER BY t.created_at DESC, t.id), '[]'))::text"
             " FROM (SELECT * FROM api_tokens WHERE $1::uuid IS NULL OR user_id = $1::uuid"
             "  ORDER BY created_at DESC, id LIMIT $2::int) t JOIN users u ON u.id = t.user_id";

/*
 * A token for the user named by id ($1) or e-mail ($2), if enabled. Status 404: no
 * such user; 409: disabled. The body is the token without its secret.
 */
static const char token_create_sql[] =
    "WITH tu AS (SELECT * FROM users WHERE ($1::uuid IS NOT NULL AND id = $1::uuid)"
    "   OR ($2::text IS NOT NULL AND lower(email) = lower($2))),"
    " t AS (INSERT INTO api_tokens (id, user_id, name, secret_hash)"
    "  SELECT $3::uuid, tu.id, $4, $5 FROM tu WHERE tu.disabled_at IS NULL RETURNING *),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    "  SELECT $6, 'create', 'api_token', t.id::text, audit_hash(to_jsonb(t)),"
    "   jsonb_build_object('user_id', t.user_id, 'name', t.name) FROM t)"
    " SELECT CASE WHEN t.id IS NOT NULL THEN 201 WHEN tu.id IS NULL THEN 404 ELSE 409 END,"
    "  (" TOKEN_JSON(
        "t", "tu") ")::text, tu.email"
                   " FROM (SELECT 1) one LEFT JOIN tu ON true LEFT JOIN t ON t.user_id = tu.id";

/*
 * Revokes the token $1 (of user $2 only, unless $2 is NULL: an admin). The row lock
 * makes a concurrent revoke wait, then find it revoked: one audit entry. The answer
 * is how many tokens matched: 0 is a 404, a revoked one again is fine.
 */
static const char token_revoke_sql[] =
    "WITH old AS (SELECT * FROM api_tokens WHERE id = $1::uuid"
    "   AND ($2::uuid IS NULL OR user_id = $2::uuid) FOR UPDATE),"
    " upd AS (UPDATE api_tokens t SET revoked_at = now() FROM old"
    "  WHERE t.id = old.id AND old.revoked_at IS NULL RETURNING t.*),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, before_hash, after_hash,"
    "   details)"
    "  SELECT $3, 'revoke', 'api_token', upd.id::text, audit_hash(to_jsonb(old)),"
    "   audit_hash(to_jsonb(upd)), jsonb_build_object('user_id', upd.user_id, 'name', upd.name)"
    "  FROM upd JOIN old ON old.id = upd.id)"
    " SELECT count(*) FROM old";

/* ---- shared pieces ---- */

static bool is_admin(const struct auth_user *u)
{
    return strcmp(u->role, "admin") == 0;
}

/* The caller as the audit log names it. */
static void actor_of(const struct auth_user *u, char out[64])
{
    snprintf(out, 64, "user:%s", u->id);
}

/* False after a 403 for anyone but an admin. */
static bool require_admin(struct api_call *c, const struct auth_user *u, const char *what)
{
    if (is_admin(u))
        return true;
    api_call_fail(c, 403, "forbidden", "%s: for admins only", what);
    return false;
}

/* The path's {id} as a user or token id; false after a 404 (no UUID names nothing). */
static bool path_id(struct api_call *c, const char *what, const char **id)
{
    *id = http_request_param(api_call_request(c), "id");
    if (*id != NULL && auth_uuid_is_valid(*id))
        return true;
    api_call_fail(c, 404, "not_found", "no %s %s", what, *id ? *id : "");
    return false;
}

/* A query parameter, NULL when absent or empty. */
static const char *query_param(struct api_call *c, const char *name)
{
    const char *v = http_request_query(api_call_request(c), name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * The string member key of obj into *out: NULL when absent or null. -1 (message in
 * err) for another type or a string holding a NUL character.
 */
static int member_string(const struct json_value *obj, const char *key, const char **out,
                         struct mcx_error *err)
{
    const struct json_value *v = json_object_get(obj, key);
    size_t len;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    *out = json_string_value(v, &len);
    if (*out == NULL || strlen(*out) != len) {
        mcx_error_set(err, "validation_failed", "%s must be a string without NUL characters", key);
        return -1;
    }
    return 0;
}

static bool role_is_valid(const char *role)
{
    static const char *const roles[] = {"student", "publisher", "registrar", "admin"};

    for (size_t i = 0; i < MCX_ARRAY_LEN(roles); i++)
        if (strcmp(role, roles[i]) == 0)
            return true;
    return false;
}

/* ---- GET /api/v1/users ---- */

static void users_list_authed(struct api_call *c, const struct auth_user *u)
{
    const char *role = query_param(c, "role"), *inst = query_param(c, "institution");
    const char *q = query_param(c, "q");
    char limit[16];

    if (!require_admin(c, u, "the user list"))
        return;
    if (role != NULL && !role_is_valid(role)) {
        api_call_fail(c, 400, "invalid_parameter",
                      "role is student, publisher, registrar or admin");
        return;
    }
    if (inst != NULL && !mcx_institution_id_is_valid(inst)) {
        api_call_fail(c, 400, "invalid_parameter", "institution is not an institution id");
        return;
    }
    if (q != NULL && strlen(q) > 254) {
        api_call_fail(c, 400, "invalid_parameter", "q is longer than 254 bytes");
        return;
    }
    snprintf(limit, sizeof(limit), "%d", ADMIN_LIST_MAX);
    const char *params[4] = {role, inst, q, limit};
    api_call_query(c, users_list_sql, 4, params);
}

/* ---- POST /api/v1/users with a staff role ---- */

struct staff_new {
    struct offload_job *job; /* scrypt, while it runs */
    char email[256];
    char role[16];
    char institution[128]; /* "" for none */
    char name[ACCOUNTS_NAME_MAX_BYTES + 1];
    char password[AUTH_PASSWORD_MAX_LEN + 1];
    bool is_generated; /* the reply shows a generated password, once */
    char actor[64];
};

static void staff_free(void *data)
{
    struct staff_new *sn = data;

    offload_cancel(sn->job);
    OPENSSL_cleanse(sn->password, sizeof(sn->password));
    free(sn);
}

/* What the helper thread gets: a copy of the password, and the hash back. */
struct staff_hash_job {
    char password[AUTH_PASSWORD_MAX_LEN + 1];
    char hash[AUTH_PASSWORD_HASH_SIZE];
    int rc;
};

static void staff_hash_work(void *data)
{
    struct staff_hash_job *j = data;

    j->rc = auth_password_hash(j->password, j->hash, sizeof(j->hash));
    OPENSSL_cleanse(j->password, sizeof(j->password));
}

/* The body's fields into sn; -1 with the message in err (all 422: valid JSON, bad
 * content). The password is generated when the body gives none. */
static int staff_read(struct staff_new *sn, const struct json_value *v, struct mcx_error *err)
{
    const char *email, *role, *inst, *password, *name;

    if (member_string(v, "email", &email, err) < 0 || member_string(v, "role", &role, err) < 0 ||
        member_string(v, "institution", &inst, err) < 0 ||
        member_string(v, "password", &password, err) < 0 ||
        member_string(v, "name", &name, err) < 0)
        return -1;
    if (email == NULL || accounts_email_normalise(email, sn->email) < 0 ||
        !auth_email_is_valid(sn->email)) {
        mcx_error_set(err, "validation_failed", "email is required: a valid e-mail address");
        return -1;
    }
    if (role == NULL || !role_is_valid(role)) {
        mcx_error_set(err, "validation_failed", "role is student, publisher, registrar or admin");
        return -1;
    }
    mcx_strlcpy(sn->role, role, sizeof(sn->role));
    if (inst != NULL && inst[0] != '\0' && !mcx_institution_id_is_valid(inst)) {
        mcx_error_set(err, "validation_failed", "institution is not an institution id");
        return -1;
    }
    if (inst != NULL)
        mcx_strlcpy(sn->institution, inst, sizeof(sn->institution));
    if (sn->institution[0] == '\0' &&
        (strcmp(role, "publisher") == 0 || strcmp(role, "registrar") == 0)) {
        mcx_error_set(err, "validation_failed", "institution is required for a %s", role);
        return -1;
    }
    if (accounts_name_read(name, sn->name, err) < 0)
        return -1;
    if (password == NULL) {
        sn->is_generated = true;
        if (auth_password_generate(sn->password, sizeof(sn->password)) < 0) {
            mcx_error_set(err, "internal_error", "cannot generate a password");
            return -1;
        }
        return 0;
    }
    if (accounts_password_check(password, err) < 0)
        return -1;
    mcx_strlcpy(sn->password, password, sizeof(sn->password));
    return 0;
}

static void staff_created(struct api_call *c, struct db_result *res)
{
    struct staff_new *sn = api_call_data(c);
    int status = atoi(db_result_value(res, 0, 0));
    struct json_writer w;
    struct buf b;

    if (status == 422) {
        api_call_fail(c, 422, "validation_failed", "institution %s is not known to this node",
                      sn->institution);
        return;
    }
    if (status != 201) {
        api_call_fail(c, 409, "conflict", "an account with the e-mail address %s exists",
                      sn->email);
        return;
    }
    const char *user = db_result_value(res, 0, 1);
    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_key(&w, "user");
    json_raw(&w, user, strlen(user));
    if (sn->is_generated)
        json_kv_string(&w, "password", sn->password);
    json_object_end(&w);
    api_call_reply_json(c, 201, &b);
}

/* The password is hashed (on the helper thread): the account can be stored. */
static void staff_hashed(void *data, void *arg)
{
    struct staff_hash_job *j = data;
    struct api_call *c = arg;
    struct staff_new *sn = api_call_data(c);

    sn->job = NULL;
    if (j->rc < 0) {
        api_call_fail(c, 500, "internal_error", "cannot hash the password");
        return;
    }
    const char *params[6] = {sn->email,
                             j->hash,
                             sn->role,
                             sn->institution[0] != '\0' ? sn->institution : NULL,
                             sn->name[0] != '\0' ? sn->name : NULL,
                             sn->actor};
    api_call_db(c, user_create_sql, 6, params, staff_created);
}

static void staff_authed(struct api_call *c, const struct auth_user *u)
{
    struct staff_new *sn = api_call_data(c);
    struct json_value *v;
    struct mcx_error err;
    struct staff_hash_job *j;

    if (!require_admin(c, u, "staff accounts") || (v = api_call_json_object(c, 4)) == NULL)
        return;
    if (staff_read(sn, v, &err) < 0) {
        json_value_free(v);
        api_call_fail(c, strcmp(err.code, "internal_error") == 0 ? 500 : 422, err.code, "%s",
                      err.message);
        return;
    }
    json_value_free(v);
    actor_of(u, sn->actor);
    j = xcalloc(1, sizeof(*j));
    mcx_strlcpy(j->password, sn->password, sizeof(j->password));
    sn->job = offload_submit(api_call_app(c)->offload, staff_hash_work, j, staff_hashed, c);
    if (sn->job == NULL) {
        http_response_header(api_call_request(c), "Retry-After", "1");
        api_call_fail(c, 503, "busy", "too many passwords being hashed at once: try again");
    }
}

bool admin_user_body_is_staff(struct http_request *req)
{
    const char *ct = http_request_header(req, "Content-Type");
    size_t len;
    const char *body = http_request_body(req, &len);
    struct mcx_error err;
    struct json_value *v;
    const char *role;
    bool is_staff;

    if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 || len == 0)
        return false;
    v = json_parse(body, len, 4, &err);
    if (v == NULL)
        return false;
    role = json_is_object(v) ? json_string_value(json_object_get(v, "role"), NULL) : NULL;
    is_staff = role != NULL && strcmp(role, "student") != 0;
    json_value_free(v);
    return is_staff;
}

void admin_user_create(struct http_request *req, struct mcxd *app)
{
    api_call_begin(req, app, staff_authed, xcalloc(1, sizeof(struct staff_new)), staff_free);
}

/* ---- POST /api/v1/users/{id}/disable and /enable ---- */

static void user_state(struct api_call *c, const struct auth_user *u, bool is_disable)
{
    const char *id;
    char actor[64];

    if (!require_admin(c, u, "disabling and enabling users") || !path_id(c, "user", &id))
        return;
    if (is_disable && strcmp(id, u->id) == 0) {
        api_call_fail(c, 409, "conflict", "an admin cannot disable their own account");
        return;
    }
    actor_of(u, actor);
    const char *params[3] = {id, is_disable ? "true" : "false", actor};
    api_call_query(c, user_state_sql, 3, params);
}

static void disable_authed(struct api_call *c, const struct auth_user *u)
{
    user_state(c, u, true);
}

static void enable_authed(struct api_call *c, const struct auth_user *u)
{
    user_state(c, u, false);
}

/* ---- POST /api/v1/users/{id}/confirm-email ---- */

/* An admin vouches for a user's address (as `mcx user confirm`): idempotent, audited
 * only when it changes something. */
static const char confirm_email_sql[] =
    "WITH old AS (SELECT * FROM users WHERE id = $1::uuid FOR UPDATE),"
    " upd AS (UPDATE users u SET email_confirmed_at = coalesce(old.email_confirmed_at, now())"
    "  FROM old WHERE u.id = old.id RETURNING u.*),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, details)"
    "  SELECT $2, 'confirm_email', 'user', upd.id::text,"
    "   jsonb_build_object('email', upd.email, 'via', 'admin')"
    "  FROM upd JOIN old ON old.id = upd.id WHERE old.email_confirmed_at IS NULL)"
    " SELECT CASE WHEN upd.id IS NULL THEN 404 ELSE 200 END,"
    "  CASE WHEN upd.id IS NULL THEN 'no user ' || $1 ELSE (" USER_JSON(
        "upd") ")::text END"
               " FROM (SELECT 1) one LEFT JOIN upd ON true";

static void confirm_email_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id;
    char actor[64];

    if (!require_admin(c, u, "confirming a user's e-mail address") || !path_id(c, "user", &id))
        return;
    actor_of(u, actor);
    const char *params[2] = {id, actor};
    api_call_query(c, confirm_email_sql, 2, params);
}

/* ---- tokens ---- */

static void tokens_list_authed(struct api_call *c, const struct auth_user *u)
{
    const char *user = query_param(c, "user");
    char limit[16];

    if (user != NULL && !auth_uuid_is_valid(user)) {
        api_call_fail(c, 400, "invalid_parameter", "user is a user id (a UUID)");
        return;
    }
    if (!is_admin(u)) {
        if (user != NULL && strcmp(user, u->id) != 0) {
            api_call_fail(c, 403, "forbidden", "only an admin sees another user's tokens");
            return;
        }
        user = u->id;
    }
    snprintf(limit, sizeof(limit), "%d", ADMIN_LIST_MAX);
    const char *params[2] = {user, limit};
    api_call_query(c, tokens_list_sql, 2, params);
}

struct token_new {
    char token[AUTH_TOKEN_SIZE];
    char target[256]; /* the body's "user", or "" for the caller */
};

static void token_free(void *data)
{
    struct token_new *tn = data;

    OPENSSL_cleanse(tn->token, sizeof(tn->token));
    free(tn);
}

/* The row's JSON with the token as its first member: the one time it is shown. */
static void token_created(struct api_call *c, struct db_result *res)
{
    struct token_new *tn = api_call_data(c);
    int status = atoi(db_result_value(res, 0, 0));
    const char *row = db_result_value(res, 0, 1);
    struct buf b;

    if (status == 404) {
        api_call_fail(c, 404, "not_found", "no user %s", tn->target);
        return;
    }
    if (status != 201 || row == NULL || row[0] != '{') {
        api_call_fail(c, 409, "conflict", "user %s is disabled: enable it first",
                      db_result_value(res, 0, 2));
        return;
    }
    buf_init(&b);
    buf_puts(&b, "{\"token\":");
    json_escape(&b, tn->token, strlen(tn->token));
    buf_putc(&b, ',');
    buf_puts(&b, row + 1);
    api_call_reply_json(c, 201, &b);
}

/* The body's "user" (id or e-mail) into tn->target; -1 with the message in err. */
static int token_target_read(struct token_new *tn, const char *user, struct mcx_error *err)
{
    if (user == NULL)
        return 0;
    if (!auth_uuid_is_valid(user) &&
        (accounts_email_normalise(user, tn->target) < 0 || !auth_email_is_valid(tn->target))) {
        mcx_error_set(err, "validation_failed", "user is a user id or an e-mail address");
        return -1;
    }
    if (auth_uuid_is_valid(user))
        mcx_strlcpy(tn->target, user, sizeof(tn->target));
    return 0;
}

static bool is_self(const struct auth_user *u, const char *target)
{
    return target[0] == '\0' || strcmp(target, u->id) == 0 || strcasecmp(target, u->email) == 0;
}

static void token_create_authed(struct api_call *c, const struct auth_user *u)
{
    struct token_new *tn = api_call_data(c);
    struct json_value *v;
    struct mcx_error err;
    const char *name, *user;
    char label[ACCOUNTS_NAME_MAX_BYTES + 1], id[AUTH_UUID_LEN + 1], hash[AUTH_HASH_HEX_SIZE];
    char actor[64];

    if ((v = api_call_json_object(c, 4)) == NULL)
        return;
    if (member_string(v, "name", &name, &err) < 0 || member_string(v, "user", &user, &err) < 0 ||
        accounts_name_read(name, label, &err) < 0 || token_target_read(tn, user, &err) < 0) {
        json_value_free(v);
        api_call_fail(c, 422, "validation_failed", "%s", err.message);
        return;
    }
    json_value_free(v);
    if (!is_admin(u) && !is_self(u, tn->target)) {
        api_call_fail(c, 403, "forbidden", "only an admin makes tokens for another user");
        return;
    }
    if (auth_token_generate(tn->token, sizeof(tn->token), id, hash) < 0) {
        api_call_fail(c, 500, "internal_error", "cannot generate a token");
        return;
    }
    bool is_id = tn->target[0] == '\0' || auth_uuid_is_valid(tn->target);
    actor_of(u, actor);
    const char *params[6] = {tn->target[0] == '\0' ? u->id
                             : is_id               ? tn->target
                                                   : NULL,
                             is_id ? NULL : tn->target,
                             id,
                             label[0] != '\0' ? label : NULL,
                             hash,
                             actor};
    api_call_db(c, token_create_sql, 6, params, token_created);
}

static void token_revoked(struct api_call *c, struct db_result *res)
{
    struct buf empty;

    if (strcmp(db_result_value(res, 0, 0), "0") == 0) {
        api_call_fail(c, 404, "not_found", "no token %s",
                      http_request_param(api_call_request(c), "id"));
        return;
    }
    buf_init(&empty);
    api_call_reply_buf(c, 204, NULL, &empty);
}

static void token_revoke_authed(struct api_call *c, const struct auth_user *u)
{
    const char *id;
    char actor[64];

    /* another user's token is "not found" to anyone but an admin: it tells no more */
    if (!path_id(c, "token", &id))
        return;
    actor_of(u, actor);
    const char *params[3] = {id, is_admin(u) ? NULL : u->id, actor};
    api_call_db(c, token_revoke_sql, 3, params, token_revoked);
}

/* ---- routes ---- */

static void handle_users_list(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, users_list_authed, NULL, NULL);
}

static void handle_disable(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, disable_authed, NULL, NULL);
}

static void handle_enable(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, enable_authed, NULL, NULL);
}

static void handle_confirm_email(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, confirm_email_authed, NULL, NULL);
}

static void handle_tokens_list(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, tokens_list_authed, NULL, NULL);
}

static void handle_token_create(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, token_create_authed, xcalloc(1, sizeof(struct token_new)), token_free);
}

static void handle_token_revoke(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, token_revoke_authed, NULL, NULL);
}

void admin_routes_add(struct mcxd *app)
{
    struct router *r = app->router;

    router_add(r, HTTP_GET, "/api/v1/users", handle_users_list, app, 0);
    router_add(r, HTTP_POST, "/api/v1/users/{id}/disable", handle_disable, app, 0);
    router_add(r, HTTP_POST, "/api/v1/users/{id}/enable", handle_enable, app, 0);
    router_add(r, HTTP_POST, "/api/v1/users/{id}/confirm-email", handle_confirm_email, app, 0);
    router_add(r, HTTP_GET, "/api/v1/tokens", handle_tokens_list, app, 0);
    router_add(r, HTTP_POST, "/api/v1/tokens", handle_token_create, app, ADMIN_MAX_BODY);
    router_add(r, HTTP_DELETE, "/api/v1/tokens/{id}", handle_token_revoke, app, 0);
}
