/*
 * test_credential.c — credentials read for recognition (recognition/credential.h):
 * the EC, DC4EU and EDCI samples give the values they carry, a sample runs through
 * the rules engine, and malformed or hostile documents give the right error code,
 * path and line.
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

#include "recognition/credential.h"
#include "recognition/rules.h"
#include "server/jsonparse.h"

#define ELM3 MCX_SOURCE_DIR "/../shared/samples/elm/elm3/"
#define ELM2 MCX_SOURCE_DIR "/../shared/samples/elm/elm2/examples/"

static void parse_file(const char *path, struct rec_parsed *p)
{
    struct mcx_error err;
    size_t len;
    char *data = read_file(path, &len);
    int rc = strstr(path, ".xml") != NULL ? rec_parse_elm2(data, len, p, &err)
                                          : rec_parse_elm3(data, len, p, &err);

    if (rc != 0)
        fail_msg("%s: %s: %s at %s line %d", path, err.code, err.message, err.path, err.line);
    free(data);
}

static void assert_isced(const struct rec_parsed *p, size_t n, ...)
{
    va_list ap;

    assert_int_equal(p->nisced, n);
    assert_int_equal(p->cred.nisced, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        assert_string_equal(p->isced[i], want);
        assert_string_equal(p->cred.isced[i], want);
    }
    va_end(ap);
}

/* The caller's fields stay for the caller; the rest points into p. */
static void assert_wired(const struct rec_parsed *p)
{
    assert_ptr_equal(p->cred.issuer, p->issuer_id);
    assert_ptr_equal(p->cred.issuer_name, p->issuer_name);
    assert_ptr_equal(p->cred.title, p->title);
    assert_ptr_equal(p->cred.grade, p->grade);
    assert_false(p->cred.issuer_known);
    assert_null(p->cred.offer_id);
    if (p->awarded_on[0] != '\0')
        assert_string_equal(p->cred.awarded_on, p->awarded_on);
    else
        assert_null(p->cred.awarded_on);
}

/* ---- ELM 3 samples ---- */

static void test_mc_annex1(void **state)
{
    struct rec_parsed p;

    (void)state;
    parse_file(ELM3 "Sample-MC-Annex1-unsigned.jsonld", &p);
    assert_wired(&p);
    assert_string_equal(p.format, "elm3");
    assert_string_equal(p.issuer_id, "uniz.edu"); /* homepage https://uniz.edu */
    assert_string_equal(p.issuer_name, "University of Zed");
    assert_string_equal(p.issuer_country, "IE");
    assert_string_equal(p.issuer_homepage, "https://uniz.edu");
    assert_string_equal(p.title, "Digital micro-credential creation");
    assert_true(p.cred.has_ects);
    assert_true(p.cred.ects == 2);
    assert_int_equal(p.cred.eqf, 6);
    assert_isced(&p, 2, "003", "0688");
    assert_string_equal(p.grade, "Pass"); /* provenBy.grade */
    /* no awarding date, no "issued" (the issuer fills it when sealing): validFrom */
    assert_string_equal(p.awarded_on, "2022-12-31");
    assert_string_equal(p.awarded_on_source, "valid_from");
    assert_string_equal(p.cred.mode, "blended");
    assert_false(p.cred.has_qa);
    assert_string_equal(p.credential_id, "urn:credential:3ef0ac26-9a1f-41c6-871b-2b82e670907b");
    assert_string_equal(p.specification_id, "urn:epass:qualification:1");
    assert_null(p.opportunity_id);
    assert_int_equal(p.nclaims, 1);
    assert_false(p.is_sealed);
    rec_parsed_cleanup(&p);
    rec_parsed_cleanup(&p); /* cleanup leaves it empty: twice is harmless */
}

