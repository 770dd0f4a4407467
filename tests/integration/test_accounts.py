"""Accounts (issue 8, DESIGN §5 "Accounts"): student sign-up, sign-in with an HttpOnly
SameSite session cookie and a CSRF token, who-am-I, sign-out; every bad input's status;
CSRF on cookie writes (bearer tokens need none); expired, forged and disabled sessions;
the cookie's flags, with and without an https public URL."""

import hashlib
import json
import re
import subprocess
import time
import uuid

import pytest

import mcxtest
from mcxtest import assert_json_error, http

PASSWORD = "correct horse battery staple"
COOKIE_RE = re.compile(r"^mcx_session=([0-9a-f]{64}); Path=/; Max-Age=1209600; HttpOnly; "
                       r"SameSite=Lax(; Secure)?$")
CLEAR_RE = re.compile(r"^mcx_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax(; Secure)?$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def world(db):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University", "--country",
        "LT", "--home")
    return db


@pytest.fixture(scope="module")
def server(module_mcxd, world):
    return module_mcxd("--harvest", "off")


def unique_email(tag="s"):
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.org"


def post_json(port, path, doc, headers=None, raw=None, ctype="application/json"):
    body = (raw if raw is not None else json.dumps(doc)).encode("utf-8")
    hdrs = {"Content-Type": ctype, **(headers or {})} if ctype else dict(headers or {})
    return http(port, "POST", path, headers=hdrs, body=body)


def signup(port, email, password=PASSWORD, **extra):
    return post_json(port, "/api/v1/users", {"email": email, "password": password, **extra})


def signin(port, email, password=PASSWORD, headers=None):
    return post_json(port, "/api/v1/session", {"email": email, "password": password}, headers)


def session_cookie(resp):
    """(secret, is_secure) from a sign-in answer's one Set-Cookie."""
    values = resp.header_values("Set-Cookie")
    assert len(values) == 1, f"Set-Cookie: {values}"
    m = COOKIE_RE.match(values[0])
    assert m, f"malformed session cookie {values[0]!r}"
    return m.group(1), m.group(2) is not None


def assert_cleared(resp):
    values = resp.header_values("Set-Cookie")
    assert len(values) == 1 and CLEAR_RE.match(values[0]), f"Set-Cookie: {values}"


def cookie(secret):
    return {"Cookie": f"theme=dark; mcx_session={secret}"}


def new_student(port, tag="s"):
    """A signed-up and signed-in student: (email, secret, csrf_token, user)."""
    email = unique_email(tag)
    r = signup(port, email)
    assert r.status == 201, r.text()
    r = signin(port, email)
    assert r.status == 200, r.text()
    secret, _ = session_cookie(r)
    return email, secret, r.json()["csrf_token"], r.json()["user"]


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


# ---------------------------------------------------------------------------


