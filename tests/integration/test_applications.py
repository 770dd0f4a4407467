"""Applications (issue 8, DESIGN §5 "Catalogue"): a signed-in student applies to an
offer: 201 the first time, 200 after, one row and one 'application' event per student
and offer even under 20 concurrent requests; where the student is sent next; 404 for
unknown or deleted offers, 401 without credentials, 403 for staff; a bearer token
works without a CSRF token; GET /api/v1/me/applications lists them newest first."""

import hashlib
import json
import re
import subprocess
import threading
import uuid

import pytest

import mcxtest
from mcxtest import assert_json_error, http

PASSWORD = "correct horse battery staple"
COOKIE_RE = re.compile(r"^mcx_session=([0-9a-f]{64});")


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def put(db, inst, docs):
    """Stores offers through offers_put_many, the statement publishing runs."""
    items = [{"external_id": d["external_id"], "completeness": [],
              "hash": hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest(),
              "doc": d} for d in docs]
    db.query(f"SELECT count(*) FROM offers_put_many({sql_str(inst)}, 'test', NULL, "
             f"{sql_str(json.dumps(items))}::jsonb)")


def doc(ext, title, **extra):
    return {"external_id": ext, "title": {"en": title}, "languages": ["en"], "isced": ["0613"],
            "eqf": 6, "ects": 5, "mode": "online", "starts": "2027-02-01", **extra}


# external id → the redirect its application answers
REDIRECTS = {
    "OWN": "https://www.vdu.lt/courses/own",          # the offer's homepage
    "PROV": "https://provider.example/ml",            # else its provider's
    "INST": "https://www.vdu.lt/",                    # else its institution's
    "NONE": None,                                     # else none
    "JS": None,                                       # a javascript: URL is never sent on
}


@pytest.fixture(scope="module")
def world(db):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University", "--country",
        "LT", "--home")
    mcx(db, "institution", "add", "uab.cat", "--name", "Universitat Autonoma de Barcelona",
        "--country", "ES")
    db.query("UPDATE institutions SET homepage = 'https://www.vdu.lt/' WHERE id = 'vdu.lt'")
    put(db, "vdu.lt", [
        doc("OWN", "Data literacy", homepage="https://www.vdu.lt/courses/own",
            provider={"id": "vdu.lt", "homepage": "https://provider.example/other"}),
        doc("PROV", "Machine learning", provider={"id": "x", "homepage": "https://provider.example/ml"}),
        doc("INST", "Statistics"),
        doc("GONE", "Withdrawn course"),
        doc("LATER", "Withdrawn after applying", homepage="https://www.vdu.lt/later"),
        doc("RACE", "Popular course", homepage="https://www.vdu.lt/race"),
    ])
    put(db, "uab.cat", [
        doc("NONE", "Economia circular"),
        doc("JS", "Sneaky", homepage="javascript:alert(1)",
            provider={"homepage": "data:text/html,hi"}),
    ])
    db.query("SELECT count(*) FROM offers_tombstone('vdu.lt', 'test', 'GONE', NULL)")
    mcx(db, "user", "add", "pub@vdu.lt", "--role", "publisher", "--institution", "vdu.lt")
    return db


@pytest.fixture(scope="module")
def server(module_mcxd, world):
    return module_mcxd("--harvest", "off")


def offer_id(db, ext):
    return db.query(f"SELECT id FROM offers WHERE external_id = {sql_str(ext)}")


class Student:
    """A signed-up student, signed in by cookie (and given a bearer token on demand)."""

    def __init__(self, server, db, tag="s"):
        self.server = server
        self.db = db
        self.email = f"{tag}-{uuid.uuid4().hex[:10]}@example.org"
        r = http(server.port, "POST", "/api/v1/users", headers={"Content-Type": "application/json"},
                 body=json.dumps({"email": self.email, "password": PASSWORD}))
        assert r.status == 201, r.text()
        self.id = r.json()["id"]
        r = http(server.port, "POST", "/api/v1/session",
                 headers={"Content-Type": "application/json"},
                 body=json.dumps({"email": self.email, "password": PASSWORD}))
        assert r.status == 200, r.text()
        self.secret = COOKIE_RE.match(r.header("Set-Cookie")).group(1)
        self.csrf = r.json()["csrf_token"]

    def headers(self):
        return {"Cookie": f"mcx_session={self.secret}", "X-CSRF-Token": self.csrf}

    def apply(self, oid, headers=None):
        return http(self.server.port, "POST", f"/api/v1/offers/{oid}/applications",
                    headers=headers if headers is not None else self.headers())

    def listing(self):
        r = self.server.get("/api/v1/me/applications", {"Cookie": f"mcx_session={self.secret}"})
        assert r.status == 200, r.text()
        assert r.header("Cache-Control") == "no-store"
        return r.json()

    def token(self):
        return mcx(self.db, "token", "create", "--user", self.email)


def counts(db, user_id, oid, events_before=0):
    """(applications, 'application' events, audit entries) for a student and an offer.
    Events name no student: those of the offer, less events_before (an earlier count)."""
    apps = db.query(f"SELECT count(*) FROM applications WHERE user_id = '{user_id}' "
                    f"AND offer_id = '{oid}'")
    audit = db.query(f"SELECT count(*) FROM audit_log WHERE entity = 'application' "
                     f"AND entity_id = '{oid}' AND actor = 'user:{user_id}'")
    events = db.query(f"SELECT count(*) FROM events WHERE kind = 'application' "
                      f"AND offer_id = '{oid}'")
    return int(apps), int(events) - events_before, int(audit)


def offer_events(db, oid):
    return counts(db, "00000000-0000-0000-0000-000000000000", oid)[1]


# ---------------------------------------------------------------------------


