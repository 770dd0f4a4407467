/*
 * manifest.c — this node's EWP Discovery Manifest (Discovery API v6, manifest.xsd).
 * The document is small (a few institutions and entries), so it is built whole from
 * one query per request, and its ETag is a digest of its bytes: an unchanged
 * manifest costs that query and a 304.
 *
 * EWP v6 lets one host cover at most one HEI (manifest.xsd, institutions-covered).
 * /ewp/manifest.xml covers the home institution when there is exactly one; each home
 * institution also has its own manifest, /ewp/institutions/{id}/manifest.xml, which
 * is what a node of several home institutions registers, once per institution.
 */
#include "catalogue/manifest.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "catalogue/store.h"
#include "catalogue/xmlutil.h"
#include "server/config.h"
#include "server/db.h"
#include "server/http.h"
#include "server/mcxd.h"
#include "server/ops.h"
#include "server/router.h"

#define NS_MANIFEST                                                                                \
    "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/tree/stable-v6"
#define NS_EWP                                                                                     \
    "https://github.com/erasmus-without-paper/ewp-specs-architecture/blob/stable-v1/"              \
    "common-types.xsd"
#define NS_REGISTRY "https://github.com/erasmus-without-paper/ewp-specs-api-registry/tree/stable-v1"
#define NS_DISCOVERY_ENTRY                                                                         \
    "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/blob/stable-v6/"             \
    "manifest-entry.xsd"

#define DISCOVERY_VERSION "6.0.0"
#define LOQ_FEED_VERSION "3.1.0"    /* the LOQ schema the feeds are written in (feeds.c) */
#define REPLICATION_VERSION "1.0.0" /* /api/v1 */

/* No --admin-email and no mail domain to derive one from (localhost, an IPv6
 * address): an RFC 6761 .invalid address, which nobody takes for a real contact. */
#define ADMIN_EMAIL_NONE "postmaster@mcx.invalid"

/* Providers named in ewp:admin-provider before "and N more". */
#define PROVIDER_NAMES 3

/*
 * The home institutions in scope ($1: one id, or NULL for all) with their names, one
 * row per name, English first; an institution whose names are all empty gets one row
 * with a NULL name. The LIMIT only guards the reply's size.
 */
static const char homes_sql[] =
    "SELECT i.id, n.key, n.value FROM institutions i LEFT JOIN LATERAL "
    "(SELECT key, value FROM jsonb_each_text(i.name) WHERE value <> '') n ON true "
    "WHERE i.is_home AND ($1::text IS NULL OR i.id = $1) "
    "ORDER BY i.id, n.key IS DISTINCT FROM 'en', n.key LIMIT 10000";

struct manifest {
    struct http_request *req;
    struct mcxd *app;
    struct db_op *op;
    const char *inst; /* NULL: the node's manifest */
    char *base;       /* scheme://authority[/prefix], without a trailing slash */
};

/* One home institution: its rows in the result. */
struct home {
    const char *id;
    int row, nrows;
};

static void manifest_free(struct manifest *m)
{
    free(m->base);
    free(m);
}

static void manifest_cancel(void *data)
{
    struct manifest *m = data;

    db_op_cancel(m->op);
    manifest_free(m);
}

/* Call before replying: the reply ends the request. */
static struct http_request *manifest_detach(struct manifest *m)
{
    http_request_on_cancel(m->req, NULL, NULL);
    return m->req;
}

/* ---- XML text ---- */

/* <tag>text</tag> on its own line. */
static void put_element(struct buf *b, int indent, const char *tag, const char *text)
{
    buf_printf(b, "%*s<%s>", indent, "", tag);
    xmlutil_escape(b, text, XMLUTIL_QUOTES_BOTH);
    buf_printf(b, "</%s>\n", tag);
}

/* xs:language ([a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*): a key that is not one gets no xml:lang. */
static bool is_language(const char *s)
{
    size_t part = 0, nparts = 0;

    for (;; s++) {
        if (*s == '-' || *s == '\0') {
            if (part == 0)
                return false;
            nparts++;
            part = 0;
            if (*s == '\0')
                return true;
            continue;
        }
        bool alpha = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');
        if (!alpha && !(nparts > 0 && *s >= '0' && *s <= '9'))
            return false;
        if (++part > 8)
            return false;
    }
}

/* ---- the pieces of the manifest ---- */

