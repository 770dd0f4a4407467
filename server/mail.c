/*
 * mail.c — the e-mail address confirmation mail and its submission to the
 * institution's relay (--smtp-url, --smtp-from, --smtp-user, --smtp-password-file).
 */
#include "server/mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/client.h"
#include "server/config.h"
#include "server/json.h"
#include "server/mcxd.h"

#define MAIL_TIMEOUT_MS 15000L /* a sign-up waits for it: not longer */

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < ' ' || *p == 0x7f)
            return true;
    return false;
}

int mail_from_parse(const char *from, char addr[MAIL_ADDRESS_SIZE], struct mcx_error *err)
{
    const char *lt = strrchr(from, '<'), *a = from;
    size_t n = strlen(from);

    addr[0] = '\0';
    if (has_control(from)) {
        mcx_error_set(err, "bad_config", "--smtp-from: no line breaks or control characters");
        return -1;
    }
    if (lt != NULL) {
        const char *gt = strchr(lt, '>');
        if (gt == NULL || gt[1] != '\0') {
            mcx_error_set(err, "bad_config", "--smtp-from: '%s' is not \"Name <address>\"", from);
            return -1;
        }
        a = lt + 1;
        n = (size_t)(gt - a);
    }
    if (n >= MAIL_ADDRESS_SIZE || !client_mail_address_ok(a, n)) {
        mcx_error_set(err, "bad_config", "--smtp-from: '%s' holds no plain e-mail address", from);
        return -1;
    }
    memcpy(addr, a, n);
    addr[n] = '\0';
    return 0;
}

/*
 * Header text as RFC 5322 and 2047 want it: as is when plain ASCII (and, for a display
 * name, without specials), else encoded-words (UTF-8, base64) of at most 45 bytes of
 * text each, so that no word passes RFC 2047's 75 characters, cut between characters
 * and folded onto lines of their own.
 */
static void header_text(struct buf *out, const char *text, size_t n, const char *specials)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bool plain = true;

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] >= 0x80 || strchr(specials, text[i]) != NULL)
            plain = false;
    if (plain) {
        buf_append(out, text, n);
        return;
    }
    for (size_t at = 0; at < n;) {
        size_t len = n - at > 45 ? 45 : n - at;
        while (len > 0 && at + len < n && ((unsigned char)text[at + len] & 0xc0) == 0x80)
            len--; /* never between a character's bytes */
        if (len == 0)
            len = n - at < 45 ? n - at : 45;
        if (at > 0)
            buf_puts(out, "\r\n ");
        buf_puts(out, "=?UTF-8?B?");
        for (size_t i = 0; i < len; i += 3) {
            const unsigned char *p = (const unsigned char *)text + at + i;
            unsigned v = (unsigned)p[0] << 16;
            if (i + 1 < len)
                v |= (unsigned)p[1] << 8;
            if (i + 2 < len)
                v |= p[2];
            buf_putc(out, b64[(v >> 18) & 63]);
            buf_putc(out, b64[(v >> 12) & 63]);
            buf_putc(out, i + 1 < len ? b64[(v >> 6) & 63] : '=');
            buf_putc(out, i + 2 < len ? b64[v & 63] : '=');
        }
        buf_puts(out, "?=");
        at += len;
    }
}

static void from_header(struct buf *out, const char *from)
{
    const char *lt = strrchr(from, '<');

    if (lt == NULL) {
        buf_puts(out, from);
        return;
    }
    const char *end = lt;
    while (end > from && end[-1] == ' ')
        end--;
    const char *name = from;
    while (name < end && *name == ' ')
        name++;
    if (end > name && *name == '"' && end[-1] == '"' && end - name >= 2) {
        name++;
        end--;
    }
    if (end > name) {
        header_text(out, name, (size_t)(end - name), "\"\\()<>[]:;@,.");
        buf_putc(out, ' ');
    }
    buf_puts(out, lt);
}

/* From, To, Subject, Date, Message-ID and the MIME headers of a UTF-8 text mail, and
 * the empty line after them. */
static void headers(struct buf *out, const char *from, const char *to, const char *subject,
                    time_t now, const char *message_id)
{
    char addr[MAIL_ADDRESS_SIZE], date[64];
    struct mcx_error err;
    struct tm tm;

    if (mail_from_parse(from, addr, &err) != 0)
        mcx_strlcpy(addr, "mcx@localhost", sizeof(addr));
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    buf_puts(out, "From: ");
    from_header(out, from);
    buf_printf(out, "\r\nTo: %s\r\nSubject: ", to);
    header_text(out, subject, strlen(subject), "");
    buf_printf(out,
               "\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
               "Auto-Submitted: auto-generated\r\n\r\n",
               date, message_id, strchr(addr, '@') + 1);
}