def test_sign_up_in_whoami_and_out(server, world):
    port = server.port
    email = unique_email("ada")
    r = signup(port, "  Ada." + email.upper() + " ", name=" Ada Lovelace ",
               home_institution="vdu.lt")
    assert r.status == 201, r.text()
    assert r.header("Cache-Control") == "no-store"
    user = r.json()
    assert set(user) == {"id", "email", "role", "name", "institution", "created_at",
                         "email_confirmed", "confirmation_mail"}, user
    # a sign-up proves nothing about the address; this node sends no mail
    assert user["email_confirmed"] is False and user["confirmation_mail"] == "unavailable"
    assert re.fullmatch(r"[0-9a-f-]{36}", user["id"])
    assert user["email"] == "ada." + email, "trimmed and lower-cased"
    assert user["role"] == "student" and user["name"] == "Ada Lovelace"
    assert user["institution"] == "vdu.lt" and RFC3339.match(user["created_at"])

    # stored: scrypt hash, never the password; the creation audited, as the user
    row = world.query(f"SELECT email, role, password_hash FROM users WHERE id = '{user['id']}'")
    stored_email, role, pw_hash = row.split("|")
    assert stored_email == user["email"] and role == "student"
    assert pw_hash.startswith("scrypt$32768$8$1$") and PASSWORD not in pw_hash
    audit = world.query("SELECT actor, action, details->>'via' FROM audit_log "
                        f"WHERE entity = 'user' AND entity_id = '{user['id']}'")
    assert audit == f"user:{user['id']}|create|sign-up"

    # sign in, in any case: a session cookie and a CSRF token
    r = signin(port, "ADA." + email)
    assert r.status == 200, r.text()
    assert r.header("Cache-Control") == "no-store"
    secret, is_secure = session_cookie(r)
    assert not is_secure, "Secure on a plain-HTTP node without an https public URL"
    body = r.json()
    del user["confirmation_mail"]  # what the sign-up did, not a part of the user
    assert body["user"] == user
    assert HEX64.match(body["csrf_token"]) and RFC3339.match(body["expires_at"])
    csrf = body["csrf_token"]

    # the table holds the secret's hash, never the secret, and expires in 14 days
    row = world.query("SELECT user_id, csrf_token, "
                      "round(extract(epoch FROM expires_at - now()) / 86400) FROM sessions "
                      f"WHERE id = '{sha256(secret)}'")
    assert row == f"{user['id']}|{csrf}|14", row
    assert world.query(f"SELECT count(*) FROM sessions WHERE id = '{secret}'") == "0"
    assert world.query("SELECT count(*) FROM audit_log WHERE action = 'sign_in' "
                       f"AND entity_id = '{user['id']}'") == "1"

    # who am I
    r = server.get("/api/v1/session", cookie(secret))
    assert r.status == 200, r.text()
    assert r.json() == {"user": user, "csrf_token": csrf, "expires_at": body["expires_at"]}
    assert r.header("Cache-Control") == "no-store" and not r.header_values("Set-Cookie")

    # sign out: needs the CSRF token like every cookie write
    r = http(port, "DELETE", "/api/v1/session", headers=cookie(secret))
    assert_json_error(r, 403, "forbidden")
    r = http(port, "DELETE", "/api/v1/session", headers={**cookie(secret), "X-CSRF-Token": csrf})
    assert r.status == 204, r.text()
    assert_cleared(r)
    assert world.query(f"SELECT count(*) FROM sessions WHERE id = '{sha256(secret)}'") == "0"
    assert world.query("SELECT count(*) FROM audit_log WHERE action = 'sign_out' "
                       f"AND entity_id = '{user['id']}'") == "1"

    # the old cookie opens nothing now, and is cleared
    r = server.get("/api/v1/session", cookie(secret))
    assert_json_error(r, 401, "unauthorized")
    assert_cleared(r)
    # signing out again (or without a cookie at all) still succeeds
    r = http(port, "DELETE", "/api/v1/session", headers={**cookie(secret), "X-CSRF-Token": csrf})
    assert r.status == 204
    assert_cleared(r)
    r = http(port, "DELETE", "/api/v1/session")
    assert r.status == 204
    assert_cleared(r)


SIGNUP_BAD = [
    # (id, content type, raw body, status, code, details path)
    ("not-json-type", "text/plain", '{"email":"a@b.org","password":"0123456789"}', 415,
     "unsupported_media_type", None),
    ("form", "application/x-www-form-urlencoded", "email=a%40b.org&password=0123456789", 415,
     "unsupported_media_type", None),
    ("empty", "application/json", "", 400, "empty_body", None),
    ("malformed", "application/json", '{"email":', 400, "malformed_json", None),
    ("array", "application/json", "[]", 400, "malformed_json", None),
    ("duplicate-key", "application/json",
     '{"email":"a@b.org","email":"c@d.org","password":"0123456789"}', 400, "malformed_json",
     None),
    ("no-email", "application/json", '{"password":"0123456789"}', 400, "validation_failed",
     "/email"),
    ("email-number", "application/json", '{"email":5,"password":"0123456789"}', 400,
     "validation_failed", "/email"),
    ("email-invalid", "application/json", '{"email":"not-an-address","password":"0123456789"}',
     400, "validation_failed", "/email"),
    ("email-two-at", "application/json", '{"email":"a@b@c.org","password":"0123456789"}', 400,
     "validation_failed", "/email"),
    ("no-password", "application/json", '{"email":"a@b.org"}', 400, "validation_failed",
     "/password"),
    ("password-short", "application/json", '{"email":"a@b.org","password":"123456789"}', 400,
     "validation_failed", "/password"),
    ("password-short-unicode", "application/json",
     '{"email":"a@b.org","password":"ąčęėįšųūž"}', 400, "validation_failed", "/password"),
    ("password-long", "application/json",
     json.dumps({"email": "a@b.org", "password": "x" * 1025}), 400, "validation_failed",
     "/password"),
    ("password-nul", "application/json", '{"email":"a@b.org","password":"0123456789\\u0000x"}',
     400, "validation_failed", "/password"),
    ("password-number", "application/json", '{"email":"a@b.org","password":1234567890}', 400,
     "validation_failed", "/password"),
    ("name-control", "application/json",
     '{"email":"a@b.org","password":"0123456789","name":"Ada\\nLovelace"}', 400,
     "validation_failed", "/name"),
    ("name-long", "application/json",
     json.dumps({"email": "a@b.org", "password": "0123456789", "name": "n" * 201}), 400,
     "validation_failed", "/name"),
    ("institution-invalid", "application/json",
     '{"email":"a@b.org","password":"0123456789","home_institution":"Not Valid"}', 400,
     "validation_failed", "/home_institution"),
    ("institution-unknown", "application/json",
     '{"email":"a@b.org","password":"0123456789","home_institution":"nowhere.example"}', 400,
     "validation_failed", "/home_institution"),
    ("role-number", "application/json",
     '{"email":"a@b.org","password":"0123456789","role":1}', 400, "validation_failed",
     "/role"),
    # a staff role is an admin's act (server/admin.c, test_admin.py): sign in first
    ("role-admin", "application/json",
     '{"email":"a@b.org","password":"0123456789","role":"admin"}', 401, "unauthorized", None),
]


