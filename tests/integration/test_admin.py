"""The admin API (issue 11, "Admin"; server/admin.c, docs/admin.md): users (list with
filters, staff accounts made by an admin with a password shown once, disable and
enable), API tokens (list, create shown once, revoke; anyone their own, an admin
anyone's), and the partners API reached from a browser session as well as by a bearer
token. Every write's audit entry; every bad input's status; a student is refused (403)
and a signed-out caller asked to sign in (401) on every admin endpoint."""

import json
import re
import subprocess
import uuid

import pytest

import mcxtest
from mcxtest import assert_json_error, http

PASSWORD = "correct horse battery staple"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TOKEN_RE = re.compile(r"^mcx_[0-9a-f-]{36}_[0-9a-f]{64}$")
USER_KEYS = {"id", "email", "role", "institution", "display_name", "disabled", "disabled_at",
             "email_confirmed", "created_at", "tokens"}
TOKEN_KEYS = {"id", "name", "user", "created_at", "last_used_at", "revoked_at"}


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


def unique_email(tag):
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.org"


class Who:
    """A caller: a bearer token, a browser session (cookie + CSRF token), or nobody."""

    def __init__(self, token=None, cookie=None, csrf=None, user=None):
        self.token, self.cookie, self.csrf, self.user = token, cookie, csrf, user

    def headers(self, csrf=True):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.cookie:
            h["Cookie"] = "mcx_session=" + self.cookie
            if csrf and self.csrf:
                h["X-CSRF-Token"] = self.csrf
        return h


NOBODY = Who()


def call(srv, who, method, path, body=None, raw=None, ctype="application/json", csrf=True):
    headers = who.headers(csrf)
    data = None
    if body is not None or raw is not None:
        data = raw.encode() if raw is not None else json.dumps(body).encode()
        headers["Content-Type"] = ctype
    return http(srv.port, method, path, headers, data)


def sign_in(srv, email, password=PASSWORD):
    r = http(srv.port, "POST", "/api/v1/session", {"Content-Type": "application/json"},
             json.dumps({"email": email, "password": password}).encode())
    if r.status != 200:
        return r
    cookie = re.match(r"^mcx_session=([0-9a-f]{64});", r.header("Set-Cookie")).group(1)
    return Who(cookie=cookie, csrf=r.json()["csrf_token"], user=r.json()["user"])


def add_user(db, email, role, inst=None):
    args = ["user", "add", email, "--role", role, "--password-stdin"]
    if inst:
        args += ["--institution", inst]
    mcx(db, *args, stdin=PASSWORD + "\n")
    return Who(token=mcx(db, "token", "create", "--user", email, "--name", f"{role} cli"),
               user={"email": email,
                     "id": db.query(f"SELECT id FROM users WHERE email = '{email}'")})


@pytest.fixture(scope="module")
def world(db):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University",
        "--country", "LT", "--home")
    mcx(db, "institution", "add", "uab.cat", "--name", "Universitat Autonoma de Barcelona",
        "--country", "ES", "--home")
    return {"db": db,
            "admin": add_user(db, "admin@admin.test", "admin"),
            "publisher": add_user(db, "publisher@vdu.lt", "publisher", "vdu.lt"),
            "registrar": add_user(db, "registrar@uab.cat", "registrar", "uab.cat"),
            "student": add_user(db, "student@admin.test", "student")}


@pytest.fixture(scope="module")
def srv(module_mcxd, world):
    # the harvester runs (for "Harvest now"), quickly, and a failing feed waits long
    return module_mcxd("--harvest-tick-ms", "100", "--harvest-backoff-ms", "600000")


def audit(db, entity, entity_id):
    """The entity's audit entries, "action actor" each, sign-ins left out."""
    return db.query("SELECT coalesce(string_agg(action || ' ' || actor, ',' ORDER BY id), '')"
                    f" FROM audit_log WHERE entity = '{entity}' AND entity_id = '{entity_id}'"
                    " AND action NOT IN ('sign_in', 'sign_out')")


def create_staff(srv, world, body, who=None):
    r = call(srv, who or world["admin"], "POST", "/api/v1/users", body)
    assert r.status == 201, r.text()
    return r.json()


# ---------------------------------------------------------------------------
# users

