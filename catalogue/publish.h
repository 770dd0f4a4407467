/*
 * publish.h — the catalogue's HTTP API (DESIGN §5 "Catalogue" and "Publishing"):
 * publishing offers as LOQ XML, EWP Courses API responses or ELM JSON-LD (one by
 * PUT, a whole XML catalogue by POST), tombstoning them, and reading offers and
 * institutions back in JSON, LOQ XML or JSON-LD. mcxd.c registers the routes.
 */
#ifndef MCX_PUBLISH_H
#define MCX_PUBLISH_H

struct mcxd;

/* Largest catalogue document (LOQ or EWP) accepted by the bulk endpoint. */
#define PUBLISH_MAX_CATALOGUE_BYTES ((size_t)256 * 1024 * 1024)

void publish_routes_add(struct mcxd *app);

#endif