@pytest.mark.parametrize("case", SIGNUP_BAD, ids=[c[0] for c in SIGNUP_BAD])
def test_sign_up_bad_inputs(server, world, case):
    _, ctype, raw, status, code, path = case
    before = world.query("SELECT count(*) FROM users")
    r = post_json(server.port, "/api/v1/users", None, raw=raw, ctype=ctype)
    doc = assert_json_error(r, status, code)
    if path is not None:
        assert doc["error"]["details"][0]["path"] == path, doc
        assert doc["error"]["message"].startswith(path[1:]), doc
    assert world.query("SELECT count(*) FROM users") == before, "nothing stored"


def test_sign_up_taken_address_is_409_and_says_no_more(server, world):
    email = unique_email("dup")
    r = signup(server.port, email, name="First")
    assert r.status == 201
    first = r.json()
    r = signup(server.port, " " + email.upper(), password="another password 123", name="Second")
    doc = assert_json_error(r, 409, "conflict")
    text = r.text()
    assert first["id"] not in text and "First" not in text and "student" not in text, doc
    assert world.query(f"SELECT count(*) FROM users WHERE lower(email) = '{email}'") == "1"
    # the first account's password still works, the second's does not
    assert signin(server.port, email).status == 200
    assert signin(server.port, email, "another password 123").status == 401


def test_sign_up_at_the_limits(server, world):
    # 10 characters of two bytes each, and 1024 bytes exactly, are both fine
    assert signup(server.port, unique_email("u"), password="ąčęėįšųūžą").status == 201
    email = unique_email("long")
    long_pw = "ž" * 512  # 1024 bytes
    assert signup(server.port, email, password=long_pw, name=None,
                  home_institution=None).status == 201
    assert signin(server.port, email, long_pw).status == 200


def test_sign_in_failures_are_one_401(server, world):
    port = server.port
    email = unique_email("fail")
    assert signup(port, email).status == 201
    disabled = unique_email("disabled")
    assert signup(port, disabled).status == 201
    world.query(f"UPDATE users SET disabled_at = now() WHERE email = '{disabled}'")

    messages = set()
    for who, pw in [(email, "wrong password!"), (unique_email("nobody"), PASSWORD),
                    (disabled, PASSWORD), ("not an address", PASSWORD), (email, "")]:
        r = signin(port, who, pw)
        doc = assert_json_error(r, 401, "invalid_credentials")
        assert r.header("WWW-Authenticate") == 'Bearer realm="mcx"'
        assert not r.header_values("Set-Cookie")
        messages.add(doc["error"]["message"])
    assert messages == {"wrong e-mail address or password"}

    # malformed requests are 400, and say which field
    for raw, path in [('{"email":"a@b.org"}', "/password"), ('{"password":"x"}', "/email"),
                      (json.dumps({"email": email, "password": "p" * 1025}), "/password"),
                      ('{"email":"a@b.org","password":null}', "/password")]:
        r = post_json(port, "/api/v1/session", None, raw=raw)
        doc = assert_json_error(r, 400, "validation_failed")
        assert doc["error"]["details"][0]["path"] == path
    assert_json_error(post_json(port, "/api/v1/session", None, raw="{}", ctype="text/plain"), 415)
    # no session was made by any of it
    assert world.query("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id "
                       f"WHERE u.email IN ('{email}', '{disabled}')") == "0"


