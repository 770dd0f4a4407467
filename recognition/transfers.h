/*
 * transfers.h — GET /api/v1/credit-transfers (recognition/transfers.c): the
 * records of recognition decisions, as JSON, CSV or ELMO. mcxd.c adds the route.
 */
#ifndef MCX_TRANSFERS_H
#define MCX_TRANSFERS_H

struct mcxd;

void transfers_routes_add(struct mcxd *app);

#endif