static void test_mc_annex1_sealed(void **state)
{
    struct rec_parsed p;

    (void)state;
    parse_file(ELM3 "Sample-MC-Annex1-signed.jsonld", &p);
    assert_wired(&p);
    assert_true(p.is_sealed);
    assert_string_equal(p.issuer_id, "uniz.edu");
    assert_string_equal(p.issuer_name, "ORGANIZACION TEST");
    assert_string_equal(p.title, "Digital micro-credential creation");
    assert_true(p.cred.ects == 2);
    assert_int_equal(p.cred.eqf, 6);
    assert_isced(&p, 2, "003", "0688");
    assert_string_equal(p.grade, "Pass");
    assert_string_equal(p.awarded_on, "2023-09-27"); /* issued 2023-09-27T13:54:17+02:00 */
    assert_string_equal(p.awarded_on_source, "issued");
    assert_string_equal(p.credential_id, "urn:credential:1018d05f-21d5-4555-b7f0-8fabfd22ca75");
    rec_parsed_cleanup(&p);
}

static void assert_cert_of_part(const struct rec_parsed *p)
{
    assert_wired(p);
    assert_string_equal(p->issuer_id, "europa.eu");
    assert_string_equal(p->issuer_name, "European Digital Credentials for Learning Support Team");
    assert_string_equal(p->issuer_country, "BE");
    assert_string_equal(p->title, "EDC Updates Webinar");
    assert_false(p->cred.has_ects); /* a LearningActivity claim states no credits */
    assert_int_equal(p->cred.eqf, 0);
    assert_isced(p, 0);
    assert_null(p->grade);
    assert_string_equal(p->cred.mode, "online");
    assert_string_equal(p->awarded_on, "2023-06-28");
    assert_string_equal(p->specification_id, "urn:epass:learningActivitySpec:1");
    assert_int_equal(p->nclaims, 1);
}

static void test_cert_of_part(void **state)
{
    struct rec_parsed p;

    (void)state;
    parse_file(ELM3 "Sample-CertOfPart-unsigned.jsonld", &p);
    assert_cert_of_part(&p);
    rec_parsed_cleanup(&p);
    parse_file(ELM3 "Sample-CertOfPart-unsigned-uploadable.json", &p); /* {"credential": …} */
    assert_cert_of_part(&p);
    rec_parsed_cleanup(&p);
}

static void test_v32(void **state)
{
    struct rec_parsed p;

    (void)state;
    parse_file(ELM3 "credential-sample-v3.2.jsonld", &p);
    assert_wired(&p);
    /* an example.org issuer with no homepage or SCHAC identifier: matched by name */
    assert_null(p.issuer_id);
    assert_string_equal(p.issuer_name, "some legal name");
    assert_string_equal(p.issuer_country, "FR");
    assert_string_equal(p.title, "some kind of learning achievement");
    assert_false(p.cred.has_ects);
    assert_string_equal(p.awarded_on, "2010-01-01");
    assert_string_equal(p.awarded_on_source, "issued");
    assert_string_equal(p.credential_id, "http://example.org/credential132");
    assert_null(p.specification_id);
    rec_parsed_cleanup(&p);
}

/* DC4EU converter output: no issuer (the awarding body stands in), a SCHAC
 * identifier, creditReceived, grades on awardedBy.used, two claims. */
static void test_dc4eu_transcript(void **state)
{
    struct rec_parsed p;

    (void)state;
    parse_file(ELM3 "dc4eu-HE-ToR-uio-elmo-1.7.json", &p);
    assert_wired(&p);
    assert_string_equal(p.issuer_id, "uio.no");
    assert_string_equal(p.issuer_name, "University of Oslo");
    assert_string_equal(p.issuer_country, "NO");
    assert_string_equal(p.title, "Testing");
    assert_true(p.cred.ects == 20);
    assert_int_equal(p.cred.eqf, 7);
    assert_isced(&p, 1, "0613");
    assert_string_equal(p.grade, "A");
    assert_string_equal(p.awarded_on, "2019-07-15");
    assert_string_equal(p.awarded_on_source, "awarding_date");
    assert_null(p.cred.mode);
    assert_int_equal(p.nclaims, 2);
    assert_null(p.credential_id);
    rec_parsed_cleanup(&p);

    parse_file(ELM3 "dc4eu-HE-diploma-degreeHBO-M.json", &p);
    assert_string_equal(p.issuer_id, "duo.nl");
    assert_string_equal(p.issuer_name, "ArtEZ");
    assert_string_equal(p.issuer_country, "NL");
    assert_string_equal(p.title, "HBO Master Architectuur");
    assert_int_equal(p.cred.eqf, 7);
    assert_false(p.cred.has_ects);
    assert_string_equal(p.grade, "passed");
    assert_string_equal(p.awarded_on, "2004-03-31");
    rec_parsed_cleanup(&p);
}

