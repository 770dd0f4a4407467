/*
 * fuzz_loq.c — libFuzzer harness for the LOQ codec (catalogue/loq.h):
 * whatever the bytes, no crash, no leak, no overread; and every offer that
 * parses clean exports to a document that parses back clean and equal.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/loq.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loaded once: compiling the XSDs per input would be all the fuzzer ever did. */
static struct loq_schemas *schemas;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct mcx_error err;

    (void)argc;
    (void)argv;
    schemas = loq_schemas_load(MCX_SOURCE_DIR "/schemas/loq", &err);
    if (schemas == NULL) {
        fprintf(stderr, "fuzz_loq: %s: %s\n", err.code, err.message);
        abort();
    }
    return 0;
}

static void roundtrip_fail(const char *what, size_t i, const char *detail)
{
    fprintf(stderr, "fuzz_loq: round trip: %s (item %zu): %s\n", what, i, detail ? detail : "");
    abort();
}

/* The clean items, exported and parsed again, must come back clean and equal. */
static void roundtrip_check(const struct loq_doc *doc)
{
    const struct offer **v = calloc(doc->nitems + 1, sizeof(*v));
    size_t *from = calloc(doc->nitems + 1, sizeof(*from));
    size_t n = 0;
    struct buf out;
    struct loq_doc again;
    struct mcx_error err;

    if (v == NULL || from == NULL)
        abort();
    for (size_t i = 0; i < doc->nitems; i++) {
        if (doc->items[i].ok) {
            from[n] = i;
            v[n++] = &doc->items[i].offer;
        }
    }
    if (n == 0)
        goto out;
    buf_init(&out);
    if (loq_export(v, n, doc->version, &out) != 0)
        roundtrip_fail("export", 0, NULL);
    if (loq_parse(schemas, out.data, out.len, &again, &err) != 0)
        roundtrip_fail("parse of the export", 0, err.message);
    if (again.nitems != n)
        roundtrip_fail("item count", again.nitems, NULL);
    for (size_t i = 0; i < n; i++) {
        const char *field = NULL;
        if (!again.items[i].ok)
            roundtrip_fail("export invalid", from[i],
                           again.items[i].nerrors_kept ? again.items[i].errors[0].message : NULL);
        if (!offer_equal(v[i], &again.items[i].offer, &field))
            roundtrip_fail("offer differs", from[i], field);
    }
    loq_doc_cleanup(&again);
    buf_cleanup(&out);
out:
    free(v);
    free(from);
}

/* Error texts go into JSON replies: they must be whole UTF-8. */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        if (n == 0)
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static void errors_check(const struct loq_error *e, size_t kept, size_t total)
{
    if (kept > LOQ_ITEM_MAX_ERRORS || kept > total)
        abort();
    for (size_t i = 0; i < kept; i++)
        if (!utf8_ok(e[i].message) || !utf8_ok(e[i].path) || e[i].message[0] == '\0')
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct loq_doc doc;
    struct mcx_error err;

    if (loq_parse(schemas, (const char *)data, size, &doc, &err) != 0) {
        if (!utf8_ok(err.message))
            abort();
        return 0;
    }
    errors_check(doc.errors, doc.nerrors_kept, doc.nerrors);
    for (size_t i = 0; i < doc.nitems; i++) {
        const struct loq_item *it = &doc.items[i];
        if (it->ok != (it->nerrors == 0) || (!it->ok && it->nerrors_kept == 0))
            abort();
        errors_check(it->errors, it->nerrors_kept, it->nerrors);
    }
    roundtrip_check(&doc);
    loq_doc_cleanup(&doc);
    return 0;
}
