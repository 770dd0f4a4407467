/*
 * test_http_parser.c — request-head parsing, request-target splitting and
 * query decoding (server/http_parser.h). Tables of hostile inputs with the
 * status each must earn: this is the first code every byte from a client meets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_parser.h"

/* Parses a NUL-terminated literal through a heap copy so ASan sees overreads. */
static int parse(const char *text, size_t len, struct http_head *h, struct mcx_error *err)
{
    char *copy = xmalloc(len + 1);
    int rc;

    memcpy(copy, text, len);
    copy[len] = '\0';
    rc = http_parse_head(copy, len, h, err);
    /* h points into copy; callers that inspect h use parse_keep instead. */
    free(copy);
    return rc;
}

static int parse_str(const char *text, struct mcx_error *err)
{
    struct http_head h;
    return parse(text, strlen(text), &h, err);
}

/* ---- http_parse_head: valid heads ---- */

static void test_head_get_crlf(void **state)
{
    (void)state;
    char text[] = "GET /api/v1/offers?x=1 HTTP/1.1\r\n"
                  "Host: example.org\r\n"
                  "Accept: application/json\r\n"
                  "\r\n";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_int_equal(h.method, HTTP_GET);
    assert_string_equal(h.method_name, "GET");
    assert_string_equal(h.target, "/api/v1/offers?x=1");
    assert_int_equal(h.version_minor, 1);
    assert_int_equal(h.nheaders, 2);
    assert_string_equal(h.headers[0].name, "Host");
    assert_string_equal(h.headers[0].value, "example.org");
    assert_string_equal(h.headers[1].name, "Accept");
    assert_string_equal(h.headers[1].value, "application/json");
}

static void test_head_post_http10(void **state)
{
    (void)state;
    char text[] = "POST /submit HTTP/1.0\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: 42\r\n"
                  "X-Empty:\r\n"
                  "\r\n"
                  "{\"body\":\"not part of the head\"}";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_int_equal(h.method, HTTP_POST);
    assert_string_equal(h.target, "/submit");
    assert_int_equal(h.version_minor, 0);
    assert_int_equal(h.nheaders, 3);
    assert_string_equal(http_head_get(&h, "content-length"), "42");
    assert_string_equal(http_head_get(&h, "x-empty"), "");
}

static void test_head_every_method(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum http_method m;
    } cases[] = {
        {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
        {"PUT", HTTP_PUT},         {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH},
        {"OPTIONS", HTTP_OPTIONS},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        char text[128];
        struct http_head h;
        struct mcx_error err;
        snprintf(text, sizeof(text), "%s / HTTP/1.1\r\n\r\n", cases[i].name);
        assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
        assert_int_equal(h.method, cases[i].m);
        assert_string_equal(h.method_name, cases[i].name);
        assert_string_equal(http_method_name(cases[i].m), cases[i].name);
        assert_int_equal(h.nheaders, 0);
    }
    assert_string_equal(http_method_name((enum http_method)(1 << 12)), "?");
}

static void test_head_bare_lf(void **state)
{
    (void)state;
    char text[] = "GET / HTTP/1.1\nHost: a\nX-Mixed: b\r\n\n";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_int_equal(h.nheaders, 2);
    assert_string_equal(http_head_get(&h, "host"), "a");
    assert_string_equal(http_head_get(&h, "x-mixed"), "b");
}

static void test_head_leading_empty_lines(void **state)
{
    (void)state;
    char text[] = "\r\n\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_string_equal(h.method_name, "GET");
    assert_string_equal(h.target, "/x");
    assert_string_equal(http_head_get(&h, "Host"), "a");
}

static void test_head_value_trimming(void **state)
{
    (void)state;
    char text[] = "GET / HTTP/1.1\r\n"
                  "A:   spaced   \r\n"
                  "B:\t\ttabbed\t \r\n"
                  "C:inner  space kept\r\n"
                  "D: \t \r\n"
                  "\r\n";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_int_equal(h.nheaders, 4);
    assert_string_equal(http_head_get(&h, "A"), "spaced");
    assert_string_equal(http_head_get(&h, "B"), "tabbed");
    assert_string_equal(http_head_get(&h, "C"), "inner  space kept");
    assert_string_equal(http_head_get(&h, "D"), "");
}

