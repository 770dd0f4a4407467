/*
 * json.h — a small streaming JSON writer over struct buf, with the escaping and
 * UTF-8 checks every reply needs. Handlers, the error module and db result
 * conversion use it; it does no I/O.
 */
#ifndef MCX_JSON_H
#define MCX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/util.h"

#define JSON_MAX_DEPTH 64

struct json_writer {
    struct buf *out;
    int depth;
    /* need_comma[d]: the container at depth d already holds a member. */
    bool need_comma[JSON_MAX_DEPTH + 1];
    bool after_key;
};

void json_writer_init(struct json_writer *w, struct buf *out);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_key_len(struct json_writer *w, const char *key, size_t len); /* key may hold NULs */

void json_string(struct json_writer *w, const char *s);
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, int64_t v);
void json_double(struct json_writer *w, double v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* Inserts already-serialised JSON (e.g. a jsonb column) as one value. */
void json_raw(struct json_writer *w, const char *json, size_t len);

/* key + value shorthands */
void json_kv_string(struct json_writer *w, const char *key, const char *s);
void json_kv_int(struct json_writer *w, const char *key, int64_t v);
void json_kv_bool(struct json_writer *w, const char *key, bool v);

/* Adds "key":value (value: serialised JSON) to the JSON object text in obj (what a
 * jsonb column gives): false, obj unchanged, when obj is not an object. */
bool json_object_append(struct buf *obj, const char *key, const char *value);

/* One JSON log line on stderr, {"level","msg"[,"worker"]}, whatever the message holds
 * (quotes, line breaks): how the modules log. worker < 0 leaves it out. */
void json_log(const char *level, int worker, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends s to out as a quoted JSON string; invalid UTF-8 becomes U+FFFD. */
void json_escape(struct buf *out, const char *s, size_t len);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool utf8_is_valid(const char *s, size_t len);

#endif
