/*
 * httpsig.c — EWP HTTP Signatures (sec-cliauth-httpsig 1.0.1, sec-srvauth-httpsig
 * 1.0.2) over draft-cavage-http-signatures (07, which EWP cites; the signing string is
 * the same in 12). The parser is strict and bounded like curl's header parsers: every
 * length is checked before a copy, nothing is truncated, anything unexpected is
 * refused. Secrets and MACs are compared with CRYPTO_memcmp; signatures are checked by
 * EVP_DigestVerify. OpenSSL's error queue is cleared after every failure so that it
 * never leaks into the TLS code that shares the thread.
 */
#include "server/httpsig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define HTTPSIG_MAX_KEY_FILE (64 * 1024) /* a PEM RSA-8192 private key is under 7 KiB */
#define HTTPSIG_MAX_HEADER_LINES 64      /* repeated lines of one header we join */
#define HTTPSIG_MAX_DIGEST_LEN 4096      /* a whole Digest value */
#define HTTPSIG_SHA256_LEN 32

/* What EWP's client profile signs, in this order; the required set is the same. */
static const char *const httpsig_signed_names[] = {"(request-target)", "host", "date", "digest",
                                                   "x-request-id"};
static const char *const httpsig_required_names[] = {"(request-target)", "host", "digest",
                                                     "x-request-id"};

static const char *const httpsig_reason_names[] = {
    [HTTPSIG_OK] = "ok",
    [HTTPSIG_MISSING_SIGNATURE] = "missing_signature",
    [HTTPSIG_MALFORMED_SIGNATURE] = "malformed_signature",
    [HTTPSIG_UNSUPPORTED_ALGORITHM] = "unsupported_algorithm",
    [HTTPSIG_MISSING_SIGNED_HEADER] = "missing_signed_header",
    [HTTPSIG_BAD_DIGEST] = "bad_digest",
    [HTTPSIG_DATE_OUT_OF_WINDOW] = "date_out_of_window",
    [HTTPSIG_BAD_REQUEST_ID] = "bad_request_id",
    [HTTPSIG_UNKNOWN_KEY] = "unknown_key",
    [HTTPSIG_BAD_SIGNATURE] = "bad_signature",
};

const char *httpsig_reason_name(enum httpsig_reason reason)
{
    if ((size_t)reason >= MCX_ARRAY_LEN(httpsig_reason_names))
        return "unknown";
    return httpsig_reason_names[reason];
}

static int httpsig_fail(struct mcx_error *err, enum httpsig_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets err (code = the reason's name) and returns -1. */
static int httpsig_fail(struct mcx_error *err, enum httpsig_reason reason, const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcx_error_set(err, httpsig_reason_name(reason), "%s", msg);
    return -1;
}

/* ---- characters (RFC 7230 §3.2.6) ---- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* A method is a token; a request target here is origin-form: visible ASCII, no space. */
static bool method_is_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++) {
        if (!is_tchar((unsigned char)s[n]) || n >= 32)
            return false;
    }
    return n > 0;
}

static bool visible_is_valid(const char *s, size_t max)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c <= 0x20 || c >= 0x7f || n >= max)
            return false;
    }
    return n > 0;
}

/* ---- base64 (RFC 4648 §4): standard alphabet, padded, nothing else ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decodes in[0..len) into out. Refuses whitespace, a missing or misplaced '=', a
 * length that is not a multiple of four and non-zero padding bits (so that one value
 * has one encoding). 0 with *out_len set, or -1.
 */
static int b64_decode_strict(const char *in, size_t len, unsigned char *out, size_t out_size,
                             size_t *out_len)
{
    size_t pad = 0, n = 0;
    uint32_t acc = 0;

    if (len == 0 || len % 4 != 0)
        return -1;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    if (len / 4 * 3 - pad > out_size)
        return -1;
    for (size_t i = 0; i < len - pad; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        if (i % 4 == 3) {
            out[n++] = (unsigned char)(acc >> 16);
            out[n++] = (unsigned char)(acc >> 8);
            out[n++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (pad == 1) { /* 3 symbols: 18 bits, the last 2 must be 0 */
        if (acc & 0x3)
            return -1;
        out[n++] = (unsigned char)(acc >> 10);
        out[n++] = (unsigned char)(acc >> 2);
    } else if (pad == 2) { /* 2 symbols: 12 bits, the last 4 must be 0 */
        if (acc & 0xf)
            return -1;
        out[n++] = (unsigned char)(acc >> 4);
    }
    *out_len = n;
    return 0;
}

/* out must hold 4 * ceil(n / 3) + 1 bytes. */
static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* ---- the parameter list (RFC 7235 §2.1 auth-param, draft-cavage §2.1/§4.1) ---- */

struct httpsig_param {
    const char *name; /* into the input */
    size_t name_len;
    const char *value; /* into the scratch buffer, NUL-terminated */
    size_t value_len;
};

struct httpsig_scan {
    const char *s;
    size_t len;
    size_t pos;
    char *out; /* unquoted values, each NUL-terminated; len + 1 bytes are enough */
    size_t out_len;
    struct httpsig_param params[HTTPSIG_MAX_PARAMS];
    size_t nparams;
};

static void scan_skip_ows(struct httpsig_scan *sc)
{
    while (sc->pos < sc->len && is_ows(sc->s[sc->pos]))
        sc->pos++;
}

/* qdtext and the escaped octet of quoted-pair (RFC 7230 §3.2.6), ASCII only. */
static bool is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e);
}

static int scan_quoted(struct httpsig_scan *sc, struct mcx_error *err)
{
    sc->pos++; /* the opening quote */
    for (;;) {
        unsigned char c = sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : 0;
        if (c == '"') {
            sc->pos++;
            return 0;
        }
        if (c == '\\') {
            c = sc->pos + 1 < sc->len ? (unsigned char)sc->s[sc->pos + 1] : 0;
            if (c != '\t' && (c < 0x20 || c > 0x7e))
                return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                                    "bad escape in a quoted value at byte %zu", sc->pos);
            sc->pos++;
        } else if (c == 0) {
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "unterminated quoted value");
        } else if (!is_qdtext(c)) {
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                                "character 0x%02x not allowed in a quoted value at byte %zu", c,
                                sc->pos);
        }
        sc->out[sc->out_len++] = (char)c;
        sc->pos++;
    }
}

