/*
 * rules.c — the recognition rules engine (rules.h). It follows Lisbon Recognition
 * Convention practice: a credential an agreement covers is recognised unless a check
 * shows a substantial difference, and each failed check is a reason in words that
 * name the values, so no request is ever turned down in silence.
 */
#include "recognition/rules.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/json.h"

/* Indexes into rec_reason_codes: the table and this list stay in the same order. */
enum reason {
    R_NO_AGREEMENT,
    R_UNKNOWN_ISSUER,
    R_NOT_ACTIVE,
    R_EXPIRED,
    R_OUTSIDE_SCOPE,
    R_EQF,
    R_ECTS_MIN,
    R_MODE,
    R_QA,
    R_MISSING,
    R_CAP,
    R_NO_RULE,
    R_GRADE,
};

const struct rec_reason_code rec_reason_codes[] = {
    {"no_agreement", "No agreement lists both the target institution and the credential's issuer "
                     "among its parties."},
    {"unknown_issuer", "The credential's issuer is not an institution known to this node, or the "
                       "credential does not identify it."},
    {"agreement_not_active", "The agreement has not been approved by every party in its current "
                             "version."},
    {"agreement_expired", "The credential was awarded (without an award date: today is) outside "
                          "the agreement's validity, or on or after its termination."},
    {"outside_scope", "None of the credential's ISCED-F fields is within the agreement's scope."},
    {"eqf_out_of_range", "The credential's EQF level is outside the agreement's EQF range."},
    {"ects_below_minimum", "The credential carries fewer ECTS credits than the agreement's "
                           "minimum."},
    {"mode_not_covered", "The credential's mode of delivery is not one the agreement covers."},
    {"qa_missing", "The agreement requires quality assurance and the credential shows none."},
    {"missing_element", "A mandatory element of a micro-credential (ECTS, EQF level, ISCED-F "
                        "field, award date, mode, issuer) that a check needs is missing."},
    {"credits_cap_exceeded", "Recognising the credential as electives would exceed the "
                             "agreement's cap on credits per term."},
    {"no_matching_rule", "The agreement has no rule for the credential: no course equivalence for "
                         "its offer and no elective rule."},
    {"grade_not_convertible", "The agreement converts grades, but the credential's grade is "
                              "missing or not in the agreement's map or table."},
};
const size_t rec_nreason_codes = MCX_ARRAY_LEN(rec_reason_codes);

/* Credits are decimals: 0.1 + 0.2 must not exceed a cap of 0.3. */
#define CREDIT_EPSILON 1e-9

/* The mandatory elements a check may need, each reported once per agreement. */
enum element {
    E_ECTS = 1 << 0,
    E_EQF = 1 << 1,
    E_ISCED = 1 << 2,
    E_DATE = 1 << 3,
    E_MODE = 1 << 4,
};

/* One agreement's checks of one credential. */
struct eval {
    const struct rec_credential *c;
    const struct rec_agreement *a;
    const struct rec_target *t;
    double this_term;
    const char *today;
    struct rec_proposal *p;
    char name[96]; /* the agreement as messages name it */
    unsigned missing;
};

/* ---- text ---- */

