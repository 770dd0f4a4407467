/*
 * test_offer.c — the offer model (catalogue/offer.h): lifecycle, language
 * maps, field-by-field equality, Council Recommendation completeness, the
 * DESIGN §5 JSON fields and the content hash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/offer.h"
#include "server/json.h"

static char **strv(size_t n, ...)
{
    char **v = xcalloc(n, sizeof(*v));
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        v[i] = xstrdup(va_arg(ap, const char *));
    va_end(ap);
    return v;
}

/* An offer with every field set. */
static void offer_fill(struct offer *o)
{
    offer_init(o);
    o->external_id = xstrdup("LO-2026-17");
    o->source_id = xstrdup("urn:vdu:lo:17");
    lang_map_add(&o->title, "en", "Data literacy");
    lang_map_add(&o->title, "lt", "Duomen\xc5\xb3 ra\xc5\xa1tingumas");
    lang_map_add(&o->description, "en", "Reading data \"critically\"\n");
    o->homepage = xstrdup("https://vdu.lt/dl");
    o->languages = strv(2, "en", "lt");
    o->nlanguages = 2;
    o->isced = strv(1, "0688");
    o->nisced = 1;
    o->eqf = 6;
    o->has_ects = true;
    o->ects = 3;
    o->mode = OFFER_MODE_ONLINE;
    memcpy(o->starts, "2026-02-01", 11);
    memcpy(o->ends, "2026-04-30", 11);
    memcpy(o->application_deadline, "2026-01-15", 11);
    o->has_price = true;
    o->price_amount = 0;
    memcpy(o->currency, "EUR", 4);
    o->learning_outcomes = xcalloc(2, sizeof(*o->learning_outcomes));
    o->noutcomes = 2;
    lang_map_add(&o->learning_outcomes[0], "en", "Reads charts");
    lang_map_add(&o->learning_outcomes[1], "en", "Cleans data");
    lang_map_add(&o->assessment, "en", "Project");
    lang_map_add(&o->quality_assurance, "en", "Internal QA");
    lang_map_add(&o->entry_requirements, "en", "None");
    o->volume_of_learning = xstrdup("PT75H");
    o->provider_id = xstrdup("urn:org:vdu");
    lang_map_add(&o->provider_name, "en", "Vytautas Magnus University");
    memcpy(o->provider_country, "LT", 3);
    o->provider_homepage = xstrdup("https://vdu.lt");
}

static void test_init_cleanup(void **state)
{
    struct offer o;

    (void)state;
    offer_init(&o);
    offer_cleanup(&o);
    offer_cleanup(&o); /* cleanup leaves an empty offer behind */
    offer_fill(&o);
    offer_cleanup(&o);
    assert_null(o.title.items);
    assert_int_equal(o.noutcomes, 0);
}

static void test_lang_map(void **state)
{
    struct lang_map m = {0};

    (void)state;
    assert_null(lang_map_get(&m, "en"));
    lang_map_add(&m, "lt", "Labas");
    assert_string_equal(lang_map_get(&m, "en"), "Labas"); /* the first */
    lang_map_add(&m, "en", "Hello");
    lang_map_add(&m, "en", "Hi"); /* ignored: one text per language, the first wins */
    lang_map_add(&m, NULL, "no language");
    lang_map_add(&m, "de", NULL); /* no text: nothing */
    assert_int_equal(m.n, 3);
    assert_string_equal(lang_map_get(&m, "en"), "Hello");
    assert_string_equal(lang_map_get(&m, "lt"), "Labas");
    assert_string_equal(lang_map_get(&m, "fr"), "Hello"); /* English */
    assert_string_equal(lang_map_get(&m, NULL), "Hello");
    assert_string_equal(lang_map_get(&m, ""), "no language");
    lang_map_cleanup(&m);
    assert_int_equal(m.n, 0);
    lang_map_cleanup(&m);
}