/* ---- ELM 2 samples ---- */

static void test_elm2_degree(void **state)
{
    struct rec_parsed p;

    (void)state;
    parse_file(ELM2 "EDC_SampleDegree_AA.xml", &p);
    assert_wired(&p);
    assert_string_equal(p.format, "elm2");
    assert_string_equal(p.issuer_id, "unig.hr"); /* https://www.unig.hr/ */
    assert_string_equal(p.issuer_name, "University Great");
    assert_string_equal(p.issuer_country, "HR");
    assert_string_equal(p.title, "Master of Science in Civil Engineering");
    assert_true(p.cred.ects == 120);
    assert_int_equal(p.cred.eqf, 5);
    assert_isced(&p, 2, "071", "054");
    assert_string_equal(p.grade, "excellent (5)");
    assert_string_equal(p.awarded_on, "2019-09-20");
    assert_string_equal(p.awarded_on_source, "awarding_date");
    assert_string_equal(p.cred.mode, "onsite");
    assert_false(p.cred.has_qa);
    assert_string_equal(p.specification_id, "urn:epass:qualification:6");
    assert_string_equal(p.homepage, "http://www.unix.edu/AchievementSpec72");
    assert_string_equal(p.credential_id, "urn:credential:ab962d58-9ffd-4197-be23-f9448df9c953");
    assert_int_equal(p.nclaims, 1);
    rec_parsed_cleanup(&p);
}

static void test_elm2_activity(void **state)
{
    struct rec_parsed p;

    (void)state;
    parse_file(ELM2 "EDC_SampleACT_AA.xml", &p);
    assert_wired(&p);
    assert_string_equal(p.issuer_id, "stp.es");
    assert_string_equal(p.issuer_name, "Spanish Training Provider");
    assert_string_equal(p.issuer_country, "ES");
    assert_string_equal(p.title, "InfoDay 2021");
    assert_string_equal(p.cred.mode, "online");
    assert_false(p.cred.has_ects);
    assert_null(p.grade);
    assert_string_equal(p.awarded_on, "2022-02-02");
    assert_string_equal(p.awarded_on_source, "issued");
    rec_parsed_cleanup(&p);
}

static void test_elm2_no_claim(void **state)
{
    struct rec_parsed p;
    struct mcx_error err;
    size_t len;
    char *data = read_file(ELM2 "EDC_WileECoyote_Simple.xml", &len);

    (void)state;
    assert_int_equal(rec_parse_elm2(data, len, &p, &err), -1);
    assert_string_equal(err.code, "invalid_credential");
    assert_string_equal(err.path, "/europassCredential/credentialSubject");
    assert_int_equal(err.line, 21);
    assert_non_null(strstr(err.message, "no learning achievement or activity"));
    assert_null(p.title);
    free(data);
}

