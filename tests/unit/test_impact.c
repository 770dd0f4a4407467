/*
 * test_impact.c — the impact endpoint's pure parts (catalogue/impact.h): the
 * calendar arithmetic behind the default period and the ten-year cap, and the
 * checks of from, to and institution, each error naming its parameter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "catalogue/impact.h"

static void test_days(void **state)
{
    static const struct {
        const char *date;
        long days;
    } cases[] = {
        {"1970-01-01", 0},     {"1970-01-02", 1},      {"1969-12-31", -1},
        {"2000-02-29", 11016}, {"2000-03-01", 11017},  {"1900-01-01", -25567},
        {"2026-01-01", 20454}, {"2999-12-31", 376199}, {"2024-12-31", 20088},
    };
    char out[IMPACT_DATE_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(impact_date_days(cases[i].date), cases[i].days);
        impact_days_date(cases[i].days, out);
        assert_string_equal(out, cases[i].date);
    }
    /* every day of four centuries goes there and back */
    for (long d = impact_date_days("1900-01-01"); d <= impact_date_days("2299-12-31"); d++) {
        impact_days_date(d, out);
        assert_int_equal(impact_date_days(out), d);
    }
}

static void test_defaults(void **state)
{
    struct impact_params p;
    struct mcx_error err;

    (void)state;
    assert_int_equal(impact_params_read(NULL, NULL, NULL, "2026-03-01", &p, &err), 0);
    assert_string_equal(p.to, "2026-03-01");
    assert_string_equal(p.from, "2025-03-02"); /* 365 days, both ends included */
    assert_string_equal(p.institution, "");
    /* empty is absent (a form's empty field) */
    assert_int_equal(impact_params_read("", "", "", "2024-03-01", &p, &err), 0);
    assert_string_equal(p.from, "2023-03-03"); /* across 2024-02-29 */
    /* from alone: up to today; to alone: the 365 days ending then */
    assert_int_equal(impact_params_read("2026-01-01", NULL, NULL, "2026-03-01", &p, &err), 0);
    assert_string_equal(p.from, "2026-01-01");
    assert_string_equal(p.to, "2026-03-01");
    assert_int_equal(impact_params_read(NULL, "2025-12-31", "vdu.lt", "2026-03-01", &p, &err), 0);
    assert_string_equal(p.from, "2025-01-01");
    assert_string_equal(p.to, "2025-12-31");
    assert_string_equal(p.institution, "vdu.lt");
    /* one day */
    assert_int_equal(impact_params_read("2026-02-03", "2026-02-03", NULL, "2026-03-01", &p, &err),
                     0);
}

static void expect_error(const char *from, const char *to, const char *inst, const char *prefix)
{
    struct impact_params p;
    struct mcx_error err;

    if (impact_params_read(from, to, inst, "2026-03-01", &p, &err) == 0)
        fail_msg("accepted from=%s to=%s institution=%s", from ? from : "(null)",
                 to ? to : "(null)", inst ? inst : "(null)");
    assert_string_equal(err.code, "invalid_parameter");
    if (strncmp(err.message, prefix, strlen(prefix)) != 0)
        fail_msg("message %s does not start with %s", err.message, prefix);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("2026-02-30", NULL, NULL, "from: a calendar date");
    expect_error("2026-1-01", NULL, NULL, "from: a calendar date");
    expect_error("20260101", NULL, NULL, "from: a calendar date");
    expect_error("2026-01-01T00:00:00Z", NULL, NULL, "from: a calendar date");
    expect_error(NULL, "yesterday", NULL, "to: a calendar date");
    expect_error(NULL, "1899-12-31", NULL, "to: a calendar date");
    expect_error("2026-03-02", NULL, NULL, "from: 2026-03-02 is after to (2026-03-01)");
    expect_error("2026-02-01", "2026-01-31", NULL, "from: 2026-02-01 is after to");
    /* ten years: 3653 days at most */
    struct impact_params p;
    struct mcx_error err;
    assert_int_equal(impact_params_read("2016-01-01", "2025-12-31", NULL, "2026-03-01", &p, &err),
                     0);
    expect_error("2016-01-01", "2026-01-01", NULL, "to: the period from 2016-01-01 to 2026-01-01");
    expect_error(NULL, NULL, "VDU.lt", "institution: an institution id");
    expect_error(NULL, NULL, "-vdu", "institution: an institution id");
    expect_error(NULL, NULL, "vdu lt", "institution: an institution id");
    expect_error(NULL, NULL, "vdu.lt'--", "institution: an institution id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
