/*
 * builder.h — credential templates, the Annex I completeness check, and offer + template +
 * learner + result → an unsigned ELM 3 credential (JSON-LD). Pure code, for the issuance
 * handlers, the intake and the Europass adapters.
 */
#ifndef MCX_ISS_BUILDER_H
#define MCX_ISS_BUILDER_H

#include <stdbool.h>
#include <stddef.h>

#include "catalogue/offer.h"
#include "server/util.h"

#define ISS_W3C_CONTEXT_URL "https://www.w3.org/2018/credentials/v1"
#define ISS_EDC_CONTEXT_URL "http://data.europa.eu/snb/model/context/edc-ap"

/* A template is a small form; anything bigger is refused before parsing. */
#define ISS_TEMPLATE_MAX_BYTES (256u * 1024u)
#define ISS_TEXT_MAX_BYTES 4000u /* one text of a language map */
#define ISS_URL_MAX_BYTES 2048u
#define ISS_MAX_LANGUAGES 32u /* per language map */
#define ISS_MAX_OUTCOMES 64u
#define ISS_MAX_ISCED 16u
#define ISS_ECTS_MAX 300.0 /* a micro-credential; a whole master's is 120 */

/* The awarding body: the institution that awards and seals the credential. */
struct iss_org {
    char *id;             /* SCHAC-like institution id, e.g. "vdu.lt" */
    struct lang_map name; /* legal name */
    char country[3];      /* ISO 3166-1 alpha-2, uppercase */
    char *homepage;       /* http(s) URL or NULL */
};

/*
 * What an institution agrees once per offer (or as its default). Absent optional
 * fields are empty: n == 0 maps, has_ects false, eqf 0, NULL strings, "" language.
 * Language keys are canonical (ISO 639-1 where one exists, lowercase) and every map
 * is sorted by language.
 */
struct iss_template {
    struct iss_org awarding_body; /* required */
    struct lang_map title;
    struct lang_map *learning_outcomes; /* one map per outcome */
    size_t noutcomes;
    bool has_ects;
    double ects;  /* 0..300, at most 2 decimals */
    int eqf;      /* 1..8, 0 = not set */
    char **isced; /* ISCED-F codes, 2-4 digits */
    size_t nisced;
    struct lang_map assessment;
    struct lang_map quality_assurance;
    char *eseal_profile; /* which eSeal configuration seals it; NULL = the default */
    bool has_delivery;   /* false: the caller's default applies */
    bool deliver_email, deliver_wallet;
    char language[4]; /* the credential's primary language, "" = not set */
};

void iss_template_init(struct iss_template *t);
void iss_template_cleanup(struct iss_template *t);

/*
 * Validates and canonicalises a template:
 *   {"awarding_body":{"id","name":{lang:text},"country","homepage"?},
 *    "title"?, "learning_outcomes"?:[{lang:text}], "ects"?, "eqf"?, "isced"?:["0613"],
 *    "assessment"?, "quality_assurance"?, "eseal_profile"?,
 *    "delivery"?:{"email"?:bool,"wallet"?:bool}, "language"?}
 * Unknown keys are refused; null stands for an absent optional field. Rules: language
 * keys 2-3 letters (2 letters: a known ISO 639-1 code; 3-letter ISO 639-2 codes with a
 * 639-1 twin become it), texts 1..4000 bytes, not blank, no control characters but
 * tab and newlines; ECTS 0-300 with at most 2 decimals; EQF an integer 1-8; ISCED-F
 * 2-4 digits, no repeats; URLs http(s) with a host; country a known ISO alpha-2 code;
 * eseal_profile 1-64 of [A-Za-z0-9._-]. out is overwritten (not freed first); on
 * failure it is left empty and err says why: code "invalid_template", err->path a
 * JSON pointer (e.g. /awarding_body/name/en), err->line its line, and the message
 * names the field (awarding_body.name.en).
 */
int iss_template_parse(const char *json, size_t len, struct iss_template *out,
                       struct mcx_error *err);

/* The canonical JSON: fixed key order, absent fields left out, maps sorted by
 * language, no whitespace. Parsing it gives the same template and the same bytes. */
void iss_template_write_json(const struct iss_template *t, struct buf *out);