static void test_equal(void **state)
{
    struct offer a, b;
    const char *field = "x";

    (void)state;
    offer_fill(&a);
    offer_fill(&b);
    assert_true(offer_equal(&a, &b, &field));
    assert_null(field);
    assert_true(offer_equal(&a, &b, NULL));

#define CHANGE(stmt, name)                                                                         \
    do {                                                                                           \
        offer_cleanup(&b);                                                                         \
        offer_fill(&b);                                                                            \
        stmt;                                                                                      \
        assert_false(offer_equal(&a, &b, &field));                                                 \
        assert_string_equal(field, name);                                                          \
    } while (0)

    CHANGE(b.external_id[0] = 'X', "external_id");
    CHANGE(b.source_id[0] = 'X', "source_id");
    CHANGE(lang_map_add(&b.title, "de", "Datenkompetenz"), "title");
    CHANGE(b.title.items[1].text[0] = 'X', "title");
    CHANGE(b.description.items[0].lang[0] = 'X', "description");
    CHANGE(b.homepage[0] = 'X', "homepage");
    CHANGE(b.languages[1][0] = 'X', "languages");
    CHANGE((free(b.languages[1]), b.nlanguages = 1), "languages");
    CHANGE(b.isced[0][3] = '9', "isced");
    CHANGE(b.eqf = 0, "eqf");
    CHANGE(b.ects = 3.0000000001, "ects");
    CHANGE(b.has_ects = false, "ects");
    CHANGE(b.mode = OFFER_MODE_ONSITE, "mode");
    CHANGE(b.starts[9] = '2', "starts");
    CHANGE(b.ends[0] = '\0', "ends");
    CHANGE(b.application_deadline[0] = '\0', "application_deadline");
    CHANGE(b.price_amount = 1, "price");
    CHANGE(b.currency[0] = 'X', "price");
    CHANGE(b.has_price = false, "price");
    CHANGE((lang_map_cleanup(&b.learning_outcomes[1]), b.noutcomes = 1), "learning_outcomes");
    CHANGE(b.learning_outcomes[1].items[0].text[0] = 'X', "learning_outcomes");
    CHANGE(lang_map_cleanup(&b.assessment), "assessment");
    CHANGE(lang_map_cleanup(&b.quality_assurance), "quality_assurance");
    CHANGE(lang_map_add(&b.entry_requirements, "lt", "Jokiu"), "entry_requirements");
    CHANGE(b.volume_of_learning[2] = '9', "volume_of_learning");
    CHANGE(b.provider_id[0] = 'X', "provider_id");
    CHANGE(lang_map_cleanup(&b.provider_name), "provider_name");
    CHANGE(b.provider_country[1] = 'V', "provider_country");
    CHANGE(b.provider_homepage[0] = 'X', "provider_homepage");
#undef CHANGE
    offer_cleanup(&a);
    offer_cleanup(&b);
}

static void test_equal_normalisations(void **state)
{
    struct offer a, b;

    (void)state;
    offer_init(&a);
    offer_init(&b);
    /* language maps are sets; NULL and "" both mean absent; absent ECTS/price
     * values and a price-less currency are not compared */
    lang_map_add(&a.title, "en", "T");
    lang_map_add(&a.title, "lt", "P");
    lang_map_add(&b.title, "lt", "P");
    lang_map_add(&b.title, "en", "T");
    b.homepage = xstrdup("");
    a.ects = 5;
    b.price_amount = 7;
    memcpy(b.currency, "EUR", 4);
    assert_true(offer_equal(&a, &b, NULL));
    offer_cleanup(&a);
    offer_cleanup(&b);
}

