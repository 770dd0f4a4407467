/*
 * test_auth.c — server/auth.h: the token format and its strict parser, secret hashes
 * and their constant-time comparison, the Authorization header, scrypt password
 * hashes (against RFC 7914's vector), e-mail shape, institution rights, and the async
 * bearer check's answers that need no database row (always on a later loop turn).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "server/auth.h"
#include "server/db.h"

#define UUID_A "0f8fad5b-d9cb-469f-a165-70867728950e"
#define SECRET_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define TOKEN_A "mcx_" UUID_A "_" SECRET_A

/* ---- tokens ---- */

static void test_token_generate_shape(void **state)
{
    (void)state;
    char token[AUTH_TOKEN_SIZE], id[AUTH_UUID_LEN + 1], hash[AUTH_HASH_HEX_SIZE];
    char pid[AUTH_UUID_LEN + 1], secret[AUTH_SECRET_SIZE], again[AUTH_HASH_HEX_SIZE];

    assert_int_equal(auth_token_generate(token, sizeof(token), id, hash), 0);
    assert_int_equal(strlen(token), AUTH_TOKEN_LEN);
    assert_int_equal(strncmp(token, "mcx_", 4), 0);
    assert_true(auth_uuid_is_valid(id));
    assert_int_equal(id[14], '4');                  /* version 4 */
    assert_non_null(strchr("89ab", id[19]));        /* RFC 4122 variant */
    assert_int_equal(memcmp(token + 4, id, 36), 0); /* the id is the row's id */
    assert_int_equal(strlen(hash), 64);

    /* What it makes, the parser takes; the stored hash is the secret's. */
    assert_int_equal(auth_token_parse(token, pid, secret, sizeof(secret)), 0);
    assert_string_equal(pid, id);
    assert_int_equal(strlen(secret), AUTH_SECRET_LEN);
    assert_int_equal(auth_secret_hash(secret, again), 0);
    assert_string_equal(again, hash);
    assert_null(strstr(token, hash)); /* the token does not carry its stored hash */
}

static void test_token_generate_unique(void **state)
{
    (void)state;
    char t1[AUTH_TOKEN_SIZE], t2[AUTH_TOKEN_SIZE];
    char id1[AUTH_UUID_LEN + 1], id2[AUTH_UUID_LEN + 1];
    char h1[AUTH_HASH_HEX_SIZE], h2[AUTH_HASH_HEX_SIZE];

    assert_int_equal(auth_token_generate(t1, sizeof(t1), id1, h1), 0);
    assert_int_equal(auth_token_generate(t2, sizeof(t2), id2, h2), 0);
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(id1, id2);
    assert_string_not_equal(h1, h2);
    assert_string_not_equal(t1 + 41, t2 + 41); /* the secrets */
}

static void test_token_generate_small_buffer(void **state)
{
    (void)state;
    char token[AUTH_TOKEN_SIZE], id[AUTH_UUID_LEN + 1], hash[AUTH_HASH_HEX_SIZE];

    memset(token, 'x', sizeof(token));
    assert_int_equal(auth_token_generate(token, AUTH_TOKEN_LEN, id, hash), -1);
    assert_string_equal(token, "");
    assert_string_equal(id, "");
    assert_string_equal(hash, "");
}

static void test_token_parse_valid(void **state)
{
    (void)state;
    char id[AUTH_UUID_LEN + 1], secret[AUTH_SECRET_SIZE];

    assert_int_equal(auth_token_parse(TOKEN_A, id, secret, sizeof(secret)), 0);
    assert_string_equal(id, UUID_A);
    assert_string_equal(secret, SECRET_A);
}

