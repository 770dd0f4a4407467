/*
 * fuzz_template.c — libFuzzer harness for the credential template (issuance/builder.h
 * iss_template_parse, iss_template_write_json, iss_completeness), which publishers
 * send as JSON: whatever the bytes, no crash, no leak, no overread. A refused body
 * says why on one line of UTF-8; an accepted one has a canonical form that is UTF-8
 * JSON, parses again, and writes the very same bytes (the documented fixed point);
 * and the completeness check with it names at most the nine mandatory elements, in
 * their order, for an offer that has all of them and for one that has none.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuance/builder.h"
#include "server/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_template: %s\n", what);
        abort();
    }
}

static bool one_line_utf8(const char *s)
{
    if (!utf8_is_valid(s, strlen(s)))
        return false;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* The nine names, in iss_completeness's order. */
static const char *const ORDER[] = {
    "title", "awarding_body", "country", "learning_outcomes", "ects",
    "eqf",   "assessment",    "mode",    "quality_assurance"};

static void completeness_ok(const char *offer_json, const struct iss_template *t)
{
    const char *missing[ISS_COMPLETENESS_MAX];
    size_t n = iss_completeness(offer_json, t, missing, ISS_COMPLETENESS_MAX), at = 0;

    check(n <= ISS_COMPLETENESS_MAX, "completeness: too many names");
    for (size_t i = 0; i < n; i++) {
        while (at < ISS_COMPLETENESS_MAX && strcmp(ORDER[at], missing[i]) != 0)
            at++;
        check(at < ISS_COMPLETENESS_MAX, "completeness: unknown name or out of order");
        at++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char full_offer[] =
        "{\"id\":\"0c6f4a3e-8a84-4c1b-9d57-5b2d3c1e2f10\",\"external_id\":\"X\","
        "\"title\":{\"en\":\"Data literacy\"},\"learning_outcomes\":[{\"en\":\"Read data\"}],"
        "\"ects\":3,\"eqf\":6,\"mode\":\"online\",\"assessment\":{\"en\":\"Project\"},"
        "\"quality_assurance\":{\"en\":\"Committee\"},\"provider\":{\"name\":{\"en\":\"U\"},"
        "\"country\":\"LT\"},\"institution\":{\"id\":\"vdu.lt\",\"name\":\"U\",\"country\":\"LT\"}"
        "}";
    struct iss_template t, again;
    struct mcx_error err;
    struct buf one, two;

    iss_template_init(&t);
    if (iss_template_parse((const char *)data, size, &t, &err) != 0) {
        check(err.code[0] != '\0' && err.message[0] != '\0', "refused without a reason");
        check(one_line_utf8(err.message), "reason not one line of UTF-8");
        iss_template_cleanup(&t);
        return 0;
    }
    buf_init(&one);
    iss_template_write_json(&t, &one);
    check(one.len > 0 && utf8_is_valid(one.data, one.len), "canonical form not UTF-8");
    iss_template_init(&again);
    check(iss_template_parse(one.data, one.len, &again, &err) == 0,
          "the canonical form does not parse");
    buf_init(&two);
    iss_template_write_json(&again, &two);
    check(one.len == two.len && memcmp(one.data, two.data, one.len) == 0,
          "the canonical form is not a fixed point");
    completeness_ok(full_offer, &t);
    completeness_ok("{}", &t);
    completeness_ok("not json", &t);
    buf_cleanup(&one);
    buf_cleanup(&two);
    iss_template_cleanup(&again);
    iss_template_cleanup(&t);
    return 0;
}
