/*
 * httpsig.h — HTTP Signatures as EWP profiles them (sec-cliauth-httpsig over
 * draft-cavage-http-signatures): parse, sign, verify, RSA keys and their keyId. Partner
 * authentication and `mcx key generate` call it; replays are the caller's (004_httpsig.sql).
 */
#ifndef MCX_HTTPSIG_H
#define MCX_HTTPSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "server/util.h"

/* keyId: lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (EWP srvauth, Registry). */
#define HTTPSIG_KEY_ID_LEN 64
#define HTTPSIG_KEY_ID_SIZE (HTTPSIG_KEY_ID_LEN + 1)
#define HTTPSIG_REQUEST_ID_LEN 36 /* canonical UUID, 8-4-4-4-12 */
#define HTTPSIG_REQUEST_ID_SIZE (HTTPSIG_REQUEST_ID_LEN + 1)
#define HTTPSIG_DATE_SIZE 30             /* "Sun, 06 Nov 1994 08:49:37 GMT" + NUL */
#define HTTPSIG_DIGEST_SIZE (8 + 44 + 1) /* "SHA-256=" + base64 of 32 bytes + NUL */
#define HTTPSIG_ALGORITHM "rsa-sha256"   /* the one EWP requires; the only one taken */
#define HTTPSIG_DEFAULT_SKEW_SECONDS 300 /* EWP: RECOMMENDED 5 min, MUST NOT be less */
#define HTTPSIG_MIN_RSA_BITS 2048        /* smaller keys are refused for EWP traffic */

/* Limits of the parser: longer input is malformed, never truncated. */
#define HTTPSIG_MAX_VALUE_LEN 8192 /* a whole Signature / Authorization value */
#define HTTPSIG_MAX_PARAMS 16      /* name=value pairs in one value */
#define HTTPSIG_MAX_KEY_ID_LEN 256 /* keyId is opaque; EWP's is 64 hex digits */
#define HTTPSIG_MAX_ALGORITHM_LEN 32
#define HTTPSIG_MAX_HEADERS 32 /* names in headers="..." */
#define HTTPSIG_MAX_HEADER_NAME_LEN 64
#define HTTPSIG_MAX_SIGNATURE_BYTES 1024                                            /* RSA-8192 */
#define HTTPSIG_MAX_SIGNATURE_B64_LEN (4 * ((HTTPSIG_MAX_SIGNATURE_BYTES + 2) / 3)) /* 1368 */
#define HTTPSIG_MAX_SIGNING_STRING 65536

/*
 * Why a request was refused; the name (httpsig_reason_name) is also the code of the
 * struct mcx_error. Suggested answers (EWP cliauth): MISSING_SIGNATURE 401 with
 * WWW-Authenticate: Signature realm="EWP" and Want-Digest: SHA-256; UNKNOWN_KEY 403;
 * everything else 400.
 */
enum httpsig_reason {
    HTTPSIG_OK = 0,
    HTTPSIG_MISSING_SIGNATURE,     /* no Authorization: Signature nor Signature header */
    HTTPSIG_MALFORMED_SIGNATURE,   /* syntax, limits, base64, a header value with CR/LF */
    HTTPSIG_UNSUPPORTED_ALGORITHM, /* algorithm absent or not rsa-sha256 */
    HTTPSIG_MISSING_SIGNED_HEADER, /* required header not in headers="", or not sent */
    HTTPSIG_BAD_DIGEST,            /* no SHA-256 in Digest, or not the body's */
    HTTPSIG_DATE_OUT_OF_WINDOW,    /* Date / Original-Date unparsable or too far off */
    HTTPSIG_BAD_REQUEST_ID,        /* X-Request-Id not a canonical lower-case UUID */
    HTTPSIG_UNKNOWN_KEY,           /* no key, not RSA >= 2048 bits, or not keyId's key */
    HTTPSIG_BAD_SIGNATURE,         /* the signature does not verify */
};

/* "bad_digest" etc.; "ok" for HTTPSIG_OK. */
const char *httpsig_reason_name(enum httpsig_reason reason);

/* ---- the Signature parameters ---- */

struct httpsig_params {
    char key_id[HTTPSIG_MAX_KEY_ID_LEN + 1];
    char algorithm[HTTPSIG_MAX_ALGORITHM_LEN + 1]; /* "" when the parameter is absent */
    /* Lower-cased, in the order given; without a headers parameter ["date"] (draft 07). */
    char headers[HTTPSIG_MAX_HEADERS][HTTPSIG_MAX_HEADER_NAME_LEN + 1];
    size_t nheaders;
    unsigned char signature[HTTPSIG_MAX_SIGNATURE_BYTES];
    size_t signature_len;
    /* As sent: a response echoes it in X-Request-Signature (EWP srvauth). */
    char signature_b64[HTTPSIG_MAX_SIGNATURE_B64_LEN + 1];
};

