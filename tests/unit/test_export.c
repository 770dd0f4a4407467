/*
 * test_export.c — credit-transfer exports (recognition/export.h): the ELMO document
 * validated against the EMREX ELMO 1.7.0 XSD in ../shared/samples/ewp, loaded offline
 * through the samples' catalog.xml, and read back by XPath; the CSV byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Only the test reads the documents back: the exporter itself writes text. */
#include <libxml/catalog.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "recognition/export.h"
#include "server/util.h"

#define GENERATED "2027-03-05T12:00:00Z"

static xmlSchemaPtr schema;

/* ---- fixtures ---- */

static const struct rec_home home = {
    .id = "vu.lt", .name = "Vilniaus universitetas", .country = "LT", .url = NULL};

static const struct rec_learner learner = {.id = "5d0c6f9e-learner",
                                           .email = "zygimantas@example.lt",
                                           .given_names = "Žygimantas",
                                           .family_name = "O'Brien & <Šimkus>"};

/* Everything filled in. */
static const struct rec_transfer full = {
    .id = "t-1",
    .request_id = "r-1",
    .outcome = "recognised",
    .decided_at = "2027-03-01T10:00:00Z",
    .programme = "Informatics (BSc)",
    .course = "DS101 Data & Society",
    .credits = 5,
    .has_credits = true,
    .grade = "9",
    .title = "Data Literacy <Advanced> & \"Practice\"",
    .issuer_id = "uab.cat",
    .issuer_name = "Universitat Autònoma de Barcelona",
    .issuer_country = "ES",
    .awarded_on = "2026-12-10",
    .original_grade = "B",
    .original_ects = 6,
    .has_original_ects = true,
    .eqf = 6,
    .isced = "0613",
    .offer_id = "0b7e0d1c-offer",
};

/* Most optional fields missing; an issuer country Europass does not list. */
static const struct rec_transfer partial = {
    .id = "t-2",
    .outcome = "partially_recognised",
    .decided_at = "2027-03-02T08:30:00+02:00",
    .credits = 2.5,
    .has_credits = true,
    .title = "Machine learning 101",
    .issuer_id = "ubt-uni.net",
    .issuer_country = "XK",
};

static const struct rec_transfer refused = {
    .id = "t-3",
    .outcome = "not_recognised",
    .decided_at = "2027-03-03T09:00:00Z",
    .title = "Refused course",
    .issuer_name = "Somewhere",
};

/* ---- the schema, offline ---- */

static const char *shared_dir(void)
{
    const char *d = getenv("MCX_SHARED_DIR");

    return d != NULL && d[0] != '\0' ? d : MCX_SOURCE_DIR "/../shared";
}

/*
 * samples/ewp README §0: the catalog maps every remote schemaLocation to its local copy,
 * and the no-network loader refuses anything it does not map. A test process may set
 * libxml2's process-wide loader; the server never does.
 */
static int schema_setup(void **state)
{
    char path[4096];
    xmlSchemaParserCtxtPtr pc;

    (void)state;
    xmlInitParser();
    xmlInitializeCatalog();
    snprintf(path, sizeof(path), "%s/samples/ewp/catalog.xml", shared_dir());
    if (xmlLoadCatalog(path) != 0) {
        fprintf(stderr, "cannot load %s\n", path);
        return -1;
    }
    xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);
    snprintf(path, sizeof(path), "%s/samples/ewp/elmo/schema.xsd", shared_dir());
    if ((pc = xmlSchemaNewParserCtxt(path)) == NULL)
        return -1;
    schema = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    return schema != NULL ? 0 : -1;
}

static int schema_teardown(void **state)
{
    (void)state;
    xmlSchemaFree(schema);
    xmlCatalogCleanup();
    xmlCleanupParser();
    return 0;
}

/* The first validation error, for the failure message. */
static void first_error(void *data, xmlErrorPtr e)
{
    char *msg = data;

    if (msg[0] == '\0' && e != NULL && e->message != NULL)
        snprintf(msg, 512, "line %d: %s", e->line, e->message);
}

