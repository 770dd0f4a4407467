/*
 * feeds.h — what other nodes and Europass pull from this one (DESIGN §5
 * "Federation"): the LOQ feed of the node's own institutions, one per institution,
 * and the replication list of offers changed since a time (EWP Simple Course
 * Replication style, tombstones included). Public, conditional GET.
 */
#ifndef MCX_FEEDS_H
#define MCX_FEEDS_H

struct mcxd;

void feeds_routes_add(struct mcxd *app);

#endif
