/*
 * test_ewp_manifest.c — reading a partner's Discovery v6 manifest
 * (ewp_parse_manifest) and telling EWP documents apart by their root
 * (ewp_sniff_root): the upstream example, host selection, version choice,
 * the checks on url / max-los-ids / supports-modified-since, hostile input
 * refused, and libxml2's global state left as found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Only to check that the codec gives libxml2's process state back untouched. */
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "catalogue/ewp.h"
#include "server/util.h"

#define NS_EWP                                                                                     \
    "https://github.com/erasmus-without-paper/ewp-specs-architecture/blob/stable-v1/"              \
    "common-types.xsd"

/* A manifest with one host per HOST() argument. */
#define MANIFEST(hosts)                                                                            \
    "<manifest xmlns=\"" EWP_NS_DISCOVERY "\" xmlns:ewp=\"" NS_EWP "\" xmlns:r=\"" EWP_NS_REGISTRY \
    "\">" hosts "</manifest>"
/* A host covering heis (HEI() elements, or "" for an empty list) and implementing apis. */
#define HOST(heis, apis)                                                                           \
    "<host><ewp:admin-email>a@example.com</ewp:admin-email>"                                       \
    "<ewp:admin-provider>Test</ewp:admin-provider>"                                                \
    "<r:apis-implemented>" apis "</r:apis-implemented>"                                            \
    "<institutions-covered>" heis "</institutions-covered></host>"
#define HOST_NO_LIST(apis)                                                                         \
    "<host><ewp:admin-email>a@example.com</ewp:admin-email>"                                       \
    "<ewp:admin-provider>Test</ewp:admin-provider>"                                                \
    "<r:apis-implemented>" apis "</r:apis-implemented></host>"
#define HEI(id) "<r:hei id=\"" id "\"><r:name>" id "</r:name></r:hei>"
#define COURSES_V(version, url, max)                                                               \
    "<courses xmlns=\"" EWP_NS_COURSES_ENTRY "\" version=\"" version "\"><url>" url "</url>"       \
    "<max-los-ids>" max "</max-los-ids><max-los-codes>1</max-los-codes></courses>"
#define COURSES(url, max) COURSES_V("0.7.1", url, max)
#define SCR_V(version, url, since)                                                                 \
    "<simple-course-replication xmlns=\"" EWP_NS_REPLICATION_ENTRY "\" version=\"" version "\">"   \
    "<url>" url "</url><allows-anonymous-access>true</allows-anonymous-access>"                    \
    "<supports-modified-since>" since "</supports-modified-since></simple-course-replication>"
#define SCR(url, since) SCR_V("1.0.0", url, since)

/* ---- helpers ---- */

static const char *shared_dir(void)
{
    const char *d = getenv("MCX_SHARED_DIR");

    return d != NULL && d[0] != '\0' ? d : MCX_SOURCE_DIR "/../shared";
}

static char *sample_read(const char *rel, size_t *len)
{
    char path[4096];
    FILE *f;
    struct buf b;
    char chunk[65536];
    size_t n;

    snprintf(path, sizeof(path), "%s/samples/ewp/%s", shared_dir(), rel);
    if ((f = fopen(path, "rb")) == NULL)
        fail_msg("cannot read %s", path);
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b, len);
}

/* s with the first occurrence of from replaced by to; fails if there is none. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    struct buf b;

    if (p == NULL)
        fail_msg("no '%s'", from);
    buf_init(&b);
    buf_append(&b, s, (size_t)(p - s));
    buf_puts(&b, to);
    buf_puts(&b, p + strlen(from));
    return buf_steal(&b, NULL);
}

static void manifest_ok(const char *d, const char *hei, struct ewp_manifest_apis *m)
{
    struct mcx_error err;

    if (ewp_parse_manifest(d, strlen(d), 0, hei, m, &err) != 0)
        fail_msg("%s: %s (line %d, %s): %s", hei, err.code, err.line, err.path, err.message);
}

/* Fails with code, the message containing needle; *out stays empty. */
static void manifest_fails(const char *d, const char *hei, const char *code, const char *needle,
                           struct mcx_error *err)
{
    struct ewp_manifest_apis m;

