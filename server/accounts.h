/*
 * accounts.h — the accounts API (DESIGN §5 "Accounts"): student sign-up, and the
 * browser session: sign in (an HttpOnly cookie plus a CSRF token), who is signed in,
 * sign out. mcxd.c registers the routes; later requests are checked by
 * auth_request_begin (server/auth.h). Staff accounts come from an admin (server/admin.c,
 * handed over from POST /api/v1/users) or `mcx user add`.
 */
#ifndef MCX_ACCOUNTS_H
#define MCX_ACCOUNTS_H

struct mcxd;

/* Largest sign-up or sign-in body: a 1024-byte password fits even fully escaped. */
#define ACCOUNTS_MAX_BODY ((size_t)16 * 1024)
/* A new password: at least this many characters (Unicode code points), at most
 * AUTH_PASSWORD_MAX_LEN bytes. */
#define ACCOUNTS_PASSWORD_MIN_CHARS 10
#define ACCOUNTS_NAME_MAX_BYTES 200

void accounts_routes_add(struct mcxd *app);

/* An e-mail address as accounts store it: blanks trimmed, ASCII lowercased (the
 * unique index compares lower(email): one address, one account, however it is
 * typed). -1 if it does not fit out. */
int accounts_email_normalise(const char *s, char out[256]);

/* A new password: at least ACCOUNTS_PASSWORD_MIN_CHARS characters, at most
 * AUTH_PASSWORD_MAX_LEN bytes. 0, or -1 with a 422 message (path /password) in err. */
struct mcx_error;
int accounts_password_check(const char *password, struct mcx_error *err);

/* A name a person wrote (an account's display name, a token's label): blanks trimmed,
 * no control characters, at most ACCOUNTS_NAME_MAX_BYTES. out is "" for NULL or blank;
 * -1 with a 422 message (path /name) in err. */
int accounts_name_read(const char *s, char out[ACCOUNTS_NAME_MAX_BYTES + 1], struct mcx_error *err);

#endif
