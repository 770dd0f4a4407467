/*
 * test_router.c — route matching (server/router.h): literal and {param}
 * segments, 404 versus 405 with the Allow mask, trailing slashes, order.
 * Paths go through http_target_parse first, as in the server.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/router.h"

/* Handlers are never called here; distinct addresses tell routes apart. */
static void handler_a(struct http_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

static void handler_b(struct http_request *req, void *arg)
{
    (void)req;
    (void)arg;
}

static int tag[16]; /* route args: &tag[i] */

/* Matches target against r; on 0 the caller owns m (route_match_cleanup). */
static int match(const struct router *r, enum http_method method, const char *target,
                 struct route_match *m)
{
    struct http_target t;
    int rc;

    if (http_target_parse(target, &t) != 0)
        fail_msg("target %s does not parse", target);
    rc = router_match(r, method, &t, m);
    http_target_cleanup(&t); /* params are copies: they outlive the target */
    return rc;
}

static int setup_api(void **state)
{
    struct router *r = router_new();

    assert_int_equal(router_add(r, HTTP_GET, "/", handler_a, &tag[0], 0), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/health", handler_a, &tag[1], 0), 0);
    assert_int_equal(
        router_add(r, HTTP_GET | HTTP_POST, "/api/v1/institutions", handler_a, &tag[2], 1024), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/institutions/{id}", handler_a, &tag[3], 0),
                     0);
    assert_int_equal(
        router_add(r, HTTP_PUT | HTTP_DELETE, "/api/v1/institutions/{id}", handler_b, &tag[4], 0),
        0);
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/institutions/{id}/offers/{external_id}",
                                handler_a, &tag[5], 0),
                     0);
    assert_int_equal(router_add(r, HTTP_POST, "/api/v1/harvest", handler_b, &tag[6], 0), 0);
    *state = r;
    return 0;
}

static int teardown_api(void **state)
{
    router_free(*state);
    return 0;
}

static void test_match_table(void **state)
{
    const struct router *r = *state;
    static const struct {
        enum http_method method;
        const char *target;
        int status;
        int tag;          /* on 0: which route */
        unsigned allowed; /* on 405 */
    } cases[] = {
        {HTTP_GET, "/", 0, 0, 0},
        {HTTP_HEAD, "/", 0, 0, 0},
        {HTTP_GET, "/api/v1/health", 0, 1, 0},
        {HTTP_HEAD, "/api/v1/health", 0, 1, 0},
        {HTTP_GET, "/api/v1/health?verbose=1", 0, 1, 0},
        {HTTP_GET, "/api/v1/institutions", 0, 2, 0},
        {HTTP_POST, "/api/v1/institutions", 0, 2, 0},
        {HTTP_GET, "/api/v1/institutions/42", 0, 3, 0},
        {HTTP_PUT, "/api/v1/institutions/42", 0, 4, 0},
        {HTTP_DELETE, "/api/v1/institutions/42", 0, 4, 0},
        {HTTP_GET, "/api/v1/institutions/42/offers/x", 0, 5, 0},
        {HTTP_GET, "/api/v1/./institutions/../institutions/7", 0, 3, 0},
        {HTTP_POST, "/api/v1/harvest", 0, 6, 0},
        /* 404: no pattern fits */
        {HTTP_GET, "/nope", 404, 0, 0},
        {HTTP_GET, "/api", 404, 0, 0},
        {HTTP_GET, "/api/v1", 404, 0, 0},
        {HTTP_GET, "/api/v1/health/extra", 404, 0, 0},
        {HTTP_GET, "/API/v1/health", 404, 0, 0}, /* literals are case-sensitive */
        {HTTP_GET, "/api/v1/institutions/42/offers", 404, 0, 0},
        {HTTP_GET, "/api/v1/institutions/42/offers/x/y", 404, 0, 0},
        {HTTP_POST, "/nope", 404, 0, 0},
        /* 405: a pattern fits, the method does not; GET implies HEAD */
        {HTTP_POST, "/", 405, 0, HTTP_GET | HTTP_HEAD},
        {HTTP_DELETE, "/api/v1/health", 405, 0, HTTP_GET | HTTP_HEAD},
        {HTTP_PUT, "/api/v1/institutions", 405, 0, HTTP_GET | HTTP_HEAD | HTTP_POST},
        {HTTP_POST, "/api/v1/institutions/42", 405, 0,
         HTTP_GET | HTTP_HEAD | HTTP_PUT | HTTP_DELETE},
        {HTTP_PATCH, "/api/v1/institutions/42", 405, 0,
         HTTP_GET | HTTP_HEAD | HTTP_PUT | HTTP_DELETE},
        {HTTP_GET, "/api/v1/harvest", 405, 0, HTTP_POST},
        {HTTP_HEAD, "/api/v1/harvest", 405, 0, HTTP_POST}, /* POST implies nothing */
        {HTTP_OPTIONS, "/api/v1/harvest", 405, 0, HTTP_POST},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct route_match m;
        int rc = match(r, cases[i].method, cases[i].target, &m);
        if (rc != cases[i].status)
            fail_msg("case %zu (%s %s): got %d, want %d", i, http_method_name(cases[i].method),
                     cases[i].target, rc, cases[i].status);
        if (rc == 0) {
            assert_non_null(m.route);
            if (m.route->arg != &tag[cases[i].tag])
                fail_msg("case %zu (%s): matched %s", i, cases[i].target, m.route->pattern);
        } else {
            assert_null(m.route);
            assert_int_equal(m.nparams, 0);
        }
        if (rc == 405 && m.allowed != cases[i].allowed)
            fail_msg("case %zu (%s): allowed 0x%x, want 0x%x", i, cases[i].target, m.allowed,
                     cases[i].allowed);
        if (rc == 404)
            assert_int_equal(m.allowed, 0);
        route_match_cleanup(&m);
    }
}

