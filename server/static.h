/*
 * static.h — serves the web front end (web/ or --web-root) for GET and HEAD
 * requests no API route matched: MIME types, ETag/304, Cache-Control, index.html
 * for directories, and nothing outside the root, whatever the path or symlinks say.
 */
#ifndef MCX_STATIC_H
#define MCX_STATIC_H

#include "server/util.h"

struct http_request;
struct router;
struct static_files;

struct static_files *static_files_new(const char *root, struct mcx_error *err);
void static_files_free(struct static_files *sf);
/* An http_handler_fn: arg is the struct static_files. */
void static_serve(struct http_request *req, void *arg);
/* The MIME type for a file name, by extension. */
const char *static_mime_type(const char *name);
/* Serves one named file under the root (e.g. "index.html" for app routes). */
void static_serve_file(struct http_request *req, struct static_files *sf, const char *relpath);

/* Routes the front end's page addresses (/offers/{id}, /signup, /login, /me) to their files. */
void static_pages_add(struct static_files *sf, struct router *r);

#endif
