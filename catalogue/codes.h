/*
 * codes.h — ISO 639 / ISO 3166 / Europass code tables and their EU Vocabularies
 * forms (authority codes, concept URIs). The ELM codecs (elm.c), the credential
 * builder (issuance/builder.c) and reader (recognition/credential.c) use them.
 */
#ifndef MCX_CODES_H
#define MCX_CODES_H

#include <stdbool.h>
#include <stddef.h>

#include "catalogue/offer.h"

/* A concept's URI is the prefix + its code; the scheme names the concept scheme. */
#define CODES_URI_LANGUAGE "http://publications.europa.eu/resource/authority/language/"
#define CODES_URI_LANGUAGE_SCHEME "http://publications.europa.eu/resource/authority/language"
#define CODES_URI_COUNTRY "http://publications.europa.eu/resource/authority/country/"
#define CODES_URI_COUNTRY_SCHEME "http://publications.europa.eu/resource/authority/country"
#define CODES_URI_MODE "http://data.europa.eu/snb/learning-assessment/"
#define CODES_URI_MODE_SCHEME "http://data.europa.eu/snb/learning-assessment/25831c2"

/* ---- languages (ISO 639) ---- */

/*
 * A language code (ASCII letters, any case) in mcx's form: ISO 639-1 where one
 * exists (a 639-2/T or 639-2/B code is mapped to it), else the code in lowercase.
 * False, and out "", when in is not 2 to size - 1 ASCII letters.
 */
bool codes_lang_canonical(const char *in, char *out, size_t size);

/*
 * Whether a code in mcx's form can name a language: two letters only if they are
 * an ISO 639-1 code (a typo would otherwise pass); any three letters, since the
 * table lists only the 639-2 codes that have a 639-1 code.
 */
bool codes_lang_is_known(const char *code);

/* A code in mcx's form to the EU language authority's (uppercase ISO 639-2/T); one
 * without a 639-1 entry is copied uppercased. Cut to size bytes. */
void codes_lang_authority(const char *code, char *out, size_t size);

/* ---- countries (ISO 3166-1) ---- */

/* The EU country authority's code (alpha-3; Kosovo "1A0") of an alpha-2 code in any
 * case; NULL when the table lacks it. */
const char *codes_country_authority(const char *alpha2);

/* The alpha-2 code of an alpha-2 or EU authority code in any case; NULL when the
 * table lacks it. */
const char *codes_country_alpha2(const char *code);

/* ---- Europass modes of learning and assessment ---- */

struct codes_mode {
    enum offer_mode mode;
    const char *id;    /* the concept's code, after CODES_URI_MODE */
    const char *label; /* its English label */
};

/* The concept of an offer mode; NULL for OFFER_MODE_UNKNOWN. */
const struct codes_mode *codes_mode_find(enum offer_mode mode);

/* The offer mode a concept URI names; OFFER_MODE_UNKNOWN for any other URI or NULL. */
enum offer_mode codes_mode_of_uri(const char *uri);

#endif
