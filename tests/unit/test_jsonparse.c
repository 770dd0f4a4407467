/*
 * test_jsonparse.c — the untrusted-JSON parser (server/jsonparse.h): the tree
 * and its accessors, and every way hostile input must be refused (depth bombs,
 * invalid UTF-8, lone surrogates, truncation, trailing data, duplicate keys).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jsonparse.h"

static struct json_value *parse(const char *s, struct mcx_error *err)
{
    return json_parse(s, strlen(s), 0, err);
}

static void assert_rejected(const char *s, size_t len, const char *why)
{
    struct mcx_error err;
    struct json_value *v = json_parse(s, len, 0, &err);

    if (v != NULL)
        fail_msg("accepted: %s", why);
    assert_string_equal(err.code, "malformed_json");
    assert_true(err.line >= 1);
}

static void test_tree(void **state)
{
    struct mcx_error err;
    struct json_value *v = parse(
        "{\"a\": [1, -2.5e3, \"x\", true, false, null], \"b\": {\"c\": \"d\"}, \"e\": {}}", &err);
    const struct json_value *a, *b;
    double d;
    size_t len;

    (void)state;
    assert_non_null(v);
    assert_true(json_is_object(v));
    assert_int_equal(json_object_len(v), 3);
    assert_string_equal(json_object_key_at(v, 1), "b");
    a = json_object_get(v, "a");
    assert_true(json_is_array(a));
    assert_int_equal(json_array_len(a), 6);
    assert_string_equal(json_number_text(json_array_at(a, 0)), "1");
    assert_int_equal(json_number_double(json_array_at(a, 1), &d), 0);
    assert_true(d == -2500.0);
    assert_string_equal(json_string_value(json_array_at(a, 2), &len), "x");
    assert_int_equal(len, 1);
    assert_true(json_bool_value(json_array_at(a, 3)));
    assert_true(json_is_bool(json_array_at(a, 4)));
    assert_false(json_bool_value(json_array_at(a, 4)));
    assert_true(json_is_null(json_array_at(a, 5)));
    assert_null(json_array_at(a, 6));
    b = json_object_get(v, "b");
    assert_string_equal(json_string_value(json_object_get(b, "c"), NULL), "d");
    assert_null(json_object_get(b, "zz"));
    assert_null(json_object_get(a, "c")); /* not an object */
    assert_int_equal(json_object_len(json_object_get(v, "e")), 0);
    /* wrong-type accessors answer "nothing", never crash */
    assert_null(json_string_value(a, NULL));
    assert_null(json_number_text(b));
    assert_int_equal(json_array_len(b), 0);
    assert_false(json_is_object(NULL));
    json_value_free(v);
    json_value_free(NULL);
}

static void test_scalars_at_top(void **state)
{
    struct mcx_error err;
    struct json_value *v = parse(" 42 ", &err);

    (void)state;
    assert_non_null(v);
    assert_string_equal(json_number_text(v), "42");
    json_value_free(v);
    v = parse("\"s\"", &err);
    assert_string_equal(json_string_value(v, NULL), "s");
    json_value_free(v);
}

static void test_huge_numbers_kept_as_text(void **state)
{
    struct mcx_error err;
    struct json_value *v = parse("[1e400, 123456789012345678901234567890, -0.000001e-400]", &err);
    double d;

    (void)state;
    assert_non_null(v);
    assert_string_equal(json_number_text(json_array_at(v, 0)), "1e400");
    assert_int_equal(json_number_double(json_array_at(v, 0), &d), -1);
    assert_string_equal(json_number_text(json_array_at(v, 1)), "123456789012345678901234567890");
    assert_int_equal(json_number_double(json_array_at(v, 1), &d), 0);
    json_value_free(v);
}