static xmlDocPtr doc_read(const char *text)
{
    xmlDocPtr doc = xmlReadMemory(text, (int)strlen(text), "export.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

    if (doc == NULL)
        fail_msg("not well-formed:\n%s", text);
    return doc;
}

/* 0 when doc is valid, else -1 with the first error in msg. */
static int doc_validate(xmlDocPtr doc, char msg[512])
{
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    int rc;

    msg[0] = '\0';
    xmlSchemaSetValidStructuredErrors(vc, first_error, msg);
    rc = xmlSchemaValidateDoc(vc, doc);
    xmlSchemaFreeValidCtxt(vc);
    return rc == 0 ? 0 : -1;
}

/* Parses text and fails unless it validates against ELMO 1.7.0. */
static xmlDocPtr elmo_valid(const char *text)
{
    xmlDocPtr doc = doc_read(text);
    char msg[512];

    if (doc_validate(doc, msg) != 0)
        fail_msg("invalid ELMO: %s\n%s", msg, text);
    return doc;
}

static xmlXPathObjectPtr xpath(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r;

    xmlXPathRegisterNs(ctx, BAD_CAST "e", BAD_CAST REC_ELMO_NS);
    xmlXPathRegisterNs(ctx, BAD_CAST "m", BAD_CAST REC_EXPORT_NS);
    r = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    xmlXPathFreeContext(ctx);
    if (r == NULL)
        fail_msg("bad XPath %s", expr);
    return r;
}

static void xpath_is(xmlDocPtr doc, const char *expr, const char *want)
{
    struct buf e;
    xmlXPathObjectPtr r;

    buf_init(&e);
    buf_printf(&e, "string(%s)", expr);
    r = xpath(doc, e.data);
    if (strcmp((const char *)r->stringval, want) != 0)
        fail_msg("%s: '%s', expected '%s'", expr, (const char *)r->stringval, want);
    xmlXPathFreeObject(r);
    buf_cleanup(&e);
}

static void xpath_count_is(xmlDocPtr doc, const char *expr, int want)
{
    struct buf e;
    xmlXPathObjectPtr r;

    buf_init(&e);
    buf_printf(&e, "count(%s)", expr);
    r = xpath(doc, e.data);
    if ((int)r->floatval != want)
        fail_msg("count(%s): %d, expected %d", expr, (int)r->floatval, want);
    xmlXPathFreeObject(r);
    buf_cleanup(&e);
}

static char *elmo_ok(const struct rec_learner *l, const struct rec_home *h,
                     const struct rec_transfer *t, size_t n)
{
    struct buf out;
    struct mcx_error err;

    buf_init(&out);
    if (rec_export_elmo(l, h, t, n, GENERATED, &out, &err) != 0)
        fail_msg("%s: %s (%s)", err.code, err.message, err.path);
    return buf_steal(&out, NULL);
}

#define LOS "/e:elmo/e:report/e:learningOpportunitySpecification"
#define LOI "/e:specifies/e:learningOpportunityInstance"
#define REC LOI "/e:extension/m:recognition"

/* ---- ELMO ---- */

static void test_elmo_empty(void **state)
{
    const struct rec_learner nameless = {.id = "u-2", .email = "jane.doe@example.org"};
    char *text = elmo_ok(&nameless, &home, NULL, 0);
    xmlDocPtr doc = elmo_valid(text);

    (void)state;
    xpath_is(doc, "/e:elmo/e:generatedDate", GENERATED);
    xpath_is(doc, "/e:elmo/e:report/e:issueDate", GENERATED);
    xpath_count_is(doc, LOS, 0);
    xpath_count_is(doc, "/e:elmo/e:report", 1);
    xpath_is(doc, "/e:elmo/e:report/e:issuer/e:identifier[@type='schac']", "vu.lt");
    xpath_is(doc, "/e:elmo/e:report/e:issuer/e:country", "LT");
    xpath_is(doc, "/e:elmo/e:report/e:issuer/e:title", "Vilniaus universitetas");
    xpath_is(doc, "/e:elmo/e:report/e:issuer/e:url", "https://vu.lt/");
    /* no names: the e-mail's local part, and an empty family name */
    xpath_is(doc, "/e:elmo/e:learner/e:givenNames", "jane.doe");
    xpath_count_is(doc, "/e:elmo/e:learner/e:familyName", 1);
    xpath_is(doc, "/e:elmo/e:learner/e:familyName", "");
    xpath_is(doc, "/e:elmo/e:learner/e:identifier[@type='mcx-user']", "u-2");
    xpath_is(doc, "/e:elmo/e:learner/e:identifier[@type='email']", "jane.doe@example.org");
    xmlFreeDoc(doc);
    free(text);

    /* no learner at all, a home with a homepage and without name or Europass country */
    {
        const struct rec_home bare = {
            .id = "ubt-uni.net", .country = "XK", .url = "https://www.ubt-uni.net/en/"};
        text = elmo_ok(NULL, &bare, NULL, 0);
        doc = elmo_valid(text);
        xpath_is(doc, "/e:elmo/e:learner/e:givenNames", "Unknown");
        xpath_count_is(doc, "/e:elmo/e:learner/e:identifier", 0);
        xpath_count_is(doc, "/e:elmo/e:report/e:issuer/e:country", 0);
        xpath_is(doc, "/e:elmo/e:report/e:issuer/e:title", "ubt-uni.net");
        xpath_is(doc, "/e:elmo/e:report/e:issuer/e:url", "https://www.ubt-uni.net/en/");
        xmlFreeDoc(doc);
        free(text);
    }
}

static void test_elmo_one(void **state)
{
    char *text = elmo_ok(&learner, &home, &full, 1);
    xmlDocPtr doc = elmo_valid(text);

    (void)state;
    xpath_is(doc, "/e:elmo/e:learner/e:givenNames", "Žygimantas");
    xpath_is(doc, "/e:elmo/e:learner/e:familyName", "O'Brien & <Šimkus>");
    xpath_count_is(doc, LOS, 1);
    xpath_is(doc, LOS "/e:identifier[@type='mcx-offer']", "0b7e0d1c-offer");
    xpath_is(doc, LOS "/e:title",
             "Data Literacy <Advanced> & \"Practice\" (Universitat Autònoma de Barcelona)");
    xpath_is(doc, LOS "/e:type", "Course");
    xpath_is(doc, LOS "/e:iscedCode", "0613");
    xpath_is(doc, LOS "/e:description",
             "Recognised by Vilniaus universitetas on 2027-03-01 as DS101 Data & Society in "
             "Informatics (BSc). Obtained at Universitat Autònoma de Barcelona (uab.cat, ES) on "
             "2026-12-10, grade B, 6 ECTS.");
    xpath_is(doc, LOS "/e:description/@xml:lang", "en");
    xpath_is(doc, LOS LOI "/e:identifier[@type='mcx-credit-transfer']", "t-1");
    xpath_is(doc, LOS LOI "/e:date", "2026-12-10");
    xpath_is(doc, LOS LOI "/e:status", "passed");
    xpath_is(doc, LOS LOI "/e:resultLabel", "9");
    xpath_is(doc, LOS LOI "/e:credit/e:scheme", "ects");
    xpath_is(doc, LOS LOI "/e:credit/e:value", "5");
    xpath_is(doc, LOS LOI "/e:level/e:type", "EQF");
    xpath_is(doc, LOS LOI "/e:level/e:value", "6");
    /* where it came from, in mcx's extension */
    xpath_is(doc, LOS REC "/m:outcome", "recognised");
    xpath_is(doc, LOS REC "/m:decidedAt", "2027-03-01T10:00:00Z");
    xpath_is(doc, LOS REC "/m:requestId", "r-1");
    xpath_is(doc, LOS REC "/m:programme", "Informatics (BSc)");
    xpath_is(doc, LOS REC "/m:course", "DS101 Data & Society");
    xpath_is(doc, LOS REC "/m:recognisedFrom/m:issuer/m:identifier[@type='schac']", "uab.cat");
    xpath_is(doc, LOS REC "/m:recognisedFrom/m:issuer/m:title",
             "Universitat Autònoma de Barcelona");
    xpath_is(doc, LOS REC "/m:recognisedFrom/m:issuer/m:country", "ES");
    xpath_is(doc, LOS REC "/m:recognisedFrom/m:title", "Data Literacy <Advanced> & \"Practice\"");
    xpath_is(doc, LOS REC "/m:recognisedFrom/m:awardedOn", "2026-12-10");
    xpath_is(doc, LOS REC "/m:recognisedFrom/m:grade", "B");
    xpath_is(doc, LOS REC "/m:recognisedFrom/m:ects", "6");
    /* special characters are escaped, not dropped, and there is no CDATA trick */
    assert_non_null(strstr(text, "Data Literacy &lt;Advanced&gt; &amp; &quot;Practice&quot;"));
    xmlFreeDoc(doc);
    free(text);
}

static void test_elmo_three(void **state)
{
    const struct rec_transfer t[] = {full, refused, partial};
    char *text = elmo_ok(&learner, &home, t, MCX_ARRAY_LEN(t));
    xmlDocPtr doc = elmo_valid(text);

    (void)state;
    /* not_recognised is left out: ELMO lists credits obtained */
    xpath_count_is(doc, LOS, 2);
    xpath_count_is(doc, "//e:identifier[.='t-3']", 0);
    assert_null(strstr(text, "Refused"));
    xpath_is(doc, LOS "[1]" LOI "/e:identifier", "t-1");
    xpath_is(doc, LOS "[2]" LOI "/e:identifier", "t-2");

    /* the partial one, with most fields missing */
    xpath_is(doc, LOS "[2]/e:title", "Machine learning 101 (ubt-uni.net)");
    xpath_count_is(doc, LOS "[2]/e:identifier", 0);
    xpath_count_is(doc, LOS "[2]/e:iscedCode", 0);
    xpath_is(doc, LOS "[2]/e:description",
             "Partially recognised by Vilniaus universitetas on 2027-03-02. "
             "Obtained at ubt-uni.net (XK).");
    xpath_is(doc, LOS "[2]" LOI "/e:date", "2027-03-02"); /* no award date: the decision's */
    xpath_is(doc, LOS "[2]" LOI "/e:status", "passed");
    xpath_count_is(doc, LOS "[2]" LOI "/e:resultLabel", 0);
    xpath_is(doc, LOS "[2]" LOI "/e:credit/e:value", "2.5");
    xpath_count_is(doc, LOS "[2]" LOI "/e:level", 0);
    xpath_is(doc, LOS "[2]" REC "/m:outcome", "partially_recognised");
    xpath_count_is(doc, LOS "[2]" REC "/m:requestId", 0);
    /* XK is not a Europass code: the id stays, the country goes */
    xpath_is(doc, LOS "[2]" REC "/m:recognisedFrom/m:issuer/m:identifier", "ubt-uni.net");
    xpath_count_is(doc, LOS "[2]" REC "/m:recognisedFrom/m:issuer/m:country", 0);

    /* the credit values of the report */
    xpath_is(doc, "sum(" LOS LOI "/e:credit/e:value)", "7.5");
    xmlFreeDoc(doc);
    free(text);
}

/* Text no XML can hold becomes U+FFFD; the document stays valid. */
static void test_elmo_hostile_text(void **state)
{
    struct rec_transfer t = full;
    struct rec_learner l = learner;
    struct rec_home h = home;
    char *text;
    xmlDocPtr doc;

    (void)state;
    t.title = "A\x01"
              "B\xff"
              "C\r\nD]]>E";
    t.grade = "  spaced   grade ";
    t.issuer_name = NULL;
    t.issuer_id = NULL;
    t.issuer_country = NULL;
    l.given_names = "\xc3"; /* a cut UTF-8 sequence */
    l.family_name = NULL;
    h.country = "lt"; /* lower case still names Lithuania */
    h.name = "Vilnius <University>";
    text = elmo_ok(&l, &h, &t, 1);
    doc = elmo_valid(text);
    xpath_is(doc, LOS "/e:title",
             "A\xEF\xBF\xBD"
             "B\xEF\xBF\xBD"
             "C\r\nD]]>E");
    xpath_is(doc, LOS "/e:description",
             "Recognised by Vilnius <University> on 2027-03-01 as DS101 Data & Society in "
             "Informatics (BSc). Obtained elsewhere on 2026-12-10, grade B, 6 ECTS.");
    xpath_count_is(doc, LOS REC "/m:recognisedFrom/m:issuer", 0);
    xpath_is(doc, "/e:elmo/e:learner/e:givenNames", "\xEF\xBF\xBD");
    xpath_is(doc, "/e:elmo/e:report/e:issuer/e:country", "LT");
    xpath_is(doc, "/e:elmo/e:report/e:issuer/e:title", "Vilnius <University>");
    xmlFreeDoc(doc);
    free(text);

    /* no title at all: the home course stands in */
    t.title = NULL;
    text = elmo_ok(&learner, &home, &t, 1);
    doc = elmo_valid(text);
    xpath_is(doc, LOS "/e:title", "DS101 Data & Society");
    xmlFreeDoc(doc);
    free(text);
    t.course = NULL;
    text = elmo_ok(&learner, &home, &t, 1);
    doc = elmo_valid(text);
    xpath_is(doc, LOS "/e:title", "");
    xmlFreeDoc(doc);
    free(text);
}

/* The validator used here does reject: the same document with a wrong status fails. */
static void test_elmo_validator_rejects(void **state)
{
    char *text = elmo_ok(&learner, &home, &full, 1);
    struct buf bad;
    const char *p = strstr(text, "<status>passed</status>");
    xmlDocPtr doc;
    char msg[512];

    (void)state;
    assert_non_null(p);
    buf_init(&bad);
    buf_append(&bad, text, (size_t)(p - text));
    buf_puts(&bad, "<status>recognised</status>");
    buf_puts(&bad, p + strlen("<status>passed</status>"));
    doc = doc_read(bad.data);
    assert_int_equal(doc_validate(doc, msg), -1);
    assert_non_null(strstr(msg, "status"));
    xmlFreeDoc(doc);
    buf_cleanup(&bad);

    /* and the Europass country list it imports through the catalog was loaded */
    p = strstr(text, "<country>LT</country>");
    assert_non_null(p);
    buf_init(&bad);
    buf_append(&bad, text, (size_t)(p - text));
    buf_puts(&bad, "<country>XX</country>");
    buf_puts(&bad, p + strlen("<country>LT</country>"));
    doc = doc_read(bad.data);
    assert_int_equal(doc_validate(doc, msg), -1);
    assert_non_null(strstr(msg, "XX"));
    xmlFreeDoc(doc);
    buf_cleanup(&bad);
    free(text);
}

static void elmo_fails(const struct rec_home *h, const struct rec_transfer *t, size_t n,
                       const char *generated, const char *path)
{
    struct buf out;
    struct mcx_error err;

    buf_init(&out);
    buf_puts(&out, "kept");
    assert_int_equal(rec_export_elmo(&learner, h, t, n, generated, &out, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    if (strcmp(err.path, path) != 0)
        fail_msg("path '%s', expected '%s' (%s)", err.path, path, err.message);
    assert_string_equal(out.data, "kept");
    assert_int_equal(out.len, 4);
    buf_cleanup(&out);
}

static void test_elmo_refused_values(void **state)
{
    static const char *const bad_times[] = {
        "2027-03-01T10:00:00",
        "2027-03-01 10:00:00Z",
        "2027-03-01t10:00:00z",
        "2027-03-01T24:00:00Z",
        "2027-03-01T10:60:00Z",
        "2027-03-01T10:00:60Z",
        "2027-02-29T10:00:00Z",
        "2027-03-01T10:00:00.Z",
        "2027-03-01T10:00:00+1:00",
        "2027-03-01T10:00:00+15:00",
        "2027-03-01T10:00:00+01:00x",
        "",
        "now",
    };
    static const char *const good_times[] = {
        "2027-03-01T10:00:00Z",
        "2028-02-29T23:59:59.123456+14:00",
        "2027-03-01T00:00:00-05:30",
    };
    struct rec_transfer t[2] = {full, partial};
    const struct rec_home no_id = {.name = "No id"};
    struct buf out;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad_times); i++)
        elmo_fails(&home, t, 2, bad_times[i], "generated");
    elmo_fails(&home, t, 2, NULL, "generated");
    for (size_t i = 0; i < MCX_ARRAY_LEN(good_times); i++) {
        buf_init(&out);
        assert_int_equal(rec_export_elmo(&learner, &home, t, 2, good_times[i], &out, NULL), 0);
        xmlFreeDoc(elmo_valid(out.data));
        buf_cleanup(&out);
    }
    elmo_fails(NULL, t, 2, GENERATED, "home.id");
    elmo_fails(&no_id, t, 2, GENERATED, "home.id");

    t[1].awarded_on = "2026-02-30";
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].awarded_on");
    t[1] = partial;
    t[1].decided_at = "2027-03-02T08:30:00"; /* no time zone */
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].decided_at");
    t[1] = partial;
    t[1].credits = NAN;
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].credits");
    t[1].credits = -1;
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].credits");
    t[1].credits = INFINITY;
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].credits");
    t[1] = partial;
    t[1].original_ects = 1e300;
    t[1].has_original_ects = true;
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].original_ects");
    t[1] = partial;
    t[1].eqf = 9;
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].eqf");
    t[1].eqf = -1;
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].eqf");
    t[1] = partial;
    t[1].outcome = "needs_review";
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].outcome");
    t[1].outcome = NULL;
    elmo_fails(&home, t, 2, GENERATED, "transfers[1].outcome");

    /* a refused transfer is not written, so its values are not judged */
    t[1] = refused;
    t[1].awarded_on = "yesterday";
    t[1].credits = NAN;
    t[1].has_credits = true;
    buf_init(&out);
    assert_int_equal(rec_export_elmo(&learner, &home, t, 2, GENERATED, &out, NULL), 0);
    buf_cleanup(&out);

    /* a credit of 0 and a tiny one are fine; the value is written without a tail */
    t[1] = partial;
    t[1].credits = 0.1 + 0.2;
    t[0].credits = 0;
    buf_init(&out);
    assert_int_equal(rec_export_elmo(&learner, &home, t, 2, GENERATED, &out, NULL), 0);
    {
        xmlDocPtr doc = elmo_valid(out.data);
        xpath_is(doc, LOS "[1]" LOI "/e:credit/e:value", "0");
        xpath_is(doc, LOS "[2]" LOI "/e:credit/e:value", "0.3");
        xmlFreeDoc(doc);
    }
    buf_cleanup(&out);
}

