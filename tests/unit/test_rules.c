/*
 * test_rules.c — the recognition rules engine (recognition/rules.h): a table of
 * cases covers every reason code and the choices between agreements and rules;
 * grade conversion is checked by map and by EGRACONS tables (Spanish and
 * Lithuanian 10-point scales).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recognition/rules.h"
#include "server/jsonparse.h"

#define TODAY "2026-03-15"

/* ---- fixtures: vdu.lt (home) and uab.cat (partner) ---- */

static const char *const parties[] = {"vdu.lt", "uab.cat"};
static const char *const network[] = {"vdu.lt", "uab.cat", "uio.no"};
static const char *const isced_ict[] = {"06"};
static const char *const modes_remote[] = {"online", "blended"};
static const char *const cred_isced[] = {"0613"};
static const char *const cred_isced_far[] = {"003", "0588", "0731"};

static const struct rec_rule rules_elective[] = {
    {.as = REC_AS_ELECTIVE, .max_credits_per_term = 15},
};
static const struct rec_rule rules_both[] = {
    {.as = REC_AS_ELECTIVE, .max_credits_per_term = 15},
    {.as = REC_AS_COURSE,
     .offer_id = "8f0c0000-0000-4000-8000-000000000017",
     .home_course = "INF-2031",
     .credits = 3},
};
static const struct rec_rule rules_course_only[] = {
    {.as = REC_AS_COURSE,
     .offer_id = "8f0c0000-0000-4000-8000-000000000017",
     .home_course = "INF-2031"},
};

static const struct rec_grade_map_entry uab_grades[] = {
    {"A", "10"}, {"B", "9"}, {"C", "8"}, {"Pass", "pass"}};
static struct rec_grade_map grade_maps[] = {{"uab.cat", uab_grades, 4}};

/*
 * EGRACONS-style tables (percent of passing students per grade, best first).
 * Spanish universities grade 5..10 with few top marks; Lithuanian ones give more
 * 9s and 10s, so a Spanish 8 is a Lithuanian 9.
 */
static const struct rec_grade_band es_bands[] = {{"10", 2}, {"9", 8},  {"8", 20},
                                                 {"7", 28}, {"6", 24}, {"5", 18}};
static const struct rec_grade_band lt_bands[] = {{"10", 10}, {"9", 22}, {"8", 28},
                                                 {"7", 20},  {"6", 12}, {"5", 8}};
static const struct rec_grade_table tables[] = {
    {"uab.cat", es_bands, 6},
    {"vdu.lt", lt_bands, 6},
};

/* The agreement of DESIGN §5, active, every check set. */
static struct rec_agreement agreement_full(void)
{
    struct rec_agreement a = {
        .id = "a0000000-0000-4000-8000-000000000001",
        .title = "MicroCredX mutual recognition 2026",
        .parties = parties,
        .nparties = 2,
        .valid_from = "2026-01-01",
        .valid_until = "2028-12-31",
        .active = true,
        .rules = rules_both,
        .nrules = 2,
    };
    a.scope.isced = isced_ict;
    a.scope.nisced = 1;
    a.scope.eqf_min = 5;
    a.scope.eqf_max = 7;
    a.scope.ects_min = 2;
    a.scope.modes = modes_remote;
    a.scope.nmodes = 2;
    a.scope.requires_qa = true;
    a.grades.method = REC_GRADES_MAP;
    a.grades.maps = grade_maps;
    a.grades.nmaps = 1;
    return a;
}

/* A micro-credential of uab.cat that passes every check of agreement_full. */
static struct rec_credential credential_good(void)
{
    struct rec_credential c = {
        .issuer = "uab.cat",
        .issuer_known = true,
        .title = "Data literacy",
        .ects = 6,
        .has_ects = true,
        .eqf = 6,
        .isced = cred_isced,
        .nisced = 1,
        .grade = "B",
        .awarded_on = "2026-02-20",
        .mode = "online",
        .has_qa = true,
    };
    return c;
}

static const struct rec_target target_vdu = {"vdu.lt", "BSc Informatics", NULL};

