/*
 * util.h — memory helpers that abort on exhaustion, a growable byte buffer and the
 * error record that functions hand back to callers who must tell the user.
 * Everything in mcx uses these; they depend on nothing but libc.
 */
#ifndef MCX_UTIL_H
#define MCX_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCX_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Out of memory is not an error path: it aborts (STYLE.md). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* A growable, always NUL-terminated byte buffer. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Hands the bytes to the caller (who frees them) and leaves b empty. */
char *buf_steal(struct buf *b, size_t *len);

/*
 * What went wrong, for a caller that must tell a user: a stable machine code
 * ("validation_failed"), a sentence, and where in the input when known.
 */
struct mcx_error {
    char code[48];
    char message[512];
    char path[256];
    int line;
};

void mcx_error_set(struct mcx_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mcx_error_clear(struct mcx_error *err);

/* Monotonic clock in microseconds. */
int64_t mcx_now_us(void);

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t mcx_strlcpy(char *dst, const char *src, size_t size);
/* The longest prefix of s[0..len) that does not end inside a UTF-8 sequence: where
 * to cut a text that is too long without leaving half a character. */
size_t mcx_utf8_cut(const char *s, size_t len);

/* Strict decimal parsers: whole string, in range, else -1. */
int mcx_parse_int(const char *s, long min, long max, long *out);
int mcx_parse_double(const char *s, double min, double max, double *out);

/* 16 random bytes as 32 lowercase hex digits (+NUL) from the OS CSPRNG. */
void mcx_random_hex(char out[33]);

/* A real calendar date written YYYY-MM-DD, years 1900-2999 (what a catalogue or an
 * agreement can mean; PostgreSQL's date would take more). */
bool mcx_date_is_valid(const char *s);

/* An institution id (SCHAC-like, e.g. "vdu.lt"): 1-127 of lowercase letters, digits,
 * '.' and '-', starting with a letter or digit. */
bool mcx_institution_id_is_valid(const char *id);

/* min to max ASCII digits and nothing else. */
bool mcx_str_is_digits(const char *s, size_t min, size_t max);
/* What follows prefix in s, or NULL when s (which may be NULL) does not start with it. */
const char *mcx_str_after(const char *s, const char *prefix);

#endif
