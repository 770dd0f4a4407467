/*
 * test_elm.c — ELM 3 JSON-LD ⇄ offer (catalogue/elm.h): the EC samples read
 * as expected, exports use only terms of the edc-ap context and read back to
 * equal offers, and bad documents give the right error code, path and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/testfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/elm.h"
#include "server/jsonparse.h"

#define SAMPLES MCX_SOURCE_DIR "/../shared/samples/elm/elm3/"

static char **strv(size_t n, ...)
{
    char **v = xcalloc(n, sizeof(*v));
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        v[i] = xstrdup(va_arg(ap, const char *));
    va_end(ap);
    return v;
}

static void outcomes_add(struct offer *o, const char *en, const char *lt)
{
    struct lang_map *m;

    o->learning_outcomes =
        xrealloc(o->learning_outcomes, (o->noutcomes + 1) * sizeof(*o->learning_outcomes));
    m = &o->learning_outcomes[o->noutcomes++];
    memset(m, 0, sizeof(*m));
    lang_map_add(m, "en", en);
    if (lt != NULL)
        lang_map_add(m, "lt", lt);
}

/* Every field, several languages, online, a price. */
static void offer_full(struct offer *o)
{
    offer_init(o);
    o->external_id = xstrdup("LO-2026/17 (spring)");
    o->source_id = xstrdup("https://vdu.lt/lo/17");
    lang_map_add(&o->title, "en", "Data literacy");
    lang_map_add(&o->title, "lt", "Duomen\xc5\xb3 ra\xc5\xa1tingumas");
    lang_map_add(&o->description, "en", "Reading data \"critically\".\nTwo lines.");
    lang_map_add(&o->description, "lt", "Duomen\xc5\xb3 skaitymas");
    o->homepage = xstrdup("https://vdu.lt/dl?x=1&y=2");
    o->languages = strv(2, "en", "lt");
    o->nlanguages = 2;
    o->isced = strv(2, "0688", "0613");
    o->nisced = 2;
    o->eqf = 6;
    o->has_ects = true;
    o->ects = 3;
    o->mode = OFFER_MODE_ONLINE;
    memcpy(o->starts, "2026-02-01", 11);
    memcpy(o->ends, "2026-04-30", 11);
    memcpy(o->application_deadline, "2026-01-15", 11);
    o->has_price = true;
    o->price_amount = 120.5;
    memcpy(o->currency, "EUR", 4);
    outcomes_add(o, "Reads charts", "Skaito diagramas");
    outcomes_add(o, "Cleans data", NULL);
    lang_map_add(&o->assessment, "en", "Project with oral defence");
    lang_map_add(&o->assessment, "lt", "Projektas");
    lang_map_add(&o->quality_assurance, "en", "Internal QA by the Study Quality Office");
    lang_map_add(&o->entry_requirements, "en", "Basic statistics");
    lang_map_add(&o->entry_requirements, "de", "Grundlagen der Statistik");
    o->volume_of_learning = xstrdup("PT75H");
    o->provider_id = xstrdup("https://vdu.lt");
    lang_map_add(&o->provider_name, "en", "Vytautas Magnus University");
    lang_map_add(&o->provider_name, "lt", "Vytauto Did\xc5\xbeiojo universitetas");
    memcpy(o->provider_country, "LT", 3);
    o->provider_homepage = xstrdup("https://www.vdu.lt/en/");
}

/* No ECTS, no EQF, blended, no price, a text without language, provider without id. */
static void offer_sparse(struct offer *o)
{
    offer_init(o);
    o->external_id = xstrdup("SPARSE-1");
    o->source_id = xstrdup("urn:example:lo:sparse");
    lang_map_add(&o->title, "", "Untagged title");
    lang_map_add(&o->title, "fr", "Titre");
    o->mode = OFFER_MODE_BLENDED;
    memcpy(o->starts, "2024-02-29", 11);
    outcomes_add(o, "One", NULL);
    lang_map_add(&o->provider_name, "en", "Nameless Org");
    memcpy(o->provider_country, "DE", 3);
}