    assert_int_equal(ewp_parse_manifest(d, strlen(d), 0, hei, &m, err), -1);
    if (strcmp(err->code, code) != 0 || (needle != NULL && strstr(err->message, needle) == NULL))
        fail_msg("expected %s '%s', got %s: %s", code, needle ? needle : "", err->code,
                 err->message);
    assert_null(m.courses_url);
    assert_null(m.replication_url);
    assert_int_equal(m.max_los_ids, 0);
}

/* ---- the upstream example ---- */

static void test_sample(void **state)
{
    size_t len;
    char *sample = sample_read("discovery/manifest-example.xml", &len);
    char *with_apis;
    struct ewp_manifest_apis m;
    struct mcx_error err;

    (void)state;
    assert_int_equal(ewp_sniff_root(sample, len), EWP_ROOT_MANIFEST);
    /* it covers uw.edu.pl, with Discovery and Echo but no course API */
    manifest_fails(sample, "uw.edu.pl", "validation_failed", "implements no Courses API", &err);
    assert_string_equal(err.path, "/manifest/host");
    manifest_fails(sample, "vdu.lt", "validation_failed",
                   "no host of the manifest covers HEI vdu.lt", &err);

    with_apis = replace(sample, "</r:apis-implemented>",
                        COURSES("https://example.com/ewp/courses", "100")
                            SCR("https://example.com/ewp/scr", "true") "</r:apis-implemented>");
    manifest_ok(with_apis, "uw.edu.pl", &m);
    assert_string_equal(m.courses_url, "https://example.com/ewp/courses");
    assert_int_equal(m.max_los_ids, 100);
    assert_string_equal(m.replication_url, "https://example.com/ewp/scr");
    assert_true(m.replication_modified_since);
    ewp_manifest_apis_cleanup(&m);
    ewp_manifest_apis_cleanup(&m); /* idempotent */
    ewp_manifest_apis_cleanup(NULL);
    free(with_apis);
    free(sample);
}

/* The fuzzer's manifest seed is the example with both entries, and reads as one. */
static void test_fuzz_seed(void **state)
{
    FILE *f = fopen(MCX_SOURCE_DIR "/tests/fuzz/corpus/ewp/manifest.xml", "rb");
    struct ewp_manifest_apis m;
    struct buf b;
    char chunk[4096];
    size_t n;

    (void)state;
    assert_non_null(f);
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_putc(&b, '\0');
    manifest_ok(b.data, "uw.edu.pl", &m);
    assert_string_equal(m.courses_url, "https://example.com/ewp/courses");
    assert_int_equal(m.max_los_ids, 100);
    assert_string_equal(m.replication_url, "https://example.com/ewp/course-replication");
    assert_true(m.replication_modified_since);
    ewp_manifest_apis_cleanup(&m);
    buf_cleanup(&b);
}

/* ---- choosing the host and the entries ---- */