def test_unknown_address_costs_the_same_scrypt(server, world):
    """The time of a failed sign-in does not tell whether the address has an account."""
    port = server.port
    email = unique_email("timing")
    assert signup(port, email).status == 201

    def timed(who):
        t = time.monotonic()
        r = signin(port, who, "wrong password!")
        assert r.status == 401
        return time.monotonic() - t

    known = min(timed(email) for _ in range(3))
    unknown = min(timed(unique_email("none")) for _ in range(3))
    # scrypt (N=2^15, r=8) dominates both; without it an unknown address would answer
    # in about a millisecond
    assert unknown > 0.5 * known, (known, unknown)
    assert known > 0.01 and unknown > 0.01, (known, unknown)


def test_staff_made_with_the_cli_sign_in_too(server, world):
    email = unique_email("pub")
    mcx(world, "user", "add", email, "--role", "publisher", "--institution", "vdu.lt",
        "--password-stdin", stdin="publisher password 1\n")
    r = signin(server.port, email.upper(), "publisher password 1")
    assert r.status == 200, r.text()
    assert r.json()["user"]["role"] == "publisher"
    assert r.json()["user"]["institution"] == "vdu.lt"


def test_csrf_on_cookie_writes(server, world):
    port = server.port
    _, secret, csrf, _ = new_student(port, "csrf")
    _, _, other_csrf, _ = new_student(port, "other")
    target = f"/api/v1/offers/{uuid.uuid4()}/applications"

    # a write by cookie without the token, with a wrong one, or another session's: 403
    for extra in [{}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": other_csrf},
                  {"X-CSRF-Token": csrf[:-1]}, {"X-CSRF-Token": csrf.upper()}]:
        r = http(port, "POST", target, headers={**cookie(secret), **extra})
        doc = assert_json_error(r, 403, "forbidden")
        assert "X-CSRF-Token" in doc["error"]["message"]
    # with the right one the handler runs (and finds no such offer)
    r = http(port, "POST", target, headers={**cookie(secret), "X-CSRF-Token": csrf})
    assert_json_error(r, 404, "not_found")
    # reads need no token
    r = server.get("/api/v1/me/applications", cookie(secret))
    assert r.status == 200 and r.json() == {"items": []}

    # a bearer token needs no CSRF token; a bad one is refused even beside a good cookie
    email = unique_email("tok")
    assert signup(port, email).status == 201
    token = mcx(world, "token", "create", "--user", email)
    r = http(port, "POST", target, headers={"Authorization": f"Bearer {token}"})
    assert_json_error(r, 404, "not_found")
    r = http(port, "POST", target, headers={**cookie(secret), "X-CSRF-Token": csrf,
                                             "Authorization": "Bearer mcx_nonsense"})
    assert_json_error(r, 401, "unauthorized")


def test_expired_forged_and_disabled_sessions_are_401(server, world):
    port = server.port
    target = f"/api/v1/offers/{uuid.uuid4()}/applications"

    for bad in ["f" * 64, uuid.uuid4().hex * 2, "short", "G" * 64, ""]:
        r = server.get("/api/v1/session", {"Cookie": f"mcx_session={bad}"})
        assert_json_error(r, 401, "unauthorized")
        r = server.get("/api/v1/me/applications", {"Cookie": f"mcx_session={bad}"})
        assert_json_error(r, 401, "unauthorized")
    r = server.get("/api/v1/me/applications")
    doc = assert_json_error(r, 401, "unauthorized")
    assert "sign in" in doc["error"]["message"]

    # expired: 401 even with the right CSRF token (not 403), and the cookie is dropped
    _, secret, csrf, _ = new_student(port, "exp")
    world.query("UPDATE sessions SET expires_at = now() - interval '1 second' "
                f"WHERE id = '{sha256(secret)}'")
    r = server.get("/api/v1/session", cookie(secret))
    assert_json_error(r, 401, "unauthorized")
    assert_cleared(r)
    r = http(port, "POST", target, headers={**cookie(secret), "X-CSRF-Token": csrf})
    assert_json_error(r, 401, "unauthorized")

    # a disabled user's session ends at once
    email, secret, csrf, _ = new_student(port, "dis")
    assert server.get("/api/v1/session", cookie(secret)).status == 200
    world.query(f"UPDATE users SET disabled_at = now() WHERE email = '{email}'")
    assert_json_error(server.get("/api/v1/session", cookie(secret)), 401, "unauthorized")

    # the CSRF token alone (someone read it off a page) opens nothing
    r = http(port, "POST", target, headers={"X-CSRF-Token": csrf})
    assert_json_error(r, 401, "unauthorized")


