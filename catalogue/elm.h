/*
 * elm.h — ELM 3 JSON-LD (the edc-ap vocabulary of European Digital Credentials)
 * to and from an offer. The publishing handlers (PUT with application/ld+json),
 * the harvester (format "elm") and the offer reader (Accept: application/ld+json)
 * call it.
 */
#ifndef MCX_ELM_H
#define MCX_ELM_H

#include <stdbool.h>
#include <stddef.h>

#include "catalogue/offer.h"
#include "server/util.h"

/* The edc-ap context exactly as EDC documents reference it. */
#define ELM_CONTEXT_URL "http://data.europa.eu/snb/model/context/edc-ap"

/*
 * Reads one learning opportunity from an ELM 3 JSON-LD document: a
 * LearningOpportunity, a LearningAchievementSpecification or Qualification on
 * its own, or a European Digital Credential (its first claim's specification),
 * optionally wrapped as {"credential": …}. out is overwritten (not freed first):
 * pass a fresh or offer_init'ed offer. On failure out is left empty and err says
 * why: code "malformed_json" (not JSON: answer 400) or "validation_failed" (JSON
 * but not a usable learning opportunity: 422), with err->path a JSON pointer and
 * err->line the line of the offending value.
 */
int elm_parse_offer(const char *data, size_t len, struct offer *out, struct mcx_error *err);

/*
 * An ELM feed (a partner of format "elm"): one document as elm_parse_offer reads,
 * a JSON array of such documents, or an object whose "@graph" is one. Each item is
 * read on its own: a bad one fails alone (ok false, err why; its offer empty).
 * -1 only when the whole is unusable: "malformed_json", "validation_failed"
 * (@graph not an array), "too_large" (more than max_items). Release with
 * elm_feed_cleanup.
 */
struct elm_feed_item {
    struct offer offer;
    bool ok;
    struct mcx_error err;
};
struct elm_feed {
    struct elm_feed_item *items;
    size_t nitems;
};
int elm_parse_feed(const char *data, size_t len, size_t max_items, struct elm_feed *out,
                   struct mcx_error *err);
void elm_feed_cleanup(struct elm_feed *f);

/*
 * Appends o as an ELM 3 JSON-LD LearningOpportunity document (edc-ap context,
 * JSON-LD keywords @id/@type, an embedded LearningAchievementSpecification) to
 * out. The document's id is base_id + "/" + the percent-encoded external_id
 * when base_id is given, else o->source_id when it is an IRI, else
 * urn:mcx:offer:<content hash>; nested nodes get that id plus a fragment.
 */
void elm_export_offer(const struct offer *o, const char *base_id, struct buf *out);

#endif
