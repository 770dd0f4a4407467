/*
 * accounts.c — sign-up and the browser session. Each request is a struct acct that
 * moves through its steps (parse → scrypt → one statement → reply) from callbacks;
 * every path ends in exactly one reply, and a client that goes away cancels the
 * pending check or query. Every write is one statement with its audit_log entry.
 *
 * scrypt runs on the loop: about 80 ms of one core (and 32 MiB) per sign-up or
 * sign-in, during which this worker answers nothing else. Sign-ins are rare next to
 * reads, and the cost is the point of scrypt; a node that expects bursts of them
 * runs more workers (docs/operations.md, "Accounts"). Nothing here limits how often
 * one client may try: that belongs in front of the node for now (a rate limit on
 * POST /api/v1/session and /api/v1/users).
 */
#include "server/accounts.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "server/admin.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/confirm.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/offload.h"
#include "server/ops.h"
#include "server/router.h"

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The user as the API shows it (u: a users row). */
#define USER_JSON                                                                                  \
    "jsonb_build_object('id', u.id::text, 'email', u.email, 'role', u.role,"                       \
    " 'name', u.display_name, 'institution', u.institution_id,"                                    \
    " 'email_confirmed', u.email_confirmed_at IS NOT NULL,"                                        \
    " 'created_at', " RFC3339("u.created_at") ")::text"

/* A taken address (in any case) gives no row back, as in `mcx user add`: 409. The new
 * user is the actor of its own creation. Its address is not confirmed: with mail, $5
 * is the hash of the confirmation link the reply waits to send. */
static const char signup_sql[] =
    "WITH u AS ("
    " INSERT INTO users (email, password_hash, role, institution_id, display_name,"
    "  email_confirmed_at, confirmation_sent_at)"
    " VALUES ($1, $2, 'student', $3, $4, NULL, CASE WHEN $5::text IS NOT NULL THEN now() END)"
    " ON CONFLICT ((lower(email))) DO NOTHING RETURNING *),"
    " c AS (INSERT INTO email_confirmations (token_hash, user_id, email, expires_at)"
    "  SELECT $5, u.id, u.email, now() + " CONFIRM_TTL_SQL " FROM u WHERE $5::text IS NOT NULL),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    "  SELECT 'user:' || u.id, 'create', 'user', u.id::text, audit_hash(to_jsonb(u)),"
    "   jsonb_build_object('email', u.email, 'role', u.role, 'institution_id', u.institution_id,"
    "                      'via', 'sign-up')"
    "  FROM u)"
    " SELECT " USER_JSON " FROM u";

static const char signin_find_sql[] = "SELECT id::text, password_hash, disabled_at IS NULL"
                                      " FROM users WHERE lower(email) = lower($1)";

/*
 * The new session, for a user still enabled. The session the browser had before (if
 * any) ends with it, and so do up to 100 expired ones: the table stays small without
 * a sweeper, and SKIP LOCKED keeps two sign-ins from waiting on each other's sweep.
 */
static const char signin_sql[] =
    "WITH u AS (SELECT * FROM users WHERE id = $1::uuid AND disabled_at IS NULL),"
    " s AS (INSERT INTO sessions (id, user_id, csrf_token, expires_at)"
    "  SELECT $2, u.id, $3, now() + make_interval(secs => $4::int) FROM u"
    "  RETURNING user_id, expires_at),"
    " old AS (DELETE FROM sessions WHERE id = $5 OR id IN (SELECT id FROM sessions"
    "  WHERE expires_at <= now() ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)),"
    " a AS (INSERT INTO audit_log (actor, action, entity, entity_id, details)"
    "  SELECT 'user:' || s.user_id, 'sign_in', 'user', s.user_id::text,"
    "   jsonb_build_object('expires_at', s.expires_at) FROM s)"
    " SELECT " USER_JSON ", " RFC3339("s.expires_at") " FROM u, s";

static const char whoami_sql[] =
    "SELECT " USER_JSON
    ", " RFC3339("s.expires_at") " FROM sessions s JOIN users u ON u.id = s.user_id"
                                 " WHERE s.id = $1";

