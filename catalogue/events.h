/*
 * events.h — exposure counting for the impact figures (DESIGN §5 "Exposure"):
 * searches, the offers a search page showed and offer reads become rows of the
 * `events` table (schemas/sql/008_events.sql), per distinct visitor (the mcx_vid
 * cookie). search.c and publish.c record; mcxd.c creates, drains and frees.
 *
 * Rows are buffered per worker and written as one multi-row INSERT every flush
 * interval or as soon as EVENTS_BATCH_ROWS wait, never one statement per request.
 * A crash loses at most the rows of the last interval; while the database is
 * away rows wait, up to EVENTS_MAX_WAITING (the oldest are dropped beyond it).
 */
#ifndef MCX_EVENTS_H
#define MCX_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/util.h"

struct event_base;
struct db_pool;
struct metrics;
struct http_request;
struct search_params;
struct events;

#define EVENTS_BATCH_ROWS 1000       /* this many waiting rows start a flush at once */
#define EVENTS_STATEMENT_ROWS 5000   /* most rows one INSERT carries (after an outage) */
#define EVENTS_MAX_WAITING 100000    /* rows held at most, in flight included */
#define EVENTS_MAX_BYTES (64 << 20)  /* and their memory: search texts can be long */
#define EVENTS_DRAIN_TIMEOUT_MS 5000 /* the last flush on shutdown may take this long */
#define EVENTS_COOKIE "mcx_vid"
#define EVENTS_COOKIE_MAX_AGE 31536000 /* one year, in seconds */
#define EVENTS_VISITOR_SIZE 33         /* 32 hex digits + NUL */

struct events_config {
    const char *node;   /* host:pid/worker, copied */
    int worker;         /* for log lines */
    int flush_ms;       /* the flush interval */
    bool secure_cookie; /* the node is reached over TLS: the cookie gets Secure */
};

struct events_stats {
    size_t waiting;   /* buffered or in flight */
    uint64_t flushed; /* rows written */
    uint64_t dropped; /* rows lost: over the limits, refused by the database, or at exit */
    uint64_t flushes; /* statements that succeeded */
};

/* metrics may be NULL; otherwise the three mcx_events_* series join its /metrics. */
struct events *events_new(struct event_base *base, struct db_pool *pool, struct metrics *metrics,
                          const struct events_config *cfg);
/* Rows still waiting are lost (counted); drain first to write them. */
void events_free(struct events *ev);
/*
 * Shutdown: writes what waits (several statements if need be) and calls done(arg)
 * on a later loop turn once nothing waits, after the first failure, or after
 * EVENTS_DRAIN_TIMEOUT_MS. Call it before the pool closes.
 */
void events_drain(struct events *ev, void (*done)(void *arg), void *arg);
void events_get_stats(const struct events *ev, struct events_stats *out);

/*
 * The visitor of a request, into out: its mcx_vid cookie, or a new id that is
 * then set as the cookie on the reply (so call it before replying). With DNT: 1
 * or Sec-GPC: 1 out is "" and no cookie is set. Returns true when it set the
 * cookie: a shared cache must then not store the reply (Cache-Control: private).
 */
bool events_visitor(struct events *ev, struct http_request *req, char out[EVENTS_VISITOR_SIZE]);

/*
 * An answered search page (call before replying; a HEAD request counts nothing):
 * one 'search' row (detail: the canonical parameters and the total) and one
 * 'impression' row per offer shown. shown has one line per offer in page order,
 * its 36-character id directly followed by its institution id; NULL or "" for
 * none. visitor is events_visitor()'s ("" for none).
 */
void events_search(struct events *ev, const struct http_request *req, const char *visitor,
                   const struct search_params *p, const char *total, const char *shown);
/* A successful offer read, likewise; format is "json", "xml" or "jsonld". */
void events_view(struct events *ev, const struct http_request *req, const char *visitor,
                 const char *offer_id, const char *institution_id, const char *format);

/* ---- pure helpers (exposed for the unit tests) ---- */

/* The first well-formed mcx_vid value of a Cookie header (RFC 6265 §4.2.1). */
bool events_cookie_visitor(const char *cookie_header, char out[EVENTS_VISITOR_SIZE]);
/* True for DNT: 1 or Sec-GPC: 1 (the values given; NULL when absent). */
bool events_opted_out(const char *dnt, const char *gpc);
/*
 * Appends v (NULL: SQL NULL) to a PostgreSQL array literal being built in b: "{"
 * before the first element, "," before the others; the caller adds the "}".
 */
void events_array_append(struct buf *b, const char *v);

#endif
