/*
 * test_metrics.c — /metrics in the Prometheus text format (server/metrics.h):
 * request counters per route and status, cumulative latency histograms, label
 * escaping and caller-supplied gauges. Checks whole lines, as a scraper reads them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

/* Renders m and the gauges into a fresh string the caller frees. */
static char *render(const struct metrics *m, const struct metrics_gauge *g, int n)
{
    struct buf b;

    buf_init(&b);
    metrics_render(m, g, n, &b);
    return buf_steal(&b, NULL);
}

/* True when text holds line as a whole line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static void assert_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("missing line: %s\n--- output ---\n%s", line, text);
}

static int count(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Every line ends in "\n", and the output ends with one. */
static void assert_well_formed(const char *text)
{
    size_t len = strlen(text);

    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_null(strstr(text, "\n\n"));
}

static void test_empty(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(0);
    char *out = render(m, NULL, 0);

    assert_int_equal(metrics_requests_total(m), 0);
    assert_line(out, "# TYPE mcx_http_requests_total counter");
    assert_line(out, "# TYPE mcx_http_request_duration_seconds histogram");
    assert_null(strstr(out, "mcx_http_requests_total{"));
    assert_null(strstr(out, "_bucket{"));
    assert_well_formed(out);
    free(out);
    metrics_free(m);
    metrics_free(NULL);
}

static void test_counters(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(3);
    static const struct {
        const char *route;
        int status;
    } obs[] = {
        {"/api/v1/offers", 200},      {"/api/v1/offers", 200},
        {"/api/v1/offers", 404},      {"static", 200},
        {"unmatched", 404},           {"/api/v1/offers", 200},
        {"/api/v1/offers/{id}", 500},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(obs); i++)
        metrics_observe(m, obs[i].route, obs[i].status, 1000);
    assert_int_equal(metrics_requests_total(m), MCX_ARRAY_LEN(obs));

    char *out = render(m, NULL, 0);
    assert_line(out, "# HELP mcx_http_requests_total HTTP requests answered, by route and "
                     "status.");
    assert_line(out, "mcx_http_requests_total{worker=\"3\",route=\"/api/v1/offers\","
                     "status=\"200\"} 3");
    assert_line(out, "mcx_http_requests_total{worker=\"3\",route=\"/api/v1/offers\","
                     "status=\"404\"} 1");
    assert_line(out, "mcx_http_requests_total{worker=\"3\",route=\"static\",status=\"200\"} 1");
    assert_line(out, "mcx_http_requests_total{worker=\"3\",route=\"unmatched\",status=\"404\"} 1");
    assert_line(out, "mcx_http_requests_total{worker=\"3\",route=\"/api/v1/offers/{id}\","
                     "status=\"500\"} 1");
    assert_int_equal(count(out, "mcx_http_requests_total{"), 5);
    assert_int_equal(count(out, "# TYPE mcx_http_requests_total"), 1);
    assert_well_formed(out);
    free(out);
    metrics_free(m);
}

/* A route string at another address but equal content shares the slot. */
static void test_route_by_content(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(0);
    char a[] = "/r";
    char b[] = "/r";

    metrics_observe(m, a, 200, 1);
    metrics_observe(m, b, 200, 1);
    char *out = render(m, NULL, 0);
    assert_line(out, "mcx_http_requests_total{worker=\"0\",route=\"/r\",status=\"200\"} 2");
    assert_line(out, "mcx_http_request_duration_seconds_count{worker=\"0\",route=\"/r\"} 2");
    free(out);
    metrics_free(m);
}

