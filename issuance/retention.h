/*
 * retention.h — forgets learners' personal data some time after their credential
 * was delivered (--learner-retention-days): the registry keeps the name that
 * verification shows, the result and the state, and drops e-mail, birth date and
 * the built document that carries them.
 * mcxd.c runs one per worker; the statement is idempotent, so workers may overlap.
 */
#ifndef MCX_RETENTION_H
#define MCX_RETENTION_H

struct mcxd;
struct retention;

/* days 0: personal data is kept (no purge runs). */
struct retention *retention_new(struct mcxd *app, long days);
void retention_free(struct retention *r);

#endif