static void test_host_selection(void **state)
{
    const char *two = MANIFEST(HOST(HEI("a.lt"), COURSES("https://a.example/c", "5"))
                                   HOST(HEI("b.lt"), COURSES("https://b.example/c", "6")));
    const char *bare = MANIFEST(HOST(HEI("a.lt"), COURSES("https://a.example/c", "5"))
                                    HOST_NO_LIST(COURSES("https://bare.example/c", "7")));
    const char *empty_list = MANIFEST(HOST("", COURSES("https://empty.example/c", "8")));
    const char *two_bare = MANIFEST(HOST_NO_LIST(COURSES("https://x.example/c", "1"))
                                        HOST("", COURSES("https://y.example/c", "1")));
    struct ewp_manifest_apis m;
    struct mcx_error err;

    (void)state;
    manifest_ok(two, "b.lt", &m);
    assert_string_equal(m.courses_url, "https://b.example/c");
    assert_int_equal(m.max_los_ids, 6);
    assert_null(m.replication_url);
    assert_false(m.replication_modified_since);
    ewp_manifest_apis_cleanup(&m);
    manifest_ok(two, "a.lt", &m);
    assert_string_equal(m.courses_url, "https://a.example/c");
    ewp_manifest_apis_cleanup(&m);
    /* ids are compared exactly (EWP architecture, "Identifiers") */
    manifest_fails(two, "A.lt", "validation_failed", "covers HEI A.lt (2 hosts)", &err);

    /* a host listing nobody answers for whom no host lists, never for a listed HEI */
    manifest_ok(bare, "c.lt", &m);
    assert_string_equal(m.courses_url, "https://bare.example/c");
    ewp_manifest_apis_cleanup(&m);
    manifest_ok(bare, "a.lt", &m);
    assert_string_equal(m.courses_url, "https://a.example/c");
    ewp_manifest_apis_cleanup(&m);
    manifest_ok(empty_list, "c.lt", &m);
    assert_string_equal(m.courses_url, "https://empty.example/c");
    ewp_manifest_apis_cleanup(&m);
    manifest_fails(two_bare, "c.lt", "validation_failed", "several list no institution", &err);
    manifest_fails(MANIFEST(""), "c.lt", "validation_failed", "(0 hosts)", &err);

    /* a covering host without the Courses API does not fall back to another host */
    manifest_fails(MANIFEST(HOST(HEI("a.lt"), SCR("https://a.example/s", "true"))
                                HOST_NO_LIST(COURSES("https://bare.example/c", "7"))),
                   "a.lt", "validation_failed", "implements no Courses API", &err);
}

static void test_versions(void **state)
{
    const char *many = MANIFEST(HOST(
        HEI("a.lt"),
        COURSES_V("0.7.1", "https://e/c071", "1") COURSES_V("0.10.0", "https://e/c0100", "2")
            COURSES_V("0.9.9", "https://e/c099", "3") COURSES_V("1.0.0", "https://e/c100", "4")
                COURSES_V("0.11", "https://e/c011", "5") SCR_V("2.0.0", "https://e/s200", "true")
                    SCR_V("1.0.0", "https://e/s100", "false")
                        SCR_V("1.2.0", "https://e/s120", "true")));
    const char *too_new = MANIFEST(HOST(HEI("a.lt"), COURSES_V("1.0.0", "https://e/c", "1")
                                                         SCR_V("0.0.0", "https://e/s", "true")));
    const char *scr_unknown =
        MANIFEST(HOST(HEI("a.lt"), COURSES("https://e/c", "1") SCR_V("2.1.0", "https://e/s", "1")));
    /* the Courses *response* namespace, and an entry without namespace: not entries */
    const char *wrong_ns = MANIFEST(
        HOST(HEI("a.lt"), "<courses xmlns=\"" EWP_NS_COURSES "\" version=\"0.7.1\"><url>https://e/c"
                          "</url><max-los-ids>1</max-los-ids></courses>"
                          "<courses xmlns=\"\" version=\"0.7.1\"><url>https://e/c</url>"
                          "<max-los-ids>1</max-los-ids></courses>"));
    struct ewp_manifest_apis m;
    struct mcx_error err;

    (void)state;
    manifest_ok(many, "a.lt", &m);
    assert_string_equal(m.courses_url, "https://e/c0100");
    assert_int_equal(m.max_los_ids, 2);
    assert_string_equal(m.replication_url, "https://e/s120");
    assert_true(m.replication_modified_since);
    ewp_manifest_apis_cleanup(&m);

    manifest_fails(too_new, "a.lt", "validation_failed", "no Courses API version", &err);
    assert_non_null(strstr(err.message, "(0.x)"));
    assert_string_equal(err.path, "/manifest/host/r:apis-implemented/courses");

    manifest_ok(scr_unknown, "a.lt", &m);
    assert_null(m.replication_url);
    assert_false(m.replication_modified_since);
    ewp_manifest_apis_cleanup(&m);

    manifest_fails(wrong_ns, "a.lt", "validation_failed", "implements no Courses API", &err);
}

