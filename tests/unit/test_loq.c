/*
 * test_loq.c — the LOQ codec (catalogue/loq.h): every shared sample parses,
 * exports to a document that validates (our schemas and xmllint) and parses
 * back to equal offers, in 3.1.0 and 3.3.1; hostile input (DTDs, entity
 * bombs, bad UTF-8, deep nesting, oversize) is refused; schema errors are
 * charged to the offers they concern, with line and path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalogue/loq.h"
#include "catalogue/offer.h"
#include "server/util.h"

#define SCHEMA_DIR MCX_SOURCE_DIR "/schemas/loq"

static struct loq_schemas *schemas;

/* ---- helpers ---- */

static const char *shared_dir(void)
{
    const char *env = getenv("MCX_SHARED_DIR");

    return env != NULL && env[0] != '\0' ? env : MCX_SOURCE_DIR "/../shared";
}

static char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[65536];
    size_t n;

    if (f == NULL)
        return NULL;
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b, len);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sample documents (the .xml files in examples/), sorted, as full paths. */
static size_t samples_list(char ***out)
{
    char dir[1024];
    DIR *d;
    struct dirent *e;
    char **v = NULL;
    size_t n = 0;

    snprintf(dir, sizeof(dir), "%s/samples/elm/loq/examples", shared_dir());
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[2048];
        if (len < 5 || strcmp(e->d_name + len - 4, ".xml") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        v = xrealloc(v, (n + 1) * sizeof(*v));
        v[n++] = xstrdup(path);
    }
    closedir(d);
    qsort(v, n, sizeof(*v), name_cmp);
    *out = v;
    return n;
}

static void samples_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Every occurrence of from replaced by to. */
static char *replace_all(const char *s, const char *from, const char *to)
{
    struct buf b;
    const char *p;
    size_t flen = strlen(from);

    buf_init(&b);
    while ((p = strstr(s, from)) != NULL) {
        buf_append(&b, s, (size_t)(p - s));
        buf_puts(&b, to);
        s = p + flen;
    }
    buf_puts(&b, s);
    return buf_steal(&b, NULL);
}

/* The README's sed: a 3.1.0 document re-namespaced to 3.3.1. */
static char *renamespace_331(const char *doc)
{
    char *a = replace_all(doc, "/snb/model/ap/loq-constraints/",
                          "/snb/model/application-profile/loq-constraints/");
    char *b = replace_all(a, "xsdVersion=\"3.1.0\"", "xsdVersion=\"3.3.1\"");

    free(a);
    return b;
}

static void doc_assert_all_ok(const struct loq_doc *doc, const char *what)
{
    if (doc->nerrors > 0)
        fail_msg("%s: document error at line %d %s: %s", what, doc->errors[0].line,
                 doc->errors[0].path, doc->errors[0].message);
    for (size_t i = 0; i < doc->nitems; i++) {
        const struct loq_item *it = &doc->items[i];
        if (!it->ok)
            fail_msg("%s: item %zu failed: line %d %s: %s", what, i,
                     it->nerrors_kept ? it->errors[0].line : 0,
                     it->nerrors_kept ? it->errors[0].path : "",
                     it->nerrors_kept ? it->errors[0].message : "(no message)");
    }
}

static void docs_assert_equal(const struct loq_doc *a, const struct loq_doc *b, const char *what)
{
    assert_int_equal(a->nitems, b->nitems);
    for (size_t i = 0; i < a->nitems; i++) {
        const char *field = NULL;
        if (!offer_equal(&a->items[i].offer, &b->items[i].offer, &field))
            fail_msg("%s: offer %zu differs in %s", what, i, field ? field : "?");
    }
}

static void export_doc(const struct loq_doc *doc, int version, struct buf *out)
{
    const struct offer **v = xcalloc(doc->nitems + 1, sizeof(*v));

    for (size_t i = 0; i < doc->nitems; i++)
        v[i] = &doc->items[i].offer;
    buf_init(out);
    assert_int_equal(loq_export(v, doc->nitems, version, out), 0);
    free(v);
}

static bool xmllint_available(void)
{
    return access("/usr/bin/xmllint", X_OK) == 0;
}

/* Runs xmllint --nonet --schema over the bytes; returns its exit status. */
static int xmllint_validate(const char *data, size_t len, const char *xsd)
{
    char path[] = "/tmp/test_loq_XXXXXX";
    char cmd[4096];
    int fd = mkstemp(path);
    int rc;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/xmllint --nonet --noout --schema '%s/%s' '%s' >/dev/null 2>&1", SCHEMA_DIR,
             xsd, path);
    rc = system(cmd);
    unlink(path);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void parse_ok(const char *data, size_t len, struct loq_doc *doc, const char *what)
{
    struct mcx_error err;

    if (loq_parse(schemas, data, len, doc, &err) != 0)
        fail_msg("%s: %s (line %d): %s", what, err.code, err.line, err.message);
}

static void parse_fails(const char *data, size_t len, const char *code, struct mcx_error *err)
{
    struct loq_doc doc;

    assert_int_equal(loq_parse(schemas, data, len, &doc, err), -1);
    assert_string_equal(err->code, code);
    assert_int_equal(doc.nitems, 0);
    assert_null(doc.items);
}