static const char signout_sql[] =
    "WITH s AS (DELETE FROM sessions WHERE id = $1 RETURNING user_id)"
    " INSERT INTO audit_log (actor, action, entity, entity_id)"
    " SELECT 'user:' || s.user_id, 'sign_out', 'user', s.user_id::text FROM s";

#define MSG_BAD_CREDENTIALS "wrong e-mail address or password"

struct acct {
    struct http_request *req;
    struct mcxd *app;
    struct auth_op *auth;
    struct db_op *op;
    struct offload_job *job; /* scrypt, on a helper thread */
    char email[256];
    char password[AUTH_PASSWORD_MAX_LEN + 1];
    char *name;                           /* sign-up: NULL for none */
    char *institution;                    /* sign-up: NULL for none */
    char user_id[AUTH_UUID_LEN + 1];      /* sign-in */
    char old_session[AUTH_HASH_HEX_SIZE]; /* sign-in: the browser's session before, or "" */
    struct auth_session session;          /* sign-in: the new one */
    char csrf_token[AUTH_SECRET_SIZE];    /* who-am-I: the session's */
    struct mail_op *mail;                 /* sign-up: the confirmation mail */
    char link_secret[AUTH_SECRET_SIZE];   /* sign-up: its link's secret, or "" */
    char link_hash[AUTH_HASH_HEX_SIZE];
    struct buf reply; /* sign-up: the new user, while the mail goes */
};

/* ---- lifecycle ---- */

static struct acct *acct_new(struct http_request *req, struct mcxd *app)
{
    struct acct *a = xcalloc(1, sizeof(*a));

    a->req = req;
    a->app = app;
    /* Personal data and secrets: no cache may keep any answer here. */
    http_response_header(req, "Cache-Control", "no-store");
    return a;
}

static void acct_free(struct acct *a)
{
    OPENSSL_cleanse(a->password, sizeof(a->password));
    OPENSSL_cleanse(&a->session,
                    sizeof(a->session)); /* not explicit_bzero: gcc -O2 misreads the struct */
    OPENSSL_cleanse(a->csrf_token, sizeof(a->csrf_token));
    OPENSSL_cleanse(a->link_secret, sizeof(a->link_secret));
    buf_cleanup(&a->reply);
    free(a->name);
    free(a->institution);
    free(a);
}

static void acct_cancel(void *data)
{
    struct acct *a = data;

    auth_op_cancel(a->auth);
    db_op_cancel(a->op);
    offload_cancel(a->job);
    mail_cancel(a->mail);
    acct_free(a);
}

/*
 * scrypt costs tens of milliseconds by design: it runs on a helper thread
 * (server/offload.c), on a copy of what it needs, so the loop keeps serving and a
 * request that goes away leaves nothing the thread could touch.
 */
struct pw_job {
    char password[AUTH_PASSWORD_MAX_LEN + 1];
    char hash[AUTH_PASSWORD_HASH_SIZE]; /* check: the stored hash; hash: the result */
    bool has_hash;
    int rc;
};

static struct pw_job *pw_job_new(struct acct *a, const char *hash)
{
    struct pw_job *pj = xcalloc(1, sizeof(*pj));

    mcx_strlcpy(pj->password, a->password, sizeof(pj->password));
    OPENSSL_cleanse(a->password, sizeof(a->password));
    if (hash != NULL && strlen(hash) < sizeof(pj->hash)) {
        memcpy(pj->hash, hash, strlen(hash) + 1);
        pj->has_hash = true;
    }
    return pj;
}

static void pw_hash_work(void *data)
{
    struct pw_job *pj = data;

    pj->rc = auth_password_hash(pj->password, pj->hash, sizeof(pj->hash));
    OPENSSL_cleanse(pj->password, sizeof(pj->password));
}

static void pw_check_work(void *data)
{
    struct pw_job *pj = data;

    /* no hash (no such user): the same work on a stand-in, the same answer */
    pj->rc = auth_password_check(pj->password, pj->has_hash ? pj->hash : NULL);
    OPENSSL_cleanse(pj->password, sizeof(pj->password));
}

