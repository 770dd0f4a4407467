"""Issuance (issue 10, DESIGN §5 "Issuance"): a publisher issues one credential (with
an idempotency key) or imports a Moodle gradebook; the outbox hands each credential to
the EDCI issuer stand-in (tests/edci_standin.py, its real multipart API) exactly once,
across retries, a stand-in that is down or answers garbage, a SIGKILLed node and two
nodes on one database; the registry, revoke, reissue and /verify."""

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

import mcxtest
from mcxtest import assert_json_error, http

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("MCX_SHARED_DIR") or os.path.join(SOURCE, "..", "shared")
SAMPLE = os.path.join(SHARED, "samples", "elm", "elm3", "Sample-MC-Annex1-unsigned.jsonld")
PASSWORD = "correct horse battery staple"
SEAL_PASSWORD = "seal-pass-1234"
EDCI_TOKEN = "edci-front-token-5678"

OFFER = {
    "external_id": "VDU-MC-DS", "title": {"en": "Data science for the social sciences",
                                          "lt": "Duomenų mokslas socialiniams mokslams"},
    "description": {"en": "Cleaning, analysing and visualising open data."},
    "learning_outcomes": [{"en": "Clean and join open data sets."},
                          {"en": "Explain a regression model to a lay audience."}],
    "languages": ["en", "lt"], "isced": ["0314", "0688"], "eqf": 6, "ects": 3, "mode": "online",
    "starts": "2027-02-15", "ends": "2027-05-15",
    "assessment": {"en": "Project report and oral defence"},
    "quality_assurance": {"en": "Approved by the VDU Study Quality Committee"},
    "homepage": "https://www.vdu.lt/en/micro/data-science",
}


class Standin:
    def __init__(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SOURCE, "tests", "edci_standin.py"),
             "--password", SEAL_PASSWORD, "--token", EDCI_TOKEN, "--lifetime", "600"],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("port "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stats(self):
        with urllib.request.urlopen(self.url + "/_stats", timeout=10) as r:
            return json.load(r)

    def mode(self, mode, delay_ms=0):
        req = urllib.request.Request(self.url + "/_mode", method="POST",
                                     data=json.dumps({"mode": mode, "delay_ms": delay_ms}).encode())
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


@pytest.fixture(scope="module")
def world(db, tmp_path_factory):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University",
        "--country", "LT", "--local-name", "lt=Vytauto Didžiojo universitetas",
        "--homepage", "https://www.vdu.lt/", "--home")
    mcx(db, "institution", "add", "ut.ee", "--name", "University of Tartu", "--country", "EE",
        "--home")
    tokens = {}
    for name, role, inst in [("pub", "publisher", "vdu.lt"), ("pub-ut", "publisher", "ut.ee"),
                             ("student", "student", None), ("reg", "registrar", "vdu.lt"),
                             ("admin", "admin", None)]:
        email = f"{name}@example.org"
        args = ["user", "add", email, "--role", role, "--password-stdin"]
        if inst:
            args += ["--institution", inst]
        mcx(db, *args, stdin=PASSWORD + "\n")
        tokens[name] = mcx(db, "token", "create", "--user", email)
    d = tmp_path_factory.mktemp("secrets")
    (d / "seal").write_text(SEAL_PASSWORD + "\n")
    (d / "token").write_text(EDCI_TOKEN + "\n")
    standin = Standin()
    yield {"db": db, "tokens": tokens, "secrets": d, "standin": standin}
    standin.stop()


def node_args(world, *extra):
    return ["--harvest", "off", "--europass-url", world["standin"].url,
            "--europass-seal-password-file", str(world["secrets"] / "seal"),
            "--europass-token-file", str(world["secrets"] / "token"),
            "--outbox-tick-ms", "100", "--outbox-backoff-ms", "100", "--outbox-max-attempts", "3",
            "--outbox-timeout-ms", "5000", "--web-root", os.path.join(SOURCE, "web"), *extra]


@pytest.fixture(scope="module")
def srv(module_mcxd, world):
    return module_mcxd(*node_args(world))


def call(port, world, who, method, path, body=None, raw=None, headers=None):
    h = dict(headers or {})
    if who:
        h["Authorization"] = "Bearer " + world["tokens"][who]
    data = None
    if body is not None or raw is not None:
        data = raw if raw is not None else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    return http(port, method, path, h, data)


