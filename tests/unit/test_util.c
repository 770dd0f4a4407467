/*
 * test_util.c — the shared helpers (server/util.h): the growable buffer, the
 * error record, strict number parsing, bounded copies and random ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/util.h"

/* ---- struct buf ---- */

static void test_buf_init_empty(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    buf_cleanup(&b); /* cleanup of an empty buffer is fine */
    assert_null(b.data);
    buf_reset(&b); /* and so is reset */
    assert_null(b.data);
}

static void test_buf_append_growth(void **state)
{
    (void)state;
    struct buf b;
    char want[10001];

    buf_init(&b);
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        buf_putc(&b, c);
        want[i] = c;
        assert_int_equal(b.len, (size_t)i + 1);
        assert_true(b.cap > b.len); /* room for the NUL */
        assert_int_equal(b.data[b.len], '\0');
    }
    want[10000] = '\0';
    assert_string_equal(b.data, want);
    buf_cleanup(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_buf_append_binary(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    buf_append(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 4);
    buf_append(&b, NULL, 0); /* zero bytes: nothing read */
    assert_int_equal(b.len, 3);
    buf_puts(&b, "");
    assert_int_equal(b.len, 3);
    buf_cleanup(&b);
}

static void test_buf_append_zero_terminates(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    buf_append(&b, "", 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    buf_cleanup(&b);
}

static void test_buf_reserve(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    buf_reserve(&b, 1000);
    assert_true(b.cap >= 1001);
    assert_int_equal(b.len, 0);
    char *before = b.data;
    size_t cap = b.cap;
    buf_append(&b, "0123456789", 10);
    for (int i = 0; i < 99; i++)
        buf_append(&b, "0123456789", 10);
    assert_int_equal(b.len, 1000);
    assert_ptr_equal(b.data, before); /* no reallocation within the reserve */
    assert_int_equal(b.cap, cap);
    buf_reserve(&b, 0);
    assert_int_equal(b.cap, cap);
    buf_cleanup(&b);
}

static void test_buf_reset(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "hello");
    size_t cap = b.cap;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(b.cap, cap); /* memory kept for reuse */
    buf_puts(&b, "x");
    assert_string_equal(b.data, "x");
    buf_cleanup(&b);
}

static void test_buf_printf(void **state)
{
    (void)state;
    struct buf b;
    char big[5000];

    buf_init(&b);
    buf_printf(&b, "%d-%s", 42, "x");
    assert_string_equal(b.data, "42-x");
    buf_printf(&b, "%s", "");
    assert_string_equal(b.data, "42-x");
    buf_printf(&b, "|%05.1f|%c|%%|%zu", 3.14159, 'c', (size_t)7);
    assert_string_equal(b.data, "42-x|003.1|c|%|7");
    assert_int_equal(b.len, strlen(b.data));

    /* one call that needs more than the first growth step */
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_reset(&b);
    buf_printf(&b, "<%s>", big);
    assert_int_equal(b.len, sizeof(big) + 1);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[b.len - 1], '>');
    assert_int_equal(b.data[b.len], '\0');
    buf_cleanup(&b);
}

static void vprintf_helper(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

static void test_buf_vprintf(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "a");
    vprintf_helper(&b, "%s%d", "b", 1);
    assert_string_equal(b.data, "ab1");
    buf_cleanup(&b);
}

static void test_buf_steal(void **state)
{
    (void)state;
    struct buf b;
    size_t len = 99;

    buf_init(&b);
    buf_puts(&b, "payload");
    char *p = buf_steal(&b, &len);
    assert_string_equal(p, "payload");
    assert_int_equal(len, 7);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(p);

    /* an empty buffer still yields a string the caller frees */
    p = buf_steal(&b, &len);
    assert_non_null(p);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);

    /* len is optional; the buffer is reusable after a steal */
    buf_puts(&b, "again");
    p = buf_steal(&b, NULL);
    assert_string_equal(p, "again");
    free(p);
    buf_puts(&b, "x");
    assert_string_equal(b.data, "x");
    buf_cleanup(&b);

    /* reserved but never written: still an empty string */
    buf_init(&b);
    buf_reserve(&b, 10);
    buf_reset(&b);
    p = buf_steal(&b, &len);
    assert_string_equal(p, "");
    free(p);
}

