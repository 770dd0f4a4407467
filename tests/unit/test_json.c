/*
 * test_json.c — the JSON writer (server/json.h): separators at every depth,
 * string escaping, UTF-8 validation and replacement, numbers and raw values.
 * Every reply body passes through here, so a wrong byte is a broken client.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/json.h"

struct fixture {
    struct buf out;
    struct json_writer w;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    buf_init(&f->out);
    json_writer_init(&f->w, &f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    buf_cleanup(&f->out);
    free(f);
    return 0;
}

static const char *text(struct fixture *f)
{
    return f->out.data != NULL ? f->out.data : "";
}

/* ---- writer structure ---- */

static void test_empty_containers(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->w);
    json_object_begin(&f->w);
    json_object_end(&f->w);
    json_array_begin(&f->w);
    json_array_end(&f->w);
    json_object_begin(&f->w);
    json_object_end(&f->w);
    json_array_end(&f->w);
    assert_string_equal(text(f), "[{},[],{}]");
    assert_int_equal(f->w.depth, 0);
}

static void test_object_members(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->w);
    json_kv_string(&f->w, "name", "Ann");
    json_kv_int(&f->w, "age", 42);
    json_kv_bool(&f->w, "active", true);
    json_kv_bool(&f->w, "deleted", false);
    json_key(&f->w, "nothing");
    json_null(&f->w);
    json_key(&f->w, "score");
    json_double(&f->w, 0.5);
    json_kv_string(&f->w, "absent", NULL);
    json_object_end(&f->w);
    assert_string_equal(text(f), "{\"name\":\"Ann\",\"age\":42,\"active\":true,\"deleted\":false,"
                                 "\"nothing\":null,\"score\":0.5,\"absent\":null}");
}

static void test_nesting_and_commas(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->w);
    json_key(&f->w, "a");
    json_array_begin(&f->w);
    json_int(&f->w, 1);
    json_object_begin(&f->w);
    json_kv_int(&f->w, "x", 2);
    json_key(&f->w, "y");
    json_array_begin(&f->w);
    json_array_end(&f->w);
    json_kv_int(&f->w, "z", 3);
    json_object_end(&f->w);
    json_array_begin(&f->w);
    json_array_begin(&f->w);
    json_int(&f->w, 4);
    json_array_end(&f->w);
    json_int(&f->w, 5);
    json_array_end(&f->w);
    json_int(&f->w, 6);
    json_array_end(&f->w);
    json_key(&f->w, "b");
    json_object_begin(&f->w);
    json_object_end(&f->w);
    json_kv_string(&f->w, "c", "d");
    json_object_end(&f->w);
    assert_string_equal(text(f),
                        "{\"a\":[1,{\"x\":2,\"y\":[],\"z\":3},[[4],5],6],\"b\":{},\"c\":\"d\"}");
    assert_int_equal(f->w.depth, 0);
}

/* Top-level values written one after another are comma-separated (NDJSON-like arrays). */
static void test_top_level_sequence(void **state)
{
    struct fixture *f = *state;

    json_int(&f->w, 1);
    json_string(&f->w, "two");
    json_null(&f->w);
    assert_string_equal(text(f), "1,\"two\",null");
}

static void test_ints(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->w);
    json_int(&f->w, 0);
    json_int(&f->w, -1);
    json_int(&f->w, INT64_MAX);
    json_int(&f->w, INT64_MIN);
    json_array_end(&f->w);
    assert_string_equal(text(f), "[0,-1,9223372036854775807,-9223372036854775808]");
}

static void test_max_depth(void **state)
{
    struct fixture *f = *state;
    struct buf want;

    buf_init(&want);
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        json_array_begin(&f->w);
        json_int(&f->w, i);
        buf_printf(&want, "[%d,", i);
    }
    assert_int_equal(f->w.depth, JSON_MAX_DEPTH);
    json_int(&f->w, -1);
    buf_puts(&want, "-1");
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        json_array_end(&f->w);
        json_int(&f->w, i);
        buf_printf(&want, "],%d", i);
    }
    assert_int_equal(f->w.depth, 0);
    assert_string_equal(text(f), want.data);
    buf_cleanup(&want);
}

/* ---- doubles ---- */

static void test_doubles(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {1.0, "1"},
        {-2.25, "-2.25"},
        {0.5, "0.5"},
        {1e21, "1e+21"},
        {-1e-7, "-1e-07"},
        {3.3, "3.3"}, /* the shortest form that reads back: not 3.2999999999999998 */
        {0.1 + 0.2, "0.30000000000000004"},
        {123456789.0, "123456789"},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct buf b;
        struct json_writer w;
        buf_init(&b);
        json_writer_init(&w, &b);
        json_double(&w, cases[i].v);
        assert_string_equal(b.data, cases[i].want);
        /* what is written reads back as the same double */
        assert_true(strtod(b.data, NULL) == cases[i].v);
        buf_cleanup(&b);
    }
}

