/*
 * agreement.h — reads a recognition agreement body (DESIGN §5), validates every
 * field, and produces the rules engine's view plus the canonical text whose SHA-256
 * the parties approve (as EWP IIAs do). The agreement handlers and store call it.
 *
 * Canonical form (what docs/recognition.md describes): one JSON object, no
 * whitespace, strings escaped as server/json.h writes them (only '"' and '\' are
 * ever escaped, since control characters are refused), keys in this order:
 *
 *   {"title":T,"parties":[P…],"valid_from":D,"valid_until":D|null,
 *    "scope":{"isced":[C…],"eqf_min":N|null,"eqf_max":N|null,"ects_min":X|null,
 *             "modes":[M…],"requires_qa":true|false},
 *    "rules":[R…],"grade_conversion":G|null}
 *
 *   R (in the given order: a proposal names its rule by index):
 *     {"recognise_as":"elective","max_credits_per_term":X|null}
 *     {"recognise_as":"course","offer_id":U,"home_course":S,"credits":X|null}
 *   G: {"method":"map","map":{P:{GRADE:GRADE,…},…}}
 *      {"method":"table","tables":{P:[{"grade":GRADE,"percent":X},…],…}}
 *
 * Normalisation, so that two bodies that mean the same give the same bytes:
 * parties sorted bytewise; isced de-duplicated, sorted bytewise, and a code
 * covered by a broader one listed too dropped ("06" covers "0613", so ["06","0613"]
 * is ["06"]); modes de-duplicated and sorted (blended, online, onsite); an empty
 * isced or modes list means "no constraint"; a missing or null scope, scope
 * constraint, valid_until, credits, max_credits_per_term or grade_conversion is
 * written null ([] for lists, false for requires_qa); ects_min 0 is no minimum and
 * written null; map parties and grades sorted bytewise, table parties sorted
 * bytewise, table rows in the given order (best grade first). Numbers carry at most
 * two decimals and are written in one form: 15, 2.5, 0.25 (15.0, 1.5e1 and 15.00
 * all become 15). Text is kept byte for byte (no Unicode normalisation, no trim).
 */
#ifndef MCX_AGREEMENT_H
#define MCX_AGREEMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "recognition/rules.h"
#include "server/jsonparse.h"
#include "server/util.h"

/* Limits: a real agreement is a few KB; 50 parties with 100-row tables fit. */
#define REC_AGREEMENT_MAX_BYTES (1024u * 1024u)
#define REC_AGREEMENT_MAX_DEPTH 10 /* the body nests 5 deep (a table row) */
#define REC_AGREEMENT_MAX_PARTIES 50
#define REC_AGREEMENT_MAX_RULES 50
#define REC_AGREEMENT_MAX_LIST 100   /* isced codes, modes (before de-duplication) */
#define REC_AGREEMENT_MAX_GRADES 100 /* grades of one party's map or table */
#define REC_AGREEMENT_MAX_TITLE 300
#define REC_AGREEMENT_MAX_COURSE 100
#define REC_AGREEMENT_MAX_GRADE 32
#define REC_AGREEMENT_MAX_CREDITS 300 /* ECTS: five years of full-time study */

/*
 * A parsed, validated agreement body: the engine's view plus its canonical form.
 * Owns every string. ag points only into heap storage held here (never into the
 * struct itself), so the struct may be moved. Treat the fields after hash as private.
 */
struct rec_agreement_doc {
    struct rec_agreement ag; /* id, active and terminated_on are left NULL/false for the caller */
    struct buf canonical;    /* the canonical JSON of the content (above) */
    char hash[65];           /* lowercase hex SHA-256 of canonical */

    struct json_value *tree; /* the parsed body: ag's strings point into it */
    const char **parties;    /* ag.parties, sorted */
    const char **isced;      /* ag.scope.isced */
    const char **modes;      /* ag.scope.modes (static strings) */
    struct rec_rule *rules;  /* ag.rules */
    struct rec_grade_map *maps;
    struct rec_grade_map_entry *entries; /* every map's entries, map after map */
    struct rec_grade_table *tables;
    struct rec_grade_band *bands; /* every table's rows, table after table */
};

/*
 * Parses and validates json[0..len) into out, which need not be initialised (one
 * holding an earlier parse must be cleaned up first: it is overwritten).
 * 0 on success. -1 on failure, out left empty (cleanup is still safe), and err:
 * code "malformed_json" when the body is not JSON at all (syntax, invalid UTF-8,
 * nesting deeper than REC_AGREEMENT_MAX_DEPTH, duplicate keys: answer 400), else
 * code "invalid_agreement" with err->path the offending field's path and
 * err->message "PATH: what it must be", e.g. "scope.eqf_min: an integer from 1 to
 * 8", "rules[1].offer_id: a UUID …", "parties: at least two distinct institution
 * ids", "grade_conversion.map[\"uab.cat\"][\"A\"]: …". The first problem found is
 * reported. Unknown fields are refused (a typo must not silently drop a
 * constraint), except the read-only fields a client may echo back from a GET: id,
 * hash, status, approvals, created_at, updated_at, terminated_on. So are rules the
 * engine would never apply: a second elective rule, a second course rule for one
 * offer (rec_propose takes the first).
 */
int rec_agreement_parse(const char *json, size_t len, struct rec_agreement_doc *out,
                        struct mcx_error *err);

/* Frees what d owns and zeroes it; safe on a zeroed or failed doc, on NULL, and twice. */
void rec_agreement_doc_cleanup(struct rec_agreement_doc *d);

#endif