static bool has_reason(const struct rec_proposal *p, const char *code)
{
    for (size_t i = 0; i < p->nreasons; i++)
        if (strcmp(p->reasons[i].code, code) == 0)
            return true;
    return false;
}

static const char *message_of(const struct rec_proposal *p, const char *code)
{
    for (size_t i = 0; i < p->nreasons; i++)
        if (strcmp(p->reasons[i].code, code) == 0)
            return p->reasons[i].message;
    return "";
}

/* needs_review always carries reasons, each a known code and a sentence. */
static void assert_well_formed(const struct rec_proposal *p)
{
    if (p->outcome == REC_RECOGNISED) {
        assert_int_equal(p->nreasons, 0);
        return;
    }
    assert_true(p->nreasons > 0);
    for (size_t i = 0; i < p->nreasons; i++) {
        size_t len = strlen(p->reasons[i].message);
        assert_non_null(rec_reason_summary(p->reasons[i].code));
        assert_true(len > 10);
        assert_int_equal(p->reasons[i].message[len - 1], '.');
    }
}

/* ---- the table: one case per reason, each changing one thing ---- */

enum change {
    CH_NONE,
    CH_NOT_ACTIVE,
    CH_AWARDED_EARLY,
    CH_AWARDED_LATE,
    CH_TERMINATED,
    CH_NO_DATE_TODAY_LATE,
    CH_ISCED_FAR,
    CH_EQF_LOW,
    CH_EQF_HIGH,
    CH_ECTS_LOW,
    CH_MODE_ONSITE,
    CH_NO_QA,
    CH_NO_ECTS,
    CH_NO_EQF,
    CH_NO_ISCED,
    CH_NO_MODE,
    CH_NO_DATE,
    CH_CAP,
    CH_NO_RULE,
    CH_GRADE_UNKNOWN,
    CH_GRADE_MISSING,
    CH_NO_MAP_FOR_ISSUER,
    CH_OTHER_ISSUER,
    CH_OTHER_ISSUER_UNKNOWN,
    CH_NO_ISSUER,
    CH_ISSUER_BY_NAME_ONLY,
    CH_SAME_INSTITUTION,
};

struct rule_case {
    const char *name;
    enum change change;
    enum rec_outcome outcome;
    const char *codes[3];   /* all must be present */
    const char *in_message; /* text the first code's message must contain */
    size_t nreasons;        /* exact count */
};

