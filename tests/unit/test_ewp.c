/*
 * test_ewp.c — the EWP Courses API codec (catalogue/ewp.h): the upstream
 * example parses to the values it holds, schema errors are charged to the LOS
 * they lie in (with line and path), hostile input (DTDs, entity bombs, bad
 * UTF-8, deep nesting, oversize, error floods) is refused or stays cheap, the
 * schema loader never leaves its catalog, and libxml2's global state is left
 * as it was found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Only to check that the codec gives libxml2's process state back untouched. */
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "catalogue/ewp.h"
#include "catalogue/offer.h"
#include "server/util.h"

#define SCHEMA_DIR MCX_SOURCE_DIR "/schemas/ewp"
#define SAMPLES MCX_SOURCE_DIR "/../shared/samples/ewp/courses"
#define NS EWP_NS_COURSES
#define ROOT_OPEN "<courses-response xmlns=\"" NS "\">"
#define ROOT_CLOSE "</courses-response>"

static struct ewp_schemas *schemas;

/* ---- helpers ---- */

static char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[65536];
    size_t n;

    if (f == NULL)
        fail_msg("cannot read %s", path);
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b, len);
}

static void file_write(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    fclose(f);
}

/* The n-th (1-based) occurrence of from replaced by to; fails if there is none. */
static char *replace_nth(const char *s, const char *from, int n, const char *to)
{
    const char *p = s;
    struct buf b;

    for (int i = 0; i < n; i++) {
        if ((p = strstr(i == 0 ? p : p + 1, from)) == NULL)
            fail_msg("no occurrence %d of '%s'", n, from);
    }
    buf_init(&b);
    buf_append(&b, s, (size_t)(p - s));
    buf_puts(&b, to);
    buf_puts(&b, p + strlen(from));
    return buf_steal(&b, NULL);
}

static char *sample_read(size_t *len)
{
    return file_read(SAMPLES "/courses-response-example.xml", len);
}

static void parse_ok(const char *data, size_t len, struct ewp_doc *doc, const char *what)
{
    struct mcx_error err;

    if (ewp_parse_courses(schemas, data, len, 0, doc, &err) != 0)
        fail_msg("%s: %s (line %d): %s", what, err.code, err.line, err.message);
}

static void parse_fails(const char *data, size_t len, const char *code, struct mcx_error *err)
{
    struct ewp_doc doc;

    assert_int_equal(ewp_parse_courses(schemas, data, len, 0, &doc, err), -1);
    assert_string_equal(err->code, code);
    assert_int_equal(doc.nitems, 0);
    assert_null(doc.items);
    assert_null(doc.errors);
}

static void doc_assert_all_ok(const struct ewp_doc *doc, const char *what)
{
    if (doc->nerrors > 0)
        fail_msg("%s: document error at line %d %s: %s", what, doc->errors[0].line,
                 doc->errors[0].path, doc->errors[0].message);
    for (size_t i = 0; i < doc->nitems; i++) {
        const struct ewp_item *it = &doc->items[i];
        if (!it->ok)
            fail_msg("%s: item %zu failed: line %d %s: %s", what, i,
                     it->nerrors_kept ? it->errors[0].line : 0,
                     it->nerrors_kept ? it->errors[0].path : "",
                     it->nerrors_kept ? it->errors[0].message : "(no message)");
    }
}

static bool errors_mention(const struct ewp_item *it, const char *needle)
{
    for (size_t i = 0; i < it->nerrors_kept; i++)
        if (strstr(it->errors[i].message, needle) != NULL ||
            strstr(it->errors[i].path, needle) != NULL)
            return true;
    return false;
}

/* A valid LOS (number i) with every field the schema has, on 24 lines. */
static void los_put(struct buf *b, int i)
{
    buf_printf(b,
               "  <learningOpportunitySpecification>\n"
               "    <los-id>CR/course-%d</los-id>\n"
               "    <los-code>INF-%d</los-code>\n"
               "    <ounit-id>ou-%d</ounit-id>\n"
               "    <title xml:lang=\"en\">Data literacy %d</title>\n"
               "    <title xml:lang=\"lt\">Duomenų raštingumas %d</title>\n"
               "    <type>Course</type>\n"
               "    <iscedCode>0688</iscedCode>\n"
               "    <eqfLevelProvided>6</eqfLevelProvided>\n"
               "    <url>https://vdu.lt/courses/%d</url>\n"
               "    <description xml:lang=\"en\">Reading data %d</description>\n"
               "    <specifies>\n"
               "      <learningOpportunityInstance>\n"
               "        <loi-id>CRI/%d-2026</loi-id>\n"
               "        <start>2026-02-01</start>\n"
               "        <end>2026-04-30</end>\n"
               "        <credit><scheme>ects</scheme><value>3</value></credit>\n"
               "        <languageOfInstruction>en</languageOfInstruction>\n"
               "      </learningOpportunityInstance>\n"
               "    </specifies>\n"
               "    <contains>\n"
               "      <los-id>CLS/lecture-%d</los-id>\n"
               "    </contains>\n"
               "  </learningOpportunitySpecification>\n",
               i, i, i, i, i, i, i, i, i);
}