static void test_missing_courses(void **state)
{
    struct mcx_error err;

    (void)state;
    manifest_fails(MANIFEST(HOST(HEI("a.lt"), "")), "a.lt", "validation_failed",
                   "implements no Courses API", &err);
    manifest_fails(MANIFEST(HOST(HEI("a.lt"), SCR("https://e/s", "true"))), "a.lt",
                   "validation_failed", "implements no Courses API", &err);
    /* no apis-implemented at all */
    manifest_fails(MANIFEST("<host><ewp:admin-email>a@b</ewp:admin-email>"
                            "<ewp:admin-provider>T</ewp:admin-provider></host>"),
                   "a.lt", "validation_failed", "implements no Courses API", &err);
}

static void test_max_los_ids(void **state)
{
    static const struct {
        const char *text;
        int want; /* 0: refused */
    } cases[] = {
        {"1", 1},
        {"+007", 7},
        {"  3\n", 3},
        {"2147483647", INT32_MAX},
        {"99999999999999999999999", INT32_MAX},
        {"0", 0},
        {"000", 0},
        {"-1", 0},
        {"1.5", 0},
        {"abc", 0},
        {"1 2", 0},
        {"0x10", 0},
        {"", 0},
    };
    struct mcx_error err;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct buf b;
        struct ewp_manifest_apis m;
        buf_init(&b);
        buf_printf(&b, MANIFEST(HOST(HEI("a.lt"), COURSES("https://e/c", "%s"))), cases[i].text);
        if (cases[i].want > 0) {
            manifest_ok(b.data, "a.lt", &m);
            assert_int_equal(m.max_los_ids, cases[i].want);
            ewp_manifest_apis_cleanup(&m);
        } else if (cases[i].text[0] == '\0') {
            manifest_fails(b.data, "a.lt", "validation_failed", "has no <max-los-ids>", &err);
        } else {
            manifest_fails(b.data, "a.lt", "validation_failed",
                           "<max-los-ids> is not a positive integer", &err);
            assert_string_equal(err.path, "/manifest/host/r:apis-implemented/courses/max-los-ids");
            assert_int_equal(err.line, 1);
        }
        buf_cleanup(&b);
    }
    manifest_fails(MANIFEST(HOST(HEI("a.lt"), "<courses xmlns=\"" EWP_NS_COURSES_ENTRY
                                              "\" version=\"0.7.1\"><url>https://e/c</url>"
                                              "</courses>")),
                   "a.lt", "validation_failed", "has no <max-los-ids>", &err);
}

