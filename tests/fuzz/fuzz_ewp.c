/*
 * fuzz_ewp.c — libFuzzer harness for the EWP codec (catalogue/ewp.h): whatever
 * the bytes, no crash, no leak, no overread; every report is consistent (an
 * item fails exactly when it has errors, error texts are whole UTF-8), every
 * offer holds only values of the shape DESIGN §5 promises, a manifest yields
 * only usable URLs and limits, and the root sniffer agrees with the parsers.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/ewp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loaded once: compiling the XSDs per input would be all the fuzzer ever did. */
static struct ewp_schemas *schemas;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct mcx_error err;

    (void)argc;
    (void)argv;
    schemas = ewp_schemas_load(MCX_SOURCE_DIR "/schemas/ewp", &err);
    if (schemas == NULL) {
        fprintf(stderr, "fuzz_ewp: %s: %s\n", err.code, err.message);
        abort();
    }
    return 0;
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_ewp: %s\n", what);
        abort();
    }
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

static void errors_check(const struct ewp_error *e, size_t kept, size_t total)
{
    check(kept <= EWP_ITEM_MAX_ERRORS && kept <= total, "error counts");
    for (size_t i = 0; i < kept; i++) {
        check(utf8_ok(e[i].message) && utf8_ok(e[i].path), "error text is not UTF-8");
        check(e[i].message[0] != '\0' && e[i].line >= 0, "empty error");
    }
}

static bool date_ok(const char *d)
{
    return d[0] == '\0' || (strlen(d) == 10 && d[4] == '-' && d[7] == '-');
}

/* A language key: "" or 2-3 lower-case letters. */
static bool lang_ok(const char *l)
{
    size_t n = strlen(l);

    if (n == 0)
        return true;
    if (n < 2 || n > 3)
        return false;
    for (size_t i = 0; i < n; i++)
        if (l[i] < 'a' || l[i] > 'z')
            return false;
    return true;
}

static void map_check(const struct lang_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        check(lang_ok(m->items[i].lang), "language key");
        check(m->items[i].text[0] != '\0' && utf8_ok(m->items[i].text), "text");
        for (size_t k = 0; k < i; k++)
            check(strcmp(m->items[i].lang, m->items[k].lang) != 0, "language twice");
    }
}

static void offer_check(const struct offer *o)
{
    map_check(&o->title);
    map_check(&o->description);
    check(o->eqf >= 0 && o->eqf <= 8, "eqf");
    check(!o->has_ects || (isfinite(o->ects) && o->ects >= 0 && o->ects <= 1000), "ects");
    check(date_ok(o->starts) && date_ok(o->ends), "dates");
    for (size_t i = 0; i < o->nlanguages; i++)
        check(o->languages[i][0] != '\0' && lang_ok(o->languages[i]), "language");
    for (size_t i = 0; i < o->nisced; i++)
        check(strlen(o->isced[i]) >= 2 && strlen(o->isced[i]) <= 4, "isced");
    check(o->homepage == NULL || o->homepage[0] != '\0', "homepage");
    check(o->provider_id == NULL && o->provider_country[0] == '\0', "provider");
}

/* Past the well-formedness checks, a parser sees the root the sniffer saw. */
static void root_agrees(const struct mcx_error *err, enum ewp_root sniffed, enum ewp_root mine)
{
    if (err == NULL)
        check(sniffed == mine, "parsed a document whose root was sniffed as another");
    else if (strcmp(err->code, "unsupported_document") == 0)
        check(sniffed != mine, "refused the root the sniffer took for this document");
}

