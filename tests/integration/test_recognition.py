"""Recognition requests (issue 9, DESIGN §5 "Recognition"): a student submits a
credential (the ELM 3 micro-credential sample, or the ELM 2 sample); the proposal is
computed at once; a registrar decides, with reasons where the rules want them; one
appeal; invalid transitions are 409; every step is in the audit log; the role ×
endpoint matrix; the credit-transfer record as JSON, CSV and ELMO (validated with
xmllint against the samples' ELMO schema)."""

import csv
import io
import json
import os
import subprocess
import urllib.parse

import pytest

import mcxtest
from mcxtest import assert_json_error, http

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("MCX_SHARED_DIR") or os.path.join(SOURCE, "..", "shared")
ELM3 = os.path.join(SHARED, "samples", "elm", "elm3", "Sample-MC-Annex1-unsigned.jsonld")
ELM2 = os.path.join(SHARED, "samples", "elm", "elm2", "examples", "EDC_SampleDegree_AA.xml")
ELMO_XSD = os.path.join(SHARED, "samples", "ewp", "elmo", "schema.xsd")
CATALOG = os.path.join(SHARED, "samples", "ewp", "catalog.xml")
PASSWORD = "correct horse battery staple"

# The sample micro-credential: University of Zed (uniz.edu, IE), 2 ECTS, EQF 6,
# ISCED-F 0688, grade "Pass", blended, awarded 2022-12-31.
COVERING = {
    "title": "Zed and Vytautas Magnus",
    "parties": ["vdu.lt", "uniz.edu"],
    "valid_from": "2022-01-01",
    "scope": {"isced": ["06"], "eqf_min": 5, "eqf_max": 7, "ects_min": 2},
    "rules": [{"recognise_as": "elective", "max_credits_per_term": 15}],
    "grade_conversion": {"method": "map", "map": {"uniz.edu": {"Pass": "įskaityta"}}},
}
NARROW = {
    "title": "Zed and Tartu, social sciences only",
    "parties": ["ut.ee", "uniz.edu"],
    "valid_from": "2022-01-01",
    "scope": {"isced": ["03"], "eqf_max": 5},
    "rules": [{"recognise_as": "elective"}],
}


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


@pytest.fixture(scope="module")
def world(db):
    for iid, cc in [("vdu.lt", "LT"), ("ut.ee", "EE"), ("uniz.edu", "IE")]:
        mcx(db, "institution", "add", iid, "--name", iid, "--country", cc, "--home")
    tokens, ids = {}, {}
    for name, role, inst in [("reg-vdu", "registrar", "vdu.lt"), ("reg-ut", "registrar", "ut.ee"),
                             ("pub-vdu", "publisher", "vdu.lt"), ("ada", "student", None),
                             ("bob", "student", None), ("admin", "admin", None)]:
        email = f"{name}@example.org"
        args = ["user", "add", email, "--role", role, "--password-stdin"]
        if inst:
            args += ["--institution", inst]
        mcx(db, *args, stdin=PASSWORD + "\n")
        tokens[name] = mcx(db, "token", "create", "--user", email)
        ids[name] = db.query(f"SELECT id FROM users WHERE email = '{email}'")
    return {"db": db, "tokens": tokens, "ids": ids}


@pytest.fixture(scope="module")
def srv(module_mcxd, world):
    s = module_mcxd("--harvest", "off")
    for body, parties in ((COVERING, ("reg-vdu",)), (NARROW, ("reg-ut",))):
        a = call(s, world, parties[0], "POST", "/api/v1/agreements", body).json()
        # uniz.edu has no registrar here: its approval is written as the database would
        world["db"].query(
            "INSERT INTO agreement_approvals (agreement_id, institution_id, hash, approved_by)"
            f" VALUES ('{a['id']}', 'uniz.edu', '{a['hash']}', '{world['ids']['admin']}')")
        r = call(s, world, parties[0], "POST", f"/api/v1/agreements/{a['id']}/approve",
                 {"hash": a["hash"]})
        assert r.json()["status"] == "active", r.text()
    return s


def call(srv, world, who, method, path, body=None, raw=None, headers=None):
    h = dict(headers or {})
    if who:
        h["Authorization"] = "Bearer " + world["tokens"][who]
    data = None
    if body is not None or raw is not None:
        data = raw if raw is not None else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    return http(srv.port, method, path, h, data)


