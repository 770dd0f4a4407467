/*
 * test_jades.c — issuance/jades.h: eSeal keys made here with OpenSSL (RSA keys, a CA and
 * leaf certificates, PEM plain and encrypted, PKCS#12) load or are refused with the right
 * reason; the unsigned EC micro-credential sample sealed and verified; tampering in the
 * payload, the header and the signature caught; header rules checked on documents signed
 * here; our envelope compared with EDCI's signed sample, which verifies too.
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "issuance/jades.h"
#include "server/json.h"
#include "server/jsonparse.h"

#define SAMPLES MCX_SOURCE_DIR "/../shared/samples/elm/elm3/"

#define T_NOW 1780315200L /* 2026-06-01T12:00:00Z, the "now" of every load */
#define T_NOW_STR "2026-06-01T12:00:00Z"
#define T_2025_01 1735689600L
#define T_2026_01 1767225600L
#define T_2026_03 1772323200L
#define T_2026_09 1788220800L
#define T_2028_01 1830297600L
#define T_2030_01 1893456000L
#define T_2031_01 1924992000L
#define PASSWORD "s3cret pass"
#define ORG "Vytauto Did\xc5\xbeiojo universitetas" /* UTF-8 in the subject */

/* Keys and certificates made once for all tests; files in a temp dir. */
struct fixture {
    char dir[64];
    EVP_PKEY *ca_key, *leaf_key, *other_key, *small_key, *ec_key;
    X509 *ca, *leaf;
    struct jades_key *key; /* leaf_key + [leaf, ca] */
};

static struct fixture fx;

static char *path_of(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];

    snprintf(p, 128, "%s/%s", fx.dir, name);
    return p;
}

static void add_ext(X509 *c, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

    assert_non_null(ex);
    assert_int_equal(X509_add_ext(c, ex, -1), 1);
    X509_EXTENSION_free(ex);
}

/* A v3 certificate for key; self-signed when issuer is NULL. */
static X509 *cert_make(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       time_t not_before, time_t not_after, const char *key_usage, long serial)
{
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX ctx;

    assert_non_null(c);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"LT", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)ORG, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(c, name);
    X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : name);
    X509_NAME_free(name);
    ASN1_TIME_set(X509_getm_notBefore(c), not_before);
    ASN1_TIME_set(X509_getm_notAfter(c), not_after);
    X509_set_pubkey(c, key);
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : c, c, NULL, NULL, 0);
    if (issuer == NULL && key_usage != NULL && strstr(key_usage, "keyCertSign") != NULL)
        add_ext(c, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    else
        add_ext(c, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    if (key_usage != NULL)
        add_ext(c, &ctx, NID_key_usage, key_usage);
    assert_true(X509_sign(c, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
    return c;
}

static X509 *leaf_make(EVP_PKEY *key, time_t nb, time_t na, const char *ku)
{
    return cert_make("mcx test eSeal", key, fx.ca, fx.ca_key, nb, na, ku, 1000 + nb % 1000);
}

static void write_key(const char *name, EVP_PKEY *key, const EVP_CIPHER *cipher, bool traditional)
{
    BIO *b = BIO_new_file(path_of(name), "wb");
    char *pw = cipher != NULL ? PASSWORD : NULL;
    int ok;

    assert_non_null(b);
    if (traditional) /* "BEGIN RSA PRIVATE KEY", with DEK-Info when encrypted */
        ok = PEM_write_bio_PrivateKey_traditional(b, key, cipher, NULL, 0, NULL, pw);
    else
        ok = PEM_write_bio_PKCS8PrivateKey(b, key, cipher, NULL, 0, NULL, pw);
    assert_int_equal(ok, 1);
    BIO_free(b);
}

static void write_certs(const char *name, X509 *a, X509 *b)
{
    FILE *f = fopen(path_of(name), "wb");

    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, a), 1);
    if (b != NULL)
        assert_int_equal(PEM_write_X509(f, b), 1);
    fclose(f);
}

static void write_p12(const char *name, const char *password)
{
    STACK_OF(X509) *ca = sk_X509_new_null();
    PKCS12 *p12;
    FILE *f;

    sk_X509_push(ca, fx.ca);
    p12 = PKCS12_create(password, "eseal", fx.leaf_key, fx.leaf, ca, 0, 0, 0, 0, 0);
    assert_non_null(p12);
    f = fopen(path_of(name), "wb");
    assert_non_null(f);
    assert_int_equal(i2d_PKCS12_fp(f, p12), 1);
    fclose(f);
    PKCS12_free(p12);
    sk_X509_free(ca);
}

static int group_setup(void **state)
{
    X509 *c;
    struct mcx_error err;

    (void)state;
    strcpy(fx.dir, "/tmp/mcx-jades-XXXXXX");
    assert_non_null(mkdtemp(fx.dir));
    fx.ca_key = EVP_RSA_gen(2048);
    fx.leaf_key = EVP_RSA_gen(2048);
    fx.other_key = EVP_RSA_gen(2048);
    fx.small_key = EVP_RSA_gen(1024);
    fx.ec_key = EVP_EC_gen("P-256");
    assert_true(fx.ca_key && fx.leaf_key && fx.other_key && fx.small_key && fx.ec_key);
    fx.ca = cert_make("mcx test CA", fx.ca_key, NULL, NULL, T_2026_01, T_2031_01,
                      "critical,keyCertSign,cRLSign", 1);
    fx.leaf =
        leaf_make(fx.leaf_key, T_2026_01, T_2028_01, "critical,digitalSignature,nonRepudiation");

    write_key("leaf.key", fx.leaf_key, NULL, false);
    write_key("leaf-enc.key", fx.leaf_key, EVP_aes_256_cbc(), false);
    write_key("leaf-trad.key", fx.leaf_key, NULL, true);
    write_key("leaf-trad-enc.key", fx.leaf_key, EVP_aes_128_cbc(), true);
    write_key("other.key", fx.other_key, NULL, false);
    write_key("small.key", fx.small_key, NULL, false);
    write_key("ec.key", fx.ec_key, NULL, false);
    write_certs("chain.pem", fx.leaf, fx.ca);
    write_certs("chain-reversed.pem", fx.ca, fx.leaf);
    write_p12("eseal.p12", PASSWORD);
    write_key("combined.pem", fx.leaf_key, EVP_aes_256_cbc(), false);
    {
        FILE *f = fopen(path_of("combined.pem"), "ab");
        assert_non_null(f);
        assert_int_equal(PEM_write_X509(f, fx.leaf), 1);
        assert_int_equal(PEM_write_X509(f, fx.ca), 1);
        fclose(f);
    }

    c = leaf_make(fx.leaf_key, T_2025_01, T_2026_03, NULL);
    write_certs("expired.pem", c, fx.ca);
    X509_free(c);
    c = leaf_make(fx.leaf_key, T_2026_09, T_2028_01, NULL);
    write_certs("future.pem", c, fx.ca);
    X509_free(c);
    c = leaf_make(fx.leaf_key, T_2026_01, T_2028_01, "critical,keyEncipherment");
    write_certs("nosign.pem", c, fx.ca);
    X509_free(c);
    /* A second "CA" with the same name but another key: the leaf is not its child. */
    c = cert_make("mcx test CA", fx.other_key, NULL, NULL, T_2026_01, T_2031_01,
                  "critical,keyCertSign,cRLSign", 2);
    write_certs("unlinked.pem", fx.leaf, c);
    X509_free(c);
    c = leaf_make(fx.small_key, T_2026_01, T_2028_01, NULL);
    write_certs("small.pem", c, fx.ca);
    X509_free(c);
    c = leaf_make(fx.ec_key, T_2026_01, T_2028_01, NULL);
    write_certs("ec.pem", c, fx.ca);
    X509_free(c);

    if (jades_key_load_pem(path_of("leaf.key"), path_of("chain.pem"), NULL, T_NOW, &fx.key, &err) <
        0)
        fail_msg("fixture key: %s: %s", err.code, err.message);
    return 0;
}

static int group_teardown(void **state)
{
    static const char *const files[] = {
        "leaf.key",    "leaf-enc.key", "leaf-trad.key", "leaf-trad-enc.key",  "other.key",
        "small.key",   "ec.key",       "chain.pem",     "chain-reversed.pem", "eseal.p12",
        "expired.pem", "future.pem",   "nosign.pem",    "unlinked.pem",       "small.pem",
        "ec.pem",      "combined.pem"};

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(files); i++)
        unlink(path_of(files[i]));
    rmdir(fx.dir);
    jades_key_free(fx.key);
    X509_free(fx.ca);
    X509_free(fx.leaf);
    EVP_PKEY_free(fx.ca_key);
    EVP_PKEY_free(fx.leaf_key);
    EVP_PKEY_free(fx.other_key);
    EVP_PKEY_free(fx.small_key);
    EVP_PKEY_free(fx.ec_key);
    return 0;
}

