/*
 * test_builder.c — templates (each rule refuses, canonical form stable), completeness, and
 * built credentials: field by field like the EC micro-credential sample, context terms only,
 * byte-identical on rebuild, hostile strings intact, readable by recognition.
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

#include "issuance/builder.h"
#include "recognition/credential.h"
#include "server/jsonparse.h"

#define SAMPLES MCX_SOURCE_DIR "/../shared/samples/elm/elm3/"

#define UUID "3f2b8c1e-5d7a-4e2b-9c1f-0a1b2c3d4e5f"
#define CRED_ID "urn:uuid:" UUID

static struct json_value *parse_or_fail(const char *json)
{
    struct mcx_error err;
    struct json_value *v = json_parse(json, strlen(json), 0, &err);

    if (v == NULL)
        fail_msg("not JSON: %s\n%s", err.message, json);
    return v;
}

/* A value at a dotted path; arrays on the way are entered at their first element. */
static const struct json_value *at(const struct json_value *v, const char *path)
{
    char key[128];

    while (v != NULL && *path) {
        size_t n = strcspn(path, ".");
        if (json_is_array(v))
            v = json_array_at(v, 0);
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        v = json_object_get(v, key);
        path += n + (path[n] == '.');
    }
    return v;
}

static const char *str_at(const struct json_value *v, const char *path)
{
    const char *s = json_string_value(at(v, path), NULL);

    if (s == NULL)
        fail_msg("no string at %s", path);
    return s;
}

/* ---- fixtures ---- */

/* A demo offer as offers_api_json gives it: the stored doc plus the API fields. */
static const char OFFER_FULL[] =
    "{\"external_id\":\"LO-2026-17\",\"title\":{\"en\":\"Data literacy\",\"lt\":\"Duomen\xc5\xb3 "
    "ra\xc5\xa1tingumas\"},"
    "\"description\":{\"en\":\"Reading data critically.\"},"
    "\"homepage\":\"https://vdu.lt/en/study/data-literacy\",\"languages\":[\"en\",\"lt\"],"
    "\"isced\":[\"0688\",\"0613\"],\"eqf\":6,\"ects\":3,\"mode\":\"blended\","
    "\"starts\":\"2026-02-01\",\"ends\":\"2026-04-30\",\"application_deadline\":\"2026-01-15\","
    "\"price\":{\"amount\":0,\"currency\":\"EUR\"},"
    "\"learning_outcomes\":[{\"en\":\"Reads charts\",\"lt\":\"Skaito diagramas\"},{\"en\":\"Cleans "
    "data\"}],"
    "\"assessment\":{\"en\":\"Project with oral defence\"},"
    "\"quality_assurance\":{\"en\":\"Internal QA by the Study Quality Office\"},"
    "\"entry_requirements\":{\"en\":\"Basic statistics\"},\"volume_of_learning\":\"PT75H\","
    "\"provider\":{\"id\":\"https://vdu.lt\",\"name\":{\"en\":\"Vytautas Magnus "
    "University\",\"lt\":\"Vytauto Did\xc5\xbeiojo universitetas\"},\"country\":\"LT\","
    "\"homepage\":\"https://www.vdu.lt/en/\"},"
    "\"source_id\":\"https://vdu.lt/lo/17\",\"id\":\"8f0c2a4e-1b3d-4c5e-8f70-1a2b3c4d5e6f\","
    "\"institution\":{\"id\":\"vdu.lt\",\"name\":\"Vytautas Magnus "
    "University\",\"country\":\"LT\"},"
    "\"provenance\":null,\"completeness\":{\"missing\":[]},\"recognition\":null,\"version\":3,"
    "\"updated_at\":\"2026-01-10T08:00:00.000000Z\",\"deleted\":false}";

/* What a harvested partner offer often is: a title, a mode, the institution. */
static const char OFFER_SPARSE[] =
    "{\"external_id\":\"KTU-9\",\"title\":{\"en\":\"Robotics basics\"},\"description\":{},"
    "\"homepage\":null,\"languages\":[],\"isced\":[],\"eqf\":null,\"ects\":null,"
    "\"mode\":\"online\",\"learning_outcomes\":[],\"assessment\":{},\"quality_assurance\":{},"
    "\"entry_requirements\":{},\"provider\":{\"id\":null,\"name\":{},\"country\":null,"
    "\"homepage\":null},\"id\":\"11111111-2222-4333-8444-555555555555\","
    "\"institution\":{\"id\":\"ktu.lt\",\"name\":\"Kaunas University of Technology\","
    "\"country\":\"LT\"},\"deleted\":false}";

static const char TEMPLATE_FULL[] =
    "{\"language\":\"en\",\"delivery\":{\"wallet\":true,\"email\":false},"
    "\"awarding_body\":{\"homepage\":\"HTTPS://www.vdu.lt/\",\"country\":\"lt\","
    "\"name\":{\"lit\":\"Vytauto Did\xc5\xbeiojo universitetas\",\"EN\":\"Vytautas Magnus "
    "University\"},\"id\":\"VDU.lt\"},"
    "\"title\":{\"en\":\"Micro-credential in data literacy\"},"
    "\"learning_outcomes\":[{\"en\":\"Explains a dataset\"}],\"ects\":2.50,\"eqf\":5,"
    "\"isced\":[\"0688\"],\"assessment\":{\"en\":\"Written exam\"},"
    "\"quality_assurance\":{\"en\":\"Accredited by SKVC\"},\"eseal_profile\":\"default\"}";

static const char TEMPLATE_FULL_CANONICAL[] =
    "{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"Vytautas Magnus "
    "University\",\"lt\":\"Vytauto Did\xc5\xbeiojo universitetas\"},\"country\":\"LT\","
    "\"homepage\":\"https://www.vdu.lt/\"},"
    "\"title\":{\"en\":\"Micro-credential in data literacy\"},"
    "\"learning_outcomes\":[{\"en\":\"Explains a dataset\"}],\"ects\":2.5,\"eqf\":5,"
    "\"isced\":[\"0688\"],\"assessment\":{\"en\":\"Written exam\"},"
    "\"quality_assurance\":{\"en\":\"Accredited by SKVC\"},\"eseal_profile\":\"default\","
    "\"delivery\":{\"email\":false,\"wallet\":true},\"language\":\"en\"}";

#define BODY "\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"VMU\"},\"country\":\"LT\"}"

static void template_parse_ok(const char *json, struct iss_template *t)
{
    struct mcx_error err;

    if (iss_template_parse(json, strlen(json), t, &err) != 0)
        fail_msg("template refused: %s (%s)\n%s", err.message, err.path, json);
}

static char *template_json(const struct iss_template *t)
{
    struct buf b;

    buf_init(&b);
    iss_template_write_json(t, &b);
    return buf_steal(&b, NULL);
}

static const struct iss_learner LEARNER = {
    .given_name = "Ona",
    .family_name = "Petraityt\xc4\x97",
    .email = "ona.petraityte@example.lt",
    .date_of_birth = "2001-03-09",
};

static const struct iss_result RESULT = {
    .grade = "9",
    .ects = 3,
    .has_ects = true,
    .date = "2026-05-30",
};

static struct iss_build build_args(const char *offer, const struct iss_template *t)
{
    struct iss_build b = {
        .credential_id = CRED_ID,
        .offer_json = offer,
        .template = t,
        .learner = &LEARNER,
        .result = &RESULT,
        .issued_at = "2026-06-01T10:00:00Z",
    };
    return b;
}

static char *build_ok(const struct iss_build *b)
{
    struct buf out;
    struct mcx_error err;

    buf_init(&out);
    if (iss_build_credential(b, &out, &err) != 0)
        fail_msg("build failed: %s (%s)", err.message, err.path);
    return buf_steal(&out, NULL);
}

/* ---- templates ---- */

static void test_template_canonical(void **state)
{
    struct iss_template t, again;
    char *json, *json2;

    (void)state;
    template_parse_ok(TEMPLATE_FULL, &t);
    assert_string_equal(t.awarding_body.id, "vdu.lt");
    assert_string_equal(t.awarding_body.country, "LT");
    assert_true(t.has_ects);
    assert_true(t.ects == 2.5);
    assert_int_equal(t.eqf, 5);
    assert_true(t.has_delivery && t.deliver_wallet && !t.deliver_email);
    assert_string_equal(t.eseal_profile, "default");
    json = template_json(&t);
    assert_string_equal(json, TEMPLATE_FULL_CANONICAL);
    /* the canonical form is a fixed point */
    template_parse_ok(json, &again);
    json2 = template_json(&again);
    assert_string_equal(json, json2);
    free(json);
    free(json2);
    iss_template_cleanup(&again);
    iss_template_cleanup(&t);
}