/*
 * The mandatory elements of the Council Recommendation of 16 June 2022 on
 * micro-credentials (Annex I, part I) that the offer and template can carry, checked
 * after the template filled the offer (as iss_build_credential does): "title",
 * "awarding_body", "country" (of the issuer), "learning_outcomes", "ects" (notional
 * workload), "eqf" (level), "assessment" (type of assessment), "mode" (form of
 * participation), "quality_assurance" — in that order, the names offer_completeness
 * uses. The learner's identification and the date of issuing are the builder's
 * inputs and always present. Writes at most max names (ISS_COMPLETENESS_MAX is
 * enough) and returns how many it wrote; an offer_json that is not a JSON object
 * lacks everything. t may be NULL.
 */
#define ISS_COMPLETENESS_MAX 9
size_t iss_completeness(const char *offer_json, const struct iss_template *t, const char *missing[],
                        size_t max);

struct iss_learner {
    const char *given_name, *family_name; /* at least one */
    const char *email;                    /* or NULL */
    const char *date_of_birth;            /* YYYY-MM-DD or NULL */
};

struct iss_result {
    const char *grade; /* or NULL */
    double ects;       /* credit received, when has_ects */
    bool has_ects;
    const char *date; /* YYYY-MM-DD awarded, or NULL */
};

struct iss_build {
    /* "urn:uuid:<registry uuid>" (lowercase); every nested id derives from it
     * ("urn:epass:learningAchievement:<uuid>"), so building twice gives the same bytes */
    const char *credential_id;
    const char *offer_json;              /* the offer as offers_api_json gives it */
    const struct iss_template *template; /* may be NULL: the offer alone */
    const struct iss_learner *learner;
    const struct iss_result *result; /* may be NULL: no grade, credit or awarding date */
    const char *issued_at;           /* RFC 3339 UTC (…Z): issuanceDate and validFrom */
};

/*
 * Appends the credential to out: an ELM 3 European Digital Credential shaped like
 * the EC micro-credential sample (Sample-MC-Annex1-unsigned.jsonld): @context W3C
 * credentials v1 + edc-ap, the "Generic" credential profile, displayParameter
 * (title and languages; the sealer renders the images), credentialSubject (Person)
 * whose hasClaim is a LearningAchievement specifiedBy a Qualification when an EQF
 * level is known (ELM puts EQFLevel on qualifications only, as the sample does),
 * else a LearningAchievementSpecification; provenBy a LearningAssessment with the
 * grade; awardedBy an AwardingProcess whose awardingBody is the issuer.
 *
 * Who wins: the template's awarding_body and title replace the offer's (the
 * institution agreed them for its credentials; eseal_profile, which no offer has,
 * is for the adapter that seals and never in the document); its learning outcomes,
 * ECTS, EQF, ISCED-F codes, assessment and quality assurance only fill what the
 * offer lacks (a whole field: an offer's assessment in Lithuanian only is kept).
 * Without a template the issuer is the offer's institution (id, country; the
 * source document's multilingual provider name and homepage when it has them).
 *
 * Left to the sealer, as EDCI does at sealing time: issued, the issuer's
 * eIDASIdentifier, displayParameter.individualDisplay (the rendered pages).
 *
 * On failure out is unchanged and err has code "build_failed", err->path the input
 * at fault (credential_id, offer_json, title, issuer, issuer.country, learner,
 * learner.given_name, learner.family_name, learner.email, learner.date_of_birth,
 * result.grade,
 * result.ects, result.date, issued_at) and a message.
 */
int iss_build_credential(const struct iss_build *b, struct buf *out, struct mcx_error *err);

/*
 * Wraps a built credential for the EDCI issuer's upload ({"credential":…,
 * "deliveryDetails":{"deliveryAddress":[…]}}). EDCI treats an address that is an
 * e-mail address as the learner's Europass wallet account (and notifies by e-mail
 * when the issuer is configured to), anything else as a wallet address; mcx knows
 * the e-mail only, so email or wallet delivery both list it once, and neither
 * gives an empty list (seal only). -1 (out unchanged) when credential_json is not
 * an unsealed credential object, or delivery is asked for without a usable e-mail.
 */
int iss_upload_wrapper(const char *credential_json, const struct iss_learner *l, bool email,
                       bool wallet, struct buf *out);

#endif