def test_user_list_and_its_filters(srv, world):
    admin = world["admin"]
    r = call(srv, admin, "GET", "/api/v1/users")
    assert r.status == 200, r.text()
    assert "no-store" in r.header("Cache-Control")
    items = r.json()["items"]
    emails = [u["email"] for u in items]
    assert emails == sorted(emails)
    for who in ("admin", "publisher", "registrar", "student"):
        assert world[who].user["email"] in emails
    for u in items:
        assert set(u) == USER_KEYS, u
        assert RFC3339.match(u["created_at"]) and u["disabled"] is False and u["disabled_at"] is None
    pub = next(u for u in items if u["email"] == "publisher@vdu.lt")
    assert pub["role"] == "publisher" and pub["institution"] == "vdu.lt"
    assert pub["tokens"] == 1 and pub["id"] == world["publisher"].user["id"]

    def emails_for(query):
        r = call(srv, admin, "GET", "/api/v1/users?" + query)
        assert r.status == 200, r.text()
        return [u["email"] for u in r.json()["items"]]

    assert emails_for("role=publisher") == [e for e, u in zip(emails, items)
                                            if u["role"] == "publisher"]
    assert "publisher@vdu.lt" in emails_for("role=publisher")
    assert set(emails_for("institution=uab.cat")) == {"registrar@uab.cat"}
    assert emails_for("q=PUBLISHER%40vdu") == ["publisher@vdu.lt"]  # any case, no pattern
    assert emails_for("q=%25") == []  # '%' is a character, not a wildcard
    assert emails_for("role=registrar&institution=vdu.lt") == []
    assert emails_for("role=&institution=&q=") == emails  # empty filters: none

    for bad in ("role=boss", "institution=Not%20Valid", "q=" + "x" * 255):
        assert_json_error(call(srv, admin, "GET", "/api/v1/users?" + bad), 400,
                          "invalid_parameter")


def test_admin_creates_a_staff_user_with_a_generated_password(srv, world):
    db = world["db"]
    email = unique_email("pub")
    doc = create_staff(srv, world, {"email": " " + email.upper(), "role": "publisher",
                                    "institution": "vdu.lt", "name": " Pat Publisher "})
    assert set(doc) == {"user", "password"}
    user, password = doc["user"], doc["password"]
    assert set(user) == USER_KEYS
    assert user["email"] == email and user["role"] == "publisher"
    assert user["institution"] == "vdu.lt" and user["display_name"] == "Pat Publisher"
    assert user["disabled"] is False and user["tokens"] == 0
    assert user["email_confirmed"] is True  # the admin vouches for the address
    assert re.match(r"^[A-Za-z0-9]{24}$", password), password
    # the password is shown once: stored only as its scrypt hash
    stored = db.query(f"SELECT password_hash FROM users WHERE id = '{user['id']}'")
    assert stored.startswith("scrypt$") and password not in stored
    assert audit(db, "user", user["id"]) == f"create user:{world['admin'].user['id']}"
    # the new staff member signs in with it
    s = sign_in(srv, email, password)
    assert isinstance(s, Who), s.text()
    assert s.user["role"] == "publisher" and s.user["institution"] == "vdu.lt"
    # and is in the list
    r = call(srv, world["admin"], "GET", f"/api/v1/users?q={email}")
    assert [u["id"] for u in r.json()["items"]] == [user["id"]]


def test_admin_sets_the_password_and_uses_a_session(srv, world):
    admin = sign_in(srv, "admin@admin.test")
    email = unique_email("reg")
    body = {"email": email, "role": "registrar", "institution": "uab.cat",
            "password": "a long enough password"}
    # a cookie write without the CSRF token is refused, and nothing is made
    r = call(srv, admin, "POST", "/api/v1/users", body, csrf=False)
    assert_json_error(r, 403, "forbidden")
    assert world["db"].query(f"SELECT count(*) FROM users WHERE email = '{email}'") == "0"
    doc = create_staff(srv, world, body, who=admin)
    assert set(doc) == {"user"}, "a password the admin chose is not sent back"
    assert doc["user"]["role"] == "registrar"
    assert isinstance(sign_in(srv, email, "a long enough password"), Who)
    # an admin may be made too (no institution needed)
    doc = create_staff(srv, world, {"email": unique_email("adm"), "role": "admin"}, who=admin)
    assert doc["user"]["role"] == "admin" and doc["user"]["institution"] is None


