/*
 * local.c — the `local` Europass adapter: completes a built credential the way the
 * EDCI issuer does at sealing time (the samples' README: `issued` and the issuer's
 * `eIDASIdentifier` are filled in by the issuer) and seals it as JAdES with the
 * institution's eSeal. Nothing here does I/O.
 */
#include "issuance/local.h"

#include <string.h>

#include "server/json.h"
#include "server/jsonparse.h"

static bool key_is(const struct json_value *obj, size_t i, const char *name)
{
    return strcmp(json_object_key_at(obj, i), name) == 0;
}

/* The legal identifier EDCI writes from the eSeal: the certificate's
 * organizationIdentifier, in the issuer's country (its address's countryCode). */
static void write_eidas(struct json_writer *w, const struct json_value *issuer,
                        const char *credential_id, const char *org_id)
{
    const struct json_value *country = json_object_get(
        json_object_get(json_object_get(issuer, "location"), "address"), "countryCode");
    struct buf id;

    buf_init(&id);
    buf_printf(&id, "urn:epass:legalIdentifier:%s",
               strncmp(credential_id, "urn:uuid:", 9) == 0 ? credential_id + 9 : credential_id);
    json_key(w, "eIDASIdentifier");
    json_object_begin(w);
    json_kv_string(w, "id", id.data);
    json_kv_string(w, "type", "LegalIdentifier");
    json_kv_string(w, "notation", org_id);
    if (json_is_object(country)) {
        json_key(w, "spatial");
        json_value_write(w, country);
    }
    json_object_end(w);
    buf_cleanup(&id);
}

static void write_issuer(struct json_writer *w, const struct json_value *issuer,
                         const char *credential_id, const char *org_id)
{
    json_object_begin(w);
    for (size_t i = 0; i < json_object_len(issuer); i++) {
        json_key(w, json_object_key_at(issuer, i));
        json_value_write(w, json_object_value_at(issuer, i));
    }
    if (org_id[0] != '\0' && json_object_get(issuer, "eIDASIdentifier") == NULL)
        write_eidas(w, issuer, credential_id, org_id);
    json_object_end(w);
}

int local_complete(const char *document, size_t len, const char *issued, const char *org_id,
                   struct buf *out, struct mcx_error *err)
{
    struct json_value *doc = json_parse(document, len, JSON_MAX_DEPTH, err);
    const struct json_value *issuer;
    const char *id;
    struct json_writer w;
    bool has_issued, has_issuance_date;

    if (doc == NULL)
        return -1;
    issuer = json_object_get(doc, "issuer");
    if (!json_is_object(issuer)) {
        json_value_free(doc);
        mcx_error_set(err, "invalid_argument", "the credential has no issuer object");
        return -1;
    }
    id = json_string_value(json_object_get(doc, "id"), NULL);
    has_issued = json_object_get(doc, "issued") != NULL;
    has_issuance_date = json_object_get(doc, "issuanceDate") != NULL;
    json_writer_init(&w, out);
    json_object_begin(&w);
    for (size_t i = 0; i < json_object_len(doc); i++) {
        json_key(&w, json_object_key_at(doc, i));
        if (key_is(doc, i, "issued") || key_is(doc, i, "issuanceDate"))
            json_string(&w, issued);
        else if (key_is(doc, i, "issuer"))
            write_issuer(&w, issuer, id != NULL ? id : "", org_id);
        else
            json_value_write(&w, json_object_value_at(doc, i));
        if (key_is(doc, i, "issuanceDate") && !has_issued) {
            json_kv_string(&w, "issued", issued);
            has_issued = true;
        }
    }
    if (!has_issued)
        json_kv_string(&w, "issued", issued);
    if (!has_issuance_date) /* the W3C data model (v1) requires it */
        json_kv_string(&w, "issuanceDate", issued);
    json_object_end(&w);
    json_value_free(doc);
    return 0;
}

int local_seal(const struct jades_key *k, const char *document, time_t now, struct buf *out,
               struct mcx_error *err)
{
    char issued[JADES_TIME_LEN + 1];
    struct tm tm;
    struct buf full;
    int rc;

    gmtime_r(&now, &tm);
    strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_init(&full);
    rc = local_complete(document, strlen(document), issued, jades_key_org_id(k), &full, err);
    if (rc == 0)
        rc = jades_seal(k, full.data, full.len, issued, out, err);
    buf_cleanup(&full);
    return rc;
}