static void test_completeness(void **state)
{
    struct offer o;
    const char *missing[OFFER_COMPLETENESS_MAX];
    static const char *const all[] = {
        "title", "awarding_body", "country", "learning_outcomes", "ects",
        "eqf",   "assessment",    "mode",    "quality_assurance"};

    (void)state;
    offer_init(&o);
    assert_int_equal(offer_completeness(&o, missing), 9);
    for (size_t i = 0; i < 9; i++)
        assert_string_equal(missing[i], all[i]);
    offer_cleanup(&o);

    offer_fill(&o);
    assert_int_equal(offer_completeness(&o, missing), 0);
    o.eqf = 9; /* out of range is not a level */
    o.mode = OFFER_MODE_UNKNOWN;
    lang_map_cleanup(&o.provider_name);
    assert_int_equal(offer_completeness(&o, missing), 2); /* the id still names the body */
    assert_string_equal(missing[0], "eqf");
    assert_string_equal(missing[1], "mode");
    offer_cleanup(&o);
}

static void test_modes(void **state)
{
    enum offer_mode m = OFFER_MODE_UNKNOWN;

    (void)state;
    assert_string_equal(offer_mode_name(OFFER_MODE_ONLINE), "online");
    assert_string_equal(offer_mode_name(OFFER_MODE_BLENDED), "blended");
    assert_string_equal(offer_mode_name(OFFER_MODE_ONSITE), "onsite");
    assert_null(offer_mode_name(OFFER_MODE_UNKNOWN));
    assert_null(offer_mode_name((enum offer_mode)42));
    assert_int_equal(offer_mode_parse("blended", &m), 0);
    assert_int_equal(m, OFFER_MODE_BLENDED);
    assert_int_equal(offer_mode_parse("onsite", &m), 0);
    assert_int_equal(m, OFFER_MODE_ONSITE);
    assert_int_equal(offer_mode_parse("Online", &m), -1);
    assert_int_equal(offer_mode_parse("", &m), -1);
    assert_int_equal(offer_mode_parse(NULL, &m), -1);
}

static char *fields_json(const struct offer *o)
{
    struct buf b;
    struct json_writer w;

    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    offer_write_json_fields(o, &w);
    json_object_end(&w);
    return buf_steal(&b, NULL);
}

static void test_json_full(void **state)
{
    struct offer o;
    char *json;

    (void)state;
    offer_fill(&o);
    o.ects = 7.5;
    json = fields_json(&o);
    assert_string_equal(
        json, "{\"external_id\":\"LO-2026-17\","
              "\"title\":{\"en\":\"Data literacy\",\"lt\":\"Duomen\xc5\xb3 ra\xc5\xa1tingumas\"},"
              "\"description\":{\"en\":\"Reading data \\\"critically\\\"\\n\"},"
              "\"homepage\":\"https://vdu.lt/dl\",\"languages\":[\"en\",\"lt\"],"
              "\"isced\":[\"0688\"],\"eqf\":6,\"ects\":7.5,\"mode\":\"online\","
              "\"starts\":\"2026-02-01\",\"ends\":\"2026-04-30\","
              "\"application_deadline\":\"2026-01-15\","
              "\"price\":{\"amount\":0,\"currency\":\"EUR\"},"
              "\"learning_outcomes\":[{\"en\":\"Reads charts\"},{\"en\":\"Cleans data\"}],"
              "\"assessment\":{\"en\":\"Project\"},\"quality_assurance\":{\"en\":\"Internal QA\"},"
              "\"entry_requirements\":{\"en\":\"None\"},\"volume_of_learning\":\"PT75H\","
              "\"provider\":{\"id\":\"urn:org:vdu\",\"name\":{\"en\":\"Vytautas Magnus "
              "University\"},\"country\":\"LT\",\"homepage\":\"https://vdu.lt\"}}");
    free(json);
    offer_cleanup(&o);
}

