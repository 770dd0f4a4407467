/*
 * credential.h — reads a learner's credential (ELM 3 JSON-LD, sealed or not, or a
 * legacy ELM 2 XML europassCredential) into what the rules engine checks, plus what
 * the caller needs to find the issuer and the offer. Recognition requests call it.
 */
#ifndef MCX_CREDENTIAL_H
#define MCX_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "recognition/rules.h"
#include "server/jsonparse.h"
#include "server/util.h"

/* A credential is a few hundred KB with its images; anything past this is refused. */
#define REC_CREDENTIAL_MAX_BYTES (8u * 1024u * 1024u)
#define REC_CREDENTIAL_MAX_DEPTH 64
/* More ISCED-F codes than this on one specification are not read. */
#define REC_CREDENTIAL_MAX_ISCED 32

/*
 * What was read. It owns every string; cred points into it (cred.offer_id and
 * cred.issuer_known are left for the caller, which may also point cred.issuer at
 * an institution id it found by name). Release with rec_parsed_cleanup.
 */
struct rec_parsed {
    struct rec_credential cred;
    /* the issuer: the credential's issuer, else (DC4EU conversions name none) the
     * claim's awarding body */
    char *issuer_id;       /* SCHAC-like domain: a "schac" identifier, else the homepage's
                            * host without "www."; NULL when neither (cred.issuer is this) */
    char *issuer_name;     /* legal name (English when given), or NULL */
    char *issuer_country;  /* ISO 3166-1 alpha-2 ("IE"), or NULL */
    char *issuer_homepage; /* or NULL */
    /* to match an offer */
    char *credential_id;    /* the credential's own id, or NULL */
    char *specification_id; /* the claim's specification (Qualification, ...), or NULL */
    char *opportunity_id;   /* the claim's learning opportunity, or NULL */
    char *homepage;         /* the specification's homepage, or NULL */
    char *title;            /* the claim's title (English when given), else its specification's */
    char *grade;
    char **isced;
    size_t nisced;
    char awarded_on[11]; /* YYYY-MM-DD as written, "" when none */
    /* which field gave awarded_on: "awarding_date" (the claim's awarding process),
     * "issued" or "valid_from" (the credential's), NULL when none did */
    const char *awarded_on_source;
    const char *format; /* "elm3" or "elm2" */
    size_t nclaims;     /* claims of the kind read: achievements, else activities; the first
                         * is read, so more than 1 is a transcript the registrar should see */
    bool is_sealed;     /* ELM 3 read from a JAdES envelope's payload; the seal is NOT verified */
};

/*
 * An ELM 3 credential: a VerifiableCredential / EuropeanDigitalCredential, the
 * EDC issuer's upload wrapper {"credential": …}, or a sealed credential (JAdES JSON
 * serialisation, whose "payload" is read). 0 and *out, or -1 with out empty and err:
 *   "malformed_json"     not JSON, too deep, invalid UTF-8 (400)
 *   "too_large"          more than REC_CREDENTIAL_MAX_BYTES (413)
 *   "invalid_credential" JSON, but not a credential this can read (422): err->path is
 *                        a JSON pointer to the problem, err->line its line
 */
int rec_parse_elm3(const char *json, size_t len, struct rec_parsed *out, struct mcx_error *err);

/*
 * The same from a tree the caller already parsed (e.g. the "credential" member of a
 * request body). data/len are the text it was parsed from, for err->line (may be
 * NULL); err->path is relative to v.
 */
int rec_parse_elm3_value(const struct json_value *v, const char *data, size_t len,
                         struct rec_parsed *out, struct mcx_error *err);

/*
 * An ELM 2 europassCredential (credential schema 1.2, namespace
 * http://data.europa.eu/snb), read with no network, no DTD and no entities.
 * Errors as above with "malformed_xml" for XML that is not well-formed (400);
 * err->path is an element path such as /europassCredential/credentialSubject.
 */
int rec_parse_elm2(const char *xml, size_t len, struct rec_parsed *out, struct mcx_error *err);

void rec_parsed_cleanup(struct rec_parsed *p);

/*
 * Appends what was read as a JSON object (for the request's stored "credential"):
 * {"format","issuer":{"id","name","country","homepage"},"title","ects","eqf","isced",
 * "grade","awarded_on","awarded_on_source","mode","has_qa","credential_id",
 * "specification_id","opportunity_id","homepage","claims","sealed"}, null for absent.
 */
void rec_parsed_write_json(const struct rec_parsed *p, struct buf *out);

#endif
