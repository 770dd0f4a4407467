/*
 * test_local.c — issuance/local.h: a credential completed the way EDCI completes it
 * when sealing (issued, issuanceDate, the issuer's eIDAS identifier from the eSeal's
 * organizationIdentifier) with every other member kept; and sealed with a key made
 * here, whose seal verifies and whose payload is the completed credential.
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
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "issuance/local.h"
#include "server/json.h"
#include "server/jsonparse.h"

#define SAMPLES MCX_SOURCE_DIR "/../shared/samples/elm/elm3/"
#define ISSUED "2026-06-01T12:00:00Z"
#define ORG_ID "VATLT-100002513"

static struct json_value *parse(const char *s, size_t len)
{
    struct mcx_error err;
    struct json_value *v = json_parse(s, len, 0, &err);

    if (v == NULL)
        fail_msg("%s", err.message);
    return v;
}

/* v written back out: how two subtrees are compared. */
static char *written(const struct json_value *v)
{
    struct buf b;
    struct json_writer w;

    buf_init(&b);
    json_writer_init(&w, &b);
    json_value_write(&w, v);
    return buf_steal(&b, NULL);
}

static void assert_same(const struct json_value *a, const struct json_value *b)
{
    char *x = written(a), *y = written(b);

    assert_string_equal(x, y);
    free(x);
    free(y);
}

static char *complete(const char *doc, size_t len, const char *org_id)
{
    struct mcx_error err;
    struct buf out;

    buf_init(&out);
    if (local_complete(doc, len, ISSUED, org_id, &out, &err) != 0)
        fail_msg("%s: %s", err.code, err.message);
    return buf_steal(&out, NULL);
}

static void test_completes_the_unsigned_sample(void **state)
{
    size_t len;
    char *src = read_file(SAMPLES "Sample-MC-Annex1-unsigned.jsonld", &len);
    char *doc = complete(src, len, ORG_ID);
    struct json_value *before = parse(src, len), *after = parse(doc, strlen(doc));
    const struct json_value *eidas, *issuer = json_object_get(after, "issuer");

    (void)state;
    assert_null(json_object_get(before, "issued")); /* what EDCI fills in */
    assert_string_equal(json_string_value(json_object_get(after, "issued"), NULL), ISSUED);
    assert_string_equal(json_string_value(json_object_get(after, "issuanceDate"), NULL), ISSUED);
    eidas = json_object_get(issuer, "eIDASIdentifier");
    assert_string_equal(json_string_value(json_object_get(eidas, "type"), NULL), "LegalIdentifier");
    assert_string_equal(json_string_value(json_object_get(eidas, "notation"), NULL), ORG_ID);
    assert_non_null(strstr(json_string_value(json_object_get(eidas, "id"), NULL),
                           "urn:epass:legalIdentifier:"));
    /* in the issuer's own country */
    assert_same(json_object_get(eidas, "spatial"),
                json_object_get(
                    json_object_get(json_object_get(json_object_get(before, "issuer"), "location"),
                                    "address"),
                    "countryCode"));
    /* everything else is kept, in order, the issuer's members included */
    assert_int_equal(json_object_len(after), json_object_len(before) + 2);
    for (size_t i = 0; i < json_object_len(before); i++) {
        const char *key = json_object_key_at(before, i);
        assert_string_equal(json_object_key_at(after, i), key);
        if (strcmp(key, "issuer") != 0)
            assert_same(json_object_value_at(before, i), json_object_value_at(after, i));
    }
    const struct json_value *was = json_object_get(before, "issuer");
    assert_int_equal(json_object_len(issuer), json_object_len(was) + 1);
    for (size_t i = 0; i < json_object_len(was); i++)
        assert_same(json_object_value_at(was, i), json_object_value_at(issuer, i));

    json_value_free(before);
    json_value_free(after);
    free(doc);
    free(src);
}

static void test_keeps_what_is_there(void **state)
{
    const char src[] = "{\"id\":\"urn:uuid:1\",\"issuanceDate\":\"2020-01-01T00:00:00Z\","
                       "\"issued\":\"2020-01-01T00:00:00Z\",\"n\":1.50e3,\"u\":\"\\u0000\\u00e9\","
                       "\"issuer\":{\"eIDASIdentifier\":{\"notation\":\"VATES-A1\"}},\"z\":[true,"
                       "null,{}]}";
    char *doc = complete(src, strlen(src), ORG_ID);

    (void)state;
    /* the dates become the sealing time where they were; an identifier already there is
     * kept; numbers keep their text; strings with NUL survive */
    assert_string_equal(doc, "{\"id\":\"urn:uuid:1\",\"issuanceDate\":\"" ISSUED "\","
                             "\"issued\":\"" ISSUED "\",\"n\":1.50e3,\"u\":\"\\u0000\xc3\xa9\","
                             "\"issuer\":{\"eIDASIdentifier\":{\"notation\":\"VATES-A1\"}},"
                             "\"z\":[true,null,{}]}");
    free(doc);
}

