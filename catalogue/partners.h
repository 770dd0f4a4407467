/*
 * partners.h — the partners API (DESIGN §5 "Federation"), for admins: register a
 * partner whose feed this node harvests, read its harvest state, trigger a run.
 */
#ifndef MCX_PARTNERS_H
#define MCX_PARTNERS_H

#include <stdbool.h>

struct mcxd;

/* The harvest formats: loq, elm, ewp, mcx (DESIGN §5). */
bool partners_format_is_supported(const char *format);
void partners_routes_add(struct mcxd *app);

#endif