static void test_template_minimal_and_absent(void **state)
{
    static const char *const inputs[] = {
        "{" BODY "}",
        "{" BODY ",\"title\":null,\"learning_outcomes\":[],\"ects\":null,\"eqf\":null,"
        "\"isced\":[],\"assessment\":{},\"quality_assurance\":null,\"eseal_profile\":null,"
        "\"delivery\":null,\"language\":null}",
        "  {\n" BODY "\n}\n",
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(inputs); i++) {
        struct iss_template t;
        char *json;
        template_parse_ok(inputs[i], &t);
        json = template_json(&t);
        assert_string_equal(json, "{" BODY "}");
        assert_false(t.has_ects || t.has_delivery || t.eqf || t.nisced || t.noutcomes);
        free(json);
        iss_template_cleanup(&t);
    }
}

static void test_template_boundaries(void **state)
{
    struct iss_template t;
    struct buf b;
    char *json;

    (void)state;
    /* a text of exactly 4000 bytes, ECTS 0 and 300, EQF 1 and 8, 4-digit ISCED */
    buf_init(&b);
    buf_puts(&b, "{" BODY ",\"assessment\":{\"en\":\"");
    for (int i = 0; i < 4000; i++)
        buf_putc(&b, 'x');
    buf_puts(&b, "\"},\"ects\":300,\"eqf\":8,\"isced\":[\"06\",\"061\",\"0613\"]}");
    template_parse_ok(b.data, &t);
    assert_true(t.ects == 300);
    iss_template_cleanup(&t);
    template_parse_ok("{" BODY ",\"ects\":0,\"eqf\":1}", &t);
    assert_true(t.has_ects && t.ects == 0);
    json = template_json(&t);
    assert_non_null(strstr(json, "\"ects\":0,\"eqf\":1"));
    free(json);
    iss_template_cleanup(&t);
    template_parse_ok("{" BODY ",\"ects\":7.50,\"language\":\"LIT\"}", &t);
    assert_string_equal(t.language, "lt");
    iss_template_cleanup(&t);
    buf_cleanup(&b);
}

struct bad_template {
    const char *json;
    const char *path;    /* err->path */
    const char *message; /* a substring of err->message */
};

static const struct bad_template bad_templates[] = {
    /* the document */
    {"not json", "", "not JSON"},
    {"[]", "", "template must be a JSON object"},
    {"{}", "/awarding_body", "awarding_body is required"},
    {"{" BODY ",\"fax\":1}", "/fax", "fax is not a template field"},
    {"{" BODY ",\"fax\":null}", "/fax", "not a template field"},
    {"{" BODY ",\"title\":{\"en\":\"a\"},\"title\":{\"en\":\"b\"}}", "", "duplicate"},
    /* awarding body */
    {"{\"awarding_body\":null}", "/awarding_body", "is required"},
    {"{\"awarding_body\":\"vdu.lt\"}", "/awarding_body", "must be an object"},
    {"{\"awarding_body\":{\"name\":{\"en\":\"V\"},\"country\":\"LT\"}}", "/awarding_body/id",
     "awarding_body.id is required"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"country\":\"LT\"}}", "/awarding_body/name",
     "is required"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"}}}", "/awarding_body/country",
     "is required"},
    {"{\"awarding_body\":{\"id\":\"vdu lt\",\"name\":{\"en\":\"V\"},\"country\":\"LT\"}}",
     "/awarding_body/id", "institution id"},
    {"{\"awarding_body\":{\"id\":\"-vdu\",\"name\":{\"en\":\"V\"},\"country\":\"LT\"}}",
     "/awarding_body/id", "institution id"},
    {"{\"awarding_body\":{\"id\":7,\"name\":{\"en\":\"V\"},\"country\":\"LT\"}}",
     "/awarding_body/id", "institution id"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"XX\"}}",
     "/awarding_body/country", "ISO 3166-1"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"LTU\"}}",
     "/awarding_body/country", "ISO 3166-1"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"LT\","
     "\"fax\":\"1\"}}",
     "/awarding_body/fax", "not an awarding body field"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"LT\","
     "\"homepage\":\"ftp://vdu.lt\"}}",
     "/awarding_body/homepage", "http(s) URL"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"LT\","
     "\"homepage\":\"javascript:alert(1)\"}}",
     "/awarding_body/homepage", "http(s) URL"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"LT\","
     "\"homepage\":\"https://\"}}",
     "/awarding_body/homepage", "with a host"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"LT\","
     "\"homepage\":\"https://vdu.lt/a b\"}}",
     "/awarding_body/homepage", "http(s) URL"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{\"en\":\"V\"},\"country\":\"LT\","
     "\"homepage\":\"https://vdu.lt/\\\"><script>\"}}",
     "/awarding_body/homepage", "http(s) URL"},
    /* language maps */
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":\"VMU\",\"country\":\"LT\"}}",
     "/awarding_body/name", "texts by language"},
    {"{\"awarding_body\":{\"id\":\"vdu.lt\",\"name\":{},\"country\":\"LT\"}}",
     "/awarding_body/name", "at least one language"},
    {"{" BODY ",\"title\":{\"english\":\"Data\"}}", "/title/english", "language code"},
    {"{" BODY ",\"title\":{\"e1\":\"Data\"}}", "/title/e1", "language code"},
    {"{" BODY ",\"title\":{\"zz\":\"Data\"}}", "/title/zz", "language code"},
    {"{" BODY ",\"title\":{\"\":\"Data\"}}", "/title/", "language code"},
    {"{" BODY ",\"title\":{\"en\":\"Data\",\"eng\":\"Data\"}}", "/title/eng",
     "repeats language \"en\""},
    {"{" BODY ",\"title\":{\"en\":\"\"}}", "/title/en", "title.en is empty"},
    {"{" BODY ",\"title\":{\"en\":\" \\n\\t \"}}", "/title/en", "is blank"},
    {"{" BODY ",\"title\":{\"en\":\"a\\u0001b\"}}", "/title/en", "control character"},
    {"{" BODY ",\"title\":{\"en\":\"a\\u0000b\"}}", "/title/en", "NUL"},
    {"{" BODY ",\"title\":{\"en\":5}}", "/title/en", "must be a string"},
    {"{" BODY ",\"assessment\":[\"exam\"]}", "/assessment", "texts by language"},
    {"{" BODY ",\"quality_assurance\":{\"xx\":\"QA\"}}", "/quality_assurance/xx", "language code"},
    /* learning outcomes */
    {"{" BODY ",\"learning_outcomes\":{\"en\":\"x\"}}", "/learning_outcomes", "must be an array"},
    {"{" BODY ",\"learning_outcomes\":[\"x\"]}", "/learning_outcomes/0", "texts by language"},
    {"{" BODY ",\"learning_outcomes\":[{\"en\":\"ok\"},{\"en\":\"\"}]}", "/learning_outcomes/1/en",
     "learning_outcomes[1].en is empty"},
    /* ECTS */
    {"{" BODY ",\"ects\":-1}", "/ects", "from 0 to 300"},
    {"{" BODY ",\"ects\":300.01}", "/ects", "from 0 to 300"},
    {"{" BODY ",\"ects\":301}", "/ects", "from 0 to 300"},
    {"{" BODY ",\"ects\":2.345}", "/ects", "at most 2 decimals"},
    {"{" BODY ",\"ects\":1e1}", "/ects", "at most 2 decimals"},
    {"{" BODY ",\"ects\":\"3\"}", "/ects", "must be a number"},
    {"{" BODY ",\"ects\":true}", "/ects", "must be a number"},
    /* EQF */
    {"{" BODY ",\"eqf\":0}", "/eqf", "from 1 to 8"},
    {"{" BODY ",\"eqf\":9}", "/eqf", "from 1 to 8"},
    {"{" BODY ",\"eqf\":6.5}", "/eqf", "from 1 to 8"},
    {"{" BODY ",\"eqf\":6.0}", "/eqf", "an integer"},
    {"{" BODY ",\"eqf\":\"6\"}", "/eqf", "an integer"},
    /* ISCED-F */
    {"{" BODY ",\"isced\":\"0613\"}", "/isced", "must be an array"},
    {"{" BODY ",\"isced\":[\"6\"]}", "/isced/0", "2-4 digits"},
    {"{" BODY ",\"isced\":[\"06131\"]}", "/isced/0", "2-4 digits"},
    {"{" BODY ",\"isced\":[\"0613\",\"06a1\"]}", "/isced/1", "2-4 digits"},
    {"{" BODY ",\"isced\":[613]}", "/isced/0", "2-4 digits"},
    {"{" BODY ",\"isced\":[\"0613\",\"0613\"]}", "/isced/1", "repeats code"},
    /* eSeal profile, delivery, language */
    {"{" BODY ",\"eseal_profile\":\"\"}", "/eseal_profile", "profile name"},
    {"{" BODY ",\"eseal_profile\":\"my seal\"}", "/eseal_profile", "profile name"},
    {"{" BODY ",\"eseal_profile\":5}", "/eseal_profile", "profile name"},
    {"{" BODY ",\"delivery\":true}", "/delivery", "must be an object"},
    {"{" BODY ",\"delivery\":{\"post\":true}}", "/delivery/post", "not a delivery option"},
    {"{" BODY ",\"delivery\":{\"email\":\"yes\"}}", "/delivery/email", "true or false"},
    {"{" BODY ",\"language\":\"english\"}", "/language", "language code"},
    {"{" BODY ",\"language\":\"zz\"}", "/language", "language code"},
    {"{" BODY ",\"language\":5}", "/language", "language code"},
};

