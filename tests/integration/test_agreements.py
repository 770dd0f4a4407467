"""Mutual recognition agreements (issue 9, DESIGN §5 "Recognition"): create, read,
edit, approve by hash, terminate. Both parties approve the current hash → active; an
edit voids every approval and the old hash is then 409; re-approval works; who may do
what; every change is in the audit log."""

import hashlib
import json
import subprocess

import pytest

import mcxtest
from mcxtest import assert_json_error, http

PASSWORD = "correct horse battery staple"

BODY = {
    "title": "MicroCredX mutual recognition 2026",
    "parties": ["vdu.lt", "uab.cat"],
    "valid_from": "2026-01-01",
    "valid_until": "2028-12-31",
    "scope": {"isced": ["06"], "eqf_min": 5, "eqf_max": 7, "ects_min": 2,
              "modes": ["online", "blended"], "requires_qa": True},
    "rules": [{"recognise_as": "elective", "max_credits_per_term": 15}],
    "grade_conversion": {"method": "map",
                         "map": {"uab.cat": {"A": "10", "B": "9", "C": "8", "Pass": "pass"}}},
}


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


@pytest.fixture(scope="module")
def world(db):
    for iid, cc in [("vdu.lt", "LT"), ("uab.cat", "ES"), ("ut.ee", "EE")]:
        mcx(db, "institution", "add", iid, "--name", iid, "--country", cc, "--home")
    tokens = {}
    for name, role, inst in [("reg-vdu", "registrar", "vdu.lt"),
                             ("reg-uab", "registrar", "uab.cat"),
                             ("reg-ut", "registrar", "ut.ee"),
                             ("pub-vdu", "publisher", "vdu.lt"),
                             ("student", "student", None),
                             ("admin", "admin", None)]:
        email = f"{name}@example.org"
        args = ["user", "add", email, "--role", role, "--password-stdin"]
        if inst:
            args += ["--institution", inst]
        mcx(db, *args, stdin=PASSWORD + "\n")
        tokens[name] = mcx(db, "token", "create", "--user", email)
    return {"db": db, "tokens": tokens}


@pytest.fixture(scope="module")
def srv(module_mcxd, world):
    return module_mcxd("--harvest", "off")


def call(srv, world, who, method, path, body=None, raw=None, ctype="application/json"):
    headers = {}
    if who:
        headers["Authorization"] = "Bearer " + world["tokens"][who]
    data = None
    if body is not None or raw is not None:
        data = raw if raw is not None else json.dumps(body).encode()
        headers["Content-Type"] = ctype
    return http(srv.port, method, path, headers, data)


def create(srv, world, who="reg-vdu", body=None):
    r = call(srv, world, who, "POST", "/api/v1/agreements", body or BODY)
    assert r.status == 201, r.text()
    return r.json()


def audit(world, agreement_id):
    return world["db"].query(
        "SELECT string_agg(action || ':' || actor, ',' ORDER BY id) FROM audit_log"
        f" WHERE entity = 'agreement' AND entity_id = '{agreement_id}'")