static void test_token_parse_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "mcx_",
        "mcx_" UUID_A,
        "mcx_" UUID_A "_",
        "MCX_" UUID_A "_" SECRET_A, /* prefix case */
        "mcx-" UUID_A "_" SECRET_A, /* prefix separator */
        "mcx_" UUID_A "-" SECRET_A, /* id/secret separator */
        " " TOKEN_A,                /* leading space */
        TOKEN_A " ",                /* trailing space */
        TOKEN_A "\n",               /* trailing newline */
        TOKEN_A "0",                /* one hex digit too many */
        "mcx_" UUID_A "_"
        "00112233445566778899aabbccddeeff",                   /* half a secret */
        "mcx_0F8FAD5B-D9CB-469F-A165-70867728950E_" SECRET_A, /* uppercase id */
        "mcx_" UUID_A "_00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
        "mcx_" UUID_A "_00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg",
        "mcx_0f8fad5bd9cb-469f-a165-70867728950e0_" SECRET_A,         /* dash moved */
        "mcx_0f8fad5b-d9cb-469f-a165_70867728950e_" SECRET_A,         /* '_' in the id */
        "mcx_" UUID_A "_" SECRET_A "_" SECRET_A,                      /* two secrets */
        "mcx_" UUID_A "_ABEiM0RVZneImaq7zN3u_wARIjNEVWZ3iJmqu8zd7v8", /* base64url secret */
    };
    char id[AUTH_UUID_LEN + 1], secret[AUTH_SECRET_SIZE];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(id, 'x', sizeof(id));
        memset(secret, 'x', sizeof(secret));
        if (auth_token_parse(bad[i], id, secret, sizeof(secret)) != -1)
            fail_msg("accepted bad token %zu: '%s'", i, bad[i]);
        assert_string_equal(id, "");
        assert_string_equal(secret, "");
    }
    assert_int_equal(auth_token_parse(NULL, id, secret, sizeof(secret)), -1);
    /* A secret buffer that cannot hold the secret is refused, not overrun. */
    assert_int_equal(auth_token_parse(TOKEN_A, id, secret, AUTH_SECRET_LEN), -1);
}

static void test_uuid_is_valid(void **state)
{
    (void)state;
    assert_true(auth_uuid_is_valid(UUID_A));
    assert_true(auth_uuid_is_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(auth_uuid_is_valid(""));
    assert_false(auth_uuid_is_valid("0f8fad5b-d9cb-469f-a165-70867728950"));   /* short */
    assert_false(auth_uuid_is_valid("0f8fad5b-d9cb-469f-a165-70867728950e0")); /* long */
    assert_false(auth_uuid_is_valid("0F8FAD5B-D9CB-469F-A165-70867728950E"));  /* case */
    assert_false(auth_uuid_is_valid("{0f8fad5b-d9cb-469f-a165-70867728950e}"));
    assert_false(auth_uuid_is_valid("0f8fad5bd9cb469fa16570867728950e"));
}

/* ---- hashes ---- */

static void test_secret_hash_vector(void **state)
{
    (void)state;
    char out[AUTH_HASH_HEX_SIZE];

    /* FIPS 180-2 appendix B.1 */
    assert_int_equal(auth_secret_hash("abc", out), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(auth_secret_hash("", out), 0);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_hash_equal(void **state)
{
    (void)state;
    const char *a = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    char b[AUTH_HASH_HEX_SIZE + 1];

    mcx_strlcpy(b, a, sizeof(b));
    assert_true(auth_hash_equal(a, b));
    b[0] = 'c';
    assert_false(auth_hash_equal(a, b)); /* first character */
    mcx_strlcpy(b, a, sizeof(b));
    b[63] = 'e';
    assert_false(auth_hash_equal(a, b)); /* last character */
    mcx_strlcpy(b, a, sizeof(b));
    b[63] = '\0';
    assert_false(auth_hash_equal(a, b)); /* a prefix is not equal */
    assert_false(auth_hash_equal(b, a));
    mcx_strlcpy(b, a, sizeof(b));
    b[64] = '0';
    b[65] = '\0';
    assert_false(auth_hash_equal(a, b)); /* nor is a longer string */
    assert_false(auth_hash_equal(a, NULL));
    assert_false(auth_hash_equal(NULL, a));
    assert_false(auth_hash_equal("", ""));
}

/* ---- Authorization header ---- */

static void test_bearer_parse_valid(void **state)
{
    (void)state;
    char tok[AUTH_TOKEN_SIZE];

    assert_int_equal(auth_bearer_parse("Bearer " TOKEN_A, tok, sizeof(tok)), 0);
    assert_string_equal(tok, TOKEN_A);
    assert_int_equal(auth_bearer_parse("bearer abc", tok, sizeof(tok)), 0); /* RFC 7235 §2.1 */
    assert_string_equal(tok, "abc");
    assert_int_equal(auth_bearer_parse("BEARER   a-._~+/Z9==", tok, sizeof(tok)), 0);
    assert_string_equal(tok, "a-._~+/Z9==");
}

static void test_bearer_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",           "Bearer",       "Bearer ",     "Bearer  ",   "Basic dXNlcjpwYXNz",
        "Bearerabc",  "Bearer\tabc",  " Bearer abc", "Bearer a b", "Bearer abc ",
        "Bearer a=b", "Bearer =",     "Bearer a\"b", "Bearer a,b", "Token abc",
        "Bearer é",   "Bearer a\r\n",
    };
    char tok[16];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(tok, 'x', sizeof(tok));
        if (auth_bearer_parse(bad[i], tok, sizeof(tok)) != -1)
            fail_msg("accepted bad header %zu: '%s'", i, bad[i]);
        assert_string_equal(tok, "");
    }
    assert_int_equal(auth_bearer_parse(NULL, tok, sizeof(tok)), -1);
    /* 15 characters fit in 16 bytes, 16 do not (refused, not cut). */
    assert_int_equal(auth_bearer_parse("Bearer 123456789012345", tok, sizeof(tok)), 0);
    assert_string_equal(tok, "123456789012345");
    assert_int_equal(auth_bearer_parse("Bearer 1234567890123456", tok, sizeof(tok)), -1);
    assert_int_equal(auth_bearer_parse("Bearer 12345678901234==", tok, sizeof(tok)), -1);
}