/* ---- helpers over sealed documents ---- */

static void b64url_append(struct buf *out, const void *data, size_t n)
{
    char *tmp = xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)tmp, data, (int)n);

    for (int i = 0; i < len; i++) {
        if (tmp[i] == '=')
            break;
        buf_putc(out, tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : tmp[i]);
    }
    free(tmp);
}

static char *b64url_decode(const char *s)
{
    size_t n = strlen(s), pad = (4 - n % 4) % 4;
    char *in = xmalloc(n + pad + 1);
    char *out = xmalloc(n + 4);
    int len;

    for (size_t i = 0; i < n; i++)
        in[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    memset(in + n, '=', pad);
    len = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)in, (int)(n + pad));
    assert_true(len >= 0);
    out[len - (int)pad] = '\0';
    free(in);
    return out;
}

static char *seal(const char *payload, size_t len)
{
    struct buf out;
    struct mcx_error err;

    buf_init(&out);
    if (jades_seal(fx.key, payload, len, T_NOW_STR, &out, &err) < 0)
        fail_msg("seal: %s: %s", err.code, err.message);
    return buf_steal(&out, NULL);
}

/* The decoded protected header of a general-serialisation document. */
static char *header_of(const char *doc)
{
    struct json_value *v = json_parse(doc, strlen(doc), 0, NULL);
    const struct json_value *sig = json_array_at(json_object_get(v, "signatures"), 0);
    char *h;

    assert_non_null(sig);
    h = b64url_decode(json_string_value(json_object_get(sig, "protected"), NULL));
    json_value_free(v);
    return h;
}