/* Ends the request's async part: no more cancellation; the caller replies and frees. */
static struct http_request *acct_detach(struct acct *a)
{
    http_request_on_cancel(a->req, NULL, NULL);
    return a->req;
}

/* Queues the scrypt work; 503 when too many are waiting (a flood of sign-ins). */
static bool pw_submit(struct acct *a, struct pw_job *pj, offload_work_fn work, offload_done_fn done)
{
    struct http_request *req;

    http_request_on_cancel(a->req, acct_cancel, a);
    a->job = offload_submit(a->app->offload, work, pj, done, a);
    if (a->job != NULL)
        return true;
    req = acct_detach(a);
    http_response_header(req, "Retry-After", "1");
    http_reply_error(req, 503, "busy", "too many sign-ins at once: try again");
    acct_free(a);
    return false;
}

static void acct_fail_db(struct acct *a, const struct db_error *err)
{
    ops_reply_db_error(acct_detach(a), err);
    acct_free(a);
}

/* The browser sees the cookie as Secure only when it reaches the node over HTTPS:
 * the node's own TLS, or a TLS-terminating proxy named by --public-url. */
static bool cookie_is_secure(const struct mcxd *app)
{
    return app->cfg->tls_cert[0] != '\0' || strncmp(app->cfg->public_url, "https://", 8) == 0;
}

static void set_cookie(struct http_request *req, const struct mcxd *app, const char *secret)
{
    char cookie[AUTH_SET_COOKIE_SIZE];

    auth_session_cookie(cookie, secret, cookie_is_secure(app));
    http_response_header(req, "Set-Cookie", cookie);
}

/* True (and its secret) when the request carries a well-formed session cookie. */
static bool request_session(struct http_request *req, char secret[AUTH_SECRET_SIZE])
{
    const char *h;

    for (size_t i = 0; (h = http_request_header_nth(req, "Cookie", i)) != NULL; i++)
        if (auth_cookie_session(h, secret))
            return true;
    return false;
}

/* ---- request bodies ---- */

/* The body as a JSON object, or NULL when it replied (api_json_body: JSON only). */
static struct json_value *read_body(struct http_request *req)
{
    size_t len;
    const char *body;
    struct mcx_error err;
    struct json_value *v;

    if (!api_json_body(req, &body, &len))
        return NULL;
    v = json_parse(body, len, 4, &err);
    if (v == NULL) {
        http_reply_mcx_error(req, 400, &err);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_value_free(v);
        http_reply_error(req, 400, "malformed_json", "the body is not a JSON object");
        return NULL;
    }
    return v;
}

/* "<key> <what>" as a validation error of the member key; returns -1. */
static int field_error(struct mcx_error *err, const char *key, const char *what)
{
    mcx_error_set(err, "validation_failed", "%s %s", key, what);
    snprintf(err->path, sizeof(err->path), "/%s", key);
    return -1;
}

/*
 * The string member key of obj into *out: NULL when absent or null (an error if
 * required), else its text. -1 (err set, with the member's path) for another type
 * or a string holding a NUL character.
 */
static int member_string(const struct json_value *obj, const char *key, bool is_required,
                         const char **out, struct mcx_error *err)
{
    const struct json_value *v = json_object_get(obj, key);
    const char *s;
    size_t len;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return is_required ? field_error(err, key, "is required") : 0;
    s = json_string_value(v, &len);
    if (s == NULL)
        return field_error(err, key, "must be a string");
    if (strlen(s) != len)
        return field_error(err, key, "must not hold NUL characters");
    *out = s;
    return 0;
}

int accounts_email_normalise(const char *s, char out[256])
{
    size_t n;

    s += strspn(s, " \t");
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= 256)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    out[n] = '\0';
    return 0;
}

