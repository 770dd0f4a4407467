/*
 * auth.c — bearer tokens (mcx_<uuid>_<secret>, stored as SHA-256 of the secret),
 * browser sessions (a cookie secret, likewise stored hashed, and a CSRF token),
 * scrypt password hashes, and the async checks of a request's credentials against
 * api_tokens and sessions. Secrets are compared with CRYPTO_memcmp so that the time
 * an answer takes says nothing about how much of a guess was right.
 */
#include "server/auth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/util.h"

#define AUTH_SECRET_BYTES 32
#define AUTH_SCRYPT_N 32768 /* 2^15: OWASP's minimum for scrypt with r=8, p=1 */
#define AUTH_SCRYPT_R 8
#define AUTH_SCRYPT_P 1
#define AUTH_SALT_BYTES 16
#define AUTH_KEY_BYTES 32
/* Limits on hashes read back, so that an edited row cannot make a check take gigabytes
 * or minutes: 128 * N * r bytes of scrypt memory at most. */
#define AUTH_SCRYPT_MAX_N (1L << 20)
#define AUTH_SCRYPT_MAX_R 32L
#define AUTH_SCRYPT_MAX_P 16L
#define AUTH_SCRYPT_MAX_MEM (256UL * 1024 * 1024)
#define AUTH_B64_MAX_BYTES 64 /* longest salt or key accepted when verifying */

static const char hex_digits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool auth_secret_is_valid(const char *s, size_t n)
{
    if (n != AUTH_SECRET_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_hex(s[i]))
            return false;
    return true;
}

/* ---- tokens ---- */

bool auth_uuid_is_valid(const char *s)
{
    for (int i = 0; i < AUTH_UUID_LEN; i++) {
        bool is_dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
        if (is_dash_pos ? s[i] != '-' : !is_lower_hex(s[i]))
            return false; /* also stops at a NUL before the end */
    }
    return s[AUTH_UUID_LEN] == '\0';
}

/* A version 4 (random) uuid, RFC 4122 §4.4. */
static int uuid_generate(char out[AUTH_UUID_LEN + 1])
{
    unsigned char b[16];
    char hex[33];
    char *p = out;

    if (RAND_bytes(b, sizeof(b)) != 1)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    hex_encode(b, sizeof(b), hex);
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            *p++ = '-';
        *p++ = hex[i];
    }
    *p = '\0';
    return 0;
}

