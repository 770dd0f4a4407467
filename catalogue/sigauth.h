/*
 * sigauth.h — authenticates a request by its EWP HTTP Signature (server/httpsig.h)
 * against the public keys of registered partners, with replay protection shared by
 * every node (httpsig_seen). Publishing handlers use it instead of a bearer token
 * when a request is signed.
 */
#ifndef MCX_SIGAUTH_H
#define MCX_SIGAUTH_H

#include <stdbool.h>

struct mcxd;
struct http_request;
struct sigauth_op;

/*
 * partner is the signer's partner id (its institution) on success, status 200;
 * otherwise NULL with status 401 (code: the reason, e.g. bad_digest, replayed) or
 * 503, and a sentence. Always called on a later loop turn unless cancelled.
 */
typedef void (*sigauth_cb)(const char *partner, int status, const char *code, const char *message,
                           void *arg);

/* Does the request carry a signature (Authorization: Signature …, or Signature)? */
bool sigauth_is_signed(const struct http_request *req);
struct sigauth_op *sigauth_begin(struct mcxd *app, struct http_request *req, sigauth_cb cb,
                                 void *arg);
void sigauth_cancel(struct sigauth_op *op);

/*
 * Forgets request ids older than the signature window allows (a replay of one would
 * fail the Date check anyway), every minute, so httpsig_seen stays small. One sweeper
 * per worker; the DELETE is idempotent across nodes.
 */
struct sigauth_sweeper;
struct sigauth_sweeper *sigauth_sweeper_new(struct mcxd *app);
void sigauth_sweeper_free(struct sigauth_sweeper *s);

#endif