/* ---- passwords ---- */

/* RFC 7914 §12, third vector: the encoding and parameters are read back as written. */
#define RFC7914_HASH                                                                               \
    "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz"  \
    "2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw=="
/* Python's hashlib.scrypt, our own parameters: another implementation agrees. */
#define PY_HASH                                                                                    \
    "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc="

static void test_password_known_vectors(void **state)
{
    (void)state;
    assert_int_equal(auth_password_verify("pleaseletmein", RFC7914_HASH), 0);
    assert_int_equal(auth_password_verify("pleaseletmeiN", RFC7914_HASH), -1);
    assert_int_equal(auth_password_verify("correct horse", PY_HASH), 0);
    assert_int_equal(auth_password_verify("correct horse ", PY_HASH), -1);
    assert_int_equal(auth_password_verify("", PY_HASH), -1);
}

static void test_password_round_trip(void **state)
{
    (void)state;
    char h1[AUTH_PASSWORD_HASH_SIZE], h2[AUTH_PASSWORD_HASH_SIZE];

    assert_int_equal(auth_password_hash("Tr0ub4dor&3 ünïcode", h1, sizeof(h1)), 0);
    assert_int_equal(strncmp(h1, "scrypt$32768$8$1$", 17), 0);
    assert_int_equal(auth_password_verify("Tr0ub4dor&3 ünïcode", h1), 0);
    assert_int_equal(auth_password_verify("Tr0ub4dor&3 unicode", h1), -1);
    assert_int_equal(auth_password_verify("Tr0ub4dor&3 ünïcod", h1), -1);
    /* A fresh salt each time: the same password never gives the same hash. */
    assert_int_equal(auth_password_hash("Tr0ub4dor&3 ünïcode", h2, sizeof(h2)), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(auth_password_verify("Tr0ub4dor&3 ünïcode", h2), 0);
}

static void test_password_limits(void **state)
{
    (void)state;
    char longpw[AUTH_PASSWORD_MAX_LEN + 2];
    char h[AUTH_PASSWORD_HASH_SIZE];

    memset(longpw, 'a', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    assert_int_equal(auth_password_hash(longpw, h, sizeof(h)), -1); /* 1025: refused */
    assert_string_equal(h, "");
    longpw[AUTH_PASSWORD_MAX_LEN] = '\0';
    assert_int_equal(auth_password_hash(longpw, h, sizeof(h)), 0); /* 1024: fine */
    assert_int_equal(auth_password_verify(longpw, h), 0);
    assert_int_equal(auth_password_hash("pw", h, 40), -1); /* out too small */
    assert_string_equal(h, "");
    assert_int_equal(auth_password_hash(NULL, h, sizeof(h)), -1);
}

static void test_password_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "scrypt",
        "scrypt$",
        "bcrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        /* N not a power of two; N, r, p zero, huge, signed or not decimal */
        "scrypt$32767$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$0$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$4194304$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$32768$0$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$32768$8$0$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$32768$8$99$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$1048576$32$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$+32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$0x8000$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        /* base64: bad alphabet, bad length, whitespace, too short a salt or key */
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ-c0LbbscJc=",
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw=$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc",
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$ XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$32768$8$1$AAECAw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxO",
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$",
        "scrypt$32768$8$1$$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        /* fields missing or added */
        "scrypt$32768$8$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=",
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=$",
        "scrypt$32768$8$1$AAECAwQFBgcICQoLDA0ODw==$XGYmKKxOsQaKKH4qoqICriSOmNsE1h0zJ+c0LbbscJc=$x",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (auth_password_verify("correct horse", bad[i]) != -1)
            fail_msg("accepted malformed hash %zu: '%s'", i, bad[i]);
    }
    assert_int_equal(auth_password_verify("correct horse", NULL), -1);
    assert_int_equal(auth_password_verify(NULL, PY_HASH), -1);
}