int auth_secret_hash(const char *secret, char out[AUTH_HASH_HEX_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    out[0] = '\0';
    if (EVP_Digest(secret, strlen(secret), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    hex_encode(md, mdlen, out);
    return 0;
}

bool auth_hash_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    if (strnlen(a, AUTH_HASH_HEX_SIZE) != AUTH_HASH_HEX_SIZE - 1 ||
        strnlen(b, AUTH_HASH_HEX_SIZE) != AUTH_HASH_HEX_SIZE - 1)
        return false;
    return CRYPTO_memcmp(a, b, AUTH_HASH_HEX_SIZE - 1) == 0;
}

int auth_token_generate(char *out, size_t out_size, char id_out[AUTH_UUID_LEN + 1],
                        char secret_hash_out[AUTH_HASH_HEX_SIZE])
{
    unsigned char raw[AUTH_SECRET_BYTES];
    char secret[AUTH_SECRET_SIZE];
    int rc = -1;

    if (out_size > 0)
        out[0] = '\0';
    id_out[0] = '\0';
    secret_hash_out[0] = '\0';
    if (out_size < AUTH_TOKEN_SIZE || RAND_bytes(raw, sizeof(raw)) != 1 ||
        uuid_generate(id_out) < 0)
        goto out;
    hex_encode(raw, sizeof(raw), secret);
    if (auth_secret_hash(secret, secret_hash_out) < 0)
        goto out;
    snprintf(out, out_size, AUTH_TOKEN_PREFIX "%s_%s", id_out, secret);
    rc = 0;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

int auth_token_parse(const char *token, char id[AUTH_UUID_LEN + 1], char *secret,
                     size_t secret_size)
{
    const size_t prefix = strlen(AUTH_TOKEN_PREFIX);
    const char *p;

    id[0] = '\0';
    if (secret_size > 0)
        secret[0] = '\0';
    if (token == NULL || secret_size < AUTH_SECRET_SIZE)
        return -1;
    /* strnlen: a hostile header may be long; nothing past one byte more matters. */
    if (strnlen(token, AUTH_TOKEN_LEN + 1) != AUTH_TOKEN_LEN ||
        strncmp(token, AUTH_TOKEN_PREFIX, prefix) != 0 || token[prefix + AUTH_UUID_LEN] != '_')
        return -1;
    memcpy(id, token + prefix, AUTH_UUID_LEN);
    id[AUTH_UUID_LEN] = '\0';
    if (!auth_uuid_is_valid(id)) {
        id[0] = '\0';
        return -1;
    }
    p = token + prefix + AUTH_UUID_LEN + 1;
    if (!auth_secret_is_valid(p, AUTH_SECRET_LEN)) {
        id[0] = '\0';
        return -1;
    }
    memcpy(secret, p, AUTH_SECRET_LEN);
    secret[AUTH_SECRET_LEN] = '\0';
    return 0;
}

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static const char b64token_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-._~+/";

int auth_bearer_parse(const char *header, char *token, size_t token_size)
{
    const char *p;
    size_t n, eq;

    if (token_size > 0)
        token[0] = '\0';
    if (header == NULL || token_size == 0 || strncasecmp(header, "Bearer ", 7) != 0)
        return -1;
    p = header + 7;
    p += strspn(p, " ");
    n = strspn(p, b64token_chars);
    eq = strspn(p + n, "=");
    if (n == 0 || p[n + eq] != '\0' || n + eq >= token_size)
        return -1;
    memcpy(token, p, n + eq);
    token[n + eq] = '\0';
    return 0;
}

/* ---- passwords ---- */

static size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Standard alphabet, padded, nothing else (EVP_DecodeBlock would skip whitespace and
 * count padding as zero bytes). Returns the decoded length, or -1. */
static int b64_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
    size_t pad = 0;
    int n;

    if (len == 0 || len % 4 != 0 || len / 4 * 3 > out_size)
        return -1;
    while (pad < 2 && in[len - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < len - pad; i++) {
        char c = in[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return -1;
    }
    n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n != len / 4 * 3)
        return -1;
    return n - (int)pad;
}

static int scrypt_derive(const char *password, const unsigned char *salt, size_t salt_len,
                         uint64_t n, uint64_t r, uint64_t p, unsigned char *key, size_t key_len)
{
    int ok = EVP_PBE_scrypt(password, strlen(password), salt, salt_len, n, r, p,
                            AUTH_SCRYPT_MAX_MEM, key, key_len);
    return ok == 1 ? 0 : -1;
}

int auth_password_hash(const char *password, char *out, size_t out_size)
{
    unsigned char salt[AUTH_SALT_BYTES], key[AUTH_KEY_BYTES];
    char salt_b64[32], key_b64[48];
    int rc = -1;
    int len;

    if (out_size > 0)
        out[0] = '\0';
    if (password == NULL || strnlen(password, AUTH_PASSWORD_MAX_LEN + 1) > AUTH_PASSWORD_MAX_LEN)
        return -1;
    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        scrypt_derive(password, salt, sizeof(salt), AUTH_SCRYPT_N, AUTH_SCRYPT_R, AUTH_SCRYPT_P,
                      key, sizeof(key)) < 0)
        goto out;
    b64_encode(salt, sizeof(salt), salt_b64);
    b64_encode(key, sizeof(key), key_b64);
    len = snprintf(out, out_size, "scrypt$%d$%d$%d$%s$%s", AUTH_SCRYPT_N, AUTH_SCRYPT_R,
                   AUTH_SCRYPT_P, salt_b64, key_b64);
    if (len < 0 || (size_t)len >= out_size) {
        if (out_size > 0)
            out[0] = '\0';
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/* What auth_password_verify reads from "scrypt$N$r$p$salt$hash". */
struct scrypt_params {
    long n, r, p;
    /* +2: EVP_DecodeBlock writes the bytes the padding stands for, too. */
    unsigned char salt[AUTH_B64_MAX_BYTES + 2];
    int salt_len;
    unsigned char key[AUTH_B64_MAX_BYTES + 2];
    int key_len;
};

/* The next '$'-separated field of *s as [start, len); advances *s past it. */
static const char *field_next(const char **s, size_t *len)
{
    const char *start = *s;
    const char *end = strchr(start, '$');

    *len = end != NULL ? (size_t)(end - start) : strlen(start);
    *s = end != NULL ? end + 1 : start + *len;
    return start;
}

static int field_long(const char **s, long min, long max, long *out)
{
    char digits[16];
    size_t len;
    const char *f = field_next(s, &len);

    /* Digits only: mcx_parse_int would take a sign, and no writer puts one there. */
    if (len == 0 || len >= sizeof(digits) || strspn(f, "0123456789") < len)
        return -1;
    memcpy(digits, f, len);
    digits[len] = '\0';
    return mcx_parse_int(digits, min, max, out);
}

static int scrypt_params_parse(const char *encoded, struct scrypt_params *sp)
{
    const char *s = encoded;
    const char *f;
    size_t len;

    if (strncmp(s, "scrypt$", 7) != 0)
        return -1;
    s += 7;
    if (field_long(&s, 2, AUTH_SCRYPT_MAX_N, &sp->n) < 0 || (sp->n & (sp->n - 1)) != 0 ||
        field_long(&s, 1, AUTH_SCRYPT_MAX_R, &sp->r) < 0 ||
        field_long(&s, 1, AUTH_SCRYPT_MAX_P, &sp->p) < 0)
        return -1;
    if ((unsigned long)sp->n * (unsigned long)sp->r * 128UL > AUTH_SCRYPT_MAX_MEM / 2)
        return -1;
    f = field_next(&s, &len);
    sp->salt_len = b64_decode(f, len, sp->salt, sizeof(sp->salt));
    /* The hash is the last field: a '$' inside it is malformed, not ignored. */
    f = field_next(&s, &len);
    if (strchr(f, '$') != NULL)
        return -1;
    sp->key_len = b64_decode(f, len, sp->key, sizeof(sp->key));
    if (sp->salt_len < 8 || sp->salt_len > AUTH_B64_MAX_BYTES || sp->key_len < 16 ||
        sp->key_len > AUTH_B64_MAX_BYTES)
        return -1;
    return 0;
}

int auth_password_verify(const char *password, const char *encoded)
{
    struct scrypt_params sp;
    unsigned char key[AUTH_B64_MAX_BYTES];
    int rc = -1;

    if (password == NULL || encoded == NULL ||
        strnlen(password, AUTH_PASSWORD_MAX_LEN + 1) > AUTH_PASSWORD_MAX_LEN ||
        strnlen(encoded, AUTH_PASSWORD_HASH_SIZE * 2) >= AUTH_PASSWORD_HASH_SIZE * 2)
        return -1;
    memset(&sp, 0, sizeof(sp));
    if (scrypt_params_parse(encoded, &sp) < 0)
        return -1;
    if (scrypt_derive(password, sp.salt, (size_t)sp.salt_len, (uint64_t)sp.n, (uint64_t)sp.r,
                      (uint64_t)sp.p, key, (size_t)sp.key_len) == 0 &&
        CRYPTO_memcmp(key, sp.key, (size_t)sp.key_len) == 0)
        rc = 0;
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int auth_password_generate(char *out, size_t out_size)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char b;
    size_t n = 0;

    if (out_size > 0)
        out[0] = '\0';
    if (out_size <= AUTH_PASSWORD_GENERATED_LEN)
        return -1;
    /* Rejection sampling: 256 % 62 != 0, so bytes >= 248 would favour some letters. */
    while (n < AUTH_PASSWORD_GENERATED_LEN) {
        if (RAND_bytes(&b, 1) != 1) {
            OPENSSL_cleanse(out, n);
            out[0] = '\0';
            return -1;
        }
        if (b < 248)
            out[n++] = alnum[b % 62];
    }
    out[n] = '\0';
    return 0;
}

/* A hash of a random password that was thrown away, with auth_password_hash's
 * parameters: what a sign-in checks when there is no hash to check. */
static const char auth_dummy_hash[] =
    "scrypt$32768$8$1$M9ZJ4jeWYofbU6HsdPReOQ==$yZb7IfUkVjwqI4F+6FZ8GBALZTsj4V4D7GLOPuAi0Ew=";

int auth_password_check(const char *password, const char *encoded)
{
    if (encoded == NULL) {
        (void)auth_password_verify(password, auth_dummy_hash);
        return -1;
    }
    return auth_password_verify(password, encoded);
}

/* ---- sessions ---- */

/* AUTH_SECRET_BYTES random bytes as lowercase hex into out (AUTH_SECRET_SIZE). */
static int random_secret(char out[AUTH_SECRET_SIZE])
{
    unsigned char raw[AUTH_SECRET_BYTES];

    out[0] = '\0';
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    hex_encode(raw, sizeof(raw), out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

int auth_session_generate(struct auth_session *s)
{
    memset(s, 0, sizeof(*s));
    if (random_secret(s->secret) < 0 || random_secret(s->csrf_token) < 0 ||
        auth_secret_hash(s->secret, s->id) < 0) {
        OPENSSL_cleanse(s, sizeof(*s));
        return -1;
    }
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* One cookie-pair of a Cookie header, [p, end) with '=' at eq: true and the value in
 * secret when it is mcx_session with a well-formed secret. */
static bool cookie_pair_session(const char *p, const char *eq, const char *end,
                                char secret[AUTH_SECRET_SIZE])
{
    const size_t name_len = sizeof(AUTH_SESSION_COOKIE) - 1;
    const char *name_end = eq, *v = eq + 1, *v_end = end;

    while (name_end > p && is_blank(name_end[-1]))
        name_end--;
    while (v < v_end && is_blank(*v))
        v++;
    while (v_end > v && is_blank(v_end[-1]))
        v_end--;
    if ((size_t)(name_end - p) != name_len || memcmp(p, AUTH_SESSION_COOKIE, name_len) != 0 ||
        v_end - v != AUTH_SECRET_LEN)
        return false;
    if (!auth_secret_is_valid(v, AUTH_SECRET_LEN))
        return false;
    memcpy(secret, v, AUTH_SECRET_LEN);
    secret[AUTH_SECRET_LEN] = '\0';
    return true;
}

bool auth_cookie_session(const char *h, char secret[AUTH_SECRET_SIZE])
{
    secret[0] = '\0';
    if (h == NULL)
        return false;
    while (*h != '\0') {
        const char *end = h + strcspn(h, ";");
        const char *eq = memchr(h, '=', (size_t)(end - h));
        while (h < end && is_blank(*h))
            h++;
        if (eq != NULL && cookie_pair_session(h, eq, end, secret))
            return true;
        h = *end == ';' ? end + 1 : end;
    }
    return false;
}

void auth_session_cookie(char out[AUTH_SET_COOKIE_SIZE], const char *secret, bool is_secure)
{
    snprintf(out, AUTH_SET_COOKIE_SIZE, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
             AUTH_SESSION_COOKIE, secret != NULL ? secret : "",
             secret != NULL ? AUTH_SESSION_MAX_AGE : 0, is_secure ? "; Secure" : "");
}

/* ---- e-mail addresses ---- */

static bool email_label_is_valid(const char *s, size_t len)
{
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static bool email_domain_is_valid(const char *d)
{
    int labels = 0;

    if (*d == '\0' || strlen(d) > 253)
        return false;
    for (;;) {
        size_t len = strcspn(d, ".");
        if (!email_label_is_valid(d, len))
            return false;
        labels++;
        if (d[len] == '\0')
            return labels >= 2;
        d += len + 1;
    }
}

bool auth_email_is_valid(const char *email)
{
    const char *at;
    size_t len, local;

    if (email == NULL)
        return false;
    len = strnlen(email, 255);
    if (len > 254 || !utf8_is_valid(email, len))
        return false;
    at = strchr(email, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return false;
    local = (size_t)(at - email);
    if (local == 0 || local > 64)
        return false;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c <= ' ' || c == 0x7f)
            return false;
    }
    return email_domain_is_valid(at + 1);
}

/* ---- roles ---- */

bool auth_may_write_institution(const struct auth_user *u, const char *institution_id)
{
    if (u == NULL || institution_id == NULL || *institution_id == '\0')
        return false;
    if (strcmp(u->role, "admin") == 0)
        return true;
    return strcmp(u->role, "publisher") == 0 && u->institution_id[0] != '\0' &&
           strcmp(u->institution_id, institution_id) == 0;
}

/* ---- async bearer check ---- */

#define AUTH_MSG_MISSING "authentication required: send Authorization: Bearer TOKEN"
#define AUTH_MSG_MALFORMED "malformed bearer token"
#define AUTH_MSG_INVALID "invalid or revoked token"
#define AUTH_MSG_SIGN_IN "authentication required: sign in, or send Authorization: Bearer TOKEN"
#define AUTH_MSG_SESSION "the session has expired or was signed out: sign in again"
#define AUTH_MSG_CSRF "missing or wrong " AUTH_CSRF_HEADER " header: send the session's csrf_token"

/*
 * The row of a live token and its user. The UPDATE in the same statement marks the
 * token used, but only when the secret matched (the caller decides again, in constant
 * time) and at most once a minute, so busy tokens do not write on every request.
 */
static const char auth_token_sql[] =
    "WITH tok AS ("
    " SELECT t.id, t.secret_hash, t.last_used_at, u.id AS user_id, u.email, u.role,"
    "  coalesce(u.institution_id, '') AS institution_id"
    " FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.id = $1::uuid AND t.revoked_at IS NULL AND u.disabled_at IS NULL),"
    " touch AS ("
    " UPDATE api_tokens SET last_used_at = now() FROM tok"
    " WHERE api_tokens.id = tok.id AND tok.secret_hash = $2"
    "  AND (tok.last_used_at IS NULL OR tok.last_used_at < now() - interval '1 minute'))"
    " SELECT secret_hash, user_id::text, email, role, institution_id FROM tok";

/*
 * A live session and its user. The session id is the SHA-256 of the cookie's secret,
 * found by equality in the primary key: what the lookup's time could tell is about a
 * hash the caller cannot steer, not about the secret.
 */
static const char auth_session_sql[] =
    "SELECT s.csrf_token, u.id::text, u.email, u.role, coalesce(u.institution_id, '')"
    " FROM sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.id = $1 AND s.expires_at > now() AND u.disabled_at IS NULL";

struct auth_op {
    struct db_op *query;
    struct event *timer; /* delivers an answer known at once on the next loop turn */
    int status;
    const char *message;
    auth_bearer_cb cb;   /* auth_bearer_begin's caller, or */
    auth_request_cb rcb; /* auth_request_begin's or auth_session_begin's */
    void *arg;
    char secret_hash[AUTH_HASH_HEX_SIZE]; /* of the token's or the cookie's secret */
    bool is_session;
    bool needs_csrf;                   /* a session write: csrf_given must match */
    char csrf_given[AUTH_SECRET_SIZE]; /* the request's X-CSRF-Token, "" if none or malformed */
    struct auth_session session;       /* the session found (secret ""), once checked */
};

static void auth_op_free(struct auth_op *op)
{
    if (op->timer != NULL)
        event_free(op->timer);
    free(op);
}

static void auth_op_finish(struct auth_op *op, const struct auth_user *user, int status,
                           const char *message)
{
    auth_bearer_cb cb = op->cb;
    auth_request_cb rcb = op->rcb;
    void *arg = op->arg;
    struct auth_session session = op->session;
    bool has_session = user != NULL && op->is_session;

    /* Freed first: the callback may well free what owns the op. */
    auth_op_free(op);
    if (rcb != NULL)
        rcb(user, has_session ? &session : NULL, status, message, arg);
    else
        cb(user, status, message, arg);
    OPENSSL_cleanse(&session, sizeof(session));
}

static void auth_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct auth_op *op = arg;

    (void)fd;
    (void)what;
    auth_op_finish(op, NULL, op->status, op->message);
}

static int auth_status_of_db_error(const struct db_error *err, const char **message)
{
    if (err->kind == DB_ERR_UNAVAILABLE || err->kind == DB_ERR_CONNECTION) {
        *message = "the database is unavailable";
        return 503;
    }
    if (strcmp(err->sqlstate, "57014") == 0) {
        *message = "the database took too long";
        return 504;
    }
    fprintf(stderr, "{\"level\":\"error\",\"msg\":\"auth: database error %s\"}\n", err->sqlstate);
    *message = "the database reported an error";
    return 500;
}

/* Copies the token's row; -1 if a value is missing or too long for struct auth_user. */
static int auth_user_from_row(const struct db_result *res, struct auth_user *u)
{
    struct {
        int col;
        char *dst;
        size_t size;
    } fields[] = {
        {1, u->id, sizeof(u->id)},
        {2, u->email, sizeof(u->email)},
        {3, u->role, sizeof(u->role)},
        {4, u->institution_id, sizeof(u->institution_id)},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(fields); i++) {
        const char *v = db_result_value(res, 0, fields[i].col);
        if (v == NULL || mcx_strlcpy(fields[i].dst, v, fields[i].size) >= fields[i].size)
            return -1;
    }
    return 0;
}

/* A session's row (auth_session_sql): the user, once the CSRF token is checked. */
static void auth_on_session(struct auth_op *op, const struct db_result *res)
{
    struct auth_user user;
    const char *csrf = db_result_rows(res) == 1 ? db_result_value(res, 0, 0) : NULL;

    memset(&user, 0, sizeof(user));
    if (csrf == NULL) {
        auth_op_finish(op, NULL, 401, AUTH_MSG_SESSION);
        return;
    }
    /* a 64-character token both sides: auth_hash_equal compares in constant time */
    if (op->needs_csrf && !auth_hash_equal(op->csrf_given, csrf)) {
        auth_op_finish(op, NULL, 403, AUTH_MSG_CSRF);
        return;
    }
    if (auth_user_from_row(res, &user) < 0 ||
        mcx_strlcpy(op->session.csrf_token, csrf, sizeof(op->session.csrf_token)) >=
            sizeof(op->session.csrf_token)) {
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"auth: unreadable session row\"}\n");
        auth_op_finish(op, NULL, 500, "the database reported an error");
        return;
    }
    memcpy(op->session.id, op->secret_hash, sizeof(op->session.id));
    auth_op_finish(op, &user, 200, "ok");
}

static void auth_on_result(struct db_result *res, const struct db_error *err, void *arg)
{
    struct auth_op *op = arg;
    struct auth_user user;
    const char *message = AUTH_MSG_INVALID;
    int status;

    op->query = NULL;
    memset(&user, 0, sizeof(user));
    if (err != NULL) {
        status = auth_status_of_db_error(err, &message);
        auth_op_finish(op, NULL, status, message);
        return;
    }
    if (op->is_session) {
        auth_on_session(op, res);
        return;
    }
    if (db_result_rows(res) != 1 || !auth_hash_equal(db_result_value(res, 0, 0), op->secret_hash)) {
        auth_op_finish(op, NULL, 401, AUTH_MSG_INVALID);
        return;
    }
    if (auth_user_from_row(res, &user) < 0) {
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"auth: unreadable user row\"}\n");
        auth_op_finish(op, NULL, 500, "the database reported an error");
        return;
    }
    auth_op_finish(op, &user, 200, "ok");
}

/* Answers on the next loop turn without asking the database. */
static struct auth_op *auth_op_defer(struct auth_op *op, struct event_base *base, int status,
                                     const char *message)
{
    static const struct timeval now = {0, 0};

    op->status = status;
    op->message = message;
    op->timer = evtimer_new(base, auth_on_timer, op);
    if (op->timer == NULL) {
        fprintf(stderr, "mcx: evtimer_new failed\n");
        abort();
    }
    evtimer_add(op->timer, &now);
    return op;
}

/* Starts the check of an Authorization header value for an op made by the caller. */
static struct auth_op *auth_bearer_start(struct auth_op *op, struct event_base *base,
                                         struct db_pool *pool, const char *authorization)
{
    char token[AUTH_TOKEN_SIZE];
    char id[AUTH_UUID_LEN + 1];
    char secret[AUTH_SECRET_SIZE];
    const char *params[2];

    if (authorization == NULL || *authorization == '\0')
        return auth_op_defer(op, base, 401, AUTH_MSG_MISSING);
    if (auth_bearer_parse(authorization, token, sizeof(token)) < 0 ||
        auth_token_parse(token, id, secret, sizeof(secret)) < 0) {
        OPENSSL_cleanse(token, sizeof(token));
        return auth_op_defer(op, base, 401, AUTH_MSG_MALFORMED);
    }
    if (auth_secret_hash(secret, op->secret_hash) < 0) {
        OPENSSL_cleanse(token, sizeof(token));
        OPENSSL_cleanse(secret, sizeof(secret));
        return auth_op_defer(op, base, 500, "cannot hash the token");
    }
    OPENSSL_cleanse(token, sizeof(token));
    OPENSSL_cleanse(secret, sizeof(secret));
    params[0] = id;
    params[1] = op->secret_hash;
    op->query = db_query(pool, auth_token_sql, 2, params, auth_on_result, op);
    return op;
}

struct auth_op *auth_bearer_begin(struct event_base *base, struct db_pool *pool,
                                  const char *authorization, auth_bearer_cb cb, void *arg)
{
    struct auth_op *op = xcalloc(1, sizeof(*op));

    op->cb = cb;
    op->arg = arg;
    return auth_bearer_start(op, base, pool, authorization);
}

/* Safe methods (RFC 9110 §9.2.1) change nothing, so they need no CSRF token. */
static bool method_is_safe(enum http_method m)
{
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS;
}

/* Starts the check of the request's session cookie for an op made by the caller. */
static struct auth_op *auth_session_start(struct auth_op *op, struct event_base *base,
                                          struct db_pool *pool, struct http_request *req)
{
    char secret[AUTH_SECRET_SIZE] = "";
    const char *h, *csrf;
    const char *params[1];
    bool is_found = false;

    /* RFC 6265 §5.4 says one Cookie field, but HTTP/2 gateways may split it */
    for (size_t i = 0; !is_found && (h = http_request_header_nth(req, "Cookie", i)) != NULL; i++)
        is_found = auth_cookie_session(h, secret);
    if (!is_found)
        return auth_op_defer(op, base, 401, AUTH_MSG_SIGN_IN);
    if (auth_secret_hash(secret, op->secret_hash) < 0) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return auth_op_defer(op, base, 500, "cannot hash the session");
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    op->is_session = true;
    op->needs_csrf = !method_is_safe(http_request_method(req));
    csrf = http_request_header(req, AUTH_CSRF_HEADER);
    if (csrf != NULL && strnlen(csrf, AUTH_SECRET_SIZE) == AUTH_SECRET_LEN)
        memcpy(op->csrf_given, csrf, AUTH_SECRET_SIZE);
    params[0] = op->secret_hash;
    op->query = db_query(pool, auth_session_sql, 1, params, auth_on_result, op);
    return op;
}

struct auth_op *auth_session_begin(struct event_base *base, struct db_pool *pool,
                                   struct http_request *req, auth_request_cb cb, void *arg)
{
    struct auth_op *op = xcalloc(1, sizeof(*op));

    op->rcb = cb;
    op->arg = arg;
    return auth_session_start(op, base, pool, req);
}

struct auth_op *auth_request_begin(struct event_base *base, struct db_pool *pool,
                                   struct http_request *req, auth_request_cb cb, void *arg)
{
    struct auth_op *op = xcalloc(1, sizeof(*op));
    const char *authorization = http_request_header(req, "Authorization");

    op->rcb = cb;
    op->arg = arg;
    /* An explicit credential wins: a bad token is refused, not passed over for a cookie. */
    if (authorization != NULL && *authorization != '\0')
        return auth_bearer_start(op, base, pool, authorization);
    return auth_session_start(op, base, pool, req);
}

void auth_op_cancel(struct auth_op *op)
{
    if (op == NULL)
        return;
    db_op_cancel(op->query);
    auth_op_free(op);
}

void auth_reply_error(struct http_request *req, int status, const char *message)
{
    switch (status) {
    case 401:
        http_response_header(req, "WWW-Authenticate", "Bearer realm=\"mcx\"");
        http_reply_error(req, 401, "unauthorized", "%s", message);
        return;
    case 403:
        http_reply_error(req, 403, "forbidden", "%s", message);
        return;
    case 503:
        http_response_header(req, "Retry-After", "1");
        http_reply_error(req, 503, "database_unavailable", "%s", message);
        return;
    case 504:
        http_reply_error(req, 504, "database_timeout", "%s", message);
        return;
    default:
        http_reply_error(req, 500, "internal_error", "%s", message);
        return;
    }
}