static void test_route_fields(void **state)
{
    const struct router *r = *state;
    struct route_match m;

    assert_int_equal(match(r, HTTP_POST, "/api/v1/institutions", &m), 0);
    assert_string_equal(m.route->pattern, "/api/v1/institutions");
    assert_ptr_equal(m.route->handler, handler_a);
    assert_int_equal(m.route->max_body, 1024);
    assert_int_equal(m.route->methods, HTTP_GET | HTTP_HEAD | HTTP_POST);
    route_match_cleanup(&m);
    assert_int_equal(match(r, HTTP_DELETE, "/api/v1/institutions/9", &m), 0);
    assert_ptr_equal(m.route->handler, handler_b);
    assert_string_equal(m.route->pattern, "/api/v1/institutions/{id}");
    assert_int_equal(m.route->methods, HTTP_PUT | HTTP_DELETE);
    route_match_cleanup(&m);
}

static void test_params_decoded(void **state)
{
    const struct router *r = *state;
    static const struct {
        const char *target;
        const char *id;
        const char *external_id;
    } cases[] = {
        {"/api/v1/institutions/42/offers/abc", "42", "abc"},
        {"/api/v1/institutions/a%20b/offers/c%2Bd", "a b", "c+d"},
        {"/api/v1/institutions/x%2Fy/offers/urn%3Aoffer%3A1", "x/y", "urn:offer:1"},
        {"/api/v1/institutions/caf%C3%A9/offers/%2e%2e%2F", "caf\xc3\xa9", "../"},
        {"/api/v1/institutions/a+b/offers/%7B%7D", "a+b", "{}"},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct route_match m;
        assert_int_equal(match(r, HTTP_GET, cases[i].target, &m), 0);
        assert_int_equal(m.nparams, 2);
        assert_string_equal(route_match_param(&m, "id"), cases[i].id);
        assert_string_equal(route_match_param(&m, "external_id"), cases[i].external_id);
        assert_null(route_match_param(&m, "external"));
        assert_null(route_match_param(&m, "{id}"));
        assert_null(route_match_param(&m, "i"));
        assert_null(route_match_param(&m, ""));
        route_match_cleanup(&m);
        assert_int_equal(m.nparams, 0);
    }
}