static const struct rule_case cases[] = {
    {"all checks pass", CH_NONE, REC_RECOGNISED, {NULL}, NULL, 0},
    {"draft agreement",
     CH_NOT_ACTIVE,
     REC_NEEDS_REVIEW,
     {"agreement_not_active"},
     "vdu.lt, uab.cat",
     1},
    {"awarded before validity",
     CH_AWARDED_EARLY,
     REC_NEEDS_REVIEW,
     {"agreement_expired"},
     "2025-12-20, before agreement \"MicroCredX mutual recognition 2026\" took effect on "
     "2026-01-01",
     1},
    {"awarded after validity",
     CH_AWARDED_LATE,
     REC_NEEDS_REVIEW,
     {"agreement_expired"},
     "ended on 2028-12-31",
     1},
    {"awarded after termination",
     CH_TERMINATED,
     REC_NEEDS_REVIEW,
     {"agreement_expired"},
     "terminated as of 2026-02-01",
     1},
    {"no date and today after validity",
     CH_NO_DATE_TODAY_LATE,
     REC_NEEDS_REVIEW,
     {"agreement_expired", "missing_element"},
     "today is 2029-06-01, after",
     2},
    {"outside ISCED scope",
     CH_ISCED_FAR,
     REC_NEEDS_REVIEW,
     {"outside_scope"},
     "(003, 0588, 0731)",
     1},
    {"EQF too low",
     CH_EQF_LOW,
     REC_NEEDS_REVIEW,
     {"eqf_out_of_range"},
     "EQF level 4; agreement \"MicroCredX mutual recognition 2026\" covers levels 5 to 7",
     1},
    {"EQF too high", CH_EQF_HIGH, REC_NEEDS_REVIEW, {"eqf_out_of_range"}, "level 8", 1},
    {"ECTS below minimum",
     CH_ECTS_LOW,
     REC_NEEDS_REVIEW,
     {"ects_below_minimum"},
     "carries 1.5 ECTS",
     1},
    {"mode not covered",
     CH_MODE_ONSITE,
     REC_NEEDS_REVIEW,
     {"mode_not_covered"},
     "delivered onsite; agreement \"MicroCredX mutual recognition 2026\" covers online, blended",
     1},
    {"no quality assurance", CH_NO_QA, REC_NEEDS_REVIEW, {"qa_missing"}, "quality assurance", 1},
    /* ECTS is needed by the minimum and by the rule: reported once */
    {"no ECTS",
     CH_NO_ECTS,
     REC_NEEDS_REVIEW,
     {"missing_element"},
     "ECTS credits, which the minimum of 2 ECTS",
     1},
    {"no EQF", CH_NO_EQF, REC_NEEDS_REVIEW, {"missing_element"}, "(levels 5 to 7)", 1},
    {"no ISCED", CH_NO_ISCED, REC_NEEDS_REVIEW, {"missing_element"}, "ISCED-F field", 1},
    {"no mode", CH_NO_MODE, REC_NEEDS_REVIEW, {"missing_element"}, "(online, blended)", 1},
    {"no award date", CH_NO_DATE, REC_NEEDS_REVIEW, {"missing_element"}, "award date", 1},
    {"elective cap",
     CH_CAP,
     REC_NEEDS_REVIEW,
     {"credits_cap_exceeded"},
     "total to 18, over the cap of 15 per term",
     1},
    {"no rule", CH_NO_RULE, REC_NEEDS_REVIEW, {"no_matching_rule"}, "no elective rule", 1},
    {"grade not in map",
     CH_GRADE_UNKNOWN,
     REC_NEEDS_REVIEW,
     {"grade_not_convertible"},
     "Grade \"Excellent\" is not in the grade map",
     1},
    {"no grade",
     CH_GRADE_MISSING,
     REC_NEEDS_REVIEW,
     {"grade_not_convertible"},
     "states no grade",
     1},
    {"no map for issuer",
     CH_NO_MAP_FOR_ISSUER,
     REC_NEEDS_REVIEW,
     {"grade_not_convertible"},
     "no usable grade map for uab.cat",
     1},
    {"issuer without agreement",
     CH_OTHER_ISSUER,
     REC_NEEDS_REVIEW,
     {"no_agreement"},
     "vdu.lt has no agreement with ktu.lt",
     1},
    {"unknown issuer",
     CH_OTHER_ISSUER_UNKNOWN,
     REC_NEEDS_REVIEW,
     {"no_agreement", "unknown_issuer"},
     "vdu.lt has no agreement with example.edu",
     2},
    {"no issuer at all",
     CH_NO_ISSUER,
     REC_NEEDS_REVIEW,
     {"no_agreement", "unknown_issuer", "missing_element"},
     "no agreement of vdu.lt",
     3},
    {"issuer named only",
     CH_ISSUER_BY_NAME_ONLY,
     REC_NEEDS_REVIEW,
     {"no_agreement", "unknown_issuer"},
     "Without an identified issuer",
     2},
    {"own credential",
     CH_SAME_INSTITUTION,
     REC_NEEDS_REVIEW,
     {"no_agreement"},
     "the target institution itself",
     1},
};