static void assert_bad_template(const char *json, size_t len, const char *path, const char *message)
{
    struct iss_template t;
    struct mcx_error err;

    if (iss_template_parse(json, len, &t, &err) == 0)
        fail_msg("template accepted: %s", json);
    assert_string_equal(err.code, "invalid_template");
    if (strstr(err.message, message) == NULL)
        fail_msg("message \"%s\" lacks \"%s\" for %s", err.message, message, json);
    if (path[0] != '\0' && strcmp(err.path, path) != 0)
        fail_msg("path \"%s\", expected \"%s\" for %s", err.path, path, json);
    /* left empty: cleanup after a failure is harmless */
    assert_null(t.awarding_body.id);
    assert_int_equal(t.title.n, 0);
    iss_template_cleanup(&t);
}

static void test_template_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad_templates); i++) {
        const struct bad_template *b = &bad_templates[i];
        assert_bad_template(b->json, strlen(b->json), b->path, b->message);
    }
}

static void test_template_limits(void **state)
{
    struct buf b;
    struct iss_template t;
    struct mcx_error err;

    (void)state;
    /* a text one byte too long */
    buf_init(&b);
    buf_puts(&b, "{" BODY ",\n\"assessment\":{\"en\":\"");
    for (int i = 0; i < 4001; i++)
        buf_putc(&b, 'x');
    buf_puts(&b, "\"}}");
    assert_bad_template(b.data, b.len, "/assessment/en", "longer than 4000 bytes");
    assert_int_equal(iss_template_parse(b.data, b.len, &t, &err), -1);
    assert_int_equal(err.line, 2);
    /* too many outcomes, ISCED codes, languages */
    buf_reset(&b);
    buf_puts(&b, "{" BODY ",\"learning_outcomes\":[");
    for (int i = 0; i < 65; i++)
        buf_printf(&b, "%s{\"en\":\"o%d\"}", i ? "," : "", i);
    buf_puts(&b, "]}");
    assert_bad_template(b.data, b.len, "/learning_outcomes", "more than 64 outcomes");
    buf_reset(&b);
    buf_puts(&b, "{" BODY ",\"isced\":[");
    for (int i = 0; i < 17; i++)
        buf_printf(&b, "%s\"%02d\"", i ? "," : "", i);
    buf_puts(&b, "]}");
    assert_bad_template(b.data, b.len, "/isced", "more than 16 codes");
    buf_reset(&b);
    /* a whole document over the cap */
    buf_puts(&b, "{" BODY ",\"title\":{\"en\":\"");
    while (b.len <= ISS_TEMPLATE_MAX_BYTES)
        buf_putc(&b, 'x');
    buf_puts(&b, "\"}}");
    assert_bad_template(b.data, b.len, "", "larger than");
    buf_cleanup(&b);
}

/* ---- completeness ---- */

static void assert_missing(const char *offer, const struct iss_template *t, const char *expect)
{
    const char *missing[ISS_COMPLETENESS_MAX];
    size_t n = iss_completeness(offer, t, missing, MCX_ARRAY_LEN(missing));
    struct buf b;

    buf_init(&b);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? "," : "", missing[i]);
    assert_string_equal(b.data != NULL ? b.data : "", expect);
    buf_cleanup(&b);
}

static void test_completeness(void **state)
{
    struct iss_template t;
    const char *two[2];

    (void)state;
    assert_missing(OFFER_FULL, NULL, "");
    assert_missing(OFFER_SPARSE, NULL, "learning_outcomes,ects,eqf,assessment,quality_assurance");
    template_parse_ok(TEMPLATE_FULL, &t);
    assert_missing(OFFER_SPARSE, &t, "");
    iss_template_cleanup(&t);
    /* a template with less fills less */
    template_parse_ok("{" BODY ",\"learning_outcomes\":[{\"en\":\"x\"}],\"ects\":1}", &t);
    assert_missing(OFFER_SPARSE, &t, "eqf,assessment,quality_assurance");
    iss_template_cleanup(&t);
    /* no institution and no provider: no awarding body, no country; no mode */
    assert_missing("{\"title\":{\"en\":\"T\"},\"eqf\":5,\"ects\":2,"
                   "\"learning_outcomes\":[{\"en\":\"o\"}],\"assessment\":{\"en\":\"a\"},"
                   "\"quality_assurance\":{\"en\":\"q\"}}",
                   NULL, "awarding_body,country,mode");
    /* the template's awarding body supplies both; the mode stays the offer's */
    template_parse_ok("{" BODY "}", &t);
    assert_missing("{\"title\":{\"en\":\"T\"}}", &t,
                   "learning_outcomes,ects,eqf,assessment,mode,quality_assurance");
    iss_template_cleanup(&t);
    /* empty texts do not count */
    assert_missing("{\"title\":{\"en\":\"\"},\"institution\":{\"id\":\"vdu.lt\",\"name\":\"V\","
                   "\"country\":\"LT\"},\"mode\":\"onsite\",\"eqf\":3,\"ects\":1,"
                   "\"learning_outcomes\":[{\"en\":\"\"}],\"assessment\":{\"en\":\"a\"},"
                   "\"quality_assurance\":{\"en\":\"q\"}}",
                   NULL, "title,learning_outcomes");
    /* not an offer: everything is missing */
    assert_missing("nonsense", NULL,
                   "title,awarding_body,country,learning_outcomes,ects,eqf,assessment,mode,"
                   "quality_assurance");
    assert_missing(NULL, NULL,
                   "title,awarding_body,country,learning_outcomes,ects,eqf,assessment,mode,"
                   "quality_assurance");
    /* max bounds what is written */
    assert_int_equal(iss_completeness("[]", NULL, two, 2), 2);
    assert_string_equal(two[0], "title");
    assert_string_equal(two[1], "awarding_body");
    assert_int_equal(iss_completeness(OFFER_SPARSE, NULL, NULL, 0), 0);
}

/* ---- the credential against the EC sample ---- */

/* Keys the builder writes that the EC sample (unsigned or sealed) does not have at
 * that place; each is an edc-ap term (test_terms_in_context). */
static const char *const extras[] = {
    "/credentialSubject/hasClaim/creditReceived",
    "/credentialSubject/hasClaim/awardedBy/awardingDate",
    "/credentialSubject/hasClaim/provenBy/awardedBy/awardingDate",
    "/credentialSubject/hasClaim/specifiedBy/provenBy",
    "/credentialSubject/hasClaim/specifiedBy/additionalNote",
    "/credentialSubject/hasClaim/specifiedBy/homepage",
    "/credentialSubject/hasClaim/specifiedBy/description",
};