/* One name=value; the value goes, unquoted, into sc->out. */
static int scan_param(struct httpsig_scan *sc, struct mcx_error *err)
{
    struct httpsig_param *p;
    size_t start = sc->pos;

    if (sc->nparams == HTTPSIG_MAX_PARAMS)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "more than %d parameters",
                            HTTPSIG_MAX_PARAMS);
    p = &sc->params[sc->nparams];
    while (sc->pos < sc->len && is_tchar((unsigned char)sc->s[sc->pos]))
        sc->pos++;
    if (sc->pos == start)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                            "expected a parameter name at byte %zu", start);
    p->name = sc->s + start;
    p->name_len = sc->pos - start;
    scan_skip_ows(sc);
    if (sc->pos >= sc->len || sc->s[sc->pos] != '=')
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "expected '=' after '%.*s'",
                            (int)p->name_len, p->name);
    sc->pos++;
    scan_skip_ows(sc);
    p->value = sc->out + sc->out_len;
    start = sc->out_len;
    if (sc->pos < sc->len && sc->s[sc->pos] == '"') {
        if (scan_quoted(sc, err) < 0)
            return -1;
    } else {
        while (sc->pos < sc->len && is_tchar((unsigned char)sc->s[sc->pos]))
            sc->out[sc->out_len++] = sc->s[sc->pos++];
        if (sc->out_len == start)
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "no value for '%.*s'",
                                (int)p->name_len, p->name);
    }
    p->value_len = sc->out_len - start;
    sc->out[sc->out_len++] = '\0';
    sc->nparams++;
    return 0;
}

/* RFC 7235 §2.1: each parameter name only once per challenge (any case). */
static int scan_check_duplicate(const struct httpsig_scan *sc, struct mcx_error *err)
{
    const struct httpsig_param *last = &sc->params[sc->nparams - 1];

    for (size_t i = 0; i + 1 < sc->nparams; i++) {
        const struct httpsig_param *p = &sc->params[i];
        if (p->name_len == last->name_len && strncasecmp(p->name, last->name, p->name_len) == 0)
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "duplicate parameter '%.*s'",
                                (int)last->name_len, last->name);
    }
    return 0;
}

/* params = param *( OWS "," OWS param ), with OWS allowed around the whole list. */
static int scan_params(struct httpsig_scan *sc, struct mcx_error *err)
{
    scan_skip_ows(sc);
    if (sc->pos == sc->len)
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNATURE, "empty signature");
    for (;;) {
        if (scan_param(sc, err) < 0 || scan_check_duplicate(sc, err) < 0)
            return -1;
        scan_skip_ows(sc);
        if (sc->pos == sc->len)
            return 0;
        if (sc->s[sc->pos] != ',')
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                                "expected ',' between parameters at byte %zu", sc->pos);
        sc->pos++;
        scan_skip_ows(sc);
        if (sc->pos == sc->len)
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "trailing ','");
    }
}

static const struct httpsig_param *scan_find(const struct httpsig_scan *sc, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < sc->nparams; i++) {
        const struct httpsig_param *p = &sc->params[i];
        if (p->name_len == n && strncasecmp(p->name, name, n) == 0)
            return p;
    }
    return NULL;
}

/* A header name in headers="": a lower-cased token, or the (request-target) pseudo-header. */
static bool header_name_is_valid(const char *s, size_t n)
{
    if (n == strlen("(request-target)") && memcmp(s, "(request-target)", n) == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return false;
    }
    return n > 0;
}

/* draft-cavage §2.1.3: names separated by a single space, lower-cased. */
static int headers_parse(const char *v, size_t len, struct httpsig_params *out,
                         struct mcx_error *err)
{
    size_t pos = 0;

    out->nheaders = 0;
    while (pos <= len) {
        const char *sp = memchr(v + pos, ' ', len - pos);
        size_t n = (sp != NULL ? (size_t)(sp - v) : len) - pos;
        if (!header_name_is_valid(v + pos, n))
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                                "headers: empty or invalid name at byte %zu", pos);
        if (n > HTTPSIG_MAX_HEADER_NAME_LEN || out->nheaders == HTTPSIG_MAX_HEADERS)
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                                "headers: more than %d names or a name over %d characters",
                                HTTPSIG_MAX_HEADERS, HTTPSIG_MAX_HEADER_NAME_LEN);
        char *name = out->headers[out->nheaders];
        for (size_t i = 0; i < n; i++)
            name[i] = ascii_lower(v[pos + i]);
        name[n] = '\0';
        for (size_t i = 0; i < out->nheaders; i++) {
            if (strcmp(out->headers[i], name) == 0)
                return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "headers: '%s' listed twice",
                                    name);
        }
        out->nheaders++;
        pos += n + 1;
    }
    return 0;
}

static int params_copy_text(const struct httpsig_param *p, char *dst, size_t max,
                            struct mcx_error *err)
{
    if (p->value_len == 0 || p->value_len > max)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "%.*s must be 1-%zu characters",
                            (int)p->name_len, p->name, max);
    for (size_t i = 0; i < p->value_len; i++) {
        if (p->value[i] == '\t')
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "tab in %.*s", (int)p->name_len,
                                p->name);
    }
    memcpy(dst, p->value, p->value_len + 1);
    return 0;
}

static int params_signature(const struct httpsig_param *p, struct httpsig_params *out,
                            struct mcx_error *err)
{
    if (p->value_len == 0 || p->value_len > HTTPSIG_MAX_SIGNATURE_B64_LEN)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                            "signature must be 1-%d base64 characters",
                            HTTPSIG_MAX_SIGNATURE_B64_LEN);
    if (b64_decode_strict(p->value, p->value_len, out->signature, sizeof(out->signature),
                          &out->signature_len) < 0)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                            "signature is not base64 (RFC 4648 §4, padded, no spaces)");
    memcpy(out->signature_b64, p->value, p->value_len + 1);
    return 0;
}