/*
 * "A growable, always NUL-terminated byte buffer" (util.h): that holds from the
 * first allocation on, also when it is made by buf_reserve. Regression: it once
 * left data[0] unset, and http_url_decode of zero bytes handed out garbage.
 */
static void test_buf_reserve_terminates(void **state)
{
    (void)state;
    struct buf b;
    char *junk = xmalloc(64); /* same size class as the first reserve */

    memset(junk, 'Z', 64);
    free(junk);
    buf_init(&b);
    buf_reserve(&b, 0);
    assert_non_null(b.data);
    if (b.data[0] != '\0')
        fail_msg("data[0] is 0x%02x after buf_reserve on an empty buffer",
                 (unsigned char)b.data[0]);
    buf_cleanup(&b);
}

/* ---- x* allocators ---- */

static void test_xalloc(void **state)
{
    (void)state;
    char *p = xmalloc(0); /* a unique pointer, never NULL */
    assert_non_null(p);
    free(p);

    int *z = xcalloc(16, sizeof(int));
    for (int i = 0; i < 16; i++)
        assert_int_equal(z[i], 0);
    z = xrealloc(z, 32 * sizeof(int));
    assert_int_equal(z[15], 0);
    free(z);
    p = xcalloc(0, 0);
    assert_non_null(p);
    free(p);

    p = xstrdup("hello");
    assert_string_equal(p, "hello");
    free(p);
    p = xstrndup("hello", 3);
    assert_string_equal(p, "hel");
    free(p);
    p = xstrndup("ab\0cd", 5); /* copies n bytes, NUL or not */
    assert_memory_equal(p, "ab\0cd", 6);
    free(p);
}

/* ---- struct mcx_error ---- */

static void test_error_set_clear(void **state)
{
    (void)state;
    struct mcx_error err;
    char longmsg[1000];

    mcx_error_set(&err, "validation_failed", "field %s: %d", "ects", 7);
    assert_string_equal(err.code, "validation_failed");
    assert_string_equal(err.message, "field ects: 7");
    assert_string_equal(err.path, "");
    assert_int_equal(err.line, 0);

    err.line = 12;
    mcx_strlcpy(err.path, "/offers/0", sizeof(err.path));
    mcx_error_set(&err, "x", "y"); /* set starts from a clean record */
    assert_string_equal(err.path, "");
    assert_int_equal(err.line, 0);

    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    mcx_error_set(&err, "a_code_that_is_much_longer_than_forty_eight_bytes_in_total", "%s",
                  longmsg);
    assert_int_equal(strlen(err.code), sizeof(err.code) - 1);
    assert_int_equal(strlen(err.message), sizeof(err.message) - 1);

    mcx_error_clear(&err);
    assert_string_equal(err.code, "");
    assert_string_equal(err.message, "");
    mcx_error_set(NULL, "ignored", "no error record");
    mcx_error_clear(NULL);
}

/* ---- mcx_strlcpy ---- */

static void test_strlcpy(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        size_t size;
        const char *want;
    } cases[] = {
        {"hello", 10, "hello"}, {"hello", 6, "hello"}, {"hello", 5, "hell"},
        {"hello", 2, "h"},      {"hello", 1, ""},      {"", 4, ""},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        char *dst = xmalloc(cases[i].size); /* exact size: ASan sees an overrun */
        size_t n = mcx_strlcpy(dst, cases[i].src, cases[i].size);
        assert_int_equal(n, strlen(cases[i].src));
        assert_string_equal(dst, cases[i].want);
        free(dst);
    }
    char untouched = 'X';
    assert_int_equal(mcx_strlcpy(&untouched, "abc", 0), 3);
    assert_int_equal(untouched, 'X');
}

/* ---- mcx_utf8_cut ---- */

