/*
 * readiness.c — GET /api/v1/institutions/{id}/offers: the publisher's own offers,
 * each with what its credential still lacks and how many credentials it has in each
 * state. The publisher dashboard (web/publish.html) lists them with a warning and a
 * way to fix each gap.
 *
 * Two lists of missing elements (Council Recommendation 2022/C 243/02, Annex I),
 * with the same names: `completeness.offer`, what the offer's own document lacks
 * (fixed by publishing it again), and `completeness.missing`, what the credential
 * would still lack with the offer's template (its own, else the institution's
 * default) filling in — the same answer GET …/credential-template gives. An empty
 * `missing` means the offer is ready to issue.
 *
 * Who may: a publisher of that institution, an admin; anyone else 403.
 */
#include "issuance/readiness.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuance/builder.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/db.h"
#include "server/http.h"
#include "server/json.h"
#include "server/mcxd.h"
#include "server/router.h"
#include "server/util.h"

#define READINESS_MAX 5000 /* offers per reply; more sets "truncated" */

/*
 * $1 institution, $2 limit + 1. No row: no such institution; one row with NULL
 * columns: it has no live offer. Per offer: its API JSON (what the builder reads),
 * its own template, the institution's default template, and the list item's own
 * fields as a JSON object (C adds completeness and template).
 */
static const char list_sql[] =
    "SELECT offers_api_json(o.id)::text,"
    "  (SELECT t.content::text FROM credential_templates t WHERE t.offer_id = o.id),"
    "  (SELECT t.content::text FROM credential_templates t"
    "    WHERE t.offer_id IS NULL AND t.institution_id = i.id),"
    "  jsonb_build_object('id', o.id, 'external_id', o.external_id, 'title', o.title,"
    "   'ects', o.ects, 'eqf', o.eqf, 'mode', o.mode, 'starts', o.starts,"
    "   'languages', to_jsonb(o.languages), 'updated_at', recognition_time(o.updated_at),"
    "   'credentials', (SELECT jsonb_build_object("
    "     'queued', count(*) FILTER (WHERE c.state = 'queued'),"
    "     'sending', count(*) FILTER (WHERE c.state = 'sending'),"
    "     'delivered', count(*) FILTER (WHERE c.state = 'delivered'),"
    "     'failed', count(*) FILTER (WHERE c.state = 'failed'),"
    "     'revoked', count(*) FILTER (WHERE c.state = 'revoked'))"
    "    FROM credentials c WHERE c.offer_id = o.id))::text"
    " FROM institutions i LEFT JOIN LATERAL ("
    "  SELECT * FROM offers o WHERE o.institution_id = i.id AND o.deleted_at IS NULL"
    "  ORDER BY lower(coalesce(o.title->>'en', o.external_id)), o.id LIMIT $2::int) o ON true"
    " WHERE i.id = $1";

/* A JSON array of names. */
static void write_names(struct json_writer *w, const char *const *names, size_t n)
{
    json_array_begin(w);
    for (size_t i = 0; i < n; i++)
        json_string(w, names[i]);
    json_array_end(w);
}

/*
 * One item: the SQL object with what C adds written into it (a second writer that
 * starts inside the object, after its members, as store.c's items do).
 */
static void write_item(struct json_writer *w, struct db_result *res, int row)
{
    const char *offer = db_result_value(res, row, 0);
    const char *own = db_result_is_null(res, row, 1) ? NULL : db_result_value(res, row, 1);
    const char *inherited = db_result_is_null(res, row, 2) ? NULL : db_result_value(res, row, 2);
    const char *fields = db_result_value(res, row, 3);
    const char *use = own != NULL ? own : inherited;
    const char *missing[ISS_COMPLETENESS_MAX], *bare[ISS_COMPLETENESS_MAX];
    struct iss_template t;
    struct mcx_error err;
    struct json_writer iw;
    struct buf item;

    iss_template_init(&t);
    bool has = use != NULL && iss_template_parse(use, strlen(use), &t, &err) == 0;
    size_t n = iss_completeness(offer, has ? &t : NULL, missing, ISS_COMPLETENESS_MAX);
    size_t nbare = iss_completeness(offer, NULL, bare, ISS_COMPLETENESS_MAX);

    buf_init(&item);
    buf_append(&item, fields, strlen(fields) - 1); /* "{…" without its "}" */
    json_writer_init(&iw, &item);
    iw.depth = 1;
    iw.need_comma[1] = true;
    json_key(&iw, "completeness");
    json_object_begin(&iw);
    json_key(&iw, "missing");
    write_names(&iw, missing, n);
    json_key(&iw, "offer");
    write_names(&iw, bare, nbare);
    json_object_end(&iw);
    json_kv_string(&iw, "template", !has ? "none" : own != NULL ? "own" : "inherited");
    buf_putc(&item, '}');
    json_raw(w, item.data, item.len);
    buf_cleanup(&item);
    iss_template_cleanup(&t);
}

static void listed(struct api_call *c, struct db_result *res)
{
    int rows = db_result_rows(res);
    struct buf b;
    struct json_writer w;

    if (rows == 0) {
        api_call_fail(c, 404, "not_found", "no institution %s",
                      http_request_param(api_call_request(c), "id"));
        return;
    }
    bool truncated = rows > READINESS_MAX;
    if (truncated)
        rows = READINESS_MAX;
    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_key(&w, "items");
    json_array_begin(&w);
    for (int r = 0; r < rows; r++)
        if (!db_result_is_null(res, r, 0))
            write_item(&w, res, r);
    json_array_end(&w);
    json_kv_bool(&w, "truncated", truncated);
    json_object_end(&w);
    api_call_reply_json(c, 200, &b);
}

static void list_authed(struct api_call *c, const struct auth_user *u)
{
    const char *inst = http_request_param(api_call_request(c), "id");
    char limit[16];

    if (strcmp(u->role, "admin") != 0 &&
        !(strcmp(u->role, "publisher") == 0 && strcmp(u->institution_id, inst) == 0)) {
        api_call_fail(c, 403, "forbidden", "only a publisher of %s sees its offers' readiness",
                      inst);
        return;
    }
    snprintf(limit, sizeof(limit), "%d", READINESS_MAX + 1);
    const char *params[2] = {inst, limit};
    api_call_db(c, list_sql, 2, params, listed);
}

static void handle_list(struct http_request *req, void *arg)
{
    api_call_begin(req, arg, list_authed, NULL, NULL);
}

void readiness_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_GET, "/api/v1/institutions/{id}/offers", handle_list, app, 0);
}
