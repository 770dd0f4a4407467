/*
 * ewp.c — EWP Courses API 0.7.1 responses to struct offer, and Simple Course
 * Replication 1.0.0 responses to a list of LOS ids. Parsing is hardened like
 * loq.c (no DTD, no network, size and depth caps, errors collected per call);
 * schema errors are charged to the LOS they lie in. Which element fills which
 * offer field, and what has no slot, is listed under "a LOS into an offer".
 */
#include "catalogue/ewp.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "catalogue/xmlutil.h"

#define NS_XSD "http://www.w3.org/2001/XMLSchema"
#define NS_CATALOG "urn:oasis:names:tc:entity:xmlns:xml:catalog"
#define NS_XML "http://www.w3.org/XML/1998/namespace"

#define MAX_SCHEMA_FILES 32
#define MAX_SCHEMA_BYTES ((size_t)8 * 1024 * 1024)
#define MAX_SCHEMA_DEPTH 128 /* XSDs nest deeper than documents */
#define MAX_LANGS 64         /* texts per language map */
#define MAX_LIST 100         /* languages per offer */

/* ---- small helpers ---- */

/* ---- schemas ---- */

/*
 * The upstream XSDs import each other by remote URL, and libxml2 2.9 resolves
 * imports only through its process-wide entity loader and catalogs. Rather
 * than change those, the schema is compiled from a small in-memory driver
 * that imports every catalog file by its local path, leaves first: when a
 * file then imports a remote URL, libxml2 finds that namespace already loaded
 * and skips the import (a warning, not a fetch). Every import is checked
 * against the catalog beforehand, so none can be left to the network.
 */
struct schema_file {
    char *name;                     /* the remote URL the catalog maps */
    char *path;                     /* dir/uri */
    char *ns;                       /* its targetNamespace */
    char **import_ns, **import_loc; /* its xs:import elements (loc may be NULL) */
    size_t nimports;
    size_t deps[MAX_SCHEMA_FILES];
    size_t ndeps;
    int mark; /* depth-first walk: 0 new, 1 in progress, 2 done */
};

struct loader {
    char *dir; /* absolute */
    struct schema_file files[MAX_SCHEMA_FILES];
    size_t n;
    size_t order[MAX_SCHEMA_FILES];
    size_t norder;
    struct mcx_error *err;
};

struct ewp_schemas {
    xmlSchemaPtr schema;
};

static void loader_cleanup(struct loader *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct schema_file *f = &l->files[i];
        free(f->name);
        free(f->path);
        free(f->ns);
        for (size_t k = 0; k < f->nimports; k++) {
            free(f->import_ns[k]);
            free(f->import_loc[k]);
        }
        free(f->import_ns);
        free(f->import_loc);
    }
}

static char *file_slurp(const char *path, size_t max, size_t *len, struct mcx_error *err)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[65536];
    size_t n;

    if (f == NULL) {
        mcx_error_set(err, "schema_load_failed", "%s: %s", path, strerror(errno));
        return NULL;
    }
    buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= max)
        buf_append(&b, chunk, n);
    fclose(f);
    if (b.len > max || b.len == 0) {
        mcx_error_set(err, "schema_load_failed", "%s: %s", path, b.len ? "too large" : "empty");
        buf_cleanup(&b);
        return NULL;
    }
    return buf_steal(&b, len);
}

/* A file of ours, parsed as hostile as any input: a DOCTYPE fails loading too. */
static xmlDocPtr schema_doc_read(const char *path, struct mcx_error *err)
{
    struct xmlutil_reader r = {.max_depth = MAX_SCHEMA_DEPTH};
    size_t len;
    char *data = file_slurp(path, MAX_SCHEMA_BYTES, &len, err);
    xmlDocPtr doc;
    struct mcx_error local;

    if (data == NULL)
        return NULL;
    mcx_error_clear(&local);
    if (xmlutil_read(&r, data, len, path, &doc, &local) < 0) {
        mcx_error_set(err, "schema_load_failed", "%s (line %d)", local.message, local.line);
        xmlutil_utf8_trim_tail(err->message);
    }
    free(data);
    return doc;
}

/* A catalog uri: relative, inside dir (no "..", no scheme, no absolute path). */
static bool catalog_uri_ok(const char *uri)
{
    const char *seg = uri;

    if (uri[0] == '\0' || uri[0] == '/' || strchr(uri, ':') != NULL || strchr(uri, '\\') != NULL)
        return false;
    while (seg != NULL) {
        if (strncmp(seg, "..", 2) == 0 && (seg[2] == '/' || seg[2] == '\0'))
            return false;
        seg = strchr(seg, '/');
        seg = seg ? seg + 1 : NULL;
    }
    return true;
}

static int catalog_entry_add(struct loader *l, xmlNodePtr e)
{
    char *name = xmlutil_attr_get(e, "name"), *uri = xmlutil_attr_get(e, "uri");
    struct schema_file *f;
    int rc = -1;

    if (name == NULL || uri == NULL || !catalog_uri_ok(uri)) {
        mcx_error_set(l->err, "schema_load_failed",
                      "%s/catalog.xml:%ld: a <uri> needs name and a relative uri inside the folder",
                      l->dir, xmlGetLineNo(e));
    } else if (l->n == MAX_SCHEMA_FILES) {
        mcx_error_set(l->err, "schema_load_failed", "%s/catalog.xml: more than %d entries", l->dir,
                      MAX_SCHEMA_FILES);
    } else {
        f = &l->files[l->n++];
        memset(f, 0, sizeof(*f));
        f->name = name;
        if (asprintf(&f->path, "%s/%s", l->dir, uri) < 0)
            abort(); /* out of memory */
        name = NULL;
        rc = 0;
    }
    free(name);
    free(uri);
    return rc;
}

