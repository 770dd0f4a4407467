/*
 * store.h — how offers reach the database: the items offers_put() takes (one JSON
 * array, schemas/sql/003_offers.sql), the keep-list of replace mode, the SQL both
 * the HTTP handlers (publish.c) and `mcx publish` run, and the per-item report of a
 * published document, whatever its format. No I/O here.
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
struct ewp_doc;
struct ewp_error;
struct db_result;
struct json_writer;

/*
 * One item of a published document, whatever its format (a LOQ learningOpportunity,
 * an EWP learningOpportunitySpecification): what the duplicate check, the bulk
 * report and the handlers read. It points into the parsed document, which must
 * outlive it; the codec's error records are read where they are (each codec has its
 * own type of them, of the same shape).
 */
struct store_doc_item {
    const struct offer *offer;          /* to be stored only when ok */
    const char *external_id;            /* NULL or "" when it has none */
    int index;                          /* 0-based position among the document's items */
    int line;                           /* of its start tag */
    const struct loq_error *loq_errors; /* why it is not ok: the kept errors, in */
    const struct ewp_error *ewp_errors; /* the one of these its codec fills */
    size_t nerrors;
    int repeats; /* -1, or the index of the earlier item whose external id this repeats */
    bool ok;
};

struct store_doc {
    struct store_doc_item *items;
    size_t nitems;
    const char *item_path; /* the items' element path, "[n]" (1-based) appended for one */
    const char *id_name;   /* the element under it that holds the external id */
};

/* The items of a parsed document (release with store_doc_cleanup; a zeroed one too). */
void store_doc_from_loq(struct store_doc *sd, const struct loq_doc *d);
void store_doc_from_ewp(struct store_doc *sd, const struct ewp_doc *d);
void store_doc_cleanup(struct store_doc *sd);

/*
 * Marks every valid item whose external id an earlier item already has as invalid,
 * repeating it (one offer per external id and institution); returns how many.
 */
size_t store_doc_reject_duplicates(struct store_doc *sd);

/* An item's errors as the API's details array: [{"path","line","message"}]. */
void store_doc_item_errors_write(struct json_writer *w, const struct store_doc *sd,
                                 const struct store_doc_item *it);

/* What a store statement did, summed from its outcome column. */
struct store_counts {
    long accepted; /* created or changed */
    long unchanged;
    long removed; /* tombstoned */
};

/* Adds the outcomes (column 1: created, updated, unchanged, removed) of a result. */
void store_counts_add(struct store_counts *c, const struct db_result *res);
/* The bulk report of DESIGN §5: the counts and every rejected item with its errors. */
void store_doc_report_write(const struct store_counts *c, const struct store_doc *sd,
                            struct buf *out);

/* The same two for a LOQ document, whose duplicates become errors of its own items. */
void store_report_write(const struct store_counts *c, const struct loq_doc *d, struct buf *out);
size_t store_reject_duplicates(struct loq_doc *d);

/* SHA-256 of a document as 64 hex digits. */
void store_sha256_hex(const void *data, size_t len, char out[65]);

#endif
