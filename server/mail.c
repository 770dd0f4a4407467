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

static bool is_plain_address(const char *a, size_t n)
{
    const char *at = memchr(a, '@', n);

    if (n == 0 || n >= MAIL_ADDRESS_SIZE || at == NULL || at == a || at == a + n - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)a[i] <= ' ' || strchr("<>\"(),;:\\[]", a[i]) != NULL)
            return false;
    return memchr(at + 1, '@', (size_t)(a + n - at - 1)) == NULL;
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
    if (!is_plain_address(a, n)) {
        mcx_error_set(err, "bad_config", "--smtp-from: '%s' holds no plain e-mail address", from);
        return -1;
    }
    memcpy(addr, a, n);
    addr[n] = '\0';
    return 0;
}

/* A display name as RFC 5322 wants it: as is when plain ASCII without specials,
 * else one RFC 2047 encoded-word (UTF-8, base64). */
static void display_name(struct buf *out, const char *name, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bool plain = true;

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] >= 0x80 || strchr("\"\\()<>[]:;@,.", name[i]) != NULL)
            plain = false;
    if (plain) {
        buf_append(out, name, n);
        return;
    }
    buf_puts(out, "=?UTF-8?B?");
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)name[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)name[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)name[i + 2];
        buf_putc(out, b64[(v >> 18) & 63]);
        buf_putc(out, b64[(v >> 12) & 63]);
        buf_putc(out, i + 1 < n ? b64[(v >> 6) & 63] : '=');
        buf_putc(out, i + 2 < n ? b64[v & 63] : '=');
    }
    buf_puts(out, "?=");
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
        display_name(out, name, (size_t)(end - name));
        buf_putc(out, ' ');
    }
    buf_puts(out, lt);
}

void mail_confirmation_build(const char *from, const char *to, const char *link, time_t now,
                             const char *message_id, struct buf *out)
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
    buf_printf(out,
               "\r\nTo: %s\r\nSubject: Confirm your e-mail address for mcx\r\nDate: %s\r\n"
               "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
               "Auto-Submitted: auto-generated\r\n\r\n",
               to, date, message_id, strchr(addr, '@') + 1);
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
        struct buf line;
        snprintf(error, sizeof(error), "the mail server did not take the mail: %s", resp->error);
        buf_init(&line);
        buf_puts(&line, "{\"level\":\"warn\",\"msg\":");
        json_escape(&line, error, strlen(error));
        fprintf(stderr, "%s}\n", line.data);
        buf_cleanup(&line);
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
