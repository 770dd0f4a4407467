/*
 * manifest.h — this node's EWP Discovery Manifest (Discovery API v6): its feeds and
 * replication list, its home institutions and the public key of its node key, for
 * partner nodes and the EWP Registry. mcxd.c adds the routes; docs/federation.md
 * ("Discovery manifest") describes the document.
 */
#ifndef MCX_MANIFEST_H
#define MCX_MANIFEST_H

/* The namespace of mcx's own entries in <r:apis-implemented>; never changes for v1. */
#define MANIFEST_MCX_NS "https://mcx.example/ns/feeds/v1"

struct mcxd;

/* GET /ewp/manifest.xml and GET /ewp/institutions/{id}/manifest.xml. */
void manifest_routes_add(struct mcxd *app);

#endif