/* Unicode code points of valid UTF-8 (what a person calls characters, near enough). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

int accounts_name_read(const char *s, char out[ACCOUNTS_NAME_MAX_BYTES + 1], struct mcx_error *err)
{
    size_t n;

    out[0] = '\0';
    if (s == NULL)
        return 0;
    s += strspn(s, " \t");
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return field_error(err, "name", "must not hold control characters");
    if (n > ACCOUNTS_NAME_MAX_BYTES)
        return field_error(err, "name", "is longer than 200 bytes");
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* The display name as sign-up keeps it: NULL when none. */
static int name_read(const char *s, char **out, struct mcx_error *err)
{
    char name[ACCOUNTS_NAME_MAX_BYTES + 1];

    *out = NULL;
    if (accounts_name_read(s, name, err) < 0)
        return -1;
    if (name[0] != '\0')
        *out = xstrdup(name);
    return 0;
}

int accounts_password_check(const char *s, struct mcx_error *err)
{
    if (strlen(s) > AUTH_PASSWORD_MAX_LEN)
        return field_error(err, "password", "is longer than 1024 bytes");
    if (utf8_chars(s) < ACCOUNTS_PASSWORD_MIN_CHARS)
        return field_error(err, "password", "needs at least 10 characters");
    return 0;
}

/* A new password: long enough to resist guessing, short enough for scrypt's input. */
static int password_read(const char *s, char *out, size_t size, struct mcx_error *err)
{
    if (accounts_password_check(s, err) < 0)
        return -1;
    mcx_strlcpy(out, s, size);
    return 0;
}

/* ---- POST /api/v1/users: student sign-up ---- */

/* Reads the sign-up fields into a; -1 with err set. */
static int signup_read(struct acct *a, const struct json_value *v, struct mcx_error *err)
{
    const char *email, *password, *name, *inst, *role;

    if (member_string(v, "email", true, &email, err) < 0 ||
        member_string(v, "password", true, &password, err) < 0 ||
        member_string(v, "name", false, &name, err) < 0 ||
        member_string(v, "home_institution", false, &inst, err) < 0 ||
        member_string(v, "role", false, &role, err) < 0)
        return -1;
    if (accounts_email_normalise(email, a->email) < 0 || !auth_email_is_valid(a->email))
        return field_error(err, "email", "is not a valid e-mail address");
    if (password_read(password, a->password, sizeof(a->password), err) < 0 ||
        name_read(name, &a->name, err) < 0)
        return -1;
    if (inst != NULL && !mcx_institution_id_is_valid(inst))
        return field_error(err, "home_institution", "is not an institution id");
    if (role != NULL && strcmp(role, "student") != 0)
        return field_error(err, "role",
                           "can only be student (staff accounts are made with `mcx user add`)");
    if (inst != NULL)
        a->institution = xstrdup(inst);
    return 0;
}

/* The new account, with whether its confirmation mail went out ("sent", or "failed":
 * the person asks again from their page). */
static void signup_reply(struct acct *a, bool sent)
{
    json_object_append(&a->reply, "confirmation_mail", sent ? "\"sent\"" : "\"failed\"");
    http_reply_json(acct_detach(a), 201, &a->reply);
    acct_free(a);
}

static void signup_unsent(struct db_result *res, const struct db_error *err, void *arg)
{
    struct acct *a = arg;

    (void)res;
    (void)err; /* the link stays, unused: asking again then waits a minute */
    a->op = NULL;
    signup_reply(a, false);
}

/* A mail that did not go out leaves no link, so asking again works at once. */
static void signup_mailed(bool ok, const char *error, void *arg)
{
    struct acct *a = arg;
    const char *params[1] = {a->link_hash};

    (void)error; /* logged by mail.c */
    a->mail = NULL;
    if (ok)
        signup_reply(a, true);
    else
        a->op = db_query(a->app->pool, confirm_unsent_sql, 1, params, signup_unsent, a);
}