/* A SCHAC identifier wins over the homepage; an accreditation is quality assurance. */
static void test_elm2_minimal(void **state)
{
    static const char doc[] =
        "<?xml version=\"1.0\"?>\n"
        "<europassCredential xmlns=\"http://data.europa.eu/snb\" "
        "xmlns:cred=\"http://data.europa.eu/europass/model/credentials/w3c#\" "
        "cred:id=\"urn:c:1\">\n"
        "<cred:issued>2026-02-20T10:00:00Z</cred:issued>\n"
        "<cred:issuer idref=\"o1\"/>\n"
        "<credentialSubject id=\"p1\"><achievements>\n"
        "<learningAchievement id=\"a1\"><title><text lang=\"lt\">Duomenys</text>"
        "<text lang=\"en\">Data literacy</text></title>"
        "<wasDerivedFrom id=\"x\"><grade> 9 </grade></wasDerivedFrom>"
        "<specifiedBy idref=\"s1\"/></learningAchievement>\n"
        "<learningAchievement id=\"a2\"><title><text lang=\"en\">Other</text></title>"
        "</learningAchievement>\n"
        "</achievements></credentialSubject>\n"
        "<learningSpecificationReferences><learningSpecification id=\"s1\">"
        "<hasISCED-FCode uri=\"http://data.europa.eu/snb/isced-f/0688\"/>"
        "<hasECTSCreditPoints> 3.5 </hasECTSCreditPoints>"
        "<mode uri=\"http://data.europa.eu/snb/learning-assessment/ed4c557045\"/>"
        "<mode uri=\"http://data.europa.eu/snb/learning-assessment/920fbb3cbe\"/>"
        "<hasAccreditation idref=\"acc1\"/>"
        "</learningSpecification></learningSpecificationReferences>\n"
        "<agentReferences><organization id=\"o1\">"
        "<identifier schemeID=\"SCHAC\">VDU.lt</identifier>"
        "<prefLabel><text lang=\"lt\">Vytauto Did\xc5\xbeiojo universitetas</text></prefLabel>"
        "<homepage uri=\"https://www.example.com/\"/>"
        "</organization></agentReferences>\n"
        "</europassCredential>\n";
    struct rec_parsed p;
    struct mcx_error err;

    (void)state;
    assert_int_equal(rec_parse_elm2(doc, sizeof(doc) - 1, &p, &err), 0);
    assert_string_equal(p.issuer_id, "vdu.lt");
    assert_string_equal(p.issuer_name, "Vytauto Did\xc5\xbeiojo universitetas");
    assert_null(p.issuer_country);
    assert_string_equal(p.title, "Data literacy");
    assert_string_equal(p.grade, "9");
    assert_true(p.cred.ects == 3.5);
    assert_isced(&p, 1, "0688");
    assert_string_equal(p.cred.mode, "online"); /* research-lab based has no mcx mode */
    assert_true(p.cred.has_qa);
    assert_string_equal(p.awarded_on, "2026-02-20");
    assert_int_equal(p.nclaims, 2);
    rec_parsed_cleanup(&p);
}

/* ---- end to end: a sample through the rules engine ---- */

static void test_sample_proposal(void **state)
{
    static const char *const parties[] = {"vdu.lt", "uniz.edu"};
    static const char *const isced[] = {"06"};
    static const char *const modes[] = {"online", "blended"};
    static const struct rec_rule rules[] = {{.as = REC_AS_ELECTIVE, .max_credits_per_term = 15}};
    static const struct rec_grade_map_entry entries[] = {{"Pass", "pass"}};
    struct rec_grade_map maps[] = {{"uniz.edu", entries, 1}};
    struct rec_agreement a = {.id = "a1",
                              .title = "Zed exchange",
                              .parties = parties,
                              .nparties = 2,
                              .valid_from = "2022-01-01",
                              .active = true,
                              .rules = rules,
                              .nrules = 1};
    struct rec_target t = {"vdu.lt", NULL, NULL};
    struct rec_parsed p;
    struct rec_proposal out;

    (void)state;
    a.scope.isced = isced;
    a.scope.nisced = 1;
    a.scope.eqf_min = 5;
    a.scope.eqf_max = 7;
    a.scope.ects_min = 2;
    a.scope.modes = modes;
    a.scope.nmodes = 2;
    a.grades.method = REC_GRADES_MAP;
    a.grades.maps = maps;
    a.grades.nmaps = 1;
    parse_file(ELM3 "Sample-MC-Annex1-unsigned.jsonld", &p);
    p.cred.issuer_known = true;
    rec_propose(&p.cred, &a, 1, &t, 0, "2026-03-15", &out);
    assert_int_equal(out.outcome, REC_RECOGNISED);
    assert_true(out.credits == 2);
    assert_string_equal(out.grade, "pass");
    assert_string_equal(out.agreement_id, "a1");

    /* the sample shows no quality assurance */
    a.scope.requires_qa = true;
    rec_propose(&p.cred, &a, 1, &t, 0, "2026-03-15", &out);
    assert_int_equal(out.outcome, REC_NEEDS_REVIEW);
    assert_int_equal(out.nreasons, 1);
    assert_string_equal(out.reasons[0].code, "qa_missing");
    rec_parsed_cleanup(&p);

    /* a certificate of participation states no ECTS: named, not guessed */
    a.scope.requires_qa = false;
    parse_file(ELM3 "Sample-CertOfPart-unsigned.jsonld", &p);
    p.cred.issuer = "uniz.edu"; /* as if the caller matched it by name */
    p.cred.issuer_known = true;
    rec_propose(&p.cred, &a, 1, &t, 0, "2026-03-15", &out);
    assert_int_equal(out.outcome, REC_NEEDS_REVIEW);
    assert_string_equal(out.reasons[0].code, "missing_element");
    rec_parsed_cleanup(&p);
}

