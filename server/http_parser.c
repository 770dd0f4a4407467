/*
 * http_parser.c — request head parsing per RFC 9112 §3 and §5, and request-target
 * handling. Hostile input is the normal case here: every byte is checked.
 */
#include "server/http_parser.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    enum http_method method;
} methods[] = {
    {"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
    {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH}, {"OPTIONS", HTTP_OPTIONS},
};

const char *http_method_name(enum http_method m)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(methods); i++)
        if (methods[i].method == m)
            return methods[i].name;
    return "?";
}

void http_methods_format(unsigned mask, char *out, size_t outlen)
{
    size_t used = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < MCX_ARRAY_LEN(methods); i++) {
        if (!(mask & methods[i].method))
            continue;
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", methods[i].name);
        if (n < 0 || (size_t)n >= outlen - used)
            return;
        used += (size_t)n;
    }
}

/* RFC 9110 §5.6.2 token characters. */
static bool is_tchar(unsigned char c)
{
    if (isalnum(c))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int fail(struct mcx_error *err, int status, const char *msg)
{
    mcx_error_set(err, "bad_request", "%s", msg);
    return status;
}

/* Returns the end of the line starting at p (pointing at CR or LF), or NULL. */
static char *line_end(char *p, char *end)
{
    while (p < end && *p != '\n')
        p++;
    return p < end ? p : NULL;
}

static int parse_request_line(char *line, struct http_head *out, struct mcx_error *err)
{
    char *sp1 = strchr(line, ' ');
    char *sp2;

    if (sp1 == NULL || sp1 == line)
        return fail(err, 400, "malformed request line");
    *sp1 = '\0';
    sp2 = strchr(sp1 + 1, ' ');
    if (sp2 == NULL)
        return fail(err, 400, "malformed request line");
    *sp2 = '\0';
    for (const char *c = line; *c; c++)
        if (!is_tchar((unsigned char)*c))
            return fail(err, 400, "malformed method");
    out->method = 0;
    out->method_name = line;
    for (size_t i = 0; i < MCX_ARRAY_LEN(methods); i++)
        if (strcmp(methods[i].name, line) == 0)
            out->method = methods[i].method;
    if (out->method == 0) {
        mcx_error_set(err, "not_implemented", "method %.32s is not supported", line);
        return 501;
    }
    out->target = sp1 + 1;
    if (out->target[0] == '\0')
        return fail(err, 400, "empty request target");
    for (const unsigned char *c = (const unsigned char *)out->target; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            return fail(err, 400, "invalid character in request target");
    const char *ver = sp2 + 1;
    if (strncmp(ver, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)ver[7]) || ver[8] != '\0') {
        mcx_error_set(err, "http_version_not_supported", "only HTTP/1.x is supported");
        return 505;
    }
    out->version_minor = ver[7] - '0';
    return 0;
}

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

static int parse_header_line(char *line, char *end, struct http_head *out, struct mcx_error *err)
{
    char *colon = memchr(line, ':', (size_t)(end - line));

    if (colon == NULL || colon == line)
        return fail(err, 400, "malformed header field");
    for (char *c = line; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return fail(err, 400, "malformed header field name");
    for (char *c = colon + 1; c < end; c++) {
        unsigned char u = (unsigned char)*c;
        if ((u < 0x20 && u != '\t') || u == 0x7f)
            return fail(err, 400, "invalid character in header field value");
    }
    if (out->nheaders >= HTTP_MAX_HEADERS) {
        mcx_error_set(err, "headers_too_large", "more than %d header fields", HTTP_MAX_HEADERS);
        return 431;
    }
    *colon = '\0';
    out->headers[out->nheaders].name = line;
    out->headers[out->nheaders].value = trim(colon + 1, end);
    out->nheaders++;
    return 0;
}

int http_parse_head(char *head, size_t len, struct http_head *out, struct mcx_error *err)
{
    char *p = head;
    char *end = head + len;
    bool first = true;

    memset(out, 0, sizeof(*out));
    /* RFC 9112 §2.2: ignore at least one empty line before the request-line. */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    if (memchr(head, '\0', len) != NULL)
        return fail(err, 400, "NUL byte in request head");
    for (;;) {
        char *nl = line_end(p, end);
        if (nl == NULL)
            return fail(err, 400, "incomplete request head");
        char *eol = nl;
        if (eol > p && eol[-1] == '\r')
            eol--;
        if (eol == p)
            break; /* the blank line */
        *eol = '\0';
        int status;
        if (first) {
            status = parse_request_line(p, out, err);
            first = false;
        } else {
            if (*p == ' ' || *p == '\t')
                return fail(err, 400, "obsolete header line folding");
            status = parse_header_line(p, eol, out, err);
        }
        if (status != 0)
            return status;
        p = nl + 1;
    }
    if (first)
        return fail(err, 400, "empty request");
    return 0;
}

const char *http_head_get(const struct http_head *h, const char *name)
{
    for (int i = 0; i < h->nheaders; i++)
        if (strcasecmp(h->headers[i].name, name) == 0)
            return h->headers[i].value;
    return NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int http_url_decode(const char *s, size_t len, bool plus_is_space, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]);
            int lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        buf_putc(out, c);
    }
    if (out->data == NULL)
        buf_reserve(out, 0);
    return 0;
}