static void signup_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct acct *a = arg;
    struct http_request *req;
    struct mcx_error e;
    struct buf b;

    a->op = NULL;
    if (err != NULL && err->kind == DB_ERR_QUERY && strcmp(err->sqlstate, "23503") == 0) {
        field_error(&e, "home_institution", "names no institution of this node");
        http_reply_mcx_error(acct_detach(a), 400, &e);
        acct_free(a);
        return;
    }
    if (err != NULL && err->kind == DB_ERR_QUERY && strcmp(err->sqlstate, "23514") == 0) {
        http_reply_error(acct_detach(a), 400, "validation_failed", "the account was refused: %s",
                         err->message);
        acct_free(a);
        return;
    }
    if (err != NULL) {
        acct_fail_db(a, err);
        return;
    }
    if (db_result_rows(res) > 0 && a->link_secret[0] != '\0') {
        /* the reply waits for the confirmation mail, which it reports */
        buf_puts(&a->reply, db_result_value(res, 0, 0));
        a->mail = confirm_mail_send(a->app, a->email, a->link_secret, signup_mailed, a);
        OPENSSL_cleanse(a->link_secret, sizeof(a->link_secret));
        return;
    }
    req = acct_detach(a);
    if (db_result_rows(res) == 0) {
        /* Says no more than a sign-up must: not who, not since when, not which role. */
        http_reply_error(req, 409, "conflict",
                         "an account with this e-mail address exists: sign in instead");
    } else {
        buf_init(&b);
        buf_puts(&b, db_result_value(res, 0, 0));
        json_object_append(&b, "confirmation_mail", "\"unavailable\"");
        http_reply_json(req, 201, &b);
    }
    acct_free(a);
}

typedef int (*acct_reader)(struct acct *a, const struct json_value *v, struct mcx_error *err);

/* A new acct filled from the request's JSON body by read; NULL once a 4xx is answered. */
static struct acct *acct_from_body(struct http_request *req, struct mcxd *app, acct_reader read)
{
    struct acct *a = acct_new(req, app);
    struct json_value *v = read_body(req);
    struct mcx_error err;

    if (v == NULL) {
        acct_free(a);
        return NULL;
    }
    if (read(a, v, &err) < 0) {
        json_value_free(v);
        http_reply_mcx_error(req, 400, &err);
        acct_free(a);
        return NULL;
    }
    json_value_free(v);
    return a;
}

/* The password is hashed: the user can be inserted. */
static void signup_hashed(void *data, void *arg)
{
    struct pw_job *pj = data;
    struct acct *a = arg;
    const char *params[5];

    a->job = NULL;
    if (pj->rc < 0) {
        http_reply_error(acct_detach(a), 500, "internal_error", "cannot hash the password");
        acct_free(a);
        return;
    }
    if (mail_available(a->app) && confirm_token_new(a->link_secret, a->link_hash) != 0) {
        http_reply_error(acct_detach(a), 500, "internal_error", "cannot make a confirmation link");
        acct_free(a);
        return;
    }
    params[0] = a->email;
    params[1] = pj->hash;
    params[2] = a->institution;
    params[3] = a->name;
    params[4] = a->link_secret[0] != '\0' ? a->link_hash : NULL;
    a->op = db_query(a->app->pool, signup_sql, 5, params, signup_done, a);
}

static void handle_signup(struct http_request *req, void *arg)
{
    struct acct *a;

    /* A staff role is no sign-up: an admin creates the account (server/admin.c). */
    if (admin_user_body_is_staff(req)) {
        admin_user_create(req, arg);
        return;
    }
    a = acct_from_body(req, arg, signup_read);
    if (a == NULL)
        return;
    /* Hashed even when the address turns out to be taken: both answers cost the same. */
    pw_submit(a, pw_job_new(a, NULL), pw_hash_work, signup_hashed);
}

/* ---- POST /api/v1/session: sign in ---- */

static void reply_bad_credentials(struct http_request *req)
{
    http_response_header(req, "WWW-Authenticate", "Bearer realm=\"mcx\"");
    http_reply_error(req, 401, "invalid_credentials", MSG_BAD_CREDENTIALS);
}

