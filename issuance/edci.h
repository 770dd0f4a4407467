/*
 * edci.h — the self-hosted EDCI issuer's public API (samples/elm/README.md, "EDCI
 * issuer API"): one credential per request to …/api/v2/public/credentials/
 * seal_and_send, multipart/form-data with the upload wrapper in part _file and the
 * seal certificate's password in part password. What changes between EDCI
 * releases lives in this file and edci.c alone; the outbox (outbox.c) calls it.
 */
#ifndef MCX_EDCI_H
#define MCX_EDCI_H

#include <stdbool.h>

#include "server/client.h"
#include "server/util.h"

struct edci_config {
    const char *url;           /* the issuer's base, e.g. https://host/europass2/edci-issuer */
    const char *api;           /* "v2" */
    const char *seal_password; /* "" when the issuer needs none */
    const char *token;         /* bearer token for the authentication in front, or "" */
    long timeout_ms;
};

/* One request, owning what the client_request points at. */
struct edci_request {
    struct client_request req;
    struct client_header headers[4];
    struct buf url, body;
    char content_type[96], idempotency_key[64], authorization[600];
};

/*
 * Builds the request that seals and sends credential document (the ELM JSON-LD
 * as stored) to the learner (learner_json: {"given_name","family_name","email",…},
 * may be NULL): the wrapper's deliveryDetails take the learner's e-mail. The
 * credential id goes in Idempotency-Key: a resend after a crash names the same
 * credential. 0, or -1 with err when the document or learner cannot be sent.
 */
int edci_request_build(const struct edci_config *cfg, const char *credential_id,
                       const char *document, const char *learner_json, struct edci_request *out,
                       struct mcx_error *err);
void edci_request_cleanup(struct edci_request *r);

/* How a request ended, for outbox_finish. */
struct edci_outcome {
    bool delivered;      /* the issuer sealed and sent it */
    bool permanent;      /* it refused the credential itself: a retry would not help */
    long http_status;    /* 0 when no response came */
    char error[512];     /* one sentence when not delivered */
    struct buf europass; /* the issuer's answer as JSON (viewer URLs), when delivered */
};

/*
 * Reads the response: 2xx with a JSON object is delivered (seal_and_send answers
 * {"viewerURL":[…]}); 400, 413 and 422 are the issuer refusing the credential
 * (permanent, with its message); anything else (no response, 5xx, an answer that is
 * not JSON, 401/403/404 from a wrong token or URL) is worth a retry.
 */
void edci_read_response(const struct client_response *resp, struct edci_outcome *out);
void edci_outcome_cleanup(struct edci_outcome *o);

#endif