static void test_json(void **state)
{
    struct rec_parsed p;
    struct buf b;
    struct mcx_error err;
    struct json_value *v;

    (void)state;
    parse_file(ELM3 "dc4eu-HE-ToR-uio-elmo-1.7.json", &p);
    buf_init(&b);
    rec_parsed_write_json(&p, &b);
    v = json_parse(b.data, b.len, 0, &err);
    assert_non_null(v);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "issuer"), "id"), NULL), "uio.no");
    assert_string_equal(json_number_text(json_object_get(v, "ects")), "20");
    assert_string_equal(json_number_text(json_object_get(v, "eqf")), "7");
    assert_string_equal(json_string_value(json_array_at(json_object_get(v, "isced"), 0), NULL),
                        "0613");
    assert_true(json_is_null(json_object_get(v, "mode")));
    assert_string_equal(json_number_text(json_object_get(v, "claims")), "2");
    json_value_free(v);
    buf_cleanup(&b);
    rec_parsed_cleanup(&p);
}

/* A request body carries the credential as a member: read from the caller's tree. */
static void test_from_tree(void **state)
{
    static const char body[] =
        "{\"target\": {\"institution\": \"vdu.lt\"},\n"
        " \"credential\": {\"type\": \"VerifiableCredential\",\n"
        "   \"credentialSubject\": {\"hasClaim\": {\"type\": \"LearningAchievement\",\n"
        "     \"specifiedBy\": {\"creditPoint\": {\"framework\": {\"id\": "
        "\"http://data.europa.eu/snb/education-credit/6fcec5c5af\"}, \"point\": \"x\"}}}}}}";
    struct mcx_error err;
    struct json_value *v = json_parse(body, strlen(body), 0, &err);
    struct rec_parsed p;

    (void)state;
    assert_non_null(v);
    assert_int_equal(
        rec_parse_elm3_value(json_object_get(v, "credential"), body, strlen(body), &p, &err), -1);
    assert_string_equal(err.code, "invalid_credential");
    assert_string_equal(err.path, "/credentialSubject/hasClaim/specifiedBy/creditPoint/point");
    assert_int_equal(err.line, 4);
    json_value_free(v);
}

/* ---- bad documents ---- */

struct bad_case {
    const char *doc;
    const char *code;
    const char *path; /* NULL: not checked */
    const char *in_message;
    int line; /* 0: not checked */
};

