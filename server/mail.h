/*
 * mail.h — the mails mcxd sends (today one: the e-mail address confirmation), over
 * the institution's mail relay (--smtp-url) through server/client.c. Building a
 * message is pure and unit-tested; sending is one SMTP submission on the loop.
 */
#ifndef MCX_MAIL_H
#define MCX_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "server/util.h"

struct mcxd;
struct mail_op;

#define MAIL_ADDRESS_SIZE 256

/*
 * --smtp-from as the From header and the envelope sender: "Name <a@b>" or "a@b".
 * 0 with the address in addr; -1 (err "bad_config") for anything else, a control
 * character or line break included (it would inject headers).
 */
int mail_from_parse(const char *from, char addr[MAIL_ADDRESS_SIZE], struct mcx_error *err);

/*
 * The confirmation mail for to, whose link is link (public URL + "/confirm#token=…"):
 * RFC 5322 headers (From as configured, non-ASCII words of its name RFC 2047-encoded;
 * Date at now; a Message-ID at the sender's domain; Auto-Submitted), then a UTF-8
 * plain-text body, CRLF line ends, appended to out.
 */
void mail_confirmation_build(const char *from, const char *to, const char *link, time_t now,
                             const char *message_id, struct buf *out);

/* What the learner's notice (the local adapter's credential is sealed) says. */
struct mail_notice {
    const char *to;            /* the learner's address */
    const char *learner;       /* "Given Family" */
    const char *title;         /* the credential's */
    const char *institution;   /* the issuer's name */
    const char *credential_id; /* for the verification link */
    const char *public_url;    /* --public-url */
};

/* The notice: that n->institution issued n->title, where to download it (/me) and
 * where anyone may check it (/verify/ID); headers as above, text from the database
 * kept to one line each. */
void mail_notice_build(const char *from, const struct mail_notice *n, time_t now,
                       const char *message_id, struct buf *out);

/* How a sending ended: ok, or why not (one sentence for the person who asked). */
typedef void (*mail_done_cb)(bool ok, const char *error, void *arg);

/* True when this node can send mail (--smtp-url is set). */
bool mail_available(const struct mcxd *app);

/* Submits message to to through the relay; done runs once, later, unless cancelled. */
struct mail_op *mail_send(struct mcxd *app, const char *to, const char *message, size_t len,
                          mail_done_cb done, void *arg);
void mail_cancel(struct mail_op *op); /* done will not run; NULL is a no-op */

#endif