static char *nested(int depth, char open, char close)
{
    char *s = xmalloc((size_t)depth * 2 + 1);

    memset(s, open, (size_t)depth);
    memset(s + depth, close, (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

static void test_depth_cap(void **state)
{
    struct mcx_error err;
    char *ok = nested(64, '[', ']');
    char *deep = nested(65, '[', ']');
    char *bomb = xmalloc(1000001);
    struct json_value *v;

    (void)state;
    v = json_parse(ok, strlen(ok), 64, &err);
    assert_non_null(v);
    json_value_free(v);
    assert_null(json_parse(deep, strlen(deep), 64, &err));
    assert_string_equal(err.code, "malformed_json");
    assert_non_null(strstr(err.message, "nesting too deep"));
    /* a million open brackets: refused at depth 64, no stack or memory blow-up */
    memset(bomb, '[', 1000000);
    bomb[1000000] = '\0';
    assert_rejected(bomb, 1000000, "depth bomb");
    assert_null(json_parse("{\"a\":{\"a\":{\"a\":1}}}", 19, 2, &err));
    free(ok);
    free(deep);
    free(bomb);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    assert_rejected("\"\xc3\"", 3, "truncated sequence");
    assert_rejected("\"\xc0\x80\"", 4, "overlong NUL");
    assert_rejected("\"\xe0\x80\xaf\"", 5, "overlong slash");
    assert_rejected("\"\xed\xa0\x80\"", 5, "encoded surrogate");
    assert_rejected("\"\xf4\x90\x80\x80\"", 6, "above U+10FFFF");
    assert_rejected("\"\xff\"", 3, "0xff");
    assert_rejected("{\"\x80\":1}", 7, "bad key");
    assert_rejected("\"\\ud800\"", 8, "lone high surrogate escape");
    assert_rejected("\"\\udc00\"", 8, "lone low surrogate escape");
    assert_rejected("\"\\ud800\\u0041\"", 14, "high surrogate + non-surrogate");
}

static void test_valid_utf8(void **state)
{
    struct mcx_error err;
    struct json_value *v = parse("[\"Duomen\xc5\xb3 ra\xc5\xa1tingumas\", \"\\ud83d\\ude00\", "
                                 "\"\\\\ud800\", \"a\\u0000b\"]",
                                 &err);
    size_t len;

    (void)state;
    assert_non_null(v);
    assert_string_equal(json_string_value(json_array_at(v, 0), NULL),
                        "Duomen\xc5\xb3 ra\xc5\xa1tingumas");
    assert_string_equal(json_string_value(json_array_at(v, 1), NULL), "\xf0\x9f\x98\x80");
    /* an escaped backslash followed by "ud800" is text, not an escape */
    assert_string_equal(json_string_value(json_array_at(v, 2), NULL), "\\ud800");
    assert_non_null(json_string_value(json_array_at(v, 3), &len));
    assert_int_equal(len, 3);
    json_value_free(v);
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    assert_rejected("", 0, "empty");
    assert_rejected("   ", 3, "blank");
    assert_rejected("{\"a\":", 5, "truncated object");
    assert_rejected("[1,2", 4, "truncated array");
    assert_rejected("\"abc", 4, "unterminated string");
    assert_rejected("{} x", 4, "trailing garbage");
    assert_rejected("{}{}", 4, "two values");
    assert_rejected("[1] // c", 8, "comment");
    assert_rejected("/* c */ [1]", 11, "comment first");
    assert_rejected("[1,]", 4, "trailing comma");
    assert_rejected("{'a':1}", 7, "single quotes");
    assert_rejected("[NaN]", 5, "NaN");
    assert_rejected("[01]", 4, "leading zero");
}

static void test_duplicate_keys(void **state)
{
    struct mcx_error err;
    struct json_value *v;

    (void)state;
    assert_null(parse("{\"a\":1,\"b\":2,\"a\":3}", &err));
    assert_non_null(strstr(err.message, "duplicate key"));
    /* keys differing only after an embedded NUL are different keys */
    v = parse("{\"a\":1,\"a\\u0000\":2,\"x\":{\"a\":1}}", &err);
    assert_non_null(v);
    json_value_free(v);
}

static void test_many_keys_fast(void **state)
{
    struct buf b;
    struct mcx_error err;
    struct json_value *v;

    (void)state;
    buf_init(&b);
    buf_putc(&b, '{');
    for (int i = 0; i < 200000; i++)
        buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    buf_putc(&b, '}');
    v = json_parse(b.data, b.len, 0, &err);
    assert_non_null(v);
    assert_int_equal(json_object_len(v), 200000);
    json_value_free(v);
    buf_cleanup(&b);
}

static void test_error_position(void **state)
{
    struct mcx_error err;
    const char *s = "{\n  \"a\": 1,\n  \"b\": tru\n}";

    (void)state;
    assert_null(parse(s, &err));
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.message, "line 3"));
    assert_null(parse("{\n\"x\": \"\xc3\x28\"}", &err));
    assert_int_equal(err.line, 2);
}

static void test_offsets(void **state)
{
    struct mcx_error err;
    const char *s = "{\n\"a\":\n  [1,\n   \"x\"]}";
    struct json_value *v = parse(s, &err);
    const struct json_value *x = json_array_at(json_object_get(v, "a"), 1);

    (void)state;
    assert_int_equal(json_offset_line(s, strlen(s), x->offset), 4);
    json_value_free(v);
}

static void test_size_cap(void **state)
{
    struct mcx_error err;
    static const char small[] = "[]";

    (void)state;
    /* the cap is checked before a byte is read */
    assert_null(json_parse(small, (size_t)JSON_PARSE_MAX_BYTES + 1, 0, &err));
    assert_string_equal(err.code, "malformed_json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_scalars_at_top),
        cmocka_unit_test(test_huge_numbers_kept_as_text),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_valid_utf8),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_many_keys_fast),
        cmocka_unit_test(test_error_position),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_size_cap),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