static char *synthetic_doc(int n)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" ROOT_OPEN "\n");
    for (int i = 1; i <= n; i++)
        los_put(&b, i);
    buf_puts(&b, ROOT_CLOSE "\n");
    return buf_steal(&b, NULL);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    struct mcx_error err;
    xmlExternalEntityLoader before = xmlGetExternalEntityLoader();

    (void)state;
    schemas = ewp_schemas_load(SCHEMA_DIR, &err);
    if (schemas == NULL) {
        fprintf(stderr, "ewp_schemas_load: %s: %s\n", err.code, err.message);
        return -1;
    }
    /* no process-wide libxml2 setting was needed */
    if (xmlGetExternalEntityLoader() != before) {
        fprintf(stderr, "ewp_schemas_load changed the entity loader\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ewp_schemas_free(schemas);
    return 0;
}

/* ---- schemas ---- */

static void test_schemas_load_missing_dir(void **state)
{
    struct mcx_error err;

    (void)state;
    assert_null(ewp_schemas_load("/nonexistent/ewp", &err));
    assert_string_equal(err.code, "schema_load_failed");
    ewp_schemas_free(NULL); /* no-op */
}

/*
 * A copy of schemas/ewp whose catalog (or one file) the test rewrites, in a
 * folder whose name has a space and a '%' (libxml2 reads such paths as URIs).
 */
struct schema_copy {
    char base[64];
    char dir[128];
};

static const char *const schema_files[] = {
    "courses/courses-response.xsd",
    "courses/course-replication-response.xsd",
    "common/common-types.xsd",
    "common/academic-term-v1.xsd",
    "common/xml.xsd",
    "catalog.xml",
};

static void schema_copy_make(struct schema_copy *c)
{
    char path[256];

    snprintf(c->base, sizeof(c->base), "/tmp/mcx-ewp-XXXXXX");
    assert_non_null(mkdtemp(c->base));
    snprintf(c->dir, sizeof(c->dir), "%s/ewp schemas%%20", c->base);
    assert_int_equal(mkdir(c->dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/courses", c->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/common", c->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    for (size_t i = 0; i < MCX_ARRAY_LEN(schema_files); i++) {
        char src[512];
        size_t len;
        char *data;
        snprintf(src, sizeof(src), "%s/%s", SCHEMA_DIR, schema_files[i]);
        snprintf(path, sizeof(path), "%s/%s", c->dir, schema_files[i]);
        data = file_read(src, &len);
        file_write(path, data);
        free(data);
    }
}

/* Rewrites one file of the copy: its first `from` becomes `to`. */
static void schema_copy_edit(struct schema_copy *c, const char *file, const char *from,
                             const char *to)
{
    char path[256];
    size_t len;
    char *data, *edited;

    snprintf(path, sizeof(path), "%s/%s", c->dir, file);
    data = file_read(path, &len);
    edited = replace_nth(data, from, 1, to);
    file_write(path, edited);
    free(edited);
    free(data);
}

static void schema_copy_remove(struct schema_copy *c)
{
    char path[256];

    for (size_t i = 0; i < MCX_ARRAY_LEN(schema_files); i++) {
        snprintf(path, sizeof(path), "%s/%s", c->dir, schema_files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/courses", c->dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/common", c->dir);
    rmdir(path);
    rmdir(c->dir);
    rmdir(c->base);
}

static void load_fails_with(struct schema_copy *c, const char *needle)
{
    struct mcx_error err;
    struct ewp_schemas *s = ewp_schemas_load(c->dir, &err);

    if (s != NULL)
        fail_msg("loaded, expected an error mentioning '%s'", needle);
    assert_string_equal(err.code, "schema_load_failed");
    if (strstr(err.message, needle) == NULL)
        fail_msg("'%s' does not mention '%s'", err.message, needle);
}

/* Whatever the files say, the loader reads only what its catalog maps. */
static void test_schemas_load_stays_offline(void **state)
{
    struct schema_copy c;
    struct mcx_error err;
    struct ewp_schemas *s;

    (void)state;
    /* the unmodified copy loads, and works */
    schema_copy_make(&c);
    s = ewp_schemas_load(c.dir, &err);
    if (s == NULL)
        fail_msg("%s: %s", err.code, err.message);
    {
        size_t len;
        char *data = sample_read(&len);
        struct ewp_doc doc;
        assert_int_equal(ewp_parse_courses(s, data, len, 0, &doc, &err), 0);
        doc_assert_all_ok(&doc, "sample with the copied schemas");
        ewp_doc_cleanup(&doc);
        free(data);
    }
    ewp_schemas_free(s);

    /* an import the catalog does not map is refused, not fetched */
    schema_copy_edit(&c, "catalog.xml", "<uri name=\"http://www.w3.org/2001/03/xml.xsd\"",
                     "<uri name=\"http://www.w3.org/2001/03/xml-other.xsd\"");
    load_fails_with(&c, "http://www.w3.org/2001/03/xml.xsd");
    schema_copy_remove(&c);

    /* catalog entries that could point elsewhere */
    schema_copy_make(&c);
    schema_copy_edit(&c, "catalog.xml", "uri=\"common/xml.xsd\"", "uri=\"../loq/loq.xsd\"");
    load_fails_with(&c, "relative uri inside the folder");
    schema_copy_remove(&c);
    schema_copy_make(&c);
    schema_copy_edit(&c, "catalog.xml", "uri=\"common/xml.xsd\"",
                     "uri=\"http://www.w3.org/2001/03/xml.xsd\"");
    load_fails_with(&c, "relative uri inside the folder");
    schema_copy_remove(&c);
    schema_copy_make(&c);
    schema_copy_edit(&c, "catalog.xml", "</catalog>",
                     "<nextCatalog catalog=\"/etc/xml/catalog\"/></catalog>");
    load_fails_with(&c, "nextCatalog");
    schema_copy_remove(&c);

    /* a catalog that compiles but lacks what the parser needs */
    schema_copy_make(&c);
    {
        char path[256];
        snprintf(path, sizeof(path), "%s/catalog.xml", c.dir);
        file_write(path, "<catalog xmlns=\"urn:oasis:names:tc:entity:xmlns:xml:catalog\">"
                         "<uri name=\"http://www.w3.org/2001/03/xml.xsd\" uri=\"common/xml.xsd\"/>"
                         "</catalog>");
    }
    load_fails_with(&c, "do not accept <courses-response");
    schema_copy_remove(&c);

    /* a schema file gets no DTD either */
    schema_copy_make(&c);
    schema_copy_edit(&c, "common/xml.xsd", "<?xml version='1.0'?>",
                     "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM \"/etc/passwd\">]>");
    load_fails_with(&c, "DOCTYPE");
    schema_copy_remove(&c);
}

/* ---- the upstream example, field by field ---- */

static void test_sample_values(void **state)
{
    size_t len;
    char *data = sample_read(&len);
    struct ewp_doc doc;
    const struct ewp_item *it;
    const struct offer *o;

    (void)state;
    parse_ok(data, len, &doc, "courses-response-example.xml");
    doc_assert_all_ok(&doc, "courses-response-example.xml");
    assert_int_equal(doc.nitems, 2);

    /* <los-id>CR/f6d14b1f-...</los-id>, a Course with two instances */
    it = &doc.items[0];
    o = &it->offer;
    assert_int_equal(it->index, 0);
    assert_int_equal(it->line, 15);
    assert_string_equal(it->external_id, "CR/f6d14b1f-f330-4956-8819-e24feb12d519");
    assert_string_equal(o->external_id, "CR/f6d14b1f-f330-4956-8819-e24feb12d519");
    assert_string_equal(o->source_id, "CR/f6d14b1f-f330-4956-8819-e24feb12d519");
    assert_int_equal(it->type, EWP_LOS_COURSE);
    assert_null(it->los_code);
    assert_null(it->ounit_id);
    assert_int_equal(o->title.n, 2);
    assert_string_equal(o->title.items[0].lang, "no");
    assert_string_equal(o->title.items[0].text, "Grunnkurs i matematikk");
    assert_string_equal(o->title.items[1].lang, "en");
    assert_string_equal(o->title.items[1].text, "Introductory calculus");
    assert_int_equal(o->description.n, 2);
    assert_string_equal(lang_map_get(&o->description, "no"), "En eller annen beskrivelse");
    assert_string_equal(lang_map_get(&o->description, "en"), "Some description");
    assert_string_equal(o->homepage, "http://example.com/");
    assert_int_equal(o->nisced, 1);
    assert_string_equal(o->isced[0], "0541");
    assert_int_equal(o->eqf, 0); /* no eqfLevelProvided */
    /* the first LOI: CRI/13466290, 2016-07-01..2016-12-31, 15 ECTS (not 5 no-vt), en */
    assert_string_equal(o->starts, "2016-07-01");
    assert_string_equal(o->ends, "2016-12-31");
    assert_true(o->has_ects);
    assert_true(o->ects == 15.0);
    assert_int_equal(o->nlanguages, 1);
    assert_string_equal(o->languages[0], "en");
    /* what the response does not carry */
    assert_null(o->volume_of_learning); /* engagementHours 60 are contact hours */
    assert_int_equal(o->mode, OFFER_MODE_UNKNOWN);
    assert_string_equal(o->application_deadline, "");
    assert_false(o->has_price);
    assert_int_equal(o->noutcomes, 0);
    assert_int_equal(o->assessment.n, 0);
    assert_int_equal(o->quality_assurance.n, 0);
    assert_null(o->provider_id);
    assert_string_equal(o->provider_country, "");

    /* <los-id>DEP/a1a43018-...</los-id>, a Degree Programme with titles only */
    it = &doc.items[1];
    o = &it->offer;
    assert_int_equal(it->index, 1);
    assert_int_equal(it->line, 70);
    assert_string_equal(it->external_id, "DEP/a1a43018-558c-45ed-a187-3c966e7bac77");
    assert_int_equal(it->type, EWP_LOS_DEGREE_PROGRAMME);
    assert_string_equal(lang_map_get(&o->title, "no"), "Statsvitenskap hovedfag");
    assert_string_equal(lang_map_get(&o->title, "en"), "Political science, main subject");
    assert_int_equal(o->description.n, 0);
    assert_null(o->homepage);
    assert_int_equal(o->nisced, 0);
    assert_string_equal(o->starts, "");
    assert_string_equal(o->ends, "");
    assert_false(o->has_ects);
    assert_int_equal(o->nlanguages, 0);

    /* the provider comes from the request's hei_id */
    ewp_doc_set_provider(&doc, "uio.no");
    for (size_t i = 0; i < doc.nitems; i++) {
        assert_string_equal(doc.items[i].offer.provider_id, "uio.no");
        assert_string_equal(doc.items[i].offer.provider_country, "NO");
    }
    ewp_doc_set_provider(&doc, "example.eu");
    assert_string_equal(doc.items[0].offer.provider_id, "example.eu");
    assert_string_equal(doc.items[0].offer.provider_country, "");
    ewp_doc_cleanup(&doc);
    ewp_doc_cleanup(&doc); /* idempotent */
    free(data);
}

static void test_hei_country(void **state)
{
    char cc[3];

    (void)state;
    assert_int_equal(ewp_hei_country("vdu.lt", cc), 0);
    assert_string_equal(cc, "LT");
    assert_int_equal(ewp_hei_country("uw.edu.pl", cc), 0);
    assert_string_equal(cc, "PL");
    assert_int_equal(ewp_hei_country("ox.ac.uk", cc), 0);
    assert_string_equal(cc, "GB");
    assert_int_equal(ewp_hei_country("UNI-KOELN.DE", cc), 0);
    assert_string_equal(cc, "DE");
    /* the id does not say: generic or non-country domains */
    const char *unsure[] = {"eciu.eu", "ceu.edu", "example.com", "x.org", "localhost",
                            "a.zz",    "a.l",     "a.ltu",       "",      "a."};
    for (size_t i = 0; i < MCX_ARRAY_LEN(unsure); i++) {
        memcpy(cc, "??", 3);
        assert_int_equal(ewp_hei_country(unsure[i], cc), -1);
        assert_string_equal(cc, "");
    }
    assert_int_equal(ewp_hei_country(NULL, cc), -1);
}

/* Everything the mapping reads, in the variants publishers write. */
static void test_field_mapping(void **state)
{
    const char *d =
        ROOT_OPEN "<learningOpportunitySpecification>"
                  "<los-id>MOD/m1</los-id><los-code> M-1 </los-code><ounit-id>fac.inf</ounit-id>"
                  "<title xml:lang=\"en-GB\">  Modelling\n</title>"
                  "<title xml:lang=\"EN\">duplicate language: first wins</title>"
                  "<title>untagged</title>"
                  "<type>Module</type><subjectArea>0613</subjectArea>"
                  "<iscedCode> 0613 </iscedCode><eqfLevelProvided>7</eqfLevelProvided>"
                  "<url xml:lang=\"lt\">https://vdu.lt/lt/m1</url>"
                  "<url xml:lang=\"en\">https://vdu.lt/en/m1</url>"
                  "<url>https://vdu.lt/m1</url>"
                  "<description xml:lang=\"lt-LT\">Line one\n\nLine two</description>"
                  "<specifies>"
                  "<learningOpportunityInstance><loi-id>MODI/1</loi-id>"
                  "<start>2026-02-01+02:00</start><end>2026-06-30Z</end>"
                  "<credit><scheme>no-vt</scheme><value>5</value></credit>"
                  "<languageOfInstruction>lt-LT</languageOfInstruction>"
                  "</learningOpportunityInstance>"
                  "<learningOpportunityInstance><loi-id>MODI/2</loi-id>"
                  "<start>2026-09-01</start><end>2027-01-31</end>"
                  "<credit><scheme>ECTS</scheme><level>Master</level><value>7.5</value></credit>"
                  "<credit><scheme>ects</scheme><value>99</value></credit>"
                  "<languageOfInstruction>en</languageOfInstruction>"
                  "</learningOpportunityInstance>"
                  "<learningOpportunityInstance><loi-id>MODI/3</loi-id>"
                  "<start>2027-02-01</start><end>2027-06-30</end>"
                  "<languageOfInstruction>lt</languageOfInstruction>"
                  "</learningOpportunityInstance>"
                  "</specifies></learningOpportunitySpecification>"
                  "<learningOpportunitySpecification><los-id>CLS/c1</los-id>"
                  "<title xml:lang=\"fr\">Cours</title><iscedCode>Computing</iscedCode>"
                  "<url xml:lang=\"de\">https://vdu.lt/de</url>"
                  "<url xml:lang=\"en\">https://vdu.lt/en</url>"
                  "</learningOpportunitySpecification>"
                  "<learningOpportunitySpecification><los-id>CR/x</los-id>"
                  "<title xml:lang=\"de\">Kurs</title>"
                  "<url xml:lang=\"de\">https://vdu.lt/de</url>"
                  "<url xml:lang=\"fr\">https://vdu.lt/fr</url>"
                  "</learningOpportunitySpecification>" ROOT_CLOSE;
    struct ewp_doc doc;
    const struct ewp_item *it;
    const struct offer *o;

    (void)state;
    parse_ok(d, strlen(d), &doc, "mapping");
    doc_assert_all_ok(&doc, "mapping");
    assert_int_equal(doc.nitems, 3);
    it = &doc.items[0];
    o = &it->offer;
    assert_int_equal(it->type, EWP_LOS_MODULE);
    assert_string_equal(it->external_id, "MOD/m1");
    assert_string_equal(it->los_code, "M-1");
    assert_string_equal(it->ounit_id, "fac.inf");
    assert_int_equal(o->title.n, 2);
    assert_string_equal(o->title.items[0].lang, "en");
    assert_string_equal(o->title.items[0].text, "Modelling");
    assert_string_equal(o->title.items[1].lang, "");
    assert_string_equal(o->title.items[1].text, "untagged");
    assert_string_equal(lang_map_get(&o->description, "lt"), "Line one\n\nLine two");
    assert_string_equal(o->isced[0], "0613");
    assert_int_equal(o->eqf, 7);
    assert_string_equal(o->homepage, "https://vdu.lt/m1"); /* the untagged one */
    assert_string_equal(o->starts, "2026-02-01");          /* the first instance */
    assert_string_equal(o->ends, "2026-06-30");
    assert_true(o->has_ects);
    assert_true(o->ects == 7.5); /* the first ECTS credit, from the second instance */
    assert_int_equal(o->nlanguages, 2);
    assert_string_equal(o->languages[0], "lt");
    assert_string_equal(o->languages[1], "en");

    it = &doc.items[1];
    assert_int_equal(it->type, EWP_LOS_CLASS);
    assert_int_equal(it->offer.nisced, 0); /* not an ISCED-F code */
    assert_string_equal(it->offer.homepage, "https://vdu.lt/en");
    assert_string_equal(doc.items[2].offer.homepage, "https://vdu.lt/de");
    ewp_doc_cleanup(&doc);
}

/* What the spec tells clients to tolerate does not fail the LOS. */
static void test_tolerated_extensions(void **state)
{
    char *good = synthetic_doc(2);
    char *a = replace_nth(good, "<type>Course</type>", 1, "<type>Micro-credential</type>");
    char *b = replace_nth(a, "<los-id>CLS/lecture-2</los-id>", 1,
                          "<los-id>LAB/lab-2</los-id><los-id>CLS/lecture-2b</los-id>");
    struct ewp_doc doc;

    (void)state;
    parse_ok(b, strlen(b), &doc, "unknown type and prefix");
    doc_assert_all_ok(&doc, "unknown type and prefix");
    assert_int_equal(doc.items[0].type, EWP_LOS_COURSE); /* from the los-id */
    ewp_doc_cleanup(&doc);
    free(b);
    free(a);
    free(good);
}

/* ---- schema errors are charged to their LOS ---- */

static void test_one_bad_los(void **state)
{
    char *good = synthetic_doc(3);
    char *bad = replace_nth(good, "<description xml:lang=\"en\">", 2,
                            "<bogus/><description xml:lang=\"en\">");
    struct ewp_doc doc;
    const struct ewp_item *it;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "one bad LOS");
    assert_int_equal(doc.nitems, 3);
    assert_int_equal(doc.nerrors, 0);
    assert_true(doc.items[0].ok);
    assert_true(doc.items[2].ok);
    it = &doc.items[1];
    assert_false(it->ok);
    assert_int_equal(it->index, 1);
    assert_int_equal(it->line, 27); /* 2 lines of prologue, 24 per LOS */
    assert_string_equal(it->external_id, "CR/course-2");
    assert_int_equal(it->nerrors, 1);
    assert_int_equal(it->nerrors_kept, 1);
    assert_int_equal(it->errors[0].line, 37);
    assert_string_equal(it->errors[0].path,
                        "/courses-response/learningOpportunitySpecification[2]/bogus");
    assert_non_null(strstr(it->errors[0].message, "bogus"));
    assert_null(strstr(it->errors[0].message, "{http")); /* namespace noise removed */
    /* a failed item still carries what could be read */
    assert_string_equal(lang_map_get(&it->offer.title, "en"), "Data literacy 2");
    ewp_doc_cleanup(&doc);
    free(bad);
    free(good);
}

struct variant {
    const char *from, *to;
    int occurrence; /* in the upstream example */
    size_t bad;     /* the LOS that fails */
    const char *path, *mention;
};

/* Single-point breakages of the upstream example, each charged to its own LOS. */
static void test_sample_variants(void **state)
{
    static const struct variant variants[] = {
        {"<los-id>DEP/", "<los-id>XX/", 1, 1,
         "/courses-response/learningOpportunitySpecification[2]/los-id", "pattern"},
        {"<title xml:lang=\"no\">Statsvitenskap hovedfag</title>\n"
         "        <title xml:lang=\"en\">Political science, main subject</title>",
         "", 1, 1, "/courses-response/learningOpportunitySpecification[2]/type", "title"},
        {"<iscedCode>0541</iscedCode>",
         "<iscedCode>0541</iscedCode><eqfLevelProvided>9</eqfLevelProvided>", 1, 0,
         "/courses-response/learningOpportunitySpecification[1]/eqfLevelProvided", "9"},
        {"<value>15</value>", "<value>fifteen</value>", 1, 0,
         "/courses-response/learningOpportunitySpecification[1]/specifies/"
         "learningOpportunityInstance[1]/credit[1]/value",
         "xs:decimal"},
        {"<title xml:lang=\"en\">Political", "<title xml:lang=\"en GB\">Political", 1, 1,
         "/courses-response/learningOpportunitySpecification[2]/title[2]/@xml:lang", "language"},
        {"<end>2015-12-31</end>", "<end>2015-13-31</end>", 1, 0,
         "/courses-response/learningOpportunitySpecification[1]/specifies/"
         "learningOpportunityInstance[2]/end",
         "2015-13-31"},
        {"<category label=\"0-50\" count=\"159\" />", "<category label=\"0-50\" count=\"-1\" />", 1,
         0,
         "/courses-response/learningOpportunitySpecification[1]/specifies/"
         "learningOpportunityInstance[1]/resultDistribution/category[1]/@count",
         "count"},
        {"<trm:ewp-id>2016/2017-1/2</trm:ewp-id>", "<trm:ewp-id>autumn</trm:ewp-id>", 1, 0,
         "/courses-response/learningOpportunitySpecification[1]/specifies/"
         "learningOpportunityInstance[1]/trm:academic-term/trm:ewp-id",
         "autumn"},
        {"<los-id>CLS/06e518cc", "<los-id>cls/06e518cc", 1, 0,
         "/courses-response/learningOpportunitySpecification[1]/contains/los-id[2]", "pattern"},
        {"<url>http://example.com/</url>", "<url>ftp://example.com/</url>", 1, 0,
         "/courses-response/learningOpportunitySpecification[1]/url", "ftp://"},
    };
    size_t len;
    char *sample = sample_read(&len);

    (void)state;
    for (size_t v = 0; v < MCX_ARRAY_LEN(variants); v++) {
        const struct variant *x = &variants[v];
        char *bad = replace_nth(sample, x->from, x->occurrence, x->to);
        struct ewp_doc doc;
        const struct ewp_item *it;

        parse_ok(bad, strlen(bad), &doc, x->to);
        assert_int_equal(doc.nitems, 2);
        assert_int_equal(doc.nerrors, 0);
        assert_true(doc.items[1 - x->bad].ok);
        it = &doc.items[x->bad];
        if (it->ok || it->nerrors_kept == 0)
            fail_msg("variant %zu (%s): LOS %zu did not fail", v, x->to, x->bad);
        if (strcmp(it->errors[0].path, x->path) != 0)
            fail_msg("variant %zu: path %s, expected %s (%s)", v, it->errors[0].path, x->path,
                     it->errors[0].message);
        if (!errors_mention(it, x->mention))
            fail_msg("variant %zu: '%s' does not mention '%s'", v, it->errors[0].message,
                     x->mention);
        assert_true(it->errors[0].line > it->line);
        ewp_doc_cleanup(&doc);
        free(bad);
    }
    free(sample);
}

/* An error no LOS owns (at the root) fails every item. */
static void test_document_error(void **state)
{
    char *good = synthetic_doc(2);
    char *a = replace_nth(good, ROOT_CLOSE, 1, "<bogus/>" ROOT_CLOSE);
    char *b = replace_nth(good, ROOT_OPEN, 1, "<courses-response xmlns=\"" NS "\" version=\"9\">");
    struct ewp_doc doc;

    (void)state;
    parse_ok(a, strlen(a), &doc, "bogus root child");
    assert_int_equal(doc.nerrors, 1);
    assert_string_equal(doc.errors[0].path, "/courses-response/bogus");
    for (size_t i = 0; i < doc.nitems; i++) {
        assert_false(doc.items[i].ok);
        assert_int_equal(doc.items[i].nerrors, 1);
        assert_string_equal(doc.items[i].errors[0].path, "/courses-response/bogus");
    }
    ewp_doc_cleanup(&doc);

    parse_ok(b, strlen(b), &doc, "bad root attribute");
    assert_int_equal(doc.nerrors, 1);
    assert_string_equal(doc.errors[0].path, "/courses-response/@version");
    assert_int_equal(doc.errors[0].line, 2);
    assert_false(doc.items[0].ok);
    assert_false(doc.items[1].ok);
    ewp_doc_cleanup(&doc);
    free(b);
    free(a);
    free(good);
}

/* Lines past 65535 (libxml2 caps its own count there) still point right. */
static void test_big_document_lines(void **state)
{
    int n = 3000; /* 24 lines each */
    char *good = synthetic_doc(n);
    char *bad = replace_nth(good, "<eqfLevelProvided>6<", n - 1, "<eqfLevelProvided>0<");
    struct ewp_doc doc;
    const struct ewp_item *it;

    (void)state;
    parse_ok(bad, strlen(bad), &doc, "big document");
    assert_int_equal(doc.nitems, (size_t)n);
    for (int i = 0; i < n; i++)
        assert_true(doc.items[i].ok == (i != n - 2));
    it = &doc.items[n - 2];
    assert_int_equal(it->line, 3 + (n - 2) * 24);
    assert_true(it->line > 65535);
    assert_int_equal(it->errors[0].line, it->line + 8);
    assert_string_equal(doc.items[n - 1].offer.external_id, "CR/course-3000");
    ewp_doc_cleanup(&doc);
    free(bad);
    free(good);
}

/* A flood of errors in one LOS costs linear time and a bounded report. */
static void test_hostile_error_volume(void **state)
{
    char *good = synthetic_doc(2);
    struct buf many;
    char *bad;
    struct ewp_doc doc;
    clock_t t0;

    (void)state;
    buf_init(&many);
    for (int i = 0; i < 50000; i++)
        buf_puts(&many, "<title xml:lang=\"not a tag\">t</title>");
    bad = replace_nth(good, "<type>Course</type>", 2, many.data);
    t0 = clock();
    parse_ok(bad, strlen(bad), &doc, "error flood");
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    assert_true(doc.items[0].ok);
    assert_false(doc.items[1].ok);
    assert_int_equal(doc.items[1].nerrors, 50000);
    assert_int_equal(doc.items[1].nerrors_kept, EWP_ITEM_MAX_ERRORS);
    ewp_doc_cleanup(&doc);
    free(bad);
    buf_cleanup(&many);
    free(good);
}

/* ---- hostile and broken input ---- */

static void test_malformed(void **state)
{
    struct mcx_error err;
    const char *doc = "<?xml version=\"1.0\"?>\n" ROOT_OPEN "\n"
                      "  <learningOpportunitySpecification>\n" ROOT_CLOSE "\n";

    (void)state;
    parse_fails(doc, strlen(doc), "malformed_xml", &err);
    assert_int_equal(err.line, 4);
    parse_fails("", 0, "malformed_xml", &err);
    parse_fails(NULL, 0, "malformed_xml", &err);
    parse_fails("just text", 9, "malformed_xml", &err);
    parse_fails("<a xmlns:x='u'><y:b/></a>", 25, "malformed_xml", &err); /* undeclared prefix */
    parse_fails(ROOT_OPEN "&nbsp;" ROOT_CLOSE, strlen(ROOT_OPEN "&nbsp;" ROOT_CLOSE),
                "malformed_xml", &err); /* undeclared entity */
    /* a valid document cut anywhere */
    {
        size_t len;
        char *sample = sample_read(&len);
        for (size_t cut = 1; cut < len - 20; cut += 97)
            parse_fails(sample, cut, "malformed_xml", &err);
        free(sample);
    }
}

static bool utf8_whole(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

/* Messages quote the input and are cut to fit: never in the middle of a character. */
static void test_error_text_whole_utf8(void **state)
{
    struct mcx_error err;
    struct ewp_id_list list;

    (void)state;
    for (int shift = 0; shift < 3; shift++) {
        struct buf b;
        buf_init(&b);
        buf_puts(&b, "<?");
        for (int i = 0; i < shift; i++)
            buf_putc(&b, 'a');
        for (int i = 0; i < 400; i++)
            buf_puts(&b, "\xc3\xa9"); /* é */
        buf_puts(&b, " x<a/>");
        parse_fails(b.data, b.len, "malformed_xml", &err);
        assert_true(utf8_whole(err.message));

        buf_reset(&b);
        buf_puts(&b, "<course-replication-response xmlns=\"" EWP_NS_REPLICATION "\"><los-id>CR/");
        for (int i = 0; i < shift; i++)
            buf_putc(&b, 'a');
        for (int i = 0; i < 300; i++)
            buf_puts(&b, "\xe2\x82\xac"); /* € */
        buf_puts(&b, "</los-id><los-id>x</los-id></course-replication-response>");
        assert_int_equal(ewp_parse_replication(schemas, b.data, b.len, 0, &list, &err), -1);
        assert_string_equal(err.code, "validation_failed");
        assert_true(utf8_whole(err.message));
        assert_true(utf8_whole(err.path));
        buf_cleanup(&b);
    }
}

static void test_unsupported_root(void **state)
{
    struct mcx_error err;
    const char *docs[] = {
        "<courses-response xmlns=\"http://example.org/other\"/>",
        "<courses-response/>",
        "<course-response xmlns=\"" NS "\"/>",
        "<Courses xmlns=\"http://data.europa.eu/snb/model/ap/loq-constraints/\"/>",
        "<course-replication-response xmlns=\"" EWP_NS_REPLICATION "\"/>",
        "<error-response xmlns=\"https://github.com/erasmus-without-paper/"
        "ewp-specs-architecture/blob/stable-v1/common-types.xsd\"><developer-message>x"
        "</developer-message></error-response>",
    };
    const char *empty = ROOT_OPEN ROOT_CLOSE;
    struct ewp_doc doc;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(docs); i++)
        parse_fails(docs[i], strlen(docs[i]), "unsupported_document", &err);
    /* "If all values are unknown, servers MUST respond with an empty" response */
    parse_ok(empty, strlen(empty), &doc, "empty response");
    assert_int_equal(doc.nitems, 0);
    assert_int_equal(doc.nerrors, 0);
    ewp_doc_cleanup(&doc);
    assert_int_equal(ewp_parse_courses(NULL, empty, strlen(empty), 0, &doc, &err), -1);
    assert_string_equal(err.code, "internal");
}

static void test_xxe_refused(void **state)
{
    struct mcx_error err;
    const char *docs[] = {
        "<?xml version=\"1.0\"?>\n<!DOCTYPE courses-response [\n"
        "  <!ENTITY x SYSTEM \"file:///etc/passwd\">\n]>\n" ROOT_OPEN
        "<learningOpportunitySpecification><los-id>CR/1</los-id>"
        "<title xml:lang=\"en\">&x;</title></learningOpportunitySpecification>" ROOT_CLOSE,
        "<?xml version=\"1.0\"?>\n<!DOCTYPE courses-response SYSTEM "
        "\"file:///etc/passwd\">\n" ROOT_OPEN ROOT_CLOSE,
        "<!DOCTYPE courses-response [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> "
        "%p;]>" ROOT_OPEN ROOT_CLOSE,
        "<!DOCTYPE courses-response>" ROOT_OPEN ROOT_CLOSE,
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(docs); i++) {
        parse_fails(docs[i], strlen(docs[i]), "malformed_xml", &err);
        assert_non_null(strstr(err.message, "DOCTYPE"));
        assert_true(err.line >= 1);
        assert_null(strstr(err.message, "root:"));
    }
}

/* Neither XInclude nor xsi:schemaLocation makes the parser read anything. */
static void test_no_side_loading(void **state)
{
    const char *d = "<courses-response xmlns=\"" NS "\" "
                    "xmlns:xi=\"http://www.w3.org/2001/XInclude\" "
                    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                    "xsi:schemaLocation=\"" NS " file:///etc/passwd\">"
                    "<learningOpportunitySpecification><los-id>CR/1</los-id>"
                    "<title xml:lang=\"en\">T</title>"
                    "<description xml:lang=\"en\"><xi:include href=\"/etc/passwd\" parse=\"text\"/>"
                    "</description></learningOpportunitySpecification>" ROOT_CLOSE;
    struct ewp_doc doc;

    (void)state;
    parse_ok(d, strlen(d), &doc, "xinclude");
    assert_int_equal(doc.nerrors, 0);
    assert_false(doc.items[0].ok); /* an element inside a text field */
    assert_true(errors_mention(&doc.items[0], "Element content is not allowed"));
    assert_string_equal(doc.items[0].errors[0].path,
                        "/courses-response/learningOpportunitySpecification[1]/description");
    assert_int_equal(doc.items[0].offer.description.n, 0);
    ewp_doc_cleanup(&doc);
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
    buf_puts(&b,
             "]>\n" ROOT_OPEN "<learningOpportunitySpecification><los-id>CR/1</los-id>"
             "<title xml:lang=\"en\">&lol9;</title></learningOpportunitySpecification>" ROOT_CLOSE
             "\n");
    parse_fails(b.data, b.len, "malformed_xml", &err);
    assert_int_equal(err.line, 2);
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    buf_cleanup(&b);
}

static void test_invalid_utf8(void **state)
{
    struct mcx_error err;
    const char *docs[] = {
        ROOT_OPEN "<x>\xc3\x28</x>" ROOT_CLOSE,     /* bad continuation */
        ROOT_OPEN "<x>\xed\xa0\x80</x>" ROOT_CLOSE, /* surrogate */
        ROOT_OPEN "<x a=\"\xff\"/>" ROOT_CLOSE,     /* in an attribute */
        ROOT_OPEN "<x>\xc0\xaf</x>" ROOT_CLOSE,     /* overlong */
        ROOT_OPEN "<learningOpportunitySpecification><los-id>CR/\xf5\x80\x80\x80</los-id>"
                  "</learningOpportunitySpecification>" ROOT_CLOSE, /* past U+10FFFF */
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\xef\xbb" ROOT_OPEN ROOT_CLOSE,
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(docs); i++)
        parse_fails(docs[i], strlen(docs[i]), "malformed_xml", &err);
}

static void test_depth_bomb(void **state)
{
    struct mcx_error err;
    struct buf b;

    (void)state;
    /* past our limit but within libxml2's own */
    buf_init(&b);
    buf_puts(&b, ROOT_OPEN "\n");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "<a>");
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "</a>");
    buf_puts(&b, ROOT_CLOSE);
    parse_fails(b.data, b.len, "malformed_xml", &err);
    assert_non_null(strstr(err.message, "deeper"));
    assert_int_equal(err.line, 2);
    buf_cleanup(&b);

    /* a million levels, unterminated */
    buf_init(&b);
    buf_puts(&b, ROOT_OPEN);
    for (int i = 0; i < 1000000; i++)
        buf_puts(&b, "<a>");
    parse_fails(b.data, b.len, "malformed_xml", &err);
    buf_cleanup(&b);

    /* exactly at the limit is fine (and invalid) */
    buf_init(&b);
    buf_puts(&b, ROOT_OPEN "<learningOpportunitySpecification><los-id>CR/1</los-id>"
                           "<title>");
    for (int i = 3; i < EWP_MAX_DEPTH; i++)
        buf_puts(&b, "<a>");
    for (int i = 3; i < EWP_MAX_DEPTH; i++)
        buf_puts(&b, "</a>");
    buf_puts(&b, "</title></learningOpportunitySpecification>" ROOT_CLOSE);
    {
        struct ewp_doc doc;
        parse_ok(b.data, b.len, &doc, "at the depth limit");
        assert_false(doc.items[0].ok);
        ewp_doc_cleanup(&doc);
    }
    buf_cleanup(&b);
}

static void test_too_large(void **state)
{
    struct mcx_error err;
    struct ewp_doc doc;
    const char *d = ROOT_OPEN ROOT_CLOSE;
    struct buf b;

    (void)state;
    assert_int_equal(ewp_parse_courses(schemas, d, strlen(d), 16, &doc, &err), -1);
    assert_string_equal(err.code, "too_large");
    assert_int_equal(ewp_parse_courses(schemas, d, strlen(d), strlen(d), &doc, &err), 0);
    ewp_doc_cleanup(&doc);

    /* more LOS than any batch we ask for */
    buf_init(&b);
    buf_puts(&b, ROOT_OPEN);
    for (int i = 0; i <= EWP_MAX_ITEMS; i++)
        buf_puts(&b, "<learningOpportunitySpecification/>");
    buf_puts(&b, ROOT_CLOSE);
    assert_int_equal(ewp_parse_courses(schemas, b.data, b.len, 0, &doc, &err), -1);
    assert_string_equal(err.code, "too_large");
    assert_null(doc.items);
    buf_cleanup(&b);
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
    struct ewp_doc doc;
    size_t len;
    char *sample = sample_read(&len);
    char *invalid = replace_nth(sample, "<los-id>DEP/", 1, "<los-id>XX/");
    const char *bad_encoding = "<?xml version=\"1.0\" encoding=\"no-such-charset\"?><a/>";

    (void)state;
    xmlSetStructuredErrorFunc(&marker, stray_counter);
    stray_calls = 0;
    parse_fails("<a><b></a>", 10, "malformed_xml", &err);
    parse_fails(bad_encoding, strlen(bad_encoding), "malformed_xml", &err);
    parse_ok(invalid, strlen(invalid), &doc, "invalid");
    assert_false(doc.items[1].ok);
    ewp_doc_cleanup(&doc);
    assert_int_equal(stray_calls, 0);
    assert_ptr_equal(xmlStructuredErrorContext, &marker);
    assert_true(xmlStructuredError == stray_counter);
    xmlSetStructuredErrorFunc(NULL, NULL);
    free(invalid);
    free(sample);
}

/* ---- Simple Course Replication ---- */

static int replication(const char *d, struct ewp_id_list *out, struct mcx_error *err)
{
    return ewp_parse_replication(schemas, d, strlen(d), 0, out, err);
}

static void test_replication(void **state)
{
    size_t len;
    char *sample = file_read(SAMPLES "/course-replication-response-example.xml", &len);
    struct ewp_id_list list;
    struct mcx_error err;
    char *d;

    (void)state;
    assert_int_equal(replication(sample, &list, &err), 0);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.ids[0], "CR/f6d14b1f-f330-4956-8819-e24feb12d519");
    assert_string_equal(list.ids[1], "CR/e5a443df-0398-48fa-9606-663e5ae981de");
    ewp_id_list_cleanup(&list);
    ewp_id_list_cleanup(&list); /* idempotent */

    /* an unknown prefix is skipped, an invalid id fails the list */
    d = replace_nth(sample, "<los-id>CR/e5a4", 1, "<los-id>PRG/1</los-id><los-id>DEP/e5a4");
    assert_int_equal(replication(d, &list, &err), 0);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.ids[1], "DEP/e5a443df-0398-48fa-9606-663e5ae981de");
    ewp_id_list_cleanup(&list);
    free(d);
    d = replace_nth(sample, "<los-id>CR/e5a4", 1, "<los-id>CR/ e5a4");
    assert_int_equal(replication(d, &list, &err), -1);
    assert_string_equal(err.code, "validation_failed");
    assert_string_equal(err.path, "/course-replication-response/los-id[2]");
    assert_int_equal(err.line, 10);
    assert_null(list.ids);
    free(d);

    assert_int_equal(
        replication("<course-replication-response xmlns=\"" EWP_NS_REPLICATION "\"/>", &list, &err),
        0);
    assert_int_equal(list.n, 0);
    assert_int_equal(replication(ROOT_OPEN ROOT_CLOSE, &list, &err), -1);
    assert_string_equal(err.code, "unsupported_document");
    assert_int_equal(replication("<!DOCTYPE x><x/>", &list, &err), -1);
    assert_string_equal(err.code, "malformed_xml");
    assert_int_equal(ewp_parse_replication(schemas, sample, len, 10, &list, &err), -1);
    assert_string_equal(err.code, "too_large");
    free(sample);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemas_load_missing_dir),
        cmocka_unit_test(test_schemas_load_stays_offline),
        cmocka_unit_test(test_sample_values),
        cmocka_unit_test(test_hei_country),
        cmocka_unit_test(test_field_mapping),
        cmocka_unit_test(test_tolerated_extensions),
        cmocka_unit_test(test_one_bad_los),
        cmocka_unit_test(test_sample_variants),
        cmocka_unit_test(test_document_error),
        cmocka_unit_test(test_big_document_lines),
        cmocka_unit_test(test_hostile_error_volume),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_error_text_whole_utf8),
        cmocka_unit_test(test_unsupported_root),
        cmocka_unit_test(test_xxe_refused),
        cmocka_unit_test(test_no_side_loading),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_depth_bomb),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_global_state_untouched),
        cmocka_unit_test(test_replication),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
