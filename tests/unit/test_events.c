/*
 * test_events.c — exposure counting (catalogue/events.h): the visitor cookie and
 * DNT/GPC parsing, the array literals a flush sends, and the buffer's limits and
 * drain while the database is unreachable (a pool on a socket directory with no
 * server in it: every flush fails, so rows must wait, be bounded and be counted).
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

#include <event2/event.h>

#include "catalogue/events.h"
#include "catalogue/search.h"
#include "server/db.h"
#include "server/metrics.h"

#define VID "0123456789abcdef0123456789abcdef"

static void test_cookie_visitor(void **state)
{
    static const struct {
        const char *header;
        const char *want; /* NULL: none */
    } cases[] = {
        {"mcx_vid=" VID, VID},
        {"a=b; mcx_vid=" VID "; c=d", VID},
        {"a=b;mcx_vid=" VID, VID},
        {"  mcx_vid = " VID " ", VID},
        {"mcx_vid=short; mcx_vid=" VID, VID},               /* the first well-formed one */
        {"mcx_vid=0123456789ABCDEF0123456789ABCDEF", NULL}, /* ours are lowercase */
        {"mcx_vid=" VID "0", NULL},
        {"mcx_vid=\"" VID "\"", NULL},
        {"xmcx_vid=" VID, NULL},
        {"mcx_vidx=" VID, NULL},
        {"MCX_VID=" VID, NULL}, /* names are case-sensitive */
        {"mcx_vid", NULL},
        {"mcx_vid=", NULL},
        {";;;", NULL},
        {"", NULL},
        {"other=" VID, NULL},
    };
    char out[EVENTS_VISITOR_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool found = events_cookie_visitor(cases[i].header, out);
        if (cases[i].want == NULL) {
            if (found)
                fail_msg("case %zu (%s): found %s", i, cases[i].header, out);
            assert_string_equal(out, "");
        } else {
            if (!found)
                fail_msg("case %zu (%s): not found", i, cases[i].header);
            assert_string_equal(out, cases[i].want);
        }
    }
    assert_false(events_cookie_visitor(NULL, out));
}

static void test_opted_out(void **state)
{
    (void)state;
    assert_false(events_opted_out(NULL, NULL));
    assert_true(events_opted_out("1", NULL));
    assert_true(events_opted_out(NULL, "1"));
    assert_true(events_opted_out(" 1 ", "0"));
    assert_false(events_opted_out("0", "0"));
    assert_false(events_opted_out("10", NULL));
    assert_false(events_opted_out("", ""));
    assert_false(events_opted_out("yes", NULL));
}

static void test_array_literal(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    events_array_append(&b, "plain");
    events_array_append(&b, NULL);
    events_array_append(&b, "a \"quoted\" \\ back, {brace}");
    events_array_append(&b, "");
    buf_putc(&b, '}');
    assert_string_equal(b.data, "{\"plain\",NULL,\"a \\\"quoted\\\" \\\\ back, {brace}\",\"\"}");
    buf_cleanup(&b);
}

/* ---- the buffer, against a database that is not there ---- */

struct world {
    struct event_base *base;
    struct db_pool *pool;
    struct metrics *metrics;
    struct events *ev;
    bool drained;
};

static void world_init(struct world *w, int flush_ms)
{
    struct db_pool_config pc = {
        .conninfo = "host=/nonexistent/mcx-test-events dbname=mcx user=mcx connect_timeout=1",
        .size = 1,
        .wait_timeout_ms = 100,
    };
    struct events_config ec = {.node = "test:1/0", .worker = 0, .flush_ms = flush_ms};

    memset(w, 0, sizeof(*w));
    w->base = event_base_new();
    assert_non_null(w->base);
    w->pool = db_pool_new(w->base, &pc);
    w->metrics = metrics_new(0);
    w->ev = events_new(w->base, w->pool, w->metrics, &ec);
}

static void world_cleanup(struct world *w)
{
    events_free(w->ev);
    metrics_free(w->metrics);
    db_pool_free(w->pool);
    event_base_free(w->base);
}

static void run_for(struct world *w, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(w->base, &tv);
    event_base_dispatch(w->base);
}

static void drained(void *arg)
{
    struct world *w = arg;

    w->drained = true;
    event_base_loopbreak(w->base);
}

static void view(struct world *w, int i)
{
    char id[37];

    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
    events_view(w->ev, NULL, VID, id, "vdu.lt", "json");
}

static bool metrics_has(struct world *w, const char *line)
{
    struct buf out;
    bool found;

    buf_init(&out);
    metrics_render(w->metrics, NULL, 0, &out);
    found = strstr(out.data, line) != NULL;
    if (!found)
        fprintf(stderr, "no '%s' in:\n%s\n", line, out.data);
    buf_cleanup(&out);
    return found;
}

static void test_limits_and_drain_without_database(void **state)
{
    struct world w;
    struct events_stats st;

    (void)state;
    world_init(&w, 50);
    for (int i = 0; i < EVENTS_MAX_WAITING + 50; i++)
        view(&w, i);
    events_get_stats(w.ev, &st);
    assert_int_equal(st.waiting, EVENTS_MAX_WAITING);
    assert_int_equal(st.dropped, 50);
    assert_true(metrics_has(&w, "mcx_events_buffered{worker=\"0\"} 100000\n"));
    assert_true(metrics_has(&w, "mcx_events_dropped_total{worker=\"0\"} 50\n"));
    assert_true(metrics_has(&w, "mcx_events_flushed_total{worker=\"0\"} 0\n"));

    /* every flush fails: the rows wait, none is lost */
    run_for(&w, 400);
    events_get_stats(w.ev, &st);
    assert_int_equal(st.waiting, EVENTS_MAX_WAITING);
    assert_int_equal(st.dropped, 50);
    assert_int_equal(st.flushed, 0);

    /* drain: one last attempt, then done, the rest counted as lost */
    events_drain(w.ev, drained, &w);
    assert_false(w.drained); /* never inside the call */
    run_for(&w, EVENTS_DRAIN_TIMEOUT_MS + 1000);
    assert_true(w.drained);
    events_get_stats(w.ev, &st);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.dropped, EVENTS_MAX_WAITING + 50);
    world_cleanup(&w);
}

static void test_search_rows(void **state)
{
    struct world w;
    struct events_stats st;
    struct search_params p;
    struct mcx_error err;
    const char *shown = "11111111-1111-4111-8111-111111111111vdu.lt\n"
                        "not-a-uuid-line\n"
                        "22222222-2222-4222-8222-222222222222uab.cat\n"
                        "33333333-3333-4333-8333-333333333333"; /* no institution: skipped */

    (void)state;
    world_init(&w, 1000);
    assert_int_equal(
        search_params_parse("q=a%22b&language=en,de&eqf=6&ects_min=.5", NULL, &p, &err), 0);
    events_search(w.ev, NULL, "", &p, "12", shown);               /* a search and two impressions */
    events_search(w.ev, NULL, VID, &p, "0", NULL);                /* a search with no results */
    events_view(w.ev, NULL, VID, "not-a-uuid", "vdu.lt", "json"); /* ignored */
    events_get_stats(w.ev, &st);
    assert_int_equal(st.waiting, 4);
    search_params_cleanup(&p);
    world_cleanup(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_visitor),
        cmocka_unit_test(test_opted_out),
        cmocka_unit_test(test_array_literal),
        cmocka_unit_test(test_limits_and_drain_without_database),
        cmocka_unit_test(test_search_rows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