STAFF_BAD = [
    ("unknown-role", {"email": "x@example.org", "role": "boss"}, 422, "role"),
    ("no-institution", {"email": "x@example.org", "role": "publisher"}, 422, "institution"),
    ("registrar-null-institution",
     {"email": "x@example.org", "role": "registrar", "institution": None}, 422, "institution"),
    ("unknown-institution",
     {"email": "x@example.org", "role": "publisher", "institution": "nowhere.example"}, 422,
     "nowhere.example"),
    ("invalid-institution",
     {"email": "x@example.org", "role": "publisher", "institution": "Not Valid"}, 422,
     "institution"),
    ("institution-number", {"email": "x@example.org", "role": "admin", "institution": 7}, 422,
     "institution"),
    ("no-email", {"role": "admin"}, 422, "email"),
    ("bad-email", {"email": "not an address", "role": "admin"}, 422, "email"),
    ("short-password", {"email": "x@example.org", "role": "admin", "password": "short"}, 422,
     "password"),
    ("long-password", {"email": "x@example.org", "role": "admin", "password": "p" * 1025}, 422,
     "password"),
    ("name-control", {"email": "x@example.org", "role": "admin", "name": "A\nB"}, 422, "name"),
    ("name-long", {"email": "x@example.org", "role": "admin", "name": "n" * 201}, 422, "name"),
]


@pytest.mark.parametrize("case", STAFF_BAD, ids=[c[0] for c in STAFF_BAD])
def test_staff_user_bad_inputs(srv, world, case):
    _, body, status, word = case
    db = world["db"]
    before = db.query("SELECT count(*) FROM users")
    doc = assert_json_error(call(srv, world["admin"], "POST", "/api/v1/users", body), status)
    assert word in doc["error"]["message"], doc
    assert db.query("SELECT count(*) FROM users") == before, "nothing stored"


def test_staff_user_malformed_bodies_and_duplicates(srv, world):
    admin = world["admin"]
    # not JSON, or not JSON at all: sign-up's answers (the role cannot be read)
    assert_json_error(call(srv, admin, "POST", "/api/v1/users", raw='{"role":"admin",'), 400)
    assert_json_error(call(srv, admin, "POST", "/api/v1/users", raw='{"role":"admin"}',
                           ctype="text/plain"), 415)
    assert_json_error(call(srv, admin, "POST", "/api/v1/users", raw='{"role":7}'), 400)
    # a taken address, in any case: 409 and no second account
    email = unique_email("dup")
    create_staff(srv, world, {"email": email, "role": "admin"})
    doc = assert_json_error(call(srv, admin, "POST", "/api/v1/users",
                                 {"email": email.upper(), "role": "publisher",
                                  "institution": "vdu.lt"}), 409, "conflict")
    assert email in doc["error"]["message"]
    assert world["db"].query(f"SELECT count(*) FROM users WHERE lower(email) = '{email}'") == "1"
    # a student sign-up (no role, or "student") is what it was
    r = call(srv, NOBODY, "POST", "/api/v1/users",
             {"email": unique_email("stu"), "password": PASSWORD, "role": "student"})
    assert r.status == 201 and r.json()["role"] == "student", r.text()


def test_staff_creation_needs_an_admin(srv, world):
    body = {"email": unique_email("no"), "role": "admin"}
    assert_json_error(call(srv, NOBODY, "POST", "/api/v1/users", body), 401, "unauthorized")
    assert_json_error(call(srv, Who(token="mcx_nonsense"), "POST", "/api/v1/users", body), 401)
    for who in ("student", "publisher", "registrar"):
        assert_json_error(call(srv, world[who], "POST", "/api/v1/users", body), 403, "forbidden")
    s = sign_in(srv, "student@admin.test")
    assert_json_error(call(srv, s, "POST", "/api/v1/users", body), 403, "forbidden")
    assert world["db"].query(f"SELECT count(*) FROM users WHERE email = '{body['email']}'") == "0"


