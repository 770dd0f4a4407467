/*
 * xmlutil.h — small helpers shared by the XML codecs (loq.c, ewp.c): walking
 * elements, reading attributes and trimmed text, and bounded UTF-8-safe copies;
 * and the escaping of the XML writers (manifest.c, recognition/export.c).
 * Only codecs include libxml2; this header is for them and those writers alone.
 */
#ifndef MCX_XMLUTIL_H
#define MCX_XMLUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "server/util.h"

/* XML whitespace (XML 1.0 §2.3 S). */
bool xmlutil_is_space(int c);
bool xmlutil_has_prefix(const char *s, const char *prefix);
/* A copy of s without leading and trailing XML whitespace. */
char *xmlutil_trim_dup(const char *s);
/* Cuts s (in place) back to a whole UTF-8 character if a copy truncated it. */
void xmlutil_utf8_trim_tail(char *s);
/* A bounded copy that never ends in half a UTF-8 character. */
void xmlutil_copy_utf8(char *dst, const char *src, size_t size);

#define XMLUTIL_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD, UTF-8 */

/* Length of the UTF-8 sequence at p and its code point, or 0 if it is not one
 * (overlong, a surrogate, past U+10FFFF, cut short). */
size_t xmlutil_utf8_decode(const unsigned char *p, unsigned long *cp);

/* Which quotes xmlutil_escape writes as references: '"' always, '\'' too when the
 * text may also stand between single quotes. */
enum xmlutil_quotes { XMLUTIL_QUOTES_DOUBLE, XMLUTIL_QUOTES_BOTH };

/*
 * Appends s to b as XML text or a double-quoted attribute value, escaped. What XML
 * cannot hold (control characters, invalid UTF-8) becomes U+FFFD rather than making
 * the whole document unparsable.
 */
void xmlutil_escape(struct buf *b, const char *s, enum xmlutil_quotes quotes);

/* Is n the element {ns}name? */
bool xmlutil_node_is(xmlNodePtr n, const char *ns, const char *name);
/* n itself or its next sibling that is an element; NULL when none. */
xmlNodePtr xmlutil_first_element(xmlNodePtr n);
xmlNodePtr xmlutil_next_element(xmlNodePtr n);
/* An attribute without namespace, copied; NULL when absent. */
char *xmlutil_attr_get(xmlNodePtr n, const char *name);
/* Trimmed text content, or NULL when empty. */
char *xmlutil_node_text(xmlNodePtr n);

/* ---- reading untrusted XML ---- */

#define XMLUTIL_MAX_MESSAGE 600 /* bytes of a libxml2 message kept */

/* libxml2's messages name elements as '{namespace}local': the local name, trimmed. */
char *xmlutil_message_clean(const char *msg);

/* What one parse of untrusted (or our own) bytes ran into. */
struct xmlutil_reader {
    int max_depth;
    bool saw_doctype, too_deep;
    int stop_line;
    int first_line;
    char first_msg[512];
};

/* Keeps the first error (level ERROR or worse) of a parse as the one to report. */
void xmlutil_reader_record(struct xmlutil_reader *r, xmlErrorPtr e);

/*
 * Parses len bytes into *doc with no network, no entity substitution, no DTD
 * loading: a DOCTYPE stops the parse before its internal subset is read, and
 * elements deeper than r->max_depth stop it too. -1 with err "malformed_xml"
 * (its message starts with what), 0 and *doc otherwise.
 */
int xmlutil_read(struct xmlutil_reader *r, const char *data, size_t len, const char *what,
                 xmlDocPtr *doc, struct mcx_error *err);
/* An element's start-tag line, exact past 65535 (libxml2 keeps 16 bits). */
int xmlutil_node_line(xmlNodePtr n);
/* The element's 1-based place among its same-named element siblings; 0 when alone. */
size_t xmlutil_sibling_pos(xmlNodePtr n);
/* Appends "/seg[k-1]" .. "/seg[0]" to b, each as "prefix:name[pos]" (no prefix when
 * NULL, no "[pos]" when 0): an error path built leaf first. */
void xmlutil_path_join(struct buf *b, const char *const *seg, const char *const *prefix,
                       const size_t *pos, int k);

/*
 * libxml2 sends errors it raises without a context (encoding conversion, I/O)
 * to its per-thread default handlers, which print to stderr: for the length
 * of one call they are borrowed, and given back before it returns.
 */
struct xmlutil_borrowed {
    xmlStructuredErrorFunc serror;
    void *sctx;
    xmlGenericErrorFunc generic;
    void *gctx;
};

void xmlutil_handlers_borrow(struct xmlutil_borrowed *b, xmlStructuredErrorFunc fn, void *ctx);
void xmlutil_handlers_return(const struct xmlutil_borrowed *b);

#endif