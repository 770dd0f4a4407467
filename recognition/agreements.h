/*
 * agreements.h — the /api/v1/agreements routes (recognition/agreements.c):
 * mutual recognition agreements, approved by hash. mcxd.c adds them.
 */
#ifndef MCX_AGREEMENTS_H
#define MCX_AGREEMENTS_H

struct mcxd;

void agreements_routes_add(struct mcxd *app);

#endif