static void test_head_lookup_case_insensitive(void **state)
{
    (void)state;
    char text[] = "GET / HTTP/1.1\r\n"
                  "Content-TYPE: text/plain\r\n"
                  "x-dup: first\r\n"
                  "X-Dup: second\r\n"
                  "\r\n";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_string_equal(h.headers[0].name, "Content-TYPE"); /* as sent */
    assert_string_equal(http_head_get(&h, "content-type"), "text/plain");
    assert_string_equal(http_head_get(&h, "CONTENT-TYPE"), "text/plain");
    assert_string_equal(http_head_get(&h, "Content-Type"), "text/plain");
    assert_string_equal(http_head_get(&h, "X-DUP"), "first");
    assert_null(http_head_get(&h, "Content"));
    assert_null(http_head_get(&h, "Missing"));
}

static void test_head_value_may_hold_colons_and_obs_text(void **state)
{
    (void)state;
    char text[] = "GET / HTTP/1.1\r\n"
                  "Host: [::1]:8080\r\n"
                  "X-Name: Jos\xc3\xa9\r\n"
                  "\r\n";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen(text), &h, &err), 0);
    assert_string_equal(http_head_get(&h, "host"), "[::1]:8080");
    assert_string_equal(http_head_get(&h, "x-name"), "Jos\xc3\xa9");
}