/* dir/catalog.xml: an OASIS catalog whose <uri> entries name the schema files. */
static int catalog_read(struct loader *l)
{
    char path[4096];
    xmlDocPtr doc;
    xmlNodePtr root;
    int rc = 0;

    if ((size_t)snprintf(path, sizeof(path), "%s/catalog.xml", l->dir) >= sizeof(path)) {
        mcx_error_set(l->err, "schema_load_failed", "schema directory path too long");
        return -1;
    }
    if ((doc = schema_doc_read(path, l->err)) == NULL)
        return -1;
    root = xmlDocGetRootElement(doc);
    if (!xmlutil_node_is(root, NS_CATALOG, "catalog")) {
        mcx_error_set(l->err, "schema_load_failed", "%s: not an OASIS catalog", path);
        rc = -1;
    }
    for (xmlNodePtr e = rc == 0 ? xmlutil_first_element(root->children) : NULL; e && rc == 0;
         e = xmlutil_next_element(e)) {
        if (!xmlutil_node_is(e, NS_CATALOG, "uri")) {
            /* nextCatalog, rewriteURI, ... would change what is fetched: not ours */
            mcx_error_set(l->err, "schema_load_failed", "%s:%ld: <%s> entries are not supported",
                          path, xmlGetLineNo(e), (const char *)e->name);
            rc = -1;
        } else {
            rc = catalog_entry_add(l, e);
        }
    }
    if (rc == 0 && l->n == 0) {
        mcx_error_set(l->err, "schema_load_failed", "%s: no <uri> entries", path);
        rc = -1;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* Reads one schema file's targetNamespace and imports; includes are refused. */
static int schema_scan(struct loader *l, struct schema_file *f)
{
    xmlDocPtr doc = schema_doc_read(f->path, l->err);
    xmlNodePtr root;
    int rc = 0;

    if (doc == NULL)
        return -1;
    root = xmlDocGetRootElement(doc);
    if (!xmlutil_node_is(root, NS_XSD, "schema") ||
        (f->ns = xmlutil_attr_get(root, "targetNamespace")) == NULL) {
        mcx_error_set(l->err, "schema_load_failed", "%s: not an XSD with a targetNamespace",
                      f->path);
        rc = -1;
    }
    for (xmlNodePtr e = rc == 0 ? xmlutil_first_element(root->children) : NULL; e && rc == 0;
         e = xmlutil_next_element(e)) {
        if (xmlutil_node_is(e, NS_XSD, "include") || xmlutil_node_is(e, NS_XSD, "redefine") ||
            xmlutil_node_is(e, NS_XSD, "override")) {
            mcx_error_set(l->err, "schema_load_failed", "%s:%ld: xs:%s is not supported", f->path,
                          xmlGetLineNo(e), (const char *)e->name);
            rc = -1;
        } else if (xmlutil_node_is(e, NS_XSD, "import")) {
            f->import_ns = xrealloc(f->import_ns, (f->nimports + 1) * sizeof(char *));
            f->import_loc = xrealloc(f->import_loc, (f->nimports + 1) * sizeof(char *));
            f->import_ns[f->nimports] = xmlutil_attr_get(e, "namespace");
            f->import_loc[f->nimports] = xmlutil_attr_get(e, "schemaLocation");
            f->nimports++;
            if (f->import_ns[f->nimports - 1] == NULL) {
                mcx_error_set(l->err, "schema_load_failed",
                              "%s:%ld: an import without namespace is not supported", f->path,
                              xmlGetLineNo(e));
                rc = -1;
            }
        }
    }
    xmlFreeDoc(doc);
    return rc;
}

/* Which catalog file an import names: by location (it must be mapped), else by namespace. */
static int import_resolve(struct loader *l, const struct schema_file *f, size_t k, size_t *out)
{
    const char *ns = f->import_ns[k], *loc = f->import_loc[k];

    for (size_t i = 0; i < l->n; i++) {
        if (loc != NULL ? strcmp(l->files[i].name, loc) != 0 : strcmp(l->files[i].ns, ns) != 0)
            continue;
        if (strcmp(l->files[i].ns, ns) != 0) {
            mcx_error_set(l->err, "schema_load_failed",
                          "%s imports namespace %s from %s, which holds %s", f->path, ns, loc,
                          l->files[i].ns);
            return -1;
        }
        *out = i;
        return 0;
    }
    mcx_error_set(l->err, "schema_load_failed",
                  "%s imports %s, which catalog.xml does not map to a local file (nothing is "
                  "fetched)",
                  f->path, loc ? loc : ns);
    return -1;
}

/* Post-order walk: each file after everything it imports. */
static int schema_order(struct loader *l, size_t i)
{
    struct schema_file *f = &l->files[i];

    if (f->mark == 2)
        return 0;
    if (f->mark == 1) {
        mcx_error_set(l->err, "schema_load_failed", "%s: import cycle", f->path);
        return -1;
    }
    f->mark = 1;
    for (size_t k = 0; k < f->ndeps; k++)
        if (schema_order(l, f->deps[k]) < 0)
            return -1;
    f->mark = 2;
    l->order[l->norder++] = i;
    return 0;
}

static int schemas_plan(struct loader *l)
{
    if (catalog_read(l) < 0)
        return -1;
    for (size_t i = 0; i < l->n; i++)
        if (schema_scan(l, &l->files[i]) < 0)
            return -1;
    for (size_t i = 0; i < l->n; i++) {
        struct schema_file *f = &l->files[i];
        for (size_t k = 0; k < i; k++) {
            if (strcmp(l->files[k].ns, f->ns) == 0) { /* libxml2 would skip the second */
                mcx_error_set(l->err, "schema_load_failed", "%s and %s share namespace %s",
                              l->files[k].path, f->path, f->ns);
                return -1;
            }
        }
        for (size_t k = 0; k < f->nimports; k++) {
            size_t dep;
            if (import_resolve(l, f, k, &dep) < 0)
                return -1;
            if (f->ndeps < MAX_SCHEMA_FILES)
                f->deps[f->ndeps++] = dep;
        }
    }
    for (size_t i = 0; i < l->n; i++)
        if (schema_order(l, i) < 0)
            return -1;
    return 0;
}

static void put_attr_escaped(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '&')
            buf_puts(b, "&amp;");
        else if (*s == '<')
            buf_puts(b, "&lt;");
        else if (*s == '"')
            buf_puts(b, "&quot;");
        else
            buf_putc(b, *s);
    }
}

/*
 * A local path as the file: URI an xs:import wants. libxml2 takes a plain
 * path with a space or '%' in it for a URI and loads nothing (silently, for a
 * space); percent-encoded, its file loader decodes it again.
 */
static void put_file_uri(struct buf *b, const char *abs_path)
{
    static const char hex[] = "0123456789ABCDEF";

    buf_puts(b, "file://");
    for (const unsigned char *c = (const unsigned char *)abs_path; *c != '\0'; c++) {
        if (isalnum(*c) || strchr("-._~/", *c) != NULL) {
            buf_putc(b, (char)*c);
        } else {
            buf_putc(b, '%');
            buf_putc(b, hex[*c >> 4]);
            buf_putc(b, hex[*c & 15]);
        }
    }
}

static void schema_load_error(void *data, xmlErrorPtr e)
{
    struct mcx_error *err = data;

    /* "Skipping import ..., since the namespace was already imported" is the
     * plan; any other warning (an import not loaded) fails the load */
    if (e == NULL || e->level < XML_ERR_WARNING || e->code == XML_SCHEMAP_WARN_SKIP_SCHEMA ||
        err->code[0] != '\0')
        return;
    mcx_error_set(err, "schema_load_failed", "%s:%d: %s", e->file ? e->file : "?", e->line,
                  e->message ? e->message : "error");
}

static xmlSchemaPtr schemas_compile(struct loader *l)
{
    struct buf driver;
    xmlSchemaParserCtxtPtr pc;
    xmlSchemaPtr schema = NULL;

    buf_init(&driver);
    buf_puts(&driver, "<xs:schema xmlns:xs=\"" NS_XSD "\">");
    for (size_t i = 0; i < l->norder; i++) {
        const struct schema_file *f = &l->files[l->order[i]];
        buf_puts(&driver, "<xs:import namespace=\"");
        put_attr_escaped(&driver, f->ns);
        buf_puts(&driver, "\" schemaLocation=\"");
        put_file_uri(&driver, f->path);
        buf_puts(&driver, "\"/>");
    }
    buf_puts(&driver, "</xs:schema>");
    pc = xmlSchemaNewMemParserCtxt(driver.data, (int)driver.len);
    if (pc != NULL) {
        xmlSchemaSetParserStructuredErrors(pc, schema_load_error, l->err);
        schema = xmlSchemaParse(pc);
        xmlSchemaFreeParserCtxt(pc);
    }
    buf_cleanup(&driver);
    if (schema != NULL && l->err->code[0] != '\0') { /* an error libxml2 recovered from */
        xmlSchemaFree(schema);
        schema = NULL;
    }
    if (schema == NULL && l->err->code[0] == '\0')
        mcx_error_set(l->err, "schema_load_failed", "%s: the schemas do not compile", l->dir);
    return schema;
}

static void probe_error(void *data, xmlErrorPtr e)
{
    (void)data;
    (void)e;
}

/*
 * Whether the schema declares the roots this module parses: libxml2 may
 * compile a schema that silently lacks an import it could not load.
 */