static void signin_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct acct *a = arg;
    struct http_request *req;
    struct json_writer w;
    struct buf b;
    const char *user;

    a->op = NULL;
    if (err != NULL) {
        acct_fail_db(a, err);
        return;
    }
    req = acct_detach(a);
    if (db_result_rows(res) != 1) { /* disabled since the password was checked */
        reply_bad_credentials(req);
        acct_free(a);
        return;
    }
    user = db_result_value(res, 0, 0);
    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_key(&w, "user");
    json_raw(&w, user, strlen(user));
    json_kv_string(&w, "csrf_token", a->session.csrf_token);
    json_kv_string(&w, "expires_at", db_result_value(res, 0, 1));
    json_object_end(&w);
    set_cookie(req, a->app, a->session.secret);
    http_reply_json(req, 200, &b);
    acct_free(a);
}

/* The password was checked (pw_check_work): a session, or one answer for every failure. */
static void signin_checked(void *data, void *arg)
{
    struct pw_job *pj = data;
    struct acct *a = arg;
    char max_age[16];
    const char *params[5];

    a->job = NULL;
    if (pj->rc != 0) {
        reply_bad_credentials(acct_detach(a));
        acct_free(a);
        return;
    }
    if (strlen(a->user_id) != AUTH_UUID_LEN || auth_session_generate(&a->session) < 0) {
        http_reply_error(acct_detach(a), 500, "internal_error", "cannot start a session");
        acct_free(a);
        return;
    }
    snprintf(max_age, sizeof(max_age), "%d", AUTH_SESSION_MAX_AGE);
    params[0] = a->user_id;
    params[1] = a->session.id;
    params[2] = a->session.csrf_token;
    params[3] = max_age;
    params[4] = a->old_session[0] != '\0' ? a->old_session : NULL;
    a->op = db_query(a->app->pool, signin_sql, 5, params, signin_done, a);
}

/* The user's row (if any): the password is checked, then the session is made. */
static void signin_found(struct db_result *res, const struct db_error *err, void *arg)
{
    struct acct *a = arg;
    const char *hash = NULL;

    a->op = NULL;
    if (err != NULL) {
        acct_fail_db(a, err);
        return;
    }
    /* No such user, a disabled one, or one without a password: the same scrypt runs
     * (on a stand-in hash) and the same answer comes. */
    if (db_result_rows(res) == 1 && strcmp(db_result_value(res, 0, 2), "t") == 0) {
        hash = db_result_value(res, 0, 1);
        mcx_strlcpy(a->user_id, db_result_value(res, 0, 0), sizeof(a->user_id));
    }
    pw_submit(a, pw_job_new(a, hash), pw_check_work, signin_checked);
}

static int signin_read(struct acct *a, const struct json_value *v, struct mcx_error *err)
{
    const char *email, *password;

    if (member_string(v, "email", true, &email, err) < 0 ||
        member_string(v, "password", true, &password, err) < 0)
        return -1;
    if (accounts_email_normalise(email, a->email) < 0)
        return field_error(err, "email", "is not a valid e-mail address");
    if (strlen(password) > AUTH_PASSWORD_MAX_LEN)
        return field_error(err, "password", "is longer than 1024 bytes");
    mcx_strlcpy(a->password, password, sizeof(a->password));
    return 0;
}

static void handle_signin(struct http_request *req, void *arg)
{
    struct acct *a = acct_from_body(req, arg, signin_read);
    char secret[AUTH_SECRET_SIZE];
    const char *params[1];

    if (a == NULL)
        return;
    if (request_session(req, secret) && auth_secret_hash(secret, a->old_session) < 0)
        a->old_session[0] = '\0';
    explicit_bzero(secret, sizeof(secret));
    params[0] = a->email;
    http_request_on_cancel(req, acct_cancel, a);
    a->op = db_query(a->app->pool, signin_find_sql, 1, params, signin_found, a);
}

/* ---- GET /api/v1/session: who is signed in ---- */