static void test_urls(void **state)
{
    static const char *const bad[] = {
        "ftp://e/c",
        "https://",
        "https:///c",
        "//e/c",
        "e/c",
        "HTTPS://e/c",
        "https://e/a b",
        "https://e/\xc3\xa9",
        "javascript:alert(1)",
        "file:///etc/passwd",
    };
    const char *ok[] = {"https://e/c", "http://127.0.0.1:8080/ewp/x/courses?x=1", " https://e/c\n"};
    struct mcx_error err;
    struct ewp_manifest_apis m;
    struct buf b;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad); i++) {
        buf_init(&b);
        buf_printf(&b, MANIFEST(HOST(HEI("a.lt"), COURSES("%s", "3"))), bad[i]);
        manifest_fails(b.data, "a.lt", "validation_failed",
                       "the Courses API <url> is not an absolute http(s) URL", &err);
        assert_string_equal(err.path, "/manifest/host/r:apis-implemented/courses/url");
        buf_reset(&b);
        buf_printf(&b, MANIFEST(HOST(HEI("a.lt"), COURSES("https://e/c", "3") SCR("%s", "true"))),
                   bad[i]);
        manifest_fails(b.data, "a.lt", "validation_failed",
                       "the Simple Course Replication API <url> is not an absolute http(s) URL",
                       &err);
        buf_cleanup(&b);
    }
    for (size_t i = 0; i < MCX_ARRAY_LEN(ok); i++) {
        buf_init(&b);
        buf_printf(&b, MANIFEST(HOST(HEI("a.lt"), COURSES("%s", "3") SCR("%s", "true"))), ok[i],
                   ok[i]);
        manifest_ok(b.data, "a.lt", &m);
        assert_non_null(strstr(ok[i], m.courses_url)); /* trimmed */
        assert_string_equal(m.courses_url, m.replication_url);
        ewp_manifest_apis_cleanup(&m);
        buf_cleanup(&b);
    }
    /* too long */
    buf_init(&b);
    buf_puts(&b, "https://e/");
    for (int i = 0; i < EWP_MAX_URL; i++)
        buf_putc(&b, 'x');
    {
        char *d = NULL;
        struct buf doc;
        buf_init(&doc);
        buf_printf(&doc, MANIFEST(HOST(HEI("a.lt"), COURSES("%s", "3"))), b.data);
        d = buf_steal(&doc, NULL);
        manifest_fails(d, "a.lt", "validation_failed", "not an absolute http(s) URL", &err);
        free(d);
    }
    buf_cleanup(&b);
    /* missing, or empty */
    manifest_fails(MANIFEST(HOST(HEI("a.lt"), "<courses xmlns=\"" EWP_NS_COURSES_ENTRY
                                              "\" version=\"0.7.1\"><max-los-ids>3</max-los-ids>"
                                              "</courses>")),
                   "a.lt", "validation_failed", "the Courses API entry has no <url>", &err);
    assert_string_equal(err.path, "/manifest/host/r:apis-implemented/courses");
    manifest_fails(MANIFEST(HOST(HEI("a.lt"), COURSES("https://e/c", "3") SCR(" ", "true"))),
                   "a.lt", "validation_failed",
                   "the Simple Course Replication API entry has no <url>", &err);
}

static void test_modified_since(void **state)
{
    static const struct {
        const char *text;
        bool want;
    } cases[] = {
        {"true", true}, {" 1 ", true}, {"false", false}, {"0", false}, {"", false}, {"yes", false},
    };
    struct ewp_manifest_apis m;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct buf b;
        buf_init(&b);
        buf_printf(
            &b, MANIFEST(HOST(HEI("a.lt"), COURSES("https://e/c", "3") SCR("https://e/s", "%s"))),
            cases[i].text);
        manifest_ok(b.data, "a.lt", &m);
        assert_string_equal(m.replication_url, "https://e/s");
        assert_int_equal(m.replication_modified_since, cases[i].want);
        ewp_manifest_apis_cleanup(&m);
        buf_cleanup(&b);
    }
}

/* ---- hostile and wrong input ---- */