static void apply_change(enum change ch, struct rec_agreement *a, struct rec_credential *c,
                         double *this_term, const char **today)
{
    switch (ch) {
    case CH_NONE:
        break;
    case CH_NOT_ACTIVE:
        a->active = false;
        break;
    case CH_AWARDED_EARLY:
        c->awarded_on = "2025-12-20";
        break;
    case CH_AWARDED_LATE:
        c->awarded_on = "2029-01-10";
        break;
    case CH_TERMINATED:
        a->terminated_on = "2026-02-01";
        break;
    case CH_NO_DATE_TODAY_LATE:
        c->awarded_on = NULL;
        *today = "2029-06-01";
        break;
    case CH_ISCED_FAR:
        c->isced = cred_isced_far;
        c->nisced = 3;
        break;
    case CH_EQF_LOW:
        c->eqf = 4;
        break;
    case CH_EQF_HIGH:
        c->eqf = 8;
        break;
    case CH_ECTS_LOW:
        c->ects = 1.5;
        break;
    case CH_MODE_ONSITE:
        c->mode = "onsite";
        break;
    case CH_NO_QA:
        c->has_qa = false;
        break;
    case CH_NO_ECTS:
        c->has_ects = false;
        c->ects = 0;
        break;
    case CH_NO_EQF:
        c->eqf = 0;
        break;
    case CH_NO_ISCED:
        c->isced = NULL;
        c->nisced = 0;
        break;
    case CH_NO_MODE:
        c->mode = NULL;
        break;
    case CH_NO_DATE:
        c->awarded_on = NULL;
        break;
    case CH_CAP:
        *this_term = 12;
        break;
    case CH_NO_RULE:
        a->rules = rules_course_only;
        a->nrules = 1;
        break;
    case CH_GRADE_UNKNOWN:
        c->grade = "Excellent";
        break;
    case CH_GRADE_MISSING:
        c->grade = "  ";
        break;
    case CH_NO_MAP_FOR_ISSUER:
        a->grades.nmaps = 0;
        break;
    case CH_OTHER_ISSUER:
        c->issuer = "ktu.lt";
        break;
    case CH_OTHER_ISSUER_UNKNOWN:
        c->issuer = "example.edu";
        c->issuer_known = false;
        break;
    case CH_NO_ISSUER:
        c->issuer = NULL;
        c->issuer_known = false;
        break;
    case CH_ISSUER_BY_NAME_ONLY:
        c->issuer = NULL;
        c->issuer_name = "Universitat Aut\xc3\xb2noma de Barcelona";
        c->issuer_known = false;
        break;
    case CH_SAME_INSTITUTION:
        c->issuer = "vdu.lt";
        break;
    }
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        const struct rule_case *tc = &cases[i];
        struct rec_agreement a = agreement_full();
        struct rec_credential c = credential_good();
        struct rec_proposal p;
        double this_term = 0;
        const char *today = TODAY;

        apply_change(tc->change, &a, &c, &this_term, &today);
        rec_propose(&c, &a, 1, &target_vdu, this_term, today, &p);
        if (p.outcome != tc->outcome || p.nreasons != tc->nreasons)
            fail_msg("case \"%s\": outcome %s with %zu reasons (first: %s)", tc->name,
                     rec_outcome_name(p.outcome), p.nreasons,
                     p.nreasons > 0 ? p.reasons[0].message : "-");
        assert_well_formed(&p);
        for (size_t k = 0; k < 3 && tc->codes[k] != NULL; k++)
            if (!has_reason(&p, tc->codes[k]))
                fail_msg("case \"%s\": no reason %s", tc->name, tc->codes[k]);
        if (tc->in_message != NULL && strstr(message_of(&p, tc->codes[0]), tc->in_message) == NULL)
            fail_msg("case \"%s\": message \"%s\" lacks \"%s\"", tc->name,
                     message_of(&p, tc->codes[0]), tc->in_message);
    }
}

/* Every code in the fixed list is produced by some case above. */
static void test_every_code_covered(void **state)
{
    (void)state;
    assert_int_equal(rec_nreason_codes, 13);
    for (size_t k = 0; k < rec_nreason_codes; k++) {
        bool seen = false;
        for (size_t i = 0; i < MCX_ARRAY_LEN(cases) && !seen; i++)
            for (size_t j = 0; j < 3 && cases[i].codes[j] != NULL; j++)
                seen = seen || strcmp(cases[i].codes[j], rec_reason_codes[k].code) == 0;
        if (!seen)
            fail_msg("no case produces %s", rec_reason_codes[k].code);
        assert_true(strlen(rec_reason_codes[k].summary) > 20);
    }
    assert_null(rec_reason_summary("nonsense"));
    assert_string_equal(rec_outcome_name(REC_RECOGNISED), "recognised");
    assert_string_equal(rec_outcome_name(REC_NEEDS_REVIEW), "needs_review");
}

