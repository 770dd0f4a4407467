/*
 * jsonparse.c — JSON text to a json_value tree with yajl's callback parser.
 * yajl_tree has no depth or size cap, and yajl's own UTF-8 check lets
 * overlongs, surrogates and lone \uD800 escapes through, so the input is
 * pre-scanned here and the tree is built by hand with both caps.
 */
#include "server/jsonparse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "server/json.h"

struct builder {
    yajl_handle yh;
    struct json_value *root;
    struct json_value **stack; /* open containers, innermost last */
    size_t depth;
    size_t max_depth;
    size_t nvalues;
    char *key; /* the key awaiting its value */
    size_t keylen;
    /* set when a callback stops the parse */
    const char *reason;
    size_t reason_offset;
};

/* ---- pre-scan: UTF-8 (RFC 3629) and \u surrogate pairs (RFC 8259 §7) ---- */

/* Length of the well-formed UTF-8 sequence at s, or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0; /* overlong */
    else if (c == 0xed)
        hi = 0x9f; /* surrogates */
    else if (c == 0xf0)
        lo = 0x90; /* overlong */
    else if (c == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

static int hex4(const unsigned char *s, size_t avail, unsigned *out)
{
    unsigned v = 0;

    if (avail < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/*
 * At s (just past a backslash-u inside a string): 0 and *used when the escape
 * is a BMP character or a proper surrogate pair, -1 for a lone surrogate. A
 * malformed escape is left for yajl to report.
 */
static int surrogate_check(const unsigned char *s, size_t avail, size_t *used)
{
    unsigned hi, lo;

    *used = 0;
    if (hex4(s, avail, &hi) < 0)
        return 0;
    *used = 4;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return -1;
    if (hi < 0xd800 || hi > 0xdbff)
        return 0;
    if (avail < 10 || s[4] != '\\' || s[5] != 'u' || hex4(s + 6, avail - 6, &lo) < 0)
        return -1;
    if (lo < 0xdc00 || lo > 0xdfff)
        return -1;
    *used = 10;
    return 0;
}

/* 0, or -1 with *where and *why for the first encoding error. */
static int text_prescan(const unsigned char *s, size_t len, size_t *where, const char **why)
{
    bool in_string = false;
    size_t i = 0;

    while (i < len) {
        size_t n = utf8_seq_len(s + i, len - i);
        if (n == 0) {
            *where = i;
            *why = "invalid UTF-8";
            return -1;
        }
        if (n == 1 && s[i] == '"') {
            in_string = !in_string;
        } else if (n == 1 && s[i] == '\\' && in_string && i + 1 < len) {
            size_t used = 0;
            if (s[i + 1] == 'u' && surrogate_check(s + i + 2, len - i - 2, &used) < 0) {
                *where = i;
                *why = "unpaired UTF-16 surrogate escape";
                return -1;
            }
            n = 2 + used;
        }
        i += n;
    }
    return 0;
}

/* ---- tree building ---- */

static int builder_stop(struct builder *b, const char *reason)
{
    b->reason = reason;
    b->reason_offset = yajl_get_bytes_consumed(b->yh);
    return 0;
}

static struct json_value *value_new(struct builder *b, enum json_type type)
{
    struct json_value *v;

    if (b->nvalues >= JSON_PARSE_MAX_VALUES)
        return NULL;
    b->nvalues++;
    v = xcalloc(1, sizeof(*v));
    v->type = type;
    v->offset = yajl_get_bytes_consumed(b->yh);
    return v;
}

static void array_push(struct json_value *a, struct json_value *v)
{
    size_t n = a->u.array.n;

    /* grow at powers of two */
    if ((n & (n - 1)) == 0)
        a->u.array.items = xrealloc(a->u.array.items, (n ? 2 * n : 1) * sizeof(v));
    a->u.array.items[n] = v;
    a->u.array.n++;
}

static void object_push(struct json_value *o, char *key, size_t keylen, struct json_value *v)
{
    size_t n = o->u.object.n;

    if ((n & (n - 1)) == 0)
        o->u.object.members =
            xrealloc(o->u.object.members, (n ? 2 * n : 1) * sizeof(*o->u.object.members));
    o->u.object.members[n].key = key;
    o->u.object.members[n].keylen = keylen;
    o->u.object.members[n].value = v;
    o->u.object.n++;
}

/* Hangs v under the innermost open container (or makes it the root). */
static int builder_add(struct builder *b, struct json_value *v)
{
    struct json_value *parent;

    if (v == NULL)
        return builder_stop(b, "too many values");
    if (b->depth == 0) {
        b->root = v;
        return 1;
    }
    parent = b->stack[b->depth - 1];
    if (parent->type == JSON_TYPE_ARRAY) {
        array_push(parent, v);
    } else {
        object_push(parent, b->key, b->keylen, v);
        b->key = NULL;
    }
    return 1;
}

static int on_null(void *ctx)
{
    struct builder *b = ctx;

    return builder_add(b, value_new(b, JSON_TYPE_NULL));
}

static int on_boolean(void *ctx, int boolean)
{
    struct builder *b = ctx;
    struct json_value *v = value_new(b, JSON_TYPE_BOOL);

    if (v != NULL)
        v->u.boolean = boolean != 0;
    return builder_add(b, v);
}

static int add_text(struct builder *b, enum json_type type, const unsigned char *s, size_t len)
{
    struct json_value *v = value_new(b, type);

    if (v != NULL) {
        v->u.str.s = xstrndup((const char *)s, len);
        v->u.str.len = len;
    }
    return builder_add(b, v);
}

static int on_number(void *ctx, const char *s, size_t len)
{
    return add_text(ctx, JSON_TYPE_NUMBER, (const unsigned char *)s, len);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    return add_text(ctx, JSON_TYPE_STRING, s, len);
}

static int container_open(struct builder *b, enum json_type type)
{
    struct json_value *v;

    if (b->depth >= b->max_depth)
        return builder_stop(b, "nesting too deep");
    v = value_new(b, type);
    if (!builder_add(b, v))
        return 0;
    if ((b->depth & (b->depth - 1)) == 0)
        b->stack = xrealloc(b->stack, (b->depth ? 2 * b->depth : 1) * sizeof(*b->stack));
    b->stack[b->depth++] = v;
    return 1;
}

static int on_start_map(void *ctx)
{
    return container_open(ctx, JSON_TYPE_OBJECT);
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct builder *b = ctx;

    free(b->key);
    b->key = xstrndup((const char *)key, len);
    b->keylen = len;
    return 1;
}

static int member_cmp(const void *a, const void *b)
{
    const struct json_member *x = *(const struct json_member *const *)a;
    const struct json_member *y = *(const struct json_member *const *)b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);

    if (c != 0)
        return c;
    return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

/* Sorting a copy keeps the check O(n log n) even for a hostile 1e6-key object. */
static bool object_has_duplicates(const struct json_value *o)
{
    size_t n = o->u.object.n;
    const struct json_member **sorted;
    bool dup = false;

    if (n < 2)
        return false;
    sorted = xmalloc(n * sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = &o->u.object.members[i];
    qsort(sorted, n, sizeof(*sorted), member_cmp);
    for (size_t i = 1; i < n && !dup; i++)
        dup = member_cmp(&sorted[i - 1], &sorted[i]) == 0;
    free(sorted);
    return dup;
}

static int on_end_map(void *ctx)
{
    struct builder *b = ctx;

    if (object_has_duplicates(b->stack[b->depth - 1]))
        return builder_stop(b, "duplicate key in object");
    b->depth--;
    return 1;
}

static int on_start_array(void *ctx)
{
    return container_open(ctx, JSON_TYPE_ARRAY);
}

static int on_end_array(void *ctx)
{
    struct builder *b = ctx;

    b->depth--;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number, /* raw text: yajl converts nothing, so nothing overflows */
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* ---- entry points ---- */

int json_offset_line(const char *data, size_t len, size_t offset)
{
    int line = 1;

    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++)
        if (data[i] == '\n' && line < 0x7fffffff)
            line++;
    return line;
}

static void parse_fail(struct mcx_error *err, const char *data, size_t len, size_t offset,
                       const char *why)
{
    int line = json_offset_line(data, len, offset);

    mcx_error_set(err, "malformed_json", "invalid JSON at line %d (byte %zu): %s", line, offset,
                  why);
    if (err != NULL)
        err->line = line;
}

/* yajl's message without its trailing newline and context lines. */
static void yajl_fail(struct builder *b, struct mcx_error *err, const char *data, size_t len)
{
    unsigned char *msg = yajl_get_error(b->yh, 0, (const unsigned char *)data, len);
    char why[200];
    size_t n;

    mcx_strlcpy(why, msg != NULL ? (const char *)msg : "parse error", sizeof(why));
    n = strcspn(why, "\n");
    why[n] = '\0';
    if (msg != NULL)
        yajl_free_error(b->yh, msg);
    parse_fail(err, data, len, yajl_get_bytes_consumed(b->yh), why);
}

struct json_value *json_parse(const char *data, size_t len, int max_depth, struct mcx_error *err)
{
    struct builder b = {0};
    yajl_status st;
    size_t where = 0;
    const char *why = NULL;

    if (len > JSON_PARSE_MAX_BYTES) {
        mcx_error_set(err, "malformed_json", "JSON document larger than %u bytes",
                      JSON_PARSE_MAX_BYTES);
        return NULL;
    }
    if (text_prescan((const unsigned char *)data, len, &where, &why) < 0) {
        parse_fail(err, data, len, where, why);
        return NULL;
    }
    b.max_depth = max_depth > 0 ? (size_t)max_depth : JSON_PARSE_DEFAULT_DEPTH;
    b.yh = yajl_alloc(&callbacks, NULL, &b);
    if (b.yh == NULL)
        abort(); /* yajl_alloc fails only when out of memory */
    /* Defaults are strict (no comments, no trailing garbage, strings validated);
     * say so anyway, as the safety of the tree depends on it. */
    yajl_config(b.yh, yajl_allow_comments, 0);
    yajl_config(b.yh, yajl_dont_validate_strings, 0);
    yajl_config(b.yh, yajl_allow_trailing_garbage, 0);
    yajl_config(b.yh, yajl_allow_multiple_values, 0);
    yajl_config(b.yh, yajl_allow_partial_values, 0);

    st = yajl_parse(b.yh, (const unsigned char *)data, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(b.yh);
    if (st == yajl_status_client_canceled)
        parse_fail(err, data, len, b.reason_offset, b.reason);
    else if (st != yajl_status_ok)
        yajl_fail(&b, err, data, len);
    else if (b.root == NULL)
        parse_fail(err, data, len, len, "no value");
    yajl_free(b.yh);
    free(b.stack);
    free(b.key);
    if (st != yajl_status_ok || b.root == NULL) {
        json_value_free(b.root);
        return NULL;
    }
    return b.root;
}

void json_value_free(struct json_value *v)
{
    if (v == NULL)
        return;
    switch (v->type) {
    case JSON_TYPE_STRING:
    case JSON_TYPE_NUMBER:
        free(v->u.str.s);
        break;
    case JSON_TYPE_ARRAY:
        for (size_t i = 0; i < v->u.array.n; i++)
            json_value_free(v->u.array.items[i]);
        free(v->u.array.items);
        break;
    case JSON_TYPE_OBJECT:
        for (size_t i = 0; i < v->u.object.n; i++) {
            free(v->u.object.members[i].key);
            json_value_free(v->u.object.members[i].value);
        }
        free(v->u.object.members);
        break;
    default:
        break;
    }
    free(v);
}

/* ---- accessors ---- */

bool json_is_null(const struct json_value *v)
{
    return v != NULL && v->type == JSON_TYPE_NULL;
}

bool json_is_bool(const struct json_value *v)
{
    return v != NULL && v->type == JSON_TYPE_BOOL;
}

bool json_is_number(const struct json_value *v)
{
    return v != NULL && v->type == JSON_TYPE_NUMBER;
}

bool json_is_string(const struct json_value *v)
{
    return v != NULL && v->type == JSON_TYPE_STRING;
}

bool json_is_array(const struct json_value *v)
{
    return v != NULL && v->type == JSON_TYPE_ARRAY;
}

bool json_is_object(const struct json_value *v)
{
    return v != NULL && v->type == JSON_TYPE_OBJECT;
}

const struct json_value *json_object_get(const struct json_value *v, const char *key)
{
    size_t keylen;

    if (!json_is_object(v))
        return NULL;
    keylen = strlen(key);
    for (size_t i = 0; i < v->u.object.n; i++) {
        const struct json_member *m = &v->u.object.members[i];
        if (m->keylen == keylen && memcmp(m->key, key, keylen) == 0)
            return m->value;
    }
    return NULL;
}

size_t json_object_len(const struct json_value *v)
{
    return json_is_object(v) ? v->u.object.n : 0;
}

const char *json_object_key_at(const struct json_value *v, size_t i)
{
    return i < json_object_len(v) ? v->u.object.members[i].key : NULL;
}

const struct json_value *json_object_value_at(const struct json_value *v, size_t i)
{
    return i < json_object_len(v) ? v->u.object.members[i].value : NULL;
}

size_t json_array_len(const struct json_value *v)
{
    return json_is_array(v) ? v->u.array.n : 0;
}

const struct json_value *json_array_at(const struct json_value *v, size_t i)
{
    return i < json_array_len(v) ? v->u.array.items[i] : NULL;
}

const char *json_string_value(const struct json_value *v, size_t *len)
{
    if (!json_is_string(v))
        return NULL;
    if (len != NULL)
        *len = v->u.str.len;
    return v->u.str.s;
}

const char *json_number_text(const struct json_value *v)
{
    return json_is_number(v) ? v->u.str.s : NULL;
}

int json_number_double(const struct json_value *v, double *out)
{
    char *end;
    double d;

    if (!json_is_number(v))
        return -1;
    errno = 0;
    d = strtod(v->u.str.s, &end);
    if (*end != '\0' || !isfinite(d) || (errno == ERANGE && fabs(d) > 1.0))
        return -1;
    *out = d;
    return 0;
}

bool json_bool_value(const struct json_value *v)
{
    return json_is_bool(v) && v->u.boolean;
}

void json_value_write(struct json_writer *w, const struct json_value *v)
{
    switch (v->type) {
    case JSON_TYPE_NULL:
        json_null(w);
        break;
    case JSON_TYPE_BOOL:
        json_bool(w, v->u.boolean);
        break;
    case JSON_TYPE_NUMBER:
        json_raw(w, v->u.str.s, v->u.str.len);
        break;
    case JSON_TYPE_STRING:
        json_string_len(w, v->u.str.s, v->u.str.len);
        break;
    case JSON_TYPE_ARRAY:
        json_array_begin(w);
        for (size_t i = 0; i < v->u.array.n; i++)
            json_value_write(w, v->u.array.items[i]);
        json_array_end(w);
        break;
    case JSON_TYPE_OBJECT:
        json_object_begin(w);
        for (size_t i = 0; i < v->u.object.n; i++) {
            json_key_len(w, v->u.object.members[i].key, v->u.object.members[i].keylen);
            json_value_write(w, v->u.object.members[i].value);
        }
        json_object_end(w);
        break;
    }
}