static void test_head_max_headers_accepted(void **state)
{
    (void)state;
    struct buf b;
    struct http_head h;
    struct mcx_error err;

    buf_init(&b);
    buf_puts(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        buf_printf(&b, "X-H%d: %d\r\n", i, i);
    buf_puts(&b, "\r\n");
    assert_int_equal(http_parse_head(b.data, b.len, &h, &err), 0);
    assert_int_equal(h.nheaders, HTTP_MAX_HEADERS);
    assert_string_equal(http_head_get(&h, "x-h99"), "99");
    buf_cleanup(&b);
}

/* ---- http_parse_head: errors ---- */

static void test_head_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        /* malformed request lines */
        {"GET\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"GET  HTTP/1.1\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\n\r\n", 400},
        {"GET /a\x01 HTTP/1.1\r\n\r\n", 400},
        {"GET /a\x7f HTTP/1.1\r\n\r\n", 400},
        {"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
        /* unknown methods */
        {"BREW / HTTP/1.1\r\n\r\n", 501},
        {"get / HTTP/1.1\r\n\r\n", 501},
        {"CONNECT example.org:443 HTTP/1.1\r\n\r\n", 501},
        {"TRACE / HTTP/1.1\r\n\r\n", 501},
        /* versions */
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/3.0\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\n\r\n", 505},
        /* obsolete line folding (RFC 9112 §5.2) */
        {"GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
        /* header fields without a colon or with a bad name */
        {"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nBad Name: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nBad(Name): a\r\n\r\n", 400},
        /* control characters in values */
        {"GET / HTTP/1.1\r\nX-A: a\x01"
         "b\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-A: a\x1b[31m\r\n\r\n", 400},
        /* incomplete or empty heads */
        {"GET / HTTP/1.1\r\nHost: a\r\n", 400},
        {"GET / HTTP/1.1", 400},
        {"\r\n\r\n", 400},
        {"", 400},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct mcx_error err;
        mcx_error_clear(&err);
        int rc = parse_str(cases[i].text, &err);
        if (rc != cases[i].status)
            fail_msg("case %zu (%s): got %d, want %d", i, cases[i].text, rc, cases[i].status);
        assert_true(err.code[0] != '\0');
        assert_true(err.message[0] != '\0');
    }
}

static void test_head_error_codes(void **state)
{
    (void)state;
    struct mcx_error err;

    assert_int_equal(parse_str("BREW / HTTP/1.1\r\n\r\n", &err), 501);
    assert_string_equal(err.code, "not_implemented");
    assert_non_null(strstr(err.message, "BREW"));
    assert_int_equal(parse_str("GET / HTTP/2.0\r\n\r\n", &err), 505);
    assert_string_equal(err.code, "http_version_not_supported");
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", &err), 400);
    assert_string_equal(err.code, "bad_request");
    assert_non_null(strstr(err.message, "folding"));
}

/*
 * Versions that do not match HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112
 * §2.3) are a malformed request line (400) or an unsupported version (505):
 * either way rejected, never taken for HTTP/1.x.
 */
static void test_head_bad_version_syntax(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "GET / HTTP/1.10\r\n\r\n", "GET / HTTP/1.\r\n\r\n",    "GET / HTTP/1.x\r\n\r\n",
        "GET / http/1.1\r\n\r\n",  "GET / HTTP/1.1 \r\n\r\n",  "GET / HTTP/11\r\n\r\n",
        "GET / HTTP\r\n\r\n",      "GET / HTTP/1.1\r\r\n\r\n",
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(texts); i++) {
        struct mcx_error err;
        int rc = parse_str(texts[i], &err);
        if (rc != 400 && rc != 505)
            fail_msg("case %zu (%s): got %d, want 400 or 505", i, texts[i], rc);
    }
}

/* A method name that is empty is a malformed request line, not an unknown method. */
static void test_head_empty_method_is_400(void **state)
{
    (void)state;
    struct mcx_error err;

    assert_int_equal(parse_str(" / HTTP/1.1\r\n\r\n", &err), 400);
}

static void test_head_too_many_headers(void **state)
{
    (void)state;
    struct buf b;
    struct http_head h;
    struct mcx_error err;

    buf_init(&b);
    buf_puts(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        buf_printf(&b, "X-H%d: %d\r\n", i, i);
    buf_puts(&b, "\r\n");
    assert_int_equal(http_parse_head(b.data, b.len, &h, &err), 431);
    assert_string_equal(err.code, "headers_too_large");
    buf_cleanup(&b);
}

static void test_head_nul_byte(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "GET /a\0b HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n",
        "GET / HTTP/1.1\r\nX-\0A: a\r\n\r\n",
        "\0GET / HTTP/1.1\r\n\r\n",
    };
    static const size_t lens[] = {
        sizeof("GET /a\0b HTTP/1.1\r\n\r\n") - 1,
        sizeof("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n") - 1,
        sizeof("GET / HTTP/1.1\r\nX-\0A: a\r\n\r\n") - 1,
        sizeof("\0GET / HTTP/1.1\r\n\r\n") - 1,
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(texts); i++) {
        struct http_head h;
        struct mcx_error err;
        int rc = parse(texts[i], lens[i], &h, &err);
        if (rc != 400)
            fail_msg("case %zu: got %d, want 400", i, rc);
        assert_non_null(strstr(err.message, "NUL"));
    }
}

/* Only [0, len) is parsed: bytes after it (a pipelined request, say) are not read. */
static void test_head_respects_len(void **state)
{
    (void)state;
    char text[] = "GET / HTTP/1.1\r\n\r\nGARBAGE\0\x01";
    char text2[] = "GET / HTTP/1.1\r\n\r\n";
    struct http_head h;
    struct mcx_error err;

    assert_int_equal(http_parse_head(text, strlen("GET / HTTP/1.1\r\n\r\n"), &h, &err), 0);
    assert_int_equal(h.nheaders, 0);
    /* A head cut before its blank line is incomplete even if more follows in memory. */
    assert_int_equal(http_parse_head(text2, strlen("GET / HTTP/1.1\r\n"), &h, &err), 400);
    assert_null(strstr(err.message, "NUL"));
}

/* ---- http_target_parse ---- */

struct target_case {
    const char *target;
    int status;
    int nsegs;
    const char *segs[6];
    bool trailing_slash;
    const char *path;
    const char *query;
};

static void test_target_table(void **state)
{
    (void)state;
    static const struct target_case cases[] = {
        {"/", 0, 0, {NULL}, false, "/", ""},
        {"/a", 0, 1, {"a"}, false, "/a", ""},
        {"/a/b/c", 0, 3, {"a", "b", "c"}, false, "/a/b/c", ""},
        {"/a/b/", 0, 2, {"a", "b"}, true, "/a/b/", ""},
        {"/a?x=1&y=2", 0, 1, {"a"}, false, "/a", "x=1&y=2"},
        {"/a/?x", 0, 1, {"a"}, true, "/a/", "x"},
        {"/?", 0, 0, {NULL}, false, "/", ""},
        {"/a?b/../c", 0, 1, {"a"}, false, "/a", "b/../c"},
        {"/a?%zz", 0, 1, {"a"}, false, "/a", "%zz"}, /* the query stays raw */
        /* decoding per segment */
        {"/a%20b/c%2Bd", 0, 2, {"a b", "c+d"}, false, "/a b/c+d", ""},
        {"/a+b", 0, 1, {"a+b"}, false, "/a+b", ""}, /* + is literal in a path */
        {"/%41%62%63", 0, 1, {"Abc"}, false, "/Abc", ""},
        {"/caf%C3%A9", 0, 1, {"caf\xc3\xa9"}, false, "/caf\xc3\xa9", ""},
        /* an encoded slash stays inside its segment */
        {"/ids/a%2Fb/x", 0, 3, {"ids", "a/b", "x"}, false, "/ids/a/b/x", ""},
        {"/%2F", 0, 1, {"/"}, false, "//", ""},
        {"/a%2f..%2fb", 0, 1, {"a/../b"}, false, "/a/../b", ""},
        /* dot-segments (RFC 3986 §5.2.4) */
        {"/a/./b", 0, 2, {"a", "b"}, false, "/a/b", ""},
        {"/a/../b", 0, 1, {"b"}, false, "/b", ""},
        {"/a/b/..", 0, 1, {"a"}, true, "/a/", ""},
        {"/a/b/.", 0, 2, {"a", "b"}, true, "/a/b/", ""},
        {"/a/b/../../c", 0, 1, {"c"}, false, "/c", ""},
        {"/a/%2e/b", 0, 2, {"a", "b"}, false, "/a/b", ""},
        {"/a/%2E%2E/b", 0, 1, {"b"}, false, "/b", ""},
        {"/a/.%2e/b", 0, 1, {"b"}, false, "/b", ""},
        {"/a/..", 0, 0, {NULL}, true, "/", ""},
        {"/a/.../b", 0, 3, {"a", "...", "b"}, false, "/a/.../b", ""},
        {"/a/..b/.c", 0, 3, {"a", "..b", ".c"}, false, "/a/..b/.c", ""},
        /* climbing above the root */
        {.target = "/..", .status = 404},
        {.target = "/../x", .status = 404},
        {.target = "/%2e%2e/x", .status = 404},
        {.target = "/%2E%2e", .status = 404},
        {.target = "/a/../../x", .status = 404},
        {.target = "/./../x", .status = 404},
        {.target = "/a/b/../../../etc/passwd", .status = 404},
        /* bad escapes and NUL */
        {.target = "/%zz", .status = 400},
        {.target = "/%", .status = 400},
        {.target = "/%0", .status = 400},
        {.target = "/a%", .status = 400},
        {.target = "/a%2", .status = 400},
        {.target = "/a/%g0/b", .status = 400},
        {.target = "/%00", .status = 400},
        {.target = "/a%00.html", .status = 400},
        {.target = "/%-1", .status = 400},
        /* not origin-form */
        {.target = "http://x/", .status = 400},
        {.target = "*", .status = 400},
        {.target = "", .status = 400},
        {.target = "a/b", .status = 400},
        {.target = "?x=1", .status = 400},
        {.target = "/a#frag", .status = 400},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        const struct target_case *c = &cases[i];
        struct http_target t;
        int rc = http_target_parse(c->target, &t);
        if (rc != c->status)
            fail_msg("case %zu (%s): got %d, want %d", i, c->target, rc, c->status);
        if (rc != 0) {
            assert_null(t.segs);
            assert_int_equal(t.nsegs, 0);
            assert_null(t.path);
            assert_null(t.query);
            continue;
        }
        if (t.nsegs != c->nsegs)
            fail_msg("case %zu (%s): %d segments, want %d", i, c->target, t.nsegs, c->nsegs);
        for (int s = 0; s < c->nsegs; s++)
            if (strcmp(t.segs[s], c->segs[s]) != 0)
                fail_msg("case %zu (%s): segment %d is '%s', want '%s'", i, c->target, s, t.segs[s],
                         c->segs[s]);
        if (t.trailing_slash != c->trailing_slash)
            fail_msg("case %zu (%s): trailing_slash %d", i, c->target, t.trailing_slash);
        assert_string_equal(t.path, c->path);
        assert_string_equal(t.query, c->query);
        http_target_cleanup(&t);
        assert_null(t.segs);
        assert_null(t.path);
    }
}

/*
 * An empty segment in the middle ("/a//b") must come out as an empty string.
 * Regression: the decode of zero bytes once left an allocated, unterminated
 * buffer, so the segment and the joined path held heap garbage.
 */
static void test_target_empty_middle_segment(void **state)
{
    (void)state;
    struct http_target t;

    assert_int_equal(http_target_parse("/a//b", &t), 0);
    assert_int_equal(t.nsegs, 3);
    assert_string_equal(t.segs[0], "a");
    assert_string_equal(t.segs[1], "");
    assert_string_equal(t.segs[2], "b");
    assert_false(t.trailing_slash);
    assert_string_equal(t.path, "/a//b");
    http_target_cleanup(&t);
}

static void test_target_cleanup_twice(void **state)
{
    (void)state;
    struct http_target t;

    assert_int_equal(http_target_parse("/a/b?c", &t), 0);
    http_target_cleanup(&t);
    http_target_cleanup(&t); /* zeroed by the first call: harmless */
}

static void test_target_many_segments(void **state)
{
    (void)state;
    struct buf b;
    struct http_target t;

    buf_init(&b);
    for (int i = 0; i < 500; i++)
        buf_printf(&b, "/s%d", i);
    assert_int_equal(http_target_parse(b.data, &t), 0);
    assert_int_equal(t.nsegs, 500);
    assert_string_equal(t.segs[499], "s499");
    assert_string_equal(t.path, b.data);
    http_target_cleanup(&t);
    buf_cleanup(&b);
}

/* ---- http_query_get ---- */

static void test_query_get_table(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        const char *name;
        const char *want; /* NULL: absent */
    } cases[] = {
        {"a=1&b=2", "a", "1"},
        {"a=1&b=2", "b", "2"},
        {"a=1&b=2", "c", NULL},
        {"", "a", NULL},
        {"q=hello+world", "q", "hello world"},
        {"q=hello%20world%21", "q", "hello world!"},
        {"q=a%2Bb", "q", "a+b"},
        {"q=caf%C3%A9", "q", "caf\xc3\xa9"},
        {"q=a%26b%3Dc&r=1", "q", "a&b=c"},
        {"q=a=b", "q", "a=b"},
        {"first+name=Ann", "first name", "Ann"},
        {"first%20name=Ann", "first name", "Ann"},
        {"flag&x=1", "flag", ""},
        {"x=1&flag", "flag", ""},
        {"k=1&k=2&k=3", "k", "1"},
        {"kk=1&k=2", "k", "2"},
        {"k2=1", "k", NULL},
        {"K=1", "k", NULL}, /* names are case-sensitive */
        {"&&a=1&&", "a", "1"},
        {"a%zz=1&a=2", "a", "2"}, /* a key that fails to decode matches nothing */
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        char *got = http_query_get(cases[i].query, cases[i].name);
        if (cases[i].want == NULL) {
            if (got != NULL)
                fail_msg("case %zu (%s, %s): got '%s', want absent", i, cases[i].query,
                         cases[i].name, got);
            continue;
        }
        if (got == NULL)
            fail_msg("case %zu (%s, %s): absent, want '%s'", i, cases[i].query, cases[i].name,
                     cases[i].want);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%s, %s): got '%s', want '%s'", i, cases[i].query, cases[i].name,
                     got, cases[i].want);
        free(got);
    }
}

