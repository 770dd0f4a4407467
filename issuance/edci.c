/*
 * edci.c — see edci.h. The multipart body is written by hand (RFC 7578): two
 * parts, a boundary derived from the credential id, which cannot occur in the
 * JSON it separates (a UUID with a prefix no JSON string escape produces).
 */
#include "issuance/edci.h"

#include <stdio.h>
#include <string.h>

#include "issuance/builder.h"
#include "server/json.h"
#include "server/jsonparse.h"

static const char *member(const struct json_value *obj, const char *key)
{
    const struct json_value *v = obj != NULL ? json_object_get(obj, key) : NULL;

    return v != NULL ? json_string_value(v, NULL) : NULL;
}

int edci_request_build(const struct edci_config *cfg, const char *credential_id,
                       const char *document, const char *learner_json, struct edci_request *out,
                       struct mcx_error *err)
{
    struct json_value *learner = NULL;
    struct iss_learner l = {0};
    struct buf wrapper;
    char boundary[64];
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    buf_init(&out->url);
    buf_init(&out->body);
    if (learner_json != NULL) {
        learner = json_parse(learner_json, strlen(learner_json), 8, err);
        if (learner == NULL)
            return -1;
        l.given_name = member(learner, "given_name");
        l.family_name = member(learner, "family_name");
        l.email = member(learner, "email");
        l.date_of_birth = member(learner, "date_of_birth");
    }
    if (l.email == NULL) {
        json_value_free(learner);
        mcx_error_set(err, "edci", "the learner has no e-mail address to deliver to");
        return -1;
    }
    buf_init(&wrapper);
    if (iss_upload_wrapper(document, &l, true, false, &wrapper) != 0) {
        json_value_free(learner);
        buf_cleanup(&wrapper);
        mcx_error_set(err, "edci", "the credential is not a JSON document the issuer takes");
        return -1;
    }
    json_value_free(learner);

    snprintf(boundary, sizeof(boundary), "mcx-part-%s", credential_id);
    buf_printf(&out->url, "%s/api/%s/public/credentials/seal_and_send", cfg->url, cfg->api);
    buf_printf(&out->body,
               "--%s\r\nContent-Disposition: form-data; name=\"_file\"; "
               "filename=\"credential.json\"\r\nContent-Type: application/json\r\n\r\n",
               boundary);
    buf_append(&out->body, wrapper.data, wrapper.len);
    buf_cleanup(&wrapper);
    buf_printf(&out->body,
               "\r\n--%s\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n%s\r\n"
               "--%s--\r\n",
               boundary, cfg->seal_password, boundary);
    snprintf(out->content_type, sizeof(out->content_type), "multipart/form-data; boundary=%s",
             boundary);
    snprintf(out->idempotency_key, sizeof(out->idempotency_key), "%s", credential_id);
    out->headers[n++] = (struct client_header){"Content-Type", out->content_type};
    out->headers[n++] = (struct client_header){"Idempotency-Key", out->idempotency_key};
    out->headers[n++] = (struct client_header){"Accept", "application/json"};
    if (cfg->token[0] != '\0') {
        snprintf(out->authorization, sizeof(out->authorization), "Bearer %s", cfg->token);
        out->headers[n++] = (struct client_header){"Authorization", out->authorization};
    }
    client_request_init(&out->req, out->url.data);
    out->req.method = "POST";
    out->req.headers = out->headers;
    out->req.nheaders = n;
    out->req.body = out->body.data;
    out->req.body_len = out->body.len;
    out->req.timeout_ms = cfg->timeout_ms;
    out->req.max_body = (size_t)16 * 1024 * 1024;
    out->req.max_redirects = 0; /* the password must not follow a redirect elsewhere */
    return 0;
}

void edci_request_cleanup(struct edci_request *r)
{
    buf_cleanup(&r->url);
    buf_cleanup(&r->body);
}

/* The issuer's error JSON (code, message, description) as one sentence. */
static void issuer_error(const struct client_response *resp, struct edci_outcome *out)
{
    struct mcx_error err;
    struct json_value *v = json_parse(resp->body, resp->body_len, 8, &err);
    const char *message = v != NULL ? member(v, "message") : NULL;
    const char *code = v != NULL ? member(v, "code") : NULL;

    if (message != NULL)
        snprintf(out->error, sizeof(out->error), "the issuer answered %ld: %s%s%.300s",
                 resp->status, code ? code : "", code ? ": " : "", message);
    else
        snprintf(out->error, sizeof(out->error), "the issuer answered %ld: %.200s", resp->status,
                 resp->body_len ? resp->body : "(no body)");
    json_value_free(v);
}

void edci_read_response(const struct client_response *resp, struct edci_outcome *out)
{
    struct mcx_error err;
    struct json_value *v;

    memset(out, 0, sizeof(*out));
    buf_init(&out->europass);
    out->http_status = resp->status;
    if (resp->result != CLIENT_OK) {
        snprintf(out->error, sizeof(out->error), "no answer from the issuer (%s): %s",
                 client_result_name(resp->result), resp->error);
        return;
    }
    if (resp->status >= 200 && resp->status < 300) {
        v = json_parse(resp->body, resp->body_len, 16, &err);
        if (v == NULL || !json_is_object(v)) {
            snprintf(out->error, sizeof(out->error),
                     "the issuer answered %ld with something that is not a JSON object: %.120s",
                     resp->status, resp->body);
            json_value_free(v);
            return;
        }
        json_value_free(v);
        out->delivered = true;
        buf_append(&out->europass, resp->body, resp->body_len);
        return;
    }
    issuer_error(resp, out);
    /* 400/413/422 refuse this credential: sending it again cannot help. 401, 403, 404,
     * 405 and the like say the configuration (token, URL, proxy) is wrong: once an
     * operator fixes it, the retries deliver. */
    out->permanent = resp->status == 400 || resp->status == 413 || resp->status == 422;
}

void edci_outcome_cleanup(struct edci_outcome *o)
{
    buf_cleanup(&o->europass);
}