/* Dot-segments are resolved before matching: {id} never receives "." or "..". */
static void test_param_never_dot_segment(void **state)
{
    const struct router *r = *state;
    static const char *const targets[] = {
        "/api/v1/institutions/.",
        "/api/v1/institutions/%2e",
        "/api/v1/institutions/..",
        "/api/v1/institutions/%2E%2E",
        "/api/v1/institutions/%2e%2e/offers/x",
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(targets); i++) {
        struct route_match m;
        int rc = match(r, HTTP_GET, targets[i], &m);
        if (rc != 404)
            fail_msg("case %zu (%s): got %d, want 404", i, targets[i], rc);
    }
}

static void test_trailing_slash(void **state)
{
    const struct router *r = *state;
    static const struct {
        const char *target;
        int status;
    } cases[] = {
        {"/", 0},
        {"/api/v1/health/", 404},
        {"/api/v1/institutions/", 404}, /* not {id} = "" */
        {"/api/v1/institutions/42/", 404},
        {"/api/v1/health/.", 404},
        {"/api/v1/health/x/..", 404},
        {"/api/v1/health/./", 404},
        {"/api/..", 0},      /* resolves to "/" */
        {"/api/v1/..", 404}, /* resolves to "/api/" */
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct route_match m;
        int rc = match(r, HTTP_GET, cases[i].target, &m);
        if (rc != cases[i].status)
            fail_msg("case %zu (%s): got %d, want %d", i, cases[i].target, rc, cases[i].status);
        route_match_cleanup(&m);
    }
    /* 404 wins over 405 for a directory path: it names something else. */
    struct route_match m;
    assert_int_equal(match(r, HTTP_POST, "/api/v1/health/", &m), 404);
    assert_int_equal(m.allowed, 0);
}

/*
 * An empty segment cannot fill a parameter. The target is built by hand so the
 * router is tested on its own, whatever the parser does with "//".
 */
static void test_empty_param_segment(void **state)
{
    const struct router *r = *state;
    char *segs[] = {"api", "v1", "institutions", "", "offers", "x"};
    struct http_target t = {.segs = segs, .nsegs = 6};
    struct route_match m;

    assert_int_equal(router_match(r, HTTP_GET, &t, &m), 404);
    t.nsegs = 4;
    assert_int_equal(router_match(r, HTTP_GET, &t, &m), 404);
    segs[3] = "7";
    assert_int_equal(router_match(r, HTTP_GET, &t, &m), 0);
    assert_string_equal(route_match_param(&m, "id"), "7");
    route_match_cleanup(&m);
}

static void test_first_match_wins(void **state)
{
    (void)state;
    struct router *r = router_new();
    struct route_match m;

    assert_int_equal(router_add(r, HTTP_GET, "/offers/{id}", handler_a, &tag[0], 0), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/offers/new", handler_b, &tag[1], 0), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/offers/{other}", handler_b, &tag[2], 0), 0);
    assert_int_equal(router_add(r, HTTP_POST, "/offers/new", handler_b, &tag[3], 0), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/x", handler_a, &tag[4], 0), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/x", handler_b, &tag[5], 0), 0);

    assert_int_equal(match(r, HTTP_GET, "/offers/new", &m), 0);
    assert_ptr_equal(m.route->arg, &tag[0]);
    assert_string_equal(route_match_param(&m, "id"), "new");
    assert_null(route_match_param(&m, "other"));
    route_match_cleanup(&m);

    /* An earlier fit for another method does not stop the scan. */
    assert_int_equal(match(r, HTTP_POST, "/offers/new", &m), 0);
    assert_ptr_equal(m.route->arg, &tag[3]);
    assert_int_equal(m.nparams, 0);
    route_match_cleanup(&m);

    assert_int_equal(match(r, HTTP_GET, "/x", &m), 0);
    assert_ptr_equal(m.route->arg, &tag[4]);
    route_match_cleanup(&m);

    /* 405 collects the methods of every fitting pattern. */
    assert_int_equal(match(r, HTTP_DELETE, "/offers/new", &m), 405);
    assert_int_equal(m.allowed, HTTP_GET | HTTP_HEAD | HTTP_POST);
    assert_int_equal(match(r, HTTP_DELETE, "/offers/7", &m), 405);
    assert_int_equal(m.allowed, HTTP_GET | HTTP_HEAD);
    router_free(r);
}

