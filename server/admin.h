/*
 * admin.h — the admin API of users and tokens (DESIGN §5 "Accounts"): list users,
 * create staff accounts, disable and enable them; list, create and revoke API tokens
 * (anyone their own, an admin anyone's). mcxd.c registers the routes; sign-up
 * (server/accounts.c) hands a POST /api/v1/users with a staff role over to here.
 */
#ifndef MCX_ADMIN_H
#define MCX_ADMIN_H

#include <stdbool.h>

struct http_request;
struct mcxd;

/* Most users or tokens one list answers. */
#define ADMIN_LIST_MAX 500
#define ADMIN_MAX_BODY ((size_t)16 * 1024)

/*
 * True when a POST /api/v1/users body is a JSON object whose "role" is a string other
 * than "student": an admin creating a staff account, which admin_user_create answers.
 * False for anything else, sign-up's to judge (and refuse, when it is no JSON).
 */
bool admin_user_body_is_staff(struct http_request *req);

/* POST /api/v1/users with a staff role: an authenticated admin only (401/403). */
void admin_user_create(struct http_request *req, struct mcxd *app);

void admin_routes_add(struct mcxd *app);

#endif