static int schemas_probe(xmlSchemaPtr schema, struct mcx_error *err)
{
    static const char *const probes[] = {
        "<courses-response xmlns=\"" EWP_NS_COURSES "\"/>",
        "<course-replication-response xmlns=\"" EWP_NS_REPLICATION "\"/>",
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(probes); i++) {
        struct xmlutil_reader r = {.max_depth = 2};
        struct mcx_error local;
        xmlDocPtr doc;
        xmlSchemaValidCtxtPtr v;
        int rc = -1;

        mcx_error_clear(&local);
        if (xmlutil_read(&r, probes[i], strlen(probes[i]), "probe", &doc, &local) == 0 &&
            (v = xmlSchemaNewValidCtxt(schema)) != NULL) {
            xmlSchemaSetValidStructuredErrors(v, probe_error, NULL);
            rc = xmlSchemaValidateDoc(v, doc);
            xmlSchemaFreeValidCtxt(v);
        }
        if (doc != NULL)
            xmlFreeDoc(doc);
        if (rc != 0) {
            mcx_error_set(err, "schema_load_failed",
                          "the compiled schemas do not accept %s (a schema was not loaded)",
                          probes[i]);
            return -1;
        }
    }
    return 0;
}

struct ewp_schemas *ewp_schemas_load(const char *dir, struct mcx_error *err)
{
    struct loader *l = xcalloc(1, sizeof(*l));
    struct ewp_schemas *s = NULL;
    struct mcx_error local;
    struct xmlutil_borrowed saved;
    xmlSchemaPtr schema = NULL;

    if (err == NULL)
        err = &local;
    mcx_error_clear(err);
    xmlInitParser();
    l->err = err;
    /* absolute, so that the file: URIs the driver imports need no base */
    if ((l->dir = realpath(dir != NULL ? dir : ".", NULL)) == NULL) {
        mcx_error_set(err, "schema_load_failed", "%s: %s", dir ? dir : ".", strerror(errno));
        free(l);
        return NULL;
    }
    xmlutil_handlers_borrow(&saved, schema_load_error, err);
    if (schemas_plan(l) == 0)
        schema = schemas_compile(l);
    if (schema != NULL && schemas_probe(schema, err) < 0) {
        xmlSchemaFree(schema);
        schema = NULL;
    }
    xmlutil_handlers_return(&saved);
    loader_cleanup(l);
    free(l->dir);
    free(l);
    if (schema != NULL) {
        s = xcalloc(1, sizeof(*s));
        s->schema = schema;
    }
    return s;
}

void ewp_schemas_free(struct ewp_schemas *s)
{
    if (s == NULL)
        return;
    if (s->schema != NULL)
        xmlSchemaFree(s->schema);
    free(s);
}

/* ---- parsing: shared by both responses ---- */

struct parse {
    struct xmlutil_reader rd;
    xmlDocPtr doc;
    xmlNodePtr root;
    bool validating;
    struct ewp_doc *out;    /* courses: where errors go */
    struct ewp_error first; /* replication: the first schema error */
    size_t nerrs;
    struct xmlutil_borrowed saved;
};

static void valid_error(void *data, xmlErrorPtr e);

static void stray_error(void *data, xmlErrorPtr e)
{
    struct parse *p = data;

    if (p->validating)
        valid_error(p, e);
    else
        xmlutil_reader_record(&p->rd, e);
}

/* The size checks every parse starts with, before a byte is read. */
static int input_check(const char *data, size_t len, size_t max_bytes, struct mcx_error *err)
{
    if (max_bytes == 0)
        max_bytes = EWP_MAX_BYTES_DEFAULT;
    if (max_bytes > INT32_MAX)
        max_bytes = INT32_MAX; /* libxml2 takes an int */
    if (len > max_bytes) {
        mcx_error_set(err, "too_large", "the document is larger than %zu bytes", max_bytes);
        return -1;
    }
    if (data == NULL || len == 0) {
        mcx_error_set(err, "malformed_xml", "the document is empty");
        return -1;
    }
    return 0;
}

/*
 * The hardened read: on success the handlers are borrowed and p holds the
 * document with the expected root {ns}root.
 */
static int parse_read(struct parse *p, const char *data, size_t len, const char *what,
                      const char *ns, const char *root, struct mcx_error *err)
{
    xmlutil_handlers_borrow(&p->saved, stray_error, p);
    if (xmlutil_read(&p->rd, data, len, what, &p->doc, err) < 0)
        goto fail;
    p->root = xmlDocGetRootElement(p->doc);
    if (!xmlutil_node_is(p->root, ns, root)) {
        mcx_error_set(err, "unsupported_document",
                      "the root element is not an EWP %s (namespace %s)", root, ns);
        err->line = xmlutil_node_line(p->root);
        goto fail;
    }
    return 0;
fail:
    xmlutil_handlers_return(&p->saved);
    if (p->doc != NULL)
        xmlFreeDoc(p->doc);
    p->doc = NULL;
    return -1;
}

/* The checks and the hardened read every response parse starts with. */
static int parse_begin(struct parse *p, const struct ewp_schemas *s, const char *data, size_t len,
                       size_t max_bytes, const char *ns, const char *root, struct mcx_error *err)
{
    memset(p, 0, sizeof(*p));
    p->rd.max_depth = EWP_MAX_DEPTH;
    if (input_check(data, len, max_bytes, err) < 0)
        return -1;
    if (s == NULL) {
        mcx_error_set(err, "internal", "EWP schemas are not loaded");
        return -1;
    }
    return parse_read(p, data, len, "EWP response", ns, root, err);
}

static void parse_end(struct parse *p)
{
    xmlutil_handlers_return(&p->saved);
    if (p->doc != NULL)
        xmlFreeDoc(p->doc);
    p->doc = NULL;
}

static void validate(struct parse *p, const struct ewp_schemas *s)
{
    char no_start[] = "cannot start schema validation";
    char failed[] = "schema validation failed (internal error)";
    xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(s->schema);
    xmlError e;
    int rc;

    memset(&e, 0, sizeof(e));
    e.level = XML_ERR_ERROR;
    if (v == NULL) {
        e.message = no_start;
        valid_error(p, &e);
        return;
    }
    /* xsi:schemaLocation is not followed: a schema is given, so libxml2 assembles none */
    xmlSchemaSetValidStructuredErrors(v, valid_error, p);
    p->validating = true;
    rc = xmlSchemaValidateDoc(v, p->doc);
    p->validating = false;
    xmlSchemaFreeValidCtxt(v);
    if (rc < 0) {
        e.message = failed;
        valid_error(p, &e);
    }
}

/* LosID prefixes (response.xsd, type LosID): the prefix is the type. */
static const struct {
    const char *prefix;
    enum ewp_los_type type;
} los_prefixes[] = {
    {"CR/", EWP_LOS_COURSE},
    {"CLS/", EWP_LOS_CLASS},
    {"MOD/", EWP_LOS_MODULE},
    {"DEP/", EWP_LOS_DEGREE_PROGRAMME},
};

static enum ewp_los_type los_type_of(const char *id)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(los_prefixes); i++)
        if (xmlutil_has_prefix(id, los_prefixes[i].prefix))
            return los_prefixes[i].type;
    return EWP_LOS_UNKNOWN;
}

/*
 * "More prefixes MAY be introduced in the future ... accept unknown prefixes
 * and behave as if the referenced entity did not exist" (response.xsd, LosID):
 * an id shaped like "ABC/..." whose prefix is not one of the four.
 */
