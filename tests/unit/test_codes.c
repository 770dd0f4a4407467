/*
 * test_codes.c — the ISO 639 / ISO 3166 / Europass code tables (catalogue/codes.h)
 * that the ELM codecs, the credential builder and reader share: each lookup, and
 * that every table maps back to itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "catalogue/codes.h"

/* ---- languages ---- */

static void lang_canonical_is(const char *in, size_t size, const char *want)
{
    char out[16];

    assert_true(size <= sizeof(out));
    assert_true(codes_lang_canonical(in, out, size));
    assert_string_equal(out, want);
}

static void lang_canonical_fails(const char *in, size_t size)
{
    char out[16];

    memset(out, 'x', sizeof(out));
    assert_false(codes_lang_canonical(in, out, size));
    assert_string_equal(out, "");
}

static void test_lang_canonical(void **state)
{
    (void)state;
    lang_canonical_is("en", 4, "en");
    lang_canonical_is("EN", 4, "en");
    lang_canonical_is("deu", 4, "de"); /* 639-2/T */
    lang_canonical_is("GER", 4, "de"); /* 639-2/B */
    lang_canonical_is("fre", 4, "fr");
    lang_canonical_is("Hai", 4, "hai"); /* no 639-1 code: stays three letters */
    lang_canonical_is("xx", 4, "xx");   /* unknown, but a code: codes_lang_is_known decides */
    lang_canonical_is("English", 9, "english"); /* a BCP 47 primary subtag fits 9 */
    lang_canonical_fails("English", 4);
    lang_canonical_fails("e", 4);
    lang_canonical_fails("", 4);
    lang_canonical_fails("en1", 4);
    lang_canonical_fails("lt-LT", 9);
    lang_canonical_fails("\xC3\xA9n", 9); /* "én": ASCII letters only */
}

static void test_lang_is_known(void **state)
{
    (void)state;
    assert_true(codes_lang_is_known("en"));
    assert_true(codes_lang_is_known("lt"));
    assert_true(codes_lang_is_known("hai")); /* any three letters */
    assert_false(codes_lang_is_known("xx")); /* a typo of a 639-1 code */
    assert_false(codes_lang_is_known("e"));
    assert_false(codes_lang_is_known(""));
    assert_false(codes_lang_is_known("english"));
}

static void lang_authority_is(const char *code, size_t size, const char *want)
{
    char out[16];

    assert_true(size <= sizeof(out));
    codes_lang_authority(code, out, size);
    assert_string_equal(out, want);
}

static void test_lang_authority(void **state)
{
    (void)state;
    lang_authority_is("en", 4, "ENG");
    lang_authority_is("EN", 4, "ENG");
    lang_authority_is("de", 4, "DEU"); /* 639-2/T, not /B "GER" */
    lang_authority_is("hai", 4, "HAI");
    lang_authority_is("xx", 4, "XX"); /* unknown: as given, uppercased */
    lang_authority_is("en-gb", 9, "EN-GB");
    lang_authority_is("english", 4, "ENG"); /* cut to size */
}

/* Every 639-1 code goes to an authority code that reads back as it. */
static void test_lang_round_trip(void **state)
{
    (void)state;
    int known = 0;

    for (char a = 'a'; a <= 'z'; a++) {
        for (char b = 'a'; b <= 'z'; b++) {
            char code[3] = {a, b, '\0'}, auth[4], back[4];
            if (!codes_lang_is_known(code))
                continue;
            known++;
            codes_lang_authority(code, auth, sizeof(auth));
            assert_int_equal(strlen(auth), 3);
            assert_true(codes_lang_canonical(auth, back, sizeof(back)));
            assert_string_equal(back, code);
        }
    }
    assert_int_equal(known, 184); /* ISO 639-1's codes */
}

/* ---- countries ---- */