/* Properties whose values are language maps: their keys are languages, not structure. */
static bool is_lang_map(const char *key)
{
    static const char *const keys[] = {"title",       "description", "legalName",
                                       "givenName",   "familyName",  "fullName",
                                       "noteLiteral", "prefLabel",   "altLabel"};

    for (size_t i = 0; i < MCX_ARRAY_LEN(keys); i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

static bool is_extra(const char *path)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(extras); i++)
        if (strcmp(path, extras[i]) == 0)
            return true;
    return false;
}

/* The JSON type, with arrays of X counted as X (any property may be one or many). */
static int kind(const struct json_value *v)
{
    if (json_is_array(v) && json_array_len(v) > 0)
        return kind(json_array_at(v, 0));
    return (int)v->type;
}

#define MAX_PEERS 64

/* The sample nodes at the same place: every element of an array counts. */
static size_t peers_of(const struct json_value *const *samples, size_t n, const char *key,
                       const struct json_value **out)
{
    size_t m = 0;

    for (size_t i = 0; i < n; i++) {
        const struct json_value *v = json_object_get(samples[i], key);
        if (json_is_array(v)) {
            for (size_t j = 0; j < json_array_len(v) && m < MAX_PEERS; j++)
                out[m++] = json_array_at(v, j);
        } else if (v != NULL && m < MAX_PEERS) {
            out[m++] = v;
        }
    }
    return m;
}

/*
 * Every key of mine exists at the same place in the sample with the same JSON type,
 * and every "type" value is one the sample has there. Language maps (their keys are
 * languages) and concept ids (URIs) are values, not structure.
 */
static void compare_shape(const struct json_value *mine, const struct json_value *const *samples,
                          size_t nsamples, const char *path)
{
    if (json_is_array(mine)) {
        for (size_t i = 0; i < json_array_len(mine); i++)
            compare_shape(json_array_at(mine, i), samples, nsamples, path);
        return;
    }
    if (!json_is_object(mine))
        return;
    for (size_t i = 0; i < json_object_len(mine); i++) {
        const char *key = json_object_key_at(mine, i);
        const struct json_value *val = json_object_value_at(mine, i);
        const struct json_value *peers[MAX_PEERS];
        char sub[512];
        size_t np = peers_of(samples, nsamples, key, peers);
        bool kind_ok = false;
        snprintf(sub, sizeof(sub), "%s/%s", path, key);
        if (np == 0) {
            if (!is_extra(sub))
                fail_msg("%s is not in the sample", sub);
            continue;
        }
        for (size_t j = 0; j < np; j++)
            kind_ok = kind_ok || kind(peers[j]) == kind(val);
        if (!kind_ok)
            fail_msg("%s has another JSON type than in the sample", sub);
        if (strcmp(key, "type") == 0 && json_is_string(val)) {
            bool same = false;
            for (size_t j = 0; j < np; j++)
                same =
                    same || (json_is_string(peers[j]) && strcmp(json_string_value(peers[j], NULL),
                                                                json_string_value(val, NULL)) == 0);
            if (!same)
                fail_msg("%s is %s, not what the sample has", sub, json_string_value(val, NULL));
        }
        if ((json_is_object(val) || json_is_array(val)) && !is_lang_map(key))
            compare_shape(val, peers, np, sub);
    }
}

/* Paths both the sample and the built credential have, with the same JSON type. */
static const char *const shared_paths[] = {
    "@context",
    "id",
    "type",
    "credentialProfiles.id",
    "credentialProfiles.inScheme.id",
    "displayParameter.id",
    "displayParameter.primaryLanguage.id",
    "displayParameter.language.id",
    "displayParameter.title.en",
    "credentialSchema.id",
    "credentialSchema.type",
    "credentialSubject.id",
    "credentialSubject.type",
    "credentialSubject.givenName",
    "credentialSubject.familyName",
    "credentialSubject.fullName",
    "credentialSubject.dateOfBirth",
    "credentialSubject.contactPoint.emailAddress.id",
    "credentialSubject.hasClaim.id",
    "credentialSubject.hasClaim.type",
    "credentialSubject.hasClaim.title",
    "credentialSubject.hasClaim.awardedBy.awardingBody.legalName",
    "credentialSubject.hasClaim.provenBy.type",
    "credentialSubject.hasClaim.provenBy.grade.noteLiteral",
    "credentialSubject.hasClaim.provenBy.specifiedBy.title",
    "credentialSubject.hasClaim.provenBy.awardedBy.awardingBody.id",
    "credentialSubject.hasClaim.specifiedBy.type",
    "credentialSubject.hasClaim.specifiedBy.eqfLevel.id",
    "credentialSubject.hasClaim.specifiedBy.eqfLevel.inScheme.id",
    "credentialSubject.hasClaim.specifiedBy.thematicArea.id",
    "credentialSubject.hasClaim.specifiedBy.creditPoint.point",
    "credentialSubject.hasClaim.specifiedBy.creditPoint.framework.id",
    "credentialSubject.hasClaim.specifiedBy.entryRequirement.noteLiteral",
    "credentialSubject.hasClaim.specifiedBy.learningOutcome.title",
    "credentialSubject.hasClaim.specifiedBy.mode.id",
    "credentialSubject.hasClaim.specifiedBy.volumeOfLearning",
    "credentialSubject.hasClaim.specifiedBy.language.id",
    "credentialSubject.hasClaim.specifiedBy.title",
    "issuer.id",
    "issuer.type",
    "issuer.legalName",
    "issuer.location.address.countryCode.id",
    "issuer.location.address.countryCode.inScheme.id",
    "issuer.identifier.schemeName",
    "issuer.identifier.notation",
    "issuer.homepage.contentURL",
    "validFrom",
};

struct samples {
    char *unsigned_text, *signed_text;
    struct json_value *unsigned_doc, *signed_doc, *payload;
};

static void samples_load(struct samples *s)
{
    size_t len;
    const char *payload;

    s->unsigned_text = read_file(SAMPLES "Sample-MC-Annex1-unsigned.jsonld", &len);
    s->unsigned_doc = parse_or_fail(s->unsigned_text);
    s->signed_text = read_file(SAMPLES "Sample-MC-Annex1-signed.jsonld", &len);
    s->signed_doc = parse_or_fail(s->signed_text);
    payload = json_string_value(json_object_get(s->signed_doc, "payload"), NULL);
    assert_non_null(payload);
    s->payload = parse_or_fail(payload);
}

static void samples_free(struct samples *s)
{
    json_value_free(s->payload);
    json_value_free(s->signed_doc);
    json_value_free(s->unsigned_doc);
    free(s->signed_text);
    free(s->unsigned_text);
}

static void test_build_matches_sample(void **state)
{
    struct samples s;
    struct iss_build b = build_args(OFFER_FULL, NULL);
    char *json = build_ok(&b);
    struct json_value *doc = parse_or_fail(json);
    const struct json_value *sample_nodes[2];

    (void)state;
    samples_load(&s);
    sample_nodes[0] = s.unsigned_doc;
    sample_nodes[1] = s.payload; /* the sealed twin adds issuanceDate and issued */
    compare_shape(doc, sample_nodes, 2, "");
    for (size_t i = 0; i < MCX_ARRAY_LEN(shared_paths); i++) {
        const struct json_value *mine = at(doc, shared_paths[i]);
        const struct json_value *theirs = at(s.unsigned_doc, shared_paths[i]);
        if (mine == NULL)
            fail_msg("the credential lacks %s", shared_paths[i]);
        if (theirs == NULL)
            fail_msg("the sample lacks %s", shared_paths[i]);
        if (kind(mine) != kind(theirs))
            fail_msg("%s: another JSON type than the sample's", shared_paths[i]);
    }
    /* the same @context, in the same order */
    {
        const struct json_value *a = json_object_get(doc, "@context");
        const struct json_value *c = json_object_get(s.unsigned_doc, "@context");
        assert_int_equal(json_array_len(a), json_array_len(c));
        for (size_t i = 0; i < json_array_len(c); i++)
            assert_string_equal(json_string_value(json_array_at(a, i), NULL),
                                json_string_value(json_array_at(c, i), NULL));
        assert_string_equal(json_string_value(json_array_at(a, 0), NULL), ISS_W3C_CONTEXT_URL);
        assert_string_equal(json_string_value(json_array_at(a, 1), NULL), ISS_EDC_CONTEXT_URL);
    }
    /* the fixed parts are the sample's values */
    assert_int_equal(json_array_len(json_object_get(doc, "type")), 2);
    assert_string_equal(json_string_value(json_array_at(json_object_get(doc, "type"), 0), NULL),
                        "VerifiableCredential");
    assert_string_equal(json_string_value(json_array_at(json_object_get(doc, "type"), 1), NULL),
                        "EuropeanDigitalCredential");
    assert_string_equal(str_at(doc, "credentialProfiles.id"),
                        str_at(s.unsigned_doc, "credentialProfiles.id"));
    assert_string_equal(str_at(doc, "credentialSchema.id"),
                        str_at(s.unsigned_doc, "credentialSchema.id"));
    assert_string_equal(str_at(doc, "credentialSchema.type"),
                        str_at(s.unsigned_doc, "credentialSchema.type"));
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.specifiedBy.type"),
                        "Qualification");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.specifiedBy.creditPoint."
                                    "framework.id"),
                        str_at(s.unsigned_doc, "credentialSubject.hasClaim.specifiedBy."
                                               "creditPoint.framework.id"));
    assert_string_equal(
        str_at(doc, "credentialSubject.hasClaim.specifiedBy.eqfLevel.inScheme.id"),
        str_at(s.unsigned_doc, "credentialSubject.hasClaim.specifiedBy.eqfLevel.inScheme.id"));
    json_value_free(doc);
    free(json);
    samples_free(&s);
}