static void test_utf8_cut(void **state)
{
    (void)state;
    /* "ą" is C4 85, "€" E2 82 AC, "𝄞" F0 9D 84 9E */
    static const struct {
        const char *s;
        size_t len, want;
    } cases[] = {
        {"", 0, 0},
        {"abc", 3, 3},
        {"a\xc4\x85", 3, 3},          /* whole: kept */
        {"a\xc4\x85", 2, 1},          /* the lead byte alone: cut before it */
        {"x\xe2\x82\xac", 4, 4},      /* a whole 3-byte character */
        {"x\xe2\x82\xac", 3, 1},      /* two of its three bytes */
        {"x\xe2\x82\xac", 2, 1},      /* one */
        {"\xf0\x9d\x84\x9e", 4, 4},   /* a whole 4-byte character */
        {"\xf0\x9d\x84\x9e", 3, 0},   /* three of four: nothing left */
        {"ab\x85\x85\x85\x85", 6, 6}, /* stray continuation bytes: not a cut's doing */
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++)
        assert_int_equal(mcx_utf8_cut(cases[i].s, cases[i].len), cases[i].want);

    /* an error message cut at its size ends on a whole character, whichever byte
     * the limit falls on (two-byte letters, shifted by zero and by one) */
    for (size_t shift = 0; shift < 2; shift++) {
        struct mcx_error err;
        char lt[2048];
        size_t n = 0;
        if (shift)
            lt[n++] = 'x';
        while (n + 2 < sizeof(lt)) {
            lt[n++] = '\xc4';
            lt[n++] = '\x85';
        }
        lt[n] = '\0';
        mcx_error_set(&err, "c", "%s", lt);
        size_t m = strlen(err.message);
        assert_true(m > 0 && m < sizeof(err.message));
        assert_int_equal(mcx_utf8_cut(err.message, m), m);
    }
}

/* ---- mcx_parse_int ---- */

static void test_parse_int(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        long min, max;
        int rc;
        long want;
    } cases[] = {
        {"0", 0, 10, 0, 0},
        {"10", 0, 10, 0, 10},
        {"-5", -10, 10, 0, -5},
        {"+7", 0, 10, 0, 7},
        {"007", 0, 10, 0, 7},
        {"-0", 0, 10, 0, 0},
        {"9223372036854775807", LONG_MIN, LONG_MAX, 0, LONG_MAX},
        {"-9223372036854775808", LONG_MIN, LONG_MAX, 0, LONG_MIN},
        /* out of bounds */
        {"11", 0, 10, -1, 0},
        {"-1", 0, 10, -1, 0},
        {"-11", -10, 10, -1, 0},
        {"9223372036854775808", LONG_MIN, LONG_MAX, -1, 0},
        {"-9223372036854775809", LONG_MIN, LONG_MAX, -1, 0},
        {"99999999999999999999999", 0, LONG_MAX, -1, 0},
        /* junk */
        {"", 0, 10, -1, 0},
        {"abc", 0, 10, -1, 0},
        {"1a", 0, 10, -1, 0},
        {"1 ", 0, 10, -1, 0},
        {"1.0", 0, 10, -1, 0},
        {"1e1", 0, 100, -1, 0},
        {"0x5", 0, 10, -1, 0},
        {"-", 0, 10, -1, 0},
        {"+", 0, 10, -1, 0},
        {"--1", -10, 10, -1, 0},
        {"1\n", 0, 10, -1, 0},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        long out = 12345;
        int rc = mcx_parse_int(cases[i].s, cases[i].min, cases[i].max, &out);
        if (rc != cases[i].rc)
            fail_msg("case %zu ('%s'): rc %d, want %d", i, cases[i].s, rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(out, cases[i].want);
        else
            assert_int_equal(out, 12345); /* untouched on failure */
    }
    long out;
    assert_int_equal(mcx_parse_int(NULL, 0, 10, &out), -1);
}

/*
 * "Strict decimal parsers: whole string" (util.h). strtol/strtod skip leading
 * white space, and strtod reads hex floats, "infinity" spellings aside.
 */
static void test_parse_strict_leading_space(void **state)
{
    (void)state;
    static const char *const junk[] = {" 5", "\t5", "\n5", " -5"};
    long n;
    double d;

    for (size_t i = 0; i < MCX_ARRAY_LEN(junk); i++) {
        if (mcx_parse_int(junk[i], -10, 10, &n) != -1)
            fail_msg("mcx_parse_int accepted '%s'", junk[i]);
        if (mcx_parse_double(junk[i], -10, 10, &d) != -1)
            fail_msg("mcx_parse_double accepted '%s'", junk[i]);
    }
}

static void test_parse_double_not_hex(void **state)
{
    (void)state;
    static const char *const junk[] = {"0x10", "0x1p3", "-0X1.8p1"};
    double d;

    for (size_t i = 0; i < MCX_ARRAY_LEN(junk); i++)
        if (mcx_parse_double(junk[i], -100, 100, &d) != -1)
            fail_msg("mcx_parse_double accepted '%s' as %g", junk[i], d);
}

