/*
 * test_httpsig.c — server/httpsig.h: sign → verify round trips, every rejection reason,
 * the strict Signature parser (table-driven), signing strings against the
 * draft-cavage-http-signatures Appendix C vectors, keyIds against the EWP Registry's
 * published fingerprint and the openssl CLI, a signature against one the openssl CLI
 * made (RSASSA-PKCS1-v1_5 is deterministic), HTTP-dates, Digest lists and key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "server/httpsig.h"
#include "server/util.h"

/*
 * A fixed RSA-2048 test key (made with `openssl genpkey -algorithm RSA -pkeyopt
 * rsa_keygen_bits:2048`; it protects nothing). Its keyId, computed independently:
 *   openssl pkey -in fixed.pem -pubout -outform DER | openssl dgst -sha256 -r
 *   c91a063f72c64a60a23b818d29b927999e4e86396a35b19252883676e00c92f3
 */
static const char fixed_private_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC/WMKDpozxiwnt\n"
    "xAkMg2xlOAyZf+zvrHZevABfOXrk8kagXTq8j7eMUWGhGdLaAueAv5eNVfBA3aaU\n"
    "y6sCSagX3TIAVXy7HW4H+zGb/D8gwnv1zRrcZAA6T7ELrbI0kMlZ1OlO6JjKHPPc\n"
    "1lHbDVBOex04QeeZbWhx33sRNRWitYjO57b0SVi17hSEXgLOrOJr2mqW7lQ6PT4q\n"
    "yAr4HVJA0cstkIA1IJaWvNcvdmo/zq2Q4RMpKfelJFdHN05+NSvMrOi0DoDYi7vu\n"
    "tFK1OKtLoq4QeiIxXLxozpdszZDhAqOP26n0cQXhfMqRt5grQGw0YQETRFllNqsQ\n"
    "I4WRd8y9AgMBAAECggEADAGVlu13kN0LXvFlgJ+rHgDHKEcyxpPONkHao3RNBe+T\n"
    "xz0s/Hw8up+381lWSxqn4a1j5NjnGH2FQHc1FZF/QXFo0UThQjEQYIzTlI4z0dTn\n"
    "h/P6Laj9VgCpGGqqMLUtr9F1tYn6XaLfxFQS/R6Ckvdo98je2i2CF7RmREf4lxBs\n"
    "GvWopXsXrz+x81FXnmyYR6R+VVNXKWHKS7fVHifeEp5RmcDIbMPHlwNn47Enuth6\n"
    "P+cJViTSZYvLyjjQxtF7o6Zxg2RsAatBceb8Su0gricrLRIofcX4uPE9wwl3n8wR\n"
    "jmWdwqTEk2e+axw6SebIrQejT5dv5FSfrG4hdX2UywKBgQDtpP4fYHKezQKQI2Px\n"
    "Tr7k3kikrWDFPu1/XwefexWap8Hqu0jmaudEXf8RbIUlE9GPiluPW9v+gn5yIxlZ\n"
    "OJBD//bzLS90W2eMlKCZvJfTBDe9Xug+vpyCZuiWeGHAUwnuI6HlkYbRczZCKHl0\n"
    "f8lIUbnNPVxtrb3wujgyZlhLcwKBgQDOIE8SAzpamRjDeQUXYGUZ78IwC+AZHtdI\n"
    "VfqzOhDynaejmUdkfKcYS+p3fcvBqNuhAW4U/Q3b75kPZnaRGLjPCO/IfFgOgaYa\n"
    "QjJMSoS1qzsrsh6m47QGZ2qs93+0i2A/JvJXX5J26FYWLv6oGOy2hCRX8GvUCHP8\n"
    "ZPno30DbDwKBgFsaOWGF8+r05Nqk9pd3fK74mBipbsOvEBUYNS/qW6niTfDSw2ux\n"
    "597JuhLP62r/YgMJI3id2oSDOj4/PmR5zrSC2AT5eYu9zsCR6c+GAR4gK84pKBeF\n"
    "szI6iUfF9pNoQhJNDq+XTnvVEyPhqE4E/wD+c6A+ucRCKuKyQQDxQ0AJAoGBAII+\n"
    "A/g7tel9BxqsIz1sGTXUOv0k48q7pAf+29PXgtHqL/y9Y1DpOqOthE9QWyjYyz3m\n"
    "q2nzo4gu0qXadlykJFIdMXWarAEuhofc/+8YvtYTheXMPHXzNtM9ETiNglHQJ1aA\n"
    "A2yV5PPhRlPqCdqpNRj2UgiGz3tAhBkcrJQqTM6dAoGBAOyQFRmiP0wPun9j2uEo\n"
    "avGYdv3BMsNbfFX33GylyRyWBDsNP8M4ccW+Gn4Da03muDXrzsFL4IydBadL1BAK\n"
    "2ZH4iEUMELniSZlkQ4q+6rDtHk8wLDDIH/Lo4wD5aRArhZbYgRIIm/vnqH56SeWO\n"
    "Ui5S/vLpCWmrdS7hIn5SmwLa\n"
    "-----END PRIVATE KEY-----\n";

static const char fixed_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv1jCg6aM8YsJ7cQJDINs\n"
    "ZTgMmX/s76x2XrwAXzl65PJGoF06vI+3jFFhoRnS2gLngL+XjVXwQN2mlMurAkmo\n"
    "F90yAFV8ux1uB/sxm/w/IMJ79c0a3GQAOk+xC62yNJDJWdTpTuiYyhzz3NZR2w1Q\n"
    "TnsdOEHnmW1ocd97ETUVorWIzue29ElYte4UhF4Czqzia9pqlu5UOj0+KsgK+B1S\n"
    "QNHLLZCANSCWlrzXL3ZqP86tkOETKSn3pSRXRzdOfjUrzKzotA6A2Iu77rRStTir\n"
    "S6KuEHoiMVy8aM6XbM2Q4QKjj9up9HEF4XzKkbeYK0BsNGEBE0RZZTarECOFkXfM\n"
    "vQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

#define FIXED_KEY_ID "c91a063f72c64a60a23b818d29b927999e4e86396a35b19252883676e00c92f3"

/*
 * The RSA-2048 key of the EWP samples (discovery/manifest-example.xml and
 * catalogue-example.xml); the Registry publishes its fingerprint as
 * sha-256="5531f9a02c44a894d0b706961259fec740ad4ae8a3555871f1a5cd9801285bd4".
 */
static const char ewp_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAkQojIPtX+BYGGC2f1zXr\n"
    "U3ijq5oApW6YA+mSiB3p5pEQRUuvIHKbSKRXQaW/5hORYpWU1GzU2Wq99vykjX9b\n"
    "8GQlM+0xbFP0cILIhjz23R0Q53mKcf2xAzQt2b3f56QOnjUaKbXsuB+ejTLAtQ4D\n"
    "yKYSodCzUFkuUZUw+TK7G9ySMbcVHqrG8qDCw3/7CXkN0Wf9HpSnYP5fwd426fay\n"
    "u6RXGeX5vUuX5BJkjsxoL8Smn7TB31LSFn3LbQLzG4UuxGaGgHWZCMSC35dX2d3z\n"
    "4zcpZxgyN8LNWXCf4g95b20Ljsbnvk1dIUTJtRJJ29zbWXcgXgVl69UKQx8NxXIx\n"
    "6wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