def test_disable_and_enable(srv, world):
    db, admin = world["db"], world["admin"]
    email = unique_email("dis")
    user = create_staff(srv, world, {"email": email, "role": "publisher", "institution": "vdu.lt",
                                     "password": PASSWORD})["user"]
    session = sign_in(srv, email)
    r = call(srv, admin, "POST", "/api/v1/tokens", {"name": "ci", "user": email})
    assert r.status == 201, r.text()
    token = Who(token=r.json()["token"])
    assert call(srv, token, "GET", "/api/v1/tokens").status == 200
    assert call(srv, session, "GET", "/api/v1/session").status == 200

    r = call(srv, admin, "POST", f"/api/v1/users/{user['id']}/disable")
    assert r.status == 200, r.text()
    doc = r.json()
    assert set(doc) == USER_KEYS and doc["disabled"] is True and RFC3339.match(doc["disabled_at"])
    assert doc["tokens"] == 1
    # the session has ended, the token stops working, signing in fails
    assert db.query(f"SELECT count(*) FROM sessions WHERE user_id = '{user['id']}'") == "0"
    assert_json_error(call(srv, session, "GET", "/api/v1/session"), 401)
    assert_json_error(call(srv, token, "GET", "/api/v1/tokens"), 401)
    assert_json_error(sign_in(srv, email), 401)
    # a token for a disabled user: 409
    r = call(srv, admin, "POST", "/api/v1/tokens", {"user": user["id"]})
    assert_json_error(r, 409, "conflict")
    # disabling again changes nothing and records nothing new
    r = call(srv, admin, "POST", f"/api/v1/users/{user['id']}/disable")
    assert r.status == 200 and r.json()["disabled_at"] == doc["disabled_at"]

    r = call(srv, admin, "POST", f"/api/v1/users/{user['id']}/enable")
    assert r.status == 200 and r.json()["disabled"] is False and r.json()["disabled_at"] is None
    assert call(srv, token, "GET", "/api/v1/tokens").status == 200
    assert isinstance(sign_in(srv, email), Who)
    actor = f"user:{admin.user['id']}"
    assert audit(db, "user", user["id"]) == f"create {actor},disable {actor},enable {actor}"

    # by a session, with its CSRF token only
    s = sign_in(srv, "admin@admin.test")
    assert_json_error(call(srv, s, "POST", f"/api/v1/users/{user['id']}/disable", csrf=False),
                      403, "forbidden")
    assert call(srv, s, "POST", f"/api/v1/users/{user['id']}/disable").status == 200
    assert call(srv, s, "POST", f"/api/v1/users/{user['id']}/enable").status == 200


def test_disable_refusals(srv, world):
    admin = world["admin"]
    for bad in (str(uuid.uuid4()), "not-a-uuid", str(uuid.uuid4()).upper(), "1"):
        for action in ("disable", "enable"):
            assert_json_error(call(srv, admin, "POST", f"/api/v1/users/{bad}/{action}"), 404,
                              "not_found")
    # an admin cannot lock themself out
    me = admin.user["id"]
    doc = assert_json_error(call(srv, admin, "POST", f"/api/v1/users/{me}/disable"), 409,
                            "conflict")
    assert "own" in doc["error"]["message"]
    assert world["db"].query(f"SELECT disabled_at IS NULL FROM users WHERE id = '{me}'") == "t"
    target = world["publisher"].user["id"]
    for who in ("student", "publisher", "registrar"):
        for action in ("disable", "enable"):
            assert_json_error(call(srv, world[who], "POST", f"/api/v1/users/{target}/{action}"),
                              403, "forbidden")
    assert_json_error(call(srv, NOBODY, "POST", f"/api/v1/users/{target}/disable"), 401)


# ---------------------------------------------------------------------------
# tokens

