/*
 * auth.h — who is calling: API bearer tokens, browser sessions with their CSRF
 * tokens, password hashes, and the async checks that handlers run before they touch
 * data. `mcx token` and `mcx user` (server/cli.c) and sign-in (server/accounts.c)
 * create what the checks here accept.
 */
#ifndef MCX_AUTH_H
#define MCX_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct db_pool;
struct http_request;

/*
 * A token reads mcx_<id>_<secret>: the id is the api_tokens row's uuid (lowercase,
 * 8-4-4-4-12), the secret 32 random bytes as 64 lowercase hex digits. Only the
 * SHA-256 of the secret is stored. Hex rather than base64url: no '-' or '_' in the
 * secret, so the token stays one "word" when double-clicked and splits one way.
 */
#define AUTH_TOKEN_PREFIX "mcx_"
#define AUTH_UUID_LEN 36
#define AUTH_SECRET_LEN 64
#define AUTH_TOKEN_LEN (4 + AUTH_UUID_LEN + 1 + AUTH_SECRET_LEN) /* 105 */
#define AUTH_TOKEN_SIZE (AUTH_TOKEN_LEN + 1)
#define AUTH_SECRET_SIZE (AUTH_SECRET_LEN + 1)
#define AUTH_HASH_HEX_SIZE 65 /* SHA-256 as hex + NUL */

/* scrypt$N$r$p$salt$hash, salt and hash in base64 (standard alphabet, padded). */
#define AUTH_PASSWORD_HASH_SIZE 128
#define AUTH_PASSWORD_MAX_LEN 1024 /* longer input is refused, not truncated */

/* ---- pure parts: no I/O, unit-tested ---- */

/*
 * Makes a new token in out (at least AUTH_TOKEN_SIZE bytes) from the OS CSPRNG, and
 * gives its id (for the row) and the SHA-256 hex of its secret (to store). Returns
 * -1 only when out is too small or the hash fails.
 */
int auth_token_generate(char *out, size_t out_size, char id_out[AUTH_UUID_LEN + 1],
                        char secret_hash_out[AUTH_HASH_HEX_SIZE]);

/* Splits a token into id and secret (secret_size >= AUTH_SECRET_SIZE). Strict: the
 * exact shape above, nothing before or after, else -1 and both outputs empty. */
int auth_token_parse(const char *token, char id[AUTH_UUID_LEN + 1], char *secret,
                     size_t secret_size);

/* True for a canonical lowercase uuid (what auth_token_parse puts in id). */
bool auth_uuid_is_valid(const char *s);

/* True when s[0..n) is a secret's shape: AUTH_SECRET_LEN lowercase hex digits. */
bool auth_secret_is_valid(const char *s, size_t n);

/* SHA-256 of the secret's text as 64 lowercase hex digits. 0, or -1 if the digest fails. */
int auth_secret_hash(const char *secret, char out[AUTH_HASH_HEX_SIZE]);

/* Compares two SHA-256 hex strings in time independent of where they differ.
 * False when either is not exactly 64 characters (lengths are not secret). */
bool auth_hash_equal(const char *a, const char *b);

/*
 * Takes the token out of an Authorization header value: scheme "Bearer" (any case,
 * RFC 7235 §2.1), one or more spaces, then a b64token (RFC 6750 §2.1) and nothing
 * after it. Returns -1 (token empty) when header is NULL, another scheme, malformed,
 * or the token does not fit token_size.
 */
int auth_bearer_parse(const char *header, char *token, size_t token_size);

/*
 * scrypt (OpenSSL EVP_PBE_scrypt) with N=2^15, r=8, p=1, a 16-byte random salt and a
 * 32-byte key, encoded "scrypt$32768$8$1$<salt>$<hash>" into out (at least
 * AUTH_PASSWORD_HASH_SIZE bytes). About 32 MiB and tens of milliseconds per call: keep
 * it off the event loop's hot path. -1 if password is longer than
 * AUTH_PASSWORD_MAX_LEN or scrypt fails.
 */
int auth_password_hash(const char *password, char *out, size_t out_size);

/* 0 when password matches encoded (compared in constant time); -1 when it does not,
 * when encoded is NULL or malformed, or its parameters exceed the limits. */
int auth_password_verify(const char *password, const char *encoded);

/* A password for a new account: AUTH_PASSWORD_GENERATED_LEN letters and digits
 * (~142 bits) from the OS CSPRNG. -1 if out is too small or the CSPRNG fails. */
#define AUTH_PASSWORD_GENERATED_LEN 24
int auth_password_generate(char *out, size_t out_size);

/*
 * Plausible e-mail address for an account: one '@', a local part of 1-64 printable
 * characters, a domain of two or more dot-separated labels (letters, digits, '-', or
 * UTF-8 for IDNs; no label starting or ending with '-'), valid UTF-8, at most 254 bytes.
 * Whether it receives mail is another question.
 */
bool auth_email_is_valid(const char *email);

/*
 * Login's check: auth_password_verify, except that with encoded NULL (no such user,
 * or one who cannot sign in with a password) a fixed hash of the same cost is checked
 * instead and -1 returned. The answer then takes as long either way, so its time does
 * not tell whether an address has an account.
 */