def test_both_approve_then_an_edit_voids_the_approvals(srv, world):
    a = create(srv, world)
    assert a["status"] == "draft" and a["approvals"] == []
    assert len(a["hash"]) == 64 and a["parties"] == ["uab.cat", "vdu.lt"]
    h = a["hash"]
    # the same content, however written, has the same hash (what both parties approve)
    shuffled = dict(reversed(list(BODY.items())), parties=["uab.cat", "vdu.lt"])
    assert create(srv, world, "reg-uab", shuffled)["hash"] == h

    r = call(srv, world, "reg-vdu", "POST", f"/api/v1/agreements/{a['id']}/approve", {"hash": h})
    assert r.status == 200 and r.json()["status"] == "draft"
    r = call(srv, world, "reg-uab", "POST", f"/api/v1/agreements/{a['id']}/approve", {"hash": h})
    assert r.status == 200, r.text()
    assert r.json()["status"] == "active"
    assert {p["institution"] for p in r.json()["approvals"]} == {"vdu.lt", "uab.cat"}

    # one party edits it: both approvals are void, the old hash is refused
    edited = dict(BODY, scope=dict(BODY["scope"], ects_min=3))
    r = call(srv, world, "reg-uab", "PUT", f"/api/v1/agreements/{a['id']}", edited)
    assert r.status == 200, r.text()
    b = r.json()
    assert b["hash"] != h and b["status"] == "draft" and b["approvals"] == []
    assert b["version"] == 2
    r = call(srv, world, "reg-vdu", "POST", f"/api/v1/agreements/{a['id']}/approve", {"hash": h})
    assert_json_error(r, 409)
    assert b["hash"] in r.json()["error"]["message"]
    # re-approval of the new hash works
    for who in ("reg-vdu", "reg-uab"):
        r = call(srv, world, who, "POST", f"/api/v1/agreements/{a['id']}/approve",
                 {"hash": b["hash"]})
        assert r.status == 200, r.text()
    assert r.json()["status"] == "active"
    # an edit that changes nothing keeps the approvals; what a GET gave can be sent back
    r = call(srv, world, "reg-vdu", "PUT", f"/api/v1/agreements/{a['id']}", edited)
    assert r.status == 200 and r.json()["status"] == "active" and r.json()["version"] == 2
    echoed = http(srv.port, "GET", f"/api/v1/agreements/{a['id']}").json()
    r = call(srv, world, "reg-uab", "PUT", f"/api/v1/agreements/{a['id']}", echoed)
    assert r.status == 200 and r.json()["status"] == "active", r.text()
    # public reads
    r = http(srv.port, "GET", f"/api/v1/agreements/{a['id']}")
    assert r.status == 200 and r.json()["status"] == "active"
    r = http(srv.port, "GET", "/api/v1/agreements?institution=uab.cat")
    assert a["id"] in [x["id"] for x in r.json()["items"]]
    r = http(srv.port, "GET", "/api/v1/agreements?institution=ut.ee")
    assert a["id"] not in [x["id"] for x in r.json()["items"]]

    # terminate: from that date on, terminated; no more edits or approvals
    r = call(srv, world, "reg-vdu", "POST", f"/api/v1/agreements/{a['id']}/terminate",
             {"date": "2026-06-30"})
    assert r.status == 200 and r.json()["status"] == "terminated", r.text()
    assert_json_error(call(srv, world, "reg-vdu", "POST",
                           f"/api/v1/agreements/{a['id']}/approve", {"hash": b["hash"]}), 409)
    assert_json_error(call(srv, world, "reg-uab", "PUT", f"/api/v1/agreements/{a['id']}",
                           BODY), 409)
    assert_json_error(call(srv, world, "reg-uab", "POST",
                           f"/api/v1/agreements/{a['id']}/terminate", {"date": "2026-07-01"}),
                      409)
    actor_vdu = "user:" + world["db"].query("SELECT id FROM users WHERE email = 'reg-vdu@example.org'")
    trail = audit(world, a["id"]).split(",")
    assert [t.split(":")[0] for t in trail] == [
        "create", "approve", "approve", "update", "approve", "approve", "terminate"]
    assert trail[0] == f"create:{actor_vdu}"