#define EWP_KEY_ID "5531f9a02c44a894d0b706961259fec740ad4ae8a3555871f1a5cd9801285bd4"

/*
 * draft-cavage-http-signatures Appendix C: the RSA-1024 "Test" public key and its
 * signatures. The EWP Registry's own tests (FakeInternetTest) check the same three;
 * each was also checked here with `openssl dgst -sha256 -verify`.
 */
static const char cavage_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3\n"
    "6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6\n"
    "Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw\n"
    "oYi+1hqp1fIekaxsyQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

#define CAVAGE_C1_SIG                                                                              \
    "SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7" \
    "q25WqS+lavg7T8hc0GppauB6hbgEKTwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM="
#define CAVAGE_C2_SIG                                                                              \
    "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3HMbe" \
    "8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0="
#define CAVAGE_C3_SIG                                                                              \
    "vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEU" \
    "HFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE="

/* The request every round trip uses; NOW is Thu, 01 Jan 2026 00:00:00 GMT. */
#define NOW ((time_t)1767225600)
#define HOST "mcx.example.org"
#define TARGET "/api/v1/institutions/vdu.lt/offers/LO-1?x=1"
#define BODY "{\"hello\": \"world\"}"
#define BODY_DIGEST "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=" /* Appendix C too */
#define REQUEST_ID "dc05b425-4e86-4106-8dde-1257fccf53e5"                  /* EWP's example */

/*
 * The signature of that request (headers "(request-target) host date digest
 * x-request-id", the signing string written out in test_sign_known_answer) made
 * independently: printf '%s' "$signing_string" | openssl dgst -sha256 -sign fixed.pem
 * | base64 -w0
 */
#define KNOWN_SIG                                                                                  \
    "QYDncyA8Cd0JfG54Huecm08smOTZ+3aT7lO3kZ2vn4f6a+qwLqs8YUUvbXQKI9VCxR2lCwF0IbqKWI4XXBSKvYbPAY+o" \
    "xMuGsK8YJzb579ek+/t9ULMOXkKMLxRlfdv6QquynrYlHEYT44UGzjdOfWkFaMEz4SsnlWe/qtletngyPF0VRlmBVwMy" \
    "wBkCuzeV9QcQ940eed+jJW12crfZ7NcqwKIshe44gysRGX0Aqkm/pj1f1w6sjCiqoSYqBUfIrhC7KSPAeq+dNWZ0Rhz"  \
    "FW4mnGUfU0lRwvbBtuqNoLZHkaH7YPy+YjNxP5MJj7HE0MX5OWsJ9n5XQweHXwbxgcQ=="

static EVP_PKEY *g_priv, *g_pub, *g_cavage, *g_ewp;

/* ---- a request's headers as a table ---- */

#define MAX_HDRS 24

struct hdrs {
    const char *name[MAX_HDRS];
    const char *value[MAX_HDRS];
    size_t n;
};

static const char *hdrs_get(void *arg, const char *name, size_t nth)
{
    const struct hdrs *t = arg;

    for (size_t i = 0; i < t->n; i++) {
        if (strcasecmp(t->name[i], name) == 0 && nth-- == 0)
            return t->value[i];
    }
    return NULL;
}

static void hdrs_add(struct hdrs *t, const char *name, const char *value)
{
    assert_true(t->n < MAX_HDRS);
    t->name[t->n] = name;
    t->value[t->n] = value;
    t->n++;
}

/* Sets the first line of name to value and drops its other lines (NULL: drops all). */
static void hdrs_set(struct hdrs *t, const char *name, const char *value)
{
    size_t k = 0;
    bool is_done = false;

    for (size_t i = 0; i < t->n; i++) {
        if (strcasecmp(t->name[i], name) == 0 && (value == NULL || is_done))
            continue;
        if (strcasecmp(t->name[i], name) == 0) {
            t->value[i] = value;
            is_done = true;
        }
        t->name[k] = t->name[i];
        t->value[k++] = t->value[i];
    }
    t->n = k;
    if (value != NULL && !is_done)
        hdrs_add(t, name, value);
}

/* ---- a signed request ---- */

struct signed_req {
    struct httpsig_signed s;
    struct hdrs t;
    struct httpsig_request req;
};

static void signed_req_init(struct signed_req *r, time_t now)
{
    struct httpsig_sign_input in = {"POST", TARGET, HOST, BODY, strlen(BODY), REQUEST_ID, now};
    struct mcx_error err;

    memset(r, 0, sizeof(*r));
    assert_int_equal(httpsig_request_sign(&in, g_priv, &r->s, &err), 0);
    hdrs_add(&r->t, "Host", HOST);
    hdrs_add(&r->t, "Date", r->s.date);
    hdrs_add(&r->t, "Content-Type", "application/json"); /* not signed; does not matter */
    hdrs_add(&r->t, "Digest", r->s.digest);
    hdrs_add(&r->t, "X-Request-Id", r->s.request_id);
    hdrs_add(&r->t, "Authorization", r->s.authorization);
    r->req.method = "POST";
    r->req.target = TARGET;
    r->req.header = hdrs_get;
    r->req.header_arg = &r->t;
    r->req.body = BODY;
    r->req.body_len = strlen(BODY);
}

/* find + verify with key at now; the return of the first that fails. */
static int verify_with(const struct signed_req *r, EVP_PKEY *key, time_t now,
                       struct httpsig_verified *v, struct mcx_error *err)
{
    struct httpsig_verify_opts opts = {now, 0};
    struct httpsig_params p;

    if (httpsig_request_find(&r->req, &p, err) < 0)
        return -1;
    return httpsig_request_verify(&r->req, &p, key, &opts, v, err);
}

static void expect_reason(const struct signed_req *r, time_t now, const char *code)
{
    struct httpsig_verified v = {"x", "x"};
    struct mcx_error err;

    if (verify_with(r, g_pub, now, &v, &err) != -1)
        fail_msg("verified, expected %s", code);
    assert_string_equal(err.code, code);
    /* Nothing to record for a refused request (when verify ran at all). */
    assert_true(strcmp(v.request_id, "") == 0 || strcmp(v.request_id, "x") == 0);
}

/*
 * An Authorization value signed by the fixed key over the given headers list: for
 * requests httpsig_request_sign does not make (Original-Date, extra headers, ...).
 */
static char *custom_authorization(const struct httpsig_request *req, const char *headers,
                                  const char *algorithm)
{
    const char *names[HTTPSIG_MAX_HEADERS];
    char *copy = xstrdup(headers), *save = NULL, *b64;
    unsigned char sig[512];
    size_t n = 0, sig_len = sizeof(sig);
    struct mcx_error err;
    struct buf s, out;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    for (char *tok = strtok_r(copy, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
        names[n++] = tok;
    buf_init(&s);
    assert_int_equal(httpsig_signing_string_build(req, names, n, &s, &err), 0);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, g_priv), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)s.data, s.len), 1);
    EVP_MD_CTX_free(ctx);
    b64 = xmalloc(4 * ((sig_len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)sig_len);
    buf_init(&out);
    buf_printf(&out, "Signature keyId=\"%s\",algorithm=\"%s\",headers=\"%s\",signature=\"%s\"",
               FIXED_KEY_ID, algorithm, headers, b64);
    free(b64);
    free(copy);
    buf_cleanup(&s);
    return buf_steal(&out, NULL);
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
    struct mcx_error err;

    (void)state;
    g_priv = httpsig_key_read_private(fixed_private_pem, strlen(fixed_private_pem), &err);
    g_pub = httpsig_key_read_public(fixed_public_pem, strlen(fixed_public_pem), &err);
    g_cavage = httpsig_key_read_public(cavage_public_pem, strlen(cavage_public_pem), &err);
    g_ewp = httpsig_key_read_public(ewp_public_pem, strlen(ewp_public_pem), &err);
    return g_priv && g_pub && g_cavage && g_ewp ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_priv);
    EVP_PKEY_free(g_pub);
    EVP_PKEY_free(g_cavage);
    EVP_PKEY_free(g_ewp);
    return 0;
}

