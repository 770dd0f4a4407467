/*
 * readiness.h — GET /api/v1/institutions/{id}/offers (issuance/readiness.c): an
 * institution's live offers as its publisher sees them, each with what its
 * credential still lacks and how many credentials it has in each state.
 */
#ifndef MCX_READINESS_H
#define MCX_READINESS_H

struct mcxd;

void readiness_routes_add(struct mcxd *app);

#endif
