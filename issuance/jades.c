/*
 * jades.c — JAdES baseline-B seals (ETSI TS 119 182-1) over JWS (RFC 7515) with an
 * unencoded payload (RFC 7797), in the shape EDCI gives sealed Europass credentials.
 * Keys come from PEM or PKCS#12 files through OpenSSL and are checked when loaded, so a
 * wrong eSeal configuration is found at start-up, not at the first credential. The
 * verifier is strict like curl's parsers: every length is bounded, every encoding is
 * the canonical one, anything not understood is refused. OpenSSL's error queue is
 * cleared after every failure so that it never leaks into the TLS code on the thread.
 */
#include "issuance/jades.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "server/json.h"
#include "server/jsonparse.h"

#define JADES_MAX_KEY_FILE (64 * 1024)    /* a PEM RSA-8192 private key is under 7 KiB */
#define JADES_MAX_CERT_FILE (1024 * 1024) /* a chain file or a PKCS#12 file */
#define JADES_MAX_CERT_DER (16 * 1024)    /* one certificate; eSeal ones are about 2 KiB */
#define JADES_MAX_PROTECTED (256 * 1024)  /* encoded header: x5c plus timestamp tokens */
#define JADES_MAX_SIG_BYTES 1024          /* RSA-8192 */
#define JADES_MAX_CRIT 16                 /* names in crit */
#define JADES_MAX_PAYLOAD (16u << 20)     /* escaping may double it; the parser takes 32 */
#define JADES_JSON_DEPTH 16               /* the envelope and header nest 5 deep at most */
#define JADES_SHA256_LEN 32
#define JADES_X5T_SIZE 44 /* base64url of 32 bytes (43) + NUL */

struct jades_key {
    EVP_PKEY *key;
    X509 *chain[JADES_MAX_CHAIN];
    size_t nchain;
    /* The header values that only depend on the key, computed once at load time. */
    char *kid;
    char x5t[JADES_X5T_SIZE];
    char *x5c[JADES_MAX_CHAIN];
    char subject[JADES_SUBJECT_SIZE]; /* the leaf's, RFC 2253 */
    char org_id[JADES_ORG_ID_SIZE];   /* the leaf subject's organizationIdentifier, or "" */
};

static int fail(struct mcx_error *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err, clears OpenSSL's error queue and returns -1. */
static int fail(struct mcx_error *err, const char *code, const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcx_error_set(err, code, "%s", msg);
    ERR_clear_error();
    return -1;
}

/* For a config error: which file is wrong, so an operator sees it at once. */
static int fail_file(struct mcx_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_file(struct mcx_error *err, const char *path, const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcx_error_set(err, "eseal_config", "%s: %s", path, msg);
    if (err != NULL)
        mcx_strlcpy(err->path, path, sizeof(err->path));
    ERR_clear_error();
    return -1;
}

/* OpenSSL's reason for the last failure, for messages. */
static const char *ossl_reason(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());

    return r != NULL ? r : "unknown error";
}

/* ---- base64 (RFC 4648 §4) and base64url (§5) ---- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Standard base64 is padded (x5c, kid: RFC 7515 §4.1.6); base64url is not (§2). */
static void b64_append(struct buf *out, const unsigned char *in, size_t n, bool url)
{
    const char *t = url ? b64_url : b64_std;
    size_t i = 0;

    buf_reserve(out, (n + 2) / 3 * 4 + 1);
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        char q[4] = {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
        buf_append(out, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        buf_putc(out, t[v >> 18]);
        buf_putc(out, t[(v >> 12) & 63]);
        if (!url)
            buf_puts(out, "==");
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        buf_putc(out, t[v >> 18]);
        buf_putc(out, t[(v >> 12) & 63]);
        buf_putc(out, t[(v >> 6) & 63]);
        if (!url)
            buf_putc(out, '=');
    }
}

static int b64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/*
 * Decodes in[0..len) into a new buffer (free it). Only the canonical form is taken: no
 * whitespace, padding exactly where standard base64 needs it and never in base64url,
 * zero unused bits, so that one value has one encoding. 0, or -1.
 */
static int b64_decode(const char *in, size_t len, bool url, unsigned char **out, size_t *out_len)
{
    size_t pad = 0, n = 0;
    uint32_t acc = 0;
    unsigned char *p;

    if (len == 0)
        return -1;
    if (!url) {
        if (len % 4 != 0)
            return -1;
        if (in[len - 1] == '=')
            pad = in[len - 2] == '=' ? 2 : 1;
        len -= pad;
    } else if (len % 4 == 1) {
        return -1;
    }
    p = xmalloc(len / 4 * 3 + 3);
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i], url);
        if (v < 0)
            goto bad;
        acc = (acc << 6) | (uint32_t)v;
        if (i % 4 == 3) {
            p[n++] = (unsigned char)(acc >> 16);
            p[n++] = (unsigned char)(acc >> 8);
            p[n++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (len % 4 == 3) { /* 18 bits: 2 bytes and 2 zero bits */
        if (acc & 0x3)
            goto bad;
        p[n++] = (unsigned char)(acc >> 10);
        p[n++] = (unsigned char)(acc >> 2);
    } else if (len % 4 == 2) { /* 12 bits: 1 byte and 4 zero bits */
        if (acc & 0xf)
            goto bad;
        p[n++] = (unsigned char)(acc >> 4);
    }
    *out = p;
    *out_len = n;
    return 0;
bad:
    free(p);
    return -1;
}

/* ---- times ---- */

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/*
 * "YYYY-MM-DDThh:mm:ssZ" exactly: the RFC 3339 profile JAdES sigT uses (TS 119 182-1
 * §5.2.1) and the one mcx hands in. No fraction and no offset, so a time has one form.
 */
static int time_parse(const char *s, time_t *out)
{
    char date[11];
    struct tm tm;
    long hh, mm, ss;

    if (s == NULL || strlen(s) != JADES_TIME_LEN || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[19] != 'Z' || !is_digits(s + 11, 2) || !is_digits(s + 14, 2) || !is_digits(s + 17, 2))
        return -1;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!mcx_date_is_valid(date))
        return -1;
    hh = (s[11] - '0') * 10 + (s[12] - '0');
    mm = (s[14] - '0') * 10 + (s[15] - '0');
    ss = (s[17] - '0') * 10 + (s[18] - '0');
    if (hh > 23 || mm > 59 || ss > 59)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = atoi(date) - 1900;
    tm.tm_mon = atoi(date + 5) - 1;
    tm.tm_mday = atoi(date + 8);
    tm.tm_hour = (int)hh;
    tm.tm_min = (int)mm;
    tm.tm_sec = (int)ss;
    *out = timegm(&tm);
    return 0;
}

static void time_format(time_t t, char out[JADES_TIME_LEN + 1])
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, JADES_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        mcx_strlcpy(out, "?", JADES_TIME_LEN + 1);
}