/* ---- what a recognised proposal carries ---- */

static void test_recognised_elective(void **state)
{
    struct rec_agreement a = agreement_full();
    struct rec_credential c = credential_good();
    struct rec_proposal p;

    (void)state;
    rec_propose(&c, &a, 1, &target_vdu, 9, TODAY, &p); /* 9 + 6 = 15: exactly the cap */
    assert_int_equal(p.outcome, REC_RECOGNISED);
    assert_true(p.has_credits);
    assert_true(p.credits == 6);
    assert_string_equal(p.grade, "9");
    assert_string_equal(p.agreement_id, "a0000000-0000-4000-8000-000000000001");
    assert_int_equal(p.rule, 0);
    assert_int_equal(p.as, REC_AS_ELECTIVE);
    assert_string_equal(p.course, "");
}

/* A course equivalence for the credential's offer wins over the elective rule before it. */
static void test_course_rule_wins(void **state)
{
    struct rec_agreement a = agreement_full();
    struct rec_credential c = credential_good();
    struct rec_proposal p;

    (void)state;
    c.offer_id = "8f0c0000-0000-4000-8000-000000000017";
    rec_propose(&c, &a, 1, &target_vdu, 14, TODAY, &p); /* the elective cap does not apply */
    assert_int_equal(p.outcome, REC_RECOGNISED);
    assert_int_equal(p.rule, 1);
    assert_int_equal(p.as, REC_AS_COURSE);
    assert_string_equal(p.course, "INF-2031");
    assert_true(p.credits == 3);

    /* credits 0: the credential's ECTS */
    a.rules = rules_course_only;
    a.nrules = 1;
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_RECOGNISED);
    assert_int_equal(p.rule, 0);
    assert_true(p.credits == 6);

    /* another offer: no course rule applies and there is no elective rule */
    c.offer_id = "8f0c0000-0000-4000-8000-000000000099";
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_NEEDS_REVIEW);
    assert_true(has_reason(&p, "no_matching_rule"));
    assert_non_null(strstr(message_of(&p, "no_matching_rule"), "8f0c0000-0000-4000-8000-0000"));
    assert_int_equal(p.rule, -1);
}

/* An agreement with no constraints recognises a credential that states little,
 * as long as the rule has its ECTS. */
static void test_open_agreement(void **state)
{
    struct rec_agreement a = {.id = "open",
                              .parties = parties,
                              .nparties = 2,
                              .valid_from = "2020-01-01",
                              .active = true,
                              .rules = rules_elective,
                              .nrules = 1};
    struct rec_credential c = {.issuer = "uab.cat",
                               .issuer_known = true,
                               .ects = 2,
                               .has_ects = true,
                               .awarded_on = "2026-01-05"};
    struct rec_proposal p;

    (void)state;
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_RECOGNISED);
    assert_string_equal(p.grade, ""); /* no conversion defined: none proposed */
    assert_true(p.credits == 2);

    /* without ECTS the elective rule has nothing to give */
    c.has_ects = false;
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_NEEDS_REVIEW);
    assert_int_equal(p.nreasons, 1);
    assert_string_equal(p.reasons[0].code, "missing_element");
    assert_non_null(strstr(p.reasons[0].message, "the elective rule of agreement open"));
    assert_int_equal(p.rule, 0);
    assert_false(p.has_credits);
}

/* The first passing agreement applies; agreements without both parties are skipped;
 * when none passes, the one with the fewest failures explains (ties: the first). */