static bool los_id_prefix_unknown(xmlNodePtr n)
{
    char *id = xmlutil_node_text(n);
    size_t up;
    bool unknown;

    if (id == NULL)
        return false;
    up = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    unknown = up >= 1 && up <= 8 && id[up] == '/' && id[up + 1] != '\0' &&
              los_type_of(id) == EWP_LOS_UNKNOWN;
    free(id);
    return unknown;
}

static void node_drop(xmlNodePtr n)
{
    xmlUnlinkNode(n);
    xmlFreeNode(n);
}

/* ---- parsing: error records ---- */

/* "/courses-response/learningOpportunitySpecification[2]/title[1]/@xml:lang" */
static void path_build(const struct parse *p, xmlNodePtr n, char *out, size_t size)
{
    const char *seg[EWP_MAX_DEPTH + 2], *prefix[EWP_MAX_DEPTH + 2];
    size_t pos[EWP_MAX_DEPTH + 2];
    int k = 0;
    struct buf b;
    const char *attr = NULL, *attr_prefix = NULL;

    out[0] = '\0';
    if (n == NULL)
        return;
    if (n->type == XML_ATTRIBUTE_NODE) {
        attr = (const char *)n->name;
        attr_prefix = n->ns && n->ns->prefix ? (const char *)n->ns->prefix : NULL;
        n = n->parent;
    }
    for (; n != NULL && n->type == XML_ELEMENT_NODE && k < EWP_MAX_DEPTH + 2; n = n->parent, k++) {
        seg[k] = (const char *)n->name;
        prefix[k] = NULL;
        if (n->ns != NULL && n->ns->prefix != NULL && !xmlStrEqual(n->ns->href, p->root->ns->href))
            prefix[k] = (const char *)n->ns->prefix;
        pos[k] = 0;
        if (n->parent == (xmlNodePtr)p->doc) {
            /* the root */
        } else if (n->parent == p->root && n->_private != NULL) {
            pos[k] = (size_t)(uintptr_t)n->_private; /* a LOS: its index + 1 */
        } else {
            pos[k] = xmlutil_sibling_pos(n);
        }
    }
    buf_init(&b);
    xmlutil_path_join(&b, seg, prefix, pos, k);
    if (attr != NULL)
        buf_printf(&b, "/@%s%s%s", attr_prefix ? attr_prefix : "", attr_prefix ? ":" : "", attr);
    if (b.data != NULL)
        xmlutil_copy_utf8(out, b.data, size);
    buf_cleanup(&b);
}

/*
 * libxml2 charges an attribute's error to its element and names the
 * attribute in the message ("Element 'title', attribute '{ns}lang': ..."):
 * put it in the path too.
 */
static void path_add_attribute(char *path, size_t size, const char *msg)
{
    const char *a, *b, *local;
    size_t len = strlen(path);

    if (len == 0 || !xmlutil_has_prefix(msg, "Element '") ||
        (a = strstr(msg, "', attribute '")) == NULL)
        return;
    a += strlen("', attribute '");
    if ((b = strchr(a, '\'')) == NULL || b[1] != ':')
        return;
    local = a;
    if (*a == '{') {
        const char *close = memchr(a, '}', (size_t)(b - a));
        if (close == NULL)
            return;
        local = close + 1;
    }
    if ((size_t)snprintf(path + len, size - len, "/@%s%.*s",
                         xmlutil_has_prefix(a, "{" NS_XML "}") ? "xml:" : "", (int)(b - local),
                         local) >= size - len)
        xmlutil_utf8_trim_tail(path);
}

static void error_fill(const struct parse *p, struct ewp_error *rec, xmlErrorPtr e)
{
    char *msg = xmlutil_message_clean(e->message);
    xmlNodePtr el = e->node;

    memset(rec, 0, sizeof(*rec));
    if (el != NULL && el->type == XML_ATTRIBUTE_NODE)
        el = el->parent;
    rec->line = xmlutil_node_line(el);
    if (rec->line == 0 && e->line > 0)
        rec->line = e->line;
    path_build(p, e->node, rec->path, sizeof(rec->path));
    if (e->node != NULL && ((xmlNodePtr)e->node)->type == XML_ELEMENT_NODE)
        path_add_attribute(rec->path, sizeof(rec->path), e->message ? e->message : "");
    xmlutil_copy_utf8(rec->message, msg, sizeof(rec->message));
    free(msg);
}

static void error_append(const struct parse *p, struct ewp_error **list, size_t *kept,
                         size_t *count, xmlErrorPtr e)
{
    (*count)++;
    if (*kept >= EWP_ITEM_MAX_ERRORS)
        return;
    *list = xrealloc(*list, (*kept + 1) * sizeof(**list));
    error_fill(p, &(*list)[(*kept)++], e);
}

/* The LOS an error lies in (its index), or -1 for the document's. */
static long los_of(const struct parse *p, xmlNodePtr n)
{
    while (n != NULL && n->type == XML_ATTRIBUTE_NODE)
        n = n->parent;
    for (; n != NULL && n->type == XML_ELEMENT_NODE; n = n->parent)
        if (n->parent == p->root)
            return n->_private != NULL ? (long)(uintptr_t)n->_private - 1 : -1;
    return -1;
}

static void valid_error(void *data, xmlErrorPtr e)
{
    struct parse *p = data;
    long i;

    if (e == NULL || e->level < XML_ERR_ERROR)
        return;
    if (p->out == NULL) { /* replication: the first tells */
        if (p->nerrs++ == 0)
            error_fill(p, &p->first, e);
        return;
    }
    i = los_of(p, e->node);
    if (i >= 0 && (size_t)i < p->out->nitems) {
        struct ewp_item *it = &p->out->items[i];
        error_append(p, &it->errors, &it->nerrors_kept, &it->nerrors, e);
    } else {
        error_append(p, &p->out->errors, &p->out->nerrors_kept, &p->out->nerrors, e);
    }
}

/* ---- parsing: a LOS into an offer ---- */

/*
 * Where each offer field comes from, per learningOpportunitySpecification S
 * and its instances S/specifies/learningOpportunityInstance (LOI):
 *
 *   external_id, source_id S/los-id. Not los-code: the spec makes los-id the
 *                       identity ("Client developers MAY use los-id values for
 *                       this purpose"; codes are "not used to identify
 *                       entities in EWP network", optional, and may change),
 *                       and Course Replication lists, and the Courses API
 *                       fetches, by los-id: the store must match on it.
 *   title, description  S/title, S/description; language: xml:lang reduced
 *                       to its primary subtag ("en-US" -> "en"), "" if none;
 *                       the first text per language
 *   homepage            S/url: the one without xml:lang (the spec's advice
 *                       for a page that detects the language), else the
 *                       English one, else the first
 *   isced               S/iscedCode when it is an ISCED-F code (2-4 digits)
 *   eqf                 S/eqfLevelProvided
 *   starts, ends        the first LOI's start and end
 *   ects                the first credit whose scheme is "ects" (any case), in
 *                       the first LOI that has one (credits belong to LOIs)
 *   languages           each LOI's languageOfInstruction (primary subtag), in
 *                       order, without repeats
 *
 * A LOS whose own los-id has a prefix the schema does not know fails like any
 * invalid LOS (the replication parser skips such ids, so they are not asked for).
 *
 * No slot in struct offer (kept on the item where a caller may want it):
 * los-code, ounit-id (item), the type (item, from the los-id prefix, which
 * states it), subjectArea (old Erasmus subject codes), contains (child LOS
 * ids), loi-id, academic-term, gradingScheme, resultDistribution, credits of
 * other schemes and credit level, engagementHours (contact hours, not the
 * notional learning time volume_of_learning means).
 *
 * Nothing in the schema carries mode, application deadline, price, learning
 * outcomes, assessment, quality assurance or entry requirements, and the
 * response names no provider: those stay empty (the completeness check
 * reports them) and the provider comes from the request (ewp_doc_set_provider).
 */

