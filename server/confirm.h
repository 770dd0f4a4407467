/*
 * confirm.h — e-mail address confirmation (016_email_confirmation.sql). Sign-up lets
 * anyone type any address, so what mcx finds by address (the credentials issued to
 * it) is shown only to an account whose address is confirmed: by the link of a
 * confirmation mail, or because staff created the account.
 *
 *   POST /api/v1/me/email-confirmation   send (again) the mail to the signed-in account
 *   POST /api/v1/email-confirmations     {"token"}: the link's secret confirms the address
 *
 * Sign-up (server/accounts.c) sends the first mail through confirm_mail_send.
 */
#ifndef MCX_CONFIRM_H
#define MCX_CONFIRM_H

#include "server/auth.h"
#include "server/mail.h"

struct mcxd;

#define CONFIRM_TTL_SQL "interval '48 hours'" /* how long a link works */
#define CONFIRM_EVERY_TEXT "60"               /* s: at most one mail per account this often */

/* A new link secret (64 hex digits, for the mail only) and its SHA-256 (to store). */
int confirm_token_new(char secret[AUTH_SECRET_SIZE], char hash[AUTH_HASH_HEX_SIZE]);

/* After a mail that did not go out, $1 its link's hash: the link goes, and the
 * minute it claimed is given back. */
extern const char confirm_unsent_sql[];

/* Sends the confirmation mail with secret's link to email (see mail_send). */
struct mail_op *confirm_mail_send(struct mcxd *app, const char *email, const char *secret,
                                  mail_done_cb done, void *arg);

void confirm_routes_add(struct mcxd *app);

#endif
