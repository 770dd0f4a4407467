/*
 * local.h — the `local` Europass adapter (--europass-adapter local): mcx seals each
 * credential itself with the institution's eSeal (issuance/jades.c) instead of sending
 * it to an EDCI issuer, and keeps the sealed file in the registry for the learner to
 * download and add to their Europass wallet. The outbox (outbox.c) calls it.
 */
#ifndef MCX_LOCAL_H
#define MCX_LOCAL_H

#include <stddef.h>
#include <time.h>

#include "issuance/jades.h"
#include "server/util.h"

/*
 * Completes a credential document (as issuance/builder.c made it) the way the EDCI
 * issuer does when it seals one: `issued` and `issuanceDate` become issued
 * ("YYYY-MM-DDThh:mm:ssZ"; added when missing), and when org_id is not empty the top-level issuer
 * gets it as its `eIDASIdentifier` (a LegalIdentifier in the issuer's country), unless it has one.
 * Every other member is kept, in order. 0 with the document appended to out, or -1 with
 * err ("invalid_argument": not a JSON object, or one without an issuer object).
 */
int local_complete(const char *document, size_t len, const char *issued, const char *org_id,
                   struct buf *out, struct mcx_error *err);

/*
 * Completes the document as above at time now and seals it with k: the JAdES document
 * (jades_seal) appended to out. -1 with err as local_complete or jades_seal answer.
 */
int local_seal(const struct jades_key *k, const char *document, time_t now, struct buf *out,
               struct mcx_error *err);

#endif