/* ---- round trips ---- */

static void test_sign_known_answer(void **state)
{
    (void)state;
    struct signed_req r;
    struct mcx_error err;
    struct buf s;
    const char *names[] = {"(request-target)", "host", "date", "digest", "x-request-id"};

    signed_req_init(&r, NOW);
    assert_string_equal(r.s.date, "Thu, 01 Jan 2026 00:00:00 GMT");
    assert_string_equal(r.s.digest, BODY_DIGEST);
    assert_string_equal(r.s.request_id, REQUEST_ID);
    assert_string_equal(r.s.key_id, FIXED_KEY_ID);
    assert_string_equal(r.s.signature,
                        "keyId=\"" FIXED_KEY_ID "\",algorithm=\"rsa-sha256\",headers=\"(request-"
                        "target) host date digest x-request-id\",signature=\"" KNOWN_SIG "\"");
    assert_int_equal(strncmp(r.s.authorization, "Signature ", 10), 0);
    assert_string_equal(r.s.authorization + 10, r.s.signature);

    buf_init(&s);
    assert_int_equal(httpsig_signing_string_build(&r.req, names, 5, &s, &err), 0);
    assert_string_equal(s.data, "(request-target): post " TARGET "\n"
                                "host: " HOST "\n"
                                "date: Thu, 01 Jan 2026 00:00:00 GMT\n"
                                "digest: " BODY_DIGEST "\n"
                                "x-request-id: " REQUEST_ID);
    buf_cleanup(&s);
    httpsig_signed_cleanup(&r.s);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct signed_req r;
    struct httpsig_verified v;
    struct mcx_error err;

    signed_req_init(&r, NOW);
    assert_int_equal(verify_with(&r, g_pub, NOW, &v, &err), 0);
    assert_string_equal(v.key_id, FIXED_KEY_ID);
    assert_string_equal(v.request_id, REQUEST_ID);
    /* The Signature header form (EWP srvauth) verifies the same way. */
    hdrs_set(&r.t, "Authorization", NULL);
    hdrs_add(&r.t, "Signature", r.s.signature);
    assert_int_equal(verify_with(&r, g_pub, NOW, &v, &err), 0);
    /* The private key verifies as well as its public half. */
    assert_int_equal(verify_with(&r, g_priv, NOW + 299, &v, &err), 0);
    httpsig_signed_cleanup(&r.s);
}