/* On site, fractional ECTS, a free course, a 3-letter language, broad ISCED, Kosovo. */
static void offer_onsite(struct offer *o)
{
    offer_init(o);
    o->external_id = xstrdup("ONSITE");
    o->source_id = xstrdup("urn:example:lo:onsite");
    lang_map_add(&o->title, "en", "Field work");
    o->languages = strv(2, "hai", "el");
    o->nlanguages = 2;
    o->isced = strv(1, "05");
    o->nisced = 1;
    o->eqf = 1;
    o->has_ects = true;
    o->ects = 7.5;
    o->mode = OFFER_MODE_ONSITE;
    memcpy(o->ends, "2026-12-31", 11);
    o->has_price = true;
    o->price_amount = 0;
    outcomes_add(o, "A", "A lt");
    outcomes_add(o, "B", NULL);
    outcomes_add(o, "C", NULL);
    o->provider_id = xstrdup("urn:example:org:1");
    memcpy(o->provider_country, "XK", 3);
}

/* Nothing but what a document must have. */
static void offer_minimal(struct offer *o)
{
    offer_init(o);
    o->external_id = xstrdup("MIN");
    o->source_id = xstrdup("urn:example:lo:min");
    lang_map_add(&o->title, "en", "Minimal");
    o->eqf = 8;
    o->has_ects = true;
    o->ects = 0.1;
}

/* Numbers %g would print with an exponent, which xsd:decimal does not have. */
static void offer_tiny_numbers(struct offer *o)
{
    offer_minimal(o);
    o->ects = 1.25e-7;
    o->has_price = true;
    o->price_amount = 4.9406564584124654e-324;
}

static char *export(const struct offer *o, const char *base_id)
{
    struct buf b;

    buf_init(&b);
    elm_export_offer(o, base_id, &b);
    return buf_steal(&b, NULL);
}

static void assert_round_trip(const struct offer *o)
{
    struct offer back;
    struct mcx_error err;
    const char *field = NULL;
    char *json = export(o, NULL);

    if (elm_parse_offer(json, strlen(json), &back, &err) != 0)
        fail_msg("re-import failed: %s at %s\n%s", err.message, err.path, json);
    if (!offer_equal(o, &back, &field))
        fail_msg("round trip changed %s\n%s", field, json);
    offer_cleanup(&back);
    free(json);
}

static void test_round_trips(void **state)
{
    void (*const builders[])(struct offer *) = {offer_full, offer_sparse, offer_onsite,
                                                offer_minimal, offer_tiny_numbers};
    struct offer o;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(builders); i++) {
        builders[i](&o);
        assert_round_trip(&o);
        o.mode = OFFER_MODE_UNKNOWN;
        assert_round_trip(&o);
        offer_cleanup(&o);
    }
}

static void test_round_trip_each_mode(void **state)
{
    static const enum offer_mode all[] = {OFFER_MODE_UNKNOWN, OFFER_MODE_ONLINE, OFFER_MODE_BLENDED,
                                          OFFER_MODE_ONSITE};
    struct offer o;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(all); i++) {
        offer_minimal(&o);
        o.mode = all[i];
        assert_round_trip(&o);
        offer_cleanup(&o);
    }
}

static void test_export_ids(void **state)
{
    struct offer o, back;
    struct mcx_error err;
    const char *field;
    char *json;

    (void)state;
    offer_full(&o);
    json = export(&o, "https://mcx.vdu.lt/offers");
    assert_non_null(
        strstr(json, "\"@id\":\"https://mcx.vdu.lt/offers/LO-2026%2F17%20%28spring%29\""));
    assert_non_null(strstr(json, "\"@id\":\"https://mcx.vdu.lt/offers/"
                                 "LO-2026%2F17%20%28spring%29#specification\""));
    assert_non_null(strstr(json, "\"@context\":\"" ELM_CONTEXT_URL "\""));
    assert_int_equal(elm_parse_offer(json, strlen(json), &back, &err), 0);
    /* only the document's own id differs: it is now the exported one */
    assert_string_equal(back.source_id, "https://mcx.vdu.lt/offers/LO-2026%2F17%20%28spring%29");
    free(back.source_id);
    back.source_id = xstrdup(o.source_id);
    assert_true(offer_equal(&o, &back, &field));
    offer_cleanup(&back);
    free(json);

    /* no base and no IRI: a content-derived urn, stable across exports */
    free(o.source_id);
    o.source_id = NULL;
    json = export(&o, NULL);
    assert_non_null(strstr(json, "\"@id\":\"urn:mcx:offer:"));
    {
        char *again = export(&o, "");
        assert_string_equal(json, again);
        free(again);
    }
    free(json);
    offer_cleanup(&o);
}