static void test_agreement_choice(void **state)
{
    struct rec_agreement list[4];
    struct rec_credential c = credential_good();
    struct rec_proposal p;
    static const char *const others[] = {"vdu.lt", "ktu.lt"};

    (void)state;
    for (size_t i = 0; i < 4; i++)
        list[i] = agreement_full();
    list[0].id = "not-ours";
    list[0].parties = others;
    list[1].id = "draft-and-old";
    list[1].active = false;
    list[1].valid_until = "2026-01-31";
    list[2].id = "network";
    list[2].parties = network;
    list[2].nparties = 3;
    list[3].id = "also-good";

    rec_propose(&c, list, 4, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_RECOGNISED);
    assert_string_equal(p.agreement_id, "network");

    /* none passes: network fails one check (QA), also-good two, draft-and-old three */
    list[2].scope.requires_qa = true;
    list[3].scope.requires_qa = true;
    list[3].scope.eqf_max = 5;
    c.has_qa = false;
    c.awarded_on = "2026-02-20";
    rec_propose(&c, list, 4, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_NEEDS_REVIEW);
    assert_string_equal(p.agreement_id, "network");
    assert_int_equal(p.nreasons, 1);
    assert_string_equal(p.reasons[0].code, "qa_missing");
    /* the failing agreement's rule and credits are still proposed, for the registrar */
    assert_int_equal(p.rule, 0);
    assert_true(p.has_credits && p.credits == 6);
    assert_string_equal(p.grade, "9");

    /* a tie: the first in the list */
    list[3].scope.eqf_max = 7;
    rec_propose(&c, list, 4, &target_vdu, 0, TODAY, &p);
    assert_string_equal(p.agreement_id, "network");
}

static void test_reasons_accumulate(void **state)
{
    struct rec_agreement a = agreement_full();
    struct rec_credential c = {.issuer = "uab.cat", .issuer_known = true};
    struct rec_proposal p;

    (void)state;
    a.active = false;
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_well_formed(&p);
    assert_true(has_reason(&p, "agreement_not_active"));
    assert_true(has_reason(&p, "qa_missing"));
    assert_true(has_reason(&p, "grade_not_convertible"));
    /* ECTS, EQF, ISCED-F, mode and award date: one reason each */
    size_t missing = 0;
    for (size_t i = 0; i < p.nreasons; i++)
        missing += strcmp(p.reasons[i].code, "missing_element") == 0;
    assert_int_equal(missing, 5);
    assert_int_equal(p.nreasons, 8);
    assert_false(p.has_credits);
}

static void test_hostile_values(void **state)
{
    struct rec_agreement a = agreement_full();
    struct rec_credential c = credential_good();
    struct rec_proposal p;
    char title[600];

    (void)state;
    /* a long multibyte title is cut at a character boundary, with an ellipsis */
    for (size_t i = 0; i + 2 < sizeof(title); i += 2)
        memcpy(title + i, "\xc5\xb3", 2);
    title[sizeof(title) - 2] = '\0';
    a.title = title;
    a.active = false;
    rec_propose(&c, &a, 1, &target_vdu, -5, "not a date", &p);
    assert_int_equal(p.outcome, REC_NEEDS_REVIEW);
    assert_int_equal(p.nreasons, 1);
    assert_non_null(strstr(p.reasons[0].message, "\xe2\x80\xa6\""));
    {
        struct mcx_error err;
        struct buf b;
        buf_init(&b);
        rec_proposal_write_json(&p, &b);
        struct json_value *v = json_parse(b.data, b.len, 0, &err); /* valid UTF-8 throughout */
        assert_non_null(v);
        json_value_free(v);
        buf_cleanup(&b);
    }
    /* a malformed award date counts as none; NULL credential and target do not crash */
    a = agreement_full();
    c.awarded_on = "2026-2-20";
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_true(has_reason(&p, "missing_element"));
    rec_propose(NULL, &a, 1, NULL, 0, NULL, &p);
    assert_well_formed(&p);
    assert_true(has_reason(&p, "no_agreement"));
    rec_propose(&c, NULL, 0, &target_vdu, 0, TODAY, &p);
    assert_true(has_reason(&p, "no_agreement"));
}

/* ---- grades ---- */