/* A BCP 47 tag as a language key: its primary subtag, lower case; "" if none. */
static void lang_key(const char *tag, char out[4])
{
    size_t n = 0;

    out[0] = '\0';
    if (tag == NULL)
        return;
    while (xmlutil_is_space((unsigned char)*tag))
        tag++;
    while (n < 4 && isalpha((unsigned char)tag[n]))
        n++;
    if (n < 2 || n > 3 ||
        (tag[n] != '\0' && tag[n] != '-' && tag[n] != '_' &&
         !xmlutil_is_space((unsigned char)tag[n])))
        return;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)tag[i]);
    out[n] = '\0';
}

static void lang_text_add(struct lang_map *m, xmlNodePtr n)
{
    xmlChar *tag;
    char lang[4];
    char *text;

    if (m->n >= MAX_LANGS || (text = xmlutil_node_text(n)) == NULL)
        return;
    tag = xmlNodeGetLang(n); /* xml:lang is inherited */
    lang_key((const char *)tag, lang);
    xmlFree(tag);
    lang_map_add(m, lang, text);
    free(text);
}

static bool is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly YYYY-MM-DD and a real day of the Gregorian calendar. */
static bool date_valid(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long y, m, d;

    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
            return false;
    }
    y = strtol(s, NULL, 10);
    m = strtol(s + 5, NULL, 10);
    d = strtol(s + 8, NULL, 10);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

/* An xs:date ("2016-07-01", with an optional zone "Z", "+02:00") -> YYYY-MM-DD, else "". */
static void date_read(xmlNodePtr n, char out[11])
{
    char *t = xmlutil_node_text(n);

    out[0] = '\0';
    if (t == NULL)
        return;
    if (strlen(t) >= 10 && date_valid(t) &&
        (t[10] == '\0' || strcmp(t + 10, "Z") == 0 ||
         ((t[10] == '+' || t[10] == '-') && strlen(t + 11) == 5 && t[13] == ':'))) {
        memcpy(out, t, 10);
        out[10] = '\0';
    }
    free(t);
}

static void strv_add_unique(char ***v, size_t *n, const char *s)
{
    if (*n >= MAX_LIST)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrdup(s);
}

static bool is_ns(const struct parse *p, xmlNodePtr n)
{
    return n->ns != NULL && xmlStrEqual(n->ns->href, p->root->ns->href);
}

static bool name_is(xmlNodePtr n, const char *name)
{
    return strcmp((const char *)n->name, name) == 0;
}

/* credit: scheme + value (xs:decimal); ECTS only. */
static void credit_read(const struct parse *p, xmlNodePtr credit, struct offer *o)
{
    char *scheme = NULL, *value = NULL;
    double v;

    for (xmlNodePtr c = xmlutil_first_element(credit->children); c; c = xmlutil_next_element(c)) {
        if (is_ns(p, c) && name_is(c, "scheme") && scheme == NULL)
            scheme = xmlutil_node_text(c);
        else if (is_ns(p, c) && name_is(c, "value") && value == NULL)
            value = xmlutil_node_text(c);
    }
    /* "ects" is the one predefined scheme; ELMO data writes "ECTS" too */
    if (scheme != NULL && strcasecmp(scheme, "ects") == 0 && value != NULL &&
        mcx_parse_double(value, 0, 1000, &v) == 0) {
        o->has_ects = true;
        o->ects = v;
    }
    free(scheme);
    free(value);
}

static void loi_read(const struct parse *p, xmlNodePtr loi, bool first, struct offer *o)
{
    for (xmlNodePtr c = xmlutil_first_element(loi->children); c; c = xmlutil_next_element(c)) {
        if (!is_ns(p, c))
            continue;
        if (first && name_is(c, "start")) {
            date_read(c, o->starts);
        } else if (first && name_is(c, "end")) {
            date_read(c, o->ends);
        } else if (name_is(c, "credit") && !o->has_ects) {
            credit_read(p, c, o);
        } else if (name_is(c, "languageOfInstruction")) {
            char *tag = xmlutil_node_text(c);
            char lang[4];
            lang_key(tag, lang);
            if (lang[0] != '\0')
                strv_add_unique(&o->languages, &o->nlanguages, lang);
            free(tag);
        }
    }
}

/* ISCED-F 2013: broad (2 digits), narrow (3) or detailed (4) field. */
static bool isced_shaped(const char *code)
{
    size_t len = strlen(code);

    return len >= 2 && len <= 4 && strspn(code, "0123456789") == len;
}

/* The homepage among S/url: without xml:lang, else English, else the first. */
struct url_pick {
    char *none, *en, *first;
};

static void url_consider(struct url_pick *u, xmlNodePtr n)
{
    char *url = xmlutil_node_text(n);
    xmlChar *tag;
    char lang[4];

    if (url == NULL)
        return;
    tag = xmlNodeGetLang(n);
    lang_key((const char *)tag, lang);
    if (u->none == NULL && tag == NULL)
        u->none = xstrdup(url);
    if (u->en == NULL && strcmp(lang, "en") == 0)
        u->en = xstrdup(url);
    if (u->first == NULL)
        u->first = xstrdup(url);
    xmlFree(tag);
    free(url);
}

static char *url_choose(struct url_pick *u)
{
    char *pick = u->none ? u->none : u->en ? u->en : u->first;

    if (pick != u->none)
        free(u->none);
    if (pick != u->en)
        free(u->en);
    if (pick != u->first)
        free(u->first);
    return pick;
}

static void los_child_read(const struct parse *p, xmlNodePtr c, struct ewp_item *item,
                           struct url_pick *urls)
{
    struct offer *o = &item->offer;

    if (name_is(c, "los-id") && o->source_id == NULL) {
        o->source_id = xmlutil_node_text(c);
    } else if (name_is(c, "los-code") && item->los_code == NULL) {
        item->los_code = xmlutil_node_text(c);
    } else if (name_is(c, "ounit-id") && item->ounit_id == NULL) {
        item->ounit_id = xmlutil_node_text(c);
    } else if (name_is(c, "title")) {
        lang_text_add(&o->title, c);
    } else if (name_is(c, "description")) {
        lang_text_add(&o->description, c);
    } else if (name_is(c, "iscedCode") && o->nisced == 0) {
        char *code = xmlutil_node_text(c);
        if (code != NULL && isced_shaped(code))
            strv_add_unique(&o->isced, &o->nisced, code);
        free(code);
    } else if (name_is(c, "eqfLevelProvided") && o->eqf == 0) {
        char *t = xmlutil_node_text(c);
        long level;
        if (t != NULL && mcx_parse_int(t, 1, 8, &level) == 0)
            o->eqf = (int)level;
        free(t);
    } else if (name_is(c, "url")) {
        url_consider(urls, c);
    } else if (name_is(c, "specifies")) {
        bool first = true;
        for (xmlNodePtr i = xmlutil_first_element(c->children); i; i = xmlutil_next_element(i)) {
            if (is_ns(p, i) && name_is(i, "learningOpportunityInstance")) {
                loi_read(p, i, first, o);
                first = false;
            }
        }
    }
}