/* The scanned parameters into out: the four draft-cavage knows, others ignored (§2.2). */
static int params_take(const struct httpsig_scan *sc, struct httpsig_params *out,
                       struct mcx_error *err)
{
    const struct httpsig_param *key_id = scan_find(sc, "keyId");
    const struct httpsig_param *alg = scan_find(sc, "algorithm");
    const struct httpsig_param *headers = scan_find(sc, "headers");
    const struct httpsig_param *sig = scan_find(sc, "signature");

    if (key_id == NULL || sig == NULL)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "%s parameter missing",
                            key_id == NULL ? "keyId" : "signature");
    if (params_copy_text(key_id, out->key_id, HTTPSIG_MAX_KEY_ID_LEN, err) < 0)
        return -1;
    if (alg != NULL && params_copy_text(alg, out->algorithm, HTTPSIG_MAX_ALGORITHM_LEN, err) < 0)
        return -1;
    if (headers == NULL) {
        /* draft-cavage-07 §2.1.3: "If not specified, then the Date header" */
        mcx_strlcpy(out->headers[0], "date", sizeof(out->headers[0]));
        out->nheaders = 1;
    } else if (headers_parse(headers->value, headers->value_len, out, err) < 0) {
        return -1;
    }
    return params_signature(sig, out, err);
}

int httpsig_params_parse(const char *value, struct httpsig_params *out, struct mcx_error *err)
{
    struct httpsig_scan sc;
    size_t len;
    int rc;

    memset(out, 0, sizeof(*out));
    mcx_error_clear(err);
    if (value == NULL)
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNATURE, "no signature");
    len = strnlen(value, HTTPSIG_MAX_VALUE_LEN + 1);
    if (len > HTTPSIG_MAX_VALUE_LEN)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "signature longer than %d bytes",
                            HTTPSIG_MAX_VALUE_LEN);
    memset(&sc, 0, sizeof(sc));
    sc.s = value;
    sc.len = len;
    sc.out = xmalloc(len + 1);
    rc = scan_params(&sc, err);
    if (rc == 0)
        rc = params_take(&sc, out, err);
    free(sc.out);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* Is value's auth-scheme "Signature" (RFC 7235 §2.1: case-insensitive)? */
static bool scheme_is_signature(const char *value)
{
    const size_t n = strlen("Signature");

    while (is_ows(*value))
        value++;
    return strncasecmp(value, "Signature", n) == 0 &&
           (value[n] == '\0' || value[n] == ' ' || value[n] == '\t');
}

int httpsig_authorization_parse(const char *value, struct httpsig_params *out,
                                struct mcx_error *err)
{
    const size_t n = strlen("Signature");

    memset(out, 0, sizeof(*out));
    if (value == NULL)
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNATURE, "no Authorization header");
    if (!scheme_is_signature(value))
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNATURE,
                            "Authorization is not of the Signature scheme");
    while (is_ows(*value))
        value++;
    /* credentials = auth-scheme 1*SP #auth-param */
    if (value[n] != ' ')
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                            "Signature must be followed by a space and parameters");
    return httpsig_params_parse(value + n, out, err);
}

/* ---- the EWP profile ---- */

bool httpsig_header_is_signed(const struct httpsig_params *params, const char *name)
{
    for (size_t i = 0; i < params->nheaders; i++) {
        if (strcasecmp(params->headers[i], name) == 0)
            return true;
    }
    return false;
}

/*
 * EWP cliauth "Verify authentication method used": algorithm rsa-sha256 (hs2019, which
 * leaves the algorithm to key metadata EWP does not publish, is refused), and headers
 * covering at least the required names plus date or original-date.
 */
static int profile_check(const struct httpsig_params *p, struct mcx_error *err)
{
    if (p->algorithm[0] == '\0')
        return httpsig_fail(err, HTTPSIG_UNSUPPORTED_ALGORITHM,
                            "no algorithm parameter; EWP requires \"rsa-sha256\"");
    if (strcasecmp(p->algorithm, HTTPSIG_ALGORITHM) != 0)
        return httpsig_fail(err, HTTPSIG_UNSUPPORTED_ALGORITHM,
                            "algorithm \"%s\" is not supported; EWP requires \"rsa-sha256\"",
                            p->algorithm);
    for (size_t i = 0; i < MCX_ARRAY_LEN(httpsig_required_names); i++) {
        if (!httpsig_header_is_signed(p, httpsig_required_names[i]))
            return httpsig_fail(err, HTTPSIG_MISSING_SIGNED_HEADER,
                                "the signature must cover \"%s\"", httpsig_required_names[i]);
    }
    if (!httpsig_header_is_signed(p, "date") && !httpsig_header_is_signed(p, "original-date"))
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNED_HEADER,
                            "the signature must cover \"date\" or \"original-date\"");
    return 0;
}

int httpsig_request_find(const struct httpsig_request *req, struct httpsig_params *out,
                         struct mcx_error *err)
{
    const char *auth = req->header(req->header_arg, "authorization", 0);
    const char *name = "authorization";
    const char *value = auth;
    int rc;

    memset(out, 0, sizeof(*out));
    if (auth == NULL || !scheme_is_signature(auth)) {
        name = "signature";
        value = req->header(req->header_arg, name, 0);
    }
    if (value == NULL)
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNATURE,
                            "no Authorization: Signature nor Signature header");
    /* Two would make it ambiguous which one the rest of the stack trusts. */
    if (req->header(req->header_arg, name, 1) != NULL)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "more than one %s header", name);
    if (value == auth)
        rc = httpsig_authorization_parse(value, out, err);
    else
        rc = httpsig_params_parse(value, out, err);
    if (rc == 0 && profile_check(out, err) < 0) {
        memset(out, 0, sizeof(*out));
        rc = -1;
    }
    return rc;
}

/* ---- the signing string (draft-cavage §2.3) ---- */

/* A field value with OWS trimmed; -1 when it holds a control character but HTAB. */
static int header_value_append(const char *v, struct buf *out)
{
    const char *end = v + strlen(v);

    while (is_ows(*v))
        v++;
    while (end > v && is_ows(end[-1]))
        end--;
    for (const char *p = v; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -1;
    }
    buf_append(out, v, (size_t)(end - v));
    return 0;
}