/*
 * Parses a Signature header value: comma-separated name=value pairs (RFC 7235 §2.1
 * auth-param: value a token or a quoted-string), names matched case-insensitively and
 * each at most once; keyId and signature required and non-empty; signature strict
 * base64 (RFC 4648 §4, padded); headers a list of lower-case names separated by single
 * spaces, no duplicates. Unknown parameters (created, expires, ...) are ignored.
 * -1 with err code "malformed_signature", or "missing_signature" for an empty value.
 */
int httpsig_params_parse(const char *value, struct httpsig_params *out, struct mcx_error *err);

/* The same for an Authorization value "Signature <params>" (scheme in any case). Another
 * scheme gives "missing_signature": the request does not use this method. */
int httpsig_authorization_parse(const char *value, struct httpsig_params *out,
                                struct mcx_error *err);

/* ---- requests ---- */

/*
 * The nth (0-based) field line of the header called name (any case), or NULL when there
 * are no more. Every line counts: repeated headers are joined as draft-cavage §2.3 says.
 */
typedef const char *(*httpsig_header_fn)(void *arg, const char *name, size_t nth);

struct httpsig_request {
    const char *method; /* as received: "POST" */
    const char *target; /* path and query as received, not decoded: "/a/b?c=d" */
    httpsig_header_fn header;
    void *header_arg;
    const void *body; /* may be NULL when body_len is 0 */
    size_t body_len;
};

/*
 * Finds the request's signature, Authorization: Signature first (EWP cliauth), else a
 * Signature header, parses it and checks the EWP profile (algorithm rsa-sha256;
 * headers cover (request-target), host, digest, x-request-id and date or
 * original-date), so that a caller can refuse before it looks the key up by
 * out->key_id. -1 with err code missing_signature, malformed_signature,
 * unsupported_algorithm or missing_signed_header.
 */
int httpsig_request_find(const struct httpsig_request *req, struct httpsig_params *out,
                         struct mcx_error *err);

/*
 * The signing string of draft-cavage §2.3 for the names given, in their order: one
 * "name: value" line each, joined by "\n" with none after the last; (request-target)
 * is the lower-cased method, a space and the target; a header's lines are trimmed of
 * spaces and tabs at both ends and joined with ", ". Appends to out. -1 with
 * missing_signed_header when a header is absent, malformed_signature when a value holds
 * a control character other than tab or the string exceeds HTTPSIG_MAX_SIGNING_STRING.
 */
int httpsig_signing_string_build(const struct httpsig_request *req, const char *const *names,
                                 size_t nnames, struct buf *out, struct mcx_error *err);

struct httpsig_verify_opts {
    time_t now;        /* the server clock, seconds since the epoch */
    long skew_seconds; /* 0: HTTPSIG_DEFAULT_SKEW_SECONDS; less than that is raised to it */
};

/* What a caller needs once a request is verified. */
struct httpsig_verified {
    char key_id[HTTPSIG_KEY_ID_SIZE];         /* lower-case, computed from the key */
    char request_id[HTTPSIG_REQUEST_ID_SIZE]; /* record it in httpsig_seen (replays) */
};

/*
 * Verifies a request found by httpsig_request_find, with key the public key the caller
 * found for params->key_id (NULL when none: unknown_key). In the order of EWP cliauth:
 * the profile again; the key (RSA, at least HTTPSIG_MIN_RSA_BITS, its keyId equal to
 * params->key_id in any case); every Date and Original-Date sent, signed or not, within
 * the skew; X-Request-Id a canonical lower-case UUID; the signature (RSASSA-PKCS1-v1_5
 * with SHA-256 over the signing string); the SHA-256 entry of the Digest header against
 * the body (CRYPTO_memcmp). 0 and out filled, or -1 with the reason as err code. The
 * Host check (is it this server's name?) and the replay check are the caller's.
 */
int httpsig_request_verify(const struct httpsig_request *req, const struct httpsig_params *params,
                           EVP_PKEY *key, const struct httpsig_verify_opts *opts,
                           struct httpsig_verified *out, struct mcx_error *err);

/*
 * Did the signature cover the header called name (any case)? EWP cliauth: a server MUST
 * ignore the request headers that were not signed; drop or rename them after verifying.
 */
bool httpsig_header_is_signed(const struct httpsig_params *params, const char *name);

/* ---- signing outgoing requests ---- */

struct httpsig_sign_input {
    const char *method; /* "GET", "POST"... */
    const char *target; /* path and query exactly as they will be sent */
    const char *host;   /* the Host header as it will be sent */
    const void *body;   /* may be NULL when body_len is 0 */
    size_t body_len;
    const char *request_id; /* canonical lower-case UUID; NULL: a new random v4 */
    time_t now;
};