/* A synthetic offer with every field set. */
static void offer_fill(struct offer *o, int i)
{
    char s[128];

    offer_init(o);
    snprintf(s, sizeof(s), "LO-2026-%d", i);
    o->external_id = xstrdup(s);
    snprintf(s, sizeof(s), "https://vdu.lt/courses/%d", i);
    o->source_id = xstrdup(s);
    snprintf(s, sizeof(s), "Data literacy %d", i);
    lang_map_add(&o->title, "en", s);
    lang_map_add(&o->title, "lt", "Duomenų raštingumas");
    lang_map_add(&o->description, "en", "Reading & <writing> data \"well\"");
    o->homepage = xstrdup("https://vdu.lt/data-literacy?lang=en&x=1");
    o->languages = xcalloc(2, sizeof(char *));
    o->languages[o->nlanguages++] = xstrdup("en");
    o->languages[o->nlanguages++] = xstrdup("lt");
    o->isced = xcalloc(2, sizeof(char *));
    o->isced[o->nisced++] = xstrdup("0688");
    o->isced[o->nisced++] = xstrdup("0613");
    o->eqf = 6;
    o->has_ects = true;
    o->ects = 3.5;
    o->mode = OFFER_MODE_ONLINE;
    memcpy(o->starts, "2026-02-01", 11);
    memcpy(o->ends, "2026-04-30", 11);
    memcpy(o->application_deadline, "2026-01-15", 11);
    o->has_price = true;
    o->price_amount = 120.5;
    memcpy(o->currency, "EUR", 4);
    o->learning_outcomes = xcalloc(2, sizeof(*o->learning_outcomes));
    lang_map_add(&o->learning_outcomes[0], "en", "Reads charts critically");
    lang_map_add(&o->learning_outcomes[0], "lt", "Kritiškai skaito diagramas");
    lang_map_add(&o->learning_outcomes[1], "en", "Cleans a data set");
    o->noutcomes = 2;
    lang_map_add(&o->assessment, "en", "Written examination and project");
    lang_map_add(&o->quality_assurance, "en", "Programme accredited by SKVC");
    lang_map_add(&o->quality_assurance, "lt", "Akredituota SKVC");
    lang_map_add(&o->entry_requirements, "en", "Basic statistics");
    lang_map_add(&o->entry_requirements, "lt", "Statistikos pagrindai");
    o->volume_of_learning = xstrdup("PT90H");
    o->provider_id = xstrdup("https://vdu.lt");
    lang_map_add(&o->provider_name, "en", "Vytautas Magnus University");
    lang_map_add(&o->provider_name, "lt", "Vytauto Didžiojo universitetas");
    memcpy(o->provider_country, "LT", 3);
    o->provider_homepage = xstrdup("https://www.vdu.lt/en/");
}

/* Synthetic offers -> a LOQ document. */
static char *synthetic_doc(int n, int version, size_t *len)
{
    struct offer *offers = xcalloc((size_t)n, sizeof(*offers));
    const struct offer **v = xcalloc((size_t)n, sizeof(*v));
    struct buf b;

    for (int i = 0; i < n; i++) {
        offer_fill(&offers[i], i + 1);
        v[i] = &offers[i];
    }
    buf_init(&b);
    assert_int_equal(loq_export(v, (size_t)n, version, &b), 0);
    for (int i = 0; i < n; i++)
        offer_cleanup(&offers[i]);
    free(offers);
    free(v);
    return buf_steal(&b, len);
}

/*
 * The n-th (1-based) occurrence of needle, by one forward scan (ASan's strstr
 * measures the whole haystack on every call: quadratic on big documents).
 */
static const char *find_nth(const char *doc, const char *needle, int nth)
{
    size_t nlen = strlen(needle);

    for (const char *p = doc; *p != '\0'; p++)
        if (*p == needle[0] && strncmp(p, needle, nlen) == 0 && --nth == 0)
            return p;
    return NULL;
}

/* Replaces the n-th (1-based) occurrence of from by to. */
static char *replace_nth(const char *doc, const char *from, int nth, const char *to)
{
    const char *p = find_nth(doc, from, nth);
    struct buf b;

    assert_non_null(p);
    buf_init(&b);
    buf_append(&b, doc, (size_t)(p - doc));
    buf_puts(&b, to);
    buf_puts(&b, p + strlen(from));
    return buf_steal(&b, NULL);
}

