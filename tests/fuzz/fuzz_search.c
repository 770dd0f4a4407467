/*
 * fuzz_search.c — libFuzzer harness for what a search request brings: the query
 * string (search_params_parse over http_query_next), the Accept-Language header,
 * and the visitor cookie (events_cookie_visitor). Whatever the bytes: no crash,
 * no leak, no overread; a refusal is invalid_parameter with a message; an
 * accepted search has its limits and array literals that are safe to bind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/events.h"
#include "catalogue/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An array literal built from checked values: braces, commas and [a-z0-9.-] only. */
static void check_literal(const char *lit)
{
    size_t n;

    if (lit == NULL)
        return;
    n = strlen(lit);
    if (n < 3 || lit[0] != '{' || lit[n - 1] != '}')
        abort();
    for (size_t i = 1; i + 1 < n; i++)
        if (strchr("abcdefghijklmnopqrstuvwxyz0123456789.-,", lit[i]) == NULL)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* query string \n Accept-Language \n Cookie */
    char *in = malloc(size + 1), *lines[3] = {NULL, NULL, NULL};
    struct search_params p;
    struct mcx_error err;
    char visitor[EVENTS_VISITOR_SIZE];

    memcpy(in, data, size);
    in[size] = '\0';
    lines[0] = in;
    for (int i = 1; i < 3; i++) {
        char *nl = lines[i - 1] ? strchr(lines[i - 1], '\n') : NULL;
        if (nl != NULL) {
            *nl = '\0';
            lines[i] = nl + 1;
        }
    }
    if (search_params_parse(lines[0], lines[1], &p, &err) == 0) {
        if (p.limit < 1 || p.limit > SEARCH_LIMIT_MAX || p.canon.len == 0)
            abort();
        if ((int)p.sort < SEARCH_SORT_RELEVANCE || p.sort > SEARCH_SORT_TITLE)
            abort();
        check_literal(p.language);
        check_literal(p.isced);
        check_literal(p.eqf);
        check_literal(p.mode);
        check_literal(p.institution);
        if (strlen(p.lang) > 3 || (p.q != NULL && strlen(p.q) > 4 * SEARCH_Q_MAX_CHARS))
            abort();
        search_params_cleanup(&p);
    } else if (strcmp(err.code, "invalid_parameter") != 0 || err.message[0] == '\0') {
        abort();
    }
    if (events_cookie_visitor(lines[2] ? lines[2] : lines[0], visitor) &&
        strspn(visitor, "0123456789abcdef") != 32)
        abort();
    free(in);
    return 0;
}