/*
 * "k=" has an empty value: the result must be "" (NUL-terminated). Regression:
 * the decode of zero bytes once handed back a buffer whose first byte was unset.
 */
static void test_query_get_empty_value(void **state)
{
    (void)state;
    static const char *const queries[] = {"k=", "k=&x=1", "x=1&k="};

    for (size_t i = 0; i < MCX_ARRAY_LEN(queries); i++) {
        /* Dirty the heap so an unterminated result shows up without a sanitizer. */
        char *junk = xmalloc(64);
        memset(junk, 'Z', 64);
        free(junk);
        char *got = http_query_get(queries[i], "k");
        assert_non_null(got);
        if (got[0] != '\0')
            fail_msg("query '%s': value not empty (first byte 0x%02x)", queries[i],
                     (unsigned char)got[0]);
        free(got);
    }
}

/* ---- http_url_decode ---- */

static void test_url_decode_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool plus;
        int rc;
        const char *want;
    } cases[] = {
        {"abc", false, 0, "abc"},
        {"a+b", false, 0, "a+b"},
        {"a+b", true, 0, "a b"},
        {"%41%42", false, 0, "AB"},
        {"%4a%4A", false, 0, "JJ"},
        {"%2B", true, 0, "+"},
        {"%25", false, 0, "%"},
        {"%2525", false, 0, "%25"}, /* decoded once only */
        {"%e2%82%ac", false, 0, "\xe2\x82\xac"},
        {"%ff", false, 0, "\xff"}, /* bytes, not UTF-8: checked elsewhere */
        {"%", false, -1, NULL},
        {"%4", false, -1, NULL},
        {"a%", false, -1, NULL},
        {"%zz", false, -1, NULL},
        {"%g1", false, -1, NULL},
        {"%1g", false, -1, NULL},
        {"% 1", false, -1, NULL},
        {"%00", false, -1, NULL},
        {"a%00b", true, -1, NULL},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct buf b;
        buf_init(&b);
        int rc = http_url_decode(cases[i].in, strlen(cases[i].in), cases[i].plus, &b);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].in, rc, cases[i].rc);
        if (rc == 0) {
            assert_non_null(b.data);
            assert_int_equal(b.len, strlen(cases[i].want));
            assert_string_equal(b.data, cases[i].want);
        }
        buf_cleanup(&b);
    }
}