/* The host (without port) of the base URL, for names and the derived address. */
static void base_host(const char *base, char *out, size_t size)
{
    const char *auth = strstr(base, "://") + 3;
    size_t len = strcspn(auth, "/");

    if (auth[0] != '[')
        len = strcspn(auth, ":/");
    else if (memchr(auth, ']', len) != NULL)
        len = (size_t)((const char *)memchr(auth, ']', len) - auth) + 1;
    if (len > 0 && auth[len - 1] == '.')
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(out, auth, len);
    out[len] = '\0';
}

/*
 * Without --admin-email: postmaster at the public host, the one mailbox every mail
 * domain must accept (RFC 5321 §4.5.1), and a role address as EWP asks (no person's,
 * for GDPR). An IPv4 host becomes an address literal; other hosts without a dot
 * (localhost, IPv6) cannot satisfy ewp:Email's pattern and get ADMIN_EMAIL_NONE.
 */
static void admin_email_derive(const char *base, struct buf *out)
{
    char host[272];
    unsigned char v4[4];

    base_host(base, host, sizeof(host));
    if (inet_pton(AF_INET, host, v4) == 1)
        buf_printf(out, "postmaster@[%s]", host);
    else if (host[0] != '[' && strchr(host, '.') != NULL)
        buf_printf(out, "postmaster@%s", host);
    else
        buf_puts(out, ADMIN_EMAIL_NONE);
    for (char *c = out->data; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
}

/* The first name of each covered institution (English if it has one), then "(mcx)". */
static void write_provider(struct buf *b, const struct manifest *m, const struct db_result *res,
                           const struct home *homes, int n)
{
    struct buf text;
    char host[272];

    buf_init(&text);
    for (int i = 0; i < n && i < PROVIDER_NAMES; i++) {
        const char *name = db_result_value(res, homes[i].row, 2);
        buf_printf(&text, "%s%s", i > 0 ? "; " : "", name ? name : homes[i].id);
    }
    if (n > PROVIDER_NAMES)
        buf_printf(&text, " and %d more", n - PROVIDER_NAMES);
    if (n == 0) {
        base_host(m->base, host, sizeof(host));
        buf_puts(&text, host);
    }
    buf_puts(&text, " (mcx)");
    put_element(b, 4, "ewp:admin-provider", text.data);
    buf_cleanup(&text);
}

static void write_notes(struct buf *b, const struct manifest *m, int nhomes, bool has_key,
                        bool email_derived)
{
    struct buf text;

    buf_init(&text);
    buf_puts(&text,
             "An mcx micro-credential exchange node. The entries in the namespace " MANIFEST_MCX_NS
             " give the Europass LOQ feeds of the offers published here and the list "
             "of offers changed since a time (JSON, modified_since).");
    if (has_key)
        buf_puts(&text, " The RSA key under client-credentials-in-use signs this node's "
                        "harvest requests (EWP HTTP Signatures).");
    if (m->inst == NULL && nhomes > 1)
        buf_printf(&text,
                   " EWP lets a manifest cover one institution: each of the %d home "
                   "institutions has its own, %s/ewp/institutions/{id}/manifest.xml.",
                   nhomes, m->base);
    if (email_derived)
        buf_puts(&text, " No admin e-mail is configured (--admin-email): the address above "
                        "is derived from the host name.");
    put_element(b, 4, "ewp:admin-notes", text.data);
    buf_cleanup(&text);
}

/* Opens an entry in mcx's namespace, <mcx:NAME version=".." [hei-id=".."]> with its
 * <mcx:url>, in the shape of EWP's entries; the caller adds the rest and closes it. */
static void write_mcx_entry(struct buf *b, const char *name, const char *version, const char *hei,
                            const char *url)
{
    buf_printf(b, "      <mcx:%s version=\"%s\"", name, version);
    if (hei != NULL) {
        buf_puts(b, " hei-id=\"");
        xmlutil_escape(b, hei, XMLUTIL_QUOTES_BOTH);
        buf_putc(b, '"');
    }
    buf_puts(b, ">\n");
    put_element(b, 8, "mcx:url", url);
}

static void write_apis(struct buf *b, const struct manifest *m, const struct home *homes, int n)
{
    struct buf url;

    buf_init(&url);
    buf_puts(b, "    <r:apis-implemented>\n");
    /* ewp:HTTPS: the Discovery API is served over HTTPS or not at all (discovery-README) */
    if (strncmp(m->base, "https://", 8) == 0) {
        if (m->inst == NULL)
            buf_printf(&url, "%s/ewp/manifest.xml", m->base);
        else
            buf_printf(&url, "%s/ewp/institutions/%s/manifest.xml", m->base, homes[0].id);
        buf_puts(b, "      <discovery xmlns=\"" NS_DISCOVERY_ENTRY "\" version=\"" DISCOVERY_VERSION
                    "\">\n");
        put_element(b, 8, "url", url.data);
        buf_puts(b, "      </discovery>\n");
    }
    if (m->inst == NULL) {
        buf_reset(&url);
        buf_printf(&url, "%s/feeds/loq.xml", m->base);
        write_mcx_entry(b, "loq-feed", LOQ_FEED_VERSION, NULL, url.data);
        buf_puts(b, "      </mcx:loq-feed>\n");
    }
    for (int i = 0; i < n; i++) {
        buf_reset(&url);
        buf_printf(&url, "%s/feeds/institutions/%s/loq.xml", m->base, homes[i].id);
        write_mcx_entry(b, "institution-loq-feed", LOQ_FEED_VERSION, homes[i].id, url.data);
        buf_puts(b, "      </mcx:institution-loq-feed>\n");
    }
    buf_reset(&url);
    buf_printf(&url, "%s/api/v1/replication/offers", m->base);
    write_mcx_entry(b, "offer-replication", REPLICATION_VERSION, NULL, url.data);
    put_element(b, 8, "mcx:media-type", "application/json");
    put_element(b, 8, "mcx:supports-modified-since", "true");
    buf_puts(b, "      </mcx:offer-replication>\n");
    buf_puts(b, "    </r:apis-implemented>\n");
    buf_cleanup(&url);
}

static void write_hei(struct buf *b, const struct db_result *res, const struct home *h)
{
    buf_puts(b, "    <institutions-covered>\n      <r:hei id=\"");
    xmlutil_escape(b, h->id, XMLUTIL_QUOTES_BOTH);
    buf_puts(b, "\">\n");
    for (int r = h->row; r < h->row + h->nrows; r++) {
        const char *lang = db_result_value(res, r, 1);
        const char *name = db_result_value(res, r, 2);

        buf_puts(b, "        <r:name");
        if (lang != NULL && is_language(lang))
            buf_printf(b, " xml:lang=\"%s\"", lang);
        buf_putc(b, '>');
        /* r:name is required: the id stands in */
        xmlutil_escape(b, name ? name : h->id, XMLUTIL_QUOTES_BOTH);
        buf_puts(b, "</r:name>\n");
    }
    buf_puts(b, "      </r:hei>\n    </institutions-covered>\n");
}

/* The node key's public half as base64 DER SubjectPublicKeyInfo (manifest.xsd), or NULL. */
static char *node_key_base64(void *key)
{
    unsigned char *der = NULL;
    char *out;
    int len;

    if (key == NULL || (len = i2d_PUBKEY(key, &der)) <= 0)
        return NULL;
    out = xmalloc(4 * (((size_t)len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, der, len);
    OPENSSL_free(der);
    return out;
}

static void write_manifest(struct buf *b, const struct manifest *m, const struct db_result *res,
                           const struct home *homes, int n)
{
    const struct mcx_config *cfg = m->app->cfg;
    char *key = node_key_base64(m->app->node_key);
    bool derived = cfg->admin_email[0] == '\0';
    struct buf email;

    buf_init(&email);
    if (derived)
        admin_email_derive(m->base, &email);
    else
        buf_puts(&email, cfg->admin_email);
    buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<manifest xmlns=\"" NS_MANIFEST "\" xmlns:ewp=\"" NS_EWP
                "\"\n          xmlns:r=\"" NS_REGISTRY "\" xmlns:mcx=\"" MANIFEST_MCX_NS "\">\n"
                "  <host>\n");
    put_element(b, 4, "ewp:admin-email", email.data);
    write_provider(b, m, res, homes, n);
    write_notes(b, m, n, key != NULL, derived);
    write_apis(b, m, homes, n);
    if (n == 1)
        write_hei(b, res, &homes[0]);
    if (key != NULL) {
        /* Client credentials: the key signs requests. mcx does not sign responses, so
         * server-credentials-in-use (srvauth) stays absent. */
        buf_puts(b, "    <client-credentials-in-use>\n");
        put_element(b, 6, "rsa-public-key", key);
        buf_puts(b, "    </client-credentials-in-use>\n");
    }
    buf_puts(b, "  </host>\n</manifest>\n");
    buf_cleanup(&email);
    free(key);
}

/* ---- the request ---- */

/* Groups the rows by institution; returns how many institutions. */
static int homes_collect(const struct db_result *res, struct home *homes)
{
    int rows = db_result_rows(res), n = 0;

    for (int r = 0; r < rows; r++) {
        const char *id = db_result_value(res, r, 0);
        if (n > 0 && strcmp(homes[n - 1].id, id) == 0) {
            homes[n - 1].nrows++;
            continue;
        }
        homes[n].id = id;
        homes[n].row = r;
        homes[n].nrows = 1;
        n++;
    }
    return n;
}

static bool etag_matches(const char *inm, const char *etag)
{
    return inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

static void manifest_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct manifest *m = arg;
    struct http_request *req = m->req;
    struct home *homes;
    struct buf doc;
    char digest[65], etag[40];
    int n;

    m->op = NULL;
    if (err != NULL) {
        ops_reply_db_error(manifest_detach(m), err);
        manifest_free(m);
        return;
    }
    homes = xcalloc((size_t)db_result_rows(res) + 1, sizeof(*homes));
    n = homes_collect(res, homes);
    if (m->inst != NULL && n == 0) {
        http_reply_error(manifest_detach(m), 404, "not_found", "no home institution %s", m->inst);
        free(homes);
        manifest_free(m);
        return;
    }
    buf_init(&doc);
    write_manifest(&doc, m, res, homes, n);
    free(homes);
    store_sha256_hex(doc.data, doc.len, digest);
    snprintf(etag, sizeof(etag), "\"%.32s\"", digest);
    http_response_header(req, "ETag", etag);
    http_response_header(req, "Cache-Control", "no-cache");
    if (etag_matches(http_request_header(req, "If-None-Match"), etag))
        http_reply(manifest_detach(m), 304, NULL, NULL, 0);
    else
        http_reply_buf(manifest_detach(m), 200, "application/xml; charset=utf-8", &doc);
    buf_cleanup(&doc);
    manifest_free(m);
}

/*
 * The base of every absolute URL: --public-url, else this server's scheme and the
 * request's Host (RFC 9110 §7.2), which must be exactly one plain host[:port].
 */
static char *manifest_base(struct http_request *req, const struct mcx_config *cfg)
{
    const char *host = http_request_header(req, "Host");
    struct buf base;

    if (cfg->public_url[0] != '\0')
        return xstrdup(cfg->public_url);
    if (host == NULL || http_request_header_nth(req, "Host", 1) != NULL ||
        !config_authority_is_valid(host, strlen(host)))
        return NULL;
    buf_init(&base);
    buf_printf(&base, "%s://", cfg->tls_cert[0] != '\0' ? "https" : "http");
    for (const char *c = host; *c; c++)
        buf_putc(&base, *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c);
    if (base.data[base.len - 1] == '.') /* "example.org." names the same host */
        base.data[--base.len] = '\0';
    return buf_steal(&base, NULL);
}

static void manifest_start(struct http_request *req, struct mcxd *app, const char *inst)
{
    char *base = manifest_base(req, app->cfg);
    struct manifest *m;

    if (base == NULL) {
        http_reply_error(req, 400, "invalid_host",
                         "the Host header must be one host name or IP address with an "
                         "optional port (or set --public-url)");
        return;
    }
    if (app->cfg->public_url[0] == '\0')
        http_response_header(req, "Vary", "Host");
    m = xcalloc(1, sizeof(*m));
    m->req = req;
    m->app = app;
    m->inst = inst;
    m->base = base;
    http_request_on_cancel(req, manifest_cancel, m);
    const char *params[1] = {inst};
    m->op = db_query(app->pool, homes_sql, 1, params, manifest_done, m);
}

static void handle_node_manifest(struct http_request *req, void *arg)
{
    manifest_start(req, arg, NULL);
}

static void handle_institution_manifest(struct http_request *req, void *arg)
{
    manifest_start(req, arg, http_request_param(req, "id"));
}

void manifest_routes_add(struct mcxd *app)
{
    router_add(app->router, HTTP_GET, "/ewp/manifest.xml", handle_node_manifest, app, 0);
    router_add(app->router, HTTP_GET, "/ewp/institutions/{id}/manifest.xml",
               handle_institution_manifest, app, 0);
}