static void test_no_organisation_identifier(void **state)
{
    const char src[] = "{\"issuanceDate\":\"2020-01-01T00:00:00Z\",\"issuer\":{\"id\":\"o\"}}";
    char *doc = complete(src, strlen(src), "");

    (void)state;
    assert_string_equal(doc, "{\"issuanceDate\":\"" ISSUED "\",\"issued\":\"" ISSUED
                             "\",\"issuer\":{\"id\":\"o\"}}");
    free(doc);
}

static void test_refusals(void **state)
{
    const char *bad[] = {"[]", "{}", "{\"issuer\":\"x\"}", "{\"issuer\":{}", "null"};
    struct mcx_error err;
    struct buf out;

    (void)state;
    buf_init(&out);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(local_complete(bad[i], strlen(bad[i]), ISSUED, ORG_ID, &out, &err), -1);
        assert_true(strcmp(err.code, "invalid_argument") == 0 ||
                    strcmp(err.code, "malformed_json") == 0);
        assert_int_equal(out.len, 0);
    }
    buf_cleanup(&out);
}

/* An eSeal made here: a self-signed RSA certificate naming an organizationIdentifier. */
static struct jades_key *key_make(const char *dir)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    char path[256];
    struct jades_key *k = NULL;
    struct mcx_error err;
    FILE *f;

    assert_non_null(key);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"LT", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               (const unsigned char *)"Vytautas Magnus University", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "organizationIdentifier", MBSTRING_ASC,
                               (const unsigned char *)ORG_ID, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"VMU eSeal", -1, -1,
                               0);
    X509_set_subject_name(c, name);
    X509_set_issuer_name(c, name);
    X509_NAME_free(name);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600L * 24 * 365);
    X509_set_pubkey(c, key);
    assert_true(X509_sign(c, key, EVP_sha256()) > 0);
    snprintf(path, sizeof(path), "%s/eseal.pem", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(PEM_write_X509(f, c), 1);
    fclose(f);
    if (jades_key_load_pem(path, path, NULL, time(NULL), &k, &err) != 0)
        fail_msg("%s", err.message);
    unlink(path);
    X509_free(c);
    EVP_PKEY_free(key);
    return k;
}

static void test_seal_round_trip(void **state)
{
    char dir[] = "/tmp/mcx-test-local-XXXXXX";
    size_t len;
    char *src = read_file(SAMPLES "Sample-MC-Annex1-unsigned.jsonld", &len);
    char subject[JADES_SUBJECT_SIZE];
    struct jades_key *k;
    struct mcx_error err;
    struct buf sealed, payload;
    struct json_value *v;
    time_t now = time(NULL);
    char issued[32];
    struct tm tm;

    (void)state;
    assert_non_null(mkdtemp(dir));
    k = key_make(dir);
    rmdir(dir);
    assert_string_equal(jades_key_org_id(k), ORG_ID);
    assert_non_null(strstr(jades_key_subject(k), "CN=VMU eSeal"));

    buf_init(&sealed);
    buf_init(&payload);
    if (local_seal(k, src, now, &sealed, &err) != 0)
        fail_msg("%s: %s", err.code, err.message);
    if (jades_verify(sealed.data, sealed.len, &payload, subject, sizeof(subject), &err) != 0)
        fail_msg("%s: %s", err.code, err.message);
    assert_string_equal(subject, jades_key_subject(k));
    v = parse(payload.data, payload.len);
    gmtime_r(&now, &tm);
    strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_string_equal(json_string_value(json_object_get(v, "issued"), NULL), issued);
    assert_string_equal(
        json_string_value(
            json_object_get(json_object_get(json_object_get(v, "issuer"), "eIDASIdentifier"),
                            "notation"),
            NULL),
        ORG_ID);
    json_value_free(v);

    /* a document that cannot be completed is not sealed */
    buf_reset(&sealed);
    assert_int_equal(local_seal(k, "[1]", now, &sealed, &err), -1);
    assert_int_equal(sealed.len, 0);

    buf_cleanup(&sealed);
    buf_cleanup(&payload);
    jades_key_free(k);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completes_the_unsigned_sample),
        cmocka_unit_test(test_keeps_what_is_there),
        cmocka_unit_test(test_no_organisation_identifier),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_seal_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
