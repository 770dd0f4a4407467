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

#include <openssl/evp.h>

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

/* Every encoded-word of a long non-ASCII subject is at most 75 characters, holds
 * whole characters, and together they give the subject back. */
static void test_notice_and_long_subject(void **state)
{
    const char *title = "Duomen\xc5\xb3 mokslas socialiniams mokslams: \xc5\xbeini\xc5\xb3 "
                        "analiz\xc4\x97, vizualizacija ir atviri duomenys Lietuvoje";
    struct mail_notice n = {.to = "aiste@students.example",
                            .learner = "Aist\xc4\x97\nJonaityt\xc4\x97",
                            .title = title,
                            .institution = "Vytauto Did\xc5\xbeiojo universitetas",
                            .credential_id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
                            .public_url = "https://mcx.vdu.lt"};
    struct buf b, joined;
    const char *p, *end;

    (void)state;
    buf_init(&b);
    mail_notice_build("mcx <no-reply@vdu.lt>", &n, 0, "m", &b);
    assert_non_null(strstr(b.data, "\r\nhttps://mcx.vdu.lt/me\r\n"));
    assert_non_null(
        strstr(b.data, "\r\nhttps://mcx.vdu.lt/verify/1b4e28ba-2fa1-41d2-883f-0016d3cca427\r\n"));
    assert_non_null(strstr(b.data, "Hello Aist\xc4\x97 Jonaityt\xc4\x97,\r\n")); /* one line */
    buf_init(&joined);
    p = strstr(b.data, "\r\nSubject: ") + 11;
    end = strstr(p, "\r\nDate: ");
    while (p < end) {
        const char *w = strstr(p, "=?UTF-8?B?"), *we;
        unsigned char text[64];
        int len;
        assert_non_null(w);
        we = strstr(w + 10, "?=");
        assert_true(we + 2 - w <= 75);
        len = EVP_DecodeBlock(text, (const unsigned char *)w + 10, (int)(we - w - 10));
        assert_true(len > 0);
        while (len > 0 && we[-1] == '=' && text[len - 1] == '\0') { /* padding */
            len--;
            we--;
        }
        assert_true(utf8_is_valid((const char *)text, (size_t)len));
        buf_append(&joined, (const char *)text, (size_t)len);
        p = strstr(w, "?=") + 2;
        if (strncmp(p, "\r\n ", 3) == 0)
            p += 3;
    }
    assert_string_equal(joined.data, "Your micro-credential is ready: Duomen\xc5\xb3 mokslas "
                                     "socialiniams mokslams: \xc5\xbeini\xc5\xb3 analiz\xc4\x97, "
                                     "vizualizacija ir atviri duomenys Lietuvoje");
    buf_cleanup(&joined);
    buf_cleanup(&b);
}

static void test_object_append(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_puts(&b, "{\"a\": 1}");
    assert_true(json_object_append(&b, "k", "\"v\""));
    assert_string_equal(b.data, "{\"a\": 1, \"k\": \"v\"}");
    buf_reset(&b);
    buf_puts(&b, "{}");
    assert_true(json_object_append(&b, "seal", "{\"valid\":true}"));
    assert_string_equal(b.data, "{\"seal\": {\"valid\":true}}");
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
        cmocka_unit_test(test_notice_and_long_subject),
        cmocka_unit_test(test_object_append),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