def test_sign_in_ends_the_old_session_and_sweeps_expired_ones(server, world):
    port = server.port
    email, first, _, user = new_student(port, "again")
    # a session that expired two days ago, never signed out of
    world.query("INSERT INTO sessions (id, user_id, csrf_token, expires_at) VALUES "
                f"('{sha256('stale')}', '{user['id']}', 'x', now() - interval '2 days')")
    r = signin(port, email, headers=cookie(first))
    assert r.status == 200
    second, _ = session_cookie(r)
    assert second != first
    assert world.query(f"SELECT count(*) FROM sessions WHERE id = '{sha256(first)}'") == "0"
    assert world.query(f"SELECT count(*) FROM sessions WHERE id = '{sha256('stale')}'") == "0"
    assert server.get("/api/v1/session", cookie(second)).status == 200
    assert server.get("/api/v1/session", cookie(first)).status == 401
    # two sessions of one user live side by side (two browsers)
    r = signin(port, email)
    third, _ = session_cookie(r)
    assert server.get("/api/v1/session", cookie(second)).status == 200
    assert server.get("/api/v1/session", cookie(third)).status == 200


def test_whoami_is_by_session_only(server, world):
    email = unique_email("bear")
    assert signup(server.port, email).status == 201
    token = mcx(world, "token", "create", "--user", email)
    r = server.get("/api/v1/session", {"Authorization": f"Bearer {token}"})
    assert_json_error(r, 401, "unauthorized")
    assert not r.header_values("Set-Cookie")


def test_cookie_is_secure_behind_an_https_public_url(mcxd, world):
    srv = mcxd("--harvest", "off", "--public-url", "https://mcx.example.org")
    email = unique_email("sec")
    assert signup(srv.port, email).status == 201
    r = signin(srv.port, email)
    assert r.status == 200
    secret, is_secure = session_cookie(r)
    assert is_secure
    r = http(srv.port, "DELETE", "/api/v1/session",
             headers={**cookie(secret), "X-CSRF-Token": r.json()["csrf_token"]})
    assert r.status == 204
    assert r.header("Set-Cookie").endswith("; Secure")


def test_methods_and_body_limit(server, world):
    r = http(server.port, "PUT", "/api/v1/session", headers={"Content-Type": "application/json"},
             body="{}")
    assert_json_error(r, 405)
    r = post_json(server.port, "/api/v1/users", None,
                  raw=json.dumps({"email": "a@b.org", "password": "x" * 20000}))
    assert_json_error(r, 413)


def test_clients_leaving_mid_request(server, world):
    """A client that hangs up while its sign-in, sign-up or session check waits on the
    database cancels the work; the server stays up (and, under ASan, leaks nothing)."""
    port = server.port
    email, secret, csrf, _ = new_student(port, "gone")
    requests = [
        ("POST", "/api/v1/session", {"Content-Type": "application/json"},
         json.dumps({"email": email, "password": PASSWORD})),
        ("POST", "/api/v1/users", {"Content-Type": "application/json"},
         json.dumps({"email": unique_email("gone"), "password": PASSWORD})),
        ("GET", "/api/v1/session", cookie(secret), None),
        ("DELETE", "/api/v1/session", {**cookie(secret), "X-CSRF-Token": "0" * 64}, None),
        ("GET", "/api/v1/me/applications", cookie(secret), None),
    ]
    for method, path, headers, body in requests * 3:
        c = mcxtest.HttpConn(port)
        c.send(c.build(method, path, headers, body))
        c.close()
    assert server.get("/api/v1/session", cookie(secret)).status == 200
    assert server.get("/healthz").status == 200


def test_scrypt_does_not_stall_the_loop(mcxd, world):
    """scrypt runs on a helper thread: with one worker and sign-ins queued behind each
    other, /healthz on the same worker still answers at once."""
    import threading
    srv = mcxd("--harvest", "off", "--workers", "1")
    emails = [unique_email("flood") for _ in range(8)]
    for e in emails:
        assert signup(srv.port, e).status == 201
    results, slowest = [], []

    def sign_in(e):
        results.append(signin(srv.port, e).status)

    threads = [threading.Thread(target=sign_in, args=(e,)) for e in emails]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        t0 = time.monotonic()
        assert http(srv.port, "GET", "/healthz").status == 200
        slowest.append(time.monotonic() - t0)
    for t in threads:
        t.join()
    assert results == [200] * 8
    # on the loop, each scrypt would hold /healthz for up to ~85 ms (more under ASan)
    assert slowest and max(slowest) < 0.08, f"/healthz took {max(slowest):.3f} s"