/* ---- every key of an export resolves in the edc-ap context ---- */

#define CTX_MAX 8

struct ctx_stack {
    const struct json_value *ctx[CTX_MAX];
    int n;
};

static const struct json_value *term_lookup(const struct ctx_stack *cs, const char *term)
{
    for (int i = cs->n - 1; i >= 0; i--) {
        const struct json_value *d = json_object_get(cs->ctx[i], term);
        if (d != NULL)
            return d;
    }
    return NULL;
}

static bool is_keyword(const char *k)
{
    static const char *const kw[] = {"@context", "@id", "@type", "@value", "@language", "@none"};

    for (size_t i = 0; i < MCX_ARRAY_LEN(kw); i++)
        if (strcmp(k, kw[i]) == 0)
            return true;
    return false;
}

static void push_scoped(struct ctx_stack *cs, const struct json_value *def)
{
    const struct json_value *scoped = json_object_get(def, "@context");

    if (json_is_object(scoped) && cs->n < CTX_MAX)
        cs->ctx[cs->n++] = scoped;
}

static void check_node(struct ctx_stack cs, const struct json_value *v, const char *where);

static void check_types(struct ctx_stack *cs, const struct json_value *t, const char *where)
{
    size_t n = json_is_array(t) ? json_array_len(t) : 1;

    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_is_array(t) ? json_array_at(t, i) : t, NULL);
        const struct json_value *def = name != NULL ? term_lookup(cs, name) : NULL;
        if (def == NULL)
            fail_msg("@type %s at %s is not a term of the context", name ? name : "?", where);
        push_scoped(cs, def); /* type-scoped context */
    }
}

static void check_object(struct ctx_stack cs, const struct json_value *v, const char *where)
{
    char path[512];
    const struct json_value *t = json_object_get(v, "@type");

    if (t != NULL)
        check_types(&cs, t, where);
    for (size_t i = 0; i < json_object_len(v); i++) {
        const char *key = json_object_key_at(v, i);
        const struct json_value *val = json_object_value_at(v, i);
        const struct json_value *def, *container;
        struct ctx_stack inner = cs;
        snprintf(path, sizeof(path), "%s/%s", where, key);
        if (key[0] == '@') {
            if (!is_keyword(key))
                fail_msg("%s is not a JSON-LD keyword", path);
            continue;
        }
        def = term_lookup(&cs, key);
        if (def == NULL)
            fail_msg("key %s is not a term of the edc-ap context", path);
        container = json_object_get(def, "@container");
        if (container != NULL && strcmp(json_string_value(container, NULL), "@language") == 0) {
            /* a language map: keys are language tags, values texts */
            for (size_t j = 0; j < json_object_len(val); j++)
                assert_true(json_is_string(json_object_value_at(val, j)));
            continue;
        }
        push_scoped(&inner, def); /* property-scoped context */
        check_node(inner, val, path);
    }
}

static void check_node(struct ctx_stack cs, const struct json_value *v, const char *where)
{
    char path[512];

    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_len(v); i++) {
            snprintf(path, sizeof(path), "%s/%zu", where, i);
            check_node(cs, json_array_at(v, i), path);
        }
    } else if (json_is_object(v)) {
        check_object(cs, v, where);
    }
}

static void test_export_terms_in_context(void **state)
{
    void (*const builders[])(struct offer *) = {offer_full, offer_sparse, offer_onsite,
                                                offer_minimal};
    struct mcx_error err;
    size_t len;
    char *ctxtext = read_file(SAMPLES "edc-ap-context.jsonld", &len);
    struct json_value *ctxdoc = json_parse(ctxtext, len, 0, &err);
    struct ctx_stack cs = {.n = 1};

    (void)state;
    assert_non_null(ctxdoc);
    cs.ctx[0] = json_object_get(ctxdoc, "@context");
    assert_true(json_is_object(cs.ctx[0]));
    for (size_t i = 0; i < MCX_ARRAY_LEN(builders); i++) {
        struct offer o;
        char *json;
        struct json_value *doc;
        builders[i](&o);
        json = export(&o, i % 2 ? "https://mcx.example/offers" : NULL);
        doc = json_parse(json, strlen(json), 0, &err);
        assert_non_null(doc);
        assert_string_equal(json_string_value(json_object_get(doc, "@context"), NULL),
                            "http://data.europa.eu/snb/model/context/edc-ap");
        assert_string_equal(json_string_value(json_object_get(doc, "@type"), NULL),
                            "LearningOpportunity");
        check_node(cs, doc, "");
        json_value_free(doc);
        free(json);
        offer_cleanup(&o);
    }
    json_value_free(ctxdoc);
    free(ctxtext);
}

