/*
 * jades.h — seals a credential as a JAdES baseline-B signature (ETSI TS 119 182-1) in the
 * JWS JSON serialisation EDCI uses, with the institution's eSeal key, and verifies such
 * seals. The `local` Europass adapter seals with it; the verification page and tests read.
 */
#ifndef MCX_JADES_H
#define MCX_JADES_H

#include <stddef.h>
#include <time.h>

#include "server/util.h"

#define JADES_MIN_RSA_BITS 2048 /* RFC 7518 §3.3: RS256 keys of 2048 bits or more */
#define JADES_MAX_CHAIN 8       /* certificates in x5c, leaf first */
#define JADES_SUBJECT_SIZE 1024 /* enough for any eSeal subject DN jades_verify reports */
#define JADES_TIME_LEN 20       /* "2026-05-31T12:00:00Z" */
#define JADES_ORG_ID_SIZE 128   /* an organizationIdentifier, "VATLT-100002513" */

/* A private key with its certificate chain (leaf first), checked at load time. */
struct jades_key;

/*
 * Loads the eSeal key from PEM: key_path holds the private key (PKCS#8 or traditional
 * RSA, optionally encrypted with password, which may be NULL when it is not), chain_path
 * the certificates, leaf first, each next one the issuer of the one before (it may be
 * the key file itself). PKCS#12: one file and its password. Both check that the key is
 * RSA of at least JADES_MIN_RSA_BITS, matches the leaf, that the chain links up, that
 * every certificate is valid at now and that the leaf's key usage (when present) allows
 * signatures. 0 with *out (free with jades_key_free), or -1 with err code "eseal_config"
 * and a message that says what to fix. The password is not kept, copied or logged.
 */
int jades_key_load_pem(const char *key_path, const char *chain_path, const char *password,
                       time_t now, struct jades_key **out, struct mcx_error *err);
int jades_key_load_p12(const char *p12_path, const char *password, time_t now,
                       struct jades_key **out, struct mcx_error *err);
void jades_key_free(struct jades_key *k);

/* The leaf certificate's subject (RFC 2253, UTF-8), and its organizationIdentifier
 * (the eIDAS legal identifier, "VATLT-100002513"), "" when it has none. */
const char *jades_key_subject(const struct jades_key *k);
const char *jades_key_org_id(const struct jades_key *k);

/* The leaf certificate's notAfter, so that operators can be warned before it lapses. */
time_t jades_key_not_after(const struct jades_key *k);

/*
 * Seals payload[0..len) (the credential JSON, bytes as given; valid UTF-8) and appends
 * the JAdES-B-B document to out:
 *
 *   {"payload":"<payload as a JSON string>",
 *    "signatures":[{"protected":"<BASE64URL(header)>","signature":"<BASE64URL(RS256)>"}]}
 *
 * with the protected header, in this order,
 *   {"alg":"RS256","cty":"octet-stream","kid":"<base64 DER IssuerSerial of the leaf>",
 *    "x5t#S256":"<base64url SHA-256 of the leaf>","x5c":["<base64 DER>",...],
 *    "typ":"jose+json","b64":false,"iat":<signing time, seconds>,"crit":["b64"]}
 *
 * and the signature over ASCII(BASE64URL(header)) || '.' || payload (RFC 7797 §3). The
 * claimed signing time is iat, not sigT: TS 119 182-1 V1.2.1 deprecates sigT for
 * signatures made from 2025-07-15 on. signing_time is "YYYY-MM-DDThh:mm:ssZ" (UTC, no
 * fraction: iat has none), within every certificate's validity. -1 with err code
 * "invalid_argument" (time, UTF-8, size), "eseal_config" (certificate not valid at
 * signing_time) or "crypto_failed"; out is then as it was.
 */
int jades_seal(const struct jades_key *k, const char *payload, size_t len, const char *signing_time,
               struct buf *out, struct mcx_error *err);

/*
 * Verifies a sealed document: the general JSON serialisation with one signature (or the
 * flattened one), an unencoded payload (b64 false, listed in crit), alg RS256 only, every
 * crit name understood (b64, iat, sigT; adoTst is accepted but its timestamp tokens are
 * not checked), a claimed signing time (iat or sigT, not both), x5c whose certificates
 * each certify the one before, x5t#S256 (and kid when present) naming the leaf, the leaf
 * an RSA key of at least JADES_MIN_RSA_BITS valid at the claimed signing time, and the
 * signature with the leaf's key. Unsigned properties (etsiU: sigTst and the like) are
 * not checked. The chain is NOT checked against a trust list, nor revocation: a caller
 * that must know the sealer is a qualified eSeal of a known institution checks the x5c
 * chain against the EU trusted lists itself.
 *
 * 0 with the payload bytes appended to payload_out and, when subject_out is not NULL,
 * the leaf's subject (RFC 2253, UTF-8) in it; or -1 with err code "jades_malformed"
 * (syntax, encodings, limits), "jades_unsupported" (alg, b64, crit, serialisation),
 * "jades_bad_certificate" (x5c, x5t#S256, kid, key, validity) or "jades_bad_signature",
 * or "invalid_argument" when subject_size cannot hold the subject.
 */
int jades_verify(const char *sealed, size_t len, struct buf *payload_out, char *subject_out,
                 size_t subject_size, struct mcx_error *err);

#endif
