/*
 * fuzz_http_parser.c — libFuzzer harness for the request head parser and the
 * request-target decoder: whatever the bytes, no crash, no leak, no overread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/http_parser.h"
#include "server/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_target(const char *target)
{
    struct http_target t;
    char *v;

    if (http_target_parse(target, &t) == 0) {
        v = http_query_get(t.query, "q");
        free(v);
        http_target_cleanup(&t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_head head;
    struct mcx_error err;
    char *copy = malloc(size + 1);

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    if (http_parse_head(copy, size, &head, &err) == 0)
        fuzz_target(head.target);
    free(copy);
    /* the raw bytes as a target, too */
    copy = malloc(size + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    fuzz_target(copy);
    free(copy);
    return 0;
}