@pytest.fixture(scope="module")
def offer(world):
    """Stored through offers_put_many, the statement publishing runs."""
    items = [{"external_id": OFFER["external_id"], "completeness": [], "doc": OFFER,
              "hash": hashlib.sha256(json.dumps(OFFER, sort_keys=True).encode()).hexdigest()}]
    payload = json.dumps(items).replace("'", "''")
    db = world["db"]
    db.query(f"SELECT count(*) FROM offers_put_many('vdu.lt', 'test', NULL, '{payload}'::jsonb)")
    return db.query(f"SELECT id FROM offers WHERE external_id = '{OFFER['external_id']}'")


def issue(port, world, offer, key, email=None, who="pub"):
    body = {"offer_id": offer, "idempotency_key": key,
            "learner": {"given_name": "Aistė", "family_name": "Jonaitytė",
                        "email": email or f"{key}@students.example.org"},
            "result": {"grade": "9", "ects": 3, "date": "2026-11-20"}}
    return call(port, world, who, "POST", "/api/v1/credentials", body)


def wait_states(port, world, ids, states, timeout=60):
    deadline = time.monotonic() + timeout
    last = {}
    while time.monotonic() < deadline:
        for cid in ids:
            if last.get(cid) not in states:
                last[cid] = call(port, world, "pub", "GET", f"/api/v1/credentials/{cid}") \
                    .json()["state"]
        if all(s in states for s in last.values()) and len(last) == len(ids):
            return last
        time.sleep(0.2)
    raise AssertionError(f"not all {states} after {timeout}s: {last}")


def test_one_credential_reaches_the_issuer_once(srv, world, offer):
    r = issue(srv.port, world, offer, "single-1")
    assert r.status == 202, r.text()
    cred = r.json()
    assert cred["state"] in ("queued", "sending", "delivered")
    again = issue(srv.port, world, offer, "single-1")
    assert again.status == 200 and again.json()["id"] == cred["id"]
    wait_states(srv.port, world, [cred["id"]], {"delivered"})
    st = world["standin"].stats()
    assert st["deliveries"].get(cred["id"]) == 1
    # what was sent has the samples' shape (an unsealed ELM 3 credential in the wrapper)
    sent = st["last"]
    assert sent["deliveryDetails"]["deliveryAddress"] == ["single-1@students.example.org"]
    with open(SAMPLE, encoding="utf-8") as f:
        sample = json.load(f)
    c = sent["credential"]
    assert c["@context"] == sample["@context"]
    for key in ("type", "credentialSubject", "issuer", "credentialSchema"):
        assert key in c, key
    assert set(sample["type"]) <= set(c["type"])
    claim = c["credentialSubject"]["hasClaim"]
    claim = claim[0] if isinstance(claim, list) else claim
    spec = claim["specifiedBy"]
    assert spec["title"]["en"] == OFFER["title"]["en"]
    assert str(spec["creditPoint"][0]["point"] if isinstance(spec["creditPoint"], list)
               else spec["creditPoint"]["point"]) in ("3", "3.0")
    got = call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{cred['id']}").json()
    assert got["attempts"] == 1 and got["attempt_log"][0]["outcome"] == "delivered"
    assert got["europass"]["viewerURL"]