static void test_doubles_not_finite(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->w);
    json_double(&f->w, NAN);
    json_double(&f->w, INFINITY);
    json_double(&f->w, -INFINITY);
    json_double(&f->w, 0.1);
    json_array_end(&f->w);
    assert_string_equal(text(f), "[null,null,null,0.1]");
}

/* ---- raw ---- */

static void test_raw(void **state)
{
    struct fixture *f = *state;
    const char *jsonb = "{\"k\": [1, 2]}";

    json_object_begin(&f->w);
    json_kv_int(&f->w, "id", 1);
    json_key(&f->w, "doc");
    json_raw(&f->w, jsonb, strlen(jsonb));
    json_key(&f->w, "list");
    json_array_begin(&f->w);
    json_raw(&f->w, "1", 1);
    json_raw(&f->w, "\"two\"xxx", 5); /* only len bytes */
    json_array_end(&f->w);
    json_object_end(&f->w);
    assert_string_equal(text(f), "{\"id\":1,\"doc\":{\"k\": [1, 2]},\"list\":[1,\"two\"]}");
}

/* ---- escaping ---- */

static void test_escape_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"plain", 5, "\"plain\""},
        {"a\"b", 3, "\"a\\\"b\""},
        {"a\\b", 3, "\"a\\\\b\""},
        {"\\\"", 2, "\"\\\\\\\"\""},
        {"/", 1, "\"/\""}, /* solidus need not be escaped */
        {"\n\r\t", 3, "\"\\n\\r\\t\""},
        {"\b\f", 2, "\"\\u0008\\u000c\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"\x1b[0m", 4, "\"\\u001b[0m\""},
        {"\x7f", 1, "\"\\u007f\""},
        {"a\0b", 3, "\"a\\u0000b\""}, /* len, not NUL, ends the input */
        {" ~", 2, "\" ~\""},
        {"<script>", 8, "\"<script>\""},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct buf b;
        buf_init(&b);
        json_escape(&b, cases[i].in, cases[i].len);
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, b.data, cases[i].want);
        assert_int_equal(b.len, strlen(cases[i].want));
        buf_cleanup(&b);
    }
}

static void test_escape_every_control_char(void **state)
{
    (void)state;

    for (int c = 0; c < 0x20; c++) {
        struct buf b;
        char in = (char)c;
        char want[16];
        buf_init(&b);
        json_escape(&b, &in, 1);
        if (c == '\n')
            snprintf(want, sizeof(want), "\"\\n\"");
        else if (c == '\r')
            snprintf(want, sizeof(want), "\"\\r\"");
        else if (c == '\t')
            snprintf(want, sizeof(want), "\"\\t\"");
        else
            snprintf(want, sizeof(want), "\"\\u%04x\"", c);
        assert_string_equal(b.data, want);
        buf_cleanup(&b);
    }
}

static void test_escape_appends(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "x=");
    json_escape(&b, "y", 1);
    assert_string_equal(b.data, "x=\"y\"");
    buf_cleanup(&b);
}

static void test_utf8_passthrough(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "caf\xc3\xa9",                           /* é, 2 bytes */
        "\xe2\x82\xac 5",                        /* €, 3 bytes */
        "\xed\x9f\xbf",                          /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",                          /* U+E000, just above */
        "\xef\xbf\xbf",                          /* U+FFFF */
        "\xf0\x9f\x8e\x93",                      /* 🎓, 4 bytes */
        "\xf4\x8f\xbf\xbf",                      /* U+10FFFF, the last code point */
        "\xc2\x80",                              /* U+0080, the first 2-byte one */
        "\xe0\xa0\x80",                          /* U+0800, the first 3-byte one */
        "\xf0\x90\x80\x80",                      /* U+10000, the first 4-byte one */
        "\xe2\x80\xa8\xe2\x80\xa9",              /* U+2028/2029 are valid in JSON */
        "\xd0\x9c\xd0\xb8\xd1\x80 \xe4\xb8\x96", /* Cyrillic and CJK */
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct buf b;
        char want[64];
        buf_init(&b);
        json_escape(&b, cases[i], strlen(cases[i]));
        snprintf(want, sizeof(want), "\"%s\"", cases[i]);
        if (strcmp(b.data, want) != 0)
            fail_msg("case %zu: got %s", i, b.data);
        assert_true(utf8_is_valid(cases[i], strlen(cases[i])));
        buf_cleanup(&b);
    }
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"\x80", "\"\\ufffd\""}, /* lone continuation */
        {"a\xbf"
         "b",
         "\"a\\ufffdb\""},
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""}, /* overlong '/' */
        {"\xc1\xbf", "\"\\ufffd\\ufffd\""},
        {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},            /* overlong 3-byte */
        {"\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* overlong 4-byte */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            /* U+D800 surrogate */
        {"\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\""},            /* U+DFFF surrogate */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* U+110000 */
        {"\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"\xff", "\"\\ufffd\""},
        {"\xfe\xff", "\"\\ufffd\\ufffd\""},
        {"\xc3", "\"\\ufffd\""}, /* truncated at the end */
        {"\xe2\x82", "\"\\ufffd\\ufffd\""},
        {"\xf0\x9f\x8e", "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xc3(", "\"\\ufffd(\""}, /* bad continuation */
        {"\xe2(\xac", "\"\\ufffd(\\ufffd\""},
        {"ok\xc3\xa9\xff\xc3\xa9", "\"ok\xc3\xa9\\ufffd\xc3\xa9\""}, /* resyncs */
        {"\xc3\"", "\"\\ufffd\\\"\""}, /* a quote is never swallowed */
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct buf b;
        buf_init(&b);
        json_escape(&b, cases[i].in, strlen(cases[i].in));
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, b.data, cases[i].want);
        assert_true(utf8_is_valid(b.data, b.len));
        buf_cleanup(&b);
    }
}