/* ---- mcx_parse_double ---- */

static void test_parse_double(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double min, max;
        int rc;
        double want;
    } cases[] = {
        {"0", 0, 1, 0, 0},
        {"1", 0, 1, 0, 1},
        {"0.5", 0, 1, 0, 0.5},
        {".5", 0, 1, 0, 0.5},
        {"5.", 0, 10, 0, 5},
        {"-2.5", -3, 0, 0, -2.5},
        {"+2.5", 0, 3, 0, 2.5},
        {"1e3", 0, 1e4, 0, 1000},
        {"1E-3", 0, 1, 0, 0.001},
        {"-0", 0, 1, 0, 0},
        {"1.7976931348623157e308", 0, DBL_MAX, 0, DBL_MAX},
        /* out of bounds */
        {"1.0000001", 0, 1, -1, 0},
        {"-0.0001", 0, 1, -1, 0},
        {"1e309", 0, DBL_MAX, -1, 0}, /* overflow */
        {"1e-400", -1, 1, -1, 0},     /* underflow */
        /* not finite */
        {"inf", -DBL_MAX, DBL_MAX, -1, 0},
        {"-Infinity", -DBL_MAX, DBL_MAX, -1, 0},
        {"nan", -DBL_MAX, DBL_MAX, -1, 0},
        {"NAN(123)", -DBL_MAX, DBL_MAX, -1, 0},
        /* junk */
        {"", 0, 1, -1, 0},
        {".", 0, 1, -1, 0},
        {"e5", 0, 1, -1, 0},
        {"1e", 0, 10, -1, 0},
        {"0.5x", 0, 1, -1, 0},
        {"0,5", 0, 1, -1, 0},
        {"0.5 ", 0, 1, -1, 0},
        {"1..2", 0, 2, -1, 0},
        {"-", 0, 1, -1, 0},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        double out = 12345;
        int rc = mcx_parse_double(cases[i].s, cases[i].min, cases[i].max, &out);
        if (rc != cases[i].rc)
            fail_msg("case %zu ('%s'): rc %d, want %d", i, cases[i].s, rc, cases[i].rc);
        if (rc == 0)
            assert_true(out == cases[i].want);
        else
            assert_true(out == 12345);
    }
    double out;
    assert_int_equal(mcx_parse_double(NULL, 0, 1, &out), -1);
}

/* ---- mcx_random_hex ---- */

static void test_random_hex(void **state)
{
    (void)state;
    char ids[64][33];

    for (int i = 0; i < 64; i++) {
        char guard[40];
        memset(guard, 'G', sizeof(guard));
        mcx_random_hex(guard);
        assert_int_equal(guard[32], '\0');
        assert_int_equal(guard[33], 'G'); /* nothing written past the NUL */
        assert_int_equal(strlen(guard), 32);
        assert_int_equal(strspn(guard, "0123456789abcdef"), 32);
        memcpy(ids[i], guard, 33);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
    /* all sixteen digits turn up across 64 × 32 digits */
    for (const char *d = "0123456789abcdef"; *d; d++) {
        bool seen = false;
        for (int i = 0; i < 64 && !seen; i++)
            seen = strchr(ids[i], *d) != NULL;
        assert_true(seen);
    }
}

static void test_now_monotonic(void **state)
{
    (void)state;
    int64_t a = mcx_now_us();
    int64_t b = mcx_now_us();

    assert_true(a > 0);
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_init_empty),
        cmocka_unit_test(test_buf_append_growth),
        cmocka_unit_test(test_buf_append_binary),
        cmocka_unit_test(test_buf_append_zero_terminates),
        cmocka_unit_test(test_buf_reserve),
        cmocka_unit_test(test_buf_reserve_terminates),
        cmocka_unit_test(test_buf_reset),
        cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_buf_vprintf),
        cmocka_unit_test(test_buf_steal),
        cmocka_unit_test(test_xalloc),
        cmocka_unit_test(test_error_set_clear),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_utf8_cut),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_random_hex),
        cmocka_unit_test(test_now_monotonic),
        /* Last: these expose known bugs (see the comment above them). */
        cmocka_unit_test(test_parse_strict_leading_space),
        cmocka_unit_test(test_parse_double_not_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