static void courses_check(const uint8_t *data, size_t size, enum ewp_root root)
{
    struct ewp_doc doc;
    struct mcx_error err;

    if (ewp_parse_courses(schemas, (const char *)data, size, 0, &doc, &err) != 0) {
        check(utf8_ok(err.message) && err.code[0] != '\0', "parse error");
        check(doc.items == NULL && doc.nitems == 0, "failed parse left items");
        root_agrees(&err, root, EWP_ROOT_COURSES);
        return;
    }
    root_agrees(NULL, root, EWP_ROOT_COURSES);
    errors_check(doc.errors, doc.nerrors_kept, doc.nerrors);
    check(doc.nitems <= EWP_MAX_ITEMS, "too many items");
    for (size_t i = 0; i < doc.nitems; i++) {
        const struct ewp_item *it = &doc.items[i];
        check(it->ok == (it->nerrors == 0) && (it->ok || it->nerrors_kept > 0), "item ok");
        check(it->nerrors >= doc.nerrors, "document errors not spread");
        check(it->index == (int)i && it->line > 0, "item position");
        check(it->external_id != NULL, "external_id");
        check(strcmp(it->external_id, it->offer.external_id ? it->offer.external_id : "") == 0,
              "external ids differ");
        check(!it->ok || it->external_id[0] != '\0', "valid LOS without los-id");
        errors_check(it->errors, it->nerrors_kept, it->nerrors);
        offer_check(&it->offer);
    }
    ewp_doc_set_provider(&doc, "vdu.lt");
    ewp_doc_cleanup(&doc);
}

static void replication_check(const uint8_t *data, size_t size, enum ewp_root root)
{
    struct ewp_id_list list;
    struct mcx_error err;

    if (ewp_parse_replication(schemas, (const char *)data, size, 0, &list, &err) != 0) {
        check(utf8_ok(err.message) && utf8_ok(err.path), "replication error");
        check(list.ids == NULL && list.n == 0, "failed replication left ids");
        root_agrees(&err, root, EWP_ROOT_REPLICATION);
        return;
    }
    root_agrees(NULL, root, EWP_ROOT_REPLICATION);
    for (size_t i = 0; i < list.n; i++)
        check(list.ids[i][0] != '\0' && strchr(list.ids[i], '/') != NULL, "replicated id");
    ewp_id_list_cleanup(&list);
}

/* What the harvester hands to an HTTP client: http(s), a host, printable ASCII. */
static bool url_usable(const char *u)
{
    size_t skip = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;

    if (skip == 0 || u[skip] == '\0' || u[skip] == '/' || strlen(u) > EWP_MAX_URL)
        return false;
    for (; *u != '\0'; u++)
        if ((unsigned char)*u <= 0x20 || (unsigned char)*u >= 0x7f)
            return false;
    return true;
}

static void manifest_check(const uint8_t *data, size_t size, enum ewp_root root)
{
    struct ewp_manifest_apis m;
    struct mcx_error err;

    /* the HEI of the seed manifest (the upstream example's) */
    if (ewp_parse_manifest((const char *)data, size, 0, "uw.edu.pl", &m, &err) != 0) {
        check(utf8_ok(err.message) && utf8_ok(err.path) && err.code[0] != '\0', "manifest error");
        check(m.courses_url == NULL && m.replication_url == NULL && m.max_los_ids == 0,
              "failed manifest left values");
        root_agrees(&err, root, EWP_ROOT_MANIFEST);
        return;
    }
    root_agrees(NULL, root, EWP_ROOT_MANIFEST);
    check(m.courses_url != NULL && url_usable(m.courses_url), "courses url");
    check(m.max_los_ids >= 1, "max-los-ids");
    check(m.replication_url == NULL || url_usable(m.replication_url), "replication url");
    check(m.replication_url != NULL || !m.replication_modified_since, "modified_since alone");
    ewp_manifest_apis_cleanup(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum ewp_root root = ewp_sniff_root((const char *)data, size);

    check(root == EWP_ROOT_OTHER || root == EWP_ROOT_MANIFEST || root == EWP_ROOT_COURSES ||
              root == EWP_ROOT_REPLICATION,
          "sniffed root");
    courses_check(data, size, root);
    replication_check(data, size, root);
    manifest_check(data, size, root);
    return 0;
}