def test_first_201_then_200(server, world):
    s = Student(server, world)
    oid = offer_id(world, "OWN")
    before = offer_events(world, oid)
    r = s.apply(oid)
    assert r.status == 201, r.text()
    assert r.json() == {"offer_id": oid, "redirect": "https://www.vdu.lt/courses/own"}
    assert r.header("Cache-Control") == "no-store"
    r = s.apply(oid)
    assert r.status == 200, r.text()
    assert r.json() == {"offer_id": oid, "redirect": "https://www.vdu.lt/courses/own"}
    assert counts(world, s.id, oid, before) == (1, 1, 1)
    ev = world.query("SELECT institution_id, visitor IS NULL, detail IS NULL, node <> '' FROM "
                     f"events WHERE kind = 'application' AND offer_id = '{oid}' "
                     "ORDER BY id DESC LIMIT 1")
    assert ev == "vdu.lt|t|t|t", ev
    # a second student's first application counts again
    other = Student(server, world)
    assert other.apply(oid).status == 201
    assert counts(world, other.id, oid)[0] == 1
    assert counts(world, s.id, oid, before)[1] == 2  # events of the offer: one per student


@pytest.mark.parametrize("ext", sorted(REDIRECTS))
def test_redirect(server, world, ext):
    s = Student(server, world, "redir")
    oid = offer_id(world, ext)
    r = s.apply(oid)
    assert r.status == 201, r.text()
    assert r.json() == {"offer_id": oid, "redirect": REDIRECTS[ext]}


def test_twenty_concurrent_applications_make_one(server, world):
    s = Student(server, world, "race")
    oid = offer_id(world, "RACE")
    before = offer_events(world, oid)
    barrier = threading.Barrier(20)
    statuses = []
    lock = threading.Lock()

    def one():
        with mcxtest.HttpConn(server.port, timeout=30) as c:
            req = c.build("POST", f"/api/v1/offers/{oid}/applications", s.headers())
            barrier.wait(timeout=30)
            c.send(req)
            r = c.read_response()
        with lock:
            statuses.append((r.status, r.body))

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == 20, statuses
    assert sorted(st for st, _ in statuses) == [200] * 19 + [201], statuses
    assert all(json.loads(body)["offer_id"] == oid for _, body in statuses)
    assert counts(world, s.id, oid, before) == (1, 1, 1)


def test_unknown_or_deleted_offer_is_404(server, world):
    s = Student(server, world, "nf")
    before = world.query("SELECT count(*) FROM events WHERE kind = 'application'")
    for oid in [str(uuid.uuid4()), "not-a-uuid", offer_id(world, "GONE"),
                offer_id(world, "OWN").upper()]:
        r = s.apply(oid)
        assert_json_error(r, 404, "not_found")
    assert world.query(f"SELECT count(*) FROM applications WHERE user_id = '{s.id}'") == "0"
    assert world.query("SELECT count(*) FROM events WHERE kind = 'application'") == before


def test_not_signed_in_is_401_and_staff_is_403(server, world):
    oid = offer_id(world, "INST")
    r = http(server.port, "POST", f"/api/v1/offers/{oid}/applications")
    assert_json_error(r, 401, "unauthorized")
    assert r.header("WWW-Authenticate") == 'Bearer realm="mcx"'
    assert_json_error(server.get("/api/v1/me/applications"), 401, "unauthorized")
    token = mcx(world, "token", "create", "--user", "pub@vdu.lt")
    r = http(server.port, "POST", f"/api/v1/offers/{oid}/applications",
             headers={"Authorization": f"Bearer {token}"})
    assert_json_error(r, 403, "forbidden")
    # a publisher has nothing to list, but may ask
    r = server.get("/api/v1/me/applications", {"Authorization": f"Bearer {token}"})
    assert r.status == 200 and r.json() == {"items": []}


def test_bearer_token_needs_no_csrf(server, world):
    s = Student(server, world, "bearer")
    token = s.token()
    oid = offer_id(world, "PROV")
    before = offer_events(world, oid)
    auth = {"Authorization": f"Bearer {token}"}
    r = s.apply(oid, auth)
    assert r.status == 201, r.text()
    r = s.apply(oid)  # the same student by cookie: already applied
    assert r.status == 200
    r = s.server.get("/api/v1/me/applications", auth)
    assert [it["offer"]["id"] for it in r.json()["items"]] == [oid]
    assert counts(world, s.id, oid, before) == (1, 1, 1)


def test_me_applications_newest_first(server, world):
    s = Student(server, world, "list")
    other = Student(server, world, "list2")
    assert s.listing() == {"items": []}
    order = ["INST", "LATER", "OWN"]
    for ext in order:
        assert s.apply(offer_id(world, ext)).status == 201
    assert other.apply(offer_id(world, "NONE")).status == 201

    items = s.listing()["items"]
    assert [it["offer"]["external_id"] for it in items] == list(reversed(order))
    for it in items:
        assert set(it) == {"offer", "applied_at"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", it["applied_at"])
        # the offer exactly as the catalogue shows it
        read = server.get(f"/api/v1/offers/{it['offer']['id']}")
        assert read.status == 200 and read.json() == it["offer"]
    assert [it["offer"]["external_id"] for it in other.listing()["items"]] == ["NONE"]

    # an offer withdrawn after the application stays listed, marked deleted
    world.query("SELECT count(*) FROM offers_tombstone('vdu.lt', 'test', 'LATER', NULL)")
    items = s.listing()["items"]
    later = [it["offer"] for it in items if it["offer"]["external_id"] == "LATER"]
    assert len(later) == 1 and later[0]["deleted"] is True
    # and applying to it now is 404
    assert_json_error(s.apply(offer_id(world, "LATER")), 404, "not_found")