/* A document with this exact header text, signed here with key over the payload. */
static char *sign_custom(const char *header, const char *payload, EVP_PKEY *key, bool flattened)
{
    struct buf hb, sb, out;
    struct json_writer w;
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    buf_init(&hb);
    buf_init(&sb);
    buf_init(&out);
    b64url_append(&hb, header, strlen(header));
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSignUpdate(ctx, hb.data, hb.len), 1);
    assert_int_equal(EVP_DigestSignUpdate(ctx, ".", 1), 1);
    assert_int_equal(EVP_DigestSignUpdate(ctx, payload, strlen(payload)), 1);
    assert_int_equal(EVP_DigestSignFinal(ctx, sig, &sig_len), 1);
    EVP_MD_CTX_free(ctx);
    b64url_append(&sb, sig, sig_len);
    json_writer_init(&w, &out);
    json_object_begin(&w);
    json_kv_string(&w, "payload", payload);
    if (!flattened) {
        json_key(&w, "signatures");
        json_array_begin(&w);
        json_object_begin(&w);
    }
    json_kv_string(&w, "protected", hb.data);
    json_kv_string(&w, "signature", sb.data);
    if (!flattened) {
        json_object_end(&w);
        json_array_end(&w);
    }
    json_object_end(&w);
    buf_cleanup(&hb);
    buf_cleanup(&sb);
    return buf_steal(&out, NULL);
}

/* s with the first occurrence of from replaced by to (which must exist). */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    struct buf b;

    if (at == NULL)
        fail_msg("'%s' not in '%.200s'", from, s);
    buf_init(&b);
    buf_append(&b, s, (size_t)(at - s));
    buf_puts(&b, to);
    buf_puts(&b, at + strlen(from));
    return buf_steal(&b, NULL);
}

static void assert_verify_fails(const char *doc, const char *code, const char *words)
{
    struct mcx_error err;
    struct buf payload;

    buf_init(&payload);
    mcx_error_clear(&err);
    if (jades_verify(doc, strlen(doc), &payload, NULL, 0, &err) == 0)
        fail_msg("verified, expected %s (%s)", code, words);
    if (strcmp(err.code, code) != 0)
        fail_msg("%s (%s), expected %s", err.code, err.message, code);
    if (words != NULL && strstr(err.message, words) == NULL)
        fail_msg("'%s' not in: %s", words, err.message);
    assert_int_equal(payload.len, 0);
    buf_cleanup(&payload);
}

static void assert_verifies(const char *doc, const char *payload)
{
    struct mcx_error err;
    struct buf out;

    buf_init(&out);
    if (jades_verify(doc, strlen(doc), &out, NULL, 0, &err) < 0)
        fail_msg("verify: %s: %s", err.code, err.message);
    assert_int_equal(out.len, strlen(payload));
    assert_memory_equal(out.data, payload, out.len);
    buf_cleanup(&out);
}

/* The member names of a JSON object, sorted, comma-separated: "a,b,c". */
static char *keys_of(const struct json_value *obj)
{
    size_t n = json_object_len(obj);
    const char **names = xcalloc(n + 1, sizeof(*names));
    struct buf b;

    for (size_t i = 0; i < n; i++)
        names[i] = json_object_key_at(obj, i);
    for (size_t i = 0; i < n; i++) { /* insertion sort: a dozen names */
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    }
    buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_putc(&b, ',');
        buf_puts(&b, names[i]);
    }
    free(names);
    return buf_steal(&b, NULL);
}

/* ---- loading ---- */

static void expect_load_error(int rc, struct jades_key *k, const struct mcx_error *err,
                              const char *words)
{
    assert_int_equal(rc, -1);
    assert_null(k);
    assert_string_equal(err->code, "eseal_config");
    if (strstr(err->message, words) == NULL)
        fail_msg("'%s' not in: %s", words, err->message);
}

static void test_load_pem(void **state)
{
    static const char *const plain[] = {"leaf.key", "leaf-trad.key"};
    static const char *const encrypted[] = {"leaf-enc.key", "leaf-trad-enc.key"};
    struct jades_key *k;
    struct mcx_error err;
    int rc;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        /* A password given for a plain key is not an error: it is never asked for. */
        assert_int_equal(
            jades_key_load_pem(path_of(plain[i]), path_of("chain.pem"), "unused", T_NOW, &k, &err),
            0);
        assert_int_equal(jades_key_not_after(k), T_2028_01);
        jades_key_free(k);

        rc = jades_key_load_pem(path_of(encrypted[i]), path_of("chain.pem"), PASSWORD, T_NOW, &k,
                                &err);
        if (rc < 0)
            fail_msg("%s: %s", encrypted[i], err.message);
        jades_key_free(k);
        rc = jades_key_load_pem(path_of(encrypted[i]), path_of("chain.pem"), "wrong", T_NOW, &k,
                                &err);
        expect_load_error(rc, k, &err, "wrong password");
        assert_string_equal(err.path, path_of(encrypted[i]));
        rc = jades_key_load_pem(path_of(encrypted[i]), path_of("chain.pem"), NULL, T_NOW, &k, &err);
        expect_load_error(rc, k, &err, "no password is configured");
    }
    assert_int_equal(ERR_peek_error(), 0); /* failures leave OpenSSL's queue empty too */
    /* The key file may hold the certificates too. */
    assert_int_equal(
        jades_key_load_pem(path_of("leaf.key"), path_of("chain.pem"), NULL, T_NOW, &k, &err), 0);
    jades_key_free(k);
    jades_key_free(NULL);
}