static void test_round_trip_generated_key(void **state)
{
    (void)state;
    struct httpsig_sign_input in = {"GET", "/", "peer.example", NULL, 0, NULL, NOW};
    struct httpsig_verify_opts opts = {NOW, 0};
    struct httpsig_signed s;
    struct httpsig_verified v;
    struct httpsig_params p;
    struct mcx_error err;
    struct hdrs t = {0};
    struct httpsig_request req = {"GET", "/", hdrs_get, &t, NULL, 0};
    EVP_PKEY *key = httpsig_key_generate(2048, &err);
    char key_id[HTTPSIG_KEY_ID_SIZE];

    assert_non_null(key);
    assert_int_equal(httpsig_request_sign(&in, key, &s, &err), 0);
    assert_true(httpsig_request_id_is_valid(s.request_id));
    assert_int_equal(httpsig_key_id_compute(key, key_id, &err), 0);
    assert_string_equal(s.key_id, key_id);
    /* An empty body has the SHA-256 of nothing. */
    assert_string_equal(s.digest, "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    hdrs_add(&t, "host", "peer.example");
    hdrs_add(&t, "date", s.date);
    hdrs_add(&t, "digest", s.digest);
    hdrs_add(&t, "x-request-id", s.request_id);
    hdrs_add(&t, "authorization", s.authorization);
    assert_int_equal(httpsig_request_find(&req, &p, &err), 0);
    assert_int_equal(httpsig_request_verify(&req, &p, key, &opts, &v, &err), 0);
    /* Another key with the same keyId claim is not the signer's. */
    assert_int_equal(httpsig_request_verify(&req, &p, g_pub, &opts, &v, &err), -1);
    assert_string_equal(err.code, "unknown_key");
    httpsig_signed_cleanup(&s);
    EVP_PKEY_free(key);
}

/* ---- every rejection ---- */

static void test_reject_tampered_body(void **state)
{
    (void)state;
    struct signed_req r;

    signed_req_init(&r, NOW);
    r.req.body = "{\"hello\": \"World\"}";
    expect_reason(&r, NOW, "bad_digest");
    r.req.body_len = 0;
    expect_reason(&r, NOW, "bad_digest");
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_tampered_headers(void **state)
{
    (void)state;
    struct signed_req r;

    signed_req_init(&r, NOW);
    hdrs_set(&r.t, "Host", "evil.example.org");
    expect_reason(&r, NOW, "bad_signature");
    hdrs_set(&r.t, "Host", HOST);
    hdrs_set(&r.t, "X-Request-Id", "dc05b425-4e86-4106-8dde-1257fccf53e6");
    expect_reason(&r, NOW, "bad_signature");
    hdrs_set(&r.t, "X-Request-Id", REQUEST_ID);
    hdrs_set(&r.t, "Date", "Thu, 01 Jan 2026 00:00:01 GMT"); /* still in the window */
    expect_reason(&r, NOW, "bad_signature");
    hdrs_set(&r.t, "Date", r.s.date);
    /* A Digest that is right for another body is a signature failure first. */
    hdrs_set(&r.t, "Digest", "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    expect_reason(&r, NOW, "bad_signature");
    hdrs_set(&r.t, "Digest", r.s.digest);
    r.req.target = "/api/v1/institutions/vdu.lt/offers/LO-1?x=2";
    expect_reason(&r, NOW, "bad_signature");
    r.req.target = TARGET;
    r.req.method = "PUT";
    expect_reason(&r, NOW, "bad_signature");
    r.req.method = "post"; /* (request-target) lower-cases the method */
    assert_int_equal(
        verify_with(&r, g_pub, NOW, &(struct httpsig_verified){0}, &(struct mcx_error){0}), 0);
    /* A second Host line changes the joined value. */
    r.req.method = "POST";
    hdrs_add(&r.t, "Host", "evil.example.org");
    expect_reason(&r, NOW, "bad_signature");
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_flipped_signature(void **state)
{
    (void)state;
    struct signed_req r;
    char *auth;
    char *p;

    signed_req_init(&r, NOW);
    auth = xstrdup(r.s.authorization);
    p = strstr(auth, "signature=\"") + strlen("signature=\"");
    *p = *p == 'A' ? 'B' : 'A';
    hdrs_set(&r.t, "Authorization", auth);
    expect_reason(&r, NOW, "bad_signature");
    free(auth);
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_date_window(void **state)
{
    (void)state;
    struct signed_req r;
    struct httpsig_verified v;
    struct httpsig_verify_opts opts = {NOW + 360, 600};
    struct httpsig_params p;
    struct mcx_error err;

    signed_req_init(&r, NOW);
    expect_reason(&r, NOW + 360, "date_out_of_window");               /* the request is 6 min old */
    expect_reason(&r, NOW - 360, "date_out_of_window");               /* 6 min ahead */
    assert_int_equal(verify_with(&r, g_pub, NOW + 300, &v, &err), 0); /* 5 min: in */
    assert_int_equal(verify_with(&r, g_pub, NOW - 300, &v, &err), 0);
    expect_reason(&r, NOW + 301, "date_out_of_window");
    /* A wider window is allowed; a narrower one is raised to EWP's 5 minutes. */
    assert_int_equal(httpsig_request_find(&r.req, &p, &err), 0);
    assert_int_equal(httpsig_request_verify(&r.req, &p, g_pub, &opts, &v, &err), 0);
    opts.now = NOW + 240;
    opts.skew_seconds = 60;
    assert_int_equal(httpsig_request_verify(&r.req, &p, g_pub, &opts, &v, &err), 0);
    /* Unparsable, or two Date lines. */
    hdrs_set(&r.t, "Date", "yesterday");
    expect_reason(&r, NOW, "date_out_of_window");
    hdrs_set(&r.t, "Date", r.s.date);
    hdrs_add(&r.t, "Date", r.s.date);
    expect_reason(&r, NOW, "date_out_of_window");
    hdrs_set(&r.t, "Date", NULL);
    expect_reason(&r, NOW, "missing_signed_header");
    httpsig_signed_cleanup(&r.s);
}

static void test_original_date(void **state)
{
    (void)state;
    struct signed_req r;
    struct httpsig_verified v;
    struct mcx_error err;
    char *auth;

    /* Signed Original-Date and no Date at all (a proxy would have rewritten it). */
    signed_req_init(&r, NOW);
    hdrs_set(&r.t, "Date", NULL);
    hdrs_add(&r.t, "Original-Date", r.s.date);
    auth = custom_authorization(
        &r.req, "(request-target) host original-date digest x-request-id content-type",
        "rsa-sha256");
    hdrs_set(&r.t, "Authorization", auth);
    assert_int_equal(verify_with(&r, g_pub, NOW, &v, &err), 0);
    /* The proxy's Date, unsigned but checked too (RECOMMENDED): fresh passes... */
    hdrs_add(&r.t, "Date", "Thu, 01 Jan 2026 00:01:00 GMT");
    assert_int_equal(verify_with(&r, g_pub, NOW, &v, &err), 0);
    /* ...stale does not. */
    hdrs_set(&r.t, "Date", "Wed, 31 Dec 2025 23:50:00 GMT");
    expect_reason(&r, NOW, "date_out_of_window");
    hdrs_set(&r.t, "Date", NULL);
    hdrs_set(&r.t, "Original-Date", "Wed, 31 Dec 2025 23:50:00 GMT");
    expect_reason(&r, NOW, "date_out_of_window");
    /* The extra signed header counts like any other. */
    hdrs_set(&r.t, "Original-Date", r.s.date);
    hdrs_set(&r.t, "Content-Type", "text/plain");
    expect_reason(&r, NOW, "bad_signature");
    free(auth);
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_missing_signed_header(void **state)
{
    (void)state;
    static const char *const lists[] = {
        "(request-target) host date digest",         /* no x-request-id */
        "(request-target) host date x-request-id",   /* no digest */
        "(request-target) date digest x-request-id", /* no host */
        "host date digest x-request-id",             /* no (request-target) */
        "(request-target) host digest x-request-id", /* no date nor original-date */
    };
    struct signed_req r;
    char *auth;

    signed_req_init(&r, NOW);
    for (size_t i = 0; i < MCX_ARRAY_LEN(lists); i++) {
        auth = custom_authorization(&r.req, lists[i], "rsa-sha256");
        hdrs_set(&r.t, "Authorization", auth);
        expect_reason(&r, NOW, "missing_signed_header");
        free(auth);
    }
    /* Listed and signed, but not sent. */
    hdrs_set(&r.t, "Authorization", r.s.authorization);
    hdrs_set(&r.t, "Digest", NULL);
    expect_reason(&r, NOW, "missing_signed_header");
    hdrs_set(&r.t, "Digest", r.s.digest);
    hdrs_set(&r.t, "X-Request-Id", NULL);
    expect_reason(&r, NOW, "missing_signed_header");
    hdrs_set(&r.t, "X-Request-Id", r.s.request_id);
    hdrs_set(&r.t, "Host", NULL);
    expect_reason(&r, NOW, "missing_signed_header");
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_algorithm(void **state)
{
    (void)state;
    static const char *const algs[] = {"hs2019", "rsa-sha512", "hmac-sha256", "ecdsa-sha256"};
    struct signed_req r;
    struct httpsig_verified v;
    struct mcx_error err;
    char *auth;

    signed_req_init(&r, NOW);
    for (size_t i = 0; i < MCX_ARRAY_LEN(algs); i++) {
        auth =
            custom_authorization(&r.req, "(request-target) host date digest x-request-id", algs[i]);
        hdrs_set(&r.t, "Authorization", auth);
        expect_reason(&r, NOW, "unsupported_algorithm");
        free(auth);
    }
    /* No algorithm parameter: EWP requires it. */
    hdrs_set(&r.t, "Authorization",
             "Signature keyId=\"" FIXED_KEY_ID "\",headers=\"(request-target) host date digest "
             "x-request-id\",signature=\"" KNOWN_SIG "\"");
    expect_reason(&r, NOW, "unsupported_algorithm");
    /* The name in another case is the same algorithm. */
    auth = custom_authorization(&r.req, "(request-target) host date digest x-request-id",
                                "RSA-SHA256");
    hdrs_set(&r.t, "Authorization", auth);
    assert_int_equal(verify_with(&r, g_pub, NOW, &v, &err), 0);
    free(auth);
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_key(void **state)
{
    (void)state;
    struct signed_req r;
    struct httpsig_verified v;
    struct mcx_error err;
    char *auth, *p;

    signed_req_init(&r, NOW);
    assert_int_equal(verify_with(&r, NULL, NOW, &v, &err), -1); /* lookup found nothing */
    assert_string_equal(err.code, "unknown_key");
    assert_int_equal(verify_with(&r, g_ewp, NOW, &v, &err), -1); /* not keyId's key */
    assert_string_equal(err.code, "unknown_key");
    assert_int_equal(verify_with(&r, g_cavage, NOW, &v, &err), -1); /* RSA-1024 */
    assert_string_equal(err.code, "unknown_key");
    /* The keyId in upper case names the same key (cliauth says only "HEX-encoded"). */
    auth = xstrdup(r.s.authorization);
    for (p = strstr(auth, FIXED_KEY_ID); *p != '"'; p++)
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    hdrs_set(&r.t, "Authorization", auth);
    assert_int_equal(verify_with(&r, g_pub, NOW, &v, &err), 0);
    assert_string_equal(v.key_id, FIXED_KEY_ID); /* what the replay table gets */
    free(auth);
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_request_id(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "DC05B425-4E86-4106-8DDE-1257FCCF53E5", /* EWP's Registry takes lower case only */
        "dc05b4254e8641068dde1257fccf53e5",
        "{dc05b425-4e86-4106-8dde-1257fccf53e5}",
        "dc05b425-4e86-4106-8dde-1257fccf53e",
        "request-1",
        "",
    };
    struct signed_req r;

    signed_req_init(&r, NOW);
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad); i++) {
        hdrs_set(&r.t, "X-Request-Id", bad[i]);
        expect_reason(&r, NOW, "bad_request_id");
    }
    hdrs_set(&r.t, "X-Request-Id", REQUEST_ID);
    hdrs_add(&r.t, "X-Request-Id", REQUEST_ID); /* joined: "id, id" */
    expect_reason(&r, NOW, "bad_request_id");
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_missing_signature(void **state)
{
    (void)state;
    struct signed_req r;
    struct httpsig_params p;
    struct mcx_error err;

    signed_req_init(&r, NOW);
    hdrs_set(&r.t, "Authorization", NULL);
    expect_reason(&r, NOW, "missing_signature");
    hdrs_set(&r.t, "Authorization", "Bearer mcx_abc");
    expect_reason(&r, NOW, "missing_signature");
    /* A Signature header beside another scheme's Authorization is used. */
    hdrs_add(&r.t, "Signature", r.s.signature);
    assert_int_equal(httpsig_request_find(&r.req, &p, &err), 0);
    assert_string_equal(p.key_id, FIXED_KEY_ID);
    hdrs_add(&r.t, "Signature", r.s.signature);
    expect_reason(&r, NOW, "malformed_signature"); /* which of two? */
    hdrs_set(&r.t, "Signature", NULL);
    hdrs_set(&r.t, "Authorization", r.s.authorization);
    hdrs_add(&r.t, "Authorization", r.s.authorization);
    expect_reason(&r, NOW, "malformed_signature");
    httpsig_signed_cleanup(&r.s);
}

static void test_reject_control_characters(void **state)
{
    (void)state;
    struct signed_req r;

    /* A newline in a value would forge a line of the signing string. */
    signed_req_init(&r, NOW);
    hdrs_set(&r.t, "Host", HOST "\nx-request-id: " REQUEST_ID);
    expect_reason(&r, NOW, "malformed_signature");
    hdrs_set(&r.t, "Host", HOST);
    r.req.target = "/a b";
    expect_reason(&r, NOW, "malformed_signature");
    httpsig_signed_cleanup(&r.s);
}

/* ---- the parser ---- */

struct parse_case {
    const char *value;
    const char *code; /* NULL: parses */
};

static const struct parse_case parse_cases[] = {
    {"", "missing_signature"},
    {"   ", "missing_signature"},
    {"keyId=\"k\",signature=\"AAAA\"", NULL},
    {"keyId=k,algorithm=rsa-sha256,signature=\"AAAA\"", NULL},
    {" keyId = \"k\" ,\tsignature=\"AAAA\"  ", NULL},
    {"keyId=\"k\",signature=\"AAAA\",created=1402170695,expires=\"x\"", NULL},
    {"keyId=\"a\\\"b\",signature=\"AAAA\"", NULL},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"(request-target) Host DATE\"", NULL},
    /* unterminated quotes */
    {"keyId=\"k\",signature=\"AAAA", "malformed_signature"},
    {"keyId=\"k,signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\\", "malformed_signature"},
    {"keyId=\"", "malformed_signature"},
    /* duplicate parameters, in any case */
    {"keyId=\"k\",keyId=\"j\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\",KEYID=\"k\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\",created=1,created=2,signature=\"AAAA\"", "malformed_signature"},
    /* bad base64 */
    {"keyId=\"k\",signature=\"AAA\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AA AA\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AA=A\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AB==\"", "malformed_signature"}, /* non-zero padding bits */
    {"keyId=\"k\",signature=\"AAB=\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAA*\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AA-_\"", "malformed_signature"}, /* base64url is not base64 */
    {"keyId=\"k\",signature=\"====\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"\"", "malformed_signature"},
    /* missing or empty required parts */
    {"signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\"", "malformed_signature"},
    {"keyId=\"\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\",algorithm=\"\",signature=\"AAAA\"", "malformed_signature"},
    /* list syntax */
    {"keyId=\"k\",signature=\"AAAA\",", "malformed_signature"},
    {"keyId=\"k\",,signature=\"AAAA\"", "malformed_signature"},
    {",keyId=\"k\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId \"k\",signature=\"AAAA\"", "malformed_signature"},
    {"=\"k\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=,signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\" signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\";signature=\"AAAA\"", "malformed_signature"},
    {"keyId=k/1,signature=\"AAAA\"", "malformed_signature"}, /* '/' is not a tchar */
    /* characters */
    {"keyId=\"k\x01\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\x7f\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\xc3\xa9\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\\\x01\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\tx\",signature=\"AAAA\"", "malformed_signature"},
    {"keyId=\"k\"\r\n,signature=\"AAAA\"", "malformed_signature"},
    /* headers="" */
    {"keyId=\"k\",signature=\"AAAA\",headers=\"\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"date  host\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\" date\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"date \"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"date date\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"Date date\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"da:te\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"(created)\"", "malformed_signature"},
    {"keyId=\"k\",signature=\"AAAA\",headers=\"date\thost\"", "malformed_signature"},
};

static void test_parse_table(void **state)
{
    (void)state;
    struct httpsig_params p;
    struct mcx_error err;

    for (size_t i = 0; i < MCX_ARRAY_LEN(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        int rc = httpsig_params_parse(c->value, &p, &err);
        if ((rc == 0) != (c->code == NULL) || (c->code != NULL && strcmp(err.code, c->code) != 0))
            fail_msg("case %zu '%s': rc %d code '%s' (%s)", i, c->value, rc, err.code, err.message);
        if (rc < 0)
            assert_string_equal(p.key_id, ""); /* nothing half-filled */
    }
}

static void test_parse_values(void **state)
{
    (void)state;
    struct httpsig_params p;
    struct mcx_error err;

    assert_int_equal(httpsig_params_parse("keyId=\"a\\\"b\",signature=\"AAAA\"", &p, &err), 0);
    assert_string_equal(p.key_id, "a\"b");
    assert_string_equal(p.algorithm, "");
    assert_int_equal(p.nheaders, 1); /* draft-cavage-07: without headers, just Date */
    assert_string_equal(p.headers[0], "date");
    assert_int_equal(p.signature_len, 3);
    assert_memory_equal(p.signature, "\0\0\0", 3);
    assert_string_equal(p.signature_b64, "AAAA");

    assert_int_equal(httpsig_params_parse("headers=\"(request-target) Host DATE\",signature="
                                          "\"AQID\",keyId=abc,Algorithm=rsa-sha256",
                                          &p, &err),
                     0);
    assert_string_equal(p.key_id, "abc");
    assert_string_equal(p.algorithm, "rsa-sha256");
    assert_int_equal(p.nheaders, 3);
    assert_string_equal(p.headers[0], "(request-target)");
    assert_string_equal(p.headers[1], "host");
    assert_string_equal(p.headers[2], "date");
    assert_memory_equal(p.signature, "\1\2\3", 3);
    assert_true(httpsig_header_is_signed(&p, "Host"));
    assert_true(httpsig_header_is_signed(&p, "(request-target)"));
    assert_false(httpsig_header_is_signed(&p, "Content-Type"));
}

static void parse_expect(const char *value, const char *code)
{
    struct httpsig_params p;
    struct mcx_error err;
    int rc = httpsig_params_parse(value, &p, &err);

    if (code == NULL) {
        if (rc != 0)
            fail_msg("expected to parse (%zu bytes): %s", strlen(value), err.message);
        return;
    }
    assert_int_equal(rc, -1);
    assert_string_equal(err.code, code);
}

/* n copies of unit, then tail, as one string (free it). */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, head);
    for (size_t i = 0; i < n; i++)
        buf_puts(&b, unit);
    buf_puts(&b, tail);
    return buf_steal(&b, NULL);
}

static void test_parse_limits(void **state)
{
    (void)state;
    unsigned char raw[HTTPSIG_MAX_SIGNATURE_BYTES + 1] = {0};
    char b64[2 * sizeof(raw)];
    char *s;

    /* keyId: 256 characters, not 257 */
    s = repeat("keyId=\"", "k", HTTPSIG_MAX_KEY_ID_LEN, "\",signature=\"AAAA\"");
    parse_expect(s, NULL);
    free(s);
    s = repeat("keyId=\"", "k", HTTPSIG_MAX_KEY_ID_LEN + 1, "\",signature=\"AAAA\"");
    parse_expect(s, "malformed_signature");
    free(s);
    /* algorithm: 32 */
    s = repeat("keyId=k,signature=\"AAAA\",algorithm=\"", "a", HTTPSIG_MAX_ALGORITHM_LEN + 1, "\"");
    parse_expect(s, "malformed_signature");
    free(s);
    /* signature: 1024 bytes (RSA-8192), not 1025 */
    EVP_EncodeBlock((unsigned char *)b64, raw, HTTPSIG_MAX_SIGNATURE_BYTES);
    s = repeat("keyId=k,signature=\"", b64, 1, "\"");
    parse_expect(s, NULL);
    free(s);
    EVP_EncodeBlock((unsigned char *)b64, raw, HTTPSIG_MAX_SIGNATURE_BYTES + 1);
    s = repeat("keyId=k,signature=\"", b64, 1, "\"");
    parse_expect(s, "malformed_signature");
    free(s);
    /* headers: 32 names, not 33; a name of 64 characters, not 65 */
    {
        struct buf list;
        buf_init(&list);
        buf_puts(&list, "h0");
        for (int i = 1; i < HTTPSIG_MAX_HEADERS; i++)
            buf_printf(&list, " h%d", i);
        s = repeat("keyId=k,signature=\"AAAA\",headers=\"", list.data, 1, "\"");
        parse_expect(s, NULL);
        free(s);
        s = repeat("keyId=k,signature=\"AAAA\",headers=\"", list.data, 1, " h99\"");
        parse_expect(s, "malformed_signature");
        free(s);
        buf_cleanup(&list);
    }
    s = repeat("keyId=k,signature=\"AAAA\",headers=\"", "n", HTTPSIG_MAX_HEADER_NAME_LEN, "\"");
    parse_expect(s, NULL);
    free(s);
    s = repeat("keyId=k,signature=\"AAAA\",headers=\"", "n", HTTPSIG_MAX_HEADER_NAME_LEN + 1, "\"");
    parse_expect(s, "malformed_signature");
    free(s);
    /* 16 parameters, not 17 */
    {
        struct buf b;
        buf_init(&b);
        buf_puts(&b, "keyId=k,signature=\"AAAA\"");
        for (int i = 2; i < HTTPSIG_MAX_PARAMS; i++)
            buf_printf(&b, ",x%d=1", i);
        parse_expect(b.data, NULL);
        buf_puts(&b, ",y=1");
        parse_expect(b.data, "malformed_signature");
        buf_cleanup(&b);
    }
    /* the whole value: 8192 bytes */
    s = repeat("keyId=k,signature=\"AAAA\",x=\"", " ", HTTPSIG_MAX_VALUE_LEN, "\"");
    parse_expect(s, "malformed_signature");
    free(s);
}

static void test_authorization_parse(void **state)
{
    (void)state;
    struct httpsig_params p;
    struct mcx_error err;

    assert_int_equal(
        httpsig_authorization_parse("Signature keyId=\"k\",signature=\"AAAA\"", &p, &err), 0);
    assert_string_equal(p.key_id, "k");
    assert_int_equal(
        httpsig_authorization_parse("  signature   keyId=k,signature=\"AAAA\"", &p, &err), 0);
    assert_int_equal(httpsig_authorization_parse("Bearer mcx_x", &p, &err), -1);
    assert_string_equal(err.code, "missing_signature");
    assert_int_equal(httpsig_authorization_parse("Signatures keyId=k,signature=\"AAAA\"", &p, &err),
                     -1);
    assert_string_equal(err.code, "missing_signature");
    assert_int_equal(httpsig_authorization_parse(NULL, &p, &err), -1);
    assert_string_equal(err.code, "missing_signature");
    assert_int_equal(httpsig_authorization_parse("Signature", &p, &err), -1);
    assert_string_equal(err.code, "malformed_signature");
    assert_int_equal(httpsig_authorization_parse("Signature\tkeyId=k,signature=\"AAAA\"", &p, &err),
                     -1);
    assert_string_equal(err.code, "malformed_signature");
    assert_int_equal(httpsig_authorization_parse("Signature keyId=k", &p, &err), -1);
    assert_string_equal(err.code, "malformed_signature");
}

/* ---- draft-cavage Appendix C ---- */

static void test_cavage_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *headers;
        const char *sig;
    } vectors[] = {
        {"date", CAVAGE_C1_SIG}, /* C.1, headers absent: just Date */
        {"(request-target) host date", CAVAGE_C2_SIG},
        {"(request-target) host date content-type digest content-length", CAVAGE_C3_SIG},
    };
    struct hdrs t = {0};
    struct httpsig_request req = {"POST", "/foo?param=value&pet=dog", hdrs_get, &t, BODY, 18};
    struct httpsig_verify_opts opts = {1388957500, 0};
    struct httpsig_verified v;
    struct httpsig_params p;
    struct mcx_error err;
    struct buf value, s;

    hdrs_add(&t, "Host", "example.com");
    hdrs_add(&t, "Date", "Sun, 05 Jan 2014 21:31:40 GMT");
    hdrs_add(&t, "Content-Type", "application/json");
    hdrs_add(&t, "Digest", BODY_DIGEST);
    hdrs_add(&t, "Content-Length", "18");
    for (size_t i = 0; i < MCX_ARRAY_LEN(vectors); i++) {
        const char *names[HTTPSIG_MAX_HEADERS];
        buf_init(&value);
        buf_init(&s);
        if (i == 0)
            buf_printf(&value, "keyId=\"Test\",algorithm=\"rsa-sha256\",signature=\"%s\"",
                       vectors[i].sig);
        else
            buf_printf(&value,
                       "keyId=\"Test\",algorithm=\"rsa-sha256\",headers=\"%s\", "
                       "signature=\"%s\"",
                       vectors[i].headers, vectors[i].sig);
        assert_int_equal(httpsig_params_parse(value.data, &p, &err), 0);
        for (size_t k = 0; k < p.nheaders; k++)
            names[k] = p.headers[k];
        assert_int_equal(httpsig_signing_string_build(&req, names, p.nheaders, &s, &err), 0);
        assert_int_equal(
            httpsig_signature_check(g_cavage, s.data, s.len, p.signature, p.signature_len), 0);
        /* One bit of the signing string off: no longer. */
        s.data[s.len - 1] ^= 1;
        assert_int_equal(
            httpsig_signature_check(g_cavage, s.data, s.len, p.signature, p.signature_len), -1);
        /* EWP's profile refuses them: no x-request-id (C.3) and an RSA-1024 key. */
        assert_int_equal(httpsig_request_verify(&req, &p, g_cavage, &opts, &v, &err), -1);
        assert_string_equal(err.code, "missing_signed_header");
        buf_cleanup(&value);
        buf_cleanup(&s);
    }
    /* C.3's signing string as the draft prints it. */
    {
        const char *names[] = {"(request-target)", "host",   "date",
                               "content-type",     "digest", "content-length"};
        buf_init(&s);
        assert_int_equal(httpsig_signing_string_build(&req, names, 6, &s, &err), 0);
        assert_string_equal(s.data, "(request-target): post /foo?param=value&pet=dog\n"
                                    "host: example.com\n"
                                    "date: Sun, 05 Jan 2014 21:31:40 GMT\n"
                                    "content-type: application/json\n"
                                    "digest: " BODY_DIGEST "\n"
                                    "content-length: 18");
        buf_cleanup(&s);
    }
}

static void test_signing_string_rules(void **state)
{
    (void)state;
    struct hdrs t = {0};
    struct httpsig_request req = {"GET", "/x", hdrs_get, &t, NULL, 0};
    const char *names[] = {"x-list", "x-empty", "(request-target)"};
    struct mcx_error err;
    struct buf s;

    /* Repeated lines joined with ", ", each trimmed; an empty value keeps "name: ". */
    hdrs_add(&t, "X-List", "  a ");
    hdrs_add(&t, "x-list", "\tb, c");
    hdrs_add(&t, "X-Empty", "   ");
    buf_init(&s);
    assert_int_equal(httpsig_signing_string_build(&req, names, 3, &s, &err), 0);
    assert_string_equal(s.data, "x-list: a, b, c\nx-empty: \n(request-target): get /x");
    buf_reset(&s);
    hdrs_add(&t, "X-Bad", "a\rb");
    names[0] = "x-bad";
    assert_int_equal(httpsig_signing_string_build(&req, names, 1, &s, &err), -1);
    assert_string_equal(err.code, "malformed_signature");
    names[0] = "x-absent";
    assert_int_equal(httpsig_signing_string_build(&req, names, 1, &s, &err), -1);
    assert_string_equal(err.code, "missing_signed_header");
    buf_cleanup(&s);
}

/* ---- Digest ---- */

static void test_digest(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int rc;
    } cases[] = {
        {BODY_DIGEST, 0},
        {"sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", 0}, /* names: any case */
        {"MD5=HUXZLQLMuI/KZ5KDcJPcOA==, SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", 0},
        {"SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=,UNIXsum=30637", 0},
        {"SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", -1}, /* another body's */
        {"MD5=HUXZLQLMuI/KZ5KDcJPcOA==", -1},                         /* no SHA-256 */
        {BODY_DIGEST "," BODY_DIGEST, -1},                            /* which one? */
        {"SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE", -1},  /* unpadded */
        {"SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DB==", -1},  /* 31 bytes */
        {"SHA-256 = X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", -1},
        {"SHA-256=", -1},
        {"", -1},
        {"SHA-256", -1},
        {BODY_DIGEST ",", -1},
    };
    char out[HTTPSIG_DIGEST_SIZE];
    struct mcx_error err;

    assert_int_equal(httpsig_digest_compute(BODY, strlen(BODY), out), 0);
    assert_string_equal(out, BODY_DIGEST);
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        int rc = httpsig_digest_check(cases[i].value, BODY, strlen(BODY), &err);
        if (rc != cases[i].rc)
            fail_msg("case %zu '%s': rc %d (%s)", i, cases[i].value, rc, err.message);
        if (rc < 0)
            assert_string_equal(err.code, "bad_digest");
    }
    assert_int_equal(httpsig_digest_check(NULL, BODY, strlen(BODY), &err), -1);
    assert_string_equal(err.code, "bad_digest");
}

/* ---- dates and request ids ---- */

static void test_dates(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 30 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "1994-11-06T08:49:37Z",
        "",
    };
    char out[HTTPSIG_DATE_SIZE];
    time_t t;

    /* RFC 7231 §7.1.1.1's example in its three forms: 784111777. */
    assert_int_equal(httpsig_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", NOW, &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(httpsig_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", NOW, &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(httpsig_date_parse("Sun Nov  6 08:49:37 1994", NOW, &t), 0);
    assert_int_equal(t, 784111777);
    /* RFC 850 years: within 50 years ahead of now, else the century before. */
    assert_int_equal(httpsig_date_parse("Thursday, 01-Jan-26 00:00:00 GMT", NOW, &t), 0);
    assert_int_equal(t, NOW);
    assert_int_equal(httpsig_date_parse("Thu, 29 Feb 2024 23:59:60 GMT", NOW, &t), 0);
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad); i++) {
        if (httpsig_date_parse(bad[i], NOW, &t) == 0)
            fail_msg("'%s' parsed", bad[i]);
    }
    assert_int_equal(httpsig_date_format(784111777, out), 0);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_int_equal(httpsig_date_format(0, out), 0);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_int_equal(httpsig_date_format(-1, out), -1);
}