def test_token_create_list_revoke(srv, world):
    db, admin = world["db"], world["admin"]
    email = unique_email("tok")
    user = create_staff(srv, world, {"email": email, "role": "registrar",
                                     "institution": "vdu.lt"})["user"]
    # an admin makes one for the user, by e-mail (any case) or by id
    r = call(srv, admin, "POST", "/api/v1/tokens", {"name": " deploy bot ", "user": email.upper()})
    assert r.status == 201, r.text()
    doc = r.json()
    assert set(doc) == TOKEN_KEYS | {"token"}
    assert TOKEN_RE.match(doc["token"]) and doc["token"][4:40] == doc["id"]
    assert doc["name"] == "deploy bot" and RFC3339.match(doc["created_at"])
    assert doc["last_used_at"] is None and doc["revoked_at"] is None
    assert doc["user"] == {"id": user["id"], "email": email, "role": "registrar",
                           "institution": "vdu.lt"}
    # only the hash is stored
    secret = doc["token"].rsplit("_", 1)[1]
    assert db.query(f"SELECT secret_hash <> '{secret}' FROM api_tokens WHERE id = '{doc['id']}'") \
        == "t"
    assert audit(db, "api_token", doc["id"]) == f"create user:{admin.user['id']}"
    r = call(srv, admin, "POST", "/api/v1/tokens", {"user": user["id"]})
    assert r.status == 201 and r.json()["name"] is None and r.json()["user"]["id"] == user["id"]
    second = r.json()

    # the token works; its holder sees their own tokens only, with last_used_at
    holder = Who(token=doc["token"])
    r = call(srv, holder, "GET", "/api/v1/tokens")
    assert r.status == 200, r.text()
    items = r.json()["items"]
    assert [t["id"] for t in items] == [second["id"], doc["id"]]  # newest first
    assert all(set(t) == TOKEN_KEYS and "token" not in t for t in items)
    assert items[1]["last_used_at"] is not None
    assert_json_error(call(srv, holder, "GET", f"/api/v1/tokens?user={admin.user['id']}"), 403)
    assert call(srv, holder, "GET", f"/api/v1/tokens?user={user['id']}").status == 200
    # an admin sees everyone's, or one user's
    r = call(srv, admin, "GET", "/api/v1/tokens")
    assert {doc["id"], second["id"]} <= {t["id"] for t in r.json()["items"]}
    assert {t["user"]["id"] for t in r.json()["items"]} >= {user["id"], admin.user["id"]}
    r = call(srv, admin, "GET", f"/api/v1/tokens?user={user['id']}")
    assert [t["id"] for t in r.json()["items"]] == [second["id"], doc["id"]]
    assert_json_error(call(srv, admin, "GET", "/api/v1/tokens?user=nope"), 400,
                      "invalid_parameter")
    # the user list counts live tokens
    r = call(srv, admin, "GET", f"/api/v1/users?q={email}")
    assert r.json()["items"][0]["tokens"] == 2

    # a holder revokes their own (204), and it no longer authenticates
    r = call(srv, holder, "DELETE", f"/api/v1/tokens/{second['id']}")
    assert r.status == 204 and r.body == b"", r
    # an admin revokes any
    r = call(srv, admin, "DELETE", f"/api/v1/tokens/{doc['id']}")
    assert r.status == 204
    assert_json_error(call(srv, holder, "GET", "/api/v1/tokens"), 401, "unauthorized")
    # revoking a revoked token again changes nothing
    assert call(srv, admin, "DELETE", f"/api/v1/tokens/{doc['id']}").status == 204
    assert audit(db, "api_token", doc["id"]) == \
        f"create user:{admin.user['id']},revoke user:{admin.user['id']}"
    r = call(srv, admin, "GET", f"/api/v1/tokens?user={user['id']}")
    assert all(RFC3339.match(t["revoked_at"]) for t in r.json()["items"])
    r = call(srv, admin, "GET", f"/api/v1/users?q={email}")
    assert r.json()["items"][0]["tokens"] == 0


def test_tokens_are_their_holders_own(srv, world):
    student, publisher = world["student"], world["publisher"]
    # anyone makes tokens for themself: no "user", or their own id or e-mail
    for body in ({"name": "mine"}, {"user": student.user["id"]},
                 {"user": "STUDENT@admin.test"}):
        r = call(srv, student, "POST", "/api/v1/tokens", body)
        assert r.status == 201, r.text()
        assert r.json()["user"]["id"] == student.user["id"]
    mine = r.json()
    # ...but not for another user
    for body in ({"user": publisher.user["id"]}, {"user": "publisher@vdu.lt"},
                 {"user": str(uuid.uuid4())}):
        assert_json_error(call(srv, student, "POST", "/api/v1/tokens", body), 403, "forbidden")
    # another user's token is "not found" to a non-admin, and keeps working
    pub_tokens = call(srv, publisher, "GET", "/api/v1/tokens").json()["items"]
    assert pub_tokens and all(t["user"]["id"] == publisher.user["id"] for t in pub_tokens)
    for t in pub_tokens:
        assert_json_error(call(srv, student, "DELETE", f"/api/v1/tokens/{t['id']}"), 404,
                          "not_found")
    assert call(srv, publisher, "GET", "/api/v1/tokens").status == 200
    for bad in (str(uuid.uuid4()), "not-a-uuid"):
        assert_json_error(call(srv, student, "DELETE", f"/api/v1/tokens/{bad}"), 404)
        assert_json_error(call(srv, world["admin"], "DELETE", f"/api/v1/tokens/{bad}"), 404)
    # the student's list holds only their own
    items = call(srv, student, "GET", "/api/v1/tokens").json()["items"]
    assert mine["id"] in {t["id"] for t in items}
    assert {t["user"]["id"] for t in items} == {student.user["id"]}

    # a session makes and revokes tokens too, with its CSRF token only
    s = sign_in(srv, "student@admin.test")
    assert_json_error(call(srv, s, "POST", "/api/v1/tokens", {"name": "web"}, csrf=False), 403)
    r = call(srv, s, "POST", "/api/v1/tokens", {"name": "web"})
    assert r.status == 201, r.text()
    web = r.json()
    assert call(srv, s, "GET", "/api/v1/tokens").status == 200
    assert_json_error(call(srv, s, "DELETE", f"/api/v1/tokens/{web['id']}", csrf=False), 403)
    assert call(srv, s, "DELETE", f"/api/v1/tokens/{web['id']}").status == 204
    assert_json_error(call(srv, Who(token=web["token"]), "GET", "/api/v1/tokens"), 401)