def test_who_may(srv, world):
    a = create(srv, world)
    aid = a["id"]
    # not signed in: 401; a student or a publisher: 403; a registrar of another
    # institution: 403; an admin edits and terminates but does not approve
    assert_json_error(call(srv, world, None, "POST", "/api/v1/agreements", BODY), 401)
    for who in ("student", "pub-vdu"):
        assert_json_error(call(srv, world, who, "POST", "/api/v1/agreements", BODY), 403)
        assert_json_error(call(srv, world, who, "PUT", f"/api/v1/agreements/{aid}", BODY), 403)
        assert_json_error(call(srv, world, who, "POST", f"/api/v1/agreements/{aid}/approve",
                               {"hash": a["hash"]}), 403)
        assert_json_error(call(srv, world, who, "POST", f"/api/v1/agreements/{aid}/terminate",
                               {"date": "2027-01-01"}), 403)
    assert_json_error(call(srv, world, "reg-ut", "POST", "/api/v1/agreements", BODY), 403)
    assert_json_error(call(srv, world, "reg-ut", "POST", f"/api/v1/agreements/{aid}/approve",
                           {"hash": a["hash"]}), 403)
    assert_json_error(call(srv, world, "reg-ut", "PUT", f"/api/v1/agreements/{aid}", BODY), 403)
    assert_json_error(call(srv, world, "admin", "POST", f"/api/v1/agreements/{aid}/approve",
                           {"hash": a["hash"]}), 403)
    # a registrar cannot leave an agreement by editing it
    r = call(srv, world, "reg-vdu", "PUT", f"/api/v1/agreements/{aid}",
             dict(BODY, parties=["uab.cat", "ut.ee"]))
    assert_json_error(r, 422)
    r = call(srv, world, "admin", "PUT", f"/api/v1/agreements/{aid}",
             dict(BODY, parties=["uab.cat", "ut.ee", "vdu.lt"]))
    assert r.status == 200 and r.json()["parties"] == ["uab.cat", "ut.ee", "vdu.lt"]
    # ids that name nothing
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert_json_error(http(srv.port, "GET", f"/api/v1/agreements/{bad}"), 404)
        assert_json_error(call(srv, world, "reg-vdu", "POST", f"/api/v1/agreements/{bad}/approve",
                               {"hash": a["hash"]}), 404)


@pytest.mark.parametrize("body,status,words", [
    (dict(BODY, parties=["vdu.lt", "uab.cat", "nowhere.example"]), 422, "nowhere.example"),
    (dict(BODY, valid_from="2026-02-30"), 422, "valid_from"),
    (dict(BODY, rules=[]), 422, "rules"),
    (dict(BODY, scope=dict(BODY["scope"], eqf_min=9)), 422, "eqf_min"),
    (dict(BODY, rules=[{"recognise_as": "course", "offer_id": "8f0c0000-0000-0000-0000-"
                                                              "000000000000",
                        "home_course": "INF-2031", "credits": 3}]), 422, "offer"),
    (dict(BODY, colour="red"), 422, "colour"),
])
def test_bad_bodies(srv, world, body, status, words):
    before = world["db"].query("SELECT count(*) FROM agreements")
    r = call(srv, world, "reg-vdu", "POST", "/api/v1/agreements", body)
    assert_json_error(r, status)
    assert words in r.json()["error"]["message"], r.json()
    assert world["db"].query("SELECT count(*) FROM agreements") == before


def test_not_json(srv, world):
    assert_json_error(call(srv, world, "reg-vdu", "POST", "/api/v1/agreements", raw=b"{",
                           ctype="application/json"), 400)
    assert_json_error(call(srv, world, "reg-vdu", "POST", "/api/v1/agreements",
                           raw=b"title=x", ctype="application/x-www-form-urlencoded"), 415)
    a = create(srv, world)
    assert_json_error(call(srv, world, "reg-vdu", "POST", f"/api/v1/agreements/{a['id']}/approve",
                           raw=b"[1]"), 422)
    assert_json_error(call(srv, world, "reg-vdu", "POST",
                           f"/api/v1/agreements/{a['id']}/terminate", {"date": "tomorrow"}), 422)
    assert_json_error(call(srv, world, "reg-vdu", "POST",
                           f"/api/v1/agreements/{a['id']}/terminate", {"date": "2025-01-01"}),
                      422)


def put(db, inst, docs):
    """Stores offers through offers_put_many, the statement publishing runs."""
    items = [{"external_id": d["external_id"], "completeness": [],
              "hash": hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest(),
              "doc": d} for d in docs]
    payload = json.dumps(items).replace("'", "''")
    db.query(f"SELECT count(*) FROM offers_put_many('{inst}', 'test', NULL, '{payload}'::jsonb)")


