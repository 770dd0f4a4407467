/*
 * store.h — how offers reach the database: the items offers_put() takes (one JSON
 * array, schemas/sql/003_offers.sql), the keep-list of replace mode, and the SQL
 * both the HTTP handlers (publish.c) and `mcx publish` run. No I/O here.
 */
#ifndef MCX_STORE_H
#define MCX_STORE_H

#include "catalogue/offer.h"
#include "server/util.h"

/*
 * Parameters of every store statement: $1 institution, $2 actor, $3 format
 * ("loq"/"elm"), $4 source document, $5 its SHA-256, $6 items (JSON); the bulk
 * replace statement adds $7, the external ids to keep (text[] literal).
 */
extern const char store_put_one_sql[];      /* → outcome, api (the offer's JSON) */
extern const char store_put_many_sql[];     /* → idx, outcome */
extern const char store_replace_many_sql[]; /* → idx, outcome; removed rows: NULL, "removed" */
extern const char store_delete_sql[];       /* $1 institution, $2 actor, $3 external id → id */
/* A harvested full feed of partner $1 (= its institution): like replace, but the
 * offers are marked as the partner's and only its earlier harvests are removed. */
extern const char store_harvest_sql[];

/* One page of an incremental harvest of partner $1: $6 items stored as the partner's,
 * $7 (text[]) the external ids the partner deleted, tombstoned if its harvests brought
 * them. Nothing else is touched: absence means nothing in an incremental page. */
extern const char store_replicate_sql[];
/* After a complete full replication of partner $1: tombstones what its harvests
 * brought that $3 (text[], every external id the partner listed) does not name. */
extern const char store_sweep_sql[];
/* items: call store_items_begin, then store_item_append per offer, then _end. */
void store_items_begin(struct buf *items);
void store_item_append(struct buf *items, const struct offer *o);
void store_items_end(struct buf *items);

/* keep: a PostgreSQL text[] literal built the same way. */
void store_keep_begin(struct buf *keep);
void store_keep_append(struct buf *keep, const char *external_id);
void store_keep_end(struct buf *keep);

struct loq_doc;
struct loq_error;
struct db_result;
struct json_writer;

/* Item errors as the API's details array: [{"path","line","message"}]. */
void store_errors_write(struct json_writer *w, const struct loq_error *e, size_t n);

/* What a store statement did, summed from its outcome column. */
struct store_counts {
    long accepted; /* created or changed */
    long unchanged;
    long removed; /* tombstoned */
};

/* Adds the outcomes (column 1: created, updated, unchanged, removed) of a result. */
void store_counts_add(struct store_counts *c, const struct db_result *res);
/* The bulk report of DESIGN §5: the counts and every rejected item with its errors. */
void store_report_write(const struct store_counts *c, const struct loq_doc *d, struct buf *out);

/*
 * Marks every valid item whose external id an earlier item of the document already
 * has as invalid (one offer per external id and institution); returns how many.
 */
size_t store_reject_duplicates(struct loq_doc *d);

/* SHA-256 of a document as 64 hex digits. */
void store_sha256_hex(const void *data, size_t len, char out[65]);

#endif