static void test_build_values(void **state)
{
    struct iss_build b = build_args(OFFER_FULL, NULL);
    char *json = build_ok(&b);
    struct json_value *doc = parse_or_fail(json);
    const struct json_value *spec = at(doc, "credentialSubject.hasClaim.specifiedBy");
    const struct json_value *isced = json_object_get(spec, "thematicArea");
    const struct json_value *outcomes = json_object_get(spec, "learningOutcome");

    (void)state;
    assert_string_equal(str_at(doc, "id"), CRED_ID);
    assert_string_equal(str_at(doc, "issuanceDate"), "2026-06-01T10:00:00Z");
    assert_string_equal(str_at(doc, "validFrom"), "2026-06-01T10:00:00Z");
    assert_null(json_object_get(doc, "issued")); /* the sealer's */
    /* the learner */
    assert_string_equal(str_at(doc, "credentialSubject.id"), "urn:epass:person:" UUID);
    assert_string_equal(str_at(doc, "credentialSubject.givenName.en"), "Ona");
    assert_string_equal(str_at(doc, "credentialSubject.familyName.en"), "Petraityt\xc4\x97");
    assert_string_equal(str_at(doc, "credentialSubject.fullName.en"), "Ona Petraityt\xc4\x97");
    assert_string_equal(str_at(doc, "credentialSubject.dateOfBirth"), "2001-03-09T00:00:00Z");
    assert_string_equal(str_at(doc, "credentialSubject.contactPoint.emailAddress.id"),
                        "mailto:ona.petraityte@example.lt");
    /* the claim */
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.id"),
                        "urn:epass:learningAchievement:" UUID);
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.title.en"), "Data literacy");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.title.lt"),
                        "Duomen\xc5\xb3 ra\xc5\xa1tingumas");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.awardedBy.awardingDate"),
                        "2026-05-30T00:00:00Z");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.creditReceived.point"), "3");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.provenBy.grade.noteLiteral.en"),
                        "9");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.provenBy.title.en"),
                        "Project with oral defence");
    /* the specification */
    assert_string_equal(str_at(spec, "id"), "urn:epass:qualification:" UUID);
    assert_string_equal(str_at(spec, "eqfLevel.id"), "http://data.europa.eu/snb/eqf/6");
    assert_int_equal(json_array_len(isced), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_at(isced, 0), "id"), NULL),
                        "http://data.europa.eu/snb/isced-f/0688");
    assert_string_equal(json_string_value(json_object_get(json_array_at(isced, 1), "id"), NULL),
                        "http://data.europa.eu/snb/isced-f/0613");
    assert_string_equal(str_at(spec, "creditPoint.point"), "3");
    assert_string_equal(str_at(spec, "mode.id"),
                        "http://data.europa.eu/snb/learning-assessment/e92d221e4d");
    assert_string_equal(str_at(spec, "volumeOfLearning"), "PT75H");
    assert_int_equal(json_array_len(json_object_get(spec, "language")), 2);
    assert_string_equal(str_at(spec, "language.id"),
                        "http://publications.europa.eu/resource/authority/language/ENG");
    assert_int_equal(json_array_len(outcomes), 2);
    assert_string_equal(str_at(json_array_at(outcomes, 1), "title.en"), "Cleans data");
    assert_string_equal(str_at(json_array_at(outcomes, 1), "id"),
                        "urn:epass:learningOutcome:" UUID "-2");
    assert_string_equal(str_at(spec, "additionalNote.noteLiteral.en"),
                        "Internal QA by the Study Quality Office");
    assert_string_equal(str_at(spec, "provenBy.title.en"), "Project with oral defence");
    assert_string_equal(str_at(spec, "homepage.contentURL"),
                        "https://vdu.lt/en/study/data-literacy");
    /* the issuer, who is also the awarding body */
    assert_string_equal(str_at(doc, "issuer.id"), "urn:epass:org:" UUID);
    assert_string_equal(str_at(doc, "issuer.legalName.en"), "Vytautas Magnus University");
    assert_string_equal(str_at(doc, "issuer.legalName.lt"),
                        "Vytauto Did\xc5\xbeiojo universitetas");
    assert_string_equal(str_at(doc, "issuer.location.address.countryCode.id"),
                        "http://publications.europa.eu/resource/authority/country/LTU");
    assert_string_equal(str_at(doc, "issuer.identifier.schemeName"), "schac");
    assert_string_equal(str_at(doc, "issuer.identifier.notation"), "vdu.lt");
    assert_string_equal(str_at(doc, "issuer.homepage.contentURL"), "https://www.vdu.lt/en/");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.awardedBy.awardingBody.id"),
                        "urn:epass:org:" UUID);
    /* the display parameters */
    assert_string_equal(str_at(doc, "displayParameter.primaryLanguage.id"),
                        "http://publications.europa.eu/resource/authority/language/ENG");
    assert_int_equal(json_array_len(at(doc, "displayParameter.language")), 2);
    assert_string_equal(str_at(doc, "displayParameter.title.en"), "Data literacy");
    json_value_free(doc);
    free(json);
}

/* ---- every key resolves in the W3C credentials + edc-ap contexts ---- */

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

static void push_scoped(struct ctx_stack *cs, const struct json_value *def)
{
    const struct json_value *scoped = json_object_get(def, "@context");

    if (json_is_object(scoped) && cs->n < CTX_MAX)
        cs->ctx[cs->n++] = scoped;
}

static void check_node(struct ctx_stack cs, const struct json_value *v, const char *where);