def test_moodle_import_queues_the_good_rows_once(srv, world, offer):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["First name", "Last name", "ID number", "Institution", "Department",
                "Email address", "Quiz: Final test (Real)", "Course total (Real)",
                "Last downloaded from this course"])
    bad = {}
    for i in range(1, 501):
        email, grade = f"learner{i}@students.example.org", f"{60 + i % 40}.00"
        if i % 41 == 0 and len(bad) < 12:
            kind = len(bad) % 4
            if kind == 0:
                email = ""
            elif kind == 1:
                email = "not-an-address"
            elif kind == 2:
                grade = "-"
            else:
                grade = "12.00"   # below the pass mark
            bad[i] = kind
        w.writerow([f"Given{i}", f"Family{i}", f"S{i:05d}", "VDU", "Informatics", email,
                    "8.00", grade, "1717082400"])
    data = out.getvalue().encode()
    assert len(bad) == 12
    url = f"/api/v1/credentials/import?offer_id={offer}&pass_mark=50"
    h = {"Content-Type": "text/csv"}
    dry = call(srv.port, world, "pub", "POST", url + "&dry_run=1", raw=data, headers=h)
    assert dry.status == 200, dry.text()
    assert dry.json()["queued"] == 488 and dry.json()["dry_run"] is True
    before = world["db"].query("SELECT count(*) FROM credentials")
    r = call(srv.port, world, "pub", "POST", url, raw=data, headers=h)
    assert r.status == 201, r.text()
    rep = r.json()
    assert rep["queued"] == 488 and rep["skipped"] == 12, {k: rep[k] for k in ("queued", "skipped")}
    reported = {x["row"]: x for x in rep["rows"] if x["status"] != "queued"}
    assert set(reported) == set(bad), sorted(reported)
    assert all(x["reason"] for x in reported.values())
    assert reported[min(i for i in bad if bad[i] == 3)]["status"] == "below_pass_mark"
    assert int(world["db"].query("SELECT count(*) FROM credentials")) == int(before) + 488
    again = call(srv.port, world, "pub", "POST", url, raw=data, headers=h)
    assert again.status == 201 and again.json()["queued"] == 0
    assert sum(1 for x in again.json()["rows"] if x["status"] == "already_issued") == 488
    assert int(world["db"].query("SELECT count(*) FROM credentials")) == int(before) + 488
    ids = [x["credential_id"] for x in rep["rows"] if x["status"] == "queued"]
    wait_states(srv.port, world, ids, {"delivered"}, timeout=120)
    st = world["standin"].stats()
    assert all(st["deliveries"].get(i) == 1 for i in ids)
    # the import's batch: its 488 credentials, counted by state (the publisher page's
    # progress bar); the re-import queued nothing, so its batch is empty
    assert "batch" not in dry.json()
    mine = call(srv.port, world, "pub", "GET", f"/api/v1/credentials?batch={rep['batch']}").json()
    assert sorted(x["id"] for x in mine["items"]) == sorted(ids)
    assert mine["counts"] == {"queued": 0, "sending": 0, "delivered": 488, "failed": 0,
                              "revoked": 0}
    empty = call(srv.port, world, "pub", "GET",
                 f"/api/v1/credentials?batch={again.json()['batch']}").json()
    assert empty["items"] == [] and sum(empty["counts"].values()) == 0
    # counts ignore the state filter, items do not
    failed = call(srv.port, world, "pub", "GET",
                  f"/api/v1/credentials?batch={rep['batch']}&state=failed").json()
    assert failed["items"] == [] and failed["counts"]["delivered"] == 488
    assert_json_error(call(srv.port, world, "pub", "GET", "/api/v1/credentials?batch=nope"), 400)
    assert call(srv.port, world, "pub-ut", "GET",
                f"/api/v1/credentials?batch={rep['batch']}").json()["items"] == []
    # an admin narrows the registry to one institution; a publisher stays in theirs
    for inst, n in (("vdu.lt", 488), ("ut.ee", 0)):
        got = call(srv.port, world, "admin", "GET",
                   f"/api/v1/credentials?batch={rep['batch']}&institution={inst}").json()
        assert len(got["items"]) == n and got["counts"]["delivered"] == n, inst
    assert call(srv.port, world, "pub-ut", "GET", f"/api/v1/credentials?batch={rep['batch']}"
                "&institution=vdu.lt").json()["items"] == []
    assert_json_error(call(srv.port, world, "admin", "GET",
                           "/api/v1/credentials?institution=Not%20an%20id"), 400)


def test_down_then_up_and_garbage(srv, world, offer):
    sa = world["standin"]
    sa.mode("fail500")
    cid = issue(srv.port, world, offer, "down-1").json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{cid}").json()
        if got["attempts"] >= 1 and got["state"] == "queued":
            break
        time.sleep(0.1)
    assert got["state"] == "queued" and got["last_error"] and "500" in got["last_error"], got
    sa.mode("ok")
    wait_states(srv.port, world, [cid], {"delivered"})
    assert sa.stats()["deliveries"].get(cid) == 1
    # garbage, always: failed after the configured 3 attempts, the error shown
    sa.mode("garbage")
    cid = issue(srv.port, world, offer, "garbage-1").json()["id"]
    wait_states(srv.port, world, [cid], {"failed"})
    got = call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{cid}").json()
    assert got["attempts"] == 3 and "not a JSON object" in got["last_error"], got
    assert len(got["attempt_log"]) == 3
    sa.mode("ok")


