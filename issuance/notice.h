/*
 * notice.h — tells learners by mail that the credential the local adapter sealed is
 * ready, and where to download and check it (017_learner_notice.sql). EDCI tells the
 * learners of what it delivers itself, so only sealed credentials are due. Every
 * worker of every node with mail (--smtp-url) and --learner-notices on claims due
 * notices with SKIP LOCKED and a lease; a refused mail is tried again later, with
 * backoff, at most NOTICE_MAX_ATTEMPTS times.
 */
#ifndef MCX_NOTICE_H
#define MCX_NOTICE_H

#define NOTICE_MAX_ATTEMPTS 5
#define NOTICE_BATCH 8 /* mails in flight per worker */

struct mcxd;
struct notifier;

/* NULL (nothing runs) without mail. tick_ms: how often due notices are looked for. */
struct notifier *notifier_new(struct mcxd *app, int tick_ms);
void notifier_free(struct notifier *n);

#endif