static void check_object(struct ctx_stack cs, const struct json_value *v, const char *where)
{
    const struct json_value *t = json_object_get(v, "type");
    char path[512];

    for (size_t i = 0; i < (json_is_array(t) ? json_array_len(t) : t != NULL); i++) {
        const char *name = json_string_value(json_is_array(t) ? json_array_at(t, i) : t, NULL);
        const struct json_value *def = name != NULL ? term_lookup(&cs, name) : NULL;
        if (def == NULL)
            fail_msg("type %s at %s is not a term of the contexts", name ? name : "?", where);
        push_scoped(&cs, def);
    }
    for (size_t i = 0; i < json_object_len(v); i++) {
        const char *key = json_object_key_at(v, i);
        const struct json_value *val = json_object_value_at(v, i), *def, *container;
        struct ctx_stack inner = cs;
        snprintf(path, sizeof(path), "%s/%s", where, key);
        if (strcmp(key, "@context") == 0)
            continue;
        if ((def = term_lookup(&cs, key)) == NULL)
            fail_msg("key %s is not a term of the contexts", path);
        container = json_object_get(def, "@container");
        if (container != NULL && strcmp(json_string_value(container, NULL), "@language") == 0) {
            for (size_t j = 0; j < json_object_len(val); j++)
                assert_true(json_is_string(json_object_value_at(val, j)));
            continue;
        }
        push_scoped(&inner, def);
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

static void test_terms_in_context(void **state)
{
    size_t len;
    char *w3c_text = read_file(SAMPLES "w3c-credentials-v1.jsonld", &len);
    char *edc_text = read_file(SAMPLES "edc-ap-context.jsonld", &len);
    struct json_value *w3c = parse_or_fail(w3c_text), *edc = parse_or_fail(edc_text);
    struct ctx_stack cs = {.n = 2};
    struct iss_template t;
    const char *offers[] = {OFFER_FULL, OFFER_SPARSE};

    (void)state;
    cs.ctx[0] = json_object_get(w3c, "@context");
    cs.ctx[1] = json_object_get(edc, "@context");
    template_parse_ok(TEMPLATE_FULL, &t);
    for (size_t i = 0; i < 4; i++) {
        struct iss_build b = build_args(offers[i % 2], i < 2 ? NULL : &t);
        char *json = build_ok(&b);
        struct json_value *doc = parse_or_fail(json);
        check_node(cs, doc, "");
        json_value_free(doc);
        free(json);
    }
    iss_template_cleanup(&t);
    json_value_free(edc);
    json_value_free(w3c);
    free(edc_text);
    free(w3c_text);
}

/* ---- determinism and ids ---- */

static char *replace_all(const char *s, const char *from, const char *to)
{
    struct buf b;
    const char *p;

    buf_init(&b);
    while ((p = strstr(s, from)) != NULL) {
        buf_append(&b, s, (size_t)(p - s));
        buf_puts(&b, to);
        s = p + strlen(from);
    }
    buf_puts(&b, s);
    return buf_steal(&b, NULL);
}

static void test_deterministic(void **state)
{
    struct iss_template t;
    struct iss_build b;
    char *one, *two, *other, *mapped;
    struct buf out;

    (void)state;
    template_parse_ok(TEMPLATE_FULL, &t);
    b = build_args(OFFER_FULL, &t);
    one = build_ok(&b);
    two = build_ok(&b);
    assert_string_equal(one, two);
    /* every nested id derives from the credential id and nothing else */
    b.credential_id = "urn:uuid:00000000-1111-4222-8333-444444444444";
    other = build_ok(&b);
    assert_string_not_equal(one, other);
    mapped = replace_all(other, "00000000-1111-4222-8333-444444444444", UUID);
    assert_string_equal(one, mapped);
    /* out is appended to, not replaced */
    buf_init(&out);
    buf_puts(&out, "PREFIX");
    b.credential_id = CRED_ID;
    assert_int_equal(iss_build_credential(&b, &out, NULL), 0);
    assert_memory_equal(out.data, "PREFIX", 6);
    assert_string_equal(out.data + 6, one);
    buf_cleanup(&out);
    free(mapped);
    free(other);
    free(two);
    free(one);
    iss_template_cleanup(&t);
}

/* Distinct nodes have distinct ids; the same id is the same node (ELM repeats the
 * awarding body in full wherever it is used). */
static void collect_ids(const struct json_value *v, struct buf *seen, int *dups)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_len(v); i++)
            collect_ids(json_array_at(v, i), seen, dups);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *id = json_string_value(json_object_get(v, "id"), NULL);
    const char *type = json_string_value(json_object_get(v, "type"), NULL);
    if (id != NULL && type != NULL && strncmp(id, "urn:epass:", 10) == 0 &&
        strcmp(type, "Organisation") != 0 && strcmp(type, "AwardingProcess") != 0 &&
        strcmp(type, "Location") != 0 && strcmp(type, "Address") != 0 &&
        strcmp(type, "Identifier") != 0 && strcmp(type, "WebResource") != 0 &&
        strcmp(type, "LearningAssessmentSpecification") != 0) {
        char line[300];
        snprintf(line, sizeof(line), "\n%s\n", id);
        if (strstr(seen->data, line) != NULL)
            (*dups)++;
        buf_printf(seen, "%s\n", id);
    }
    for (size_t i = 0; i < json_object_len(v); i++)
        collect_ids(json_object_value_at(v, i), seen, dups);
}

static void test_ids_unique(void **state)
{
    struct iss_build b = build_args(OFFER_FULL, NULL);
    char *json = build_ok(&b);
    struct json_value *doc = parse_or_fail(json);
    struct buf seen;
    int dups = 0;

    (void)state;
    buf_init(&seen);
    buf_putc(&seen, '\n');
    collect_ids(doc, &seen, &dups);
    assert_int_equal(dups, 0);
    buf_cleanup(&seen);
    json_value_free(doc);
    free(json);
}

/* ---- template precedence ---- */

static void test_template_precedence(void **state)
{
    struct iss_template t;
    struct iss_build b;
    char *json;
    struct json_value *doc;
    const struct json_value *spec;

    (void)state;
    template_parse_ok(TEMPLATE_FULL, &t);
    /* on a full offer: title and awarding body are the template's, the rest the offer's */
    b = build_args(OFFER_FULL, &t);
    json = build_ok(&b);
    doc = parse_or_fail(json);
    spec = at(doc, "credentialSubject.hasClaim.specifiedBy");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.title.en"),
                        "Micro-credential in data literacy");
    assert_null(at(doc, "credentialSubject.hasClaim.title.lt"));
    assert_string_equal(str_at(doc, "issuer.homepage.contentURL"), "https://www.vdu.lt/");
    assert_string_equal(str_at(spec, "eqfLevel.id"), "http://data.europa.eu/snb/eqf/6");
    assert_string_equal(str_at(spec, "creditPoint.point"), "3");
    assert_int_equal(json_array_len(json_object_get(spec, "learningOutcome")), 2);
    assert_string_equal(str_at(spec, "provenBy.title.en"), "Project with oral defence");
    assert_int_equal(json_array_len(json_object_get(spec, "thematicArea")), 2);
    json_value_free(doc);
    free(json);
    /* on a sparse offer the template fills the gaps */
    b = build_args(OFFER_SPARSE, &t);
    json = build_ok(&b);
    doc = parse_or_fail(json);
    spec = at(doc, "credentialSubject.hasClaim.specifiedBy");
    assert_string_equal(str_at(spec, "eqfLevel.id"), "http://data.europa.eu/snb/eqf/5");
    assert_string_equal(str_at(spec, "creditPoint.point"), "2.5");
    assert_string_equal(str_at(spec, "learningOutcome.title.en"), "Explains a dataset");
    assert_string_equal(str_at(spec, "thematicArea.id"), "http://data.europa.eu/snb/isced-f/0688");
    assert_string_equal(str_at(spec, "provenBy.title.en"), "Written exam");
    assert_string_equal(str_at(spec, "additionalNote.noteLiteral.en"), "Accredited by SKVC");
    assert_string_equal(str_at(spec, "mode.id"),
                        "http://data.europa.eu/snb/learning-assessment/920fbb3cbe");
    /* the template's awarding body replaces the offer's institution (ktu.lt) */
    assert_string_equal(str_at(doc, "issuer.identifier.notation"), "vdu.lt");
    assert_string_equal(str_at(doc, "issuer.legalName.lt"),
                        "Vytauto Did\xc5\xbeiojo universitetas");
    json_value_free(doc);
    free(json);
    iss_template_cleanup(&t);
    /* the template's language is the primary language; names are written in it */
    template_parse_ok("{" BODY ",\"language\":\"lt\"}", &t);
    b = build_args(OFFER_FULL, &t);
    json = build_ok(&b);
    doc = parse_or_fail(json);
    assert_string_equal(str_at(doc, "displayParameter.primaryLanguage.id"),
                        "http://publications.europa.eu/resource/authority/language/LIT");
    assert_string_equal(str_at(doc, "credentialSubject.givenName.lt"), "Ona");
    assert_string_equal(str_at(doc, "issuer.legalName.en"), "VMU");
    assert_null(at(doc, "issuer.homepage"));
    json_value_free(doc);
    free(json);
    iss_template_cleanup(&t);
}

/* Without EQF level, no result, no e-mail, no birth date: a plain specification and
 * no assessment node, contact point or birth date. */