/* A multi-byte sequence cut by len is invalid even if the bytes after it complete it. */
static void test_escape_respects_len(void **state)
{
    (void)state;
    struct buf b;
    const char *euro = "\xe2\x82\xac";

    buf_init(&b);
    json_escape(&b, euro, 2);
    assert_string_equal(b.data, "\"\\ufffd\\ufffd\"");
    assert_false(utf8_is_valid(euro, 2));
    assert_true(utf8_is_valid(euro, 3));
    buf_cleanup(&b);
}

static void test_utf8_is_valid_table(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool valid;
    } cases[] = {
        {"", true},
        {"ascii \x01\x7f", true},
        {"\xc2\x80", true},
        {"\xdf\xbf", true},
        {"\xe0\xa0\x80", true},
        {"\xed\x9f\xbf", true},
        {"\xee\x80\x80", true},
        {"\xef\xbf\xbd", true}, /* U+FFFD itself */
        {"\xf0\x90\x80\x80", true},
        {"\xf4\x8f\xbf\xbf", true},
        /* overlongs */
        {"\xc0\x80", false},
        {"\xc1\xbf", false},
        {"\xe0\x80\x80", false},
        {"\xe0\x9f\xbf", false},
        {"\xf0\x80\x80\x80", false},
        {"\xf0\x8f\xbf\xbf", false},
        /* surrogates */
        {"\xed\xa0\x80", false},
        {"\xed\xaf\xbf", false},
        {"\xed\xb0\x80", false},
        {"\xed\xbf\xbf", false},
        {"\xed\xa0\xbd\xed\xb8\x80", false}, /* CESU-8 pair */
        /* above U+10FFFF */
        {"\xf4\x90\x80\x80", false},
        {"\xf5\x80\x80\x80", false},
        {"\xf7\xbf\xbf\xbf", false},
        {"\xf8\x88\x80\x80\x80", false},
        {"\xfc\x84\x80\x80\x80\x80", false},
        {"\xfe", false},
        {"\xff", false},
        /* truncated and broken sequences */
        {"\xc2", false},
        {"\xe0\xa0", false},
        {"\xf0\x90\x80", false},
        {"a\xc2", false},
        {"\x80", false},
        {"\xbf", false},
        {"\xc2\xc2\x80", false},
        {"\xe2\x28\xa1", false},
        {"\xf0\x90\x28\xbc", false},
        {"\xf0\x90\x80\x28", false},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++)
        if (utf8_is_valid(cases[i].s, strlen(cases[i].s)) != cases[i].valid)
            fail_msg("case %zu: want %s", i, cases[i].valid ? "valid" : "invalid");
    /* NUL is a valid code point; len bounds the input */
    assert_true(utf8_is_valid("a\0b", 3));
}

/* Every two-byte lead/continuation pair, against the RFC 3629 grammar. */
static void test_utf8_two_byte_exhaustive(void **state)
{
    (void)state;

    for (int a = 0x80; a < 0x100; a++) {
        for (int c = 0; c < 0x100; c++) {
            char s[2] = {(char)a, (char)c};
            bool want = a >= 0xc2 && a <= 0xdf && c >= 0x80 && c <= 0xbf;
            if (utf8_is_valid(s, 2) != want)
                fail_msg("%02x %02x: want %d", a, c, want);
        }
    }
}

/* Keys are escaped like values. */
static void test_key_escaped(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->w);
    json_kv_string(&f->w, "a\"b\n\xff", "v");
    json_object_end(&f->w);
    assert_string_equal(text(f), "{\"a\\\"b\\n\\ufffd\":\"v\"}");
}

static void test_string_len(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->w);
    json_string_len(&f->w, "abcdef", 3);
    json_string_len(&f->w, "", 0);
    json_string_len(&f->w, "x\0y", 3);
    json_array_end(&f->w);
    assert_string_equal(text(f), "[\"abc\",\"\",\"x\\u0000y\"]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_containers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_and_commas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_level_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_depth, setup, teardown),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test_setup_teardown(test_doubles_not_finite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_every_control_char),
        cmocka_unit_test(test_escape_appends),
        cmocka_unit_test(test_utf8_passthrough),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_escape_respects_len),
        cmocka_unit_test(test_utf8_is_valid_table),
        cmocka_unit_test(test_utf8_two_byte_exhaustive),
        cmocka_unit_test_setup_teardown(test_key_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_len, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