static void test_load_p12(void **state)
{
    struct jades_key *k;
    struct mcx_error err;
    struct buf out;
    char *h;
    struct json_value *v;
    int rc;

    (void)state;
    rc = jades_key_load_p12(path_of("eseal.p12"), PASSWORD, T_NOW, &k, &err);
    if (rc < 0)
        fail_msg("%s", err.message);
    assert_int_equal(jades_key_not_after(k), T_2028_01);
    buf_init(&out);
    assert_int_equal(jades_seal(k, "{}", 2, T_NOW_STR, &out, &err), 0);
    h = header_of(out.data);
    v = json_parse(h, strlen(h), 0, NULL);
    /* The leaf and then its CA, ordered from the PKCS#12 bag. */
    assert_int_equal(json_array_len(json_object_get(v, "x5c")), 2);
    json_value_free(v);
    free(h);
    assert_verifies(out.data, "{}");
    buf_cleanup(&out);
    jades_key_free(k);

    rc = jades_key_load_p12(path_of("eseal.p12"), "wrong", T_NOW, &k, &err);
    expect_load_error(rc, k, &err, "wrong password");
    rc = jades_key_load_p12(path_of("eseal.p12"), NULL, T_NOW, &k, &err);
    expect_load_error(rc, k, &err, "wrong password");
    rc = jades_key_load_p12(path_of("chain.pem"), PASSWORD, T_NOW, &k, &err);
    expect_load_error(rc, k, &err, "not a PKCS#12 file");
    rc = jades_key_load_p12(path_of("eseal.p12"), PASSWORD, T_2030_01, &k, &err);
    expect_load_error(rc, k, &err, "has expired");
}

static void test_load_refusals(void **state)
{
    static const struct {
        const char *key, *chain, *words;
    } cases[] = {
        {"other.key", "chain.pem", "does not match the leaf"},
        {"leaf.key", "chain-reversed.pem", "does not match the leaf"},
        {"leaf.key", "expired.pem", "has expired"},
        {"leaf.key", "future.pem", "is not yet valid"},
        {"leaf.key", "nosign.pem", "key usage"},
        {"leaf.key", "unlinked.pem", "certificate 1 was not issued by certificate 2"},
        {"small.key", "small.pem", "not RSA of at least 2048 bits"},
        {"ec.key", "ec.pem", "not RSA of at least 2048 bits (RS256 needs one; this is EC"},
        {"missing.key", "chain.pem", "cannot open"},
        {"leaf.key", "leaf.key", "no PEM certificate found"},
        {"chain.pem", "chain.pem", "no PEM private key found"},
    };
    struct jades_key *k;
    struct mcx_error err;

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        int rc = jades_key_load_pem(path_of(cases[i].key), path_of(cases[i].chain), NULL, T_NOW, &k,
                                    &err);
        expect_load_error(rc, k, &err, cases[i].words);
    }
    /* The CA outlives the leaf: at 2030 it is the leaf that has expired. */
    expect_load_error(
        jades_key_load_pem(path_of("leaf.key"), path_of("chain.pem"), NULL, T_2030_01, &k, &err), k,
        &err, "certificate 1 (");
    expect_load_error(jades_key_load_pem(NULL, path_of("chain.pem"), NULL, T_NOW, &k, &err), k,
                      &err, "no file configured");
}

/* ---- sealing ---- */