/* One LOS -> its item. Tolerates what an invalid LOS may lack. */
static void los_read(const struct parse *p, xmlNodePtr los, struct ewp_item *item)
{
    struct url_pick urls = {0};

    for (xmlNodePtr c = xmlutil_first_element(los->children); c; c = xmlutil_next_element(c))
        if (is_ns(p, c))
            los_child_read(p, c, item, &urls);
    item->offer.homepage = url_choose(&urls);
    if (item->offer.source_id != NULL) {
        item->offer.external_id = xstrdup(item->offer.source_id);
        item->type = los_type_of(item->offer.source_id);
    }
    item->external_id = xstrdup(item->offer.external_id ? item->offer.external_id : "");
}

/* What the spec tells clients to tolerate is removed before validation. */
static void los_tolerate(const struct parse *p, xmlNodePtr los)
{
    static const char *const types[] = {"Degree Programme", "Module", "Course", "Class"};
    xmlNodePtr c, next;

    for (c = xmlutil_first_element(los->children); c; c = next) {
        next = xmlutil_next_element(c);
        if (!is_ns(p, c))
            continue;
        if (name_is(c, "type")) {
            /* "You MUST be prepared to receive an unknown type here ... treat it
             * the same way as ... if the type was not present at all" */
            xmlChar *v = xmlNodeGetContent(c);
            bool known = false;
            for (size_t i = 0; i < MCX_ARRAY_LEN(types) && v != NULL; i++)
                known = known || strcmp((const char *)v, types[i]) == 0;
            xmlFree(v);
            if (!known)
                node_drop(c);
        } else if (name_is(c, "contains")) {
            xmlNodePtr r, rnext;
            for (r = xmlutil_first_element(c->children); r; r = rnext) {
                rnext = xmlutil_next_element(r);
                if (is_ns(p, r) && name_is(r, "los-id") && los_id_prefix_unknown(r))
                    node_drop(r);
            }
        }
    }
}

/* ---- parsing: Courses API ---- */

static int los_index(struct parse *p, struct ewp_doc *out, struct mcx_error *err)
{
    size_t n = 0;

    for (xmlNodePtr c = xmlutil_first_element(p->root->children); c; c = xmlutil_next_element(c))
        if (xmlutil_node_is(c, EWP_NS_COURSES, "learningOpportunitySpecification"))
            n++;
    if (n > EWP_MAX_ITEMS) {
        mcx_error_set(err, "too_large",
                      "more than %d learningOpportunitySpecification elements in one response",
                      EWP_MAX_ITEMS);
        return -1;
    }
    out->items = xcalloc(n ? n : 1, sizeof(*out->items));
    out->nitems = n;
    n = 0;
    for (xmlNodePtr c = xmlutil_first_element(p->root->children); c; c = xmlutil_next_element(c)) {
        struct ewp_item *it;
        if (!xmlutil_node_is(c, EWP_NS_COURSES, "learningOpportunitySpecification"))
            continue;
        it = &out->items[n];
        offer_init(&it->offer);
        it->index = (int)n;
        it->line = xmlutil_node_line(c);
        c->_private = (void *)(uintptr_t)(n + 1);
        los_tolerate(p, c);
        n++;
    }
    return 0;
}

/* Document-level errors fail every item, which shows the first as its reason. */
static void doc_errors_spread(struct ewp_doc *doc)
{
    for (size_t i = 0; i < doc->nitems; i++) {
        struct ewp_item *it = &doc->items[i];
        if (doc->nerrors > 0 && it->nerrors_kept < EWP_ITEM_MAX_ERRORS) {
            it->errors = xrealloc(it->errors, (it->nerrors_kept + 1) * sizeof(*it->errors));
            it->errors[it->nerrors_kept++] = doc->errors[0];
        }
        it->nerrors += doc->nerrors;
        it->ok = it->nerrors == 0;
    }
}

int ewp_parse_courses(const struct ewp_schemas *s, const char *data, size_t len, size_t max_bytes,
                      struct ewp_doc *out, struct mcx_error *err)
{
    struct parse p;
    struct mcx_error local;
    size_t i = 0;

    if (err == NULL)
        err = &local;
    mcx_error_clear(err);
    memset(out, 0, sizeof(*out));
    if (parse_begin(&p, s, data, len, max_bytes, EWP_NS_COURSES, "courses-response", err) < 0)
        return -1;
    if (los_index(&p, out, err) < 0) {
        parse_end(&p);
        ewp_doc_cleanup(out);
        return -1;
    }
    p.out = out;
    validate(&p, s);
    for (xmlNodePtr c = xmlutil_first_element(p.root->children); c; c = xmlutil_next_element(c))
        if (c->_private != NULL && i < out->nitems)
            los_read(&p, c, &out->items[i++]);
    doc_errors_spread(out);
    parse_end(&p);
    return 0;
}

void ewp_doc_cleanup(struct ewp_doc *doc)
{
    if (doc == NULL)
        return;
    for (size_t i = 0; i < doc->nitems; i++) {
        offer_cleanup(&doc->items[i].offer);
        free(doc->items[i].external_id);
        free(doc->items[i].los_code);
        free(doc->items[i].ounit_id);
        free(doc->items[i].errors);
    }
    free(doc->items);
    free(doc->errors);
    memset(doc, 0, sizeof(*doc));
}

/* ---- provider ---- */

/* The ISO 3166-1 alpha-2 codes assigned today (Debian iso-codes, iso_3166-1.json). */
static const char iso3166_codes[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCI"
    "CKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQ"
    "GRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLS"
    "LTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPG"
    "PHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTK"
    "TLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

int ewp_hei_country(const char *hei_id, char out[3])
{
    const char *dot;
    char cc[3];

    out[0] = '\0';
    if (hei_id == NULL || (dot = strrchr(hei_id, '.')) == NULL || strlen(dot + 1) != 2)
        return -1;
    cc[0] = (char)toupper((unsigned char)dot[1]);
    cc[1] = (char)toupper((unsigned char)dot[2]);
    cc[2] = '\0';
    if (strcmp(cc, "UK") == 0) /* the United Kingdom's ccTLD; ISO says GB */
        memcpy(cc, "GB", 3);
    for (size_t i = 0; i + 1 < sizeof(iso3166_codes); i += 2) {
        if (iso3166_codes[i] == cc[0] && iso3166_codes[i + 1] == cc[1]) {
            memcpy(out, cc, 3);
            return 0;
        }
    }
    return -1;
}

void ewp_doc_set_provider(struct ewp_doc *doc, const char *hei_id)
{
    char cc[3];

    if (doc == NULL || hei_id == NULL)
        return;
    ewp_hei_country(hei_id, cc);
    for (size_t i = 0; i < doc->nitems; i++) {
        struct offer *o = &doc->items[i].offer;
        free(o->provider_id);
        o->provider_id = xstrdup(hei_id);
        memcpy(o->provider_country, cc, sizeof(cc));
    }
}

/* ---- parsing: Simple Course Replication ---- */

int ewp_parse_replication(const struct ewp_schemas *s, const char *data, size_t len,
                          size_t max_bytes, struct ewp_id_list *out, struct mcx_error *err)
{
    struct parse p;
    struct mcx_error local;
    xmlNodePtr c, next;

    if (err == NULL)
        err = &local;
    mcx_error_clear(err);
    memset(out, 0, sizeof(*out));
    if (parse_begin(&p, s, data, len, max_bytes, EWP_NS_REPLICATION, "course-replication-response",
                    err) < 0)
        return -1;
    for (c = xmlutil_first_element(p.root->children); c; c = next) {
        next = xmlutil_next_element(c);
        if (xmlutil_node_is(c, EWP_NS_REPLICATION, "los-id") && los_id_prefix_unknown(c))
            node_drop(c);
    }
    validate(&p, s);
    if (p.nerrs > 0) {
        mcx_error_set(err, "validation_failed", "%s%s", p.first.message,
                      p.nerrs > 1 ? " (and more errors)" : "");
        xmlutil_utf8_trim_tail(err->message);
        xmlutil_copy_utf8(err->path, p.first.path, sizeof(err->path));
        err->line = p.first.line;
        parse_end(&p);
        return -1;
    }
    for (c = xmlutil_first_element(p.root->children); c; c = xmlutil_next_element(c)) {
        char *id = xmlutil_node_text(c);
        if (id == NULL)
            continue;
        out->ids = xrealloc(out->ids, (out->n + 1) * sizeof(*out->ids));
        out->ids[out->n++] = id;
    }
    parse_end(&p);
    return 0;
}

void ewp_id_list_cleanup(struct ewp_id_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->n; i++)
        free(list->ids[i]);
    free(list->ids);
    memset(list, 0, sizeof(*list));
}