static const struct bad_case bad_json[] = {
    {"{", "malformed_json", NULL, NULL, 0},
    {"", "malformed_json", NULL, NULL, 0},
    {"[]", "invalid_credential", "", "expected a JSON-LD object", 1},
    {"\"text\"", "invalid_credential", "", "expected a JSON-LD object", 0},
    {"{\"type\": \"Person\"}", "invalid_credential", "/type", "not a Verifiable Credential", 1},
    {"{\"@context\": []}", "invalid_credential", "/type", "not a Verifiable Credential", 0},
    {"{\"type\": [\"VerifiableCredential\"]}", "invalid_credential", "/credentialSubject",
     "no credentialSubject", 0},
    {"{\"type\": \"VerifiableCredential\", \"credentialSubject\": \"me\"}", "invalid_credential",
     "/credentialSubject", "no credentialSubject", 0},
    {"{\"type\": \"VerifiableCredential\",\n \"credentialSubject\": {\"id\": \"p\"}}",
     "invalid_credential", "/credentialSubject/hasClaim", "no learning achievement", 2},
    {"{\"type\": \"VerifiableCredential\", \"credentialSubject\": {\"hasClaim\": [1, \"x\"]}}",
     "invalid_credential", "/credentialSubject/hasClaim", "no learning achievement", 0},
    {"{\"type\": \"EuropeanDigitalCredential\", \"credentialSubject\": [{\"hasClaim\": {"
     "\"specifiedBy\": {\"eqfLevel\": {\"id\": \"http://data.europa.eu/snb/eqf/9\"}}}}]}",
     "invalid_credential", "/credentialSubject/0/hasClaim/specifiedBy/eqfLevel", "1 to 8", 0},
    {"{\"type\": \"VerifiableCredential\", \"credentialSubject\": {\"hasClaim\": [{"
     "\"creditReceived\": [{\"framework\": \"http://data.europa.eu/snb/education-credit/"
     "6fcec5c5af\", \"point\": -3}]}]}}",
     "invalid_credential", "/credentialSubject/hasClaim/0/creditReceived/0/point", "decimal", 0},
    {"{\"type\": \"VerifiableCredential\", \"issued\": \"yesterday\",\n"
     " \"credentialSubject\": {\"hasClaim\": {\"title\": \"x\"}}}",
     "invalid_credential", "/issued", "expected a date", 1},
    {"{\"type\": \"VerifiableCredential\", \"credentialSubject\": {\"hasClaim\": {\"awardedBy\": "
     "{\"awardingDate\": \"2023-02-30\"}}}}",
     "invalid_credential", "/credentialSubject/hasClaim/awardedBy/awardingDate", "date", 0},
    {"{\"type\": \"VerifiableCredential\", \"issuer\": 42, \"credentialSubject\": {}}",
     "invalid_credential", "/issuer", "organisation", 0},
    {"{\"payload\": \"not json\", \"signatures\": []}", "invalid_credential", "/payload",
     "sealed payload is not a JSON credential", 1},
    {"{\"payload\": \"{\\\"type\\\": \\\"VerifiableCredential\\\"}\", \"signatures\": []}",
     "invalid_credential", "/credentialSubject", "signed payload: the credential has no", 0},
    {"{\"credential\": {\"type\": \"VerifiableCredential\", \"credentialSubject\": {}}}",
     "invalid_credential", "/credential/credentialSubject/hasClaim", NULL, 0},
};

static void run_bad(int (*parse)(const char *, size_t, struct rec_parsed *, struct mcx_error *),
                    const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &cases[i];
        struct rec_parsed p;
        struct mcx_error err;

        if (parse(c->doc, strlen(c->doc), &p, &err) != -1)
            fail_msg("accepted: %s", c->doc);
        if (strcmp(err.code, c->code) != 0 || (c->path != NULL && strcmp(err.path, c->path)) ||
            (c->in_message != NULL && strstr(err.message, c->in_message) == NULL) ||
            (c->line != 0 && err.line != c->line))
            fail_msg("%s\n  gave %s \"%s\" at \"%s\" line %d", c->doc, err.code, err.message,
                     err.path, err.line);
        assert_null(p.title); /* left empty */
        assert_null(p.isced);
    }
}

static void test_bad_json(void **state)
{
    (void)state;
    run_bad(rec_parse_elm3, bad_json, MCX_ARRAY_LEN(bad_json));
}