/* ---- the EC samples ---- */

static void test_sample_micro_credential(void **state)
{
    size_t len;
    char *data = read_file(SAMPLES "Sample-MC-Annex1-unsigned.jsonld", &len);
    struct offer o;
    struct mcx_error err;
    const char *missing[OFFER_COMPLETENESS_MAX];

    (void)state;
    if (elm_parse_offer(data, len, &o, &err) != 0)
        fail_msg("%s: %s at %s", err.code, err.message, err.path);
    assert_string_equal(o.source_id, "urn:epass:qualification:1");
    assert_string_equal(o.external_id, "urn:epass:qualification:1");
    assert_string_equal(lang_map_get(&o.title, "en"), "Digital micro-credential creation");
    assert_int_equal(o.eqf, 6);
    assert_int_equal(o.nisced, 2);
    assert_string_equal(o.isced[0], "003");
    assert_string_equal(o.isced[1], "0688");
    assert_true(o.has_ects);
    assert_true(o.ects == 2.0);
    assert_int_equal(o.mode, OFFER_MODE_BLENDED);
    assert_int_equal(o.nlanguages, 1);
    assert_string_equal(o.languages[0], "en");
    assert_string_equal(o.volume_of_learning, "PT60H");
    assert_int_equal(o.noutcomes, 2);
    assert_string_equal(lang_map_get(&o.learning_outcomes[1], "es"), "Contento digital");
    assert_non_null(strstr(lang_map_get(&o.entry_requirements, "en"), "EU Login"));
    assert_string_equal(lang_map_get(&o.assessment, "en"), "Digital artefact assessment");
    assert_string_equal(o.provider_id, "urn:epass:org:1");
    assert_string_equal(lang_map_get(&o.provider_name, "en"), "University of Zed");
    assert_string_equal(o.provider_country, "IE");
    assert_string_equal(o.provider_homepage, "https://uniz.edu");
    /* the sample has no quality assurance element: reported, not guessed */
    assert_int_equal(offer_completeness(&o, missing), 1);
    assert_string_equal(missing[0], "quality_assurance");
    offer_cleanup(&o);
    free(data);
}

static void test_all_samples_safe(void **state)
{
    static const char *const files[] = {
        "Sample-CertOfPart-unsigned-uploadable.json",
        "Sample-CertOfPart-unsigned.jsonld",
        "Sample-MC-Annex1-signed.jsonld",
        "Sample-MC-Annex1-unsigned.jsonld",
        "credential-sample-v3.2.jsonld",
        "dc4eu-HE-ToR-uio-elmo-1.7.json",
        "dc4eu-HE-diploma-degreeHBO-M.json",
        "edc-ap-context.jsonld",
        "w3c-credentials-v1.jsonld",
    };
    char path[1024];

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(files); i++) {
        size_t len;
        char *data;
        struct offer o;
        struct mcx_error err;
        snprintf(path, sizeof(path), SAMPLES "%s", files[i]);
        data = read_file(path, &len);
        if (elm_parse_offer(data, len, &o, &err) == 0) {
            assert_true(o.title.n > 0);
            offer_cleanup(&o);
        } else {
            /* JSON, just not a learning opportunity we can use */
            assert_string_equal(err.code, "validation_failed");
        }
        free(data);
    }
}

/* ---- hand-written documents in the EDC style ("id"/"type") ---- */