static void target_push(struct http_target *t, char *seg)
{
    t->segs = xrealloc(t->segs, sizeof(char *) * (size_t)(t->nsegs + 1));
    t->segs[t->nsegs++] = seg;
}

/* Applies one decoded segment: "." vanishes, ".." pops (404 above the root). */
static int target_apply(struct http_target *t, struct buf *seg, bool last)
{
    if (strcmp(seg->data, ".") == 0) {
        t->trailing_slash = last;
        return 0;
    }
    if (strcmp(seg->data, "..") == 0) {
        if (t->nsegs == 0)
            return 404;
        free(t->segs[--t->nsegs]);
        t->trailing_slash = last;
        return 0;
    }
    if (last && seg->len == 0) {
        t->trailing_slash = t->nsegs > 0;
        return 0;
    }
    t->trailing_slash = false;
    target_push(t, buf_steal(seg, NULL));
    return 0;
}

static void target_join(struct http_target *t)
{
    struct buf b;

    buf_init(&b);
    for (int i = 0; i < t->nsegs; i++) {
        buf_putc(&b, '/');
        buf_puts(&b, t->segs[i]);
    }
    if (t->nsegs == 0 || t->trailing_slash)
        buf_putc(&b, '/');
    t->path = buf_steal(&b, NULL);
}

int http_target_parse(const char *target, struct http_target *t)
{
    const char *q = strchr(target, '?');
    const char *end = q ? q : target + strlen(target);
    const char *p = target;
    int rc = 0;

    memset(t, 0, sizeof(*t));
    if (*p != '/' || memchr(target, '#', (size_t)(end - target)) != NULL)
        return 400; /* origin-form only (RFC 9112 §3.2.1) */
    while (p < end && rc == 0) {
        const char *seg = p + 1;
        const char *next = memchr(seg, '/', (size_t)(end - seg));
        const char *segend = next ? next : end;
        struct buf dec;
        buf_init(&dec);
        if (http_url_decode(seg, (size_t)(segend - seg), false, &dec) != 0)
            rc = 400;
        else
            rc = target_apply(t, &dec, next == NULL);
        buf_cleanup(&dec);
        p = segend;
    }
    if (rc != 0) {
        http_target_cleanup(t);
        return rc;
    }
    target_join(t);
    t->query = xstrdup(q ? q + 1 : "");
    return 0;
}

void http_target_cleanup(struct http_target *t)
{
    for (int i = 0; i < t->nsegs; i++)
        free(t->segs[i]);
    free(t->segs);
    free(t->path);
    free(t->query);
    memset(t, 0, sizeof(*t));
}

int http_query_next(const char *query, size_t *pos, char **name, char **value)
{
    const char *p = query + *pos;
    struct buf key, val;

    while (*p == '&')
        p++;
    if (*p == '\0') {
        *pos = (size_t)(p - query);
        return 1;
    }
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    size_t klen = eq ? (size_t)(eq - p) : len;
    *pos = (size_t)(p - query) + len;
    buf_init(&key);
    buf_init(&val);
    if (http_url_decode(p, klen, true, &key) != 0 ||
        (eq != NULL && http_url_decode(eq + 1, len - klen - 1, true, &val) != 0)) {
        buf_cleanup(&key);
        buf_cleanup(&val);
        return -1;
    }
    *name = buf_steal(&key, NULL);
    *value = buf_steal(&val, NULL);
    return 0;
}

char *http_query_get(const char *query, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = query;

    while (p != NULL && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        struct buf key;
        buf_init(&key);
        if (http_url_decode(p, klen, true, &key) == 0 && key.len == nlen &&
            memcmp(key.data, name, nlen) == 0) {
            struct buf val;
            buf_init(&val);
            buf_cleanup(&key);
            if (eq == NULL || http_url_decode(eq + 1, len - klen - 1, true, &val) != 0) {
                buf_cleanup(&val);
                return xstrdup("");
            }
            return buf_steal(&val, NULL);
        }
        buf_cleanup(&key);
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}
