/*
 * http_parser.h — parses an HTTP/1.x request head (request line + header fields)
 * held in one buffer, and splits/decodes request targets. Pure code: http.c feeds
 * it bytes from the socket; unit tests and fuzzers call it directly.
 */
#ifndef MCX_HTTP_PARSER_H
#define MCX_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "server/util.h"

#define HTTP_MAX_HEADERS 100

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_DELETE = 1 << 4,
    HTTP_PATCH = 1 << 5,
    HTTP_OPTIONS = 1 << 6,
};

struct http_header {
    const char *name;  /* as sent; compare case-insensitively */
    const char *value; /* surrounding whitespace trimmed */
};

/* Points into the buffer given to http_parse_head, which it modifies in place. */
struct http_head {
    enum http_method method;
    const char *method_name;
    const char *target; /* request-target as sent */
    int version_minor;  /* HTTP/1.0 → 0, HTTP/1.1 → 1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    int nheaders;
};

/*
 * Parses head[0..len), which must end with the blank line (CRLF CRLF, or bare LF
 * as RFC 9112 §2.2 allows a recipient to accept). The buffer is NUL-split in place.
 * Returns the HTTP status to answer on failure (400, 431, 501, 505) with err set,
 * or 0 on success.
 */
int http_parse_head(char *head, size_t len, struct http_head *out, struct mcx_error *err);

const char *http_head_get(const struct http_head *h, const char *name);
const char *http_method_name(enum http_method m);
/* "GET, HEAD, POST" for a method bitmask, into out. */
void http_methods_format(unsigned mask, char *out, size_t outlen);

/*
 * A request-target split into decoded path segments and the raw query. Each
 * segment is percent-decoded on its own, so an encoded "/" stays inside its
 * segment (an id may hold one) and can never act as a separator; dot-segments
 * are resolved on the decoded segments (RFC 3986 §5.2.4).
 */
struct http_target {
    char **segs;
    int nsegs;
    bool trailing_slash; /* "/a/b/": names a directory */
    char *path;          /* "/" + segments joined by "/", for logs and messages */
    char *query;         /* raw, without "?" ("" when absent) */
};

/*
 * Parses an origin-form request-target. Returns 0, 400 for a malformed target
 * (bad escape, NUL byte, not origin-form) or 404 for one that climbs above "/".
 */
int http_target_parse(const char *target, struct http_target *t);
void http_target_cleanup(struct http_target *t);

/* Decodes application/x-www-form-urlencoded value; -1 on bad escapes or NUL. */
int http_url_decode(const char *s, size_t len, bool plus_is_space, struct buf *out);

/*
 * Walks a raw query one name=value pair at a time (start with *pos = 0): 0 with
 * both decoded into malloc'd strings (value "" when there is no "="), 1 at the
 * end, -1 on a bad escape or a NUL (the caller answers 400).
 */
int http_query_next(const char *query, size_t *pos, char **name, char **value);
/* Finds the first value of a query parameter; returns a malloc'd decoded string. */
char *http_query_get(const char *query, const char *name);

#endif