static const char lo_doc[] =
    "{\"@context\":[\"https://www.w3.org/2018/credentials/v1\",\"" ELM_CONTEXT_URL "\"],\n"
    " \"id\":\"urn:epass:learningOpportunity:1\",\"type\":\"LearningOpportunity\",\n"
    " \"identifier\":[{\"id\":\"urn:x\",\"type\":\"Identifier\",\"notation\":\"INF-7\"}],\n"
    " \"title\":[{\"@value\":\"Algorithms\",\"@language\":\"en\"},"
    "{\"@value\":\"Algoritmai\",\"@language\":\"lt-LT\"}],\n"
    " \"homepage\":\"https://ktu.edu/inf7\",\n"
    " \"temporal\":{\"type\":\"PeriodOfTime\",\"startDate\":\"2026-09-01T07:00:00Z\"},\n"
    " \"providedBy\":[{\"id\":\"urn:org:ktu\",\"type\":\"Organisation\","
    "\"legalName\":{\"en\":\"KTU\"},\"location\":{\"type\":\"Location\",\"address\":"
    "{\"type\":\"Address\",\"countryCode\":{\"id\":"
    "\"http://publications.europa.eu/resource/authority/country/LTU\"}}}}],\n"
    " \"learningAchievementSpecification\":{\"id\":\"urn:spec:1\","
    "\"type\":\"LearningAchievementSpecification\",\"title\":{\"en\":\"Algorithms\"},\n"
    "  \"language\":[\"http://publications.europa.eu/resource/authority/language/DEU\","
    "{\"id\":\"http://publications.europa.eu/resource/authority/language/GER\"}],\n"
    "  \"educationLevel\":{\"id\":\"http://data.europa.eu/snb/eqf/5\"},\n"
    "  \"creditPoint\":[{\"framework\":{\"id\":\"http://data.europa.eu/snb/education-credit/"
    "other\"},\"point\":\"9\"},\n"
    "   {\"framework\":{\"id\":\"http://data.europa.eu/snb/education-credit/6fcec5c5af\"},"
    "\"point\":\"POINT\"}]}}";

static void doc_with(char *out, size_t size, const char *point)
{
    const char *at = strstr(lo_doc, "POINT");
    int n = (int)(at - lo_doc);

    snprintf(out, size, "%.*s%s%s", n, lo_doc, point, at + 5);
}

static void test_edc_style_document(void **state)
{
    char doc[4096];
    struct offer o;
    struct mcx_error err;

    (void)state;
    doc_with(doc, sizeof(doc), "6.5");
    if (elm_parse_offer(doc, strlen(doc), &o, &err) != 0)
        fail_msg("%s at %s", err.message, err.path);
    assert_string_equal(o.external_id, "INF-7");
    assert_string_equal(o.source_id, "urn:epass:learningOpportunity:1");
    assert_string_equal(lang_map_get(&o.title, "lt"), "Algoritmai");
    assert_string_equal(o.homepage, "https://ktu.edu/inf7");
    assert_string_equal(o.starts, "2026-09-01");
    assert_string_equal(o.ends, "");
    assert_string_equal(o.provider_country, "LT");
    assert_int_equal(o.nlanguages, 1); /* DEU and GER are both German */
    assert_string_equal(o.languages[0], "de");
    assert_int_equal(o.eqf, 5);
    assert_true(o.has_ects && o.ects == 6.5); /* the ECTS one, not the other framework */
    offer_cleanup(&o);
}

static void test_bad_point_path(void **state)
{
    char doc[4096];
    struct offer o;
    struct mcx_error err;

    (void)state;
    doc_with(doc, sizeof(doc), "three");
    assert_int_equal(elm_parse_offer(doc, strlen(doc), &o, &err), -1);
    assert_string_equal(err.code, "validation_failed");
    assert_string_equal(err.path, "/learningAchievementSpecification/creditPoint/1/point");
    assert_int_equal(err.line, 12);
    assert_int_equal(o.title.n, 0); /* left empty */
    offer_cleanup(&o);
}

static void assert_invalid(const char *doc, const char *code, const char *path)
{
    struct offer o;
    struct mcx_error err;

    if (elm_parse_offer(doc, strlen(doc), &o, &err) == 0)
        fail_msg("accepted: %s", doc);
    assert_string_equal(err.code, code);
    if (path != NULL && strcmp(err.path, path) != 0)
        fail_msg("path %s, expected %s (%s)", err.path, path, err.message);
    offer_cleanup(&o);
}