static void test_many_routes(void **state)
{
    (void)state;
    struct router *r = router_new();
    char pattern[64], target[64];
    static int args[200];

    for (int i = 0; i < 200; i++) {
        snprintf(pattern, sizeof(pattern), "/r%d/{p}/tail%d", i, i);
        assert_int_equal(
            router_add(r, (i % 2) ? HTTP_POST : HTTP_GET, pattern, handler_a, &args[i], 0), 0);
    }
    for (int i = 0; i < 200; i++) {
        struct route_match m;
        snprintf(target, sizeof(target), "/r%d/v%d/tail%d", i, i, i);
        assert_int_equal(match(r, (i % 2) ? HTTP_POST : HTTP_GET, target, &m), 0);
        assert_ptr_equal(m.route->arg, &args[i]);
        snprintf(pattern, sizeof(pattern), "v%d", i);
        assert_string_equal(route_match_param(&m, "p"), pattern);
        route_match_cleanup(&m);
        assert_int_equal(match(r, HTTP_PUT, target, &m), 405);
        assert_int_equal(m.allowed, (i % 2) ? HTTP_POST : (HTTP_GET | HTTP_HEAD));
        snprintf(target, sizeof(target), "/r%d/v%d/tail%d", i, i, i + 1);
        assert_int_equal(match(r, HTTP_GET, target, &m), 404);
    }
    router_free(r);
}

static void test_max_params(void **state)
{
    (void)state;
    struct router *r = router_new();
    struct route_match m;

    assert_int_equal(
        router_add(r, HTTP_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", handler_a, NULL, 0), 0);
    assert_int_equal(match(r, HTTP_GET, "/1/2/3/4/5/6/7/8", &m), 0);
    assert_int_equal(m.nparams, ROUTER_MAX_PARAMS);
    assert_string_equal(route_match_param(&m, "a"), "1");
    assert_string_equal(route_match_param(&m, "h"), "8");
    route_match_cleanup(&m);
    router_free(r);
}

static void test_add_rejects(void **state)
{
    (void)state;
    struct router *r = router_new();
    struct route_match m;
    struct http_target t;

    /* Both log to stderr by design. */
    assert_int_equal(router_add(r, HTTP_GET, "relative/path", handler_a, NULL, 0), -1);
    assert_int_equal(router_add(r, HTTP_GET, "", handler_a, NULL, 0), -1);
    assert_int_equal(
        router_add(r, HTTP_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", handler_a, NULL, 0), -1);
    /* Nothing was added. */
    assert_int_equal(http_target_parse("/1/2/3/4/5/6/7/8/9", &t), 0);
    assert_int_equal(router_match(r, HTTP_GET, &t, &m), 404);
    http_target_cleanup(&t);
    router_free(r);
}

/* "{}" and "{x" are literals, not parameters. */
static void test_brace_literals(void **state)
{
    (void)state;
    struct router *r = router_new();
    struct route_match m;

    assert_int_equal(router_add(r, HTTP_GET, "/{}/{x", handler_a, NULL, 0), 0);
    assert_int_equal(match(r, HTTP_GET, "/%7B%7D/%7Bx", &m), 0);
    assert_int_equal(m.nparams, 0);
    route_match_cleanup(&m);
    assert_int_equal(match(r, HTTP_GET, "/a/b", &m), 404);
    router_free(r);
}

static void test_empty_router(void **state)
{
    (void)state;
    struct router *r = router_new();
    struct route_match m;

    assert_int_equal(match(r, HTTP_GET, "/", &m), 404);
    assert_int_equal(match(r, HTTP_GET, "/a", &m), 404);
    router_free(r);
    router_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_match_table, setup_api, teardown_api),
        cmocka_unit_test_setup_teardown(test_route_fields, setup_api, teardown_api),
        cmocka_unit_test_setup_teardown(test_params_decoded, setup_api, teardown_api),
        cmocka_unit_test_setup_teardown(test_param_never_dot_segment, setup_api, teardown_api),
        cmocka_unit_test_setup_teardown(test_trailing_slash, setup_api, teardown_api),
        cmocka_unit_test_setup_teardown(test_empty_param_segment, setup_api, teardown_api),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_many_routes),
        cmocka_unit_test(test_max_params),
        cmocka_unit_test(test_add_rejects),
        cmocka_unit_test(test_brace_literals),
        cmocka_unit_test(test_empty_router),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
