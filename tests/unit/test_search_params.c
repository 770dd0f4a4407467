/*
 * test_search_params.c — the parameters of GET /api/v1/offers
 * (catalogue/search.h) and the query walker under them (http_query_next):
 * repeated and comma-separated values, canonical form, defaults, and the
 * parameter every refusal names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "catalogue/search.h"
#include "server/http_parser.h"

static void test_query_next_walks_pairs(void **state)
{
    const char *q = "a=1&&b=x%20y&c&=v&d=%E2%82%AC";
    const char *want[][2] = {{"a", "1"}, {"b", "x y"}, {"c", ""}, {"", "v"}, {"d", "\xe2\x82\xac"}};
    size_t pos = 0, i = 0;
    char *name, *value;

    (void)state;
    while (http_query_next(q, &pos, &name, &value) == 0) {
        assert_true(i < 5);
        assert_string_equal(name, want[i][0]);
        assert_string_equal(value, want[i][1]);
        free(name);
        free(value);
        i++;
    }
    assert_int_equal(i, 5);
    pos = 0;
    assert_int_equal(http_query_next("a=%zz", &pos, &name, &value), -1);
    pos = 0;
    assert_int_equal(http_query_next("", &pos, &name, &value), 1);
}

static void test_params_repeat_and_defaults(void **state)
{
    struct search_params p;
    struct mcx_error err;

    (void)state;
    assert_int_equal(search_params_parse("language=en&language=de,fr&eqf=6&isced=0613&mode=online"
                                         "&institution=vdu.lt&ects_min=2.5&starts_after=2027-01-01",
                                         "lt-LT,lt;q=0.9,en;q=0.8", &p, &err),
                     0);
    assert_string_equal(p.language, "{en,de,fr}");
    assert_string_equal(p.eqf, "{6}");
    assert_string_equal(p.isced, "{0613}");
    assert_string_equal(p.institution, "{vdu.lt}");
    assert_string_equal(p.ects_min, "2.5");
    assert_null(p.ects_max);
    assert_string_equal(p.starts_after, "2027-01-01");
    assert_int_equal(p.sort, SEARCH_SORT_START); /* no text: by start */
    assert_int_equal(p.limit, SEARCH_LIMIT_DEFAULT);
    assert_string_equal(p.lang, "lt"); /* from Accept-Language */
    search_params_cleanup(&p);

    assert_int_equal(search_params_parse("q=machine+learning&lang=en&limit=100", "de", &p, &err),
                     0);
    assert_string_equal(p.q, "machine learning");
    assert_int_equal(p.sort, SEARCH_SORT_RELEVANCE);
    assert_string_equal(p.lang, "en"); /* lang= wins */
    assert_int_equal(p.limit, 100);
    search_params_cleanup(&p);

    assert_int_equal(search_params_parse("q=+++", NULL, &p, &err), 0);
    assert_null(p.q); /* blanks only: no text query */
    search_params_cleanup(&p);
}

static void test_canon_ignores_cursor_and_limit(void **state)
{
    struct search_params a, b;
    struct mcx_error err;

    (void)state;
    assert_int_equal(search_params_parse("q=x&eqf=6&limit=5", NULL, &a, &err), 0);
    assert_int_equal(search_params_parse("eqf=6&q=x&cursor=abc&limit=50", NULL, &b, &err), 0);
    assert_string_equal(a.canon.data, b.canon.data);
    search_params_cleanup(&a);
    search_params_cleanup(&b);
}

static void test_refusals_name_the_parameter(void **state)
{
    static const char *const cases[][2] = {
        {"limit=0", "limit"},
        {"limit=101", "limit"},
        {"limit=x", "limit"},
        {"eqf=9", "eqf"},
        {"eqf=0", "eqf"},
        {"ects_min=abc", "ects_min"},
        {"ects_max=-1", "ects_max"},
        {"ects_min=5&ects_max=1", "ects_min"},
        {"language=EN", "language"},
        {"language=", "language"},
        {"isced=6", "isced"},
        {"isced=06a", "isced"},
        {"mode=ship", "mode"},
        {"institution=A%20B", "institution"},
        {"starts_after=2027-13-01", "starts_after"},
        {"starts_before=2027-02-29", "starts_before"},
        {"sort=price", "sort"},
        {"lang=english", "lang"},
        {"q=a&q=b", "q"},
        {"q=%FF", "q"},
        {"size=3", "size"},
        {"recognised_by=VDU", "recognised_by"},
        {"recognised_by=vdu.lt&recognised_by=uab.cat", "recognised_by"},
        {"home=a%20b", "home"},
        {"a=%zz", "escape"},
        {"eqf=1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8,1,2,3,4,5", "eqf"},
    };
    struct search_params p;
    struct mcx_error err;
    char q[300];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(search_params_parse(cases[i][0], NULL, &p, &err), -1);
        assert_string_equal(err.code, "invalid_parameter");
        if (strstr(err.message, cases[i][1]) == NULL)
            fail_msg("%s: \"%s\" does not name %s", cases[i][0], err.message, cases[i][1]);
    }
    memset(q, 0, sizeof(q));
    memcpy(q, "q=", 2);
    memset(q + 2, 'x', SEARCH_Q_MAX_CHARS + 1);
    assert_int_equal(search_params_parse(q, NULL, &p, &err), -1);
    assert_non_null(strstr(err.message, "q is at most"));
    q[2 + SEARCH_Q_MAX_CHARS] = '\0';
    assert_int_equal(search_params_parse(q, NULL, &p, &err), 0);
    search_params_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_next_walks_pairs),
        cmocka_unit_test(test_params_repeat_and_defaults),
        cmocka_unit_test(test_canon_ignores_cursor_and_limit),
        cmocka_unit_test(test_refusals_name_the_parameter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
