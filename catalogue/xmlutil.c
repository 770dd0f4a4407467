/*
 * xmlutil.c — helpers of the XML codecs (see xmlutil.h).
 */
#include "catalogue/xmlutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "server/util.h"

bool xmlutil_is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool xmlutil_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *xmlutil_trim_dup(const char *s)
{
    size_t len;

    while (xmlutil_is_space((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len > 0 && xmlutil_is_space((unsigned char)s[len - 1]))
        len--;
    return xstrndup(s, len);
}

void xmlutil_utf8_trim_tail(char *s)
{
    size_t len = strlen(s), start = len;
    unsigned char lead;
    size_t need;

    while (start > 0 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
        start--;
    if (start == 0)
        return;
    lead = (unsigned char)s[start - 1];
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (len - (start - 1) < need)
        s[start - 1] = '\0';
}

void xmlutil_copy_utf8(char *dst, const char *src, size_t size)
{
    if (mcx_strlcpy(dst, src, size) >= size)
        xmlutil_utf8_trim_tail(dst);
}

size_t xmlutil_utf8_decode(const unsigned char *p, unsigned long *cp)
{
    size_t len;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2, *cp = p[0] & 0x1Fu;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3, *cp = p[0] & 0x0Fu;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4, *cp = p[0] & 0x07u;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3Fu);
    }
    if ((len == 3 && *cp < 0x800) || (len == 4 && (*cp < 0x10000 || *cp > 0x10FFFF)) ||
        (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

/* XML 1.0 §2.2 Char. */
static bool is_xml_char(unsigned long cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* The reference that stands for cp, or NULL when cp is written as it is. */
static const char *xml_reference(unsigned long cp, enum xmlutil_quotes quotes)
{
    switch (cp) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return quotes == XMLUTIL_QUOTES_BOTH ? "&apos;" : NULL;
    case '\r': /* kept: a literal CR would be read back as LF (XML 1.0 §2.11) */
        return "&#13;";
    default:
        return NULL;
    }
}

void xmlutil_escape(struct buf *b, const char *s, enum xmlutil_quotes quotes)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        unsigned long cp;
        size_t n = xmlutil_utf8_decode(p, &cp);
        const char *ref;

        if (n == 0 || !is_xml_char(cp)) {
            buf_puts(b, XMLUTIL_REPLACEMENT);
            p += n ? n : 1;
            continue;
        }
        if ((ref = xml_reference(cp, quotes)) != NULL)
            buf_puts(b, ref);
        else
            buf_append(b, p, n);
        p += n;
    }
}

bool xmlutil_node_is(xmlNodePtr n, const char *ns, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

xmlNodePtr xmlutil_first_element(xmlNodePtr n)
{
    while (n != NULL && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

xmlNodePtr xmlutil_next_element(xmlNodePtr n)
{
    return xmlutil_first_element(n->next);
}

char *xmlutil_attr_get(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    char *copy;

    if (v == NULL)
        return NULL;
    copy = xstrdup((const char *)v);
    xmlFree(v);
    return copy;
}

char *xmlutil_node_text(xmlNodePtr n)
{
    xmlChar *raw = xmlNodeGetContent(n);
    char *t;

    if (raw == NULL)
        return NULL;
    t = xmlutil_trim_dup((const char *)raw);
    xmlFree(raw);
    if (t[0] == '\0') {
        free(t);
        return NULL;
    }
    return t;
}

/* libxml2's messages name elements as '{namespace}local': keep the local name. */
char *xmlutil_message_clean(const char *msg)
{
    struct buf b;
    const char *p = msg ? msg : "error";

    buf_init(&b);
    while (*p != '\0' && b.len < XMLUTIL_MAX_MESSAGE) {
        const char *close;
        if (*p == '{' && xmlutil_has_prefix(p + 1, "http") && (close = strchr(p, '}')) != NULL) {
            p = close + 1;
            continue;
        }
        buf_putc(&b, *p++);
    }
    while (b.len > 0 && xmlutil_is_space((unsigned char)b.data[b.len - 1]))
        b.data[--b.len] = '\0';
    if (b.data == NULL || b.len == 0)
        buf_puts(&b, "error");
    xmlutil_utf8_trim_tail(b.data);
    return buf_steal(&b, NULL);
}

/* ---- reading XML: hardened ---- */

/* The first well-formedness error is the one a malformed_xml reply names. */
void xmlutil_reader_record(struct xmlutil_reader *r, xmlErrorPtr e)
{
    char *msg;

    if (e == NULL || e->level < XML_ERR_ERROR || r->first_msg[0] != '\0')
        return;
    msg = xmlutil_message_clean(e->message);
    xmlutil_copy_utf8(r->first_msg, msg, sizeof(r->first_msg));
    free(msg);
    r->first_line = e->line;
}

static void reader_error(void *data, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = data;

    xmlutil_reader_record(ctxt->_private, e);
}

/* A DOCTYPE is refused before its internal subset is read: no entity is ever declared. */
static void sax_internal_subset(void *data, const xmlChar *name, const xmlChar *external_id,
                                const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = data;
    struct xmlutil_reader *r = ctxt->_private;

    (void)name;
    (void)external_id;
    (void)system_id;
    r->saw_doctype = true;
    r->stop_line = xmlSAX2GetLineNumber(ctxt);
    xmlStopParser(ctxt);
}

static void sax_start_element(void *data, const xmlChar *localname, const xmlChar *prefix,
                              const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                              int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = data;
    struct xmlutil_reader *r = ctxt->_private;

    if (ctxt->nodeNr >= r->max_depth) {
        r->too_deep = true;
        r->stop_line = xmlSAX2GetLineNumber(ctxt);
        xmlStopParser(ctxt);
        return;
    }
    xmlSAX2StartElementNs(data, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
    /* libxml2 keeps 16 bits of an element's line (and BIG_LINES gives only text
     * nodes more): past 65535 the real one waits in psvi, which nothing else uses */
    if (ctxt->node != NULL && ctxt->input != NULL && ctxt->input->line >= 65535)
        ctxt->node->psvi = (void *)(intptr_t)ctxt->input->line;
}

size_t xmlutil_sibling_pos(xmlNodePtr n)
{
    size_t before = 0;
    bool more = false;

    for (xmlNodePtr s = n->prev; s != NULL; s = s->prev)
        if (s->type == XML_ELEMENT_NODE && xmlStrEqual(s->name, n->name))
            before++;
    for (xmlNodePtr s = n->next; s != NULL && !more; s = s->next)
        more = s->type == XML_ELEMENT_NODE && xmlStrEqual(s->name, n->name);
    return before > 0 || more ? before + 1 : 0;
}

void xmlutil_path_join(struct buf *b, const char *const *seg, const char *const *prefix,
                       const size_t *pos, int k)
{
    while (k-- > 0) {
        buf_putc(b, '/');
        if (prefix[k] != NULL)
            buf_printf(b, "%s:", prefix[k]);
        buf_puts(b, seg[k]);
        if (pos[k] > 0)
            buf_printf(b, "[%zu]", pos[k]);
    }
}

/* An element's start-tag line, exact past 65535 (see sax_start_element). */
int xmlutil_node_line(xmlNodePtr n)
{
    long line;

    if (n == NULL || n->type != XML_ELEMENT_NODE)
        return 0;
    line = n->line == 65535 && n->psvi != NULL ? (long)(intptr_t)n->psvi : xmlGetLineNo(n);
    return line > 0 && line <= INT32_MAX ? (int)line : 0;
}

/*
 * No network, no entity substitution, no DTD loading or defaulted attributes,
 * no XInclude (never processed); BIG_LINES keeps line numbers past 65535.
 */
#define XMLUTIL_PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_BIG_LINES)

/* Parses len bytes into *doc; -1 with err "malformed_xml" (what names the input). */
int xmlutil_read(struct xmlutil_reader *r, const char *data, size_t len, const char *what,
                 xmlDocPtr *doc, struct mcx_error *err)
{
    xmlParserCtxtPtr ctxt;
    bool well_formed;

    *doc = NULL;
    if (len > INT32_MAX || (ctxt = xmlCreateMemoryParserCtxt(data, (int)len)) == NULL) {
        mcx_error_set(err, "malformed_xml", "%s: cannot read the document", what);
        return -1;
    }
    ctxt->_private = r;
    /* libxml2 seeds these from process-wide defaults: pin them whatever others set */
    ctxt->replaceEntities = 0;
    ctxt->loadsubset = 0;
    ctxt->validate = 0;
    ctxt->keepBlanks = 1;
    ctxt->sax->ignorableWhitespace = xmlSAX2Characters;
    ctxt->sax->internalSubset = sax_internal_subset;
    ctxt->sax->startElementNs = sax_start_element;
    ctxt->sax->serror = reader_error;
    xmlCtxtUseOptions(ctxt, XMLUTIL_PARSE_OPTIONS);
    xmlParseDocument(ctxt);
    *doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    well_formed = ctxt->wellFormed && ctxt->nsWellFormed;
    xmlFreeParserCtxt(ctxt);

    if (r->saw_doctype) {
        mcx_error_set(err, "malformed_xml", "%s: a DOCTYPE is not allowed (no DTDs, no entities)",
                      what);
        err->line = r->stop_line;
    } else if (r->too_deep) {
        mcx_error_set(err, "malformed_xml", "%s: elements nested deeper than %d levels", what,
                      r->max_depth);
        err->line = r->stop_line;
    } else if (!well_formed || *doc == NULL) {
        mcx_error_set(err, "malformed_xml", "%s: %s", what,
                      r->first_msg[0] ? r->first_msg : "not well-formed XML");
        err->line = r->first_line;
    } else {
        return 0;
    }
    xmlutil_utf8_trim_tail(
        err->message); /* what + libxml2's text may have been cut mid-character */
    if (*doc != NULL)
        xmlFreeDoc(*doc);
    *doc = NULL;
    return -1;
}

/*
 * libxml2 sends errors it raises without a context to its per-thread default
 * handlers, which print to stderr: they are borrowed for one call (xmlutil.h).
 */
static void silent_generic(void *data, const char *fmt, ...)
{
    (void)data;
    (void)fmt;
}

void xmlutil_handlers_borrow(struct xmlutil_borrowed *b, xmlStructuredErrorFunc fn, void *ctx)
{
    b->serror = xmlStructuredError;
    b->sctx = xmlStructuredErrorContext;
    b->generic = xmlGenericError;
    b->gctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(ctx, fn);
    xmlSetGenericErrorFunc(NULL, silent_generic);
}

void xmlutil_handlers_return(const struct xmlutil_borrowed *b)
{
    xmlSetStructuredErrorFunc(b->sctx, b->serror);
    xmlSetGenericErrorFunc(b->gctx, b->generic);
}
