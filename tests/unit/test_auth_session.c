/*
 * test_auth_session.c — server/auth.h's browser-session parts that need no database:
 * new sessions (secret, stored id, CSRF token), the strict reading of the mcx_session
 * cookie out of a Cookie header, the Set-Cookie value, and the sign-in check that
 * runs scrypt even when there is no hash to check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/auth.h"

#define HEX_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEX_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static bool is_hex64(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static void test_session_generate(void **state)
{
    struct auth_session a, b;
    char id[AUTH_HASH_HEX_SIZE];

    (void)state;
    assert_int_equal(auth_session_generate(&a), 0);
    assert_int_equal(auth_session_generate(&b), 0);
    assert_true(is_hex64(a.secret) && is_hex64(a.id) && is_hex64(a.csrf_token));
    /* the stored id is the secret's SHA-256, nothing else */
    assert_int_equal(auth_secret_hash(a.secret, id), 0);
    assert_string_equal(a.id, id);
    /* the CSRF token is not derived from the secret */
    assert_string_not_equal(a.secret, a.csrf_token);
    assert_string_not_equal(a.id, a.csrf_token);
    assert_string_not_equal(a.secret, b.secret);
    assert_string_not_equal(a.csrf_token, b.csrf_token);
}

static void test_cookie_session_valid(void **state)
{
    char secret[AUTH_SECRET_SIZE];

    (void)state;
    assert_true(auth_cookie_session("mcx_session=" HEX_A, secret));
    assert_string_equal(secret, HEX_A);
    assert_true(auth_cookie_session("mcx_vid=0123; mcx_session=" HEX_B "; theme=dark", secret));
    assert_string_equal(secret, HEX_B);
    /* blanks around names and values (RFC 6265 §5.2 readers trim them) */
    assert_true(auth_cookie_session("  mcx_session =\t" HEX_A " ;x=y", secret));
    assert_string_equal(secret, HEX_A);
    /* the first well-formed value wins; malformed ones before it are passed over */
    assert_true(
        auth_cookie_session("mcx_session=nope; mcx_session=" HEX_B "; mcx_session=" HEX_A, secret));
    assert_string_equal(secret, HEX_B);
}

static void test_cookie_session_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "mcx_session=",
        "mcx_session",
        "mcx_session=" HEX_A "0",          /* 65 digits */
        "mcx_session=0011223344556677889", /* short */
        "mcx_session=00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff", /* case */
        "mcx_session=\"" HEX_A "\"",                                                    /* quoted */
        "xmcx_session=" HEX_A, /* another name */
        "mcx_sessions=" HEX_A,
        "MCX_SESSION=" HEX_A, /* names are case-sensitive */
        "mcx_session=" HEX_A "x",
        "mcx_session=g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "a=mcx_session=" HEX_A, /* inside another value */
    };
    char secret[AUTH_SECRET_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(secret, sizeof(secret), "junk");
        if (auth_cookie_session(bad[i], secret))
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(secret, "");
    }
    assert_false(auth_cookie_session(NULL, secret));
    assert_string_equal(secret, "");
}

static void test_session_cookie_value(void **state)
{
    char out[AUTH_SET_COOKIE_SIZE];

    (void)state;
    auth_session_cookie(out, HEX_A, false);
    assert_string_equal(out, "mcx_session=" HEX_A "; Path=/; Max-Age=1209600; HttpOnly; "
                             "SameSite=Lax");
    auth_session_cookie(out, HEX_A, true);
    assert_string_equal(out, "mcx_session=" HEX_A "; Path=/; Max-Age=1209600; HttpOnly; "
                             "SameSite=Lax; Secure");
    auth_session_cookie(out, NULL, true);
    assert_string_equal(out, "mcx_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure");
}

static void test_password_check(void **state)
{
    char hash[AUTH_PASSWORD_HASH_SIZE];

    (void)state;
    assert_int_equal(auth_password_hash("correct horse", hash, sizeof(hash)), 0);
    assert_int_equal(auth_password_check("correct horse", hash), 0);
    assert_int_equal(auth_password_check("correct horsE", hash), -1);
    /* no hash: refused, whatever the password */
    assert_int_equal(auth_password_check("correct horse", NULL), -1);
    assert_int_equal(auth_password_check("", NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_generate),       cmocka_unit_test(test_cookie_session_valid),
        cmocka_unit_test(test_cookie_session_invalid), cmocka_unit_test(test_session_cookie_value),
        cmocka_unit_test(test_password_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