static void test_password_generate(void **state)
{
    (void)state;
    char p1[64], p2[64], small[AUTH_PASSWORD_GENERATED_LEN];

    assert_int_equal(auth_password_generate(p1, sizeof(p1)), 0);
    assert_int_equal(auth_password_generate(p2, sizeof(p2)), 0);
    assert_int_equal(strlen(p1), AUTH_PASSWORD_GENERATED_LEN);
    for (size_t i = 0; i < strlen(p1); i++)
        assert_true(isalnum((unsigned char)p1[i]));
    assert_string_not_equal(p1, p2);
    assert_int_equal(auth_password_generate(small, sizeof(small)), -1);
    assert_string_equal(small, "");
}

/* ---- e-mail and rights ---- */

static void test_email_is_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "ada@example.org",
        "Ada.Lovelace+mcx@Example.ORG",
        "a@b.lt",
        "x@sub.domain-1.vdu.lt",
        "rūta@vdu.lt",
        "o'brien@uni.ie",
        "a@xn--bcher-kva.de",
    };
    static const char *const bad[] = {
        "",           "ada",        "@example.org", "ada@",        "ada@example", "ada@@x.org",
        "a@b@c.org",  "ada @x.org", "ada@x .org",   "ada@-x.org",  "ada@x-.org",  "ada@x..org",
        "ada@.x.org", "ada@x.org.", "ada@x_y.org",  "ada\t@x.org", "\xff@x.org",
    };
    char longlocal[80], addr[300];
    size_t n;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!auth_email_is_valid(good[i]))
            fail_msg("refused good address '%s'", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (auth_email_is_valid(bad[i]))
            fail_msg("accepted bad address '%s'", bad[i]);
    }
    assert_false(auth_email_is_valid(NULL));
    memset(longlocal, 'a', 65);
    snprintf(longlocal + 65, sizeof(longlocal) - 65, "@x.org");
    assert_false(auth_email_is_valid(longlocal)); /* local part over 64 */
    /* a@ + labels of 50 letters: 4 of them make 209 bytes, 5 make 260 (over 254). */
    n = (size_t)snprintf(addr, sizeof(addr), "a@");
    for (int label = 0; label < 5; label++) {
        memset(addr + n, 'b', 50);
        addr[n + 50] = '.';
        n += 51;
        snprintf(addr + n, sizeof(addr) - n, "org");
        if (label == 3)
            assert_true(auth_email_is_valid(addr));
    }
    assert_int_equal(strlen(addr), 260);
    assert_false(auth_email_is_valid(addr));
    /* A label of 64 letters is one too long (RFC 1035 §2.3.4). */
    n = (size_t)snprintf(addr, sizeof(addr), "a@");
    memset(addr + n, 'c', 64);
    snprintf(addr + n + 64, sizeof(addr) - n - 64, ".org");
    assert_false(auth_email_is_valid(addr));
    snprintf(addr + n + 63, sizeof(addr) - n - 63, ".org");
    assert_true(auth_email_is_valid(addr)); /* 63 is fine */
}

static void test_may_write_institution(void **state)
{
    (void)state;
    struct auth_user admin = {"id", "a@x.org", "admin", ""};
    struct auth_user pub = {"id", "p@x.org", "publisher", "vdu.lt"};
    struct auth_user reg = {"id", "r@x.org", "registrar", "vdu.lt"};
    struct auth_user student = {"id", "s@x.org", "student", "vdu.lt"};
    struct auth_user orphan = {"id", "o@x.org", "publisher", ""};

    assert_true(auth_may_write_institution(&admin, "vdu.lt"));
    assert_true(auth_may_write_institution(&admin, "uab.cat"));
    assert_true(auth_may_write_institution(&pub, "vdu.lt"));
    assert_false(auth_may_write_institution(&pub, "uab.cat"));
    assert_false(auth_may_write_institution(&pub, "vdu.l"));
    assert_false(auth_may_write_institution(&pub, "vdu.lt.evil"));
    assert_false(auth_may_write_institution(&reg, "vdu.lt"));
    assert_false(auth_may_write_institution(&student, "vdu.lt"));
    assert_false(auth_may_write_institution(&orphan, ""));
    assert_false(auth_may_write_institution(&admin, ""));
    assert_false(auth_may_write_institution(&admin, NULL));
    assert_false(auth_may_write_institution(NULL, "vdu.lt"));
}