static const struct bad_case bad_xml[] = {
    {"<europassCredential", "malformed_xml", NULL, "ELM 2 credential", 0},
    {"", "malformed_xml", NULL, "empty", 0},
    {"<?xml version=\"1.0\"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n"
     "<europassCredential xmlns=\"http://data.europa.eu/snb\">&e;</europassCredential>",
     "malformed_xml", NULL, "DOCTYPE is not allowed", 0},
    {"<Courses xmlns=\"http://data.europa.eu/snb/model/ap/loq-constraints/\"/>",
     "invalid_credential", "/Courses", "not an ELM 2 europassCredential", 1},
    {"<europassCredential xmlns=\"http://data.europa.eu/snb\"/>", "invalid_credential",
     "/europassCredential", "no credentialSubject", 1},
    {"<europassCredential xmlns=\"http://data.europa.eu/snb\">\n<credentialSubject>"
     "<achievements><learningAchievement><specifiedBy idref=\"s\"/></learningAchievement>"
     "</achievements></credentialSubject>\n<learningSpecificationReferences>\n"
     "<qualification id=\"s\"><hasECTSCreditPoints>lots</hasECTSCreditPoints>"
     "<eqfLevel uri=\"http://data.europa.eu/snb/eqf/5\"/></qualification>\n"
     "</learningSpecificationReferences></europassCredential>",
     "invalid_credential",
     "/europassCredential/learningSpecificationReferences/qualification/hasECTSCreditPoints",
     "decimal", 4},
    {"<europassCredential xmlns=\"http://data.europa.eu/snb\"><credentialSubject>"
     "<activities><activity><wasAwardedBy idref=\"w\"/></activity></activities>"
     "</credentialSubject><awardingProcessReferences><awardingProcess id=\"w\">"
     "<date>soon</date></awardingProcess></awardingProcessReferences></europassCredential>",
     "invalid_credential", "/europassCredential/awardingProcessReferences/awardingProcess/date",
     "date", 1},
};

static void test_bad_xml(void **state)
{
    (void)state;
    run_bad(rec_parse_elm2, bad_xml, MCX_ARRAY_LEN(bad_xml));
}