static void test_grade_map(void **state)
{
    struct rec_grade_conversion g = {.method = REC_GRADES_MAP, .maps = grade_maps, .nmaps = 1};
    char out[64];

    (void)state;
    assert_int_equal(rec_grade_convert(&g, "uab.cat", "vdu.lt", " Pass ", out), 0);
    assert_string_equal(out, "pass");
    assert_int_equal(rec_grade_convert(&g, "uab.cat", "vdu.lt", "A", out), 0);
    assert_string_equal(out, "10");
    /* exact match: case matters */
    assert_int_equal(rec_grade_convert(&g, "uab.cat", "vdu.lt", "pass", out), -1);
    assert_string_equal(out, "");
    assert_int_equal(rec_grade_convert(&g, "uio.no", "vdu.lt", "A", out), -1);
    assert_int_equal(rec_grade_convert(&g, "uab.cat", "vdu.lt", NULL, out), -1);
    g.method = REC_GRADES_NONE;
    assert_int_equal(rec_grade_convert(&g, "uab.cat", "vdu.lt", "A", out), -1);
}

static void test_grade_table(void **state)
{
    struct rec_grade_conversion g = {.method = REC_GRADES_TABLE, .tables = tables, .ntables = 2};
    /* Spanish grade -> its percentile interval's midpoint -> the Lithuanian grade */
    static const char *const es_to_lt[][2] = {
        {"10", "10"}, /* [0, 2): 1 */
        {"9", "10"},  /* [2, 10): 6 — LT 10 covers [0, 10) */
        {"8", "9"},   /* [10, 30): 20 — LT 9 covers [10, 32) */
        {"7", "8"},   /* [30, 58): 44 — LT 8 covers [32, 60) */
        {"6", "7"},   /* [58, 82): 70 — LT 7 covers [60, 80) */
        {"5", "6"},   /* [82, 100): 91 — LT 6 covers [80, 92) */
    };
    static const char *const lt_to_es[][2] = {
        {"10", "9"}, /* [0, 10): 5 */
        {"9", "8"},  /* [10, 32): 21 */
        {"8", "7"},  /* [32, 60): 46 */
        {"7", "6"},  /* [60, 80): 70 */
        {"6", "5"},  /* [80, 92): 86 */
        {"5", "5"},  /* [92, 100): 96 */
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(es_to_lt); i++) {
        assert_int_equal(rec_grade_convert(&g, "uab.cat", "vdu.lt", es_to_lt[i][0], out), 0);
        assert_string_equal(out, es_to_lt[i][1]);
    }
    for (size_t i = 0; i < MCX_ARRAY_LEN(lt_to_es); i++) {
        assert_int_equal(rec_grade_convert(&g, "vdu.lt", "uab.cat", lt_to_es[i][0], out), 0);
        assert_string_equal(out, lt_to_es[i][1]);
    }
    assert_int_equal(rec_grade_convert(&g, "uab.cat", "vdu.lt", "4", out), -1); /* a fail */
    assert_int_equal(rec_grade_convert(&g, "uab.cat", "uio.no", "8", out), -1); /* no table */
}

/* Rows that do not sum to 100 are normalised; a broken table converts nothing. */
static void test_grade_table_odd(void **state)
{
    static const struct rec_grade_band rounded[] = {{"A", 10.1}, {"B", 25.3}, {"C", 64.7}};
    static const struct rec_grade_band halves[] = {{"high", 25}, {"low", 25}}; /* sums to 50 */
    static const struct rec_grade_band broken[] = {{"X", -1}, {"Y", 101}};
    static const struct rec_grade_band zero[] = {{"top", 0}, {"rest", 100}};
    const struct rec_grade_table t[] = {
        {"a.edu", rounded, 3}, {"b.edu", halves, 2}, {"c.edu", broken, 2}, {"d.edu", zero, 2}};
    struct rec_grade_conversion g = {.method = REC_GRADES_TABLE, .tables = t, .ntables = 4};
    char out[64];

    (void)state;
    assert_int_equal(rec_grade_convert(&g, "a.edu", "b.edu", "B", out), 0); /* mid 22.6 */
    assert_string_equal(out, "high");
    assert_int_equal(rec_grade_convert(&g, "a.edu", "b.edu", "C", out), 0); /* mid 67.6 */
    assert_string_equal(out, "low");
    assert_int_equal(rec_grade_convert(&g, "a.edu", "c.edu", "A", out), -1);
    assert_int_equal(rec_grade_convert(&g, "c.edu", "a.edu", "X", out), -1);
    /* nobody got "top": its empty interval sits at 0, which maps to the best grade */
    assert_int_equal(rec_grade_convert(&g, "d.edu", "a.edu", "top", out), 0);
    assert_string_equal(out, "A");
    /* a target band with 0% is never chosen */
    assert_int_equal(rec_grade_convert(&g, "a.edu", "d.edu", "A", out), 0);
    assert_string_equal(out, "rest");
}