void mail_confirmation_build(const char *from, const char *to, const char *link, time_t now,
                             const char *message_id, struct buf *out)
{
    headers(out, from, to, "Confirm your e-mail address for mcx", now, message_id);
    buf_printf(out,
               "Hello,\r\n\r\n"
               "an account on mcx, the micro-credential exchange, was made with this address\r\n"
               "(%s), or asked to confirm it. To confirm that the address is yours,\r\n"
               "open this link within 48 hours:\r\n\r\n"
               "%s\r\n\r\n"
               "Once it is confirmed, the micro-credentials universities issued to this\r\n"
               "address appear under \"My credentials\" on your page, ready to download.\r\n\r\n"
               "If you did not ask for this, ignore this e-mail: nothing happens without\r\n"
               "the link.\r\n\r\n-- \r\nmcx\r\n",
               to, link);
}

/* Text from the database for a mail's body: one line, no control characters. */
static void body_text(struct buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        buf_putc(out, *p < ' ' || *p == 0x7f ? ' ' : (char)*p);
}

void mail_notice_build(const char *from, const struct mail_notice *n, time_t now,
                       const char *message_id, struct buf *out)
{
    struct buf subject;

    buf_init(&subject);
    buf_puts(&subject, "Your micro-credential is ready: ");
    body_text(&subject, n->title);
    headers(out, from, n->to, subject.data, now, message_id);
    buf_cleanup(&subject);
    buf_puts(out, "Hello ");
    body_text(out, n->learner);
    buf_puts(out, ",\r\n\r\n");
    body_text(out, n->institution);
    buf_puts(out, " issued you the micro-credential\r\n\r\n  ");
    body_text(out, n->title);
    buf_printf(out,
               "\r\n\r\nsealed with its electronic seal. To download it, sign in (or sign up) "
               "with\r\nthis address (%s) at\r\n\r\n%s/me\r\n\r\n"
               "and choose \"Download the sealed file\". Add the file to your Europass wallet\r\n"
               "with \"Upload a credential\". Anyone you show it to can check it at\r\n\r\n"
               "%s/verify/%s\r\n\r\n"
               "The university keeps your personal data for a limited time only: download\r\n"
               "the file soon.\r\n\r\n-- \r\nmcx\r\n",
               n->to, n->public_url, n->public_url, n->credential_id);
}

/* ---- sending ---- */

struct mail_op {
    struct client_req *req;
    mail_done_cb done;
    void *arg;
};

bool mail_available(const struct mcxd *app)
{
    return app->cfg->smtp_url[0] != '\0';
}

static void sent(const struct client_response *resp, void *arg)
{
    struct mail_op *op = arg;
    char error[300] = "";

    if (resp->result != CLIENT_OK) {
        snprintf(error, sizeof(error), "the mail server did not take the mail: %s", resp->error);
        json_log("warn", -1, "%s", error);
    }
    op->done(resp->result == CLIENT_OK, error, op->arg);
    free(op);
}

struct mail_op *mail_send(struct mcxd *app, const char *to, const char *message, size_t len,
                          mail_done_cb done, void *arg)
{
    const struct mcx_config *cfg = app->cfg;
    struct mail_op *op = xcalloc(1, sizeof(*op));
    char from[MAIL_ADDRESS_SIZE];
    struct mcx_error err;
    struct client_mail m = {
        .url = cfg->smtp_url,
        .from = from,
        .to = to,
        .message = message,
        .message_len = len,
        .user = cfg->smtp_user,
        .password = app->smtp_password,
        .timeout_ms = MAIL_TIMEOUT_MS,
        .require_tls = cfg->smtp_require_tls,
    };

    if (mail_from_parse(cfg->smtp_from, from, &err) != 0) /* checked at start-up */
        mcx_strlcpy(from, "mcx@localhost", sizeof(from));
    op->done = done;
    op->arg = arg;
    op->req = client_send_mail(app->client, &m, sent, op);
    return op;
}

void mail_cancel(struct mail_op *op)
{
    if (op == NULL)
        return;
    client_cancel(op->req);
    free(op);
}