/* ---- Discovery manifest ---- */

/*
 * A manifest is read for two entries, so no schema is compiled for it:
 * manifest.xsd lets apis-implemented hold anything (xs:any, lax), and each
 * entry's own XSD would be checked field by field anyway. What the client
 * relies on is checked here: the url (ewp:HTTPS), max-los-ids
 * (xs:positiveInteger), supports-modified-since (xs:boolean) and the version
 * (ManifestApiEntryBase: [0-9]+\.[0-9]+\.[0-9]+).
 */

#define MANIFEST_COURSES_MAJOR 0     /* Courses API 0.7.1 */
#define MANIFEST_REPLICATION_MAJOR 1 /* Simple Course Replication 1.0.0 */

struct entry_pick {
    xmlNodePtr node;
    long version[3];
    xmlNodePtr other; /* an entry of a version not spoken, for the message */
};

/* "1.0.0" -> {1, 0, 0}; -1 unless exactly three dot-separated decimal numbers. */
static int version_parse(const char *s, long v[3])
{
    for (int i = 0; i < 3; i++) {
        size_t n = strspn(s, "0123456789");
        if (n == 0 || n > 9 || s[n] != (i < 2 ? '.' : '\0'))
            return -1;
        v[i] = strtol(s, NULL, 10);
        s += n + (i < 2);
    }
    return 0;
}