static bool errors_mention(const struct loq_item *it, const char *needle)
{
    for (size_t i = 0; i < it->nerrors_kept; i++)
        if (strstr(it->errors[i].message, needle) != NULL ||
            strstr(it->errors[i].path, needle) != NULL)
            return true;
    return false;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    struct mcx_error err;

    (void)state;
    schemas = loq_schemas_load(SCHEMA_DIR, &err);
    if (schemas == NULL) {
        fprintf(stderr, "loq_schemas_load: %s: %s\n", err.code, err.message);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    loq_schemas_free(schemas);
    return 0;
}

/* ---- schemas ---- */

static void test_schemas_load_missing_dir(void **state)
{
    struct mcx_error err;

    (void)state;
    assert_null(loq_schemas_load("/nonexistent/loq", &err));
    assert_string_equal(err.code, "schema_load_failed");
    loq_schemas_free(NULL); /* no-op */
}

/* ---- the samples ---- */

static void roundtrip_one(const char *path, const char *data, size_t len)
{
    struct loq_doc first, second, third, ns331;
    struct buf out310, out331;
    char *doc331;

    parse_ok(data, len, &first, path);
    assert_int_equal(first.version, LOQ_VERSION_310);
    assert_true(first.nitems > 0);
    doc_assert_all_ok(&first, path);
    for (size_t i = 0; i < first.nitems; i++) {
        assert_int_equal(first.items[i].index, (int)i);
        assert_true(first.items[i].line > 0);
        assert_non_null(first.items[i].offer.external_id);
        assert_string_equal(first.items[i].external_id, first.items[i].offer.external_id);
        assert_true(first.items[i].offer.title.n > 0);
    }

    /* 3.1.0 export: valid (ours and xmllint), parses back to equal offers */
    export_doc(&first, LOQ_VERSION_310, &out310);
    parse_ok(out310.data, out310.len, &second, "export 3.1.0");
    assert_int_equal(second.version, LOQ_VERSION_310);
    doc_assert_all_ok(&second, "export 3.1.0");
    docs_assert_equal(&first, &second, "3.1.0 round trip");
    if (xmllint_available())
        assert_int_equal(xmllint_validate(out310.data, out310.len, "loq.xsd"), 0);

    /* 3.3.1 export likewise */
    export_doc(&first, LOQ_VERSION_331, &out331);
    assert_non_null(strstr(out331.data, LOQ_NS_331));
    parse_ok(out331.data, out331.len, &third, "export 3.3.1");
    assert_int_equal(third.version, LOQ_VERSION_331);
    doc_assert_all_ok(&third, "export 3.3.1");
    docs_assert_equal(&first, &third, "3.3.1 round trip");
    if (xmllint_available())
        assert_int_equal(xmllint_validate(out331.data, out331.len, "loq-3.3.1.xsd"), 0);

    /* the sample itself re-namespaced to 3.3.1 (README's sed, in C) */
    doc331 = renamespace_331(data);
    parse_ok(doc331, strlen(doc331), &ns331, "sample as 3.3.1");
    assert_int_equal(ns331.version, LOQ_VERSION_331);
    doc_assert_all_ok(&ns331, "sample as 3.3.1");
    docs_assert_equal(&first, &ns331, "3.1.0 vs 3.3.1 sample");

    free(doc331);
    buf_cleanup(&out310);
    buf_cleanup(&out331);
    loq_doc_cleanup(&first);
    loq_doc_cleanup(&second);
    loq_doc_cleanup(&third);
    loq_doc_cleanup(&ns331);
}

static void test_samples_roundtrip(void **state)
{
    char **paths;
    size_t n = samples_list(&paths);

    (void)state;
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *data = file_read(paths[i], &len);
        assert_non_null(data);
        roundtrip_one(paths[i], data, len);
        free(data);
    }
    samples_free(paths, n);
}

/* What the samples say, read by hand from the files. */
static void test_sample_values(void **state)
{
    char path[1024];
    size_t len;
    char *data;
    struct loq_doc doc;
    const struct offer *o;

    (void)state;
    snprintf(path, sizeof(path), "%s/samples/elm/loq/examples/loq.xml", shared_dir());
    data = file_read(path, &len);
    assert_non_null(data);
    parse_ok(data, len, &doc, path);
    assert_int_equal(doc.nitems, 2);
    o = &doc.items[0].offer;
    assert_string_equal(o->source_id, "http://LOP-01");
    assert_string_equal(o->external_id, "p7B.BM"); /* first identifier's notation */
    assert_string_equal(lang_map_get(&o->title, "en"), "Yopx");
    assert_string_equal(o->homepage, "http://www.example.com");
    assert_string_equal(o->starts, "2024-10-17"); /* 2024-10-17T10:51:20Z */
    assert_string_equal(o->ends, "2023-11-01");
    assert_string_equal(o->application_deadline, "2024-09-27"); /* no Z */
    assert_string_equal(o->provider_id, "http://ORG-01");
    assert_string_equal(lang_map_get(&o->provider_name, "en"), "HB-QzqZddn66D_SBl3gVv20WiJ");
    assert_true(o->nisced >= 1);
    assert_string_equal(o->isced[0], "1022");
    assert_int_equal(o->eqf, 2);
    assert_false(o->has_ects); /* point "S91ZbAwnQrf" is not a number */
    assert_string_equal(o->volume_of_learning, "P7Y8M2DT1H10M0S");
    assert_true(o->noutcomes > 0);
    assert_true(o->assessment.n > 0);         /* provenBy -> learningAssessmentSpecification */
    assert_true(o->quality_assurance.n > 0);  /* qualification -> accreditation */
    assert_true(o->entry_requirements.n > 0); /* entryRequirement */
    assert_true(o->nlanguages > 0);
    assert_string_equal(doc.items[0].external_id, "p7B.BM");
    loq_doc_cleanup(&doc);
    free(data);
}

