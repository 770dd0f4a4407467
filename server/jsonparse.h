/*
 * jsonparse.h — parses untrusted JSON (request bodies, harvested feeds) into a
 * small read-only tree, with a depth cap, a size cap and strict UTF-8. The
 * codecs (catalogue/elm.c) and handlers read documents through it.
 */
#ifndef MCX_JSONPARSE_H
#define MCX_JSONPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/util.h"

/* Limits a caller cannot raise: a bigger document is refused before parsing,
 * and no document may hold more values than this (memory stays ~64 B/value). */
#define JSON_PARSE_MAX_BYTES (32u * 1024u * 1024u)
#define JSON_PARSE_MAX_VALUES 1000000u
#define JSON_PARSE_DEFAULT_DEPTH 64

enum json_type {
    JSON_TYPE_NULL,
    JSON_TYPE_BOOL,
    JSON_TYPE_NUMBER, /* kept as its source text: no precision is lost */
    JSON_TYPE_STRING,
    JSON_TYPE_ARRAY,
    JSON_TYPE_OBJECT,
};

struct json_member;

struct json_value {
    enum json_type type;
    size_t offset; /* byte offset just past the value's first token */
    union {
        bool boolean;
        struct {
            char *s; /* NUL-terminated; may hold NULs (\u0000) before len */
            size_t len;
        } str; /* JSON_TYPE_STRING and JSON_TYPE_NUMBER */
        struct {
            struct json_value **items;
            size_t n;
        } array;
        struct {
            struct json_member *members; /* in document order */
            size_t n;
        } object;
    } u;
};

struct json_member {
    char *key;
    size_t keylen;
    struct json_value *value;
};

/*
 * Parses data[0..len) as one JSON value. Rejects (NULL, err->code
 * "malformed_json", err->line set) syntax errors, truncation, trailing data,
 * comments, invalid UTF-8 (overlongs, surrogates, lone \uD800 escapes), nesting
 * deeper than max_depth (<= 0: JSON_PARSE_DEFAULT_DEPTH), inputs over
 * JSON_PARSE_MAX_BYTES and duplicate keys in one object (JSON-LD leaves them
 * undefined and two readers could see different documents, so none is kept).
 */
struct json_value *json_parse(const char *data, size_t len, int max_depth, struct mcx_error *err);
void json_value_free(struct json_value *v);

/* Type checks; all are false for NULL. */
bool json_is_null(const struct json_value *v);
bool json_is_bool(const struct json_value *v);
bool json_is_number(const struct json_value *v);
bool json_is_string(const struct json_value *v);
bool json_is_array(const struct json_value *v);
bool json_is_object(const struct json_value *v);

/* The member named key, or NULL (also when v is not an object). */
const struct json_value *json_object_get(const struct json_value *v, const char *key);
size_t json_object_len(const struct json_value *v);
const char *json_object_key_at(const struct json_value *v, size_t i);
const struct json_value *json_object_value_at(const struct json_value *v, size_t i);

size_t json_array_len(const struct json_value *v);
const struct json_value *json_array_at(const struct json_value *v, size_t i);

/* The string, or NULL when v is not a string; *len (optional) gets its length. */
const char *json_string_value(const struct json_value *v, size_t *len);
/* The number's source text ("1e400"), or NULL when v is not a number. */
const char *json_number_text(const struct json_value *v);
/* 0 and the value when v is a number that fits a finite double, else -1. */
int json_number_double(const struct json_value *v, double *out);
bool json_bool_value(const struct json_value *v);

/* Writes v (a whole tree) as one value: numbers as their source text, members in
 * document order; what the parser accepted comes out as valid JSON again. */
struct json_writer;
void json_value_write(struct json_writer *w, const struct json_value *v);

/* 1-based line of byte offset in data (for error reports). */
int json_offset_line(const char *data, size_t len, size_t offset);

#endif