/* The exporter's copy of the Europass country list is the schema's, code for code. */
static void test_elmo_countries(void **state)
{
    static const char *const outside[] = {"XK", "TW", "HK", "UK", "EL", "XX", "L", "LTU", ""};
    char path[4096];
    xmlDocPtr list;
    xmlXPathObjectPtr codes;
    int n;

    (void)state;
    snprintf(path, sizeof(path), "%s/samples/ewp/elmo/references/EUROPASS_ISOCountries_V1.1.xsd",
             shared_dir());
    list = xmlReadFile(path, NULL, XML_PARSE_NONET);
    assert_non_null(list);
    codes = xpath(list, "//*[local-name()='simpleType'][@name='countryCode']"
                        "//*[local-name()='enumeration']/@value");
    n = codes->nodesetval != NULL ? codes->nodesetval->nodeNr : 0;
    assert_int_equal(n, 197);
    for (int i = 0; i < n; i++) {
        xmlChar *code = xmlNodeGetContent(codes->nodesetval->nodeTab[i]);
        struct rec_home h = home;
        char *text;
        xmlDocPtr doc;
        h.country = (const char *)code;
        text = elmo_ok(&learner, &h, &full, 1);
        doc = elmo_valid(text);
        xpath_is(doc, "/e:elmo/e:report/e:issuer/e:country", (const char *)code);
        xmlFreeDoc(doc);
        free(text);
        xmlFree(code);
    }
    xmlXPathFreeObject(codes);
    xmlFreeDoc(list);
    for (size_t i = 0; i < MCX_ARRAY_LEN(outside); i++) {
        struct rec_home h = home;
        struct rec_transfer t = full;
        char *text;
        xmlDocPtr doc;
        h.country = outside[i];
        t.issuer_country = outside[i];
        text = elmo_ok(&learner, &h, &t, 1);
        doc = elmo_valid(text);
        xpath_count_is(doc, "//e:country", 0);
        xpath_count_is(doc, "//m:country", 0);
        xmlFreeDoc(doc);
        free(text);
    }
}

