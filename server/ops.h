/*
 * ops.h — operations endpoints: /healthz, /readyz, /metrics and, with
 * --debug-endpoints, /debug/sleep (a pool load generator for tests and bench).
 * Also the mapping of pool errors to replies that every handler shares.
 */
#ifndef MCX_OPS_H
#define MCX_OPS_H

struct mcxd;
struct http_request;
struct db_error;

void ops_routes_add(struct mcxd *app);
/* 503 for an unavailable database, 504 for a statement timeout, else 500. */
void ops_reply_db_error(struct http_request *req, const struct db_error *err);

#endif