static void test_json_empty(void **state)
{
    struct offer o;
    char *json;

    (void)state;
    offer_init(&o);
    json = fields_json(&o);
    assert_string_equal(json, "{\"external_id\":null,\"title\":{},\"description\":{},"
                              "\"homepage\":null,\"languages\":[],\"isced\":[],\"eqf\":null,"
                              "\"ects\":null,\"mode\":null,\"starts\":null,\"ends\":null,"
                              "\"application_deadline\":null,\"price\":null,"
                              "\"learning_outcomes\":[],\"assessment\":{},"
                              "\"quality_assurance\":{},\"entry_requirements\":{},"
                              "\"volume_of_learning\":null,\"provider\":{\"id\":null,"
                              "\"name\":{},\"country\":null,\"homepage\":null}}");
    free(json);
    /* 0.1 prints as 0.1, not 0.10000000000000001 */
    o.has_ects = true;
    o.ects = 0.1;
    json = fields_json(&o);
    assert_non_null(strstr(json, "\"ects\":0.1,"));
    free(json);
    offer_cleanup(&o);
}

static void hash_of(const struct offer *o, char out[65])
{
    offer_content_hash(o, out);
    assert_int_equal(strlen(out), 64);
    assert_int_equal(strspn(out, "0123456789abcdef"), 64);
}

static void test_hash(void **state)
{
    struct offer a, b;
    char ha[65], hb[65];

    (void)state;
    offer_fill(&a);
    offer_fill(&b);
    hash_of(&a, ha);
    hash_of(&b, hb);
    assert_string_equal(ha, hb);

    /* equal offers hash equal: language map order, NULL vs "", absent values */
    offer_cleanup(&b);
    offer_fill(&b);
    lang_map_cleanup(&b.title);
    lang_map_add(&b.title, "lt", "Duomen\xc5\xb3 ra\xc5\xa1tingumas");
    lang_map_add(&b.title, "en", "Data literacy");
    assert_true(offer_equal(&a, &b, NULL));
    hash_of(&b, hb);
    assert_string_equal(ha, hb);

    /* any change changes it */
    b.ects = 3.5;
    hash_of(&b, hb);
    assert_string_not_equal(ha, hb);
    b.ects = 3;
    b.mode = OFFER_MODE_BLENDED;
    hash_of(&b, hb);
    assert_string_not_equal(ha, hb);
    offer_cleanup(&a);
    offer_cleanup(&b);
}

static void test_hash_unambiguous(void **state)
{
    struct offer a, b;
    char ha[65], hb[65];

    (void)state;
    /* texts that concatenate alike must not hash alike */
    offer_init(&a);
    offer_init(&b);
    lang_map_add(&a.title, "en", "ab");
    lang_map_add(&b.title, "ena", "b");
    hash_of(&a, ha);
    hash_of(&b, hb);
    assert_string_not_equal(ha, hb);
    offer_cleanup(&a);
    offer_cleanup(&b);

    offer_init(&a);
    offer_init(&b);
    a.languages = strv(2, "en", "lt");
    a.nlanguages = 2;
    b.languages = strv(1, "en");
    b.nlanguages = 1;
    b.isced = strv(1, "lt");
    b.nisced = 1;
    hash_of(&a, ha);
    hash_of(&b, hb);
    assert_string_not_equal(ha, hb);
    offer_cleanup(&a);
    offer_cleanup(&b);

    /* the same text moved to another field */
    offer_init(&a);
    offer_init(&b);
    lang_map_add(&a.assessment, "en", "x");
    lang_map_add(&b.quality_assurance, "en", "x");
    hash_of(&a, ha);
    hash_of(&b, hb);
    assert_string_not_equal(ha, hb);
    offer_cleanup(&a);
    offer_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_cleanup), cmocka_unit_test(test_lang_map),
        cmocka_unit_test(test_equal),        cmocka_unit_test(test_equal_normalisations),
        cmocka_unit_test(test_completeness), cmocka_unit_test(test_modes),
        cmocka_unit_test(test_json_full),    cmocka_unit_test(test_json_empty),
        cmocka_unit_test(test_hash),         cmocka_unit_test(test_hash_unambiguous),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