/* ---- CSV ---- */

#define HEADER                                                                                     \
    "transfer_id,request_id,student_id,student_email,home_institution,programme,course,"           \
    "outcome,credits,grade,credential_title,issuer,issuer_name,issuer_country,awarded_on,"         \
    "original_grade,original_ects,eqf,isced,offer_id,decided_at\r\n"

static char *csv(const struct rec_learner *l, const struct rec_home *h,
                 const struct rec_transfer *t, size_t n)
{
    struct buf out;

    buf_init(&out);
    rec_export_csv(l, h, t, n, &out);
    return buf_steal(&out, NULL);
}

static void test_csv_header_and_rows(void **state)
{
    const struct rec_transfer t[] = {full, partial, refused};
    char *text;

    (void)state;
    text = csv(&learner, &home, NULL, 0);
    assert_string_equal(text, HEADER);
    free(text);

    text = csv(&learner, &home, t, MCX_ARRAY_LEN(t));
    assert_string_equal(
        text, HEADER
        "t-1,r-1,5d0c6f9e-learner,zygimantas@example.lt,vu.lt,Informatics (BSc),"
        "DS101 Data & Society,recognised,5,9,\"Data Literacy <Advanced> & \"\"Practice\"\"\","
        "uab.cat,Universitat Autònoma de Barcelona,ES,2026-12-10,B,6,6,0613,0b7e0d1c-offer,"
        "2027-03-01T10:00:00Z\r\n"
        "t-2,,5d0c6f9e-learner,zygimantas@example.lt,vu.lt,,,partially_recognised,2.5,,"
        "Machine learning 101,ubt-uni.net,,XK,,,,,,,2027-03-02T08:30:00+02:00\r\n"
        "t-3,,5d0c6f9e-learner,zygimantas@example.lt,vu.lt,,,not_recognised,,,Refused course,,"
        "Somewhere,,,,,,,,2027-03-03T09:00:00Z\r\n");
    free(text);
}