static void test_build_sparse(void **state)
{
    struct iss_learner l = {.family_name = "Madonna"};
    struct iss_build b = build_args(OFFER_SPARSE, NULL);
    char *json;
    struct json_value *doc;
    const struct json_value *spec;

    (void)state;
    b.learner = &l;
    b.result = NULL;
    json = build_ok(&b);
    doc = parse_or_fail(json);
    spec = at(doc, "credentialSubject.hasClaim.specifiedBy");
    assert_string_equal(str_at(spec, "type"), "LearningAchievementSpecification");
    assert_string_equal(str_at(spec, "id"), "urn:epass:learningAchievementSpec:" UUID);
    assert_null(json_object_get(spec, "eqfLevel"));
    assert_null(json_object_get(spec, "creditPoint"));
    assert_null(json_object_get(spec, "learningOutcome"));
    assert_null(at(doc, "credentialSubject.hasClaim.provenBy"));
    assert_null(at(doc, "credentialSubject.hasClaim.creditReceived"));
    assert_null(at(doc, "credentialSubject.hasClaim.awardedBy.awardingDate"));
    assert_null(at(doc, "credentialSubject.contactPoint"));
    assert_null(at(doc, "credentialSubject.dateOfBirth"));
    assert_null(at(doc, "credentialSubject.givenName"));
    assert_string_equal(str_at(doc, "credentialSubject.fullName.en"), "Madonna");
    /* the institution's plain name stands for the issuer */
    assert_string_equal(str_at(doc, "issuer.legalName.en"), "Kaunas University of Technology");
    assert_string_equal(str_at(doc, "issuer.identifier.notation"), "ktu.lt");
    assert_null(at(doc, "issuer.homepage"));
    json_value_free(doc);
    free(json);
}

/* ---- errors ---- */

static void assert_build_fails(const struct iss_build *b, const char *path)
{
    struct buf out;
    struct mcx_error err;

    buf_init(&out);
    buf_puts(&out, "KEEP");
    if (iss_build_credential(b, &out, &err) == 0)
        fail_msg("built, expected a failure at %s", path);
    assert_string_equal(err.code, "build_failed");
    if (strcmp(err.path, path) != 0)
        fail_msg("path %s (%s), expected %s", err.path, err.message, path);
    assert_string_equal(out.data, "KEEP"); /* unchanged on failure */
    buf_cleanup(&out);
}

static void test_build_errors(void **state)
{
    struct iss_build b;
    struct iss_learner l;
    struct iss_result r;
    struct iss_template t;
    static const char *const bad_times[] = {
        "2026-06-01",
        "2026-06-01T10:00:00",
        "2026-06-01T10:00:00+02:00",
        "2026-02-30T10:00:00Z",
        "2026-06-01T24:00:00Z",
        "2026-06-01T10:00:00.Z",
        "2026-06-01 10:00:00Z",
        "",
    };
    static const char *const bad_ids[] = {
        "urn:uuid:3F2B8C1E-5D7A-4E2B-9C1F-0A1B2C3D4E5F",
        "3f2b8c1e-5d7a-4e2b-9c1f-0a1b2c3d4e5f",
        "urn:uuid:3f2b8c1e5d7a4e2b9c1f0a1b2c3d4e5f",
        "urn:uuid:3f2b8c1e-5d7a-4e2b-9c1f-0a1b2c3d4e5",
        "urn:uuid:3f2b8c1e-5d7a-4e2b-9c1f-0a1b2c3d4e5fa",
        "urn:uuid:3f2b8c1e-5d7a-4e2b-9c1f-0a1b2c3d4e5g",
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad_ids); i++) {
        b = build_args(OFFER_FULL, NULL);
        b.credential_id = bad_ids[i];
        assert_build_fails(&b, "credential_id");
    }
    b = build_args(OFFER_FULL, NULL);
    b.credential_id = NULL;
    assert_build_fails(&b, "credential_id");
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad_times); i++) {
        b = build_args(OFFER_FULL, NULL);
        b.issued_at = bad_times[i];
        assert_build_fails(&b, "issued_at");
    }
    b = build_args(OFFER_FULL, NULL);
    b.issued_at = "2026-06-01T10:00:00.123456Z"; /* a fraction is fine */
    free(build_ok(&b));
    /* the offer */
    b = build_args("{\"title\":", NULL);
    assert_build_fails(&b, "offer_json");
    b = build_args("[1]", NULL);
    assert_build_fails(&b, "offer_json");
    b = build_args(NULL, NULL);
    assert_build_fails(&b, "offer_json");
    b = build_args("{\"title\":{},\"institution\":{\"id\":\"vdu.lt\",\"name\":\"V\","
                   "\"country\":\"LT\"}}",
                   NULL);
    assert_build_fails(&b, "title");
    b = build_args("{\"title\":{\"en\":\"\"},\"institution\":{\"id\":\"vdu.lt\",\"name\":\"V\","
                   "\"country\":\"LT\"}}",
                   NULL);
    assert_build_fails(&b, "title");
    b = build_args("{\"title\":{\"en\":\"T\"}}", NULL);
    assert_build_fails(&b, "issuer");
    b = build_args("{\"title\":{\"en\":\"T\"},\"institution\":{\"id\":\"vdu.lt\",\"name\":\"V\"}}",
                   NULL);
    assert_build_fails(&b, "issuer.country");
    b = build_args("{\"title\":{\"en\":\"T\"},\"institution\":{\"id\":\"vdu.lt\",\"name\":\"V\","
                   "\"country\":\"QQ\"}}",
                   NULL);
    assert_build_fails(&b, "issuer.country");
    /* a template can supply what the offer lacks */
    template_parse_ok("{" BODY ",\"title\":{\"en\":\"From the template\"}}", &t);
    b = build_args("{\"title\":{}}", &t);
    free(build_ok(&b));
    iss_template_cleanup(&t);
    /* the learner */
    b = build_args(OFFER_FULL, NULL);
    b.learner = NULL;
    assert_build_fails(&b, "learner");
    l = LEARNER;
    l.given_name = "";
    l.family_name = NULL;
    b.learner = &l;
    assert_build_fails(&b, "learner");
    l = LEARNER;
    l.given_name = "Ona\nPetras";
    assert_build_fails(&b, "learner.given_name");
    l = LEARNER;
    l.family_name = "Bad\xff\xfe";
    assert_build_fails(&b, "learner.family_name");
    l = LEARNER;
    l.family_name = "   ";
    assert_build_fails(&b, "learner.family_name");
    static const char *const bad_emails[] = {
        "ona",
        "ona@",
        "@example.lt",
        "ona@example",
        "ona@@example.lt",
        "ona @example.lt",
        "ona@exa mple.lt",
        "\"ona\"@example.lt",
        "ona@example..lt",
        "ona@[10.0.0.1]",
        "ona@-example.lt",
        "ona@example.lt.",
    };
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad_emails); i++) {
        l = LEARNER;
        l.email = bad_emails[i];
        assert_build_fails(&b, "learner.email");
    }
    l = LEARNER;
    l.date_of_birth = "2001-02-29";
    assert_build_fails(&b, "learner.date_of_birth");
    l.date_of_birth = "09.03.2001";
    assert_build_fails(&b, "learner.date_of_birth");
    l.date_of_birth = "2026-06-02"; /* after the day of issue */
    assert_build_fails(&b, "learner.date_of_birth");
    /* the result */
    b = build_args(OFFER_FULL, NULL);
    r = RESULT;
    b.result = &r;
    r.date = "2026-13-01";
    assert_build_fails(&b, "result.date");
    r.date = "2026-06-02";
    assert_build_fails(&b, "result.date");
    r = RESULT;
    r.ects = 301;
    assert_build_fails(&b, "result.ects");
    r.ects = -0.5;
    assert_build_fails(&b, "result.ects");
    r = RESULT;
    r.grade = "A\r\nB";
    assert_build_fails(&b, "result.grade");
    r = RESULT;
    r.date = "2026-06-01"; /* the day of issue itself is fine */
    free(build_ok(&b));
}

/* ---- hostile strings ---- */

