/*
 * test_loq_stream.c — the streamed LOQ export writes exactly what loq_export
 * writes for the same offers, whatever the batch size, with organisations shared
 * across batches (the offers of a batch are freed before the next one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalogue/gen.h"
#include "catalogue/loq.h"

static void collect(void *arg, const char *bytes, size_t len, int fd, size_t file_len)
{
    struct buf *out = arg;

    if (fd < 0) {
        buf_append(out, bytes, len);
        return;
    }
    buf_reserve(out, file_len);
    ssize_t n = pread(fd, out->data + out->len, file_len, 0);
    assert_int_equal(n, (ssize_t)file_len);
    out->len += file_len;
    out->data[out->len] = '\0';
}

static void make_offers(struct offer *offers, size_t n)
{
    struct gen g;

    gen_init(&g, 11);
    for (size_t i = 0; i < n; i++) {
        offer_init(&offers[i]);
        gen_offer(&g, i, i % 3 ? "vdu.lt" : "ktu.lt", &offers[i]);
    }
}

static void check_batches(size_t n, size_t batch)
{
    struct offer *whole = calloc(n, sizeof(struct offer));
    const struct offer **list = calloc(n, sizeof(struct offer *));
    struct buf expect, got;
    struct loq_stream *st = loq_stream_new(LOQ_VERSION_310);

    assert_non_null(st);
    make_offers(whole, n);
    for (size_t i = 0; i < n; i++)
        list[i] = &whole[i];
    buf_init(&expect);
    buf_init(&got);
    assert_int_equal(loq_export(list, n, LOQ_VERSION_310, &expect), 0);
    for (size_t i = 0; i < n; i++)
        offer_cleanup(&whole[i]);
    /* the same offers again, made and freed one batch at a time */
    struct gen g;
    gen_init(&g, 11);
    for (size_t from = 0; from < n; from += batch) {
        size_t k = from + batch < n ? batch : n - from;
        struct offer *b = calloc(k, sizeof(struct offer));
        const struct offer **bl = calloc(k, sizeof(struct offer *));
        for (size_t i = 0; i < k; i++) {
            offer_init(&b[i]);
            gen_offer(&g, from + i, (from + i) % 3 ? "vdu.lt" : "ktu.lt", &b[i]);
            bl[i] = &b[i];
        }
        assert_int_equal(loq_stream_add(st, bl, k), 0);
        for (size_t i = 0; i < k; i++)
            offer_cleanup(&b[i]);
        free(b);
        free(bl);
    }
    assert_int_equal(loq_stream_finish(st, collect, &got), 0);
    assert_int_equal(got.len, expect.len);
    assert_memory_equal(got.data, expect.data, expect.len);
    loq_stream_free(st);
    buf_cleanup(&expect);
    buf_cleanup(&got);
    free(whole);
    free(list);
}

static void test_stream_equals_export(void **state)
{
    (void)state;
    check_batches(1, 500);
    check_batches(7, 3);
    check_batches(1200, 500);
}

static void test_stream_empty(void **state)
{
    struct loq_stream *st = loq_stream_new(LOQ_VERSION_310);
    struct buf got, expect;

    (void)state;
    buf_init(&got);
    buf_init(&expect);
    assert_int_equal(loq_export(NULL, 0, LOQ_VERSION_310, &expect), 0);
    assert_int_equal(loq_stream_finish(st, collect, &got), 0);
    assert_string_equal(got.data, expect.data);
    assert_null(loq_stream_new(999));
    loq_stream_free(st);
    loq_stream_free(NULL);
    buf_cleanup(&got);
    buf_cleanup(&expect);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_equals_export),
        cmocka_unit_test(test_stream_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