TOKEN_BAD = [
    ("not-json", None, '{"name":', "application/json", 400),
    ("not-object", None, '["name"]', "application/json", 400),
    ("wrong-type", None, '{"name":"x"}', "text/plain", 415),
    ("empty", None, "", "application/json", 400),
    ("name-number", {"name": 5}, None, "application/json", 422),
    ("name-control", {"name": "a\tb\u0001"}, None, "application/json", 422),
    ("name-long", {"name": "n" * 201}, None, "application/json", 422),
    ("user-number", {"user": 5}, None, "application/json", 422),
    ("user-neither", {"user": "somebody"}, None, "application/json", 422),
]


@pytest.mark.parametrize("case", TOKEN_BAD, ids=[c[0] for c in TOKEN_BAD])
def test_token_bad_inputs(srv, world, case):
    _, body, raw, ctype, status = case
    db = world["db"]
    before = db.query("SELECT count(*) FROM api_tokens")
    assert_json_error(call(srv, world["admin"], "POST", "/api/v1/tokens", body, raw=raw,
                           ctype=ctype), status)
    assert db.query("SELECT count(*) FROM api_tokens") == before


def test_token_for_an_unknown_user_is_404(srv, world):
    for user in (str(uuid.uuid4()), "nobody@example.org"):
        doc = assert_json_error(call(srv, world["admin"], "POST", "/api/v1/tokens",
                                     {"user": user}), 404, "not_found")
        assert user in doc["error"]["message"]


# ---------------------------------------------------------------------------
# who may

ADMIN_ONLY = [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"email": "new-staff@example.org", "role": "publisher",
                               "institution": "vdu.lt"}),
    ("POST", "/api/v1/users/{uid}/disable", None),
    ("POST", "/api/v1/users/{uid}/enable", None),
    ("GET", "/api/v1/partners", None),
    ("POST", "/api/v1/partners", {"id": "nope.example", "feed_url": "http://127.0.0.1:1/",
                                  "format": "loq"}),
    ("GET", "/api/v1/partners/nope.example", None),
    ("POST", "/api/v1/partners/nope.example/harvest", None),
]

EVERYONE = [
    ("GET", "/api/v1/tokens", None),
    ("POST", "/api/v1/tokens", {"name": "x"}),
    ("DELETE", "/api/v1/tokens/{tid}", None),
]


def test_a_student_is_refused_and_nobody_is_asked_to_sign_in(srv, world):
    uid = world["publisher"].user["id"]
    tid = world["db"].query(f"SELECT id FROM api_tokens WHERE user_id = '{uid}' LIMIT 1")
    student_session = sign_in(srv, "student@admin.test")
    for method, path, body in ADMIN_ONLY:
        path = path.format(uid=uid, tid=tid)
        for who in (world["student"], student_session):
            doc = assert_json_error(call(srv, who, method, path, body), 403, "forbidden")
            assert "admin" in doc["error"]["message"], (path, doc)
        assert_json_error(call(srv, NOBODY, method, path, body), 401, "unauthorized")
    for method, path, body in EVERYONE:
        path = path.format(uid=uid, tid=tid)
        r = call(srv, NOBODY, method, path, body)
        assert_json_error(r, 401, "unauthorized")
        assert r.header("WWW-Authenticate") is not None
    assert world["db"].query("SELECT count(*) FROM partners WHERE id = 'nope.example'") == "0"
    assert world["db"].query(
        "SELECT count(*) FROM users WHERE email = 'new-staff@example.org'") == "0"