static void test_csv_empty_cells(void **state)
{
    const struct rec_transfer blank = {.credits = NAN, .original_ects = 3};
    struct buf out;

    (void)state;
    /* NULL strings, absent or unwritable numbers, eqf 0, no learner nor home */
    buf_init(&out);
    buf_puts(&out, "before\n");
    rec_export_csv(NULL, NULL, &blank, 1, &out);
    assert_string_equal(out.data, "before\n" HEADER ",,,,,,,,,,,,,,,,,,,,\r\n");
    buf_cleanup(&out);
    {
        struct rec_transfer nan = blank;
        char *text;
        nan.has_credits = true; /* NaN: still empty */
        text = csv(NULL, NULL, &nan, 1);
        assert_string_equal(text, HEADER ",,,,,,,,,,,,,,,,,,,,\r\n");
        free(text);
    }
}

static void test_csv_quoting(void **state)
{
    struct rec_transfer t = {.id = "t"};
    char *text;

    (void)state;
    t.title = "a,b";
    t.grade = "say \"hi\"";
    t.programme = "line one\r\nline two";
    t.course = "lf\nonly";
    t.issuer_name = "Universitat Autònoma, Barcelona";
    t.original_grade = "plain";
    t.isced = "bad\xff"
              "byte";
    text = csv(NULL, NULL, &t, 1);
    assert_string_equal(text, HEADER "t,,,,,\"line one\r\nline two\",\"lf\nonly\",,,"
                                     "\"say \"\"hi\"\"\",\"a,b\",,\"Universitat Autònoma, "
                                     "Barcelona\",,,plain,,,bad\xEF\xBF\xBD"
                                     "byte,,\r\n");
    free(text);
}