/* ---- synthetic offers: every field survives ---- */

static void test_synthetic_roundtrip(void **state)
{
    struct offer want;
    int versions[] = {LOQ_VERSION_310, LOQ_VERSION_331};

    (void)state;
    offer_fill(&want, 1);
    for (size_t v = 0; v < 2; v++) {
        size_t len;
        char *data = synthetic_doc(1, versions[v], &len);
        struct loq_doc doc;
        const char *field = NULL;

        parse_ok(data, len, &doc, "synthetic");
        doc_assert_all_ok(&doc, "synthetic");
        assert_int_equal(doc.nitems, 1);
        if (!offer_equal(&want, &doc.items[0].offer, &field))
            fail_msg("version %d: differs in %s", versions[v], field);
        assert_non_null(strstr(data, "<qualification ")); /* eqf 6 and LT: a qualification */
        if (xmllint_available())
            assert_int_equal(
                xmllint_validate(data, len,
                                 versions[v] == LOQ_VERSION_310 ? "loq.xsd" : "loq-3.3.1.xsd"),
                0);
        loq_doc_cleanup(&doc);
        free(data);
    }
    offer_cleanup(&want);
}

/* An offer with nothing but an id still exports to a valid document. */
static void test_export_empty_offer(void **state)
{
    struct offer o;
    const struct offer *v[1] = {&o};
    struct buf b;
    struct loq_doc doc;
    const char *field = NULL;

    (void)state;
    offer_init(&o);
    o.external_id = xstrdup("bare");
    buf_init(&b);
    assert_int_equal(loq_export(v, 1, 0, &b), 0);
    parse_ok(b.data, b.len, &doc, "empty offer");
    doc_assert_all_ok(&doc, "empty offer");
    assert_int_equal(doc.nitems, 1);
    if (xmllint_available())
        assert_int_equal(xmllint_validate(b.data, b.len, "loq.xsd"), 0);
    /* ids the export had to make up come back; everything else is still empty */
    assert_string_equal(doc.items[0].offer.source_id, "urn:mcx:lo:bare");
    assert_non_null(doc.items[0].offer.provider_id);
    free(o.source_id);
    o.source_id = xstrdup(doc.items[0].offer.source_id);
    o.provider_id = xstrdup(doc.items[0].offer.provider_id);
    if (!offer_equal(&o, &doc.items[0].offer, &field))
        fail_msg("differs in %s", field);
    offer_cleanup(&o);
    loq_doc_cleanup(&doc);
    buf_cleanup(&b);

    assert_int_equal(loq_export(v, 0, 999, &b), -1); /* unknown version */
    buf_cleanup(&b);
}

/* Hostile text in the offers: the export is still well-formed and valid. */
static void test_export_hostile_text(void **state)
{
    struct offer o;
    const struct offer *v[2] = {&o, &o}; /* the same offer twice: ids must not clash */
    struct buf b;
    struct loq_doc doc;

    (void)state;
    offer_fill(&o, 7);
    lang_map_add(&o.description, "lt", "bad \x01 control, bad \xff utf-8, ]]> <!-- & \r\n end");
    lang_map_add(&o.title, "x\"<>&", "odd language tag");
    free(o.homepage);
    o.homepage = xstrdup("http://[not a uri");
    free(o.volume_of_learning);
    o.volume_of_learning = xstrdup("ninety hours");
    memcpy(o.starts, "2026-02-30", 11); /* no such day */
    memcpy(o.currency, "ZZZ", 4);
    free(o.isced[0]);
    o.isced[0] = xstrdup("12345");
    buf_init(&b);
    assert_int_equal(loq_export(v, 2, LOQ_VERSION_310, &b), 0);
    parse_ok(b.data, b.len, &doc, "hostile text");
    doc_assert_all_ok(&doc, "hostile text");
    assert_int_equal(doc.nitems, 2);
    assert_string_not_equal(doc.items[0].offer.source_id, doc.items[1].offer.source_id);
    assert_string_equal(doc.items[0].offer.starts, "");
    assert_null(doc.items[0].offer.homepage);
    assert_int_equal(doc.items[0].offer.nisced, 1);
    assert_string_equal(doc.items[0].offer.currency, "");
    assert_true(doc.items[0].offer.has_price);
    /* both offers share one provider organisation */
    assert_string_equal(doc.items[0].offer.provider_id, doc.items[1].offer.provider_id);
    if (xmllint_available())
        assert_int_equal(xmllint_validate(b.data, b.len, "loq.xsd"), 0);
    loq_doc_cleanup(&doc);
    buf_cleanup(&b);
    offer_cleanup(&o);
}