#define LO_HEAD "{\"@type\":\"LearningOpportunity\",\"@id\":\"urn:a\","

static void test_errors(void **state)
{
    (void)state;
    assert_invalid("{\"@type\":", "malformed_json", NULL);
    assert_invalid("[1,2]", "validation_failed", "");
    assert_invalid("{\"type\":\"Person\",\"title\":{\"en\":\"x\"}}", "validation_failed", "/type");
    assert_invalid("{\"title\":{\"en\":\"x\"}}", "validation_failed", "/type");
    assert_invalid(LO_HEAD "\"description\":{\"en\":\"x\"}}", "validation_failed", "/title");
    assert_invalid(LO_HEAD "\"title\":{}}", "validation_failed", "/title");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"\"}}", "validation_failed", "/title");
    assert_invalid(LO_HEAD "\"title\":{\"en\":5}}", "validation_failed", "/title/en");
    assert_invalid(LO_HEAD "\"title\":{\"e n\":\"x\"}}", "validation_failed", "/title/e n");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"a\\u0000b\"}}", "validation_failed", "/title/en");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"x\"},\"temporal\":{\"startDate\":\"2026-02-30\"}}",
                   "validation_failed", "/temporal/startDate");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"x\"},\"applicationDeadline\":\"soon\"}",
                   "validation_failed", "/applicationDeadline");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"x\"},\"learningAchievementSpecification\":"
                           "[{\"eqfLevel\":\"http://data.europa.eu/snb/eqf/9\"}]}",
                   "validation_failed", "/learningAchievementSpecification/0/eqfLevel");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"x\"},\"learningAchievementSpecification\":"
                           "{\"volumeOfLearning\":\"60 hours\"}}",
                   "validation_failed", "/learningAchievementSpecification/volumeOfLearning");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"x\"},\"priceDetail\":{\"amount\":"
                           "{\"value\":\"-1\"}}}",
                   "validation_failed", "/priceDetail/amount/value");
    assert_invalid(LO_HEAD "\"title\":{\"en\":\"x\"},\"priceDetail\":[{\"amount\":"
                           "{\"value\":\"1\",\"unit\":\"euro\"}}]}",
                   "validation_failed", "/priceDetail/0/amount/unit");
    assert_invalid("{\"credential\":{\"type\":\"Dog\"}}", "validation_failed", "/credential/type");
}

static void test_lenient_forms(void **state)
{
    struct offer o;
    struct mcx_error err;
    static const char doc[] =
        LO_HEAD "\"title\":\"Plain\",\"identifier\":{\"notation\":\"\"},"
                "\"description\":{\"en\":[\"first\",\"second\"],\"@none\":\"none\"},"
                "\"mode\":[{\"id\":\"urn:other\"},\"http://data.europa.eu/snb/learning-"
                "assessment/9191af2ed9\"],"
                "\"priceDetail\":{\"amount\":{\"value\":12,\"unit\":{\"id\":"
                "\"http://publications.europa.eu/resource/authority/currency/EUR\"}}},"
                "\"learningAchievementSpecification\":\"urn:not-embedded\","
                "\"providedBy\":\"urn:org:ref\"}";

    (void)state;
    if (elm_parse_offer(doc, strlen(doc), &o, &err) != 0)
        fail_msg("%s at %s", err.message, err.path);
    assert_string_equal(lang_map_get(&o.title, ""), "Plain");
    assert_string_equal(o.external_id, "urn:a"); /* empty notation: the id */
    assert_string_equal(lang_map_get(&o.description, "en"), "first");
    assert_string_equal(lang_map_get(&o.description, ""), "none");
    assert_int_equal(o.mode, OFFER_MODE_ONSITE);
    assert_true(o.has_price && o.price_amount == 12);
    assert_string_equal(o.currency, "EUR");
    assert_string_equal(o.provider_id, "urn:org:ref");
    offer_cleanup(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_round_trip_each_mode),
        cmocka_unit_test(test_export_ids),
        cmocka_unit_test(test_export_terms_in_context),
        cmocka_unit_test(test_sample_micro_credential),
        cmocka_unit_test(test_all_samples_safe),
        cmocka_unit_test(test_edc_style_document),
        cmocka_unit_test(test_bad_point_path),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_lenient_forms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
