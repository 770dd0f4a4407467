/*
 * credentials.h — the issuing routes (issuance/credentials.c): templates, intake
 * (one learner or a Moodle gradebook), the registry, revoke, reissue, /verify.
 * mcxd.c adds them.
 */
#ifndef MCX_CREDENTIALS_H
#define MCX_CREDENTIALS_H

struct mcxd;

void credentials_routes_add(struct mcxd *app);

#endif