/* ---- certificates ---- */

/* 0 when c is valid at t, else a sentence for a message. */
static const char *cert_validity_problem(X509 *c, time_t t)
{
    int before = X509_cmp_time(X509_get0_notBefore(c), &t);
    int after = X509_cmp_time(X509_get0_notAfter(c), &t);

    if (before == 0 || after == 0)
        return "has an unreadable validity period";
    if (before > 0)
        return "is not yet valid";
    if (after < 0)
        return "has expired";
    return NULL;
}

/* The index i whose certificate c[i + 1] did not issue c[i], or -1 when the chain links. */
static int chain_broken_at(X509 *const *c, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        EVP_PKEY *issuer_key = X509_get0_pubkey(c[i + 1]);
        if (X509_check_issued(c[i + 1], c[i]) != X509_V_OK || issuer_key == NULL ||
            X509_verify(c[i], issuer_key) != 1)
            return (int)i;
    }
    return -1;
}

/* An eSeal signs: keyUsage, when present, must allow digitalSignature or nonRepudiation. */
static bool leaf_can_sign(X509 *leaf)
{
    if ((X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) == 0)
        return true;
    return (X509_get_key_usage(leaf) & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
}

static bool key_is_rsa_enough(EVP_PKEY *key)
{
    return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
           EVP_PKEY_get_bits(key) >= JADES_MIN_RSA_BITS;
}

/*
 * The subject in RFC 2253 order and escaping, but with UTF-8 kept as is rather than as
 * \XX escapes. Copied to out when it fits; returns its length, or -1.
 */
static long subject_oneline(X509 *c, char *out, size_t size)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n = -1;

    if (size > 0)
        out[0] = '\0';
    if (b == NULL)
        return -1;
    if (X509_NAME_print_ex(b, X509_get_subject_name(c), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_get_mem_data(b, &p);
        if (n >= 0 && (size_t)n < size) {
            memcpy(out, p, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(b);
    return n;
}

/*
 * kid (TS 119 182-1 §5.1.4): base64 of the DER IssuerSerial (RFC 5035) of the signing
 * certificate: SEQUENCE { GeneralNames { [4] issuer Name }, serialNumber INTEGER }.
 * OpenSSL 3 keeps ESS_ISSUER_SERIAL opaque, so the outer SEQUENCE is written here.
 */
static int issuer_serial_append(X509 *leaf, struct buf *out)
{
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    GENERAL_NAME *name = GENERAL_NAME_new();
    X509_NAME *issuer = X509_NAME_dup(X509_get_issuer_name(leaf));
    unsigned char *der = NULL, *p;
    int names_len, serial_len, total, rc = -1;

    if (names == NULL || name == NULL || issuer == NULL)
        goto out;
    GENERAL_NAME_set0_value(name, GEN_DIRNAME, issuer);
    issuer = NULL;
    if (!sk_GENERAL_NAME_push(names, name))
        goto out;
    name = NULL;
    names_len = i2d_GENERAL_NAMES(names, NULL);
    serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(leaf), NULL);
    if (names_len <= 0 || serial_len <= 0)
        goto out;
    total = ASN1_object_size(1, names_len + serial_len, V_ASN1_SEQUENCE);
    if (total <= 0)
        goto out;
    der = xmalloc((size_t)total);
    p = der;
    ASN1_put_object(&p, 1, names_len + serial_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    i2d_GENERAL_NAMES(names, &p);
    i2d_ASN1_INTEGER(X509_get0_serialNumber(leaf), &p);
    if (p - der != total)
        goto out;
    b64_append(out, der, (size_t)total, false);
    rc = 0;
out:
    free(der);
    X509_NAME_free(issuer);
    GENERAL_NAME_free(name);
    GENERAL_NAMES_free(names);
    return rc;
}

/* x5t#S256 (RFC 7515 §4.1.8): base64url SHA-256 of the DER certificate. */
static int thumbprint(X509 *c, char out[JADES_X5T_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct buf b;

    if (X509_digest(c, EVP_sha256(), md, &mdlen) != 1 || mdlen != JADES_SHA256_LEN)
        return -1;
    buf_init(&b);
    b64_append(&b, md, mdlen, true);
    mcx_strlcpy(out, b.data, JADES_X5T_SIZE);
    buf_cleanup(&b);
    return 0;
}

static char *cert_base64(X509 *c)
{
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    struct buf b;

    if (n <= 0)
        return NULL;
    buf_init(&b);
    b64_append(&b, der, (size_t)n, false);
    OPENSSL_free(der);
    return buf_steal(&b, NULL);
}

/* ---- loading keys ---- */

void jades_key_free(struct jades_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->key); /* RSA private parts are freed with BN_clear_free */
    for (size_t i = 0; i < k->nchain; i++) {
        X509_free(k->chain[i]);
        free(k->x5c[i]);
    }
    free(k->kid);
    free(k);
}

const char *jades_key_subject(const struct jades_key *k)
{
    return k->subject;
}

const char *jades_key_org_id(const struct jades_key *k)
{
    return k->org_id;
}

/* organizationIdentifier (2.5.4.97, ETSI EN 319 412-1 §5.1.4: "VATLT-100002513" and the
 * like), the eIDAS legal identifier an eSeal names its organisation by. */
static void org_id_read(X509 *leaf, char *out, size_t size)
{
    X509_NAME *name = X509_get_subject_name(leaf);
    int i = X509_NAME_get_index_by_NID(name, NID_organizationIdentifier, -1);
    unsigned char *utf8 = NULL;
    int n;

    out[0] = '\0';
    if (i < 0)
        return;
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n > 0 && (size_t)n < size && memchr(utf8, '\0', (size_t)n) == NULL) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
}

time_t jades_key_not_after(const struct jades_key *k)
{
    struct tm tm;

    if (k == NULL || k->nchain == 0 || ASN1_TIME_to_tm(X509_get0_notAfter(k->chain[0]), &tm) != 1)
        return 0;
    return timegm(&tm);
}

/*
 * Reads a regular file of at most max bytes into out (appended). The caller wipes it
 * when it holds key material.
 */
static int file_read(const char *path, size_t max, struct buf *out, struct mcx_error *err)
{
    struct stat st;
    int fd;

    if (path == NULL || path[0] == '\0')
        return fail(err, "eseal_config", "no file configured");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_file(err, path, "cannot open: %s", strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        close(fd);
        return fail_file(err, path, "not a regular file of at most %zu bytes", max);
    }
    buf_reserve(out, (size_t)st.st_size + 1);
    for (;;) {
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return fail_file(err, path, "cannot read: %s", strerror(e));
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        out->data[out->len] = '\0';
        if (out->len > max) {
            close(fd);
            return fail_file(err, path, "grew past %zu bytes while read", max);
        }
        if (out->len + 1 >= out->cap)
            buf_reserve(out, 4096);
    }
    close(fd);
    return 0;
}

static void buf_wipe(struct buf *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    buf_cleanup(b);
}

/* Everything a usable eSeal needs, checked once the key and the chain are in k. */
static int key_finish(struct jades_key *k, time_t now, const char *key_where,
                      const char *chain_where, struct mcx_error *err)
{
    struct buf kid;
    int broken;

    if (!key_is_rsa_enough(k->key))
        return fail_file(err, key_where,
                         "the key is not RSA of at least %d bits (RS256 needs one; this is %s, "
                         "%d bits)",
                         JADES_MIN_RSA_BITS, EVP_PKEY_get0_type_name(k->key),
                         EVP_PKEY_get_bits(k->key));
    if (EVP_PKEY_eq(X509_get0_pubkey(k->chain[0]), k->key) != 1)
        return fail_file(err, chain_where,
                         "the key does not match the leaf certificate (the first one)");
    broken = chain_broken_at(k->chain, k->nchain);
    if (broken >= 0)
        return fail_file(err, chain_where,
                         "certificate %d was not issued by certificate %d: list the chain "
                         "leaf first, each certificate followed by its issuer",
                         broken + 1, broken + 2);
    for (size_t i = 0; i < k->nchain; i++) {
        const char *problem = cert_validity_problem(k->chain[i], now);
        char subject[256];
        if (problem == NULL)
            continue;
        subject_oneline(k->chain[i], subject, sizeof(subject));
        return fail_file(err, chain_where, "certificate %zu (%s) %s", i + 1, subject, problem);
    }
    if (!leaf_can_sign(k->chain[0]))
        return fail_file(err, chain_where,
                         "the leaf certificate's key usage allows neither digitalSignature nor "
                         "nonRepudiation");
    buf_init(&kid);
    if (issuer_serial_append(k->chain[0], &kid) < 0 || thumbprint(k->chain[0], k->x5t) < 0) {
        buf_cleanup(&kid);
        return fail(err, "eseal_config", "cannot encode the leaf certificate: %s", ossl_reason());
    }
    k->kid = buf_steal(&kid, NULL);
    if (subject_oneline(k->chain[0], k->subject, sizeof(k->subject)) < 0 || strlen(k->subject) == 0)
        return fail(err, "eseal_config", "the leaf certificate's subject cannot be read");
    org_id_read(k->chain[0], k->org_id, sizeof(k->org_id));
    for (size_t i = 0; i < k->nchain; i++) {
        k->x5c[i] = cert_base64(k->chain[i]);
        if (k->x5c[i] == NULL)
            return fail(err, "eseal_config", "cannot encode certificate %zu: %s", i + 1,
                        ossl_reason());
    }
    return 0;
}

struct password_ctx {
    const char *password;
    bool asked;
};

/* OpenSSL asks through this; without it PEM reading would prompt on the terminal. */
static int password_cb(char *buf, int size, int rwflag, void *arg)
{
    struct password_ctx *ctx = arg;
    size_t n;

    (void)rwflag;
    ctx->asked = true;
    if (ctx->password == NULL)
        return -1;
    n = strlen(ctx->password);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, ctx->password, n); /* OpenSSL cleanses buf after use */
    return (int)n;
}

static int pem_read_key(const char *path, const char *password, EVP_PKEY **out,
                        struct mcx_error *err)
{
    struct password_ctx pw = {password, false};
    struct buf text;
    BIO *bio;

    buf_init(&text);
    if (file_read(path, JADES_MAX_KEY_FILE, &text, err) < 0) {
        buf_wipe(&text);
        return -1;
    }
    bio = BIO_new_mem_buf(text.data, (int)text.len);
    *out = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, password_cb, &pw) : NULL;
    BIO_free(bio);
    buf_wipe(&text);
    if (*out != NULL)
        return 0;
    if (pw.asked && password == NULL)
        return fail_file(err, path, "the key is encrypted and no password is configured");
    if (pw.asked)
        return fail_file(err, path, "cannot decrypt the key: wrong password (%s)", ossl_reason());
    return fail_file(err, path, "no PEM private key found (%s)", ossl_reason());
}

static int pem_read_chain(const char *path, struct jades_key *k, struct mcx_error *err)
{
    struct buf text;
    BIO *bio;
    X509 *c;

    buf_init(&text);
    if (file_read(path, JADES_MAX_CERT_FILE, &text, err) < 0) {
        buf_cleanup(&text);
        return -1;
    }
    bio = BIO_new_mem_buf(text.data, (int)text.len);
    /* PEM_read_bio_X509 skips other blocks, so a file holding the key too is fine. */
    while (bio != NULL && (c = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (k->nchain == JADES_MAX_CHAIN) {
            X509_free(c);
            BIO_free(bio);
            buf_cleanup(&text);
            return fail_file(err, path, "more than %d certificates", JADES_MAX_CHAIN);
        }
        k->chain[k->nchain++] = c;
    }
    BIO_free(bio);
    buf_cleanup(&text);
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || k->nchain == 0)
        return fail_file(err, path, "%s",
                         k->nchain == 0 ? "no PEM certificate found"
                                        : "a certificate cannot be read");
    ERR_clear_error(); /* the end of the file */
    return 0;
}

int jades_key_load_pem(const char *key_path, const char *chain_path, const char *password,
                       time_t now, struct jades_key **out, struct mcx_error *err)
{
    struct jades_key *k = xcalloc(1, sizeof(*k));

    *out = NULL;
    if (pem_read_key(key_path, password, &k->key, err) < 0 ||
        pem_read_chain(chain_path, k, err) < 0 ||
        key_finish(k, now, key_path, chain_path, err) < 0) {
        jades_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

/* PKCS#12 gives the CA certificates in no set order: build the path from the leaf up. */
static int p12_order_chain(struct jades_key *k, STACK_OF(X509) * ca, const char *path,
                           struct mcx_error *err)
{
    int n = ca != NULL ? sk_X509_num(ca) : 0;
    bool used[64] = {false};

    if (n > (int)MCX_ARRAY_LEN(used))
        return fail_file(err, path, "more than %zu CA certificates", MCX_ARRAY_LEN(used));
    for (;;) {
        X509 *last = k->chain[k->nchain - 1];
        int next = -1;
        if (X509_check_issued(last, last) == X509_V_OK)
            return 0; /* self-issued: the root */
        for (int i = 0; i < n && next < 0; i++) {
            if (!used[i] && X509_check_issued(sk_X509_value(ca, i), last) == X509_V_OK)
                next = i;
        }
        if (next < 0)
            return 0; /* the rest of the path is the verifier's to find */
        if (k->nchain == JADES_MAX_CHAIN)
            return fail_file(err, path, "a chain longer than %d certificates", JADES_MAX_CHAIN);
        used[next] = true;
        if (!X509_up_ref(sk_X509_value(ca, next)))
            return fail(err, "eseal_config", "out of OpenSSL references");
        k->chain[k->nchain++] = sk_X509_value(ca, next);
    }
}

static bool p12_mac_ok(PKCS12 *p12, const char *password)
{
    if (!PKCS12_mac_present(p12))
        return true;
    /* As PKCS12_parse does: an empty password may have been encoded either way. */
    if (password == NULL || password[0] == '\0')
        return PKCS12_verify_mac(p12, NULL, 0) == 1 || PKCS12_verify_mac(p12, "", 0) == 1;
    return PKCS12_verify_mac(p12, password, -1) == 1;
}

static int p12_read(const char *path, const char *password, struct jades_key *k,
                    struct mcx_error *err)
{
    STACK_OF(X509) *ca = NULL;
    struct buf data;
    PKCS12 *p12 = NULL;
    X509 *leaf = NULL;
    BIO *bio;
    int rc = -1;

    buf_init(&data);
    if (file_read(path, JADES_MAX_CERT_FILE, &data, err) < 0)
        goto out;
    bio = BIO_new_mem_buf(data.data, (int)data.len);
    p12 = bio != NULL ? d2i_PKCS12_bio(bio, NULL) : NULL;
    BIO_free(bio);
    if (p12 == NULL) {
        fail_file(err, path, "not a PKCS#12 file (%s)", ossl_reason());
        goto out;
    }
    if (!p12_mac_ok(p12, password)) {
        fail_file(err, path, "wrong password (the PKCS#12 integrity check fails)");
        goto out;
    }
    if (!PKCS12_parse(p12, password, &k->key, &leaf, &ca)) {
        /* Typically RC2 or 3DES, which OpenSSL 3 only has in its legacy provider. */
        fail_file(err, path,
                  "cannot decrypt the contents (%s); re-export it with AES, e.g. openssl "
                  "pkcs12 -export -keypbe AES-256-CBC -certpbe AES-256-CBC, or use PEM files",
                  ossl_reason());
        goto out;
    }
    if (k->key == NULL || leaf == NULL) {
        fail_file(err, path, "no private key with its certificate inside");
        goto out;
    }
    k->chain[k->nchain++] = leaf;
    leaf = NULL;
    rc = p12_order_chain(k, ca, path, err);
out:
    X509_free(leaf);
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
    buf_wipe(&data);
    return rc;
}

int jades_key_load_p12(const char *p12_path, const char *password, time_t now,
                       struct jades_key **out, struct mcx_error *err)
{
    struct jades_key *k = xcalloc(1, sizeof(*k));

    *out = NULL;
    if (p12_read(p12_path, password, k, err) < 0 ||
        key_finish(k, now, p12_path, p12_path, err) < 0) {
        jades_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

/* ---- sealing ---- */

/* The protected header, in the order EDCI's (DSS's) signer writes it. */
static void header_write(const struct jades_key *k, time_t signing_time, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    json_kv_string(&w, "alg", "RS256");
    json_kv_string(&w, "cty", "octet-stream"); /* as EDCI: the payload is opaque bytes */
    json_kv_string(&w, "kid", k->kid);
    json_kv_string(&w, "x5t#S256", k->x5t);
    json_key(&w, "x5c");
    json_array_begin(&w);
    for (size_t i = 0; i < k->nchain; i++)
        json_string(&w, k->x5c[i]);
    json_array_end(&w);
    json_kv_string(&w, "typ", "jose+json"); /* RFC 7515 §4.1.9: JSON serialisation */
    json_kv_bool(&w, "b64", false);
    json_kv_int(&w, "iat", (int64_t)signing_time);
    /* RFC 7797 §6: b64 must be critical. iat is a registered JWT claim, so not listed. */
    json_key(&w, "crit");
    json_array_begin(&w);
    json_string(&w, "b64");
    json_array_end(&w);
    json_object_end(&w);
}

static int rs256_sign(EVP_PKEY *key, const char *hdr, size_t hdr_len, const char *payload,
                      size_t len, struct buf *sig_b64)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[JADES_MAX_SIG_BYTES];
    size_t sig_len = sizeof(sig);
    int rc = -1;

    if (ctx == NULL || EVP_PKEY_get_size(key) > (int)sizeof(sig))
        goto out;
    /* RFC 7797 §3: the signing input is the encoded header, '.', the raw payload. */
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSignUpdate(ctx, hdr, hdr_len) != 1 || EVP_DigestSignUpdate(ctx, ".", 1) != 1 ||
        EVP_DigestSignUpdate(ctx, payload, len) != 1 ||
        EVP_DigestSignFinal(ctx, sig, &sig_len) != 1)
        goto out;
    b64_append(sig_b64, sig, sig_len, true);
    rc = 0;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

static int seal_check_input(const struct jades_key *k, const char *payload, size_t len,
                            const char *signing_time, time_t *t, struct mcx_error *err)
{
    if (k == NULL || (payload == NULL && len > 0))
        return fail(err, "invalid_argument", "no key or no payload");
    if (time_parse(signing_time, t) < 0)
        return fail(err, "invalid_argument",
                    "signing time must be YYYY-MM-DDThh:mm:ssZ (UTC, whole seconds)");
    if (len == 0 || len > JADES_MAX_PAYLOAD)
        return fail(err, "invalid_argument", "payload must be 1 to %u bytes", JADES_MAX_PAYLOAD);
    /* The payload travels as a JSON string (RFC 7797 §5.2): its bytes must be UTF-8. */
    if (!utf8_is_valid(payload, len))
        return fail(err, "invalid_argument", "payload is not valid UTF-8");
    for (size_t i = 0; i < k->nchain; i++) {
        const char *problem = cert_validity_problem(k->chain[i], *t);
        if (problem != NULL)
            return fail(err, "eseal_config", "eSeal certificate %zu %s at %s", i + 1, problem,
                        signing_time);
    }
    return 0;
}

int jades_seal(const struct jades_key *k, const char *payload, size_t len, const char *signing_time,
               struct buf *out, struct mcx_error *err)
{
    struct buf hdr, hdr_b64, sig_b64;
    struct json_writer w;
    size_t start = out->len;
    time_t t;
    int rc = -1;

    if (seal_check_input(k, payload, len, signing_time, &t, err) < 0)
        return -1;
    buf_init(&hdr);
    buf_init(&hdr_b64);
    buf_init(&sig_b64);
    header_write(k, t, &hdr);
    b64_append(&hdr_b64, (const unsigned char *)hdr.data, hdr.len, true);
    if (rs256_sign(k->key, hdr_b64.data, hdr_b64.len, payload, len, &sig_b64) < 0) {
        fail(err, "crypto_failed", "RS256 signing failed: %s", ossl_reason());
        goto out;
    }
    json_writer_init(&w, out);
    json_object_begin(&w);
    json_key(&w, "payload");
    json_string_len(&w, payload, len);
    json_key(&w, "signatures");
    json_array_begin(&w);
    json_object_begin(&w);
    json_kv_string(&w, "protected", hdr_b64.data);
    json_kv_string(&w, "signature", sig_b64.data);
    json_object_end(&w);
    json_array_end(&w);
    json_object_end(&w);
    if (out->len - start > JSON_PARSE_MAX_BYTES) {
        out->len = start;
        out->data[start] = '\0';
        fail(err, "invalid_argument", "the sealed document would exceed %u bytes",
             JSON_PARSE_MAX_BYTES);
        goto out;
    }
    rc = 0;
out:
    buf_cleanup(&hdr);
    buf_cleanup(&hdr_b64);
    buf_cleanup(&sig_b64);
    return rc;
}

/* ---- verifying ---- */

/* What the checks find, in order; released by verified_cleanup. */
struct verified {
    const char *payload; /* into the parsed document */
    size_t payload_len;
    const char *protected_b64;
    size_t protected_len;
    const char *signature_b64;
    size_t signature_len;
    const struct json_value *unprotected; /* NULL when absent */
    struct json_value *header;            /* the decoded protected header */
    X509 *chain[JADES_MAX_CHAIN];
    size_t nchain;
    time_t signing_time;
};

static void verified_cleanup(struct verified *v)
{
    json_value_free(v->header);
    for (size_t i = 0; i < v->nchain; i++)
        X509_free(v->chain[i]);
}

static const char *string_member(const struct json_value *obj, const char *key, size_t *len)
{
    return json_string_value(json_object_get(obj, key), len);
}

/* RFC 7515 §7.2.1 (general, one signature here) or §7.2.2 (flattened). */
static int envelope_read(const struct json_value *doc, struct verified *v, struct mcx_error *err)
{
    const struct json_value *sigs = json_object_get(doc, "signatures");
    const struct json_value *sig = doc;

    if (!json_is_object(doc))
        return fail(err, "jades_malformed", "not a JSON object");
    if (sigs != NULL) {
        if (!json_is_array(sigs) || json_object_get(doc, "protected") != NULL ||
            json_object_get(doc, "signature") != NULL)
            return fail(err, "jades_malformed", "signatures must be an array, alone");
        if (json_array_len(sigs) != 1)
            return fail(err, "jades_unsupported", "%zu signatures; exactly one is supported",
                        json_array_len(sigs));
        sig = json_array_at(sigs, 0);
        if (!json_is_object(sig))
            return fail(err, "jades_malformed", "signatures[0] is not an object");
    }
    v->payload = string_member(doc, "payload", &v->payload_len);
    if (v->payload == NULL || v->payload_len == 0)
        return fail(err, "jades_unsupported",
                    "no payload string (detached payloads are not supported)");
    v->protected_b64 = string_member(sig, "protected", &v->protected_len);
    if (v->protected_b64 == NULL || v->protected_len == 0 || v->protected_len > JADES_MAX_PROTECTED)
        return fail(err, "jades_malformed", "protected must be a string of 1-%d characters",
                    JADES_MAX_PROTECTED);
    v->signature_b64 = string_member(sig, "signature", &v->signature_len);
    if (v->signature_b64 == NULL)
        return fail(err, "jades_malformed", "no signature string");
    v->unprotected = json_object_get(sig, "header");
    if (v->unprotected != NULL && !json_is_object(v->unprotected))
        return fail(err, "jades_malformed", "header must be an object");
    return 0;
}

/* The crit names this verifier processes; adoTst only structurally (see jades.h). */
static bool crit_is_understood(const char *name)
{
    static const char *const names[] = {"b64", "iat", "sigT", "adoTst"};

    for (size_t i = 0; i < MCX_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

/* RFC 7515 §4.1.11, RFC 7797 §6. */
static int crit_check(const struct json_value *h, struct mcx_error *err)
{
    const struct json_value *crit = json_object_get(h, "crit");
    size_t n = json_array_len(crit);
    bool has_b64 = false;

    if (!json_is_array(crit) || n == 0 || n > JADES_MAX_CRIT)
        return fail(err, "jades_malformed", "crit must be an array of 1-%d names", JADES_MAX_CRIT);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *name = json_string_value(json_array_at(crit, i), &len);
        if (name == NULL || len == 0 || strlen(name) != len)
            return fail(err, "jades_malformed", "crit[%zu] is not a name", i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(name, json_string_value(json_array_at(crit, j), NULL)) == 0)
                return fail(err, "jades_malformed", "crit lists %s twice", name);
        }
        if (!crit_is_understood(name))
            return fail(err, "jades_unsupported", "critical header parameter %s not understood",
                        name);
        if (json_object_get(h, name) == NULL)
            return fail(err, "jades_malformed", "crit lists %s, which is not in the header", name);
        has_b64 = has_b64 || strcmp(name, "b64") == 0;
    }
    if (!has_b64)
        return fail(err, "jades_malformed", "b64 is not listed in crit (RFC 7797 §6)");
    return 0;
}

/* The claimed signing time: iat (NumericDate, whole seconds) or sigT, exactly one. */
static int signing_time_read(const struct json_value *h, time_t *out, struct mcx_error *err)
{
    const struct json_value *iat = json_object_get(h, "iat");
    const struct json_value *sigt = json_object_get(h, "sigT");
    long secs;

    if ((iat == NULL) == (sigt == NULL))
        return fail(err, "jades_malformed",
                    "the header needs exactly one claimed signing time, iat or sigT");
    if (sigt != NULL) {
        if (time_parse(json_string_value(sigt, NULL), out) < 0)
            return fail(err, "jades_malformed", "sigT is not YYYY-MM-DDThh:mm:ssZ");
        return 0;
    }
    /* TS 119 182-1 V1.2.1 §5.1.11: iat has no fraction; digits only, so no 1e9 either. */
    if (!json_is_number(iat) || strlen(json_number_text(iat)) > 12 ||
        !is_digits(json_number_text(iat), strlen(json_number_text(iat))) ||
        mcx_parse_int(json_number_text(iat), 0, 253402300799L, &secs) < 0)
        return fail(err, "jades_malformed", "iat is not whole seconds since 1970");
    *out = (time_t)secs;
    return 0;
}

static int adotst_check(const struct json_value *h, struct mcx_error *err)
{
    const struct json_value *ado = json_object_get(h, "adoTst");
    const struct json_value *tokens = json_object_get(ado, "tstTokens");

    if (ado == NULL)
        return 0;
    if (!json_is_array(tokens) || json_array_len(tokens) == 0)
        return fail(err, "jades_malformed", "adoTst has no tstTokens");
    for (size_t i = 0; i < json_array_len(tokens); i++) {
        if (string_member(json_array_at(tokens, i), "val", NULL) == NULL)
            return fail(err, "jades_malformed", "adoTst token %zu has no val", i);
    }
    return 0;
}

static int header_read(struct verified *v, struct mcx_error *err)
{
    const struct json_value *b64;
    unsigned char *raw;
    size_t raw_len;
    struct mcx_error perr;
    const char *alg;

    if (b64_decode(v->protected_b64, v->protected_len, true, &raw, &raw_len) < 0)
        return fail(err, "jades_malformed", "protected is not base64url");
    /* jsonparse refuses duplicate names, which RFC 7515 §5.2 lets a recipient do. */
    v->header = json_parse((const char *)raw, raw_len, JADES_JSON_DEPTH, &perr);
    free(raw);
    if (!json_is_object(v->header))
        return fail(err, "jades_malformed", "the protected header is not a JSON object");
    alg = string_member(v->header, "alg", NULL);
    if (alg == NULL || strcmp(alg, "RS256") != 0)
        return fail(err, "jades_unsupported", "alg %s; only RS256 is supported",
                    alg != NULL ? alg : "(none)");
    b64 = json_object_get(v->header, "b64");
    if (!json_is_bool(b64) || json_bool_value(b64))
        return fail(err, "jades_unsupported", "only unencoded payloads (b64 false) are supported");
    if (crit_check(v->header, err) < 0 || signing_time_read(v->header, &v->signing_time, err) < 0 ||
        adotst_check(v->header, err) < 0)
        return -1;
    for (size_t i = 0; v->unprotected != NULL && i < json_object_len(v->unprotected); i++) {
        const char *name = json_object_key_at(v->unprotected, i);
        /* RFC 7515 §7.2.1: disjoint; alg, crit and b64 must be integrity-protected. */
        if (json_object_get(v->header, name) != NULL || strcmp(name, "alg") == 0 ||
            strcmp(name, "crit") == 0 || strcmp(name, "b64") == 0)
            return fail(err, "jades_malformed", "%s in the unprotected header", name);
    }
    return 0;
}

static int x5c_read(struct verified *v, struct mcx_error *err)
{
    const struct json_value *x5c = json_object_get(v->header, "x5c");
    size_t n = json_array_len(x5c);

    if (!json_is_array(x5c) || n == 0 || n > JADES_MAX_CHAIN)
        return fail(err, "jades_bad_certificate", "x5c must hold 1-%d certificates",
                    JADES_MAX_CHAIN);
    for (size_t i = 0; i < n; i++) {
        size_t len, der_len;
        const char *s = json_string_value(json_array_at(x5c, i), &len);
        unsigned char *der;
        const unsigned char *p;
        X509 *c;
        if (s == NULL || len > JADES_MAX_CERT_DER * 4 / 3 + 4 ||
            b64_decode(s, len, false, &der, &der_len) < 0)
            return fail(err, "jades_bad_certificate", "x5c[%zu] is not base64", i);
        p = der;
        c = d2i_X509(NULL, &p, (long)der_len);
        /* The whole value must be one certificate: nothing may hide after it. */
        if (c != NULL && p != der + der_len) {
            X509_free(c);
            c = NULL;
        }
        free(der);
        if (c == NULL)
            return fail(err, "jades_bad_certificate", "x5c[%zu] is not a DER certificate", i);
        v->chain[v->nchain++] = c;
    }
    return 0;
}

/* x5t#S256 is required: TS 119 182-1 B-B needs a signing-certificate reference. */
static int leaf_references_check(struct verified *v, struct mcx_error *err)
{
    const char *x5t = string_member(v->header, "x5t#S256", NULL);
    const char *kid = string_member(v->header, "kid", NULL);
    char want[JADES_X5T_SIZE];
    struct buf b;
    int rc = 0;

    if (x5t == NULL)
        return fail(err, "jades_bad_certificate",
                    "no x5t#S256 (x5t#o and sigX5ts are not supported)");
    if (thumbprint(v->chain[0], want) < 0 || strcmp(x5t, want) != 0)
        return fail(err, "jades_bad_certificate", "x5t#S256 does not match x5c[0]");
    if (json_object_get(v->header, "kid") == NULL)
        return 0;
    buf_init(&b);
    if (kid == NULL || issuer_serial_append(v->chain[0], &b) < 0 || strcmp(kid, b.data) != 0)
        rc = fail(err, "jades_bad_certificate",
                  "kid is not the IssuerSerial of x5c[0] (TS 119 182-1 §5.1.4)");
    buf_cleanup(&b);
    return rc;
}

static int certs_check(struct verified *v, struct mcx_error *err)
{
    EVP_PKEY *key;
    const char *problem;
    char when[JADES_TIME_LEN + 1];
    int broken;

    if (x5c_read(v, err) < 0 || leaf_references_check(v, err) < 0)
        return -1;
    key = X509_get0_pubkey(v->chain[0]);
    if (key == NULL || !key_is_rsa_enough(key))
        return fail(err, "jades_bad_certificate", "the leaf key is not RSA of at least %d bits",
                    JADES_MIN_RSA_BITS);
    broken = chain_broken_at(v->chain, v->nchain);
    if (broken >= 0)
        return fail(err, "jades_bad_certificate", "x5c[%d] was not issued by x5c[%d]", broken,
                    broken + 1);
    problem = cert_validity_problem(v->chain[0], v->signing_time);
    if (problem != NULL) {
        time_format(v->signing_time, when);
        return fail(err, "jades_bad_certificate", "the leaf certificate %s at the signing time %s",
                    problem, when);
    }
    if (!leaf_can_sign(v->chain[0]))
        return fail(err, "jades_bad_certificate", "the leaf's key usage does not allow signing");
    return 0;
}

static int signature_check(const struct verified *v, struct mcx_error *err)
{
    EVP_PKEY *key = X509_get0_pubkey(v->chain[0]);
    EVP_MD_CTX *ctx;
    unsigned char *sig;
    size_t sig_len;
    int ok;

    if (v->signature_len == 0 || v->signature_len > (JADES_MAX_SIG_BYTES * 4 + 2) / 3 ||
        b64_decode(v->signature_b64, v->signature_len, true, &sig, &sig_len) < 0)
        return fail(err, "jades_malformed", "signature is not base64url of at most %d bytes",
                    JADES_MAX_SIG_BYTES);
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestVerifyUpdate(ctx, v->protected_b64, v->protected_len) == 1 &&
         EVP_DigestVerifyUpdate(ctx, ".", 1) == 1 &&
         EVP_DigestVerifyUpdate(ctx, v->payload, v->payload_len) == 1 &&
         EVP_DigestVerifyFinal(ctx, sig, sig_len) == 1;
    EVP_MD_CTX_free(ctx);
    free(sig);
    if (!ok)
        return fail(err, "jades_bad_signature",
                    "the signature does not verify with the x5c[0] key");
    return 0;
}

int jades_verify(const char *sealed, size_t len, struct buf *payload_out, char *subject_out,
                 size_t subject_size, struct mcx_error *err)
{
    struct verified v;
    struct json_value *doc;
    struct mcx_error perr;
    int rc = -1;

    memset(&v, 0, sizeof(v));
    if (sealed == NULL)
        return fail(err, "jades_malformed", "no document");
    doc = json_parse(sealed, len, JADES_JSON_DEPTH, &perr);
    if (doc == NULL)
        return fail(err, "jades_malformed", "not JSON: %s", perr.message);
    if (envelope_read(doc, &v, err) < 0 || header_read(&v, err) < 0 || certs_check(&v, err) < 0 ||
        signature_check(&v, err) < 0)
        goto out;
    if (subject_out != NULL) {
        long n = subject_oneline(v.chain[0], subject_out, subject_size);
        if (n < 0 || (size_t)n >= subject_size) {
            fail(err, "invalid_argument", "subject_out holds %zu bytes, the subject needs %ld",
                 subject_size, n + 1);
            goto out;
        }
    }
    if (payload_out != NULL)
        buf_append(payload_out, v.payload, v.payload_len);
    rc = 0;
out:
    verified_cleanup(&v);
    json_value_free(doc);
    return rc;
}