static int signing_line_header(const struct httpsig_request *req, const char *name, struct buf *out,
                               struct mcx_error *err)
{
    size_t nth;

    for (nth = 0; nth < HTTPSIG_MAX_HEADER_LINES; nth++) {
        const char *v = req->header(req->header_arg, name, nth);
        if (v == NULL)
            break;
        if (nth > 0)
            buf_puts(out, ", ");
        if (header_value_append(v, out) < 0)
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE,
                                "control character in the %s header", name);
    }
    if (nth == 0)
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNED_HEADER,
                            "signed header \"%s\" is not in the request", name);
    if (nth == HTTPSIG_MAX_HEADER_LINES)
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "too many %s headers", name);
    return 0;
}

static int signing_line_target(const struct httpsig_request *req, struct buf *out,
                               struct mcx_error *err)
{
    if (!method_is_valid(req->method) || !visible_is_valid(req->target, HTTPSIG_MAX_VALUE_LEN))
        return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "invalid method or target");
    for (const char *m = req->method; *m != '\0'; m++)
        buf_putc(out, ascii_lower(*m));
    buf_putc(out, ' ');
    buf_puts(out, req->target);
    return 0;
}

int httpsig_signing_string_build(const struct httpsig_request *req, const char *const *names,
                                 size_t nnames, struct buf *out, struct mcx_error *err)
{
    size_t start = out->len;

    for (size_t i = 0; i < nnames; i++) {
        if (i > 0)
            buf_putc(out, '\n');
        buf_puts(out, names[i]);
        buf_puts(out, ": ");
        if (strcmp(names[i], "(request-target)") == 0) {
            if (signing_line_target(req, out, err) < 0)
                return -1;
        } else if (signing_line_header(req, names[i], out, err) < 0) {
            return -1;
        }
        if (out->len - start > HTTPSIG_MAX_SIGNING_STRING)
            return httpsig_fail(err, HTTPSIG_MALFORMED_SIGNATURE, "signing string over %d bytes",
                                HTTPSIG_MAX_SIGNING_STRING);
    }
    return 0;
}

/* ---- HTTP-date (RFC 7231 §7.1.1.1) ---- */

static const char *const httpsig_wkdays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const httpsig_weekdays[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                "Thursday", "Friday", "Saturday"};
static const char *const httpsig_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && is_leap ? 29 : days[m - 1];
}

/* Exactly n ASCII digits at s. */
static int digits_parse(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Case-sensitive, as RFC 7231 spells them (%s"Jan" etc.). */
static int name_index(const char *s, size_t n, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0)
            return i;
    }
    return -1;
}

struct http_date {
    int year, mon, day, hour, min, sec; /* mon 1-12 */
};

/* "hh:mm:ss" */
static int time_of_day_parse(const char *s, struct http_date *d)
{
    if (s[2] != ':' || s[5] != ':' || digits_parse(s, 2, &d->hour) < 0 ||
        digits_parse(s + 3, 2, &d->min) < 0 || digits_parse(s + 6, 2, &d->sec) < 0)
        return -1;
    return 0;
}

