/*
 * confirm.c — e-mail address confirmation: the mail with its link, sending it again
 * on request, and the link's secret confirming the address. The secret travels in
 * the link's fragment (/confirm#token=…), so no server or proxy log ever holds it;
 * only its SHA-256 is stored, and it works once, for 48 hours, for the address it
 * was sent to.
 */
#include "server/confirm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "server/api.h"
#include "server/config.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/jsonparse.h"
#include "server/mcxd.h"
#include "server/router.h"

int confirm_token_new(char secret[AUTH_SECRET_SIZE], char hash[AUTH_HASH_HEX_SIZE])
{
    struct auth_session s;
    int rc = auth_session_generate(&s); /* 32 random bytes as hex, and their SHA-256 */

    if (rc == 0) {
        memcpy(secret, s.secret, AUTH_SECRET_SIZE);
        memcpy(hash, s.id, AUTH_HASH_HEX_SIZE);
    }
    OPENSSL_cleanse(&s, sizeof(s));
    return rc;
}

struct mail_op *confirm_mail_send(struct mcxd *app, const char *email, const char *secret,
                                  mail_done_cb done, void *arg)
{
    char id[33];
    struct buf link, message;
    struct mail_op *op;

    mcx_random_hex(id); /* the Message-ID's own part */
    buf_init(&link);
    buf_printf(&link, "%s/confirm#token=%s", app->cfg->public_url, secret);
    buf_init(&message);
    mail_confirmation_build(app->cfg->smtp_from, email, link.data, time(NULL), id, &message);
    op = mail_send(app, email, message.data, message.len, done, arg);
    OPENSSL_cleanse(link.data, link.len);
    OPENSSL_cleanse(message.data, message.len);
    buf_cleanup(&link);
    buf_cleanup(&message);
    return op;
}

/* ---- POST /api/v1/me/email-confirmation ---- */

struct resend {
    struct mail_op *mail;
    char secret[AUTH_SECRET_SIZE]; /* for the mail only */
    char hash[AUTH_HASH_HEX_SIZE];
    char email[MAIL_ADDRESS_SIZE];
};

static void resend_free(void *data)
{
    struct resend *r = data;

    mail_cancel(r->mail);
    OPENSSL_cleanse(r->secret, sizeof(r->secret));
    free(r);
}

/* A new link, unless the address is confirmed (409) or a mail was asked for less than
 * CONFIRM_EVERY_TEXT seconds ago (429): (status, the address). Claiming the minute
 * is an UPDATE of the user's row, so of two requests at once one waits and then finds
 * the minute taken. */
static const char resend_sql[] =
    "WITH u AS (SELECT id, email, email_confirmed_at FROM users WHERE id = $1::uuid),"
    " claim AS (UPDATE users SET confirmation_sent_at = now() WHERE id = $1::uuid"
    "  AND email_confirmed_at IS NULL AND (confirmation_sent_at IS NULL"
    "   OR confirmation_sent_at <= now() - make_interval(secs => $3::int))"
    "  RETURNING id, email),"
    " ins AS (INSERT INTO email_confirmations (token_hash, user_id, email, expires_at)"
    "  SELECT $2, claim.id, claim.email, now() + " CONFIRM_TTL_SQL " FROM claim)"
    " SELECT CASE WHEN u.email_confirmed_at IS NOT NULL THEN 409"
    "  WHEN NOT EXISTS (SELECT 1 FROM claim) THEN 429 ELSE 202 END, u.email FROM u";

/* A mail that did not go out leaves no link behind and gives the minute back, so
 * asking again works at once. */
const char confirm_unsent_sql[] =
    "WITH d AS (DELETE FROM email_confirmations WHERE token_hash = $1 RETURNING user_id)"
    " UPDATE users SET confirmation_sent_at = NULL FROM d WHERE users.id = d.user_id";

static void unsent(struct api_call *c, struct db_result *res)
{
    (void)res;
    api_call_fail(c, 502, "mail_failed",
                  "the confirmation mail could not be sent: the mail server refused it or did "
                  "not answer; try again later");
}

