/*
 * test_xmlutil.c — the XML writers' shared escaping (catalogue/xmlutil.h): the
 * references, the quote choice, and U+FFFD for what XML 1.0 cannot hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "catalogue/xmlutil.h"

#define FFFD XMLUTIL_REPLACEMENT

static void escape_is(const char *in, enum xmlutil_quotes quotes, const char *want)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, ""); /* an empty result still reads as "" */
    xmlutil_escape(&b, in, quotes);
    assert_string_equal(b.data, want);
    buf_cleanup(&b);
}

static void test_escape_references(void **state)
{
    (void)state;
    escape_is("plain text", XMLUTIL_QUOTES_DOUBLE, "plain text");
    escape_is("", XMLUTIL_QUOTES_DOUBLE, "");
    escape_is("a&b<c>d\"e'f", XMLUTIL_QUOTES_DOUBLE, "a&amp;b&lt;c&gt;d&quot;e'f");
    escape_is("a&b<c>d\"e'f", XMLUTIL_QUOTES_BOTH, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    /* CR survives as a reference (XML 1.0 §2.11 would read a literal one as LF) */
    escape_is("1\r\n2\t3", XMLUTIL_QUOTES_DOUBLE, "1&#13;\n2\t3");
}

static void test_escape_utf8(void **state)
{
    (void)state;
    escape_is("Vilnius universitetas \xC4\x85 \xE2\x82\xAC \xF0\x9F\x98\x80", XMLUTIL_QUOTES_BOTH,
              "Vilnius universitetas \xC4\x85 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

/* Each character XML cannot hold, and each byte that starts no character, is one U+FFFD. */
static void test_escape_replaces(void **state)
{
    (void)state;
    escape_is("a\x01z", XMLUTIL_QUOTES_DOUBLE, "a" FFFD "z");         /* C0 control */
    escape_is("a\xEF\xBF\xBEz", XMLUTIL_QUOTES_DOUBLE, "a" FFFD "z"); /* U+FFFE */
    escape_is("a\xC3(", XMLUTIL_QUOTES_DOUBLE, "a" FFFD "(");         /* cut short */
    escape_is("\xC0\xAF", XMLUTIL_QUOTES_DOUBLE, FFFD FFFD);          /* overlong */
    escape_is("\xED\xA0\x80", XMLUTIL_QUOTES_DOUBLE, FFFD FFFD FFFD); /* surrogate */
    escape_is("\xE2\x82", XMLUTIL_QUOTES_DOUBLE, FFFD FFFD);          /* at the end */
}

static void test_utf8_decode(void **state)
{
    (void)state;
    unsigned long cp;

    assert_int_equal(xmlutil_utf8_decode((const unsigned char *)"A", &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(xmlutil_utf8_decode((const unsigned char *)"\xC3\xA9", &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(xmlutil_utf8_decode((const unsigned char *)"\xF4\x8F\xBF\xBF", &cp), 4);
    assert_int_equal(cp, 0x10FFFF);
    assert_int_equal(xmlutil_utf8_decode((const unsigned char *)"\xF4\x90\x80\x80", &cp), 0);
    assert_int_equal(xmlutil_utf8_decode((const unsigned char *)"\xE0\x9F\xBF", &cp), 0);
    assert_int_equal(xmlutil_utf8_decode((const unsigned char *)"\x80", &cp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_references),
        cmocka_unit_test(test_escape_utf8),
        cmocka_unit_test(test_escape_replaces),
        cmocka_unit_test(test_utf8_decode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