def credential():
    with open(ELM3, encoding="utf-8") as f:
        return json.load(f)


def submit(srv, world, who="ada", target="vdu.lt", **extra):
    body = {"credential": credential(), "target": {"institution": target, **extra}}
    r = call(srv, world, who, "POST", "/api/v1/recognition-requests", body)
    assert r.status == 201, r.text()
    return r.json()


def audit(world, rid):
    return world["db"].query(
        "SELECT string_agg(action || ' ' || actor || ' ' || (at IS NOT NULL)::text, ','"
        f" ORDER BY id) FROM audit_log WHERE entity_id = '{rid}'").split(",")


def test_covered_credential_is_recognised_and_decided(srv, world):
    req = submit(srv, world, programme="Informatics BSc")
    assert req["status"] == "proposed"
    p = req["proposal"]
    assert p["outcome"] == "recognised", p
    assert p["credits"] == 2 and p["grade"] == "įskaityta" and p["reasons"] == []
    assert p["as"] == "elective" and p["rule"] == 0
    assert req["credential"]["issuer"]["id"] == "uniz.edu" and req["issuer"] == "uniz.edu"
    # the registrar agrees with the proposal: no reasons needed
    r = call(srv, world, "reg-vdu", "POST", f"/api/v1/recognition-requests/{req['id']}/decision",
             {"outcome": "recognised", "credits": 2, "grade": "įskaityta"})
    assert r.status == 200, r.text()
    assert r.json()["status"] == "decided" and r.json()["decision"]["reasons"] is None
    rows = call(srv, world, "ada", "GET", "/api/v1/credit-transfers").json()["items"]
    mine = [t for t in rows if t["request_id"] == req["id"]]
    assert len(mine) == 1 and mine[0]["credits"] == 2 and mine[0]["outcome"] == "recognised"
    assert mine[0]["programme"] == "Informatics BSc"
    ada = world["ids"]["ada"]
    assert audit(world, req["id"]) == [f"submit user:{ada} true", "propose system true",
                                       f"decide user:{world['ids']['reg-vdu']} true"]


def test_outside_scope_needs_review_with_reasons(srv, world):
    req = submit(srv, world, target="ut.ee")
    p = req["proposal"]
    assert p["outcome"] == "needs_review"
    codes = {x["code"] for x in p["reasons"]}
    assert codes == {"outside_scope", "eqf_out_of_range"}, p["reasons"]
    assert all(x["message"] for x in p["reasons"])
    # a decision other than the proposal needs written reasons (422 without)
    url = f"/api/v1/recognition-requests/{req['id']}/decision"
    r = call(srv, world, "reg-ut", "POST", url, {"outcome": "not_recognised"})
    assert_json_error(r, 422)
    assert "reasons" in r.json()["error"]["message"]
    r = call(srv, world, "reg-ut", "POST", url, {"outcome": "recognised", "credits": 2})
    assert_json_error(r, 422)  # even "recognised": the proposal was needs_review
    r = call(srv, world, "reg-ut", "POST", url,
             {"outcome": "partially_recognised", "credits": 1,
              "reasons": "Only the data-protection part matches our curriculum."})
    assert r.status == 200, r.text()
    assert r.json()["decision"]["outcome"] == "partially_recognised"