/* ISO 639-1 <-> EU authority codes; codes without a 639-1 form stay 3-letter. */
static void test_language_mapping(void **state)
{
    struct offer o;
    const struct offer *v[1] = {&o};
    const char *langs[] = {"en", "lt", "de", "hai", "fr"};
    struct buf b;
    struct loq_doc doc;

    (void)state;
    offer_fill(&o, 1);
    for (size_t i = 0; i < o.nlanguages; i++)
        free(o.languages[i]);
    free(o.languages);
    o.languages = xcalloc(5, sizeof(char *));
    for (size_t i = 0; i < 5; i++)
        o.languages[i] = xstrdup(langs[i]);
    o.nlanguages = 5;
    buf_init(&b);
    assert_int_equal(loq_export(v, 1, 0, &b), 0);
    assert_non_null(strstr(b.data, "/language/ENG\""));
    assert_non_null(strstr(b.data, "/language/LIT\""));
    assert_non_null(strstr(b.data, "/language/DEU\""));
    assert_non_null(strstr(b.data, "/language/HAI\""));
    assert_non_null(strstr(b.data, "/language/FRA\""));
    parse_ok(b.data, b.len, &doc, "languages");
    doc_assert_all_ok(&doc, "languages");
    assert_int_equal(doc.items[0].offer.nlanguages, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(doc.items[0].offer.languages[i], langs[i]);
    loq_doc_cleanup(&doc);
    buf_cleanup(&b);
    offer_cleanup(&o);
}

/* Without a national framework the EQF level rides on a plain specification. */
static void test_export_eqf_without_nqf(void **state)
{
    struct offer o;
    const struct offer *v[1] = {&o};
    struct buf b;
    struct loq_doc doc;

    (void)state;
    offer_fill(&o, 1);
    memcpy(o.provider_country, "BE", 3);
    buf_init(&b);
    assert_int_equal(loq_export(v, 1, 0, &b), 0);
    assert_null(strstr(b.data, "<qualification "));
    assert_non_null(strstr(b.data, "<educationLevel uri=\"http://data.europa.eu/snb/eqf/6\"/>"));
    parse_ok(b.data, b.len, &doc, "eqf without nqf");
    doc_assert_all_ok(&doc, "eqf without nqf");
    assert_int_equal(doc.items[0].offer.eqf, 6);
    assert_string_equal(doc.items[0].offer.provider_country, "BE");
    loq_doc_cleanup(&doc);
    buf_cleanup(&b);
    offer_cleanup(&o);
}

/* ---- hostile and broken input ---- */

static void test_malformed(void **state)
{
    struct mcx_error err;
    const char *doc = "<?xml version=\"1.0\"?>\n<Courses xmlns=\"" LOQ_NS_310 "\">\n"
                      "  <learningOpportunityReferences>\n</Courses>\n";

    (void)state;
    parse_fails(doc, strlen(doc), "malformed_xml", &err);
    assert_true(err.line >= 3);
    parse_fails("", 0, "malformed_xml", &err);
    parse_fails("just text", 9, "malformed_xml", &err);
    parse_fails("<a xmlns:x='u'><y:b/></a>", 25, "malformed_xml", &err); /* undeclared prefix */
}

static void test_unsupported_root(void **state)
{
    struct mcx_error err;
    const char *other = "<Courses xmlns=\"http://example.org/other\"/>";
    const char *no_ns = "<Courses/>";
    const char *wrong = "<Course xmlns=\"" LOQ_NS_310 "\"/>";
    const char *empty = "<Courses xmlns=\"" LOQ_NS_331 "\"/>";
    struct loq_doc doc;

    (void)state;
    parse_fails(other, strlen(other), "unsupported_document", &err);
    parse_fails(no_ns, strlen(no_ns), "unsupported_document", &err);
    parse_fails(wrong, strlen(wrong), "unsupported_document", &err);
    parse_ok(empty, strlen(empty), &doc, "empty Courses");
    assert_int_equal(doc.version, LOQ_VERSION_331);
    assert_int_equal(doc.nitems, 0);
    assert_int_equal(doc.nerrors, 0);
    loq_doc_cleanup(&doc);
}

static void test_xxe_refused(void **state)
{
    struct mcx_error err;
    const char *docs[] = {
        "<?xml version=\"1.0\"?>\n<!DOCTYPE Courses [\n"
        "  <!ENTITY x SYSTEM \"file:///etc/passwd\">\n]>\n"
        "<Courses xmlns=\"" LOQ_NS_310 "\"><learningOpportunityReferences>"
        "<learningOpportunity id=\"a\"><title language=\"en\">&x;</title></learningOpportunity>"
        "</learningOpportunityReferences></Courses>",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE Courses SYSTEM \"file:///etc/passwd\">\n"
        "<Courses xmlns=\"" LOQ_NS_310 "\"/>",
        "<!DOCTYPE Courses [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> %p;]>"
        "<Courses xmlns=\"" LOQ_NS_310 "\"/>",
        "<!DOCTYPE Courses><Courses xmlns=\"" LOQ_NS_310 "\"/>",
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(docs); i++) {
        parse_fails(docs[i], strlen(docs[i]), "malformed_xml", &err);
        assert_non_null(strstr(err.message, "DOCTYPE"));
        assert_null(strstr(err.message, "root:"));
        assert_null(strstr(err.path, "root:"));
    }
}

static void test_billion_laughs(void **state)
{
    struct mcx_error err;
    struct buf b;
    clock_t t0 = clock();

    (void)state;
    buf_init(&b);
    buf_puts(&b, "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    buf_puts(&b, " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for (int i = 2; i <= 9; i++)
        buf_printf(&b,
                   " <!ENTITY lol%d \"&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;"
                   "&lol%d;&lol%d;\">\n",
                   i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    buf_puts(&b, "]>\n<Courses xmlns=\"" LOQ_NS_310 "\"><learningOpportunityReferences>"
                 "<learningOpportunity id=\"a\"><title language=\"en\">&lol9;</title>"
                 "</learningOpportunity></learningOpportunityReferences></Courses>\n");
    parse_fails(b.data, b.len, "malformed_xml", &err);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    buf_cleanup(&b);
}

static void test_invalid_utf8(void **state)
{
    struct mcx_error err;
    const char *docs[] = {
        "<Courses xmlns=\"" LOQ_NS_310 "\"><x>\xc3\x28</x></Courses>",     /* bad continuation */
        "<Courses xmlns=\"" LOQ_NS_310 "\"><x>\xed\xa0\x80</x></Courses>", /* surrogate */
        "<Courses xmlns=\"" LOQ_NS_310 "\"><x a=\"\xff\"/></Courses>",     /* in an attribute */
        "<Courses xmlns=\"" LOQ_NS_310 "\"><x>\xc0\xaf</x></Courses>",     /* overlong */
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(docs); i++)
        parse_fails(docs[i], strlen(docs[i]), "malformed_xml", &err);
}

static void test_depth_bomb(void **state)
{
    struct mcx_error err;
    struct buf b;
    struct loq_limits lim = {.max_bytes = 0, .max_depth = 8};
    struct loq_doc doc;

    (void)state;
    /* past our limit but within libxml2's own */
    buf_init(&b);
    buf_puts(&b, "<Courses xmlns=\"" LOQ_NS_310 "\">");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "<a>");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "</a>");
    buf_puts(&b, "</Courses>");
    parse_fails(b.data, b.len, "malformed_xml", &err);
    assert_non_null(strstr(err.message, "deeper"));
    buf_cleanup(&b);

    /* a million levels, unterminated */
    buf_init(&b);
    buf_puts(&b, "<Courses xmlns=\"" LOQ_NS_310 "\">");
    for (int i = 0; i < 1000000; i++)
        buf_puts(&b, "<a>");
    parse_fails(b.data, b.len, "malformed_xml", &err);
    buf_cleanup(&b);

    /* a configured limit */
    {
        const char *d = "<Courses xmlns=\"" LOQ_NS_310 "\"><a><b><c><d><e><f><g><h/></g></f>"
                        "</e></d></c></b></a></Courses>";
        assert_int_equal(loq_parse_limited(schemas, d, strlen(d), &lim, &doc, &err), -1);
        assert_string_equal(err.code, "malformed_xml");
    }
}

static void test_too_large(void **state)
{
    struct mcx_error err;
    struct loq_limits lim = {.max_bytes = 16, .max_depth = 0};
    struct loq_doc doc;
    const char *d = "<Courses xmlns=\"" LOQ_NS_310 "\"/>";

    (void)state;
    assert_int_equal(loq_parse_limited(schemas, d, strlen(d), &lim, &doc, &err), -1);
    assert_string_equal(err.code, "too_large");
}

/* ---- schema errors are charged to the offers they concern ---- */

static void test_one_bad_offer(void **state)
{
    size_t len;
    char *good = synthetic_doc(3, LOQ_VERSION_310, &len);
    /* an element the schema does not know, inside the second opportunity */
    char *bad = replace_nth(good, "<description language=\"en\">", 2,
                            "<bogus/><description language=\"en\">");
    struct loq_doc doc;
    const struct loq_item *it;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "one bad offer");
    assert_int_equal(doc.nitems, 3);
    assert_int_equal(doc.nerrors, 0);
    assert_true(doc.items[0].ok);
    assert_true(doc.items[2].ok);
    it = &doc.items[1];
    assert_false(it->ok);
    assert_int_equal(it->index, 1);
    assert_string_equal(it->external_id, "LO-2026-2");
    assert_true(it->nerrors >= 1);
    assert_true(it->errors[0].line > 0);
    assert_string_equal(it->errors[0].path,
                        "/Courses/learningOpportunityReferences/learningOpportunity[2]/bogus");
    assert_non_null(strstr(it->errors[0].message, "bogus"));
    assert_null(strstr(it->errors[0].message, "{http")); /* namespace noise removed */
    loq_doc_cleanup(&doc);
    free(bad);
    free(good);
}