def test_sigkill_mid_send_then_restart_delivers_each_once(mcxd, world, offer):
    sa = world["standin"]
    sa.mode("slow", 150)
    node = mcxd(*node_args(world, "--outbox-concurrency", "8"), expect_exit=-9)
    ids = []
    for i in range(200):
        r = issue(node.port, world, offer, f"kill-{i}")
        assert r.status == 202, r.text()
        ids.append(r.json()["id"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and \
            len([k for k in sa.stats()["deliveries"] if k in set(ids)]) < 20:
        time.sleep(0.05)
    node.send_signal(signal.SIGKILL)
    node.wait_exit(10)
    sa.mode("ok")
    again = mcxd(*node_args(world))
    wait_states(again.port, world, ids, {"delivered"}, timeout=180)
    st = sa.stats()
    assert [st["deliveries"].get(i) for i in ids] == [1] * 200


def test_two_nodes_share_the_outbox(mcxd, world, offer):
    a = mcxd(*node_args(world))
    b = mcxd(*node_args(world))
    ids = [issue((a, b)[i % 2].port, world, offer, f"two-{i}").json()["id"] for i in range(60)]
    wait_states(a.port, world, ids, {"delivered"}, timeout=120)
    st = world["standin"].stats()
    assert [st["deliveries"].get(i) for i in ids] == [1] * 60
    nodes = world["db"].query(
        "SELECT count(DISTINCT node) FROM credential_attempts WHERE credential_id IN ("
        + ",".join(f"'{i}'" for i in ids) + ")")
    assert int(nodes) >= 2


def test_revoke_verify_reissue(srv, world, offer):
    cid = issue(srv.port, world, offer, "verify-1").json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    j = {"Accept": "application/json"}
    r = http(srv.port, "GET", f"/verify/{cid}", j)
    assert r.status == 200 and r.json()["status"] == "valid", r.text()
    v = r.json()
    assert v["learner"] == "Aistė Jonaitytė" and v["issuer"]["id"] == "vdu.lt"
    assert "verify-1@students.example.org" not in r.text()
    assert http(srv.port, "GET", f"/verify/{cid}").header("Content-Type").startswith("text/html")
    assert_json_error(call(srv.port, world, "pub", "POST", f"/api/v1/credentials/{cid}/revoke",
                           {}), 422)
    r = call(srv.port, world, "pub", "POST", f"/api/v1/credentials/{cid}/revoke",
             {"reason": "issued to the wrong learner"})
    assert r.status == 200 and r.json()["state"] == "revoked"
    assert http(srv.port, "GET", f"/verify/{cid}", j).json()["status"] == "revoked"
    assert_json_error(call(srv.port, world, "pub", "POST", f"/api/v1/credentials/{cid}/revoke",
                           {"reason": "again"}), 409)
    r = http(srv.port, "GET", "/verify/00000000-0000-0000-0000-000000000000", j)
    assert r.status == 404 and r.json()["status"] == "unknown"
    r = call(srv.port, world, "pub", "POST", f"/api/v1/credentials/{cid}/reissue")
    assert r.status == 202, r.text()
    new = r.json()
    assert new["id"] != cid and new["reissue_of"] == cid
    wait_states(srv.port, world, [new["id"]], {"delivered"})


def test_registry_and_who_may(srv, world, offer):
    r = call(srv.port, world, "pub", "GET", f"/api/v1/credentials?offer_id={offer}&state=delivered")
    assert r.status == 200 and r.json()["items"]
    assert all(x["state"] == "delivered" for x in r.json()["items"])
    r = call(srv.port, world, "pub", "GET", "/api/v1/credentials?learner=single-1@students.example.org",
             headers={"Accept": "text/csv"})
    assert r.status == 200 and r.header("Content-Type").startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.body.decode())))
    assert len(rows) == 1 and rows[0]["state"] == "delivered"
    for who in ("student", "reg"):
        assert_json_error(issue(srv.port, world, offer, "nope", who=who), 403)
        assert_json_error(call(srv.port, world, who, "GET", "/api/v1/credentials"), 403)
    assert_json_error(issue(srv.port, world, offer, "other-inst", who="pub-ut"), 403)
    assert call(srv.port, world, "pub-ut", "GET", "/api/v1/credentials").json()["items"] == []
    assert_json_error(issue(srv.port, world, offer, "x", who=None), 401)
    bad = {"offer_id": offer, "idempotency_key": "bad", "learner": {"given_name": "A"},
           "result": {}}
    assert_json_error(call(srv.port, world, "pub", "POST", "/api/v1/credentials", bad), 422)
    assert_json_error(call(srv.port, world, "pub", "POST", "/api/v1/credentials", raw=b"{"), 400)
    assert_json_error(call(srv.port, world, "pub", "POST",
                           f"/api/v1/credentials/import?offer_id={offer}", raw=b"a,b",
                           headers={"Content-Type": "application/json"}), 415)
    csv_h = {"Content-Type": "text/csv"}
    before = world["db"].query("SELECT count(*) FROM credentials")
    for query in ("pass_mark=60%", "pass_mark=60&dry_run=yes"):   # never guessed
        r = call(srv.port, world, "pub", "POST",
                 f"/api/v1/credentials/import?offer_id={offer}&{query}",
                 raw=b"First name,Last name,Email address,Course total (Real)\r\n"
                     b"A,B,a@b.example,10\r\n", headers=csv_h)
        assert_json_error(r, 400)
    assert world["db"].query("SELECT count(*) FROM credentials") == before
    r = call(srv.port, world, "pub", "PUT", f"/api/v1/offers/{offer}/credential-template",
             raw=b"{")
    assert_json_error(r, 400)