/* len, not the NUL, bounds the input: "%41" cut at 2 bytes is a bad escape. */
static void test_url_decode_respects_len(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    assert_int_equal(http_url_decode("%41", 2, false, &b), -1);
    buf_reset(&b);
    assert_int_equal(http_url_decode("abcdef", 3, false, &b), 0);
    assert_string_equal(b.data, "abc");
    buf_cleanup(&b);
}

/* Decoding appends: a caller may decode into a buffer that already holds text. */
static void test_url_decode_appends(void **state)
{
    (void)state;
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "x=");
    assert_int_equal(http_url_decode("a%20b", 5, false, &b), 0);
    assert_string_equal(b.data, "x=a b");
    buf_cleanup(&b);
}

/* Decoding zero bytes must still leave a valid, empty C string (regression). */
static void test_url_decode_empty(void **state)
{
    (void)state;
    struct buf b;
    char *junk = xmalloc(64);

    memset(junk, 'Z', 64);
    free(junk);
    buf_init(&b);
    assert_int_equal(http_url_decode("", 0, true, &b), 0);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.data[0], '\0');
    buf_cleanup(&b);
}

/* ---- http_methods_format ---- */

static void test_methods_format(void **state)
{
    (void)state;
    static const struct {
        unsigned mask;
        const char *want;
    } cases[] = {
        {0, ""},
        {HTTP_GET, "GET"},
        {HTTP_GET | HTTP_HEAD, "GET, HEAD"},
        {HTTP_POST | HTTP_GET | HTTP_HEAD, "GET, HEAD, POST"},
        {HTTP_DELETE | HTTP_PUT, "PUT, DELETE"},
        {HTTP_OPTIONS | HTTP_PATCH, "PATCH, OPTIONS"},
        {HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE | HTTP_PATCH | HTTP_OPTIONS,
         "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"},
        {1u << 20, ""}, /* unknown bits are ignored */
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        char out[128];
        memset(out, 'X', sizeof(out));
        http_methods_format(cases[i].mask, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
}

static void test_methods_format_small_buffer(void **state)
{
    (void)state;
    unsigned all =
        HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE | HTTP_PATCH | HTTP_OPTIONS;

    for (size_t n = 1; n < 48; n++) {
        char *out = xmalloc(n); /* exact size so ASan catches a write past it */
        http_methods_format(all, out, n);
        assert_true(strlen(out) < n);
        assert_memory_equal(out, "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS", strlen(out));
        free(out);
    }
    char untouched = 'X';
    http_methods_format(all, &untouched, 0);
    assert_int_equal(untouched, 'X');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_get_crlf),
        cmocka_unit_test(test_head_post_http10),
        cmocka_unit_test(test_head_every_method),
        cmocka_unit_test(test_head_bare_lf),
        cmocka_unit_test(test_head_leading_empty_lines),
        cmocka_unit_test(test_head_value_trimming),
        cmocka_unit_test(test_head_lookup_case_insensitive),
        cmocka_unit_test(test_head_value_may_hold_colons_and_obs_text),
        cmocka_unit_test(test_head_max_headers_accepted),
        cmocka_unit_test(test_head_errors),
        cmocka_unit_test(test_head_bad_version_syntax),
        cmocka_unit_test(test_head_error_codes),
        cmocka_unit_test(test_head_too_many_headers),
        cmocka_unit_test(test_head_nul_byte),
        cmocka_unit_test(test_head_respects_len),
        cmocka_unit_test(test_target_table),
        cmocka_unit_test(test_target_empty_middle_segment),
        cmocka_unit_test(test_target_cleanup_twice),
        cmocka_unit_test(test_target_many_segments),
        cmocka_unit_test(test_query_get_table),
        cmocka_unit_test(test_query_get_empty_value),
        cmocka_unit_test(test_url_decode_table),
        cmocka_unit_test(test_url_decode_respects_len),
        cmocka_unit_test(test_url_decode_appends),
        cmocka_unit_test(test_url_decode_empty),
        cmocka_unit_test(test_methods_format),
        cmocka_unit_test(test_methods_format_small_buffer),
        /* Last: exposes a known bug. */
        cmocka_unit_test(test_head_empty_method_is_400),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