static void test_seal_verify_sample(void **state)
{
    size_t len;
    char *credential = read_file(SAMPLES "Sample-MC-Annex1-unsigned.jsonld", &len);
    char *doc = seal(credential, len);
    char subject[JADES_SUBJECT_SIZE];
    struct json_value *v = json_parse(doc, strlen(doc), 0, NULL);
    struct mcx_error err;
    struct buf payload;
    size_t plen;
    const char *p;

    (void)state;
    /* The envelope's payload member is the credential, byte for byte. */
    p = json_string_value(json_object_get(v, "payload"), &plen);
    assert_int_equal(plen, len);
    assert_memory_equal(p, credential, len);
    json_value_free(v);

    buf_init(&payload);
    if (jades_verify(doc, strlen(doc), &payload, subject, sizeof(subject), &err) < 0)
        fail_msg("%s: %s", err.code, err.message);
    assert_int_equal(payload.len, len);
    assert_memory_equal(payload.data, credential, len);
    assert_int_equal(ERR_peek_error(), 0); /* nothing left for the TLS code to trip on */
    assert_string_equal(subject, "CN=mcx test eSeal,O=" ORG ",C=LT");

    /* Too small a subject buffer is the caller's error, said so, and nothing appended. */
    buf_reset(&payload);
    assert_int_equal(jades_verify(doc, strlen(doc), &payload, subject, 8, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    assert_int_equal(payload.len, 0);
    buf_cleanup(&payload);
    free(doc);
    free(credential);
}

static void test_seal_header(void **state)
{
    const char *payload = "{\"a\":\"\xc4\x85\"}";
    char *doc = seal(payload, strlen(payload));
    char *h = header_of(doc);
    struct json_value *v = json_parse(h, strlen(h), 0, NULL);
    struct json_value *d = json_parse(doc, strlen(doc), 0, NULL);
    unsigned char md[32];
    unsigned int mdlen;
    unsigned char *der = NULL;
    int der_len = i2d_X509(fx.leaf, &der);
    struct buf want;
    const struct json_value *x5c = json_object_get(v, "x5c");
    static const char *const order[] = {"alg", "cty", "kid", "x5t#S256", "x5c",
                                        "typ", "b64", "iat", "crit"};

    (void)state;
    assert_int_equal(json_object_len(v), MCX_ARRAY_LEN(order));
    for (size_t i = 0; i < MCX_ARRAY_LEN(order); i++)
        assert_string_equal(json_object_key_at(v, i), order[i]);
    assert_string_equal(json_string_value(json_object_get(v, "alg"), NULL), "RS256");
    assert_string_equal(json_string_value(json_object_get(v, "cty"), NULL), "octet-stream");
    assert_string_equal(json_string_value(json_object_get(v, "typ"), NULL), "jose+json");
    assert_false(json_bool_value(json_object_get(v, "b64")));
    assert_string_equal(json_number_text(json_object_get(v, "iat")), "1780315200");
    assert_int_equal(json_array_len(json_object_get(v, "crit")), 1);
    assert_string_equal(json_string_value(json_array_at(json_object_get(v, "crit"), 0), NULL),
                        "b64");

    /* x5t#S256 and x5c[0], computed here independently of jades.c. */
    assert_int_equal(X509_digest(fx.leaf, EVP_sha256(), md, &mdlen), 1);
    buf_init(&want);
    b64url_append(&want, md, mdlen);
    assert_string_equal(json_string_value(json_object_get(v, "x5t#S256"), NULL), want.data);
    buf_reset(&want);
    buf_reserve(&want, (size_t)der_len * 2);
    want.len = (size_t)EVP_EncodeBlock((unsigned char *)want.data, der, der_len);
    assert_int_equal(json_array_len(x5c), 2);
    assert_string_equal(json_string_value(json_array_at(x5c, 0), NULL), want.data);

    /* Top level: payload and signatures, one signature with protected and signature. */
    assert_int_equal(json_object_len(d), 2);
    assert_string_equal(json_object_key_at(d, 0), "payload");
    assert_string_equal(json_object_key_at(d, 1), "signatures");
    assert_int_equal(json_object_len(json_array_at(json_object_get(d, "signatures"), 0)), 2);

    OPENSSL_free(der);
    buf_cleanup(&want);
    json_value_free(d);
    json_value_free(v);
    free(h);
    free(doc);
}

static void test_seal_rejects(void **state)
{
    static const char *const bad_times[] = {"2026-06-01T12:00:00.5Z",
                                            "2026-06-01 12:00:00Z",
                                            "2026-02-30T00:00:00Z",
                                            "2026-06-01T24:00:00Z",
                                            "2026-06-01T12:00:00+00:00",
                                            "2026-06-01T12:00:00z",
                                            "",
                                            "2026-6-01T12:00:00Z"};
    struct mcx_error err;
    struct buf out;

    (void)state;
    buf_init(&out);
    buf_puts(&out, "before");
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad_times); i++) {
        assert_int_equal(jades_seal(fx.key, "{}", 2, bad_times[i], &out, &err), -1);
        assert_string_equal(err.code, "invalid_argument");
    }
    assert_int_equal(jades_seal(fx.key, "{}", 2, NULL, &out, &err), -1);
    assert_int_equal(jades_seal(fx.key, "{\"a\":\"\xc3\"}", 8, T_NOW_STR, &out, &err), -1);
    assert_string_equal(err.message, "payload is not valid UTF-8");
    assert_int_equal(jades_seal(fx.key, "", 0, T_NOW_STR, &out, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
    /* A certificate that lapsed since the key was loaded: no seal after its notAfter. */
    assert_int_equal(jades_seal(fx.key, "{}", 2, "2028-01-01T00:00:01Z", &out, &err), -1);
    assert_string_equal(err.code, "eseal_config");
    assert_non_null(strstr(err.message, "has expired"));
    assert_int_equal(jades_seal(fx.key, "{}", 2, "2025-12-31T23:59:59Z", &out, &err), -1);
    assert_non_null(strstr(err.message, "is not yet valid"));
    assert_string_equal(out.data, "before");

    /* Bytes as given: NUL and controls travel escaped and come back exact. */
    {
        static const char odd[] = "{\"a\":\"x\"}\n\0\x01\x7f\"\\/\xf0\x9f\x8e\x93";
        struct buf back;
        char *doc;
        buf_reset(&out);
        assert_int_equal(jades_seal(fx.key, odd, sizeof(odd) - 1, T_NOW_STR, &out, &err), 0);
        doc = buf_steal(&out, NULL);
        buf_init(&back);
        assert_int_equal(jades_verify(doc, strlen(doc), &back, NULL, 0, &err), 0);
        assert_int_equal(back.len, sizeof(odd) - 1);
        assert_memory_equal(back.data, odd, back.len);
        buf_cleanup(&back);
        free(doc);
    }
    buf_cleanup(&out);
}

/* ---- verifying ---- */

static void test_tamper(void **state)
{
    const char *payload = "{\"grade\":\"Pass\",\"ects\":\"2\"}";
    char *doc = seal(payload, strlen(payload));
    char *h = header_of(doc);
    char *t, *h2, *enc;
    struct buf b;
    struct json_value *v = json_parse(doc, strlen(doc), 0, NULL);
    const struct json_value *sig = json_array_at(json_object_get(v, "signatures"), 0);
    const char *sig_b64 = json_string_value(json_object_get(sig, "signature"), NULL);
    const char *prot_b64 = json_string_value(json_object_get(sig, "protected"), NULL);
    char flipped[1400];

    (void)state;
    assert_verifies(doc, payload);

    /* The payload: one grade changed. */
    t = replace(doc, "\\\"Pass\\\"", "\\\"Fail\\\"");
    assert_verify_fails(t, "jades_bad_signature", NULL);
    free(t);
    /* The payload: one byte appended (the signature covers its length too). */
    t = replace(doc, "\\\"2\\\"}", "\\\"2\\\"} ");
    assert_verify_fails(t, "jades_bad_signature", NULL);
    free(t);

    /* The header: a value changed, re-encoded canonically. */
    h2 = replace(h, "octet-stream", "octet-streaM");
    buf_init(&b);
    b64url_append(&b, h2, strlen(h2));
    enc = b.data;
    t = replace(doc, prot_b64, enc);
    assert_verify_fails(t, "jades_bad_signature", NULL);
    free(t);
    free(h2);
    buf_cleanup(&b);

    /* The signature: one character changed, still base64url. */
    mcx_strlcpy(flipped, sig_b64, sizeof(flipped));
    flipped[100] = flipped[100] == 'A' ? 'B' : 'A';
    t = replace(doc, sig_b64, flipped);
    assert_verify_fails(t, "jades_bad_signature", NULL);
    free(t);
    /* The signature: padded, which base64url never is; or with unused bits set. */
    snprintf(flipped, sizeof(flipped), "%s=", sig_b64);
    t = replace(doc, sig_b64, flipped);
    assert_verify_fails(t, "jades_malformed", "signature is not base64url");
    free(t);
    mcx_strlcpy(flipped, sig_b64, sizeof(flipped));
    assert_int_equal(strlen(flipped), 342); /* 256 bytes: the last symbol has 4 unused bits */
    flipped[341] = 'B';
    t = replace(doc, sig_b64, flipped);
    assert_verify_fails(t, "jades_malformed", "signature is not base64url");
    free(t);
    /* The signature: three bytes short (four characters cut from the middle). */
    mcx_strlcpy(flipped, sig_b64, sizeof(flipped));
    memmove(flipped + 100, flipped + 104, strlen(flipped + 104) + 1);
    t = replace(doc, sig_b64, flipped);
    assert_verify_fails(t, "jades_bad_signature", NULL);
    free(t);

    json_value_free(v);
    free(h);
    free(doc);
}

static void test_envelope_rules(void **state)
{
    const char *payload = "{\"x\":1}";
    char *doc = seal(payload, strlen(payload));
    char *h = header_of(doc);
    char *t, *t2;

    (void)state;
    /* RFC 7515 §7.2.2 flattened form, same header: accepted. */
    t = sign_custom(h, payload, fx.leaf_key, true);
    assert_verifies(t, payload);
    free(t);
    /* Unsigned properties (etsiU) are not checked but do not hurt. */
    t = replace(doc, "\"signature\":", "\"header\":{\"etsiU\":[\"e30\"]},\"signature\":");
    assert_verifies(t, payload);
    free(t);
    t = replace(doc, "\"signature\":", "\"header\":{\"alg\":\"RS256\"},\"signature\":");
    assert_verify_fails(t, "jades_malformed", "alg in the unprotected header");
    free(t);
    t = replace(doc, "\"signature\":", "\"header\":{\"x5c\":[]},\"signature\":");
    assert_verify_fails(t, "jades_malformed", "x5c in the unprotected header");
    free(t);
    t = replace(doc, "\"signature\":", "\"header\":[],\"signature\":");
    assert_verify_fails(t, "jades_malformed", "header must be an object");
    free(t);
    /* Two signatures. */
    t = strstr(doc, "\"signatures\":[");
    assert_non_null(t);
    {
        const char *sig_start = t + strlen("\"signatures\":[");
        size_t sig_len = strlen(sig_start) - 2; /* up to "]}" */
        struct buf b;
        buf_init(&b);
        buf_append(&b, doc, (size_t)(sig_start - doc));
        buf_append(&b, sig_start, sig_len);
        buf_putc(&b, ',');
        buf_puts(&b, sig_start);
        t2 = buf_steal(&b, NULL);
    }
    assert_verify_fails(t2, "jades_unsupported", "2 signatures");
    free(t2);
    t = replace(doc, "\"payload\":\"{\\\"x\\\":1}\"", "\"payload\":\"\"");
    assert_verify_fails(t, "jades_unsupported", "detached");
    free(t);
    t = replace(doc, "\"payload\":\"{\\\"x\\\":1}\"", "\"payload\":{\"x\":1}");
    assert_verify_fails(t, "jades_unsupported", "no payload string");
    free(t);
    assert_verify_fails("[]", "jades_malformed", "not a JSON object");
    assert_verify_fails("{\"payload\":\"x\"", "jades_malformed", "not JSON");
    assert_verify_fails("{\"payload\":\"x\",\"signatures\":{}}", "jades_malformed", NULL);
    assert_verify_fails("{\"payload\":\"x\",\"signatures\":[{\"protected\":\"e30\"}]}",
                        "jades_malformed", "no signature string");
    assert_verify_fails("{\"payload\":\"x\",\"signatures\":[{\"protected\":\"e30=\","
                        "\"signature\":\"AA\"}]}",
                        "jades_malformed", "protected is not base64url");
    assert_verify_fails("{\"payload\":\"x\",\"signatures\":[{\"protected\":\"e30\","
                        "\"signature\":\"AA\"}]}",
                        "jades_unsupported", "alg (none)");
    free(h);
    free(doc);
}

/* Header rules, each on a document correctly signed with the leaf key. */
static void test_header_rules(void **state)
{
    static const struct {
        const char *from, *to, *code, *words; /* code NULL: verifies */
    } cases[] = {
        /* The sample's (pre-2025-07-15) claimed signing time, sigT, is still read. */
        {"\"iat\":1780315200,\"crit\":[\"b64\"]",
         "\"sigT\":\"2026-06-01T12:00:00Z\",\"crit\":[\"b64\",\"sigT\"]", NULL, NULL},
        {"\"crit\":[\"b64\"]", "\"crit\":[\"b64\",\"iat\"]", NULL, NULL},
        {"\"iat\":1780315200", "\"iat\":1893456000", "jades_bad_certificate",
         "has expired at the signing time 2030-01-01T00:00:00Z"},
        {"\"iat\":1780315200", "\"iat\":1780315200,\"sigT\":\"2026-06-01T12:00:00Z\"",
         "jades_malformed", "exactly one claimed signing time"},
        {"\"iat\":1780315200,", "", "jades_malformed", "exactly one claimed signing time"},
        {"\"iat\":1780315200", "\"iat\":1780315200.5", "jades_malformed", "whole seconds"},
        {"\"iat\":1780315200", "\"iat\":1.7e9", "jades_malformed", "whole seconds"},
        {"\"iat\":1780315200", "\"iat\":\"1780315200\"", "jades_malformed", "whole seconds"},
        {"\"iat\":1780315200", "\"sigT\":\"2026-06-01T12:00:00.000Z\"", "jades_malformed",
         "sigT is not"},
        {"\"alg\":\"RS256\"", "\"alg\":\"RS512\"", "jades_unsupported", "only RS256"},
        {"\"alg\":\"RS256\"", "\"alg\":\"none\"", "jades_unsupported", "only RS256"},
        {"\"b64\":false", "\"b64\":true", "jades_unsupported", "b64 false"},
        {"\"b64\":false,", "", "jades_unsupported", "b64 false"},
        {"\"crit\":[\"b64\"]", "\"crit\":[]", "jades_malformed", "crit must be"},
        {",\"crit\":[\"b64\"]", "", "jades_malformed", "crit must be"},
        {"\"crit\":[\"b64\"]", "\"crit\":[\"b64\",\"b64\"]", "jades_malformed", "twice"},
        {"\"crit\":[\"b64\"]", "\"crit\":[\"iat\"]", "jades_malformed", "b64 is not listed"},
        {"\"crit\":[\"b64\"]", "\"crit\":[\"b64\",\"sigT\"]", "jades_malformed",
         "not in the header"},
        {"\"crit\":[\"b64\"]", "\"sigD\":{},\"crit\":[\"b64\",\"sigD\"]", "jades_unsupported",
         "sigD not understood"},
        {"\"crit\":[\"b64\"]", "\"crit\":[\"b64\",\"alg\"]", "jades_unsupported",
         "alg not understood"},
        {"\"crit\":[\"b64\"]", "\"crit\":[\"b64\",7]", "jades_malformed", "not a name"},
        {"\"crit\":[\"b64\"]", "\"adoTst\":{},\"crit\":[\"b64\",\"adoTst\"]", "jades_malformed",
         "adoTst has no tstTokens"},
        {"\"crit\":[\"b64\"]",
         "\"adoTst\":{\"tstTokens\":[{\"val\":\"MAA=\"}]},\"crit\":[\"b64\",\"adoTst\"]", NULL,
         NULL},
        {"\"kid\":\"", "\"kid\":\"A", "jades_bad_certificate", "kid is not the IssuerSerial"},
        {"\"x5t#S256\":\"", "\"x5t#S256\":\"A", "jades_bad_certificate", "x5t#S256 does not"},
        {"\"x5t#S256\":\"", "\"x5t#S256x\":\"", "jades_bad_certificate", "no x5t#S256"},
        {"\"x5c\":[\"", "\"x5c\":[\"!", "jades_bad_certificate", "x5c[0] is not base64"},
        {"\"x5c\":[\"", "\"x5c\":[\"MAA=\",\"", "jades_bad_certificate",
         "x5c[0] is not a DER certificate"},
        {"\"x5c\":[", "\"x5c\":[],\"x\":[", "jades_bad_certificate", "x5c must hold"},
        {"\"typ\"", "\"alg\":\"RS256\",\"typ\"", "jades_malformed", "not a JSON object"},
    };
    char *doc = seal("{}", 2);
    char *h = header_of(doc);

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        char *h2 = replace(h, cases[i].from, cases[i].to);
        char *t = sign_custom(h2, "{}", fx.leaf_key, false);
        if (cases[i].code == NULL)
            assert_verifies(t, "{}");
        else
            assert_verify_fails(t, cases[i].code, cases[i].words);
        free(t);
        free(h2);
    }
    free(h);
    free(doc);
}

/* The chain in x5c must link, and the key that signed must be the leaf's. */
static void test_certificate_rules(void **state)
{
    char *doc = seal("{}", 2);
    char *h = header_of(doc);
    struct json_value *v = json_parse(h, strlen(h), 0, NULL);
    const struct json_value *x5c = json_object_get(v, "x5c");
    const char *leaf = json_string_value(json_array_at(x5c, 0), NULL);
    const char *ca = json_string_value(json_array_at(x5c, 1), NULL);
    struct buf swapped;
    char *h2, *t;

    (void)state;
    /* Signed with another key than x5c[0]'s. */
    t = sign_custom(h, "{}", fx.other_key, false);
    assert_verify_fails(t, "jades_bad_signature", NULL);
    free(t);
    /* The CA first: x5t#S256 then names the wrong certificate. */
    buf_init(&swapped);
    buf_printf(&swapped, "\"x5c\":[\"%s\",\"%s\"]", ca, leaf);
    {
        struct buf orig;
        buf_init(&orig);
        buf_printf(&orig, "\"x5c\":[\"%s\",\"%s\"]", leaf, ca);
        h2 = replace(h, orig.data, swapped.data);
        buf_cleanup(&orig);
    }
    t = sign_custom(h2, "{}", fx.leaf_key, false);
    assert_verify_fails(t, "jades_bad_certificate", "x5t#S256 does not match");
    free(t);
    free(h2);
    /* The leaf twice: x5c[1] did not issue x5c[0]. */
    h2 = replace(h, ca, leaf);
    t = sign_custom(h2, "{}", fx.leaf_key, false);
    assert_verify_fails(t, "jades_bad_certificate", "x5c[0] was not issued by x5c[1]");
    free(t);
    free(h2);
    buf_cleanup(&swapped);
    json_value_free(v);
    free(h);
    free(doc);
}

/* ---- EDCI's signed sample ---- */

static struct json_value *sample_header(const struct json_value *sample)
{
    const struct json_value *sig = json_array_at(json_object_get(sample, "signatures"), 0);
    char *h = b64url_decode(json_string_value(json_object_get(sig, "protected"), NULL));
    struct json_value *v = json_parse(h, strlen(h), 0, NULL);

    free(h);
    assert_non_null(v);
    return v;
}

/*
 * The signed sample (EDCI, 2023; a test eSeal of ANF AC, valid 2023-05-11 to
 * 2025-05-10, so expired today) verifies: its signature is intact, the certificate was
 * valid at its claimed signing time (sigT 2023-09-27T11:54:17Z), its kid is the
 * IssuerSerial our encoder makes, and its adoTst is read structurally.
 */
static void test_signed_sample_verifies(void **state)
{
    size_t len;
    char *sample = read_file(SAMPLES "Sample-MC-Annex1-signed.jsonld", &len);
    struct json_value *v = json_parse(sample, len, 0, NULL);
    const char *want = json_string_value(json_object_get(v, "payload"), NULL);
    char subject[JADES_SUBJECT_SIZE];
    struct mcx_error err;
    struct buf payload;
    char *t;

    (void)state;
    buf_init(&payload);
    if (jades_verify(sample, len, &payload, subject, sizeof(subject), &err) < 0)
        fail_msg("the signed sample: %s: %s", err.code, err.message);
    assert_string_equal(payload.data, want);
    assert_non_null(strstr(subject, "CN=TEST SEAL"));
    assert_non_null(strstr(subject, "O=ORGANIZACION TEST"));
    buf_cleanup(&payload);

    /* And it is really checked: one character of the credential id changed. */
    t = replace(sample, "urn:credential:1018d05f", "urn:credential:1018d05e");
    assert_verify_fails(t, "jades_bad_signature", NULL);
    free(t);
    json_value_free(v);
    free(sample);
}

/*
 * Our envelope against the sample's: the same top level; one signature; the protected
 * header's names the sample's minus sigT (replaced by iat: TS 119 182-1 V1.2.1 deprecates
 * sigT for signatures made from 2025-07-15) and adoTst (a data-object timestamp from a
 * TSA, beyond B-B); no unprotected header (its etsiU holds sigTst, the B-T timestamp).
 */
static void test_structure_matches_sample(void **state)
{
    size_t len;
    char *sample = read_file(SAMPLES "Sample-MC-Annex1-signed.jsonld", &len);
    char *credential = read_file(SAMPLES "Sample-MC-Annex1-unsigned.jsonld", &len);
    char *doc = seal(credential, len);
    struct json_value *s = json_parse(sample, strlen(sample), 0, NULL);
    struct json_value *d = json_parse(doc, strlen(doc), 0, NULL);
    struct json_value *sh = sample_header(s), *dh = sample_header(d);
    const struct json_value *ssig = json_array_at(json_object_get(s, "signatures"), 0);
    const struct json_value *dsig = json_array_at(json_object_get(d, "signatures"), 0);
    char *a, *b;
    static const char *const same[] = {"alg", "cty", "typ"};

    (void)state;
    a = keys_of(s), b = keys_of(d);
    assert_string_equal(a, "payload,signatures");
    assert_string_equal(b, a);
    free(a), free(b);
    assert_int_equal(json_array_len(json_object_get(s, "signatures")), 1);
    assert_int_equal(json_array_len(json_object_get(d, "signatures")), 1);
    a = keys_of(ssig), b = keys_of(dsig);
    assert_string_equal(a, "header,protected,signature");
    assert_string_equal(b, "protected,signature"); /* deliberate: no etsiU (B-T) */
    free(a), free(b);

    a = keys_of(sh), b = keys_of(dh);
    assert_string_equal(a, "adoTst,alg,b64,crit,cty,kid,sigT,typ,x5c,x5t#S256");
    assert_string_equal(b, "alg,b64,crit,cty,iat,kid,typ,x5c,x5t#S256");
    free(a), free(b);
    for (size_t i = 0; i < MCX_ARRAY_LEN(same); i++)
        assert_string_equal(json_string_value(json_object_get(sh, same[i]), NULL),
                            json_string_value(json_object_get(dh, same[i]), NULL));
    assert_false(json_bool_value(json_object_get(sh, "b64")));
    assert_false(json_bool_value(json_object_get(dh, "b64")));
    /* Our crit is a subset of the sample's; both lead with b64. */
    assert_string_equal(json_string_value(json_array_at(json_object_get(sh, "crit"), 0), NULL),
                        "b64");
    assert_int_equal(json_array_len(json_object_get(dh, "crit")), 1);
    assert_string_equal(json_string_value(json_array_at(json_object_get(dh, "crit"), 0), NULL),
                        "b64");
    /* The payload is carried the same way: the credential JSON as a string. */
    assert_true(json_is_string(json_object_get(s, "payload")));
    assert_true(json_is_string(json_object_get(d, "payload")));

    json_value_free(sh);
    json_value_free(dh);
    json_value_free(s);
    json_value_free(d);
    free(doc);
    free(credential);
    free(sample);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_pem),
        cmocka_unit_test(test_load_p12),
        cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_seal_verify_sample),
        cmocka_unit_test(test_seal_header),
        cmocka_unit_test(test_seal_rejects),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_envelope_rules),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_certificate_rules),
        cmocka_unit_test(test_signed_sample_verifies),
        cmocka_unit_test(test_structure_matches_sample),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
