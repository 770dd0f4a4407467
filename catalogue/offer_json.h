/*
 * offer_json.h — the stored form of an offer: the JSON object of its content
 * fields (offer_write_json_fields plus source_id), and reading it back. The
 * catalogue store writes it; exports read it.
 */
#ifndef MCX_OFFER_JSON_H
#define MCX_OFFER_JSON_H

#include <stddef.h>

#include "catalogue/offer.h"
#include "server/json.h"
#include "server/util.h"

/* Appends the offer's stored JSON object to out. */
void offer_write_doc(const struct offer *o, struct buf *out);
/* Fills an offer_init'ed o from a stored JSON object; -1 with err on bad JSON. */
int offer_read_json(const char *data, size_t len, struct offer *o, struct mcx_error *err);
/* The same from a parsed JSON value (an object: anything else is -1). */
struct json_value;
int offer_read_json_value(const struct json_value *doc, struct offer *o, struct mcx_error *err);

#endif
