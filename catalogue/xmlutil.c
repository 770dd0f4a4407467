/*
 * xmlutil.c — helpers of the XML codecs (see xmlutil.h).
 */
#include "catalogue/xmlutil.h"

#include <stdlib.h>
#include <string.h>

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