def test_personal_data_is_purged_after_the_retention_period(mcxd, srv, world, offer):
    cid = issue(srv.port, world, offer, "retention-1").json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    db = world["db"]
    db.query(f"UPDATE credentials SET delivered_at = now() - interval '40 days' WHERE id = '{cid}'")
    node = mcxd(*node_args(world, "--learner-retention-days", "30"))   # purges at start
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and \
            db.query(f"SELECT learner IS NULL FROM credentials WHERE id = '{cid}'") != "t":
        time.sleep(0.2)
    assert db.query(f"SELECT learner IS NULL AND learner_email IS NULL AND document = ''"
                    f" FROM credentials WHERE id = '{cid}'") == "t"
    got = call(node.port, world, "pub", "GET", f"/api/v1/credentials/{cid}").json()
    assert got["learner"] == {"name": "Aistė Jonaitytė", "purged": True}
    v = http(node.port, "GET", f"/verify/{cid}", {"Accept": "application/json"}).json()
    assert v["status"] == "valid" and v["learner"] == "Aistė Jonaitytė"
    assert_json_error(call(node.port, world, "pub", "POST", f"/api/v1/credentials/{cid}/reissue"),
                      409)
    assert db.query("SELECT count(*) > 0 FROM audit_log WHERE action = 'purge_personal_data'") == "t"


def test_a_wrong_token_is_retried_not_failed(srv, world, offer):
    """A 401 from the proxy in front of EDCI is a configuration problem: the
    credential waits for the operator's fix instead of failing at once."""
    sa = world["standin"]
    sa.mode("unauthorized")
    try:
        cid = issue(srv.port, world, offer, "wrong-token-1").json()["id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{cid}").json()
            if got["attempts"] >= 1 and got["state"] == "queued" and got["last_error"]:
                break
            time.sleep(0.1)
        assert got["state"] == "queued" and "401" in got["last_error"], got
    finally:
        sa.mode("ok")
    wait_states(srv.port, world, [cid], {"delivered"})


