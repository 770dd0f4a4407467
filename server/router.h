/*
 * router.h — maps (method, decoded path) to a handler. Patterns are literal
 * segments and {name} parameters: "/api/v1/institutions/{id}/offers/{external_id}".
 * Pure code: http.c asks it, unit tests call it directly.
 */
#ifndef MCX_ROUTER_H
#define MCX_ROUTER_H

#include <stddef.h>

#include "server/http_parser.h"

#define ROUTER_MAX_PARAMS 8

struct http_request;
typedef void (*http_handler_fn)(struct http_request *req, void *arg);

struct route {
    unsigned methods; /* bitmask of enum http_method; GET implies HEAD */
    char *pattern;    /* also the "route" label in logs and metrics */
    char **segments;
    int nsegments;
    http_handler_fn handler;
    void *arg;
    size_t max_body; /* 0: the server-wide limit */
};

struct route_param {
    const char *name;
    char *value;
};

struct route_match {
    const struct route *route;
    struct route_param params[ROUTER_MAX_PARAMS];
    int nparams;
    unsigned allowed; /* on 405: the methods the path accepts */
};

struct router;

struct router *router_new(void);
void router_free(struct router *r);
/* Returns 0, or -1 for a malformed pattern (a bug in the caller: it logs why). */
int router_add(struct router *r, unsigned methods, const char *pattern, http_handler_fn handler,
               void *arg, size_t max_body);

/*
 * Matches decoded path segments (see struct http_target): 0 on match (params
 * filled; free with route_match_cleanup), 404 or 405. A path with a trailing
 * slash matches no route but "/" (it names a directory for the static files).
 */
int router_match(const struct router *r, enum http_method method, const struct http_target *t,
                 struct route_match *m);
void route_match_cleanup(struct route_match *m);
const char *route_match_param(const struct route_match *m, const char *name);

#endif