/* Deep nesting, huge documents, wrong types everywhere, NULs and huge strings. */
static void test_hostile(void **state)
{
    struct rec_parsed p;
    struct mcx_error err;
    struct buf b;

    (void)state;
    buf_init(&b);
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "[");
    assert_int_equal(rec_parse_elm3(b.data, b.len, &p, &err), -1);
    assert_string_equal(err.code, "malformed_json");

    buf_reset(&b);
    buf_puts(&b, "<europassCredential xmlns=\"http://data.europa.eu/snb\">");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "<a>");
    assert_int_equal(rec_parse_elm2(b.data, b.len, &p, &err), -1);
    assert_string_equal(err.code, "malformed_xml");
    assert_non_null(strstr(err.message, "deeper"));

    assert_int_equal(rec_parse_elm3("{}", REC_CREDENTIAL_MAX_BYTES + 1, &p, &err), -1);
    assert_string_equal(err.code, "too_large");
    assert_int_equal(rec_parse_elm2("<a/>", REC_CREDENTIAL_MAX_BYTES + 1, &p, &err), -1);
    assert_string_equal(err.code, "too_large");

    /* every field of the wrong type: nothing read, nothing invented */
    static const char wrong[] =
        "{\"type\": [\"VerifiableCredential\", 7], \"issued\": null, \"issuer\": {\"legalName\": 5,"
        " \"homepage\": 7, \"identifier\": \"x\", \"location\": [1, {\"address\": \"x\"}]},"
        " \"credentialSubject\": {\"hasClaim\": {\"title\": [1, {}], \"provenBy\": \"x\","
        " \"awardedBy\": [], \"learningOpportunity\": 3, \"specifiedBy\": {\"thematicArea\": 5,"
        " \"mode\": [null, {}], \"eqfLevel\": {}, \"creditPoint\": \"2\", \"homepage\": {},"
        " \"id\": 4, \"title\": {\"en\": [\"Title in an array\"]}}}}}";
    assert_int_equal(rec_parse_elm3(wrong, strlen(wrong), &p, &err), 0);
    assert_null(p.issuer_id);
    assert_null(p.issuer_name);
    assert_string_equal(p.title, "Title in an array");
    assert_false(p.cred.has_ects);
    assert_int_equal(p.cred.eqf, 0);
    assert_null(p.cred.mode);
    assert_null(p.grade);
    assert_null(p.awarded_on_source);
    assert_null(p.cred.awarded_on);
    rec_parsed_cleanup(&p);

    /* a NUL inside a string is not a C string: dropped; a huge title is cut */
    buf_reset(&b);
    buf_puts(&b, "{\"type\": \"VerifiableCredential\", \"issuer\": {\"legalName\": \"A\\u0000B\","
                 " \"homepage\": \"https://user@evil.example/\"}, \"credentialSubject\": "
                 "{\"hasClaim\": {\"title\": \"");
    for (int i = 0; i < 5000; i++)
        buf_puts(&b, "\xc5\xb3"); /* ų */
    buf_puts(&b, "\", \"provenBy\": {\"grade\": {\"noteLiteral\": {\"und\": \" B+ \"}}}}}}");
    assert_int_equal(rec_parse_elm3(b.data, b.len, &p, &err), 0);
    assert_null(p.issuer_name);
    assert_null(p.issuer_id); /* a URL with user info is no SCHAC code */
    assert_true(strlen(p.title) <= 1024);
    assert_int_equal(strlen(p.title) % 2, 0); /* whole characters */
    assert_string_equal(p.grade, "B+");
    rec_parsed_cleanup(&p);
    buf_cleanup(&b);
}

/* What passes for a SCHAC code from homepages and identifiers. */
static void test_issuer_ids(void **state)
{
    static const struct {
        const char *homepage, *want;
    } cases[] = {
        {"https://www.VDU.lt/en/", "vdu.lt"},  {"http://uab.cat", "uab.cat"},
        {"https://uab.cat:8443/x", "uab.cat"}, {"https://localhost/", NULL},
        {"https://10.0.0.1/", NULL},           {"ftp://uab.cat/", NULL},
        {"https://-bad.cat/", NULL},           {"https://a..cat/", NULL},
        {"urn:epass:webResource:2", NULL},
    };
    struct rec_parsed p;
    struct mcx_error err;
    struct buf b;

    (void)state;
    buf_init(&b);
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        buf_reset(&b);
        buf_printf(
            &b,
            "{\"type\": \"VerifiableCredential\", \"issuer\": {\"homepage\": {\"contentURL\":"
            " \"%s\"}}, \"credentialSubject\": {\"hasClaim\": {}}}",
            cases[i].homepage);
        assert_int_equal(rec_parse_elm3(b.data, b.len, &p, &err), 0);
        if (cases[i].want == NULL && p.issuer_id != NULL)
            fail_msg("%s gave %s", cases[i].homepage, p.issuer_id);
        if (cases[i].want != NULL &&
            (p.issuer_id == NULL || strcmp(p.issuer_id, cases[i].want) != 0))
            fail_msg("%s gave %s", cases[i].homepage, p.issuer_id ? p.issuer_id : "NULL");
        rec_parsed_cleanup(&p);
    }
    buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mc_annex1),
        cmocka_unit_test(test_mc_annex1_sealed),
        cmocka_unit_test(test_cert_of_part),
        cmocka_unit_test(test_v32),
        cmocka_unit_test(test_dc4eu_transcript),
        cmocka_unit_test(test_elm2_degree),
        cmocka_unit_test(test_elm2_activity),
        cmocka_unit_test(test_elm2_no_claim),
        cmocka_unit_test(test_elm2_minimal),
        cmocka_unit_test(test_sample_proposal),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_from_tree),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_xml),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_issuer_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