def test_a_registry_credential_can_be_submitted_for_recognition(srv, world, offer):
    """DESIGN §5: a recognition request may name a credential of this node's registry;
    only the learner it was delivered to may."""
    cid = issue(srv.port, world, offer, "for-recognition", email="student@example.org") \
        .json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    # the student finds it among their credentials, with EDCI's viewer link
    mine = call(srv.port, world, "student", "GET", "/api/v1/me/credentials").json()["items"]
    got = next(i for i in mine if i["id"] == cid)
    assert got["viewer_url"].startswith("https://europass.example/viewer/")
    assert got["download_url"] is None and got["verify_url"] == f"/verify/{cid}"
    body = {"credential_id": cid, "target": {"institution": "ut.ee"}}
    r = call(srv.port, world, "student", "POST", "/api/v1/recognition-requests", body)
    assert r.status == 201, r.text()
    req = r.json()
    assert req["credential_format"] == "registry" and req["issuer"] == "vdu.lt"
    assert req["credential"]["ects"] == 3 and req["offer_id"] == offer
    assert {x["code"] for x in req["proposal"]["reasons"]} == {"no_agreement"}
    # another learner's credential, or an unknown id: refused
    other = issue(srv.port, world, offer, "someone-else").json()["id"]
    wait_states(srv.port, world, [other], {"delivered"})
    for bad in (other, "00000000-0000-4000-8000-000000000000"):
        r = call(srv.port, world, "student", "POST", "/api/v1/recognition-requests",
                 {"credential_id": bad, "target": {"institution": "ut.ee"}})
        assert_json_error(r, 422)


def test_an_institutions_offers_say_what_their_credential_lacks(srv, world, offer):
    """GET /api/v1/institutions/{id}/offers: the publisher dashboard's list."""
    db = world["db"]
    bare = {"external_id": "VDU-BARE", "title": {"en": "A bare offer"}, "mode": "online"}
    items = [{"external_id": "VDU-BARE", "completeness": [], "doc": bare,
              "hash": hashlib.sha256(json.dumps(bare, sort_keys=True).encode()).hexdigest()}]
    payload = json.dumps(items).replace("'", "''")
    db.query(f"SELECT count(*) FROM offers_put_many('vdu.lt', 'test', NULL, '{payload}'::jsonb)")
    bare_id = db.query("SELECT id FROM offers WHERE external_id = 'VDU-BARE'")
    r = call(srv.port, world, "pub", "GET", "/api/v1/institutions/vdu.lt/offers")
    assert r.status == 200, r.text()
    got = {x["id"]: x for x in r.json()["items"]}
    live = db.query("SELECT count(*) FROM offers WHERE institution_id = 'vdu.lt'"
                    " AND deleted_at IS NULL")
    assert len(got) == int(live) and r.json()["truncated"] is False
    b = got[bare_id]
    assert b["external_id"] == "VDU-BARE" and b["title"] == {"en": "A bare offer"}
    assert b["template"] == "none"
    assert set(b["completeness"]["missing"]) >= {"learning_outcomes", "ects", "eqf"}
    assert "mode" not in b["completeness"]["missing"]
    assert b["completeness"]["offer"] == b["completeness"]["missing"]
    assert b["credentials"] == {"queued": 0, "sending": 0, "delivered": 0, "failed": 0,
                                "revoked": 0}
    # an incomplete credential is not issued, one at a time or from Moodle (nothing is
    # stored), and the answer says what is missing
    before = db.query("SELECT count(*) FROM credentials")
    r = issue(srv.port, world, bare_id, "bare-1")
    assert_json_error(r, 422)
    assert "learning_outcomes" in r.json()["error"]["message"]
    grades = (b"First name,Last name,Email address,Course total (Real)\r\n"
              b"Ona,Bare,ona.bare@example.org,90\r\n")
    for dry in ("&dry_run=1", ""):
        r = call(srv.port, world, "pub", "POST",
                 f"/api/v1/credentials/import?offer_id={bare_id}&pass_mark=50{dry}",
                 raw=grades, headers={"Content-Type": "text/csv"})
        assert_json_error(r, 422)
        assert "credential template" in r.json()["error"]["message"]
    assert db.query("SELECT count(*) FROM credentials") == before
    # the template fills what it can: the credential's gaps shrink, the offer's stay
    template = {"awarding_body": {"id": "vdu.lt", "name": {"en": "Vytautas Magnus University"},
                                  "country": "LT"},
                "learning_outcomes": [{"en": "Read a data set critically."}], "ects": 1,
                "eqf": 5, "assessment": {"en": "Quiz"},
                "quality_assurance": {"en": "VDU Study Quality Committee"}}
    put = call(srv.port, world, "pub", "PUT", f"/api/v1/offers/{bare_id}/credential-template",
               template)
    assert put.status == 200, put.text()
    b = {x["id"]: x for x in call(srv.port, world, "pub", "GET",
                                  "/api/v1/institutions/vdu.lt/offers").json()["items"]}[bare_id]
    assert b["template"] == "own" and b["completeness"]["missing"] == []
    assert "learning_outcomes" in b["completeness"]["offer"]
    tpl = call(srv.port, world, "pub", "GET", f"/api/v1/offers/{bare_id}/credential-template")
    assert tpl.json()["completeness"]["missing"] == b["completeness"]["missing"]
    r = issue(srv.port, world, bare_id, "bare-1")
    assert r.status == 202, r.text()  # complete now
    b = {x["id"]: x for x in call(srv.port, world, "pub", "GET",
                                  "/api/v1/institutions/vdu.lt/offers").json()["items"]}[bare_id]
    assert sum(b["credentials"].values()) == 1
    # counts per state equal the registry's
    full = got[offer]["credentials"]
    for state, n in full.items():
        assert n == int(db.query(f"SELECT count(*) FROM credentials WHERE offer_id = '{offer}'"
                                 f" AND state = '{state}'")), state
    # who may
    for who, status in (("student", 403), ("reg", 403), ("pub-ut", 403), (None, 401)):
        assert_json_error(call(srv.port, world, who, "GET", "/api/v1/institutions/vdu.lt/offers"),
                          status)
    assert call(srv.port, world, "pub-ut", "GET",
                "/api/v1/institutions/ut.ee/offers").json()["items"] == []
    assert_json_error(call(srv.port, world, "pub", "GET",
                           "/api/v1/institutions/nowhere.example/offers"), 403)
    assert_json_error(call(srv.port, world, "admin", "GET",
                           "/api/v1/institutions/nowhere.example/offers"), 404)
    assert bare_id in {x["id"] for x in call(srv.port, world, "admin", "GET",
                                             "/api/v1/institutions/vdu.lt/offers").json()["items"]}
    db.query("UPDATE offers SET deleted_at = now() WHERE id = '" + bare_id + "'")