static int version_cmp(const long a[3], const long b[3])
{
    for (int i = 0; i < 3; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* Keeps e if it is of the major spoken and newer than what pick holds. */
static void entry_consider(struct entry_pick *pick, xmlNodePtr e, long major)
{
    char *attr = xmlutil_attr_get(e, "version");
    long v[3];

    if (attr != NULL && version_parse(attr, v) == 0 && v[0] == major) {
        if (pick->node == NULL || version_cmp(v, pick->version) > 0) {
            pick->node = e;
            memcpy(pick->version, v, sizeof(v));
        }
    } else if (pick->other == NULL) {
        pick->other = e;
    }
    free(attr);
}

/* 1 when host lists hei_id, 0 when it lists other institutions, -1 when none. */
static int host_covers(xmlNodePtr host, const char *hei_id)
{
    bool listed = false;

    for (xmlNodePtr c = xmlutil_first_element(host->children); c; c = xmlutil_next_element(c)) {
        if (!xmlutil_node_is(c, EWP_NS_DISCOVERY, "institutions-covered"))
            continue;
        for (xmlNodePtr h = xmlutil_first_element(c->children); h; h = xmlutil_next_element(h)) {
            char *id;
            if (!xmlutil_node_is(h, EWP_NS_REGISTRY, "hei"))
                continue;
            listed = true;
            id = xmlutil_attr_get(h, "id");
            if (id != NULL && strcmp(id, hei_id) == 0) {
                free(id);
                return 1;
            }
            free(id);
        }
    }
    return listed ? 0 : -1;
}

/*
 * Discovery v6 allows one host per manifest (earlier versions several): the
 * first that lists hei_id, else the only one that lists nobody (a host for
 * one HEI need not name it, but two such hosts leave the choice open).
 */
static xmlNodePtr host_choose(const struct parse *p, const char *hei_id, struct mcx_error *err)
{
    xmlNodePtr bare = NULL;
    size_t nhosts = 0, nbare = 0;

    for (xmlNodePtr h = xmlutil_first_element(p->root->children); h; h = xmlutil_next_element(h)) {
        int covers;
        if (!xmlutil_node_is(h, EWP_NS_DISCOVERY, "host"))
            continue;
        nhosts++;
        if ((covers = host_covers(h, hei_id)) == 1)
            return h;
        if (covers < 0) {
            bare = h;
            nbare++;
        }
    }
    if (nbare == 1)
        return bare;
    mcx_error_set(err, "validation_failed", "no host of the manifest covers HEI %.100s (%zu %s%s)",
                  hei_id, nhosts, nhosts == 1 ? "host" : "hosts",
                  nbare > 1 ? ", several list no institution" : "");
    xmlutil_utf8_trim_tail(err->message);
    return NULL;
}

/* The error names the element (or, when it is missing, the entry) by path and line. */
static void manifest_error(const struct parse *p, xmlNodePtr at, struct mcx_error *err,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void manifest_error(const struct parse *p, xmlNodePtr at, struct mcx_error *err,
                           const char *fmt, ...)
{
    va_list ap;

    mcx_error_clear(err);
    mcx_strlcpy(err->code, "validation_failed", sizeof(err->code));
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    xmlutil_utf8_trim_tail(err->message);
    path_build(p, at, err->path, sizeof(err->path));
    err->line = xmlutil_node_line(at);
}

static xmlNodePtr entry_child(xmlNodePtr entry, const char *name)
{
    for (xmlNodePtr c = xmlutil_first_element(entry->children); c; c = xmlutil_next_element(c))
        if (c->ns != NULL && xmlStrEqual(c->ns->href, entry->ns->href) && name_is(c, name))
            return c;
    return NULL;
}

/* ewp:HTTPS is "https://.+"; http:// is let through for partners on a test machine. */
static bool url_ok(const char *u)
{
    size_t start;

    if (strlen(u) > EWP_MAX_URL)
        return false;
    if (xmlutil_has_prefix(u, "https://"))
        start = strlen("https://");
    else if (xmlutil_has_prefix(u, "http://"))
        start = strlen("http://");
    else
        return false;
    if (u[start] == '\0' || u[start] == '/')
        return false; /* no host */
    for (const unsigned char *c = (const unsigned char *)u; *c != '\0'; c++)
        if (*c <= 0x20 || *c >= 0x7f) /* the URL goes to an HTTP client as it is */
            return false;
    return true;
}

static int url_read(const struct parse *p, xmlNodePtr entry, const char *api, char **out,
                    struct mcx_error *err)
{
    xmlNodePtr n = entry_child(entry, "url");
    char *url = n ? xmlutil_node_text(n) : NULL;

    if (url == NULL) {
        manifest_error(p, n ? n : entry, err, "the %s entry has no <url>", api);
        return -1;
    }
    if (!url_ok(url)) {
        manifest_error(p, n, err, "the %s <url> is not an absolute http(s) URL: '%.120s'", api,
                       url);
        free(url);
        return -1;
    }
    *out = url;
    return 0;
}

/* xs:positiveInteger: an optional '+', decimal digits, not zero; past INT_MAX is INT_MAX. */
static int positive_int_read(const char *s, int *out)
{
    long long v = 0;

    if (*s == '+')
        s++;
    if (*s == '\0' || strspn(s, "0123456789") != strlen(s))
        return -1;
    for (; *s != '\0'; s++)
        if ((v = v * 10 + (*s - '0')) > INT32_MAX)
            v = INT32_MAX; /* a limit the server accepts: the client asks for fewer */
    if (v == 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int courses_entry_read(const struct parse *p, xmlNodePtr entry,
                              struct ewp_manifest_apis *out, struct mcx_error *err)
{
    xmlNodePtr n = entry_child(entry, "max-los-ids");
    char *t;
    int rc = 0;

    if (url_read(p, entry, "Courses API", &out->courses_url, err) < 0)
        return -1;
    if ((t = n ? xmlutil_node_text(n) : NULL) == NULL) {
        manifest_error(p, n ? n : entry, err, "the Courses API entry has no <max-los-ids>");
        rc = -1;
    } else if (positive_int_read(t, &out->max_los_ids) < 0) {
        manifest_error(p, n, err,
                       "the Courses API <max-los-ids> is not a positive integer: '%.40s'", t);
        rc = -1;
    }
    free(t);
    return rc;
}

static int replication_entry_read(const struct parse *p, xmlNodePtr entry,
                                  struct ewp_manifest_apis *out, struct mcx_error *err)
{
    xmlNodePtr n = entry_child(entry, "supports-modified-since");
    char *t = n ? xmlutil_node_text(n) : NULL;

    /* xs:boolean; anything else reads as false: asking for the whole list is always right */
    out->replication_modified_since = t != NULL && (strcmp(t, "true") == 0 || strcmp(t, "1") == 0);
    free(t);
    return url_read(p, entry, "Simple Course Replication API", &out->replication_url, err);
}

static int manifest_apis_read(const struct parse *p, xmlNodePtr host, const char *hei_id,
                              struct ewp_manifest_apis *out, struct mcx_error *err)
{
    struct entry_pick courses = {0}, replication = {0};

    for (xmlNodePtr a = xmlutil_first_element(host->children); a; a = xmlutil_next_element(a)) {
        if (!xmlutil_node_is(a, EWP_NS_REGISTRY, "apis-implemented"))
            continue;
        for (xmlNodePtr e = xmlutil_first_element(a->children); e; e = xmlutil_next_element(e)) {
            if (xmlutil_node_is(e, EWP_NS_COURSES_ENTRY, "courses"))
                entry_consider(&courses, e, MANIFEST_COURSES_MAJOR);
            else if (xmlutil_node_is(e, EWP_NS_REPLICATION_ENTRY, "simple-course-replication"))
                entry_consider(&replication, e, MANIFEST_REPLICATION_MAJOR);
        }
    }
    if (courses.node == NULL) {
        if (courses.other != NULL)
            manifest_error(p, courses.other, err,
                           "the host covering HEI %.100s implements no Courses API version "
                           "this client speaks (%d.x)",
                           hei_id, MANIFEST_COURSES_MAJOR);
        else
            manifest_error(p, host, err, "the host covering HEI %.100s implements no Courses API",
                           hei_id);
        return -1;
    }
    if (courses_entry_read(p, courses.node, out, err) < 0)
        return -1;
    if (replication.node != NULL && replication_entry_read(p, replication.node, out, err) < 0)
        return -1;
    return 0;
}

int ewp_parse_manifest(const char *data, size_t len, size_t max_bytes, const char *hei_id,
                       struct ewp_manifest_apis *out, struct mcx_error *err)
{
    struct parse p;
    struct mcx_error local;
    xmlNodePtr host;
    int rc = -1;

    if (err == NULL)
        err = &local;
    mcx_error_clear(err);
    memset(out, 0, sizeof(*out));
    memset(&p, 0, sizeof(p));
    p.rd.max_depth = EWP_MAX_DEPTH;
    if (hei_id == NULL || hei_id[0] == '\0') {
        mcx_error_set(err, "internal", "no hei_id to look up in the manifest");
        return -1;
    }
    if (input_check(data, len, max_bytes, err) < 0 ||
        parse_read(&p, data, len, "EWP discovery manifest", EWP_NS_DISCOVERY, "manifest", err) < 0)
        return -1;
    if ((host = host_choose(&p, hei_id, err)) != NULL &&
        manifest_apis_read(&p, host, hei_id, out, err) == 0)
        rc = 0;
    parse_end(&p);
    if (rc < 0)
        ewp_manifest_apis_cleanup(out);
    return rc;
}

void ewp_manifest_apis_cleanup(struct ewp_manifest_apis *m)
{
    if (m == NULL)
        return;
    free(m->courses_url);
    free(m->replication_url);
    memset(m, 0, sizeof(*m));
}

/* ---- sniffing the root ---- */

#define SNIFF_CHUNK 4096 /* fed piece by piece: the parse stops at the root start tag */

struct sniff {
    enum ewp_root root;
    bool done;
};

static void sniff_start(void *data, const xmlChar *localname, const xmlChar *prefix,
                        const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                        int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = data;
    struct sniff *s = ctxt->_private;
    const char *ns = (const char *)uri, *name = (const char *)localname;

    (void)prefix;
    (void)nb_namespaces;
    (void)namespaces;
    (void)nb_attributes;
    (void)nb_defaulted;
    (void)attributes;
    s->done = true;
    if (ns == NULL)
        s->root = EWP_ROOT_OTHER;
    else if (strcmp(ns, EWP_NS_DISCOVERY) == 0 && strcmp(name, "manifest") == 0)
        s->root = EWP_ROOT_MANIFEST;
    else if (strcmp(ns, EWP_NS_COURSES) == 0 && strcmp(name, "courses-response") == 0)
        s->root = EWP_ROOT_COURSES;
    else if (strcmp(ns, EWP_NS_REPLICATION) == 0 &&
             strcmp(name, "course-replication-response") == 0)
        s->root = EWP_ROOT_REPLICATION;
    xmlStopParser(ctxt);
}

/* Called at "<!DOCTYPE name ...", before an internal subset could declare anything. */
static void sniff_doctype(void *data, const xmlChar *name, const xmlChar *external_id,
                          const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = data;
    struct sniff *s = ctxt->_private;

    (void)name;
    (void)external_id;
    (void)system_id;
    s->done = true;
    xmlStopParser(ctxt);
}

static void sniff_error(void *data, xmlErrorPtr e)
{
    (void)data;
    (void)e;
}

enum ewp_root ewp_sniff_root(const char *data, size_t len)
{
    struct sniff s = {EWP_ROOT_OTHER, false};
    struct xmlutil_borrowed saved;
    xmlSAXHandler sax;
    xmlParserCtxtPtr ctxt;
    size_t off = 0;

    if (data == NULL || len == 0)
        return EWP_ROOT_OTHER;
    xmlInitParser();
    /* only these callbacks: no tree, no entity lookups, no external subset */
    memset(&sax, 0, sizeof(sax));
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = sniff_start;
    sax.internalSubset = sniff_doctype;
    sax.serror = sniff_error;
    xmlutil_handlers_borrow(&saved, sniff_error, NULL);
    if ((ctxt = xmlCreatePushParserCtxt(&sax, NULL, NULL, 0, NULL)) != NULL) {
        ctxt->_private = &s;
        xmlCtxtUseOptions(ctxt, XML_PARSE_NONET);
        /* seeded from process-wide defaults: pinned whatever others set */
        ctxt->replaceEntities = 0;
        ctxt->loadsubset = 0;
        ctxt->validate = 0;
        while (!s.done && off < len && !ctxt->disableSAX) {
            size_t n = len - off < SNIFF_CHUNK ? len - off : SNIFF_CHUNK;
            xmlParseChunk(ctxt, data + off, (int)n, off + n == len);
            off += n;
        }
        xmlFreeParserCtxt(ctxt);
    }
    xmlutil_handlers_return(&saved);
    return s.root;
}