static void test_country_authority(void **state)
{
    (void)state;
    assert_string_equal(codes_country_authority("LT"), "LTU");
    assert_string_equal(codes_country_authority("lt"), "LTU");
    assert_string_equal(codes_country_authority("XK"), "1A0"); /* Kosovo */
    assert_string_equal(codes_country_authority("GB"), "GBR");
    assert_null(codes_country_authority("UK"));
    assert_null(codes_country_authority("LTU"));
    assert_null(codes_country_authority("L"));
    assert_null(codes_country_authority(""));
    assert_null(codes_country_authority(NULL));
}

static void test_country_alpha2(void **state)
{
    (void)state;
    assert_string_equal(codes_country_alpha2("LTU"), "LT");
    assert_string_equal(codes_country_alpha2("ltu"), "LT");
    assert_string_equal(codes_country_alpha2("1a0"), "XK");
    assert_string_equal(codes_country_alpha2("LT"), "LT");
    assert_string_equal(codes_country_alpha2("lt"), "LT");
    assert_null(codes_country_alpha2("UK"));
    assert_null(codes_country_alpha2("XXX"));
    assert_null(codes_country_alpha2("LTUX"));
    assert_null(codes_country_alpha2("L"));
    assert_null(codes_country_alpha2(NULL));
}

/* Every alpha-2 code goes to an authority code that reads back as it. */
static void test_country_round_trip(void **state)
{
    (void)state;
    int known = 0;

    for (char a = 'A'; a <= 'Z'; a++) {
        for (char b = 'A'; b <= 'Z'; b++) {
            char alpha2[3] = {a, b, '\0'};
            const char *auth = codes_country_authority(alpha2);
            if (auth == NULL)
                continue;
            known++;
            assert_int_equal(strlen(auth), 3);
            assert_string_equal(codes_country_alpha2(auth), alpha2);
            assert_string_equal(codes_country_alpha2(alpha2), alpha2);
        }
    }
    assert_int_equal(known, 250); /* ISO 3166-1's 249 codes and Kosovo */
}

/* ---- modes ---- */

static void test_mode_find(void **state)
{
    (void)state;
    const struct codes_mode *m = codes_mode_find(OFFER_MODE_ONLINE);

    assert_non_null(m);
    assert_int_equal(m->mode, OFFER_MODE_ONLINE);
    assert_string_equal(m->id, "920fbb3cbe");
    assert_string_equal(m->label, "Online");
    assert_string_equal(codes_mode_find(OFFER_MODE_ONSITE)->label, "Presential");
    assert_null(codes_mode_find(OFFER_MODE_UNKNOWN));
}

static void test_mode_of_uri(void **state)
{
    (void)state;
    const enum offer_mode modes[] = {OFFER_MODE_ONLINE, OFFER_MODE_BLENDED, OFFER_MODE_ONSITE};

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char uri[128];
        snprintf(uri, sizeof(uri), "%s%s", CODES_URI_MODE, codes_mode_find(modes[i])->id);
        assert_int_equal(codes_mode_of_uri(uri), modes[i]);
    }
    assert_int_equal(codes_mode_of_uri(CODES_URI_MODE "e92d221e4d"), OFFER_MODE_BLENDED);
    assert_int_equal(codes_mode_of_uri(CODES_URI_MODE "25831c2"), OFFER_MODE_UNKNOWN);
    assert_int_equal(codes_mode_of_uri(CODES_URI_MODE), OFFER_MODE_UNKNOWN);
    assert_int_equal(codes_mode_of_uri("920fbb3cbe"), OFFER_MODE_UNKNOWN); /* a URI, not a code */
    assert_int_equal(codes_mode_of_uri("http://example.org/920fbb3cbe"), OFFER_MODE_UNKNOWN);
    assert_int_equal(codes_mode_of_uri(NULL), OFFER_MODE_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lang_canonical),     cmocka_unit_test(test_lang_is_known),
        cmocka_unit_test(test_lang_authority),     cmocka_unit_test(test_lang_round_trip),
        cmocka_unit_test(test_country_authority),  cmocka_unit_test(test_country_alpha2),
        cmocka_unit_test(test_country_round_trip), cmocka_unit_test(test_mode_find),
        cmocka_unit_test(test_mode_of_uri),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