/* The headers to send with the request, all of them: the signature covers each. */
struct httpsig_signed {
    char date[HTTPSIG_DATE_SIZE];             /* Date */
    char digest[HTTPSIG_DIGEST_SIZE];         /* Digest */
    char request_id[HTTPSIG_REQUEST_ID_SIZE]; /* X-Request-Id */
    char key_id[HTTPSIG_KEY_ID_SIZE];
    char *signature; /* Signature header value: keyId="..",algorithm=..,headers=..,signature=.. */
    char *authorization; /* Authorization value: "Signature " + the above (EWP cliauth) */
};

/*
 * Signs (request-target) host date digest x-request-id with key (an RSA private key of
 * at least HTTPSIG_MIN_RSA_BITS). 0 and out filled (free with httpsig_signed_cleanup),
 * or -1 with err (code "invalid_argument" or "crypto_failed") and out empty.
 */
int httpsig_request_sign(const struct httpsig_sign_input *in, EVP_PKEY *key,
                         struct httpsig_signed *out, struct mcx_error *err);
void httpsig_signed_cleanup(struct httpsig_signed *s);

/* ---- pieces, for responses and tests ---- */

/* RSASSA-PKCS1-v1_5 / SHA-256 check of sig over data: 0 when it verifies, else -1. */
int httpsig_signature_check(EVP_PKEY *key, const void *data, size_t len, const unsigned char *sig,
                            size_t sig_len);

/* "SHA-256=<base64>" of the body (RFC 3230 §4.3.2, RFC 5843 §2.2). 0, or -1 if SHA-256 fails. */
int httpsig_digest_compute(const void *body, size_t len, char out[HTTPSIG_DIGEST_SIZE]);

/*
 * Checks a Digest value (one or more "algorithm=value", comma-separated, algorithm in
 * any case) against the body: exactly one SHA-256 entry whose value is the body's.
 * Other algorithms are skipped. 0, or -1 with err code "bad_digest".
 */
int httpsig_digest_check(const char *value, const void *body, size_t len, struct mcx_error *err);

/* IMF-fixdate (RFC 7231 §7.1.1.1) of t; -1 outside years 1970-9999. */
int httpsig_date_format(time_t t, char out[HTTPSIG_DATE_SIZE]);

/*
 * An HTTP-date in any of the three forms a recipient must accept (RFC 7231 §7.1.1.1:
 * IMF-fixdate, RFC 850, asctime), nothing before or after. now picks the century of a
 * two-digit RFC 850 year (at most 50 years ahead). 0, or -1.
 */
int httpsig_date_parse(const char *s, time_t now, time_t *out);

/* Canonical lower-case UUID, as EWP wants X-Request-Id (and its Registry checks). */
bool httpsig_request_id_is_valid(const char *s);

/* A random version 4 UUID (RFC 4122 §4.4) from the OpenSSL CSPRNG; 0, or -1. */
int httpsig_request_id_generate(char out[HTTPSIG_REQUEST_ID_SIZE]);

/* ---- keys ---- */

/* The EWP keyId of key: lower-case hex SHA-256 of its DER SubjectPublicKeyInfo. */
int httpsig_key_id_compute(EVP_PKEY *key, char out[HTTPSIG_KEY_ID_SIZE], struct mcx_error *err);

/*
 * Keys from memory: a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), the DER of one (what an
 * EWP manifest's <rsa-public-key> holds, base64-decoded), or a PEM private key (PKCS#8
 * or PKCS#1, not encrypted). RSA only. NULL with err code "invalid_key". Free with
 * EVP_PKEY_free.
 */
EVP_PKEY *httpsig_key_read_public(const char *pem, size_t len, struct mcx_error *err);
EVP_PKEY *httpsig_key_read_public_der(const unsigned char *der, size_t len, struct mcx_error *err);
EVP_PKEY *httpsig_key_read_private(const char *pem, size_t len, struct mcx_error *err);

/* The same from a regular file of at most 64 KiB; err code "io_failed" when unreadable. */
EVP_PKEY *httpsig_key_load_public(const char *path, struct mcx_error *err);
EVP_PKEY *httpsig_key_load_private(const char *path, struct mcx_error *err);

/* A new RSA key pair of bits 2048, 3072 or 4096; NULL with err otherwise. */
EVP_PKEY *httpsig_key_generate(int bits, struct mcx_error *err);

/*
 * PEM text appended to out: the public key as "PUBLIC KEY", the private key as
 * unencrypted PKCS#8 "PRIVATE KEY" (wipe out with explicit_bzero when done). 0, or -1.
 */
int httpsig_key_write_public(EVP_PKEY *key, struct buf *out, struct mcx_error *err);
int httpsig_key_write_private(EVP_PKEY *key, struct buf *out, struct mcx_error *err);

#endif