/* A value outside a vocabulary: an attribute error with its path. */
static void test_bad_vocabulary_value(void **state)
{
    size_t len;
    char *good = synthetic_doc(3, LOQ_VERSION_310, &len);
    char *bad = replace_nth(good, "/snb/learning-assessment/920fbb3cbe", 3,
                            "/snb/learning-assessment/nonsense");
    struct loq_doc doc;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "bad mode");
    assert_true(doc.items[0].ok);
    assert_true(doc.items[1].ok);
    assert_false(doc.items[2].ok);
    assert_string_equal(doc.items[2].errors[0].path,
                        "/Courses/learningOpportunityReferences/learningOpportunity[3]/mode/@uri");
    loq_doc_cleanup(&doc);
    free(bad);
    free(good);
}

/* A dangling idref (keyref error, reported by libxml2 without a node). */
static void test_dangling_reference(void **state)
{
    size_t len;
    char *good = synthetic_doc(3, LOQ_VERSION_310, &len);
    char *bad = replace_nth(good, "<providedBy idref=\"https://vdu.lt\"/>", 2,
                            "<providedBy idref=\"https://nowhere.example\"/>");
    struct loq_doc doc;
    const struct loq_item *it;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "dangling providedBy");
    assert_true(doc.items[0].ok);
    assert_true(doc.items[2].ok);
    it = &doc.items[1];
    assert_false(it->ok);
    assert_true(errors_mention(it, "nowhere.example"));
    assert_string_equal(it->errors[0].path,
                        "/Courses/learningOpportunityReferences/learningOpportunity[2]/providedBy");
    assert_true(it->errors[0].line > 0);
    loq_doc_cleanup(&doc);
    free(bad);
    free(good);
}