def test_transitions_appeal_once(srv, world):
    req = submit(srv, world)
    rid = req["id"]
    dec = f"/api/v1/recognition-requests/{rid}/decision"
    app = f"/api/v1/recognition-requests/{rid}/appeal"
    # no appeal before a decision
    assert_json_error(call(srv, world, "ada", "POST", app, {"text": "Please"}), 409)
    r = call(srv, world, "reg-vdu", "POST", dec,
             {"outcome": "not_recognised",
              "reasons": "The term's elective quota is full.\nSee the faculty rules, §4."})
    assert r.status == 200
    assert_json_error(call(srv, world, "reg-vdu", "POST", dec,
                           {"outcome": "recognised", "credits": 2, "reasons": "x"}), 409)
    assert_json_error(call(srv, world, "ada", "POST", app, {"text": ""}), 422)
    r = call(srv, world, "ada", "POST", app, {"text": "The quota counts last year's credits."})
    assert r.status == 200 and r.json()["status"] == "appealed"
    assert_json_error(call(srv, world, "ada", "POST", app, {"text": "again"}), 409)
    r = call(srv, world, "reg-vdu", "POST", dec,
             {"outcome": "recognised", "credits": 2, "grade": "įskaityta",
              "reasons": "Upheld on appeal: the quota was miscounted."})
    assert r.status == 200 and r.json()["decision"]["after_appeal"] is True
    assert_json_error(call(srv, world, "ada", "POST", app, {"text": "and again"}), 409)
    # one credit transfer for the request, as decided last
    rows = world["db"].query(f"SELECT outcome FROM credit_transfers WHERE request_id = '{rid}'")
    assert rows == "recognised"
    actions = [a.split(" ")[0] for a in audit(world, rid)]
    assert actions == ["submit", "propose", "decide", "appeal", "decide"]
    # the trail comes with the request, for the registrar's queue and the student
    for who in ("ada", "reg-vdu"):
        trail = call(srv, world, who, "GET", f"/api/v1/recognition-requests/{rid}").json()["audit"]
        assert [t["action"] for t in trail] == actions and all(t["at"] for t in trail)
        # who acted, by e-mail where a user did (the system's proposal has none), for
        # staff; a student is not shown the registrar's address
        emails = [t["actor_email"] for t in trail]
        assert emails == ([None] * 5 if who == "ada" else
                          ["ada@example.org", None, "reg-vdu@example.org", "ada@example.org",
                           "reg-vdu@example.org"]), emails


def test_role_endpoint_matrix(srv, world):
    mine = submit(srv, world, who="bob")
    rid = mine["id"]
    other_ut = submit(srv, world, who="bob", target="ut.ee")["id"]
    ghost = "00000000-0000-0000-0000-000000000000"
    base = "/api/v1/recognition-requests"
    body = {"credential": credential(), "target": {"institution": "vdu.lt"}}
    decision = {"outcome": "not_recognised", "reasons": "r"}
    cases = [
        # (who, method, path, body, status)
        (None, "GET", base, None, 401),
        (None, "POST", base, body, 401),
        (None, "GET", "/api/v1/credit-transfers", None, 401),
        ("pub-vdu", "POST", base, body, 403),
        ("pub-vdu", "GET", base, None, 403),
        ("pub-vdu", "GET", f"{base}/{rid}", None, 403),
        ("pub-vdu", "POST", f"{base}/{rid}/decision", decision, 403),
        ("pub-vdu", "GET", "/api/v1/credit-transfers", None, 403),
        ("reg-vdu", "POST", base, body, 403),
        ("reg-vdu", "POST", f"{base}/{rid}/appeal", {"text": "x"}, 403),
        ("admin", "POST", f"{base}/{rid}/decision", decision, 403),
        ("ada", "POST", f"{base}/{rid}/decision", decision, 403),
        # another student's request, another institution's: as if it did not exist
        ("ada", "GET", f"{base}/{rid}", None, 404),
        ("ada", "POST", f"{base}/{rid}/appeal", {"text": "x"}, 404),
        ("reg-vdu", "GET", f"{base}/{other_ut}", None, 404),
        ("reg-vdu", "POST", f"{base}/{other_ut}/decision", decision, 404),
        ("reg-ut", "GET", f"{base}/{rid}", None, 404),
        ("reg-ut", "POST", f"{base}/{rid}/decision", decision, 404),
        ("bob", "GET", f"{base}/{ghost}", None, 404),
        ("bob", "GET", f"{base}/not-an-id", None, 404),
        ("ada", "GET", f"/api/v1/credit-transfers?student={world['ids']['bob']}", None, 403),
        # what each may see
        ("bob", "GET", f"{base}/{rid}", None, 200),
        ("reg-vdu", "GET", f"{base}/{rid}", None, 200),
        ("reg-ut", "GET", f"{base}/{other_ut}", None, 200),
        ("admin", "GET", f"{base}/{rid}", None, 200),
    ]
    for who, method, path, b, status in cases:
        r = call(srv, world, who, method, path, b)
        assert r.status == status, (who, method, path, r.status, r.text())
        if status >= 400:
            assert_json_error(r, status)
    # lists hold what each may see, nothing else
    seen = {who: {x["id"] for x in call(srv, world, who, "GET", base).json()["items"]}
            for who in ("ada", "bob", "reg-vdu", "reg-ut", "admin")}
    assert rid in seen["bob"] and rid not in seen["ada"]
    assert rid in seen["reg-vdu"] and rid not in seen["reg-ut"]
    assert other_ut in seen["reg-ut"] and other_ut not in seen["reg-vdu"]
    assert seen["admin"] >= seen["bob"] | seen["ada"]
    db = world["db"]
    assert all(db.query(f"SELECT student_id FROM recognition_requests WHERE id = '{x}'")
               == world["ids"]["ada"] for x in seen["ada"])
    assert all(db.query(f"SELECT target_institution FROM recognition_requests WHERE id = '{x}'")
               == "vdu.lt" for x in seen["reg-vdu"])
    r = call(srv, world, "reg-vdu", "GET", f"{base}?status=proposed")
    assert r.status == 200 and all(x["status"] == "proposed" for x in r.json()["items"])
    assert_json_error(call(srv, world, "reg-vdu", "GET", f"{base}?status=lost"), 400)