static void test_csv_injection(void **state)
{
    struct rec_transfer t = {.outcome = "recognised"};
    struct rec_learner l = {.id = "@me", .email = "+1@example.org"};
    char *text;

    (void)state;
    t.id = "=1+1";
    t.title = "=HYPERLINK(\"http://x\",\"y\")";
    t.grade = "-";
    t.course = "+A";
    t.issuer_name = "\tTab";
    t.original_grade = "A-"; /* only the first character matters */
    t.credits = -2;          /* our own number: no prefix */
    t.has_credits = true;
    text = csv(&l, NULL, &t, 1);
    assert_string_equal(text, HEADER "'=1+1,,'@me,'+1@example.org,,,'+A,recognised,-2,'-,"
                                     "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",,'\tTab,,,"
                                     "A-,,,,,\r\n");
    free(text);
}

static void test_csv_numbers(void **state)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {5, "5"},
        {2.5, "2.5"},
        {0.1 + 0.2, "0.3"},
        {7.25, "7.25"},
        {0, "0"},
        {-0.0, "0"},
        {1e-9, "0"},
        {120, "120"},
        {1.0 / 3, "0.333333"},
        {1e14, "100000000000000"},
        {1e15, ""},
        {NAN, ""},
        {-INFINITY, ""},
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct rec_transfer t = {.credits = cases[i].v,
                                 .has_credits = true,
                                 .original_ects = cases[i].v,
                                 .has_original_ects = true,
                                 .eqf = 7};
        struct buf want;
        char *text = csv(NULL, NULL, &t, 1);
        buf_init(&want);
        buf_printf(&want, HEADER ",,,,,,,,%s,,,,,,,,%s,7,,,\r\n", cases[i].want, cases[i].want);
        if (strcmp(text, want.data) != 0)
            fail_msg("%g: got\n%s\nexpected\n%s", cases[i].v, text, want.data);
        buf_cleanup(&want);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elmo_empty),
        cmocka_unit_test(test_elmo_one),
        cmocka_unit_test(test_elmo_three),
        cmocka_unit_test(test_elmo_hostile_text),
        cmocka_unit_test(test_elmo_validator_rejects),
        cmocka_unit_test(test_elmo_refused_values),
        cmocka_unit_test(test_elmo_countries),
        cmocka_unit_test(test_csv_header_and_rows),
        cmocka_unit_test(test_csv_empty_cells),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_csv_injection),
        cmocka_unit_test(test_csv_numbers),
    };

    return cmocka_run_group_tests(tests, schema_setup, schema_teardown);
}
