/*
 * test_static_mime.c — the Content-Type chosen for a static file by its name
 * (server/static.h static_mime_type). A wrong type breaks ES module loading
 * (browsers refuse modules not served as JavaScript), so every kind is pinned.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/static.h"

static void test_mime_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *want;
    } cases[] = {
        {"index.html", "text/html; charset=utf-8"},
        {"old.htm", "text/html; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"site.css", "text/css; charset=utf-8"},
        {"data.json", "application/json"},
        {"app.js.map", "application/json"},
        {"manifest.webmanifest", "application/manifest+json"},
        {"logo.svg", "image/svg+xml"},
        {"photo.png", "image/png"},
        {"photo.jpg", "image/jpeg"},
        {"photo.jpeg", "image/jpeg"},
        {"anim.gif", "image/gif"},
        {"pic.webp", "image/webp"},
        {"pic.avif", "image/avif"},
        {"favicon.ico", "image/x-icon"},
        {"font.woff", "font/woff"},
        {"font.woff2", "font/woff2"},
        {"robots.txt", "text/plain; charset=utf-8"},
        {"export.csv", "text/csv; charset=utf-8"},
        {"feed.xml", "application/xml"},
        {"schema.xsd", "application/xml"},
        {"openapi.yaml", "application/yaml"},
        {"openapi.yml", "application/yaml"},
        {"guide.pdf", "application/pdf"},
        {"mod.wasm", "application/wasm"},
        /* paths: only the last component's extension counts */
        {"/srv/web/js/app.js", "text/javascript; charset=utf-8"},
        {"css/site.css", "text/css; charset=utf-8"},
        {"vendor/chart.v4.min.js", "text/javascript; charset=utf-8"},
        /* extensions are matched case-insensitively */
        {"INDEX.HTML", "text/html; charset=utf-8"},
        {"Photo.PnG", "image/png"},
        {"FONT.WOFF2", "font/woff2"},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        const char *got = static_mime_type(cases[i].name);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%s): got %s, want %s", i, cases[i].name, got, cases[i].want);
    }
}

static void test_mime_unknown(void **state)
{
    (void)state;
    static const char *const names[] = {
        "",
        "README", /* no extension */
        "Makefile",
        "archive.tar.gz", /* unknown extension */
        "binary.exe",
        "page.html.bak", /* the last extension decides */
        "file.",         /* empty extension */
        ".",
        "..",
        ".hidden",    /* a dot file: its name is not an extension */
        "dir.d/file", /* dot in a directory name only */
        "/srv/web.v2/README",
        "assets.html/LICENSE",
        "a.js/",
        "app.jsx", /* no prefix matching */
        "app.j",
        "font.woff3",
        "x.htmlx",
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(names); i++) {
        const char *got = static_mime_type(names[i]);
        if (strcmp(got, "application/octet-stream") != 0)
            fail_msg("case %zu (%s): got %s", i, names[i], got);
    }
}

/* Text types carry a charset so browsers do not sniff; binary ones must not. */
static void test_mime_charset(void **state)
{
    (void)state;
    static const char *const text[] = {"a.html", "a.css", "a.js", "a.txt", "a.csv"};
    static const char *const binary[] = {"a.png", "a.woff2", "a.pdf", "a.wasm", "a.bin"};

    for (size_t i = 0; i < MCX_ARRAY_LEN(text); i++)
        assert_non_null(strstr(static_mime_type(text[i]), "; charset=utf-8"));
    for (size_t i = 0; i < MCX_ARRAY_LEN(binary); i++)
        assert_null(strstr(static_mime_type(binary[i]), "charset"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime_table),
        cmocka_unit_test(test_mime_unknown),
        cmocka_unit_test(test_mime_charset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
