/*
 * fuzz_elm.c — libFuzzer harness for the JSON parser and the ELM 3 reader:
 * whatever the bytes, no crash, no leak, no overread; and whatever the reader
 * accepts, its export reads back to an equal offer; read as a feed, every item
 * is either an offer with a title or says why not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/elm.h"
#include "server/jsonparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every node through the public accessors. */
static size_t walk(const struct json_value *v)
{
    size_t n = 1, len;
    double d;

    if (json_is_object(v)) {
        for (size_t i = 0; i < json_object_len(v); i++) {
            const char *key = json_object_key_at(v, i);
            n += strlen(key) + walk(json_object_value_at(v, i));
            if (json_object_get(v, key) == NULL)
                abort(); /* a key that cannot be found again */
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_len(v); i++)
            n += walk(json_array_at(v, i));
    } else if (json_is_string(v)) {
        n += strlen(json_string_value(v, &len)) <= len ? 0 : 1;
    } else if (json_is_number(v)) {
        n += json_number_double(v, &d) == 0 ? 1 : 0;
    }
    return n;
}

static bool has_iri(const char *s)
{
    return s != NULL && strchr(s, ':') != NULL;
}

/* The export of an accepted offer must read back to the same offer. */
static void check_round_trip(const struct offer *o)
{
    struct buf b;
    struct offer back;
    struct mcx_error err;
    const char *field = NULL;

    buf_init(&b);
    elm_export_offer(o, NULL, &b);
    if (elm_parse_offer(b.data, b.len, &back, &err) != 0) {
        fprintf(stderr, "export rejected: %s at %s\n%s\n", err.message, err.path, b.data);
        abort();
    }
    /* the export's id is the source id only when that is an IRI, and its
     * external id is kept only when there is one */
    if (has_iri(o->source_id) && o->external_id != NULL && o->external_id[0] != '\0' &&
        !offer_equal(o, &back, &field)) {
        fprintf(stderr, "round trip changed %s\n%s\n", field, b.data);
        abort();
    }
    offer_cleanup(&back);
    buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mcx_error err;
    struct json_value *v = json_parse((const char *)data, size, 0, &err);
    struct offer o;

    if (v != NULL) {
        walk(v);
        json_value_free(v);
    } else if (err.code[0] == '\0') {
        abort(); /* a refusal always says why */
    }
    if (elm_parse_offer((const char *)data, size, &o, &err) == 0) {
        if (o.title.n == 0)
            abort(); /* a title is mandatory */
        check_round_trip(&o);
        offer_cleanup(&o);
    } else if (strcmp(err.code, "malformed_json") != 0 &&
               strcmp(err.code, "validation_failed") != 0) {
        abort();
    }
    /* the same bytes as a feed: each item stands alone, a good one has a title */
    struct elm_feed feed;
    if (elm_parse_feed((const char *)data, size, 64, &feed, &err) == 0) {
        for (size_t i = 0; i < feed.nitems; i++)
            if (feed.items[i].ok ? feed.items[i].offer.title.n == 0
                                 : feed.items[i].err.code[0] == '\0')
                abort();
        elm_feed_cleanup(&feed);
    } else if (err.code[0] == '\0') {
        abort();
    }
    return 0;
}
