/*
 * test_offload.c — helper threads for CPU-bound work (server/offload.h): results
 * come back on the loop, never inside submit; a cancelled job's callback never
 * runs and its data is still freed; a full queue refuses; freeing with jobs
 * queued drops them. Run under ASan, leaks and races on the data show.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "server/offload.h"
#include "server/util.h"

struct work {
    int in, out;
    int delay_ms;
};

struct tally {
    int done, sum;
    bool in_submit;
};

static void square(void *data)
{
    struct work *w = data;
    struct timespec ts = {0, (long)w->delay_ms * 1000000L};

    nanosleep(&ts, NULL);
    w->out = w->in * w->in;
}

static void counted(void *data, void *arg)
{
    struct work *w = data;
    struct tally *t = arg;

    assert_false(t->in_submit);
    t->done++;
    t->sum += w->out;
}

static struct work *work_new(int in, int delay_ms)
{
    struct work *w = xcalloc(1, sizeof(*w));

    w->in = in;
    w->delay_ms = delay_ms;
    return w;
}

/* One loop turn, then a millisecond: the helper threads get on meanwhile. */
static void turn(struct event_base *base)
{
    struct timespec ms = {0, 1000000};

    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    nanosleep(&ms, NULL);
}

static void run_until(struct event_base *base, const struct tally *t, int want)
{
    for (int i = 0; i < 5000 && t->done < want; i++)
        turn(base);
}

static void test_results_come_back_on_the_loop(void **state)
{
    struct event_base *base = event_base_new();
    struct offload *o = offload_new(base, 2, 64);
    struct tally t = {0, 0, false};

    (void)state;
    t.in_submit = true;
    for (int i = 1; i <= 20; i++)
        assert_non_null(offload_submit(o, square, work_new(i, 1), counted, &t));
    t.in_submit = false;
    run_until(base, &t, 20);
    assert_int_equal(t.done, 20);
    assert_int_equal(t.sum, 2870); /* 1² + … + 20² */
    offload_free(o);
    event_base_free(base);
}

static void test_cancelled_jobs_never_call_back(void **state)
{
    struct event_base *base = event_base_new();
    struct offload *o = offload_new(base, 1, 64);
    struct tally t = {0, 0, false};
    struct offload_job *jobs[10];

    (void)state;
    for (int i = 0; i < 10; i++)
        jobs[i] = offload_submit(o, square, work_new(i, 5), counted, &t);
    for (int i = 0; i < 10; i += 2)
        offload_cancel(jobs[i]); /* running or queued: no callback either way */
    run_until(base, &t, 5);
    for (int i = 0; i < 100; i++) /* give a wrong callback the chance to come */
        turn(base);
    assert_int_equal(t.done, 5);
    assert_int_equal(t.sum, 1 + 9 + 25 + 49 + 81);
    offload_free(o);
    event_base_free(base);
}

static void test_full_queue_refuses_and_free_drops(void **state)
{
    struct event_base *base = event_base_new();
    struct offload *o = offload_new(base, 1, 4);
    struct tally t = {0, 0, false};
    int accepted = 0;

    (void)state;
    for (int i = 0; i < 10; i++)
        accepted += offload_submit(o, square, work_new(i, 20), counted, &t) != NULL;
    assert_int_equal(accepted, 4); /* the refused ones' data is freed (ASan would say) */
    offload_free(o);               /* queued jobs dropped, the running one joined */
    assert_int_equal(t.done, 0);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_results_come_back_on_the_loop),
        cmocka_unit_test(test_cancelled_jobs_never_call_back),
        cmocka_unit_test(test_full_queue_refuses_and_free_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