/* ---- async bearer check ---- */

struct answer {
    int calls;
    int status;
    char message[128];
    bool had_user;
};

static void on_answer(const struct auth_user *user, int status, const char *message, void *arg)
{
    struct answer *a = arg;

    a->calls++;
    a->status = status;
    a->had_user = user != NULL;
    mcx_strlcpy(a->message, message, sizeof(a->message));
}

/* Runs the loop until the answer came, at most ~5 s. */
static void wait_answer(struct event_base *base, struct answer *a)
{
    for (int i = 0; i < 5000 && a->calls == 0; i++) {
        struct timeval ms = {0, 1000};
        event_base_loopexit(base, &ms);
        event_base_dispatch(base);
    }
}

/* A header that is no token is answered without the pool (NULL here), later. */
static void check_immediate(struct event_base *base, const char *header, const char *message)
{
    struct answer a = {0};

    assert_non_null(auth_bearer_begin(base, NULL, header, on_answer, &a));
    assert_int_equal(a.calls, 0); /* never from inside the call */
    wait_answer(base, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 401);
    assert_false(a.had_user);
    assert_string_equal(a.message, message);
}

static void test_bearer_immediate_answers(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();

    assert_non_null(base);
    check_immediate(base, NULL, "authentication required: send Authorization: Bearer TOKEN");
    check_immediate(base, "", "authentication required: send Authorization: Bearer TOKEN");
    check_immediate(base, "Basic dXNlcjpwYXNz", "malformed bearer token");
    check_immediate(base, "Bearer not-a-token", "malformed bearer token");
    check_immediate(base, "Bearer " TOKEN_A "0", "malformed bearer token");
    event_base_free(base);
}

static void test_bearer_cancel(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct answer a = {0};
    struct auth_op *op = auth_bearer_begin(base, NULL, "Bearer x", on_answer, &a);

    auth_op_cancel(op);
    auth_op_cancel(NULL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(a.calls, 0);
    event_base_free(base); /* ASan: the op and its timer are gone */
}

/* A well-formed token needs the database; none there is a 503, not a 401. */
static void test_bearer_database_down(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct db_pool_config cfg = {
        .conninfo = "host=/nonexistent/mcx-test-auth dbname=none user=none connect_timeout=1",
        .size = 1,
        .wait_timeout_ms = 500,
    };
    struct db_pool *pool = db_pool_new(base, &cfg);
    struct answer a = {0};

    assert_non_null(pool);
    assert_non_null(auth_bearer_begin(base, pool, "Bearer " TOKEN_A, on_answer, &a));
    assert_int_equal(a.calls, 0);
    wait_answer(base, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 503);
    assert_false(a.had_user);
    db_pool_free(pool);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_generate_shape),
        cmocka_unit_test(test_token_generate_unique),
        cmocka_unit_test(test_token_generate_small_buffer),
        cmocka_unit_test(test_token_parse_valid),
        cmocka_unit_test(test_token_parse_strict),
        cmocka_unit_test(test_uuid_is_valid),
        cmocka_unit_test(test_secret_hash_vector),
        cmocka_unit_test(test_hash_equal),
        cmocka_unit_test(test_bearer_parse_valid),
        cmocka_unit_test(test_bearer_parse_invalid),
        cmocka_unit_test(test_password_known_vectors),
        cmocka_unit_test(test_password_round_trip),
        cmocka_unit_test(test_password_limits),
        cmocka_unit_test(test_password_malformed),
        cmocka_unit_test(test_password_generate),
        cmocka_unit_test(test_email_is_valid),
        cmocka_unit_test(test_may_write_institution),
        cmocka_unit_test(test_bearer_immediate_answers),
        cmocka_unit_test(test_bearer_cancel),
        cmocka_unit_test(test_bearer_database_down),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