static int http_date_to_time(const struct http_date *d, time_t *out)
{
    int64_t days;

    if (d->year < 1970 || d->year > 9999 || d->mon < 1 || d->mon > 12 || d->day < 1 ||
        d->day > days_in_month(d->year, d->mon) || d->hour > 23 || d->min > 59 || d->sec > 60)
        return -1;
    days = days_from_civil(d->year, d->mon, d->day);
    *out = (time_t)(days * 86400 + d->hour * 3600 + d->min * 60 + d->sec);
    return 0;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
static int date_parse_imf(const char *s, size_t n, struct http_date *d)
{
    if (n != 29 || name_index(s, 3, httpsig_wkdays, 7) < 0 || memcmp(s + 3, ", ", 2) != 0 ||
        digits_parse(s + 5, 2, &d->day) < 0 || s[7] != ' ' || s[11] != ' ' ||
        digits_parse(s + 12, 4, &d->year) < 0 || s[16] != ' ' || time_of_day_parse(s + 17, d) < 0 ||
        strcmp(s + 25, " GMT") != 0)
        return -1;
    d->mon = name_index(s + 8, 3, httpsig_months, 12) + 1;
    return 0;
}

/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; the century is now's, or the one before. */
static int date_parse_rfc850(const char *s, size_t n, time_t now, struct http_date *d)
{
    const char *comma = memchr(s, ',', n);
    struct tm tm;
    int yy;

    if (comma == NULL || name_index(s, (size_t)(comma - s), httpsig_weekdays, 7) < 0)
        return -1;
    s = comma + 1;
    if (strlen(s) != 23 || s[0] != ' ' || digits_parse(s + 1, 2, &d->day) < 0 || s[3] != '-' ||
        s[7] != '-' || digits_parse(s + 8, 2, &yy) < 0 || s[10] != ' ' ||
        time_of_day_parse(s + 11, d) < 0 || strcmp(s + 19, " GMT") != 0 ||
        gmtime_r(&now, &tm) == NULL)
        return -1;
    d->mon = name_index(s + 4, 3, httpsig_months, 12) + 1;
    /* RFC 7231 §7.1.1.1: more than 50 years ahead means the past century. */
    d->year = (tm.tm_year + 1900) / 100 * 100 + yy;
    if (d->year > tm.tm_year + 1900 + 50)
        d->year -= 100;
    return 0;
}

/* asctime: "Sun Nov  6 08:49:37 1994" */
static int date_parse_asctime(const char *s, size_t n, struct http_date *d)
{
    char day[2] = {s[8], s[9]};

    if (n != 24 || name_index(s, 3, httpsig_wkdays, 7) < 0 || s[3] != ' ' || s[7] != ' ')
        return -1;
    if (day[0] == ' ')
        day[0] = '0';
    if (digits_parse(day, 2, &d->day) < 0 || s[10] != ' ' || time_of_day_parse(s + 11, d) < 0 ||
        s[19] != ' ' || digits_parse(s + 20, 4, &d->year) < 0)
        return -1;
    d->mon = name_index(s + 4, 3, httpsig_months, 12) + 1;
    return 0;
}

int httpsig_date_parse(const char *s, time_t now, time_t *out)
{
    struct http_date d = {0};
    size_t n = strnlen(s, 64);
    int rc;

    if (n < 24 || n > 40)
        return -1;
    if (s[3] == ',')
        rc = date_parse_imf(s, n, &d);
    else if (s[3] == ' ')
        rc = date_parse_asctime(s, n, &d);
    else
        rc = date_parse_rfc850(s, n, now, &d);
    if (rc < 0)
        return -1;
    return http_date_to_time(&d, out);
}

static void put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int httpsig_date_format(time_t t, char out[HTTPSIG_DATE_SIZE])
{
    struct tm tm;
    int year;

    if (gmtime_r(&t, &tm) == NULL)
        return -1;
    year = tm.tm_year + 1900;
    if (year < 1970 || year > 9999)
        return -1;
    /* Written by hand: strftime's names follow the locale, HTTP's do not. */
    memcpy(out, httpsig_wkdays[tm.tm_wday], 3);
    memcpy(out + 3, ", ", 2);
    put_digits(out + 5, tm.tm_mday, 2);
    out[7] = ' ';
    memcpy(out + 8, httpsig_months[tm.tm_mon], 3);
    out[11] = ' ';
    put_digits(out + 12, year, 4);
    out[16] = ' ';
    put_digits(out + 17, tm.tm_hour, 2);
    out[19] = ':';
    put_digits(out + 20, tm.tm_min, 2);
    out[22] = ':';
    put_digits(out + 23, tm.tm_sec, 2);
    memcpy(out + 25, " GMT", 5);
    return 0;
}

/* ---- Digest (RFC 3230 §4.3.2, RFC 5843 §2.2) ---- */

static int sha256(const void *data, size_t len, unsigned char out[HTTPSIG_SHA256_LEN])
{
    unsigned int n = 0;
    int ok = EVP_Digest(data != NULL ? data : "", len, out, &n, EVP_sha256(), NULL) == 1 &&
             n == HTTPSIG_SHA256_LEN;

    if (!ok)
        ERR_clear_error();
    return ok ? 0 : -1;
}

int httpsig_digest_compute(const void *body, size_t len, char out[HTTPSIG_DIGEST_SIZE])
{
    unsigned char md[HTTPSIG_SHA256_LEN];

    if (sha256(body, len, md) < 0)
        return -1;
    memcpy(out, "SHA-256=", 8);
    b64_encode(md, sizeof(md), out + 8);
    return 0;
}

/* One "algorithm=value" element: is it SHA-256, and if so its 32 bytes. 1, 0 or -1. */
static int digest_element(const char *s, size_t n, unsigned char md[HTTPSIG_SHA256_LEN])
{
    const char *eq = memchr(s, '=', n);
    size_t md_len;

    if (eq == NULL || eq == s)
        return -1;
    if ((size_t)(eq - s) != strlen("SHA-256") || strncasecmp(s, "SHA-256", 7) != 0)
        return 0;
    if (b64_decode_strict(eq + 1, n - 8, md, HTTPSIG_SHA256_LEN, &md_len) < 0 ||
        md_len != HTTPSIG_SHA256_LEN)
        return -1;
    return 1;
}

/* The one SHA-256 entry of a Digest list into md; -1 with the reason in err. */
static int digest_find_sha256(const char *value, unsigned char md[HTTPSIG_SHA256_LEN],
                              struct mcx_error *err)
{
    size_t len = strnlen(value, HTTPSIG_MAX_DIGEST_LEN + 1), pos = 0;
    bool is_found = false;

    if (len > HTTPSIG_MAX_DIGEST_LEN)
        return httpsig_fail(err, HTTPSIG_BAD_DIGEST, "Digest longer than %d bytes",
                            HTTPSIG_MAX_DIGEST_LEN);
    while (pos <= len) {
        const char *comma = memchr(value + pos, ',', len - pos);
        size_t end = comma != NULL ? (size_t)(comma - value) : len, start = pos;
        pos = end + 1;
        while (start < end && is_ows(value[start]))
            start++;
        while (end > start && is_ows(value[end - 1]))
            end--;
        int r = digest_element(value + start, end - start, md);
        if (r < 0 || (r == 1 && is_found))
            return httpsig_fail(err, HTTPSIG_BAD_DIGEST,
                                r < 0 ? "malformed Digest element" : "two SHA-256 digests");
        is_found = is_found || r == 1;
    }
    if (!is_found)
        return httpsig_fail(err, HTTPSIG_BAD_DIGEST, "no SHA-256 digest in Digest");
    return 0;
}

int httpsig_digest_check(const char *value, const void *body, size_t len, struct mcx_error *err)
{
    unsigned char want[HTTPSIG_SHA256_LEN], got[HTTPSIG_SHA256_LEN];

    if (value == NULL)
        return httpsig_fail(err, HTTPSIG_BAD_DIGEST, "no Digest header");
    if (digest_find_sha256(value, want, err) < 0)
        return -1;
    if (sha256(body, len, got) < 0)
        return httpsig_fail(err, HTTPSIG_BAD_DIGEST, "cannot compute SHA-256");
    if (CRYPTO_memcmp(want, got, sizeof(got)) != 0)
        return httpsig_fail(err, HTTPSIG_BAD_DIGEST, "Digest does not match the body");
    return 0;
}

/* ---- X-Request-Id ---- */

bool httpsig_request_id_is_valid(const char *s)
{
    for (size_t i = 0; i < HTTPSIG_REQUEST_ID_LEN; i++) {
        char c = s[i];
        bool is_dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (is_dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return s[HTTPSIG_REQUEST_ID_LEN] == '\0';
}

int httpsig_request_id_generate(char out[HTTPSIG_REQUEST_ID_SIZE])
{
    unsigned char raw[16];
    char hex[33];
    size_t k = 0;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        ERR_clear_error();
        return -1;
    }
    raw[6] = (unsigned char)((raw[6] & 0x0f) | 0x40); /* version 4 */
    raw[8] = (unsigned char)((raw[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    hex_encode(raw, sizeof(raw), hex);
    for (size_t i = 0; i < HTTPSIG_REQUEST_ID_LEN; i++)
        out[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : hex[k++];
    out[HTTPSIG_REQUEST_ID_LEN] = '\0';
    return 0;
}

/* ---- RSA ---- */

/* An RSA key (not RSA-PSS: rsa-sha256 is PKCS#1 v1.5) of at least the EWP minimum. */
static bool key_is_usable(EVP_PKEY *key)
{
    return key != NULL && EVP_PKEY_is_a(key, "RSA") &&
           EVP_PKEY_get_bits(key) >= HTTPSIG_MIN_RSA_BITS;
}

int httpsig_signature_check(EVP_PKEY *key, const void *data, size_t len, const unsigned char *sig,
                            size_t sig_len)
{
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *ctx;
    int ok;

    if (key == NULL || !EVP_PKEY_is_a(key, "RSA"))
        return -1;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    ok = EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
         EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        ERR_clear_error();
    return ok ? 0 : -1;
}

/* RSASSA-PKCS1-v1_5 / SHA-256 of data, base64 into a new string; NULL on failure. */
static char *signature_create(EVP_PKEY *key, const void *data, size_t len)
{
    unsigned char sig[HTTPSIG_MAX_SIGNATURE_BYTES];
    size_t sig_len = sizeof(sig);
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *out = NULL;

    if (ctx == NULL)
        return NULL;
    if (EVP_PKEY_get_size(key) <= (int)sizeof(sig) &&
        EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0 &&
        EVP_DigestSign(ctx, sig, &sig_len, data, len) == 1) {
        out = xmalloc(4 * ((sig_len + 2) / 3) + 1);
        b64_encode(sig, sig_len, out);
    } else {
        ERR_clear_error();
    }
    EVP_MD_CTX_free(ctx);
    return out;
}

/* ---- verifying a request ---- */

/* A header's lines joined as in the signing string, or NULL (absent, or bad). */
static char *header_joined(const struct httpsig_request *req, const char *name)
{
    struct buf b;

    if (req->header(req->header_arg, name, 0) == NULL)
        return NULL;
    buf_init(&b);
    if (signing_line_header(req, name, &b, NULL) < 0) {
        buf_cleanup(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* EWP cliauth "Verify the date(s)": each one sent, signed or not, must be in the window. */
static int dates_check(const struct httpsig_request *req, const struct httpsig_params *p,
                       time_t now, long skew, struct mcx_error *err)
{
    static const char *const names[] = {"date", "original-date"};

    for (size_t i = 0; i < MCX_ARRAY_LEN(names); i++) {
        char *v = header_joined(req, names[i]);
        time_t t;
        if (v == NULL && req->header(req->header_arg, names[i], 0) != NULL)
            return httpsig_fail(err, HTTPSIG_DATE_OUT_OF_WINDOW, "unreadable %s", names[i]);
        if (v == NULL && httpsig_header_is_signed(p, names[i]))
            return httpsig_fail(err, HTTPSIG_MISSING_SIGNED_HEADER,
                                "signed header \"%s\" is not in the request", names[i]);
        if (v == NULL)
            continue;
        int rc = httpsig_date_parse(v, now, &t);
        free(v);
        if (rc < 0)
            return httpsig_fail(err, HTTPSIG_DATE_OUT_OF_WINDOW, "%s is not an HTTP-date",
                                names[i]);
        if (t < now - skew || t > now + skew)
            return httpsig_fail(err, HTTPSIG_DATE_OUT_OF_WINDOW,
                                "%s is %lld s from the server clock; at most %ld s allowed",
                                names[i], (long long)t - (long long)now, skew);
    }
    return 0;
}

static int request_id_check(const struct httpsig_request *req, struct httpsig_verified *out,
                            struct mcx_error *err)
{
    char *v = header_joined(req, "x-request-id");
    bool is_valid = v != NULL && httpsig_request_id_is_valid(v);

    if (v == NULL && req->header(req->header_arg, "x-request-id", 0) == NULL)
        return httpsig_fail(err, HTTPSIG_MISSING_SIGNED_HEADER,
                            "signed header \"x-request-id\" is not in the request");
    if (is_valid)
        mcx_strlcpy(out->request_id, v, sizeof(out->request_id));
    free(v);
    if (!is_valid)
        return httpsig_fail(err, HTTPSIG_BAD_REQUEST_ID,
                            "X-Request-Id must be a canonical lower-case UUID");
    return 0;
}

static int key_check(EVP_PKEY *key, const struct httpsig_params *p, struct httpsig_verified *out,
                     struct mcx_error *err)
{
    if (key == NULL)
        return httpsig_fail(err, HTTPSIG_UNKNOWN_KEY, "unknown keyId");
    if (!key_is_usable(key))
        return httpsig_fail(err, HTTPSIG_UNKNOWN_KEY,
                            "the key of this keyId is not RSA of %d bits or more",
                            HTTPSIG_MIN_RSA_BITS);
    if (httpsig_key_id_compute(key, out->key_id, err) < 0)
        return httpsig_fail(err, HTTPSIG_UNKNOWN_KEY, "cannot fingerprint the key");
    /* EWP cliauth says "HEX-encoded", srvauth "lower-case": compare in any case. */
    if (strcasecmp(p->key_id, out->key_id) != 0)
        return httpsig_fail(err, HTTPSIG_UNKNOWN_KEY, "keyId is not the given key's");
    return 0;
}

static int signature_verify(const struct httpsig_request *req, const struct httpsig_params *p,
                            EVP_PKEY *key, struct mcx_error *err)
{
    const char *names[HTTPSIG_MAX_HEADERS];
    struct buf s;
    int rc;

    for (size_t i = 0; i < p->nheaders; i++)
        names[i] = p->headers[i];
    buf_init(&s);
    rc = httpsig_signing_string_build(req, names, p->nheaders, &s, err);
    if (rc == 0 && httpsig_signature_check(key, s.data, s.len, p->signature, p->signature_len) < 0)
        rc = httpsig_fail(err, HTTPSIG_BAD_SIGNATURE, "the signature does not verify");
    buf_cleanup(&s);
    return rc;
}

int httpsig_request_verify(const struct httpsig_request *req, const struct httpsig_params *params,
                           EVP_PKEY *key, const struct httpsig_verify_opts *opts,
                           struct httpsig_verified *out, struct mcx_error *err)
{
    long skew = opts->skew_seconds;
    char *digest;
    int rc;

    memset(out, 0, sizeof(*out));
    mcx_error_clear(err);
    /* EWP cliauth: a threshold of 5 minutes is RECOMMENDED and a lower one forbidden. */
    if (skew < HTTPSIG_DEFAULT_SKEW_SECONDS)
        skew = HTTPSIG_DEFAULT_SKEW_SECONDS;
    if (profile_check(params, err) < 0 || key_check(key, params, out, err) < 0 ||
        dates_check(req, params, opts->now, skew, err) < 0 || request_id_check(req, out, err) < 0 ||
        signature_verify(req, params, key, err) < 0)
        goto fail;
    /* Digest is signed (profile_check), so present and free of control characters. */
    digest = header_joined(req, "digest");
    rc = httpsig_digest_check(digest, req->body, req->body_len, err);
    free(digest);
    if (rc == 0)
        return 0;
fail:
    memset(out, 0, sizeof(*out));
    return -1;
}

/* ---- signing a request ---- */

struct sign_headers {
    const struct httpsig_sign_input *in;
    const struct httpsig_signed *out;
};

static const char *sign_header(void *arg, const char *name, size_t nth)
{
    const struct sign_headers *h = arg;

    if (nth > 0)
        return NULL;
    if (strcmp(name, "host") == 0)
        return h->in->host;
    if (strcmp(name, "date") == 0)
        return h->out->date;
    if (strcmp(name, "digest") == 0)
        return h->out->digest;
    if (strcmp(name, "x-request-id") == 0)
        return h->out->request_id;
    return NULL;
}

static int sign_check_input(const struct httpsig_sign_input *in, EVP_PKEY *key,
                            struct mcx_error *err)
{
    if (!method_is_valid(in->method) || !visible_is_valid(in->target, HTTPSIG_MAX_VALUE_LEN) ||
        !visible_is_valid(in->host, 255) || (in->body == NULL && in->body_len > 0)) {
        mcx_error_set(err, "invalid_argument", "method, target, host or body is invalid");
        return -1;
    }
    if (in->request_id != NULL && !httpsig_request_id_is_valid(in->request_id)) {
        mcx_error_set(err, "invalid_argument", "request id is not a canonical lower-case UUID");
        return -1;
    }
    if (!key_is_usable(key)) {
        mcx_error_set(err, "invalid_argument", "the key is not RSA of %d bits or more",
                      HTTPSIG_MIN_RSA_BITS);
        return -1;
    }
    return 0;
}

/* Date, Digest, X-Request-Id and keyId into out. */
static int sign_fill_headers(const struct httpsig_sign_input *in, EVP_PKEY *key,
                             struct httpsig_signed *out, struct mcx_error *err)
{
    if (httpsig_date_format(in->now, out->date) < 0) {
        mcx_error_set(err, "invalid_argument", "now is outside years 1970-9999");
        return -1;
    }
    if (in->request_id != NULL)
        mcx_strlcpy(out->request_id, in->request_id, sizeof(out->request_id));
    if ((in->request_id == NULL && httpsig_request_id_generate(out->request_id) < 0) ||
        httpsig_digest_compute(in->body, in->body_len, out->digest) < 0 ||
        httpsig_key_id_compute(key, out->key_id, err) < 0) {
        mcx_error_set(err, "crypto_failed", "cannot make the request id, digest or keyId");
        return -1;
    }
    return 0;
}

int httpsig_request_sign(const struct httpsig_sign_input *in, EVP_PKEY *key,
                         struct httpsig_signed *out, struct mcx_error *err)
{
    struct sign_headers h = {in, out};
    struct httpsig_request req = {in->method, in->target, sign_header, &h, in->body, in->body_len};
    struct buf s, v;
    char *sig = NULL;

    memset(out, 0, sizeof(*out));
    if (sign_check_input(in, key, err) < 0 || sign_fill_headers(in, key, out, err) < 0)
        return -1;
    buf_init(&s);
    if (httpsig_signing_string_build(&req, httpsig_signed_names,
                                     MCX_ARRAY_LEN(httpsig_signed_names), &s, err) == 0)
        sig = signature_create(key, s.data, s.len);
    buf_cleanup(&s);
    if (sig == NULL) {
        mcx_error_set(err, "crypto_failed", "cannot sign (is it a private key?)");
        memset(out, 0, sizeof(*out));
        return -1;
    }
    buf_init(&v);
    buf_printf(&v,
               "keyId=\"%s\",algorithm=\"" HTTPSIG_ALGORITHM "\","
               "headers=\"(request-target) host date digest x-request-id\",signature=\"%s\"",
               out->key_id, sig);
    free(sig);
    out->authorization = xmalloc(v.len + strlen("Signature ") + 1);
    memcpy(out->authorization, "Signature ", strlen("Signature "));
    memcpy(out->authorization + strlen("Signature "), v.data, v.len + 1);
    out->signature = buf_steal(&v, NULL);
    return 0;
}

void httpsig_signed_cleanup(struct httpsig_signed *s)
{
    if (s == NULL)
        return;
    free(s->signature);
    free(s->authorization);
    memset(s, 0, sizeof(*s));
}

/* ---- keys ---- */

int httpsig_key_id_compute(EVP_PKEY *key, char out[HTTPSIG_KEY_ID_SIZE], struct mcx_error *err)
{
    unsigned char *der = NULL, md[HTTPSIG_SHA256_LEN];
    int n = key != NULL ? i2d_PUBKEY(key, &der) : -1;
    int rc = n > 0 ? sha256(der, (size_t)n, md) : -1;

    OPENSSL_free(der);
    out[0] = '\0';
    if (rc < 0) {
        ERR_clear_error();
        mcx_error_set(err, "invalid_key", "cannot encode the public key");
        return -1;
    }
    hex_encode(md, sizeof(md), out);
    return 0;
}

static EVP_PKEY *key_require_rsa(EVP_PKEY *key, const char *what, struct mcx_error *err)
{
    if (key == NULL) {
        ERR_clear_error();
        mcx_error_set(err, "invalid_key", "not a %s", what);
        return NULL;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        EVP_PKEY_free(key);
        mcx_error_set(err, "invalid_key", "not an RSA key (EWP HTTP Signatures use rsa-sha256)");
        return NULL;
    }
    return key;
}

EVP_PKEY *httpsig_key_read_public(const char *pem, size_t len, struct mcx_error *err)
{
    EVP_PKEY *key = NULL;
    BIO *bio;

    if (len > 0 && len <= HTTPSIG_MAX_KEY_FILE && (bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
        key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    return key_require_rsa(key, "PEM public key (-----BEGIN PUBLIC KEY-----)", err);
}

EVP_PKEY *httpsig_key_read_public_der(const unsigned char *der, size_t len, struct mcx_error *err)
{
    const unsigned char *p = der;
    EVP_PKEY *key = NULL;

    if (len > 0 && len <= HTTPSIG_MAX_KEY_FILE) {
        key = d2i_PUBKEY(NULL, &p, (long)len);
        if (key != NULL && p != der + len) { /* trailing bytes: not one key */
            EVP_PKEY_free(key);
            key = NULL;
        }
    }
    return key_require_rsa(key, "DER SubjectPublicKeyInfo", err);
}

/* Never prompt for a pass phrase (a daemon has no terminal): encrypted keys fail. */
static int key_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return -1;
}

EVP_PKEY *httpsig_key_read_private(const char *pem, size_t len, struct mcx_error *err)
{
    EVP_PKEY *key = NULL;
    BIO *bio;

    if (len > 0 && len <= HTTPSIG_MAX_KEY_FILE && (bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
        key = PEM_read_bio_PrivateKey(bio, NULL, key_no_passphrase, NULL);
        BIO_free(bio);
    }
    return key_require_rsa(key, "PEM private key without a pass phrase", err);
}

/* The whole of a regular file of at most HTTPSIG_MAX_KEY_FILE bytes into b. */
static int key_file_read(const char *path, struct buf *b, struct mcx_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    ssize_t n = 0;

    if (fd < 0) {
        mcx_error_set(err, "io_failed", "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > HTTPSIG_MAX_KEY_FILE) {
        mcx_error_set(err, "io_failed", "%s: not a regular file of at most %d bytes", path,
                      HTTPSIG_MAX_KEY_FILE);
        close(fd);
        return -1;
    }
    /* One allocation up front: a private key must not be left behind by realloc. */
    buf_reserve(b, HTTPSIG_MAX_KEY_FILE + 1);
    while (b->len <= HTTPSIG_MAX_KEY_FILE &&
           (n = read(fd, b->data + b->len, HTTPSIG_MAX_KEY_FILE + 1 - b->len)) > 0)
        b->len += (size_t)n;
    if (n < 0)
        mcx_error_set(err, "io_failed", "%s: %s", path, strerror(errno));
    close(fd);
    b->data[b->len] = '\0';
    if (n >= 0 && b->len > HTTPSIG_MAX_KEY_FILE)
        mcx_error_set(err, "io_failed", "%s: more than %d bytes", path, HTTPSIG_MAX_KEY_FILE);
    return n < 0 || b->len > HTTPSIG_MAX_KEY_FILE ? -1 : 0;
}

static EVP_PKEY *key_load(const char *path, bool is_private, struct mcx_error *err)
{
    EVP_PKEY *key = NULL;
    struct buf b;

    buf_init(&b);
    if (key_file_read(path, &b, err) == 0) {
        key = is_private ? httpsig_key_read_private(b.data, b.len, err)
                         : httpsig_key_read_public(b.data, b.len, err);
        if (key == NULL && err != NULL)
            mcx_strlcpy(err->path, path, sizeof(err->path));
    }
    if (b.data != NULL)
        OPENSSL_cleanse(b.data, b.cap);
    buf_cleanup(&b);
    return key;
}

EVP_PKEY *httpsig_key_load_public(const char *path, struct mcx_error *err)
{
    return key_load(path, false, err);
}

EVP_PKEY *httpsig_key_load_private(const char *path, struct mcx_error *err)
{
    return key_load(path, true, err);
}

EVP_PKEY *httpsig_key_generate(int bits, struct mcx_error *err)
{
    EVP_PKEY *key;

    if (bits != 2048 && bits != 3072 && bits != 4096) {
        mcx_error_set(err, "invalid_argument", "RSA key size must be 2048, 3072 or 4096 bits");
        return NULL;
    }
    key = EVP_RSA_gen((unsigned int)bits);
    if (key == NULL) {
        ERR_clear_error();
        mcx_error_set(err, "crypto_failed", "RSA key generation failed");
    }
    return key;
}

/* A memory BIO's contents appended to out; the BIO is freed (secmem BIOs are wiped). */
static int bio_drain(BIO *bio, int ok, struct buf *out, struct mcx_error *err)
{
    char *data = NULL;
    long n = ok ? BIO_get_mem_data(bio, &data) : 0;

    if (n > 0)
        buf_append(out, data, (size_t)n);
    BIO_free(bio);
    if (n > 0)
        return 0;
    ERR_clear_error();
    mcx_error_set(err, "crypto_failed", "cannot write the key as PEM");
    return -1;
}

int httpsig_key_write_public(EVP_PKEY *key, struct buf *out, struct mcx_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());

    if (bio == NULL)
        return bio_drain(NULL, 0, out, err);
    return bio_drain(bio, PEM_write_bio_PUBKEY(bio, key) == 1, out, err);
}

int httpsig_key_write_private(EVP_PKEY *key, struct buf *out, struct mcx_error *err)
{
    BIO *bio = BIO_new(BIO_s_secmem());

    if (bio == NULL)
        return bio_drain(NULL, 0, out, err);
    return bio_drain(bio, PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1, out,
                     err);
}