def test_bad_submissions_lose_nothing(srv, world):
    db = world["db"]
    before = db.query("SELECT count(*) FROM recognition_requests")
    base = "/api/v1/recognition-requests"
    cases = [
        ({"credential": credential()}, 422),                                   # no target
        ({"credential": credential(), "target": {"institution": "nowhere.example"}}, 422),
        ({"credential": {"type": "Nothing"}, "target": {"institution": "vdu.lt"}}, 422),
        ({"credential": credential(), "credential_xml": "<x/>",
          "target": {"institution": "vdu.lt"}}, 422),
        ({"credential_id": "abc", "target": {"institution": "vdu.lt"}}, 422),
        ({"credential_xml": "<europassCredential", "target": {"institution": "vdu.lt"}}, 400),
    ]
    for body, status in cases:
        assert_json_error(call(srv, world, "ada", "POST", base, body), status)
    assert_json_error(call(srv, world, "ada", "POST", base, raw=b"{"), 400)
    assert_json_error(call(srv, world, "ada", "POST", base, raw=b"x",
                           headers={"Content-Type": "text/plain"}), 415)
    assert db.query("SELECT count(*) FROM recognition_requests") == before


def test_elm2_credential_of_an_unknown_issuer(srv, world):
    with open(ELM2, encoding="utf-8") as f:
        xml = f.read()
    r = call(srv, world, "ada", "POST", "/api/v1/recognition-requests",
             {"credential_xml": xml, "target": {"institution": "vdu.lt"}})
    assert r.status == 201, r.text()
    p = r.json()["proposal"]
    assert p["outcome"] == "needs_review"
    assert {x["code"] for x in p["reasons"]} >= {"unknown_issuer", "no_agreement"}
    assert r.json()["credential_format"] == "elm2" and r.json()["credential"]["ects"] == 120


def test_exports_csv_and_elmo(srv, world, tmp_path):
    req = submit(srv, world, who="ada")
    r = call(srv, world, "reg-vdu", "POST", f"/api/v1/recognition-requests/{req['id']}/decision",
             {"outcome": "recognised", "credits": 2, "grade": "įskaityta"})
    assert r.status == 200
    ada = world["ids"]["ada"]
    r = call(srv, world, "reg-vdu", "GET", f"/api/v1/credit-transfers?student={ada}",
             headers={"Accept": "text/csv"})
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.body.decode("utf-8"))))
    assert rows and all(x["student_id"] == ada for x in rows)
    assert any(x["request_id"] == req["id"] and x["credits"] == "2" for x in rows)
    # the registrar's ELMO export for the student information system
    r = call(srv, world, "reg-vdu", "GET", "/api/v1/credit-transfers?student=ada@example.org",
             headers={"Accept": "application/xml"})
    assert r.status == 200, r.text()
    doc = tmp_path / "elmo.xml"
    doc.write_bytes(r.body)
    v = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", ELMO_XSD, str(doc)],
                       capture_output=True, text=True,
                       env={**os.environ, "XML_CATALOG_FILES": CATALOG})
    assert v.returncode == 0, v.stderr
    assert b"<identifier type=\"schac\">vdu.lt</identifier>" in r.body
    # per student: a registrar must name one; a student gets their own
    assert_json_error(call(srv, world, "reg-vdu", "GET", "/api/v1/credit-transfers",
                           headers={"Accept": "application/xml"}), 400)
    r = call(srv, world, "ada", "GET", "/api/v1/credit-transfers", headers={"Accept": "text/csv"})
    assert r.status == 200
    assert_json_error(call(srv, world, "ada", "GET", "/api/v1/credit-transfers",
                           headers={"Accept": "image/png"}), 406)