/* Cuts s back to a whole UTF-8 character when a bounded copy split one. */
static void utf8_cut(char *s)
{
    size_t len = strlen(s), start = len, need;
    unsigned char lead;

    while (start > 0 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
        start--;
    if (start == 0)
        return;
    lead = (unsigned char)s[start - 1];
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (len - (start - 1) < need)
        s[start - 1] = '\0';
}

/* A bounded copy of src that ends in "…" when src did not fit (or more is true). */
static void fit(char *dst, size_t size, const char *src, bool more)
{
    static const char ellipsis[] = "\xe2\x80\xa6";
    size_t keep;

    if (mcx_strlcpy(dst, src, size) < size && !more)
        return;
    if (size <= sizeof(ellipsis))
        return;
    keep = strlen(dst);
    if (keep > size - sizeof(ellipsis))
        keep = size - sizeof(ellipsis);
    dst[keep] = '\0';
    utf8_cut(dst);
    mcx_strlcpy(dst + strlen(dst), ellipsis, sizeof(ellipsis));
}

static void shorten(char *dst, size_t size, const char *src)
{
    fit(dst, size, src, false);
}

/* "a, b, c", cut with "…" when it does not fit. */
static void list_join(char *dst, size_t size, const char *const *v, size_t n)
{
    char all[512];
    size_t len = 0;
    bool more = false;

    all[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(all + len, sizeof(all) - len, "%s%s", i > 0 ? ", " : "",
                         v[i] != NULL ? v[i] : "");
        if (k < 0 || (size_t)k >= sizeof(all) - len) {
            more = true;
            break;
        }
        len += (size_t)k;
    }
    fit(dst, size, all, more);
}

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* YYYY-MM-DD: compared as text, which orders such dates correctly. */
static bool date_ok(const char *s)
{
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    return true;
}

static void add_reason(struct rec_proposal *p, enum reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_reason(struct rec_proposal *p, enum reason r, const char *fmt, ...)
{
    struct rec_reason *rr;
    va_list ap;

    if (p->nreasons >= REC_MAX_REASONS)
        return;
    rr = &p->reasons[p->nreasons++];
    rr->code = rec_reason_codes[r].code;
    va_start(ap, fmt);
    vsnprintf(rr->message, sizeof(rr->message), fmt, ap);
    va_end(ap);
    utf8_cut(rr->message);
}

static void add_missing(struct eval *e, enum element el, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A mandatory element a check needs (EU Council Recommendation 2022/C 243/02, Annex I),
 * reported once per agreement even when several checks need it. */
static void add_missing(struct eval *e, enum element el, const char *what, const char *fmt, ...)
{
    char needed_by[160];
    va_list ap;

    if (e->missing & el)
        return;
    e->missing |= el;
    va_start(ap, fmt);
    vsnprintf(needed_by, sizeof(needed_by), fmt, ap);
    va_end(ap);
    add_reason(e->p, R_MISSING, "The credential does not state its %s, which %s needs.", what,
               needed_by);
}

/* ---- checks ---- */

static void check_active(struct eval *e)
{
    char parties[120];

    if (e->a->active)
        return;
    list_join(parties, sizeof(parties), e->a->parties, e->a->nparties);
    add_reason(e->p, R_NOT_ACTIVE,
               "Agreement %s is not active: not every party (%s) has approved its current "
               "version.",
               e->name, parties);
}

/* The agreement must have been in force on the award date (Lisbon: what the partner
 * promised when the learning was done), else today when the credential gives none. */
static void check_dates(struct eval *e)
{
    const struct rec_agreement *a = e->a;
    const char *awarded = date_ok(e->c->awarded_on) ? e->c->awarded_on : NULL;
    const char *when = awarded != NULL ? awarded : date_ok(e->today) ? e->today : NULL;
    char subject[80];

    if (awarded == NULL)
        add_missing(e, E_DATE, "award date", "the check of agreement %s's validity", e->name);
    if (when == NULL)
        return;
    if (awarded != NULL)
        snprintf(subject, sizeof(subject), "The credential was awarded on %s", when);
    else
        snprintf(subject, sizeof(subject), "The credential states no award date, and today is %s",
                 when);
    if (date_ok(a->valid_from) && strcmp(when, a->valid_from) < 0)
        add_reason(e->p, R_EXPIRED, "%s, before agreement %s took effect on %s.", subject, e->name,
                   a->valid_from);
    else if (date_ok(a->valid_until) && strcmp(when, a->valid_until) > 0)
        add_reason(e->p, R_EXPIRED, "%s, after agreement %s ended on %s.", subject, e->name,
                   a->valid_until);
    else if (date_ok(a->terminated_on) && strcmp(when, a->terminated_on) >= 0)
        add_reason(e->p, R_EXPIRED, "%s; agreement %s was terminated as of %s.", subject, e->name,
                   a->terminated_on);
}

bool rec_isced_covers(const char *scope_code, const char *code)
{
    size_t n;

    if (is_empty(scope_code) || code == NULL)
        return false;
    n = strlen(scope_code);
    return strncmp(code, scope_code, n) == 0;
}

static void check_isced(struct eval *e)
{
    const struct rec_credential *c = e->c;
    char have[100], want[100];

    if (e->a->scope.nisced == 0)
        return;
    list_join(want, sizeof(want), e->a->scope.isced, e->a->scope.nisced);
    if (c->nisced == 0) {
        add_missing(e, E_ISCED, "ISCED-F field of education", "the scope of agreement %s (%s)",
                    e->name, want);
        return;
    }
    for (size_t i = 0; i < c->nisced; i++)
        for (size_t j = 0; j < e->a->scope.nisced; j++)
            if (rec_isced_covers(e->a->scope.isced[j], c->isced[i]))
                return;
    list_join(have, sizeof(have), c->isced, c->nisced);
    add_reason(e->p, R_OUTSIDE_SCOPE,
               "None of the credential's ISCED-F fields (%s) is within the scope of agreement %s "
               "(%s).",
               have, e->name, want);
}

static void check_eqf(struct eval *e)
{
    int lo = e->a->scope.eqf_min, hi = e->a->scope.eqf_max, eqf = e->c->eqf;
    char range[40];

    if (lo <= 0 && hi <= 0)
        return;
    if (lo > 0 && hi > 0)
        snprintf(range, sizeof(range), "levels %d to %d", lo, hi);
    else if (lo > 0)
        snprintf(range, sizeof(range), "level %d and above", lo);
    else
        snprintf(range, sizeof(range), "levels up to %d", hi);
    if (eqf <= 0) {
        add_missing(e, E_EQF, "EQF level", "the EQF range of agreement %s (%s)", e->name, range);
        return;
    }
    if ((lo <= 0 || eqf >= lo) && (hi <= 0 || eqf <= hi))
        return;
    add_reason(e->p, R_EQF, "The credential is at EQF level %d; agreement %s covers %s.", eqf,
               e->name, range);
}

static bool has_ects(const struct rec_credential *c)
{
    return c->has_ects && isfinite(c->ects) && c->ects >= 0;
}

static void check_ects(struct eval *e)
{
    double min = e->a->scope.ects_min;

    if (!(min > 0))
        return;
    if (!has_ects(e->c)) {
        add_missing(e, E_ECTS, "ECTS credits", "the minimum of %g ECTS in agreement %s", min,
                    e->name);
        return;
    }
    if (e->c->ects + CREDIT_EPSILON < min)
        add_reason(e->p, R_ECTS_MIN, "The credential carries %g ECTS; agreement %s requires %g.",
                   e->c->ects, e->name, min);
}

static void check_mode(struct eval *e)
{
    char want[60];

    if (e->a->scope.nmodes == 0)
        return;
    list_join(want, sizeof(want), e->a->scope.modes, e->a->scope.nmodes);
    if (is_empty(e->c->mode)) {
        add_missing(e, E_MODE, "mode of delivery (form of participation)",
                    "the modes of agreement %s (%s)", e->name, want);
        return;
    }
    for (size_t i = 0; i < e->a->scope.nmodes; i++)
        if (e->a->scope.modes[i] != NULL && strcmp(e->a->scope.modes[i], e->c->mode) == 0)
            return;
    add_reason(e->p, R_MODE, "The credential was delivered %s; agreement %s covers %s only.",
               e->c->mode, e->name, want);
}

static void check_qa(struct eval *e)
{
    if (e->a->scope.requires_qa && !e->c->has_qa)
        add_reason(e->p, R_QA,
                   "Agreement %s requires quality assurance, and the credential names no "
                   "accreditation or quality-assurance statement.",
                   e->name);
}

/* A course equivalence for the credential's offer wins over electives: it is the
 * more specific promise. */
static int rule_find(const struct rec_agreement *a, const char *offer_id)
{
    for (size_t i = 0; offer_id != NULL && i < a->nrules; i++)
        if (a->rules[i].as == REC_AS_COURSE && a->rules[i].offer_id != NULL &&
            strcmp(a->rules[i].offer_id, offer_id) == 0)
            return (int)i;
    for (size_t i = 0; i < a->nrules; i++)
        if (a->rules[i].as == REC_AS_ELECTIVE)
            return (int)i;
    return -1;
}

static void check_cap(struct eval *e, const struct rec_rule *r)
{
    double cap = r->max_credits_per_term, total = e->this_term + e->p->credits;
    double fit = cap - e->this_term;

    if (r->as != REC_AS_ELECTIVE || !(cap > 0) || total <= cap + CREDIT_EPSILON)
        return;
    add_reason(e->p, R_CAP,
               "Recognising %g ECTS as electives would bring this term's total to %g, over the "
               "cap of %g per term in agreement %s (%g already recognised; %g would fit).",
               e->p->credits, total, cap, e->name, e->this_term, fit > 0 ? fit : 0);
}

static void apply_rule(struct eval *e)
{
    const struct rec_rule *r;
    int i = rule_find(e->a, e->c->offer_id);

    if (i < 0) {
        if (e->c->offer_id != NULL)
            add_reason(e->p, R_NO_RULE,
                       "Agreement %s has no course equivalence for offer %.40s and no elective "
                       "rule.",
                       e->name, e->c->offer_id);
        else
            add_reason(e->p, R_NO_RULE,
                       "Agreement %s has no elective rule, and the credential was not matched to "
                       "an offer that has a course equivalence.",
                       e->name);
        return;
    }
    r = &e->a->rules[i];
    e->p->rule = i;
    e->p->as = r->as;
    if (r->as == REC_AS_COURSE && r->home_course != NULL)
        shorten(e->p->course, sizeof(e->p->course), r->home_course);
    if (r->as == REC_AS_COURSE && isfinite(r->credits) && r->credits > 0) {
        e->p->credits = r->credits;
        e->p->has_credits = true;
    } else if (has_ects(e->c)) {
        e->p->credits = e->c->ects;
        e->p->has_credits = true;
    } else {
        add_missing(e, E_ECTS, "ECTS credits",
                    "the %s rule of agreement %s (it gives the "
                    "credential's ECTS)",
                    rec_as_name(r->as), e->name);
        return;
    }
    check_cap(e, r);
}

/* ---- grades ---- */

enum grade_why { G_OK, G_NONE, G_NO_GRADE, G_NO_FROM, G_NO_TO, G_NOT_FOUND };

/* s without surrounding spaces, as start and length. */
static const char *trim(const char *s, size_t *len)
{
    size_t n;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    *len = n;
    return s;
}

static bool grade_equal(const char *a, const char *b)
{
    size_t la, lb;
    const char *ta, *tb;

    if (a == NULL || b == NULL)
        return false;
    ta = trim(a, &la);
    tb = trim(b, &lb);
    return la == lb && memcmp(ta, tb, la) == 0;
}

static void grade_out(char out[64], const char *grade)
{
    size_t n;
    const char *t = trim(grade, &n);

    if (n > 63)
        n = 63;
    memcpy(out, t, n);
    out[n] = '\0';
    utf8_cut(out);
}

static enum grade_why map_convert(const struct rec_grade_conversion *g, const char *from,
                                  const char *grade, char out[64])
{
    for (size_t i = 0; i < g->nmaps; i++) {
        const struct rec_grade_map *m = &g->maps[i];
        if (m->institution == NULL || strcmp(m->institution, from) != 0)
            continue;
        for (size_t j = 0; j < m->n; j++) {
            if (grade_equal(m->entries[j].from, grade) && m->entries[j].to != NULL) {
                grade_out(out, m->entries[j].to);
                return G_OK;
            }
        }
        return G_NOT_FOUND;
    }
    return G_NO_FROM;
}

/* A party's table and its total percentage; NULL when it has none usable. */
static const struct rec_grade_table *table_of(const struct rec_grade_conversion *g,
                                              const char *institution, double *total)
{
    for (size_t i = 0; i < g->ntables; i++) {
        const struct rec_grade_table *t = &g->tables[i];
        double sum = 0;
        if (t->institution == NULL || strcmp(t->institution, institution) != 0)
            continue;
        for (size_t j = 0; j < t->nbands; j++) {
            if (!isfinite(t->bands[j].percent) || t->bands[j].percent < 0)
                return NULL;
            sum += t->bands[j].percent;
        }
        if (!(sum > 0))
            return NULL;
        *total = sum;
        return t;
    }
    return NULL;
}

/*
 * EGRACONS conversion: the issuer's grade covers the percentile interval
 * [lo, hi) of its passing students (best grade first); the target's grade is the
 * one whose interval holds the midpoint. Tables are normalised by their total, so
 * rows that sum to 99.9 or 100.1 after rounding convert the same way.
 */
static enum grade_why table_convert(const struct rec_grade_conversion *g, const char *from,
                                    const char *to, const char *grade, char out[64])
{
    const struct rec_grade_table *src, *dst;
    double stotal, dtotal, lo = 0, mid = -1, cum = 0;
    size_t last = 0;

    if ((src = table_of(g, from, &stotal)) == NULL)
        return G_NO_FROM;
    if ((dst = table_of(g, to, &dtotal)) == NULL)
        return G_NO_TO;
    for (size_t i = 0; i < src->nbands; i++) {
        double w = src->bands[i].percent / stotal * 100;
        if (grade_equal(src->bands[i].grade, grade)) {
            mid = lo + w / 2;
            break;
        }
        lo += w;
    }
    if (mid < 0)
        return G_NOT_FOUND;
    for (size_t j = 0; j < dst->nbands; j++) {
        double w = dst->bands[j].percent / dtotal * 100;
        if (!(w > 0) || dst->bands[j].grade == NULL)
            continue;
        last = j;
        if (mid < cum + w) {
            grade_out(out, dst->bands[j].grade);
            return G_OK;
        }
        cum += w;
    }
    /* the midpoint fell past 100 through rounding: the lowest passing grade */
    grade_out(out, dst->bands[last].grade);
    return G_OK;
}

static enum grade_why grade_convert(const struct rec_grade_conversion *g, const char *from,
                                    const char *to, const char *grade, char out[64])
{
    size_t n;

    out[0] = '\0';
    if (g == NULL || g->method == REC_GRADES_NONE)
        return G_NONE;
    if (grade == NULL || (trim(grade, &n), n == 0))
        return G_NO_GRADE;
    if (is_empty(from))
        return G_NO_FROM;
    if (g->method == REC_GRADES_MAP)
        return map_convert(g, from, grade, out);
    if (is_empty(to))
        return G_NO_TO;
    return table_convert(g, from, to, grade, out);
}

int rec_grade_convert(const struct rec_grade_conversion *g, const char *from_institution,
                      const char *to_institution, const char *grade, char out[64])
{
    return grade_convert(g, from_institution, to_institution, grade, out) == G_OK ? 0 : -1;
}

/* A grade that cannot be converted makes the proposal needs_review even when the
 * credits pass: the home institution records a grade in its own scale, and only a
 * registrar may decide what the foreign one is worth (Lisbon: written reasons). */
static void check_grade(struct eval *e)
{
    const struct rec_grade_conversion *g = &e->a->grades;
    const char *how = g->method == REC_GRADES_MAP ? "grade map" : "grading tables";
    const char *from = e->c->issuer != NULL ? e->c->issuer : "";
    const char *to = e->t->institution != NULL ? e->t->institution : "";
    char grade[64];

    switch (grade_convert(g, from, to, e->c->grade, e->p->grade)) {
    case G_OK:
    case G_NONE:
        return;
    case G_NO_GRADE:
        add_reason(e->p, R_GRADE,
                   "The credential states no grade, and agreement %s converts grades by its %s.",
                   e->name, how);
        return;
    case G_NO_FROM:
        add_reason(e->p, R_GRADE, "Agreement %s has no usable %s for %.64s.", e->name,
                   g->method == REC_GRADES_MAP ? "grade map" : "grading table", from);
        return;
    case G_NO_TO:
        add_reason(e->p, R_GRADE, "Agreement %s has no usable grading table for %.64s.", e->name,
                   to);
        return;
    case G_NOT_FOUND:
        shorten(grade, sizeof(grade), e->c->grade);
        add_reason(e->p, R_GRADE, "Grade \"%s\" is not in the %s of agreement %s for %.64s.", grade,
                   how, e->name, from);
        return;
    }
}

/* ---- proposing ---- */

static bool is_party(const struct rec_agreement *a, const char *institution)
{
    for (size_t i = 0; i < a->nparties; i++)
        if (a->parties[i] != NULL && strcmp(a->parties[i], institution) == 0)
            return true;
    return false;
}

static void agreement_name(const struct rec_agreement *a, char *out, size_t size)
{
    char text[80];

    if (!is_empty(a->title)) {
        shorten(text, sizeof(text), a->title);
        snprintf(out, size, "\"%s\"", text);
    } else {
        shorten(out, size, a->id != NULL ? a->id : "(no id)");
    }
    utf8_cut(out);
}

static void proposal_reset(struct rec_proposal *p)
{
    memset(p, 0, sizeof(*p));
    p->outcome = REC_NEEDS_REVIEW;
    p->rule = -1;
}

/* Runs every check, in the order a registrar reads them: is the agreement in
 * force, is the credential in its scope, what does it give, at what grade. */
static void evaluate(const struct rec_credential *c, const struct rec_agreement *a,
                     const struct rec_target *t, double this_term, const char *today,
                     struct rec_proposal *p)
{
    struct eval e = {.c = c, .a = a, .t = t, .this_term = this_term, .today = today, .p = p};

    proposal_reset(p);
    agreement_name(a, e.name, sizeof(e.name));
    if (a->id != NULL)
        shorten(p->agreement_id, sizeof(p->agreement_id), a->id);
    check_active(&e);
    check_dates(&e);
    check_isced(&e);
    check_eqf(&e);
    check_ects(&e);
    check_mode(&e);
    check_qa(&e);
    apply_rule(&e);
    check_grade(&e);
}

static void explain_no_agreement(const struct rec_credential *c, const char *home,
                                 struct rec_proposal *p)
{
    char name[100];

    if (is_empty(home)) {
        add_reason(p, R_NO_AGREEMENT, "The request names no target institution.");
        return;
    }
    if (is_empty(c->issuer)) {
        add_reason(p, R_NO_AGREEMENT,
                   "Without an identified issuer, no agreement of %.64s applies.", home);
        if (is_empty(c->issuer_name)) {
            add_reason(p, R_UNKNOWN_ISSUER, "The credential does not identify its issuer.");
            add_reason(p, R_MISSING,
                       "The credential does not state its issuer (awarding body), which the "
                       "choice of agreement needs.");
        } else {
            shorten(name, sizeof(name), c->issuer_name);
            add_reason(p, R_UNKNOWN_ISSUER,
                       "The credential's issuer, %s, is not an institution known to this node.",
                       name);
        }
        return;
    }
    if (strcmp(c->issuer, home) == 0) {
        add_reason(p, R_NO_AGREEMENT,
                   "The credential was issued by %.64s, the target institution itself; "
                   "agreements are for credits earned at another institution.",
                   home);
        return;
    }
    add_reason(p, R_NO_AGREEMENT, "%.64s has no agreement with %.64s.", home, c->issuer);
    if (!c->issuer_known)
        add_reason(p, R_UNKNOWN_ISSUER, "%.64s is not an institution known to this node.",
                   c->issuer);
}

void rec_propose(const struct rec_credential *c, const struct rec_agreement *agreements, size_t n,
                 const struct rec_target *target, double credits_this_term, const char *today,
                 struct rec_proposal *out)
{
    static const struct rec_credential no_credential;
    static const struct rec_target no_target;
    struct rec_proposal cur;
    const char *home;
    bool have_best = false;

    c = c != NULL ? c : &no_credential;
    target = target != NULL ? target : &no_target;
    home = target->institution;
    if (!isfinite(credits_this_term) || credits_this_term < 0)
        credits_this_term = 0;
    proposal_reset(out);
    for (size_t i = 0; i < n && !is_empty(home) && !is_empty(c->issuer); i++) {
        const struct rec_agreement *a = &agreements[i];
        if (strcmp(c->issuer, home) == 0 || !is_party(a, home) || !is_party(a, c->issuer))
            continue;
        evaluate(c, a, target, credits_this_term, today, &cur);
        if (cur.nreasons == 0) {
            *out = cur;
            out->outcome = REC_RECOGNISED;
            return;
        }
        if (!have_best || cur.nreasons < out->nreasons) {
            *out = cur;
            have_best = true;
        }
    }
    if (!have_best)
        explain_no_agreement(c, home, out);
    out->outcome = REC_NEEDS_REVIEW;
}

/* ---- names and JSON ---- */

const char *rec_reason_summary(const char *code)
{
    for (size_t i = 0; code != NULL && i < rec_nreason_codes; i++)
        if (strcmp(rec_reason_codes[i].code, code) == 0)
            return rec_reason_codes[i].summary;
    return NULL;
}

const char *rec_outcome_name(enum rec_outcome o)
{
    return o == REC_RECOGNISED ? "recognised" : "needs_review";
}

const char *rec_as_name(enum rec_as as)
{
    return as == REC_AS_COURSE ? "course" : "elective";
}

static void kv_string_or_null(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    if (is_empty(s))
        json_null(w);
    else
        json_string(w, s);
}

void rec_proposal_write_json(const struct rec_proposal *p, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    json_kv_string(&w, "outcome", rec_outcome_name(p->outcome));
    json_key(&w, "credits");
    if (p->has_credits)
        json_double(&w, p->credits);
    else
        json_null(&w);
    kv_string_or_null(&w, "grade", p->grade);
    kv_string_or_null(&w, "agreement", p->agreement_id);
    json_key(&w, "rule");
    if (p->rule >= 0)
        json_int(&w, p->rule);
    else
        json_null(&w);
    kv_string_or_null(&w, "as", p->rule >= 0 ? rec_as_name(p->as) : NULL);
    kv_string_or_null(&w, "course", p->course);
    json_key(&w, "reasons");
    json_array_begin(&w);
    for (size_t i = 0; i < p->nreasons; i++) {
        json_object_begin(&w);
        json_kv_string(&w, "code", p->reasons[i].code);
        json_kv_string(&w, "message", p->reasons[i].message);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
}
