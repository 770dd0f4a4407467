/*
 * applications.h — students applying to offers (DESIGN §5 "Catalogue"): one
 * application per student and offer, recorded with an 'application' event for the
 * impact figures, answered with where to go next (the offer's or its provider's
 * homepage); and the student's own list. mcxd.c registers the routes.
 */
#ifndef MCX_APPLICATIONS_H
#define MCX_APPLICATIONS_H

struct mcxd;

/* GET /api/v1/me/applications answers at most this many, newest first. */
#define APPLICATIONS_LIST_MAX 1000

void applications_routes_add(struct mcxd *app);

#endif