# ---------------------------------------------------------------------------
# partners from a browser session

def test_a_session_lists_partners_and_triggers_a_harvest(srv, world):
    db = world["db"]
    s = sign_in(srv, "admin@admin.test")
    r = call(srv, s, "GET", "/api/v1/partners")
    assert r.status == 200, r.text()
    assert "no-store" in r.header("Cache-Control")
    body = {"id": "down.example", "name": "Down University", "country": "EE",
            "feed_url": "http://127.0.0.1:1/loq.xml", "format": "loq"}
    # a cookie write without the CSRF token: 403, nothing made
    assert_json_error(call(srv, s, "POST", "/api/v1/partners", body, csrf=False), 403, "forbidden")
    assert db.query("SELECT count(*) FROM partners WHERE id = 'down.example'") == "0"
    r = call(srv, s, "POST", "/api/v1/partners", body)
    assert r.status == 201, r.text()
    # the server's validation message reaches the page
    doc = assert_json_error(call(srv, s, "POST", "/api/v1/partners",
                                 dict(body, id="bad.example", feed_url="ftp://x")), 422)
    assert "feed_url" in doc["error"]["message"]

    def runs():
        return int(db.query("SELECT count(*) FROM harvest_runs WHERE partner_id = 'down.example'"))

    mcxtest.wait_until(lambda: runs() >= 1, 20, what="the first harvest of down.example")
    first = runs()
    p = call(srv, s, "GET", "/api/v1/partners/down.example").json()
    state = p["state"]
    assert {"next_attempt_at", "last_success_at", "last_error", "last_error_at",
            "consecutive_failures", "running"} <= set(state)
    assert state["last_error"] and state["last_success_at"] is None
    assert state["consecutive_failures"] >= 1 and p["offers"] == 0
    assert p["last_run"]["status"] == "failed"

    # the backoff is ten minutes: only "Harvest now" runs it again
    assert_json_error(call(srv, s, "POST", "/api/v1/partners/down.example/harvest", csrf=False),
                      403)
    r = call(srv, s, "POST", "/api/v1/partners/down.example/harvest")
    assert r.status == 202, r.text()
    assert r.json()["id"] == "down.example"
    mcxtest.wait_until(lambda: runs() > first, 20, what="the triggered harvest")
    listed = call(srv, s, "GET", "/api/v1/partners").json()["items"]
    down = next(x for x in listed if x["id"] == "down.example")
    assert down["state"]["consecutive_failures"] >= 2
    # bearer tokens still work as before
    assert call(srv, world["admin"], "GET", "/api/v1/partners/down.example").status == 200


def test_an_admin_confirms_a_sign_ups_address(srv, world):
    """POST /api/v1/users/{id}/confirm-email: the admin vouches for the address of a
    sign-up (as `mcx user confirm`), once audited, idempotent; nobody else may."""
    db, admin = world["db"], world["admin"]
    email = unique_email("vouch")
    r = http(srv.port, "POST", "/api/v1/users", {"Content-Type": "application/json"},
             json.dumps({"email": email, "password": PASSWORD}).encode())
    assert r.status == 201 and r.json()["email_confirmed"] is False, r.text()
    uid = r.json()["id"]
    student = sign_in(srv, email)
    for who in (student, world["publisher"]):
        assert_json_error(call(srv, who, "POST", f"/api/v1/users/{uid}/confirm-email"), 403)
    for _ in range(2):
        r = call(srv, admin, "POST", f"/api/v1/users/{uid}/confirm-email")
        assert r.status == 200, r.text()
        assert set(r.json()) == USER_KEYS and r.json()["email_confirmed"] is True
    assert db.query("SELECT count(*) FROM audit_log WHERE action = 'confirm_email'"
                    f" AND entity_id = '{uid}' AND details->>'via' = 'admin'") == "1"
    assert call(srv, student, "GET", "/api/v1/session").json()["user"]["email_confirmed"] is True
    assert_json_error(call(srv, admin, "POST",
                           "/api/v1/users/00000000-0000-4000-8000-000000000000/confirm-email"), 404)
    assert_json_error(call(srv, admin, "POST", "/api/v1/users/nope/confirm-email"), 404)