/* A table agreement in the engine: the converted grade, or the reason. */
static void test_propose_with_tables(void **state)
{
    struct rec_agreement a = agreement_full();
    struct rec_credential c = credential_good();
    struct rec_proposal p;

    (void)state;
    a.grades.method = REC_GRADES_TABLE;
    a.grades.tables = tables;
    a.grades.ntables = 2;
    c.grade = "8";
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_RECOGNISED);
    assert_string_equal(p.grade, "9");

    a.grades.ntables = 1; /* vdu.lt's table missing */
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    assert_int_equal(p.outcome, REC_NEEDS_REVIEW);
    assert_string_equal(p.reasons[0].code, "grade_not_convertible");
    assert_non_null(strstr(p.reasons[0].message, "grading table for vdu.lt"));
    /* the credits are still there for the registrar */
    assert_true(p.has_credits && p.credits == 6);
}

static void test_isced_covers(void **state)
{
    (void)state;
    assert_true(rec_isced_covers("06", "0613"));
    assert_true(rec_isced_covers("06", "061"));
    assert_true(rec_isced_covers("0613", "0613"));
    assert_false(rec_isced_covers("0613", "06"));
    assert_false(rec_isced_covers("06", "0588"));
    assert_false(rec_isced_covers("", "0613"));
    assert_false(rec_isced_covers(NULL, "0613"));
}

static void test_json(void **state)
{
    struct rec_agreement a = agreement_full();
    struct rec_credential c = credential_good();
    struct rec_proposal p;
    struct buf b;

    (void)state;
    buf_init(&b);
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    rec_proposal_write_json(&p, &b);
    assert_string_equal(b.data, "{\"outcome\":\"recognised\",\"credits\":6,\"grade\":\"9\","
                                "\"agreement\":\"a0000000-0000-4000-8000-000000000001\","
                                "\"rule\":0,\"as\":\"elective\",\"course\":null,\"reasons\":[]}");
    buf_reset(&b);
    c.issuer = "ktu.lt";
    rec_propose(&c, &a, 1, &target_vdu, 0, TODAY, &p);
    rec_proposal_write_json(&p, &b);
    assert_string_equal(b.data, "{\"outcome\":\"needs_review\",\"credits\":null,\"grade\":null,"
                                "\"agreement\":null,\"rule\":null,\"as\":null,\"course\":null,"
                                "\"reasons\":[{\"code\":\"no_agreement\",\"message\":\"vdu.lt has "
                                "no agreement with ktu.lt.\"}]}");
    buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_every_code_covered),
        cmocka_unit_test(test_recognised_elective),
        cmocka_unit_test(test_course_rule_wins),
        cmocka_unit_test(test_open_agreement),
        cmocka_unit_test(test_agreement_choice),
        cmocka_unit_test(test_reasons_accumulate),
        cmocka_unit_test(test_hostile_values),
        cmocka_unit_test(test_grade_map),
        cmocka_unit_test(test_grade_table),
        cmocka_unit_test(test_grade_table_odd),
        cmocka_unit_test(test_propose_with_tables),
        cmocka_unit_test(test_isced_covers),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
