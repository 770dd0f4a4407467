/*
 * requests.h — the /api/v1/recognition-requests routes (recognition/requests.c):
 * submit a credential, the proposal, decisions, appeals. mcxd.c adds them.
 */
#ifndef MCX_REQUESTS_H
#define MCX_REQUESTS_H

struct mcxd;

void requests_routes_add(struct mcxd *app);

#endif