static void whoami_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct acct *a = arg;
    struct http_request *req;
    struct json_writer w;
    struct buf b;
    const char *user;

    a->op = NULL;
    if (err != NULL) {
        acct_fail_db(a, err);
        return;
    }
    req = acct_detach(a);
    if (db_result_rows(res) != 1) { /* signed out in the meantime */
        set_cookie(req, a->app, NULL);
        auth_reply_error(req, 401, "the session has expired or was signed out: sign in again");
        acct_free(a);
        return;
    }
    user = db_result_value(res, 0, 0);
    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_key(&w, "user");
    json_raw(&w, user, strlen(user));
    json_kv_string(&w, "csrf_token", a->csrf_token);
    json_kv_string(&w, "expires_at", db_result_value(res, 0, 1));
    json_object_end(&w);
    http_reply_json(req, 200, &b);
    acct_free(a);
}

static void whoami_authed(const struct auth_user *user, const struct auth_session *session,
                          int status, const char *message, void *arg)
{
    struct acct *a = arg;
    struct http_request *req;
    char secret[AUTH_SECRET_SIZE];
    const char *params[1];

    a->auth = NULL;
    if (user == NULL) {
        req = acct_detach(a);
        /* a cookie that opens nothing is dropped, so the browser stops sending it */
        if (status == 401 && request_session(req, secret))
            set_cookie(req, a->app, NULL);
        explicit_bzero(secret, sizeof(secret));
        auth_reply_error(req, status, message);
        acct_free(a);
        return;
    }
    mcx_strlcpy(a->csrf_token, session->csrf_token, sizeof(a->csrf_token));
    params[0] = session->id;
    a->op = db_query(a->app->pool, whoami_sql, 1, params, whoami_done, a);
}

static void handle_whoami(struct http_request *req, void *arg)
{
    struct acct *a = acct_new(req, arg);

    http_request_on_cancel(req, acct_cancel, a);
    a->auth = auth_session_begin(a->app->base, a->app->pool, req, whoami_authed, a);
}

/* ---- DELETE /api/v1/session: sign out ---- */

static void signed_out(struct http_request *req, const struct mcxd *app)
{
    set_cookie(req, app, NULL);
    http_reply(req, 204, NULL, NULL, 0);
}

static void signout_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct acct *a = arg;

    (void)res;
    a->op = NULL;
    if (err != NULL) {
        acct_fail_db(a, err);
        return;
    }
    signed_out(acct_detach(a), a->app);
    acct_free(a);
}

static void signout_authed(const struct auth_user *user, const struct auth_session *session,
                           int status, const char *message, void *arg)
{
    struct acct *a = arg;
    const char *params[1];

    a->auth = NULL;
    if (user == NULL) {
        /* Signing out of a session that has already ended succeeds: the goal is met. */
        if (status == 401)
            signed_out(acct_detach(a), a->app);
        else
            auth_reply_error(acct_detach(a), status, message);
        acct_free(a);
        return;
    }
    params[0] = session->id;
    a->op = db_query(a->app->pool, signout_sql, 1, params, signout_done, a);
}

static void handle_signout(struct http_request *req, void *arg)
{
    struct acct *a = acct_new(req, arg);
    char secret[AUTH_SECRET_SIZE];
    bool has_session = request_session(req, secret);

    explicit_bzero(secret, sizeof(secret));
    if (!has_session) {
        signed_out(req, a->app);
        acct_free(a);
        return;
    }
    /* A DELETE: the session's CSRF token is required, so no other site signs one out. */
    http_request_on_cancel(req, acct_cancel, a);
    a->auth = auth_session_begin(a->app->base, a->app->pool, req, signout_authed, a);
}

void accounts_routes_add(struct mcxd *app)
{
    struct router *r = app->router;

    router_add(r, HTTP_POST, "/api/v1/users", handle_signup, app, ACCOUNTS_MAX_BODY);
    router_add(r, HTTP_POST, "/api/v1/session", handle_signin, app, ACCOUNTS_MAX_BODY);
    router_add(r, HTTP_GET, "/api/v1/session", handle_whoami, app, 0);
    router_add(r, HTTP_DELETE, "/api/v1/session", handle_signout, app, 0);
}