/* An error in the shared organisation fails every offer it provides. */
static void test_shared_entity_error(void **state)
{
    size_t len;
    char *good = synthetic_doc(3, LOQ_VERSION_310, &len);
    char *bad =
        replace_nth(good, "<legalName language=\"en\">", 1, "<bogus/><legalName language=\"en\">");
    struct loq_doc doc;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "bad organisation");
    assert_int_equal(doc.nerrors, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_false(doc.items[i].ok);
        assert_non_null(strstr(doc.items[i].errors[0].path, "/agentReferences/organisation[1]"));
        assert_true(errors_mention(&doc.items[i], "https://vdu.lt"));
    }
    loq_doc_cleanup(&doc);
    free(bad);
    free(good);
}

/* An error no offer can own (the root) fails the whole document. */
static void test_document_error(void **state)
{
    size_t len;
    char *good = synthetic_doc(2, LOQ_VERSION_310, &len);
    char *bad = replace_nth(good, "xsdVersion=\"3.1.0\"", 1, "xsdVersion=\"9.9.9\"");
    struct loq_doc doc;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "bad root attribute");
    assert_true(doc.nerrors >= 1);
    assert_string_equal(doc.errors[0].path, "/Courses/@xsdVersion");
    for (size_t i = 0; i < doc.nitems; i++) {
        assert_false(doc.items[i].ok);
        assert_true(doc.items[i].nerrors >= 1);
    }
    loq_doc_cleanup(&doc);
    free(bad);
    free(good);
}

/* Lines past 65535 (libxml2 caps its own count there) still point right. */
static void test_big_document_lines(void **state)
{
    size_t len;
    int n = 2700;
    char *good = synthetic_doc(n, LOQ_VERSION_310, &len);
    char *bad = replace_nth(good, "<description language=\"en\">", n - 1,
                            "<bogus/><description language=\"en\">");
    char *bad2 = replace_nth(bad, "<learningAchievementSpecification idref=\"urn:mcx:spec:", n,
                             "<learningAchievementSpecification idref=\"urn:mcx:missing:");
    struct loq_doc doc;
    clock_t t0 = clock();
    const struct loq_item *it;

    (void)state;
    parse_ok(bad2, strlen(bad2), &doc, "big document");
    fprintf(stderr, "# %d offers, %zu bytes: parsed in %.2f s\n", n, strlen(bad2),
            (double)(clock() - t0) / CLOCKS_PER_SEC);
    assert_int_equal(doc.nitems, (size_t)n);
    for (int i = 0; i < n - 2; i++)
        assert_true(doc.items[i].ok);
    it = &doc.items[n - 2];
    assert_false(it->ok);
    assert_true(it->line > 65535);
    assert_true(it->errors[0].line > it->line);
    it = &doc.items[n - 1];
    assert_false(it->ok);
    assert_true(it->errors[0].line > 65535);
    assert_true(errors_mention(it, "urn:mcx:missing:"));
    loq_doc_cleanup(&doc);
    free(bad2);
    free(bad);
    free(good);
}

/* A code outside a big vocabulary: our own check, same attribution. */
static void test_bad_language_code(void **state)
{
    size_t len;
    char *good = synthetic_doc(3, LOQ_VERSION_310, &len);
    char *bad = replace_nth(good, "/language/LIT\"/>", 2, "/language/QQQ\"/>");
    struct loq_doc doc;
    const struct loq_item *it;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "bad language code");
    assert_true(doc.items[0].ok);
    assert_true(doc.items[2].ok);
    it = &doc.items[1];
    assert_false(it->ok);
    assert_true(errors_mention(it, "language vocabulary"));
    assert_true(errors_mention(it, "/language/QQQ"));
    assert_non_null(strstr(it->errors[0].path,
                           "/learningAchievementSpecificationReferences/qualification[2]/"
                           "language[2]/@uri"));
    /* the other offers' codes were put back after validation */
    assert_string_equal(doc.items[2].offer.languages[1], "lt");
    loq_doc_cleanup(&doc);
    free(bad);
    free(good);
}

/*
 * Costs that grow with bad input stay linear: thousands of codes outside a
 * vocabulary (libxml2 alone spends ~50 ms formatting each) and thousands of
 * dangling references with the same value.
 */
