/*
 * rules.h — the recognition rules engine: given what a credential says and the
 * target institution's agreements, propose "recognised" or "needs_review" with
 * reasons. Pure code (no I/O, no state); the recognition request handlers call it.
 */
#ifndef MCX_RULES_H
#define MCX_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "server/util.h"

enum rec_outcome { REC_RECOGNISED, REC_NEEDS_REVIEW };
enum rec_as { REC_AS_ELECTIVE, REC_AS_COURSE };

/* One party's grade -> the target institution's grade. */
struct rec_grade_map_entry {
    const char *from, *to;
};

/* The explicit grade map of one issuing party. */
struct rec_grade_map {
    const char *institution;
    const struct rec_grade_map_entry *entries;
    size_t n;
};

/* An ECTS grading table row (EGRACONS): the percentage of passing students with that grade. */
struct rec_grade_band {
    const char *grade;
    double percent;
};

/* One party's grading table, best grade first. */
struct rec_grade_table {
    const char *institution;
    const struct rec_grade_band *bands;
    size_t nbands;
};

struct rec_grade_conversion {
    enum { REC_GRADES_NONE, REC_GRADES_MAP, REC_GRADES_TABLE } method;
    /* map: per issuing party, its grade -> the target institution's grade */
    struct rec_grade_map *maps;
    size_t nmaps;
    /* table: a percentile table per party (EGRACONS): convert by cumulative percentage */
    const struct rec_grade_table *tables;
    size_t ntables;
};

struct rec_rule {
    enum rec_as as;
    double max_credits_per_term; /* elective: cap (0 = none) */
    const char *offer_id;        /* course: the partner offer it applies to (uuid) */
    const char *home_course;     /* course: the home course code */
    double credits;              /* course: credits given (0 = the credential's ECTS) */
};

struct rec_agreement {
    const char *id, *title;
    const char *const *parties; /* institution ids */
    size_t nparties;
    const char *valid_from, *valid_until; /* YYYY-MM-DD, valid_until may be NULL */
    const char *terminated_on;            /* YYYY-MM-DD or NULL */
    bool active;                          /* every party approved the current hash */
    struct {
        const char *const *isced; /* "06" covers "061" and "0613" */
        size_t nisced;
        int eqf_min, eqf_max;
        double ects_min;
        const char *const *modes; /* "online" | "blended" | "onsite" */
        size_t nmodes;
        bool requires_qa;
    } scope; /* 0/NULL = no constraint */
    const struct rec_rule *rules;
    size_t nrules;
    struct rec_grade_conversion grades;
};

/* What a credential says, after parsing (recognition/credential.h fills most of it). */
struct rec_credential {
    const char *issuer;      /* institution id (SCHAC code, e.g. "uab.cat") or NULL */
    const char *issuer_name; /* for messages when issuer is NULL; may be NULL */
    bool issuer_known;       /* the caller found it among the node's institutions */
    const char *offer_id;    /* the catalogue offer it was matched to, or NULL */
    const char *title;
    double ects;
    bool has_ects;
    int eqf; /* 0 = not stated */
    const char *const *isced;
    size_t nisced;
    const char *grade;      /* or NULL */
    const char *awarded_on; /* YYYY-MM-DD or NULL */
    const char *mode;       /* "online" | "blended" | "onsite" or NULL */
    bool has_qa;
};

struct rec_target {
    const char *institution, *programme, *course;
};

struct rec_reason {
    const char *code; /* one of rec_reason_codes[].code */
    char message[256];
};

#define REC_MAX_REASONS 16

struct rec_proposal {
    enum rec_outcome outcome;
    double credits;
    bool has_credits;
    char grade[64];        /* converted grade, "" when none */
    char agreement_id[64]; /* the agreement that applied, "" when none */
    int rule;              /* index into its rules, -1 when none */
    enum rec_as as;        /* the rule's kind, when rule >= 0 */
    char course[128];      /* a course rule's home course, "" otherwise */
    struct rec_reason reasons[REC_MAX_REASONS];
    size_t nreasons;
};

/*
 * Proposes what the target institution should do with credential c under
 * agreements[0..n) (the target's agreements; those without both the target and
 * the issuer among their parties are skipped). credits_this_term: ECTS already
 * recognised for this student at the target in the credential's term (for
 * max_credits_per_term). today: YYYY-MM-DD. The first agreement that passes every
 * check gives "recognised"; otherwise "needs_review" with the reasons of the
 * agreement that failed the fewest checks. Never a needs_review without a reason.
 */
void rec_propose(const struct rec_credential *c, const struct rec_agreement *agreements, size_t n,
                 const struct rec_target *target, double credits_this_term, const char *today,
                 struct rec_proposal *out);

/*
 * Converts grade, given by from_institution, to to_institution's scale under g:
 * 0 with the grade in out, -1 (out "") when g has no conversion, no map or table
 * for a party, or the grade is not in it. out must hold 64 bytes.
 */
int rec_grade_convert(const struct rec_grade_conversion *g, const char *from_institution,
                      const char *to_institution, const char *grade, char out[64]);

/* Does scope code (e.g. "06") cover credential code (e.g. "0613")? */
bool rec_isced_covers(const char *scope_code, const char *code);

/* The fixed list of reason codes with a one-line explanation each (for docs and the API). */
struct rec_reason_code {
    const char *code, *summary;
};
extern const struct rec_reason_code rec_reason_codes[];
extern const size_t rec_nreason_codes;

/* The summary of code, or NULL when it is not one of rec_reason_codes. */
const char *rec_reason_summary(const char *code);
const char *rec_outcome_name(enum rec_outcome o); /* "recognised" | "needs_review" */
const char *rec_as_name(enum rec_as as);          /* "elective" | "course" */

/*
 * Appends p as the API's proposal object (DESIGN §5):
 * {"outcome","credits","grade","agreement","rule","as","course","reasons":[{"code","message"}]},
 * null for what is absent.
 */
void rec_proposal_write_json(const struct rec_proposal *p, struct buf *out);

#endif