static void test_request_ids(void **state)
{
    (void)state;
    char a[HTTPSIG_REQUEST_ID_SIZE], b[HTTPSIG_REQUEST_ID_SIZE];

    assert_true(httpsig_request_id_is_valid(REQUEST_ID));
    assert_false(httpsig_request_id_is_valid("DC05B425-4E86-4106-8DDE-1257FCCF53E5"));
    assert_false(httpsig_request_id_is_valid(REQUEST_ID "0"));
    assert_false(httpsig_request_id_is_valid("dc05b425-4e86-4106-8dde_1257fccf53e5"));
    assert_false(httpsig_request_id_is_valid(""));
    assert_int_equal(httpsig_request_id_generate(a), 0);
    assert_int_equal(httpsig_request_id_generate(b), 0);
    assert_true(httpsig_request_id_is_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');           /* version 4 */
    assert_non_null(strchr("89ab", a[19])); /* RFC 4122 variant */
}

static void test_sign_rejects_bad_input(void **state)
{
    (void)state;
    struct httpsig_sign_input in = {"POST", TARGET, HOST, BODY, strlen(BODY), REQUEST_ID, NOW};
    struct httpsig_signed s;
    struct mcx_error err;

    in.request_id = "not-a-uuid";
    assert_int_equal(httpsig_request_sign(&in, g_priv, &s, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    assert_null(s.authorization);
    in.request_id = NULL;
    in.host = "a b";
    assert_int_equal(httpsig_request_sign(&in, g_priv, &s, &err), -1);
    in.host = HOST;
    in.method = "GET /";
    assert_int_equal(httpsig_request_sign(&in, g_priv, &s, &err), -1);
    in.method = "POST";
    assert_int_equal(httpsig_request_sign(&in, g_pub, &s, &err), -1); /* no private half */
    assert_string_equal(err.code, "crypto_failed");
    assert_int_equal(httpsig_request_sign(&in, g_cavage, &s, &err), -1); /* RSA-1024 */
    assert_int_equal(httpsig_request_sign(&in, NULL, &s, &err), -1);
    httpsig_signed_cleanup(&s);
    httpsig_signed_cleanup(NULL);
}

/* ---- keys ---- */

static void test_key_ids(void **state)
{
    (void)state;
    char id[HTTPSIG_KEY_ID_SIZE];
    struct mcx_error err;

    assert_int_equal(httpsig_key_id_compute(g_ewp, id, &err), 0);
    assert_string_equal(id, EWP_KEY_ID);
    assert_int_equal(httpsig_key_id_compute(g_pub, id, &err), 0);
    assert_string_equal(id, FIXED_KEY_ID);
    assert_int_equal(httpsig_key_id_compute(g_priv, id, &err), 0); /* its public half */
    assert_string_equal(id, FIXED_KEY_ID);
    /* openssl pkey -pubin -in cavage.pem -outform DER | openssl dgst -sha256 -r */
    assert_int_equal(httpsig_key_id_compute(g_cavage, id, &err), 0);
    assert_string_equal(id, "6abc29c310d9c042fd93e21828b8178161400a3b78adf0f09d62ac13712eb5fe");
}

static void test_key_read(void **state)
{
    (void)state;
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(g_ewp, &der);
    char id[HTTPSIG_KEY_ID_SIZE];
    struct mcx_error err;
    EVP_PKEY *k;

    /* The DER an EWP manifest's <rsa-public-key> carries. */
    k = httpsig_key_read_public_der(der, (size_t)der_len, &err);
    assert_non_null(k);
    assert_int_equal(httpsig_key_id_compute(k, id, &err), 0);
    assert_string_equal(id, EWP_KEY_ID);
    EVP_PKEY_free(k);
    assert_null(httpsig_key_read_public_der(der, (size_t)der_len - 1, &err));
    assert_string_equal(err.code, "invalid_key");
    OPENSSL_free(der);
    /* Wrong kinds of PEM. */
    assert_null(httpsig_key_read_public(fixed_private_pem, strlen(fixed_private_pem), &err));
    assert_string_equal(err.code, "invalid_key");
    assert_null(httpsig_key_read_private(fixed_public_pem, strlen(fixed_public_pem), &err));
    assert_null(httpsig_key_read_public("garbage", 7, &err));
    assert_null(httpsig_key_read_public("", 0, &err));
}

static void test_key_not_rsa(void **state)
{
    (void)state;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    struct mcx_error err;
    struct buf pem;

    assert_non_null(ec);
    buf_init(&pem);
    assert_int_equal(httpsig_key_write_public(ec, &pem, &err), 0);
    assert_null(httpsig_key_read_public(pem.data, pem.len, &err));
    assert_string_equal(err.code, "invalid_key");
    assert_int_equal(httpsig_signature_check(ec, "x", 1, (const unsigned char *)"x", 1), -1);
    buf_cleanup(&pem);
    EVP_PKEY_free(ec);
}

static char *temp_write(const char *data, size_t len)
{
    char *path = xstrdup("/tmp/test_httpsig_XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_key_files_and_generate(void **state)
{
    (void)state;
    struct mcx_error err;
    struct buf priv, pub, enc;
    char id1[HTTPSIG_KEY_ID_SIZE], id2[HTTPSIG_KEY_ID_SIZE];
    EVP_PKEY *key = httpsig_key_generate(3072, &err), *k1, *k2;
    char *ppath, *upath, *epath;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;

    assert_non_null(key);
    assert_int_equal(EVP_PKEY_get_bits(key), 3072);
    buf_init(&priv);
    buf_init(&pub);
    assert_int_equal(httpsig_key_write_private(key, &priv, &err), 0);
    assert_int_equal(httpsig_key_write_public(key, &pub, &err), 0);
    assert_non_null(strstr(priv.data, "-----BEGIN PRIVATE KEY-----"));
    assert_non_null(strstr(pub.data, "-----BEGIN PUBLIC KEY-----"));
    ppath = temp_write(priv.data, priv.len);
    upath = temp_write(pub.data, pub.len);
    k1 = httpsig_key_load_private(ppath, &err);
    k2 = httpsig_key_load_public(upath, &err);
    assert_non_null(k1);
    assert_non_null(k2);
    assert_int_equal(httpsig_key_id_compute(k1, id1, &err), 0);
    assert_int_equal(httpsig_key_id_compute(k2, id2, &err), 0);
    assert_string_equal(id1, id2);
    /* An encrypted private key is refused, not prompted for. */
    assert_int_equal(PEM_write_bio_PrivateKey(bio, key, EVP_aes_256_cbc(),
                                              (unsigned char *)"secret", 6, NULL, NULL),
                     1);
    n = BIO_get_mem_data(bio, &data);
    buf_init(&enc);
    buf_append(&enc, data, (size_t)n);
    epath = temp_write(enc.data, enc.len);
    assert_null(httpsig_key_load_private(epath, &err));
    assert_string_equal(err.code, "invalid_key");
    assert_string_equal(err.path, epath);
    /* Missing file, a directory. */
    assert_null(httpsig_key_load_public("/nonexistent/public.pem", &err));
    assert_string_equal(err.code, "io_failed");
    assert_null(httpsig_key_load_public("/tmp", &err));
    assert_string_equal(err.code, "io_failed");
    assert_null(httpsig_key_generate(1024, &err));
    assert_string_equal(err.code, "invalid_argument");
    unlink(ppath);
    unlink(upath);
    unlink(epath);
    free(ppath);
    free(upath);
    free(epath);
    BIO_free(bio);
    buf_cleanup(&priv);
    buf_cleanup(&pub);
    buf_cleanup(&enc);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(key);
}

static void test_reason_names(void **state)
{
    (void)state;
    assert_string_equal(httpsig_reason_name(HTTPSIG_OK), "ok");
    assert_string_equal(httpsig_reason_name(HTTPSIG_BAD_SIGNATURE), "bad_signature");
    assert_string_equal(httpsig_reason_name(HTTPSIG_DATE_OUT_OF_WINDOW), "date_out_of_window");
    assert_string_equal(httpsig_reason_name((enum httpsig_reason)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known_answer),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_generated_key),
        cmocka_unit_test(test_reject_tampered_body),
        cmocka_unit_test(test_reject_tampered_headers),
        cmocka_unit_test(test_reject_flipped_signature),
        cmocka_unit_test(test_reject_date_window),
        cmocka_unit_test(test_original_date),
        cmocka_unit_test(test_reject_missing_signed_header),
        cmocka_unit_test(test_reject_algorithm),
        cmocka_unit_test(test_reject_key),
        cmocka_unit_test(test_reject_request_id),
        cmocka_unit_test(test_reject_missing_signature),
        cmocka_unit_test(test_reject_control_characters),
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_authorization_parse),
        cmocka_unit_test(test_cavage_vectors),
        cmocka_unit_test(test_signing_string_rules),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_request_ids),
        cmocka_unit_test(test_sign_rejects_bad_input),
        cmocka_unit_test(test_key_ids),
        cmocka_unit_test(test_key_read),
        cmocka_unit_test(test_key_not_rsa),
        cmocka_unit_test(test_key_files_and_generate),
        cmocka_unit_test(test_reason_names),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