static void resent(bool ok, const char *error, void *arg)
{
    struct api_call *c = arg;
    struct resend *r = api_call_data(c);
    struct json_writer w;
    struct buf b;

    (void)error; /* logged by mail.c; the person asking gets a sentence of their own */
    r->mail = NULL;
    if (!ok) {
        const char *params[1] = {r->hash};
        api_call_db(c, confirm_unsent_sql, 1, params, unsent);
        return;
    }
    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_kv_string(&w, "sent_to", r->email);
    json_object_end(&w);
    api_call_reply_json(c, 202, &b);
}

static void resend_inserted(struct api_call *c, struct db_result *res)
{
    struct resend *r = api_call_data(c);
    int status;

    if (db_result_rows(res) == 0) {
        api_call_fail(c, 404, "not_found", "the account is gone");
        return;
    }
    status = atoi(db_result_value(res, 0, 0));
    if (status == 409) {
        api_call_fail(c, 409, "already_confirmed", "%s is confirmed already",
                      db_result_value(res, 0, 1));
        return;
    }
    if (status == 429) {
        http_response_header(api_call_request(c), "Retry-After", CONFIRM_EVERY_TEXT);
        api_call_fail(c, 429, "too_many_requests",
                      "a confirmation mail went out less than a minute ago: wait before asking "
                      "again");
        return;
    }
    mcx_strlcpy(r->email, db_result_value(res, 0, 1), sizeof(r->email));
    r->mail = confirm_mail_send(api_call_app(c), r->email, r->secret, resent, c);
    OPENSSL_cleanse(r->secret, sizeof(r->secret));
}

static void resend_authed(struct api_call *c, const struct auth_user *u)
{
    struct resend *r = api_call_data(c);

    if (!mail_available(api_call_app(c))) {
        api_call_fail(c, 503, "mail_unavailable",
                      "this node sends no e-mail: ask your university to confirm your address");
        return;
    }
    if (confirm_token_new(r->secret, r->hash) != 0) {
        api_call_fail(c, 500, "internal_error", "cannot make a confirmation link");
        return;
    }
    const char *params[3] = {u->id, r->hash, CONFIRM_EVERY_TEXT};
    api_call_db(c, resend_sql, 3, params, resend_inserted);
}

static void handle_resend(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, resend_authed, xcalloc(1, sizeof(struct resend)), resend_free);
}

/* ---- POST /api/v1/email-confirmations {"token"} ---- */

static const char confirm_sql[] = "SELECT status, body FROM email_confirm($1)";

static void confirmed(struct api_call *c, struct db_result *res)
{
    int status = atoi(db_result_value(res, 0, 0));
    const char *body = db_result_value(res, 0, 1);
    struct buf b;

    if (status == 200) {
        buf_init(&b);
        buf_puts(&b, body);
        api_call_reply_json(c, 200, &b);
    } else {
        api_call_fail(c, status, status == 410 ? "expired" : "not_found", "%s", body);
    }
}

static void handle_confirm(struct http_request *req, void *arg)
{
    struct api_call *c = api_call_public(req, arg);
    struct json_value *v = api_call_json_object(c, 4);
    char hash[AUTH_HASH_HEX_SIZE];
    const char *token;
    size_t n = 0;

    if (v == NULL)
        return;
    token = json_string_value(json_object_get(v, "token"), &n);
    if (token == NULL || !auth_secret_is_valid(token, n)) {
        json_value_free(v);
        api_call_fail(c, token == NULL ? 422 : 404,
                      token == NULL ? "validation_failed" : "not_found",
                      token == NULL ? "token: the link's secret (64 hex digits) is required"
                                    : "this confirmation link is not known");
        return;
    }
    if (auth_secret_hash(token, hash) != 0) {
        json_value_free(v);
        api_call_fail(c, 500, "internal_error", "cannot hash the token");
        return;
    }
    json_value_free(v);
    const char *params[1] = {hash};
    api_call_db(c, confirm_sql, 1, params, confirmed);
}

void confirm_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_POST, "/api/v1/me/email-confirmation", handle_resend, app, 4096);
    router_add(app->router, HTTP_POST, "/api/v1/email-confirmations", handle_confirm, app, 4096);
}
