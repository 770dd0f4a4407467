/*
 * fuzz_httpsig.c — libFuzzer harness for server/httpsig.h: the Signature and
 * Authorization parsers, Digest lists and HTTP-dates over the raw bytes; then the
 * bytes read as a request ("METHOD TARGET", "Name: value" lines, a blank line, the
 * body) through httpsig_request_find, the signing string and httpsig_request_verify
 * with a fixed RSA-2048 key (the seeds carry its keyId, so verification runs to the
 * end). Whatever the bytes: no crash, no leak, no overread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/httpsig.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW ((time_t)1767225600) /* Thu, 01 Jan 2026 00:00:00 GMT, as in the seeds */
#define FUZZ_MAX_LINES 32

/* tests/unit/test_httpsig.c's fixed key; keyId c91a063f...0c92f3. */
static const char fuzz_public_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv1jCg6aM8YsJ7cQJDINs\n"
    "ZTgMmX/s76x2XrwAXzl65PJGoF06vI+3jFFhoRnS2gLngL+XjVXwQN2mlMurAkmo\n"
    "F90yAFV8ux1uB/sxm/w/IMJ79c0a3GQAOk+xC62yNJDJWdTpTuiYyhzz3NZR2w1Q\n"
    "TnsdOEHnmW1ocd97ETUVorWIzue29ElYte4UhF4Czqzia9pqlu5UOj0+KsgK+B1S\n"
    "QNHLLZCANSCWlrzXL3ZqP86tkOETKSn3pSRXRzdOfjUrzKzotA6A2Iu77rRStTir\n"
    "S6KuEHoiMVy8aM6XbM2Q4QKjj9up9HEF4XzKkbeYK0BsNGEBE0RZZTarECOFkXfM\n"
    "vQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static EVP_PKEY *fuzz_key; /* read once; the harness's only state */

struct fuzz_request {
    char *name[FUZZ_MAX_LINES];
    char *value[FUZZ_MAX_LINES];
    size_t n;
};

static const char *fuzz_header(void *arg, const char *name, size_t nth)
{
    const struct fuzz_request *r = arg;

    for (size_t i = 0; i < r->n; i++) {
        if (strcasecmp(r->name[i], name) == 0 && nth-- == 0)
            return r->value[i];
    }
    return NULL;
}

/* Splits text (modified in place) into the request line, headers and body. */
static int fuzz_request_split(char *text, size_t size, struct fuzz_request *r,
                              struct httpsig_request *req)
{
    char *line = text, *end = text + size, *nl, *sp;

    nl = memchr(line, '\n', (size_t)(end - line));
    sp = nl != NULL ? memchr(line, ' ', (size_t)(nl - line)) : NULL;
    if (sp == NULL)
        return -1;
    *sp = '\0';
    *nl = '\0';
    req->method = line;
    req->target = sp + 1;
    for (line = nl + 1; line < end && *line != '\n'; line = nl + 1) {
        char *colon;
        nl = memchr(line, '\n', (size_t)(end - line));
        if (nl == NULL || r->n == FUZZ_MAX_LINES)
            return -1;
        *nl = '\0';
        colon = strchr(line, ':');
        if (colon == NULL)
            return -1;
        *colon = '\0';
        r->name[r->n] = line;
        r->value[r->n++] = colon + 1 + (colon[1] == ' ');
    }
    req->body = line < end ? line + 1 : "";
    req->body_len = line < end ? (size_t)(end - line - 1) : 0;
    req->header = fuzz_header;
    req->header_arg = r;
    return 0;
}

static void fuzz_as_request(char *text, size_t size)
{
    struct fuzz_request r = {0};
    struct httpsig_request req;
    struct httpsig_verify_opts opts = {FUZZ_NOW, 0};
    struct httpsig_verified v;
    struct httpsig_params p;
    struct mcx_error err;
    const char *names[HTTPSIG_MAX_HEADERS];
    struct buf s;

    if (fuzz_request_split(text, size, &r, &req) < 0 || httpsig_request_find(&req, &p, &err) < 0)
        return;
    for (size_t i = 0; i < p.nheaders; i++)
        names[i] = p.headers[i];
    buf_init(&s);
    httpsig_signing_string_build(&req, names, p.nheaders, &s, &err);
    buf_cleanup(&s);
    httpsig_request_verify(&req, &p, NULL, &opts, &v, &err);
    httpsig_request_verify(&req, &p, fuzz_key, &opts, &v, &err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct mcx_error err;

    (void)argc;
    (void)argv;
    fuzz_key = httpsig_key_read_public(fuzz_public_pem, strlen(fuzz_public_pem), &err);
    return fuzz_key != NULL ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct httpsig_params p;
    struct mcx_error err;
    char *copy = malloc(size + 1);
    time_t t;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    httpsig_params_parse(copy, &p, &err);
    httpsig_authorization_parse(copy, &p, &err);
    httpsig_digest_check(copy, data, size, &err);
    httpsig_date_parse(copy, FUZZ_NOW, &t);
    httpsig_request_id_is_valid(copy);
    fuzz_as_request(copy, size);
    free(copy);
    return 0;
}