static const char *const les[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                  "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};

/* Reads the bucket values for route in le order; returns how many were found. */
static int buckets_of(const char *out, const char *route, uint64_t v[12])
{
    int found = 0;

    for (size_t i = 0; i < MCX_ARRAY_LEN(les); i++) {
        char key[256];
        snprintf(key, sizeof(key),
                 "mcx_http_request_duration_seconds_bucket{worker=\"0\",route=\"%s\",le=\"%s\"} ",
                 route, les[i]);
        const char *p = strstr(out, key);
        if (p == NULL)
            continue;
        v[i] = strtoull(p + strlen(key), NULL, 10);
        found++;
    }
    return found;
}

static void test_histogram(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(0);
    /* microseconds; the bucket each lands in (first le it is <=), 11 = only +Inf */
    static const struct {
        int64_t us;
        int bucket;
    } obs[] = {
        {0, 0},         {4999, 0},      {5000, 0}, /* le is inclusive */
        {5001, 1},      {10000, 1},     {20000, 2},     {50000, 3},   {99999, 4},
        {250000, 5},    {400000, 6},    {1000000, 7},   {2500000, 8}, {4000000, 9},
        {10000000, 10}, {10000001, 11}, {60000000, 11},
    };
    uint64_t want[12] = {0};
    uint64_t got[12] = {0};
    double sum = 0;

    for (size_t i = 0; i < MCX_ARRAY_LEN(obs); i++) {
        metrics_observe(m, "/h", 200, obs[i].us);
        sum += (double)obs[i].us / 1e6;
        for (int b = obs[i].bucket; b < 12; b++)
            want[b]++; /* cumulative */
    }
    char *out = render(m, NULL, 0);
    assert_int_equal(buckets_of(out, "/h", got), 12);
    for (int b = 0; b < 12; b++)
        if (got[b] != want[b])
            fail_msg("le=%s: %llu, want %llu\n%s", les[b], (unsigned long long)got[b],
                     (unsigned long long)want[b], out);
    for (int b = 1; b < 12; b++)
        assert_true(got[b] >= got[b - 1]);
    assert_int_equal(got[11], MCX_ARRAY_LEN(obs)); /* +Inf == count */
    assert_line(out, "mcx_http_request_duration_seconds_count{worker=\"0\",route=\"/h\"} 16");
    char sumline[160];
    snprintf(sumline, sizeof(sumline),
             "mcx_http_request_duration_seconds_sum{worker=\"0\",route=\"/h\"} %.6f", sum);
    assert_line(out, sumline);
    assert_int_equal(count(out, "# TYPE mcx_http_request_duration_seconds histogram"), 1);
    assert_well_formed(out);
    free(out);
    metrics_free(m);
}

/* Histograms are per route, whatever the status. */
static void test_histogram_per_route(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(0);
    uint64_t a[12] = {0}, b[12] = {0};

    metrics_observe(m, "/a", 200, 1000);
    metrics_observe(m, "/a", 500, 3000000);
    metrics_observe(m, "/b", 404, 30000);
    char *out = render(m, NULL, 0);
    assert_int_equal(buckets_of(out, "/a", a), 12);
    assert_int_equal(buckets_of(out, "/b", b), 12);
    assert_int_equal(a[0], 1);
    assert_int_equal(a[8], 1);
    assert_int_equal(a[9], 2);
    assert_int_equal(a[11], 2);
    assert_int_equal(b[2], 0);
    assert_int_equal(b[3], 1);
    assert_int_equal(b[11], 1);
    assert_line(out, "mcx_http_request_duration_seconds_count{worker=\"0\",route=\"/a\"} 2");
    assert_line(out, "mcx_http_request_duration_seconds_count{worker=\"0\",route=\"/b\"} 1");
    assert_line(out, "mcx_http_request_duration_seconds_sum{worker=\"0\",route=\"/a\"} 3.001000");
    free(out);
    metrics_free(m);
}

static void test_label_escaping(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(1);

    metrics_observe(m, "/a\"b", 200, 1);
    metrics_observe(m, "/c\\d", 200, 1);
    metrics_observe(m, "/e\nf", 200, 1);
    char *out = render(m, NULL, 0);
    assert_line(out, "mcx_http_requests_total{worker=\"1\",route=\"/a\\\"b\",status=\"200\"} 1");
    assert_line(out, "mcx_http_requests_total{worker=\"1\",route=\"/c\\\\d\",status=\"200\"} 1");
    assert_line(out, "mcx_http_requests_total{worker=\"1\",route=\"/e\\nf\",status=\"200\"} 1");
    assert_line(out, "mcx_http_request_duration_seconds_count{worker=\"1\",route=\"/a\\\"b\"} 1");
    assert_line(out, "mcx_http_request_duration_seconds_count{worker=\"1\",route=\"/e\\nf\"} 1");
    assert_line(out, "mcx_http_request_duration_seconds_bucket{worker=\"1\",route=\"/c\\\\d\","
                     "le=\"+Inf\"} 1");
    assert_well_formed(out); /* a raw newline would have split a line */
    free(out);
    metrics_free(m);
}

static void test_gauges(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(2);
    const struct metrics_gauge g[] = {
        {"mcx_db_pool_connections", "Pool connections by state.", "gauge", "state", "idle", 3},
        {"mcx_db_pool_connections", "Pool connections by state.", "gauge", "state", "busy", 5},
        {"mcx_db_pool_connections", "Pool connections by state.", "gauge", "state", "a\"b\\c\nd",
         0},
        {"mcx_http_connections", "Open client connections.", "gauge", NULL, NULL, 12},
        {"mcx_uptime_seconds", "Seconds since start.", "counter", NULL, NULL, 1.5},
        {"mcx_db_queue_wait_seconds", "Longest wait.", "gauge", NULL, NULL, 0.25},
    };

    char *out = render(m, g, (int)MCX_ARRAY_LEN(g));
    assert_int_equal(count(out, "# HELP mcx_db_pool_connections "), 1);
    assert_int_equal(count(out, "# TYPE mcx_db_pool_connections "), 1);
    assert_line(out, "# HELP mcx_db_pool_connections Pool connections by state.");
    assert_line(out, "# TYPE mcx_db_pool_connections gauge");
    assert_line(out, "mcx_db_pool_connections{worker=\"2\",state=\"idle\"} 3");
    assert_line(out, "mcx_db_pool_connections{worker=\"2\",state=\"busy\"} 5");
    assert_line(out, "mcx_db_pool_connections{worker=\"2\",state=\"a\\\"b\\\\c\\nd\"} 0");
    assert_line(out, "# HELP mcx_http_connections Open client connections.");
    assert_line(out, "# TYPE mcx_http_connections gauge");
    assert_line(out, "mcx_http_connections{worker=\"2\"} 12");
    assert_line(out, "# TYPE mcx_uptime_seconds counter");
    assert_line(out, "mcx_uptime_seconds{worker=\"2\"} 1.5");
    assert_line(out, "mcx_db_queue_wait_seconds{worker=\"2\"} 0.25");
    assert_int_equal(count(out, "# HELP "), 6); /* 2 built in + 4 gauge names */
    assert_int_equal(count(out, "# TYPE "), 6);

    /* HELP and TYPE come right before the first sample of their name */
    const char *help = strstr(out, "# HELP mcx_db_pool_connections");
    const char *type = strstr(out, "# TYPE mcx_db_pool_connections");
    const char *first = strstr(out, "mcx_db_pool_connections{");
    assert_true(help < type && type < first);
    assert_well_formed(out);
    free(out);
    metrics_free(m);
}

/* The requests counter counts every observation, across routes and statuses. */
static void test_requests_total(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(0);
    char routes[50][16];

    for (int i = 0; i < 50; i++) {
        snprintf(routes[i], sizeof(routes[i]), "/r%d", i);
        for (int j = 0; j <= i % 3; j++)
            metrics_observe(m, routes[i], 200 + j, i * 1000);
    }
    assert_int_equal(metrics_requests_total(m), 17 * 1 + 17 * 2 + 16 * 3);
    char *out = render(m, NULL, 0);
    assert_int_equal(count(out, "mcx_http_requests_total{"), 17 + 17 * 2 + 16 * 3);
    assert_int_equal(count(out, "mcx_http_request_duration_seconds_count{"), 50);
    assert_line(out, "mcx_http_requests_total{worker=\"0\",route=\"/r49\",status=\"201\"} 1");
    free(out);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_route_by_content),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_histogram_per_route),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_gauges),
        cmocka_unit_test(test_requests_total),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