def test_termination_keeps_earlier_credentials_covered(srv, world):
    """A credential awarded before an agreement's termination is still covered by it
    (the sample was awarded 2022-12-31)."""
    body = dict(COVERING, title="Zed and Tartu, ended", parties=["ut.ee", "uniz.edu"],
                grade_conversion=None)
    a = call(srv, world, "reg-ut", "POST", "/api/v1/agreements", body).json()
    world["db"].query(
        "INSERT INTO agreement_approvals (agreement_id, institution_id, hash, approved_by)"
        f" VALUES ('{a['id']}', 'uniz.edu', '{a['hash']}', '{world['ids']['admin']}')")
    assert call(srv, world, "reg-ut", "POST", f"/api/v1/agreements/{a['id']}/approve",
                {"hash": a["hash"]}).json()["status"] == "active"
    r = call(srv, world, "reg-ut", "POST", f"/api/v1/agreements/{a['id']}/terminate",
             {"date": "2023-06-30"})
    assert r.json()["status"] == "terminated"
    p = submit(srv, world, target="ut.ee")["proposal"]
    assert p["outcome"] == "recognised" and p["agreement"] == a["id"], p


def test_queue_filters_by_partner_and_programme(srv, world):
    """The registrar's queue narrows to one partner (the credential's issuer) or one
    programme, and names the values each filter can take."""
    a = submit(srv, world, who="bob", programme="Filter Studies MA")
    b = submit(srv, world, who="bob", programme="Other Programme BA")
    with open(ELM2, encoding="utf-8") as f:
        r = call(srv, world, "bob", "POST", "/api/v1/recognition-requests",
                 {"credential_xml": f.read(),
                  "target": {"institution": "vdu.lt", "programme": "Filter Studies MA"}})
    assert r.status == 201, r.text()
    c = r.json()
    db = world["db"]

    def listed(query):
        r = call(srv, world, "reg-vdu", "GET", "/api/v1/recognition-requests?" + query)
        assert r.status == 200, r.text()
        return r.json()

    everything = listed("")
    ids = {x["id"] for x in listed("programme=Filter%20Studies%20MA")["items"]}
    want = db.query("SELECT string_agg(id::text, ',') FROM recognition_requests"
                    " WHERE target_institution = 'vdu.lt' AND target_programme = 'Filter Studies MA'")
    assert ids == set(want.split(",")) and {a["id"], c["id"]} <= ids and b["id"] not in ids
    assert {"Filter Studies MA", "Other Programme BA"} <= set(everything["programmes"])
    partners = {p["id"]: p["name"] for p in everything["partners"]}
    assert len(partners) == len(everything["partners"]), "an issuer listed twice"
    issuer = a["credential"]["issuer"]["id"]
    assert issuer in partners and partners[issuer]
    by_partner = listed("partner=" + urllib.parse.quote(issuer, safe=""))["items"]
    assert a["id"] in {x["id"] for x in by_partner} and c["id"] not in {x["id"] for x in by_partner}
    assert all(x["credential"]["issuer"]["id"] == issuer for x in by_partner)
    both = listed("partner=" + urllib.parse.quote(issuer, safe="") +
                  "&programme=Other%20Programme%20BA&status=proposed")["items"]
    assert [x["id"] for x in both] == [b["id"]]
    assert listed("partner=nobody.example")["items"] == []
    # another institution's registrar sees neither the requests nor their values
    other = call(srv, world, "reg-ut", "GET", "/api/v1/recognition-requests").json()
    assert "Filter Studies MA" not in other["programmes"]
    for bad in ("partner=", "programme=", "programme=" + "x" * 600):
        assert_json_error(call(srv, world, "reg-vdu", "GET",
                               "/api/v1/recognition-requests?" + bad), 400)
