/*
 * json.c — JSON writer. Comma placement is tracked per depth so callers
 * write members in order without thinking about separators.
 */
#include "server/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_writer_init(struct json_writer *w, struct buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

static void value_prefix(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->need_comma[w->depth])
        buf_putc(w->out, ',');
    w->need_comma[w->depth] = true;
}

static void container_open(struct json_writer *w, char c)
{
    value_prefix(w);
    buf_putc(w->out, c);
    if (w->depth < JSON_MAX_DEPTH)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static void container_close(struct json_writer *w, char c)
{
    buf_putc(w->out, c);
    if (w->depth > 0)
        w->depth--;
}

void json_object_begin(struct json_writer *w)
{
    container_open(w, '{');
}

void json_object_end(struct json_writer *w)
{
    container_close(w, '}');
}

void json_array_begin(struct json_writer *w)
{
    container_open(w, '[');
}

void json_array_end(struct json_writer *w)
{
    container_close(w, ']');
}

void json_key(struct json_writer *w, const char *key)
{
    json_key_len(w, key, strlen(key));
}

void json_key_len(struct json_writer *w, const char *key, size_t len)
{
    value_prefix(w);
    json_escape(w->out, key, len);
    buf_putc(w->out, ':');
    w->after_key = true;
}

void json_string(struct json_writer *w, const char *s)
{
    if (s == NULL) {
        json_null(w);
        return;
    }
    json_string_len(w, s, strlen(s));
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
    value_prefix(w);
    json_escape(w->out, s, len);
}

void json_int(struct json_writer *w, int64_t v)
{
    value_prefix(w);
    buf_printf(w->out, "%" PRId64, v);
}

void json_double(struct json_writer *w, double v)
{
    value_prefix(w);
    if (!isfinite(v)) {
        buf_puts(w->out, "null");
        return;
    }
    /* the shortest form that reads back as the same double: 3.3, not 3.2999999999999998 */
    char text[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof(text), "%.*g", digits, v);
        if (strtod(text, NULL) == v)
            break;
    }
    buf_puts(w->out, text);
}

void json_bool(struct json_writer *w, bool v)
{
    value_prefix(w);
    buf_puts(w->out, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
    value_prefix(w);
    buf_puts(w->out, "null");
}

void json_raw(struct json_writer *w, const char *json, size_t len)
{
    value_prefix(w);
    buf_append(w->out, json, len);
}

void json_kv_string(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    json_string(w, s);
}

void json_kv_int(struct json_writer *w, const char *key, int64_t v)
{
    json_key(w, key);
    json_int(w, v);
}

void json_kv_bool(struct json_writer *w, const char *key, bool v)
{
    json_key(w, key);
    json_bool(w, v);
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one (RFC 3629). */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && s[1] >= 0xa0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xf4 && s[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

bool utf8_is_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

void json_escape(struct buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    buf_reserve(out, len + 2);
    buf_putc(out, '"');
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            size_t n = utf8_seq_len(p + i, len - i);
            if (n == 0) {
                buf_puts(out, "\\ufffd");
                i++;
            } else {
                buf_append(out, p + i, n);
                i += n;
            }
            continue;
        }
        switch (c) {
        case '"':
            buf_puts(out, "\\\"");
            break;
        case '\\':
            buf_puts(out, "\\\\");
            break;
        case '\n':
            buf_puts(out, "\\n");
            break;
        case '\r':
            buf_puts(out, "\\r");
            break;
        case '\t':
            buf_puts(out, "\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                buf_append(out, u, sizeof(u));
            } else {
                buf_putc(out, (char)c);
            }
        }
        i++;
    }
    buf_putc(out, '"');
}

bool json_object_append(struct buf *obj, const char *key, const char *value)
{
    size_t n = obj->len;

    while (n > 0 && (obj->data[n - 1] == ' ' || obj->data[n - 1] == '\n'))
        n--;
    if (n < 2 || obj->data[0] != '{' || obj->data[n - 1] != '}')
        return false;
    bool empty = true;
    for (size_t i = 1; i < n - 1 && empty; i++)
        empty = obj->data[i] == ' ' || obj->data[i] == '\n';
    obj->len = n - 1;
    obj->data[obj->len] = '\0';
    if (!empty)
        buf_puts(obj, ", "); /* spaced as jsonb writes its text */
    json_escape(obj, key, strlen(key));
    buf_puts(obj, ": ");
    buf_puts(obj, value);
    buf_putc(obj, '}');
    return true;
}

void json_log(const char *level, int worker, const char *fmt, ...)
{
    struct buf msg, line;
    va_list ap;

    buf_init(&msg);
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    buf_init(&line);
    buf_printf(&line, "{\"level\":\"%s\",\"msg\":", level);
    json_escape(&line, msg.data, msg.len);
    if (worker >= 0)
        buf_printf(&line, ",\"worker\":%d", worker);
    buf_puts(&line, "}\n");
    fputs(line.data, stderr);
    buf_cleanup(&msg);
    buf_cleanup(&line);
}