static void test_hostile_error_volume(void **state)
{
    size_t len;
    char *good = synthetic_doc(3, LOQ_VERSION_310, &len);
    struct buf many;
    char *bad;
    struct loq_doc doc;
    clock_t t0;

    (void)state;
    buf_init(&many);
    for (int i = 0; i < 3000; i++)
        buf_puts(&many, "<language uri=\"http://publications.europa.eu/resource/authority/"
                        "language/QQQ\"/>");
    buf_puts(&many, "<language uri=\"http://publications.europa.eu/resource/authority/"
                    "language/LIT\"/>");
    bad = replace_nth(good,
                      "<language uri=\"http://publications.europa.eu/resource/authority/"
                      "language/LIT\"/>",
                      1, many.data);
    t0 = clock();
    parse_ok(bad, strlen(bad), &doc, "many bad codes");
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    assert_false(doc.items[0].ok);
    assert_int_equal(doc.items[0].nerrors, 3000);
    assert_int_equal(doc.items[0].nerrors_kept, LOQ_ITEM_MAX_ERRORS);
    assert_true(doc.items[1].ok);
    loq_doc_cleanup(&doc);
    free(bad);

    buf_reset(&many);
    for (int i = 0; i < 20000; i++)
        buf_puts(&many, "<providedBy idref=\"https://nowhere.example\"/>");
    buf_puts(&many, "<providedBy idref=\"https://vdu.lt\"/>");
    bad = replace_nth(good, "<providedBy idref=\"https://vdu.lt\"/>", 3, many.data);
    t0 = clock();
    parse_ok(bad, strlen(bad), &doc, "many dangling references");
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    assert_true(doc.items[0].ok);
    assert_true(doc.items[1].ok);
    assert_false(doc.items[2].ok);
    assert_true(errors_mention(&doc.items[2], "nowhere.example"));
    loq_doc_cleanup(&doc);
    free(bad);
    buf_cleanup(&many);
    free(good);
}

/* A document on one line: attribution does not lean on line numbers. */
static void test_one_line_document(void **state)
{
    size_t len;
    char *good = synthetic_doc(3, LOQ_VERSION_310, &len);
    char *bad = replace_nth(good, "<providedBy idref=\"https://vdu.lt\"/>", 2,
                            "<providedBy idref=\"https://nowhere.example\"/>");
    char *flat = replace_all(bad, "\n", "");
    struct loq_doc doc;

    (void)state;
    parse_ok(flat, strlen(flat), &doc, "one line");
    assert_true(doc.items[0].ok);
    assert_false(doc.items[1].ok);
    assert_true(doc.items[2].ok);
    assert_int_equal(doc.items[1].errors[0].line, 1);
    assert_string_equal(doc.items[1].errors[0].path,
                        "/Courses/learningOpportunityReferences/learningOpportunity[2]/providedBy");
    loq_doc_cleanup(&doc);
    free(flat);
    free(bad);
    free(good);
}

/* Publishers' number and text habits. */
static void test_lenient_values(void **state)
{
    size_t len;
    char *good = synthetic_doc(1, LOQ_VERSION_310, &len);
    char *a = replace_nth(good, "<point>3.5</point>", 1, "<point> 7,5 </point>");
    char *b = replace_nth(a, "<title language=\"en\">Data literacy 1</title>", 1,
                          "<title language=\" EN \">\n   Data literacy 1\n  </title>");
    char *c = replace_nth(b, "<startDate>2026-02-01T00:00:00</startDate>", 1,
                          "<startDate>2026-02-01T23:30:00-05:00</startDate>");
    struct loq_doc doc;
    const struct offer *o;

    (void)state;
    parse_ok(c, strlen(c), &doc, "lenient values");
    doc_assert_all_ok(&doc, "lenient values");
    o = &doc.items[0].offer;
    assert_true(o->has_ects);
    assert_true(o->ects == 7.5);
    assert_string_equal(lang_map_get(&o->title, "en"), "Data literacy 1");
    assert_string_equal(o->starts, "2026-02-01");
    loq_doc_cleanup(&doc);
    free(c);
    free(b);
    free(a);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemas_load_missing_dir),
        cmocka_unit_test(test_samples_roundtrip),
        cmocka_unit_test(test_sample_values),
        cmocka_unit_test(test_synthetic_roundtrip),
        cmocka_unit_test(test_export_empty_offer),
        cmocka_unit_test(test_export_hostile_text),
        cmocka_unit_test(test_language_mapping),
        cmocka_unit_test(test_export_eqf_without_nqf),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_unsupported_root),
        cmocka_unit_test(test_xxe_refused),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_depth_bomb),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_one_bad_offer),
        cmocka_unit_test(test_bad_vocabulary_value),
        cmocka_unit_test(test_dangling_reference),
        cmocka_unit_test(test_shared_entity_error),
        cmocka_unit_test(test_document_error),
        cmocka_unit_test(test_big_document_lines),
        cmocka_unit_test(test_bad_language_code),
        cmocka_unit_test(test_hostile_error_volume),
        cmocka_unit_test(test_one_line_document),
        cmocka_unit_test(test_lenient_values),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