def offer(ext, **kw):
    d = {"external_id": ext, "title": {"en": f"Course {ext}"}, "languages": ["en"],
         "isced": ["0613"], "eqf": 6, "ects": 5, "mode": "online", "starts": "2027-02-01",
         "quality_assurance": {"en": "Accredited"}}
    d.update(kw)
    return d


def test_recognised_by_returns_exactly_the_covered_offers(srv, world):
    db = world["db"]
    put(db, "uab.cat", [
        offer("IN"),                                   # covered
        offer("IN-BLENDED", mode="blended", ects=2),   # covered (ects_min 2, blended)
        offer("OUT-FIELD", isced=["0311"]),            # outside the ISCED scope
        offer("OUT-EQF", eqf=8),                       # above eqf_max
        offer("OUT-ECTS", ects=1.5),                   # below ects_min
        offer("OUT-MODE", mode="onsite"),              # mode not covered
        offer("OUT-QA", quality_assurance={}),         # requires_qa
    ])
    put(db, "ut.ee", [offer("UT-DRAFT")])              # its agreement is only a draft
    body = dict(BODY, title="Coverage test", parties=["vdu.lt", "uab.cat"])
    a = create(srv, world, body=body)
    for who in ("reg-vdu", "reg-uab"):
        r = call(srv, world, who, "POST", f"/api/v1/agreements/{a['id']}/approve",
                 {"hash": a["hash"]})
        assert r.status == 200, r.text()
    create(srv, world, body=dict(BODY, title="Draft", parties=["vdu.lt", "ut.ee"],
                                 grade_conversion=None))

    def listed(params):
        r = http(srv.port, "GET", "/api/v1/offers?" + params + "&limit=100")
        assert r.status == 200, r.text()
        return {o["external_id"]: o for o in r.json()["items"]}, r.json()

    got, res = listed("recognised_by=vdu.lt")
    assert set(got) == {"IN", "IN-BLENDED"}
    assert res["total"] == 2 and sum(res["facets"]["mode"].values()) == 2
    rec = got["IN"]["recognition"]
    assert rec == {"institution": "vdu.lt", "agreement": a["id"], "as": "elective",
                   "credits": 5, "course": None}, rec
    # the agreement is symmetric: uab.cat recognises vdu.lt's offers, none here
    assert listed("recognised_by=uab.cat")[0] == {}
    # home= shows the field without filtering
    got, _ = listed("home=vdu.lt&institution=uab.cat")
    assert got["IN"]["recognition"]["credits"] == 5
    assert got["OUT-EQF"]["recognition"] is None
    # once terminated, nothing is covered
    r = call(srv, world, "reg-uab", "POST", f"/api/v1/agreements/{a['id']}/terminate",
             {"date": "2026-01-02"})
    assert r.status == 200, r.text()
    assert listed("recognised_by=vdu.lt")[0] == {}


def test_offer_page_shows_what_it_gives_at_home(srv, world):
    db = world["db"]
    put(db, "ut.ee", [offer("UT-HOME")])
    body = dict(BODY, title="Offer page test", parties=["vdu.lt", "ut.ee"], grade_conversion=None,
                rules=[{"recognise_as": "elective"}])
    a = create(srv, world, body=body)
    for who in ("reg-vdu", "reg-ut"):
        assert call(srv, world, who, "POST", f"/api/v1/agreements/{a['id']}/approve",
                    {"hash": a["hash"]}).status == 200
    oid = db.query("SELECT id FROM offers WHERE external_id = 'UT-HOME'")
    r = http(srv.port, "GET", f"/api/v1/offers/{oid}?home=vdu.lt")
    assert r.status == 200 and r.json()["recognition"]["agreement"] == a["id"]
    assert r.json()["recognition"]["credits"] == 5
    assert http(srv.port, "GET", f"/api/v1/offers/{oid}").json()["recognition"] is None
    assert http(srv.port, "GET", f"/api/v1/offers/{oid}?home=uab.cat").json()["recognition"] \
        is None
    assert_json_error(http(srv.port, "GET", f"/api/v1/offers/{oid}?home=Not%20One"), 400)