static void test_refused(void **state)
{
    const char *good = MANIFEST(HOST(HEI("a.lt"), COURSES("https://e/c", "3")));
    const char *doctype = "<?xml version=\"1.0\"?>\n<!DOCTYPE manifest [\n"
                          "  <!ENTITY u SYSTEM \"file:///etc/passwd\">\n]>\n" MANIFEST(
                              HOST(HEI("a.lt"), COURSES("https://e/&u;", "3")));
    const char *external = "<!DOCTYPE manifest SYSTEM \"http://127.0.0.1:1/x.dtd\">" MANIFEST("");
    const char *v5 = "<manifest xmlns=\"https://github.com/erasmus-without-paper/"
                     "ewp-specs-api-discovery/tree/stable-v5\"/>";
    struct ewp_manifest_apis m;
    struct mcx_error err;
    struct buf b;

    (void)state;
    manifest_fails(doctype, "a.lt", "malformed_xml", "DOCTYPE", &err);
    assert_int_equal(err.line, 2);
    manifest_fails(external, "a.lt", "malformed_xml", "DOCTYPE", &err);
    manifest_fails("<manifest", "a.lt", "malformed_xml", "discovery manifest", &err);
    manifest_fails(MANIFEST("<host>\xc3\x28</host>"), "a.lt", "malformed_xml", NULL, &err);
    manifest_fails(v5, "a.lt", "unsupported_document", "not an EWP manifest", &err);
    manifest_fails("<courses-response xmlns=\"" EWP_NS_COURSES "\"/>", "a.lt",
                   "unsupported_document", NULL, &err);
    manifest_fails(MANIFEST(""), "", "internal", NULL, &err);
    manifest_fails(MANIFEST(""), NULL, "internal", NULL, &err);

    assert_int_equal(ewp_parse_manifest(good, strlen(good), 16, "a.lt", &m, &err), -1);
    assert_string_equal(err.code, "too_large");
    assert_int_equal(ewp_parse_manifest(good, 0, 0, "a.lt", &m, &err), -1);
    assert_string_equal(err.code, "malformed_xml");
    assert_int_equal(ewp_parse_manifest(good, strlen(good), strlen(good), "a.lt", &m, NULL), 0);
    ewp_manifest_apis_cleanup(&m);

    /* deeper than EWP_MAX_DEPTH */
    buf_init(&b);
    buf_puts(&b, "<manifest xmlns=\"" EWP_NS_DISCOVERY "\"><host>");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "<a>");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "</a>");
    buf_puts(&b, "</host></manifest>");
    manifest_fails(b.data, "a.lt", "malformed_xml", "deeper", &err);
    buf_cleanup(&b);
}

