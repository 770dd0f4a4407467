/*
 * xmlutil.h — small helpers shared by the XML codecs (loq.c, ewp.c): walking
 * elements, reading attributes and trimmed text, and bounded UTF-8-safe copies.
 * Only codecs include libxml2; this header is for them alone.
 */
#ifndef MCX_XMLUTIL_H
#define MCX_XMLUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

/* XML whitespace (XML 1.0 §2.3 S). */
bool xmlutil_is_space(int c);
bool xmlutil_has_prefix(const char *s, const char *prefix);
/* A copy of s without leading and trailing XML whitespace. */
char *xmlutil_trim_dup(const char *s);
/* Cuts s (in place) back to a whole UTF-8 character if a copy truncated it. */
void xmlutil_utf8_trim_tail(char *s);
/* A bounded copy that never ends in half a UTF-8 character. */
void xmlutil_copy_utf8(char *dst, const char *src, size_t size);

/* Is n the element {ns}name? */
bool xmlutil_node_is(xmlNodePtr n, const char *ns, const char *name);
/* n itself or its next sibling that is an element; NULL when none. */
xmlNodePtr xmlutil_first_element(xmlNodePtr n);
xmlNodePtr xmlutil_next_element(xmlNodePtr n);
/* An attribute without namespace, copied; NULL when absent. */
char *xmlutil_attr_get(xmlNodePtr n, const char *name);
/* Trimmed text content, or NULL when empty. */
char *xmlutil_node_text(xmlNodePtr n);

#endif