def test_the_institutions_default_template(srv, world, offer):
    """GET/PUT/DELETE /api/v1/institutions/{id}/credential-template: what every offer of
    the institution without a template of its own inherits."""
    db = world["db"]
    path = "/api/v1/institutions/vdu.lt/credential-template"
    bare = {"external_id": "VDU-DEFAULT", "title": {"en": "Inherits the default"},
            "mode": "online", "ects": 2, "eqf": 6,
            "learning_outcomes": [{"en": "Describe a data pipeline."}]}
    items = [{"external_id": "VDU-DEFAULT", "completeness": [], "doc": bare,
              "hash": hashlib.sha256(json.dumps(bare, sort_keys=True).encode()).hexdigest()}]
    payload = json.dumps(items).replace("'", "''")
    db.query(f"SELECT count(*) FROM offers_put_many('vdu.lt', 'test', NULL, '{payload}'::jsonb)")
    oid = db.query("SELECT id FROM offers WHERE external_id = 'VDU-DEFAULT'")

    def listed():
        r = call(srv.port, world, "pub", "GET", "/api/v1/institutions/vdu.lt/offers")
        return {x["id"]: x for x in r.json()["items"]}[oid]

    got = call(srv.port, world, "pub", "GET", path)
    assert got.status == 200 and got.json() == {"institution": "vdu.lt", "template": None,
                                                "updated_at": None}, got.text()
    assert listed()["template"] == "none"
    assert {"assessment", "quality_assurance"} <= set(listed()["completeness"]["missing"])
    default = {"awarding_body": {"id": "vdu.lt", "name": {"en": "Vytautas Magnus University"},
                                 "country": "LT"},
               "assessment": {"en": "A project assessed by two examiners"},
               "quality_assurance": {"en": "VDU Study Quality Committee"}}
    before = int(db.query("SELECT count(*) FROM audit_log WHERE entity = 'credential_template'"))
    put = call(srv.port, world, "pub", "PUT", path, default)
    assert put.status == 200, put.text()
    body = put.json()
    assert body["institution"] == "vdu.lt" and body["updated_at"]
    assert body["template"]["quality_assurance"] == default["quality_assurance"]
    assert call(srv.port, world, "pub", "GET", path).json()["template"] == body["template"]
    # the offer inherits it: ready to issue, and the offer's own template view says so
    row = listed()
    assert row["template"] == "inherited" and row["completeness"]["missing"] == [], row
    own = call(srv.port, world, "pub", "GET", f"/api/v1/offers/{oid}/credential-template").json()
    assert own["inherited"] is True and own["completeness"]["missing"] == []
    assert issue(srv.port, world, oid, "default-1").status == 202
    assert int(db.query("SELECT count(*) FROM audit_log WHERE entity = 'credential_template'")) \
        == before + 1
    # bad input changes nothing
    bad = dict(default, awarding_body=dict(default["awarding_body"], country="XX"))
    r = call(srv.port, world, "pub", "PUT", path, bad)
    assert_json_error(r, 422)
    assert "awarding_body.country" in r.json()["error"]["message"]
    assert_json_error(call(srv.port, world, "pub", "PUT", path, raw=b"{"), 400)
    assert_json_error(call(srv.port, world, "pub", "PUT", path, {"unknown": 1}), 422)
    assert call(srv.port, world, "pub", "GET", path).json()["template"] == body["template"]
    # who may
    for who, status in (("student", 403), ("reg", 403), ("pub-ut", 403), (None, 401)):
        assert_json_error(call(srv.port, world, who, "GET", path), status)
        assert_json_error(call(srv.port, world, who, "PUT", path, default), status)
        assert_json_error(call(srv.port, world, who, "DELETE", path), status)
    assert call(srv.port, world, "admin", "GET", path).json()["template"] == body["template"]
    for method in ("GET", "DELETE"):
        assert_json_error(call(srv.port, world, "admin", method,
                               "/api/v1/institutions/nowhere.example/credential-template"), 404)
    assert_json_error(call(srv.port, world, "admin", "PUT",
                           "/api/v1/institutions/nowhere.example/credential-template", default),
                      404)
    # removed: the offer has none again (and cannot be issued)
    r = call(srv.port, world, "pub", "DELETE", path)
    assert r.status == 204 and r.body == b"", r.text()
    assert call(srv.port, world, "pub", "DELETE", path).status == 204  # nothing left: still 204
    assert call(srv.port, world, "pub", "GET", path).json()["template"] is None
    assert listed()["template"] == "none"
    assert_json_error(issue(srv.port, world, oid, "default-2"), 422)
    # nor reissued: a reissue is built from the offer and template as they are now
    first = db.query("SELECT id FROM credentials WHERE idempotency_key = 'default-1'")
    r = call(srv.port, world, "pub", "POST", f"/api/v1/credentials/{first}/reissue")
    assert_json_error(r, 422)
    assert "quality_assurance" in r.json()["error"]["message"]
    db.query(f"UPDATE offers SET deleted_at = now() WHERE id = '{oid}'")