static void test_hostile_strings(void **state)
{
    static const char offer[] =
        "{\"title\":{\"en\":\"\\\"},\\\"id\\\":\\\"urn:evil\\\",\\\"x\\\":{\\\"\","
        "\"lt\":\"</script><script>alert(1)</script>\"},"
        "\"learning_outcomes\":[{\"en\":\"back\\\\slash \\u2028 line sep \\u0001 ctl\"}],"
        "\"assessment\":{\"en\":\"\\ud83d\\ude00 emoji\"},"
        "\"institution\":{\"id\":\"vdu.lt\",\"name\":\"Uni \\\"Q\\\" & <Co>\",\"country\":\"LT\"},"
        "\"languages\":[\"en\",\"\\\"><\",\"xx\",\"lit\"],\"isced\":[\"0613\",\"06\\\"\",\"abc\"],"
        "\"mode\":\"hybrid\",\"volume_of_learning\":\"PT1H\\\"}\",\"homepage\":\"javascript:x\","
        "\"provider\":{\"homepage\":\"https://ok.example/\\\"\"}}";
    struct iss_learner l = {
        .given_name = "Zo\xc3\xab \"\\\" <b>",
        .family_name = "O'Brien-\xe2\x80\xae\x64\x6c\x72\x6f\x77",
        .email = "o'brien+tag#x?y=z&w%@example.ie",
    };
    struct iss_result r = {.grade = "A+ \"top\" \\ 10/10", .date = "2026-05-30"};
    struct iss_build b = build_args(offer, NULL);
    char *json;
    struct json_value *doc;
    const struct json_value *spec, *langs;

    (void)state;
    b.learner = &l;
    b.result = &r;
    json = build_ok(&b);
    doc = parse_or_fail(json);
    /* texts come back byte for byte, nothing escaped into structure */
    assert_string_equal(str_at(doc, "id"), CRED_ID);
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.title.en"),
                        "\"},\"id\":\"urn:evil\",\"x\":{\"");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.title.lt"),
                        "</script><script>alert(1)</script>");
    assert_string_equal(str_at(doc, "credentialSubject.givenName.en"), l.given_name);
    assert_string_equal(str_at(doc, "credentialSubject.familyName.en"), l.family_name);
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.provenBy.grade.noteLiteral.en"),
                        r.grade);
    assert_string_equal(str_at(doc, "issuer.legalName.en"), "Uni \"Q\" & <Co>");
    assert_string_equal(str_at(doc, "credentialSubject.hasClaim.provenBy.title.en"),
                        "\xf0\x9f\x98\x80 emoji");
    spec = at(doc, "credentialSubject.hasClaim.specifiedBy");
    assert_string_equal(str_at(spec, "learningOutcome.title.en"),
                        "back\\slash \xe2\x80\xa8 line sep \x01 ctl");
    /* an e-mail address is percent-encoded where mailto needs it (RFC 6068) */
    assert_string_equal(str_at(doc, "credentialSubject.contactPoint.emailAddress.id"),
                        "mailto:o'brien+tag%23x%3Fy%3Dz%26w%25@example.ie");
    /* codes that are not codes are left out, not written into URIs */
    assert_int_equal(json_array_len(json_object_get(spec, "thematicArea")), 1);
    langs = json_object_get(spec, "language");
    assert_int_equal(json_array_len(langs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_at(langs, 1), "id"), NULL),
                        "http://publications.europa.eu/resource/authority/language/LIT");
    assert_null(json_object_get(spec, "mode"));
    assert_null(json_object_get(spec, "volumeOfLearning"));
    assert_null(json_object_get(spec, "homepage"));
    assert_null(at(doc, "issuer.homepage"));
    /* the raw text has no unescaped control characters */
    for (const char *p = json; *p; p++)
        assert_true((unsigned char)*p >= 0x20);
    json_value_free(doc);
    free(json);
}

/* ---- recognition reads what the builder writes ---- */

static void test_recognition_reads_it(void **state)
{
    struct iss_build b = build_args(OFFER_FULL, NULL);
    struct iss_result r = RESULT;
    char *json;
    struct rec_parsed p;
    struct mcx_error err;

    (void)state;
    r.ects = 2.5; /* what the learner received wins over the course's 3 */
    b.result = &r;
    json = build_ok(&b);
    if (rec_parse_elm3(json, strlen(json), &p, &err) != 0)
        fail_msg("recognition refused it: %s at %s", err.message, err.path);
    assert_string_equal(p.issuer_id, "vdu.lt");
    assert_string_equal(p.issuer_country, "LT");
    assert_string_equal(p.credential_id, CRED_ID);
    assert_string_equal(p.title, "Data literacy");
    assert_string_equal(p.grade, "9");
    assert_string_equal(p.awarded_on, "2026-05-30");
    assert_true(p.cred.has_ects);
    assert_true(p.cred.ects == 2.5);
    assert_int_equal(p.cred.eqf, 6);
    assert_string_equal(p.cred.mode, "blended");
    assert_true(p.cred.has_qa);
    assert_int_equal(p.nisced, 2);
    assert_string_equal(p.format, "elm3");
    rec_parsed_cleanup(&p);
    free(json);
}

/* ---- the EDCI upload wrapper ---- */

static void test_upload_wrapper(void **state)
{
    struct iss_build b = build_args(OFFER_FULL, NULL);
    char *cred = build_ok(&b);
    struct buf out;
    struct json_value *doc;
    const struct json_value *addr;
    struct iss_learner no_mail = {.given_name = "Ona"};
    struct samples s;

    (void)state;
    buf_init(&out);
    assert_int_equal(iss_upload_wrapper(cred, &LEARNER, true, false, &out), 0);
    doc = parse_or_fail(out.data);
    assert_int_equal(json_object_len(doc), 2);
    assert_string_equal(json_object_key_at(doc, 0), "credential");
    assert_string_equal(str_at(doc, "credential.id"), CRED_ID);
    addr = at(doc, "deliveryDetails.deliveryAddress");
    assert_true(json_is_array(addr));
    assert_int_equal(json_array_len(addr), 1);
    assert_string_equal(json_string_value(json_array_at(addr, 0), NULL),
                        "ona.petraityte@example.lt");
    /* the credential is embedded byte for byte */
    assert_non_null(strstr(out.data, cred));
    json_value_free(doc);
    /* wallet too: still one address, EDCI finds the wallet by it */
    buf_reset(&out);
    assert_int_equal(iss_upload_wrapper(cred, &LEARNER, true, true, &out), 0);
    doc = parse_or_fail(out.data);
    assert_int_equal(json_array_len(at(doc, "deliveryDetails.deliveryAddress")), 1);
    json_value_free(doc);
    /* seal only */
    buf_reset(&out);
    assert_int_equal(iss_upload_wrapper(cred, &no_mail, false, false, &out), 0);
    doc = parse_or_fail(out.data);
    assert_int_equal(json_array_len(at(doc, "deliveryDetails.deliveryAddress")), 0);
    json_value_free(doc);
    /* refusals leave out alone */
    buf_reset(&out);
    buf_puts(&out, "KEEP");
    assert_int_equal(iss_upload_wrapper(cred, &no_mail, false, true, &out), -1);
    assert_int_equal(iss_upload_wrapper(cred, NULL, true, false, &out), -1);
    assert_int_equal(iss_upload_wrapper("{\"credential\":", &LEARNER, true, false, &out), -1);
    assert_int_equal(iss_upload_wrapper("[]", &LEARNER, true, false, &out), -1);
    assert_int_equal(iss_upload_wrapper(NULL, &LEARNER, true, false, &out), -1);
    samples_load(&s);
    assert_int_equal(iss_upload_wrapper(s.signed_text, &LEARNER, true, false, &out), -1);
    assert_string_equal(out.data, "KEEP");
    /* the EC's own unsigned sample wraps like ours */
    assert_int_equal(iss_upload_wrapper(s.unsigned_text, &LEARNER, true, false, &out), 0);
    samples_free(&s);
    buf_cleanup(&out);
    free(cred);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_canonical),
        cmocka_unit_test(test_template_minimal_and_absent),
        cmocka_unit_test(test_template_boundaries),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_template_limits),
        cmocka_unit_test(test_completeness),
        cmocka_unit_test(test_build_matches_sample),
        cmocka_unit_test(test_build_values),
        cmocka_unit_test(test_terms_in_context),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_ids_unique),
        cmocka_unit_test(test_template_precedence),
        cmocka_unit_test(test_build_sparse),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_hostile_strings),
        cmocka_unit_test(test_recognition_reads_it),
        cmocka_unit_test(test_upload_wrapper),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