int auth_password_check(const char *password, const char *encoded);

/* ---- browser sessions (DESIGN §5 "Accounts") ---- */

/*
 * The cookie holds a secret of AUTH_SECRET_LEN lowercase hex digits (32 random
 * bytes); the sessions row's id is its SHA-256 (auth_secret_hash), so a leaked table
 * opens no session. The CSRF token is another 64 hex digits, kept as is: it stops
 * other sites (which cannot read it), not a reader of the database. A session lasts
 * AUTH_SESSION_MAX_AGE from sign-in, however busy it is.
 */
#define AUTH_SESSION_COOKIE "mcx_session"
#define AUTH_SESSION_MAX_AGE (14 * 24 * 3600) /* seconds */
#define AUTH_CSRF_HEADER "X-CSRF-Token"
#define AUTH_SET_COOKIE_SIZE 160 /* a Set-Cookie value of auth_session_cookie */

struct auth_session {
    char secret[AUTH_SECRET_SIZE];     /* for the cookie only, never stored */
    char id[AUTH_HASH_HEX_SIZE];       /* SHA-256 of the secret: sessions.id */
    char csrf_token[AUTH_SECRET_SIZE]; /* sessions.csrf_token */
};

/* A new session from the OS CSPRNG. -1 if the CSPRNG or the hash fails. */
int auth_session_generate(struct auth_session *s);

/* The first well-formed mcx_session value of a Cookie header (RFC 6265 §4.2.1):
 * true and the secret in secret, else false and secret "". */
bool auth_cookie_session(const char *cookie_header, char secret[AUTH_SECRET_SIZE]);

/*
 * The Set-Cookie value for secret, or (secret NULL) one that clears the cookie:
 * HttpOnly (no script reads it), SameSite=Lax (other sites' POSTs go without it),
 * Path=/, Max-Age, and Secure when is_secure (the node is reached over HTTPS).
 */
void auth_session_cookie(char out[AUTH_SET_COOKIE_SIZE], const char *secret, bool is_secure);

/* ---- the caller of an API request ---- */

struct auth_user {
    char id[37]; /* users.id */
    char email[256];
    char role[16];            /* student, publisher, registrar, admin */
    char institution_id[128]; /* "" when the user has none */
};

/* Admin: any institution; publisher: their own only; anyone else: none. */
bool auth_may_write_institution(const struct auth_user *u, const char *institution_id);

/* ---- async bearer check, on the loop ---- */

struct auth_op;

/*
 * user is set (valid only during the call) and status is 200 on success. Otherwise
 * user is NULL, status is 401 (no token, malformed, or unknown/revoked/wrong secret/
 * disabled user: those last all read "invalid or revoked token"), 503 (database
 * unavailable), 504 (statement timeout) or 500 (any other database error, logged),
 * and message is one sentence for the reply.
 */
typedef void (*auth_bearer_cb)(const struct auth_user *user, int status, const char *message,
                               void *arg);

/*
 * Checks an Authorization header value (may be NULL) against api_tokens: one
 * parameterised query by token id joined with users (token not revoked, user not
 * disabled), the secret's hash compared in constant time, last_used_at refreshed in
 * the same statement when a minute old. cb runs exactly once, always on a later loop
 * turn, unless auth_op_cancel() is called first. The op frees itself after cb.
 */
struct auth_op *auth_bearer_begin(struct event_base *base, struct db_pool *pool,
                                  const char *authorization, auth_bearer_cb cb, void *arg);

/*
 * As auth_bearer_cb, plus session: the session the request was signed in by, with its
 * id and csrf_token (its secret is "": the server never keeps it), or NULL when a
 * bearer token signed it in or the check failed.
 */
typedef void (*auth_request_cb)(const struct auth_user *user, const struct auth_session *session,
                                int status, const char *message, void *arg);

/*
 * Authenticates an API request by either credential, for handlers that browsers and
 * scripts both call. With an Authorization header it is auth_bearer_begin (a bearer
 * token needs no CSRF token: a browser never sends one on its own). Otherwise the
 * mcx_session cookie must name a live session (not expired, user not disabled), and
 * every method but GET, HEAD and OPTIONS must carry X-CSRF-Token equal to the
 * session's token: 403 when it is missing or wrong. Neither credential, or a cookie
 * that names no live session: 401. Otherwise the contract is auth_bearer_begin's; req
 * is read only during this call.
 */
struct auth_op *auth_request_begin(struct event_base *base, struct db_pool *pool,
                                   struct http_request *req, auth_request_cb cb, void *arg);
/* The same by the session cookie alone (an Authorization header is ignored). */
struct auth_op *auth_session_begin(struct event_base *base, struct db_pool *pool,
                                   struct http_request *req, auth_request_cb cb, void *arg);
/* Stops a pending check: cb will not run. Only before cb has run; NULL is a no-op. */
void auth_op_cancel(struct auth_op *op);

/*
 * The DESIGN §3 error reply for a failed check: 401 "unauthorized" with
 * WWW-Authenticate: Bearer (RFC 6750 §3), 403 "forbidden", 503 (with Retry-After) and
 * 504 as ops_reply_db_error() answers them, else 500.
 */
void auth_reply_error(struct http_request *req, int status, const char *message);

#endif
