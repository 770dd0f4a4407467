/*
 * export.h — a student's credit-transfer records written for the home institution's
 * student information system: CSV (RFC 4180) and an EMREX ELMO 1.7 document. The
 * /api/v1/credit-transfers handler calls these with rows it has read; no I/O here.
 */
#ifndef MCX_EXPORT_H
#define MCX_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "server/util.h"

#define REC_ELMO_NS "https://github.com/emrex-eu/elmo-schemas/tree/v1"
/* mcx's own elements inside ELMO <extension> (lax, so any consumer may ignore them). */
#define REC_EXPORT_NS "https://mcx.example/ns/recognition/v1"

/* One decided recognition: what the home institution records. Strings may be NULL. */
struct rec_transfer {
    const char *id; /* credit transfer uuid */
    const char *request_id;
    const char *outcome;            /* recognised | partially_recognised | not_recognised */
    const char *decided_at;         /* RFC 3339 UTC, "2027-03-01T10:00:00Z" */
    const char *programme, *course; /* at the home institution (target) */
    double credits;                 /* ECTS recognised */
    bool has_credits;
    const char *grade; /* converted grade at home */
    /* the credential it recognises */
    const char *title; /* of the achievement / course taken */
    /* the awarding institution: SCHAC id, name, ISO 3166-1 alpha-2 */
    const char *issuer_id, *issuer_name, *issuer_country;
    const char *awarded_on;     /* YYYY-MM-DD */
    const char *original_grade; /* as the credential states it */
    double original_ects;
    bool has_original_ects;
    int eqf;              /* 0 = unknown */
    const char *isced;    /* first ISCED-F code or NULL */
    const char *offer_id; /* mcx offer uuid or NULL */
};

/* The student. Names may be NULL: ELMO needs both elements and asks for an empty string
 * when one is unknown; with neither known, the given names are the e-mail's local part
 * (or "Unknown"), so that the document still names someone. */
struct rec_learner {
    const char *id, *email, *given_names, *family_name;
};

/* The institution issuing the export: SCHAC id, name, ISO alpha-2, and its homepage
 * (ELMO requires one; NULL: https://<id>/, a SCHAC id being the institution's domain). */
struct rec_home {
    const char *id, *name, *country, *url;
};

/*
 * Appends the CSV (RFC 4180: CRLF line ends, quotes doubled, a header row; UTF-8 with
 * invalid bytes replaced by U+FFFD) of t[0..n), every outcome included, columns:
 * transfer_id,request_id,student_id,student_email,home_institution,programme,course,
 * outcome,credits,grade,credential_title,issuer,issuer_name,issuer_country,awarded_on,
 * original_grade,original_ects,eqf,isced,offer_id,decided_at
 * NULL strings, absent numbers and eqf 0 are empty cells; numbers have no trailing zeros
 * (2.5, 5). Text cells starting with = + - @ TAB or CR get a leading ' so spreadsheets
 * do not run them as formulas. l and h may be NULL (their cells are empty).
 */
void rec_export_csv(const struct rec_learner *l, const struct rec_home *h,
                    const struct rec_transfer *t, size_t n, struct buf *out);

/*
 * Appends an ELMO 1.7 document (namespace REC_ELMO_NS, valid against the EMREX
 * schema.xsd 1.7.0): generatedDate, the learner, and one report issued by h
 * (identifier type "schac") holding each recognised or partially recognised transfer as
 * a "Course" learningOpportunitySpecification: title "<title> (<issuer name>)" as the
 * ELMO example marks a course recognised from elsewhere, iscedCode, a plain-text
 * description of where it comes from, and one learningOpportunityInstance (identifier
 * "mcx-credit-transfer", date awarded, status passed, resultLabel the converted grade,
 * credit ects, EQF level, and an REC_EXPORT_NS <recognition> extension with the outcome,
 * decision time, target and the original issuer, grade and ECTS). not_recognised
 * transfers are left out: ELMO 1.x lists credits obtained, and its only other statuses,
 * failed and in-progress, would misstate the student's result (the CSV keeps them).
 * generated: the xs:dateTime to stamp, with a time zone (the caller passes now).
 * 0, or -1 with err "invalid_argument" (err->path names the field) on a value that
 * cannot be written: a malformed date or time, an unknown outcome, a credit value that
 * is negative or not finite, an EQF level outside 1-8, no home institution id; out is
 * then left as it was.
 */
int rec_export_elmo(const struct rec_learner *l, const struct rec_home *h,
                    const struct rec_transfer *t, size_t n, const char *generated, struct buf *out,
                    struct mcx_error *err);

#endif
