/*
 * test_mail.c — server/mail.h: --smtp-from read as a sender (and refused when it could
 * inject headers), the confirmation mail's headers and body; json_object_append, which
 * adds a member to a stored object's text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/json.h"
#include "server/mail.h"

static void test_from(void **state)
{
    static const struct {
        const char *from, *addr;
    } good[] = {
        {"no-reply@vdu.lt", "no-reply@vdu.lt"},
        {"mcx <no-reply@vdu.lt>", "no-reply@vdu.lt"},
        {"\"VDU, Studijos\" <studijos@vdu.lt>", "studijos@vdu.lt"},
        {"Vytauto Did\xc5\xbeiojo universitetas <no-reply@vdu.lt>", "no-reply@vdu.lt"},
    };
    static const char *const bad[] = {
        "",
        "no-reply",
        "@vdu.lt",
        "a@",
        "a@b@c",
        "Name <a@b> trailer",
        "Name <a@b",
        "a b@vdu.lt",
        "x\r\nBcc: victim@example.org <a@vdu.lt>",
        "Name <a@b\n>",
        "Name <>",
        "Name <a@b>>",
    };
    char addr[MAIL_ADDRESS_SIZE];
    struct mcx_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(mail_from_parse(good[i].from, addr, &err), 0);
        assert_string_equal(addr, good[i].addr);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mail_from_parse(bad[i], addr, &err), -1);
        assert_string_equal(err.code, "bad_config");
        assert_string_equal(addr, "");
    }
}

static void test_confirmation_message(void **state)
{
    struct buf b;
    const char *body;

    (void)state;
    buf_init(&b);
    mail_confirmation_build("Vytauto Did\xc5\xbeiojo universitetas <no-reply@vdu.lt>",
                            "aiste@students.example", "https://mcx.example/confirm#token=abc",
                            1796126400 /* 2026-12-01T12:00:00Z */, "m1", &b);
    /* headers: the name as one encoded-word, CRLF throughout */
    assert_non_null(strstr(b.data, "From: =?UTF-8?B?Vnl0YXV0byBEaWTFvmlvam8gdW5pdmVyc2l0ZXRhcw==?= "
                                   "<no-reply@vdu.lt>\r\n"));
    assert_non_null(strstr(b.data, "\r\nTo: aiste@students.example\r\n"));
    assert_non_null(strstr(b.data, "\r\nSubject: Confirm your e-mail address for mcx\r\n"));
    assert_non_null(strstr(b.data, "\r\nDate: Tue, 01 Dec 2026 12:00:00 +0000\r\n"));
    assert_non_null(strstr(b.data, "\r\nMessage-ID: <m1@vdu.lt>\r\n"));
    assert_non_null(strstr(b.data, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    body = strstr(b.data, "\r\n\r\n");
    assert_non_null(body);
    assert_non_null(strstr(body, "\r\nhttps://mcx.example/confirm#token=abc\r\n"));
    for (const char *p = b.data; *p; p++)
        if (*p == '\n')
            assert_true(p > b.data && p[-1] == '\r'); /* no bare LF */
    buf_cleanup(&b);

    /* a plain name stays plain; a bare address is the From as is */
    buf_init(&b);
    mail_confirmation_build("mcx <a@b.example>", "c@d.example", "l", 0, "m", &b);
    assert_non_null(strstr(b.data, "From: mcx <a@b.example>\r\n"));
    buf_cleanup(&b);
    buf_init(&b);
    mail_confirmation_build("a@b.example", "c@d.example", "l", 0, "m", &b);
    assert_non_null(strstr(b.data, "From: a@b.example\r\n"));
    buf_cleanup(&b);
}

static void test_object_append(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_puts(&b, "{\"a\": 1}");
    assert_true(json_object_append(&b, "k", "\"v\""));
    assert_string_equal(b.data, "{\"a\": 1,\"k\":\"v\"}");
    buf_reset(&b);
    buf_puts(&b, "{}");
    assert_true(json_object_append(&b, "seal", "{\"valid\":true}"));
    assert_string_equal(b.data, "{\"seal\":{\"valid\":true}}");
    buf_reset(&b);
    buf_puts(&b, "[1]");
    assert_false(json_object_append(&b, "k", "1"));
    assert_string_equal(b.data, "[1]");
    buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from),
        cmocka_unit_test(test_confirmation_message),
        cmocka_unit_test(test_object_append),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