def test_the_registry_lists_the_newest_and_exports_all(srv, world, offer):
    """JSON: the newest 5,000 with counts of every match; CSV: all of them."""
    db = world["db"]
    db.query("INSERT INTO credentials (institution_id, offer_id, idempotency_key, learner,"
             " learner_name, learner_email, result, title, document, state, delivered_at,"
             " created_by, created_at)"
             f" SELECT 'vdu.lt', '{offer}', 'bulk-' || g, NULL, 'Bulkrow Learner ' || g, NULL,"
             " '{}', 'Data science', '', 'delivered', now(), 'test',"
             " now() - g * interval '1 second' FROM generate_series(1, 5100) g")
    try:
        r = call(srv.port, world, "pub", "GET", "/api/v1/credentials?learner=Bulkrow")
        assert r.status == 200, r.text()
        body = r.json()
        assert len(body["items"]) == 5000 and body["counts"]["delivered"] == 5100
        assert body["items"][0]["idempotency_key"] == "bulk-1"  # the newest first
        r = call(srv.port, world, "pub", "GET", "/api/v1/credentials?learner=Bulkrow",
                 headers={"Accept": "text/csv"})
        rows = list(csv.DictReader(io.StringIO(r.body.decode())))
        assert len(rows) == 5100 and rows[-1]["learner"] == "Bulkrow Learner 5100"
    finally:
        db.query("DELETE FROM credentials WHERE idempotency_key LIKE 'bulk-%'")
