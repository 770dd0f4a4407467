/*
 * static.c — static files. The request path arrives as decoded, dot-resolved
 * segments (http_parser.c); here each segment is checked again, the file is
 * resolved with realpath() and must still lie under the root's real path, so
 * neither "..", encoded dots, NUL bytes nor symlinks can leave it.
 */
#include "server/static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/http.h"

/*
 * The web front end's page addresses: each serves one HTML file whatever the id
 * in it, and the page reads the rest from location (so /offers/{id} can be
 * bookmarked for any offer without the server knowing the offers).
 */
static const struct {
    const char *pattern;
    const char *file;
} page_routes[] = {
    {"/offers/{id}", "offer.html"}, {"/signup", "signup.html"},
    {"/login", "login.html"},       {"/me", "me.html"},
    {"/impact", "impact.html"},     {"/queue", "queue.html"},
    {"/publish", "publish.html"},   {"/admin", "admin.html"},
    {"/confirm", "confirm.html"},
};

struct static_page {
    struct static_files *sf;
    const char *file;
};

struct static_files {
    char *root; /* realpath of the web root, no trailing slash */
    size_t rootlen;
    struct static_page pages[MCX_ARRAY_LEN(page_routes)];
};

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"xsd", "application/xml"},
    {"yaml", "application/yaml"},
    {"yml", "application/yaml"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
};

const char *static_mime_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    const char *slash = strrchr(name, '/');

    if (dot == NULL || (slash != NULL && dot < slash))
        return "application/octet-stream";
    for (size_t i = 0; i < MCX_ARRAY_LEN(mime_types); i++)
        if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
            return mime_types[i].type;
    return "application/octet-stream";
}

struct static_files *static_files_new(const char *root, struct mcx_error *err)
{
    char real[PATH_MAX];
    struct stat st;
    struct static_files *sf;

    if (realpath(root, real) == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        mcx_error_set(err, "bad_config", "--web-root %s is not a directory", root);
        return NULL;
    }
    sf = xcalloc(1, sizeof(*sf));
    sf->root = xstrdup(real);
    sf->rootlen = strlen(real);
    return sf;
}

void static_files_free(struct static_files *sf)
{
    if (sf == NULL)
        return;
    free(sf->root);
    free(sf);
}

/* A segment we will look up: no separators, no hidden or dot names. */
static bool segment_is_safe(const char *seg)
{
    return seg[0] != '\0' && seg[0] != '.' && strpbrk(seg, "/\\") == NULL;
}

/* Joins the root and segments; -1 if any segment is unsafe or it is too long. */
static int build_path(const struct static_files *sf, const struct http_target *t, struct buf *out)
{
    buf_puts(out, sf->root);
    for (int i = 0; i < t->nsegs; i++) {
        if (!segment_is_safe(t->segs[i]))
            return -1;
        buf_putc(out, '/');
        buf_puts(out, t->segs[i]);
    }
    return out->len < PATH_MAX ? 0 : -1;
}

/* realpath(path) if it lies inside the root, else NULL. */
static char *resolve_inside(const struct static_files *sf, const char *path)
{
    char real[PATH_MAX];

    if (realpath(path, real) == NULL)
        return NULL;
    if (strncmp(real, sf->root, sf->rootlen) != 0 ||
        (real[sf->rootlen] != '/' && real[sf->rootlen] != '\0'))
        return NULL;
    return xstrdup(real);
}

static void not_found(struct http_request *req)
{
    http_reply_error(req, 404, "not_found", "no resource at %s", http_request_path(req));
}

static bool etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    /* A weak comparison over a comma-separated list (RFC 9110 §13.1.2). */
    return strstr(inm, etag + 2) != NULL;
}

static void send_file(struct http_request *req, const char *real, int fd, const struct stat *st)
{
    char etag[64], lastmod[64];
    struct tm tm;
    const char *type = static_mime_type(real);

    snprintf(etag, sizeof(etag), "W/\"%llx-%llx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)st->st_mtim.tv_nsec);
    gmtime_r(&st->st_mtime, &tm);
    strftime(lastmod, sizeof(lastmod), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    http_response_header(req, "ETag", etag);
    http_response_header(req, "Last-Modified", lastmod);
    /* No build step fingerprints the assets, so browsers revalidate (cheap: 304). */
    http_response_header(req, "Cache-Control", "no-cache");
    http_response_header(req, "X-Content-Type-Options", "nosniff");
    if (etag_matches(http_request_header(req, "If-None-Match"), etag)) {
        close(fd);
        http_reply(req, 304, NULL, NULL, 0);
        return;
    }
    http_reply_file(req, 200, type, fd, st->st_size);
}

/* Opens a regular file at a resolved path. */
static int open_regular(const char *real, struct stat *st)
{
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void serve_directory(struct http_request *req, struct static_files *sf, const char *real)
{
    const struct http_target *t = http_request_target(req);
    struct buf loc, idx;
    char *idxreal;
    struct stat st;
    int fd;

    if (!t->trailing_slash && t->nsegs > 0) {
        /* Relative links in index.html need the slash: redirect like nginx. */
        buf_init(&loc);
        buf_printf(&loc, "%s/", http_request_path(req));
        http_response_header(req, "Location", loc.data);
        buf_cleanup(&loc);
        http_reply_error(req, 301, "moved", "see %s/", http_request_path(req));
        return;
    }
    buf_init(&idx);
    buf_printf(&idx, "%s/index.html", real);
    idxreal = resolve_inside(sf, idx.data);
    buf_cleanup(&idx);
    fd = idxreal ? open_regular(idxreal, &st) : -1;
    if (fd < 0) {
        free(idxreal);
        not_found(req);
        return;
    }
    send_file(req, idxreal, fd, &st);
    free(idxreal);
}

void static_serve(struct http_request *req, void *arg)
{
    struct static_files *sf = arg;
    struct buf path;
    char *real = NULL;
    struct stat st;
    int fd;

    buf_init(&path);
    if (build_path(sf, http_request_target(req), &path) != 0 ||
        (real = resolve_inside(sf, path.data)) == NULL || stat(real, &st) != 0) {
        not_found(req);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        serve_directory(req, sf, real);
        goto out;
    }
    /* "/app.js/" names a directory that does not exist. */
    if (http_request_target(req)->trailing_slash || (fd = open_regular(real, &st)) < 0) {
        not_found(req);
        goto out;
    }
    send_file(req, real, fd, &st);
out:
    free(real);
    buf_cleanup(&path);
}

void static_serve_file(struct http_request *req, struct static_files *sf, const char *relpath)
{
    struct buf path;
    char *real;
    struct stat st;
    int fd = -1;

    buf_init(&path);
    buf_printf(&path, "%s/%s", sf->root, relpath);
    real = resolve_inside(sf, path.data);
    if (real != NULL)
        fd = open_regular(real, &st);
    if (fd < 0)
        not_found(req);
    else
        send_file(req, real, fd, &st);
    free(real);
    buf_cleanup(&path);
}

static void serve_page(struct http_request *req, void *arg)
{
    const struct static_page *page = arg;

    static_serve_file(req, page->sf, page->file);
}

void static_pages_add(struct static_files *sf, struct router *r)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(page_routes); i++) {
        sf->pages[i].sf = sf;
        sf->pages[i].file = page_routes[i].file;
        router_add(r, HTTP_GET | HTTP_HEAD, page_routes[i].pattern, serve_page, &sf->pages[i], 0);
    }
}