static void test_billion_laughs(void **state)
{
    struct mcx_error err;
    struct buf b;
    clock_t t0 = clock();

    (void)state;
    buf_init(&b);
    buf_puts(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE manifest [\n <!ENTITY l0 \"lol\">\n");
    for (int i = 1; i <= 9; i++)
        buf_printf(&b, " <!ENTITY l%d \"&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;\">\n", i,
                   i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    buf_puts(&b, "]>\n" MANIFEST(HOST(HEI("&l9;"), COURSES("https://e/c", "3"))));
    manifest_fails(b.data, "a.lt", "malformed_xml", "DOCTYPE", &err);
    assert_int_equal(ewp_sniff_root(b.data, b.len), EWP_ROOT_OTHER);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    buf_cleanup(&b);
}

/* ---- sniffing ---- */

static void sniff_is(const char *d, enum ewp_root want)
{
    enum ewp_root got = ewp_sniff_root(d, strlen(d));

    if (got != want)
        fail_msg("sniffing '%.80s': %d, expected %d", d, (int)got, (int)want);
}

static void test_sniff(void **state)
{
    static const struct {
        const char *file;
        enum ewp_root want;
    } samples[] = {
        {"discovery/manifest-example.xml", EWP_ROOT_MANIFEST},
        {"courses/courses-response-example.xml", EWP_ROOT_COURSES},
        {"courses/course-replication-response-example.xml", EWP_ROOT_REPLICATION},
        {"discovery/catalogue-example.xml", EWP_ROOT_OTHER},
        {"iias/iias-get-response-example.xml", EWP_ROOT_OTHER},
    };
    unsigned char noise[4096];

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(samples); i++) {
        size_t len;
        char *d = sample_read(samples[i].file, &len);
        if (ewp_sniff_root(d, len) != samples[i].want)
            fail_msg("%s", samples[i].file);
        free(d);
    }
    sniff_is("<mf:manifest xmlns:mf=\"" EWP_NS_DISCOVERY "\"/>", EWP_ROOT_MANIFEST);
    sniff_is("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n<?pi x?>"
             "<course-replication-response xmlns=\"" EWP_NS_REPLICATION "\">",
             EWP_ROOT_REPLICATION);
    /* only the start tag is read: what follows it does not matter */
    sniff_is("<courses-response xmlns=\"" EWP_NS_COURSES "\"><<<&&&", EWP_ROOT_COURSES);
    /* name and namespace must both match */
    sniff_is("<manifest/>", EWP_ROOT_OTHER);
    sniff_is("<manifest xmlns=\"" EWP_NS_COURSES "\"/>", EWP_ROOT_OTHER);
    sniff_is("<courses-response xmlns=\"" EWP_NS_DISCOVERY "\"/>", EWP_ROOT_OTHER);
    sniff_is("<x:manifest/>", EWP_ROOT_OTHER); /* an undeclared prefix */
    sniff_is("<error-response xmlns=\"" NS_EWP "\"/>", EWP_ROOT_OTHER);
    /* no DTD is ever looked at, nor an entity expanded */
    sniff_is("<!DOCTYPE manifest>" MANIFEST(""), EWP_ROOT_OTHER);
    sniff_is("<!DOCTYPE m [<!ENTITY n \"" EWP_NS_DISCOVERY "\">]><manifest xmlns=\"&n;\"/>",
             EWP_ROOT_OTHER);
    sniff_is("<manifest xmlns=\"&n;\"/>", EWP_ROOT_OTHER);
    /* garbage */
    sniff_is("", EWP_ROOT_OTHER);
    sniff_is("   ", EWP_ROOT_OTHER);
    sniff_is("{\"manifest\": 1}", EWP_ROOT_OTHER);
    sniff_is("<manifest xmlns=\"" EWP_NS_DISCOVERY "\"", EWP_ROOT_OTHER); /* unfinished tag */
    sniff_is("<<manifest xmlns=\"" EWP_NS_DISCOVERY "\"/>", EWP_ROOT_OTHER);
    assert_int_equal(ewp_sniff_root(NULL, 10), EWP_ROOT_OTHER);
    srand(7);
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (unsigned char)rand();
    assert_int_equal(ewp_sniff_root((const char *)noise, sizeof(noise)), EWP_ROOT_OTHER);
}

/* Cheap: a huge document costs no more than its start tag. */
static void test_sniff_reads_only_the_start(void **state)
{
    size_t size = (size_t)64 * 1024 * 1024;
    char *d = malloc(size);
    const char *head = "<?xml version=\"1.0\"?>\n<!-- a comment spanning two chunks: ";
    const char *root = "--><manifest xmlns=\"" EWP_NS_DISCOVERY "\">";
    size_t off;
    clock_t t0;

    (void)state;
    assert_non_null(d);
    memset(d, 'x', size);
    memcpy(d, head, strlen(head));
    off = strlen(head) + 6000;
    memcpy(d + off, root, strlen(root));
    t0 = clock();
    assert_int_equal(ewp_sniff_root(d, size), EWP_ROOT_MANIFEST);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
    free(d);
}

/* libxml2's per-thread handlers are borrowed for the call and given back. */
static int stray_calls;

static void stray_counter(void *data, xmlErrorPtr e)
{
    (void)data;
    (void)e;
    stray_calls++;
}

static void test_global_state_untouched(void **state)
{
    int marker;
    struct mcx_error err;
    const char *bad_encoding = "<?xml version=\"1.0\" encoding=\"no-such-charset\"?><manifest/>";

    (void)state;
    xmlSetStructuredErrorFunc(&marker, stray_counter);
    stray_calls = 0;
    manifest_fails("<a><b></a>", "a.lt", "malformed_xml", NULL, &err);
    manifest_fails(bad_encoding, "a.lt", "malformed_xml", NULL, &err);
    sniff_is(bad_encoding, EWP_ROOT_OTHER);
    sniff_is("<a><b></a>", EWP_ROOT_OTHER);
    sniff_is("<a\xff/>", EWP_ROOT_OTHER);
    assert_int_equal(stray_calls, 0);
    assert_ptr_equal(xmlStructuredErrorContext, &marker);
    assert_true(xmlStructuredError == stray_counter);
    xmlSetStructuredErrorFunc(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_fuzz_seed),
        cmocka_unit_test(test_host_selection),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_missing_courses),
        cmocka_unit_test(test_max_los_ids),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_modified_since),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_sniff_reads_only_the_start),
        cmocka_unit_test(test_global_state_untouched),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
