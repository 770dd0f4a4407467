"""The impact figures (issue 11, DESIGN §5 "Issuance"): GET /api/v1/stats/impact.

A world with known exposure events, applications, credentials and credit transfers,
inserted straight into the tables (with rows that must not count: outside the
period, without a visitor, not delivered, not recognised, from the home institution
itself), plus a real search with a visitor cookie, a real application and a real
decision. Every figure the API answers — totals, per institution, per month — must
equal a count written here in SQL, independently of schemas/sql/013_impact.sql, and
the designed world's hand-counted values. Also: who sees what, parameter errors,
CSV."""

import csv
import hashlib
import io
import json
import subprocess
import urllib.parse
import uuid

import pytest

import mcxtest
from mcxtest import assert_json_error, http, wait_until

PASSWORD = "correct horse battery staple"
KINDS_SEEN = "('search', 'impression', 'view')"
A, B, C, D = "vdu.lt", "uab.cat", "ut.ee", "tuni.fi"
INSTITUTIONS = [(A, "LT"), (B, "ES"), (C, "EE"), (D, "FI")]
FROM, TO = "2025-01-01", "2025-03-31"  # the period the world was built for


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


def q(s):
    return "'" + s.replace("'", "''") + "'" if s is not None else "NULL"


def vid(n):
    return f"{n:032x}"


def put(db, inst, exts):
    """Offers through offers_put_many, the statement publishing runs."""
    docs = [{"external_id": e, "title": {"en": f"Course {e}"}, "languages": ["en"],
             "isced": ["0613"], "eqf": 6, "ects": 5, "mode": "online", "starts": "2027-02-01"}
            for e in exts]
    items = [{"external_id": d["external_id"], "completeness": [],
              "hash": hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest(),
              "doc": d} for d in docs]
    db.query(f"SELECT count(*) FROM offers_put_many({q(inst)}, 'test', NULL, "
             f"{q(json.dumps(items))}::jsonb)")
    return {e: db.query(f"SELECT id FROM offers WHERE institution_id = {q(inst)} "
                        f"AND external_id = {q(e)}") for e in exts}


def new_user(db, tag, role="student", inst=None):
    return db.query(f"INSERT INTO users (email, role, institution_id) VALUES "
                    f"({q(tag + '-' + uuid.uuid4().hex[:8] + '@example.org')}, {q(role)}, "
                    f"{q(inst)}) RETURNING id")


def event(db, kind, visitor, at, offer=None, inst=None):
    db.query("INSERT INTO events (at, kind, visitor, offer_id, institution_id, node) VALUES "
             f"({q(at)}, {q(kind)}, {q(visitor)}, {q(offer)}::uuid, {q(inst)}, 'test')")


def apply(db, student, offer, inst, at):
    """As catalogue/applications.c writes it: the row and its event, at one time."""
    db.query(f"INSERT INTO applications (user_id, offer_id, created_at) VALUES "
             f"({q(student)}, {q(offer)}, {q(at)});"
             f"INSERT INTO events (at, kind, offer_id, institution_id, node) VALUES "
             f"({q(at)}, 'application', {q(offer)}, {q(inst)}, 'test')")


def credential(db, inst, offer, state, delivered_at=None, revoked_at=None, reissue_of=None):
    return db.query(
        "INSERT INTO credentials (institution_id, offer_id, idempotency_key, learner, learner_name,"
        " result, title, document, state, delivered_at, revoked_at, reissue_of, created_by)"
        f" VALUES ({q(inst)}, {q(offer)}, {q(uuid.uuid4().hex)},"
        " '{\"given_name\":\"Ada\",\"family_name\":\"L\"}', 'Ada L', '{\"grade\":\"A\"}',"
        f" 'Course', '{{}}', {q(state)}, {q(delivered_at)}, {q(revoked_at)},"
        f" {q(reissue_of)}::uuid, 'test') RETURNING id")


def transfer(db, w, home, issuer_id, cred_issuer, outcome, decided_at):
    cred = {"title": "A course", "issuer": {"id": cred_issuer} if cred_issuer else {}}
    req = db.query(
        "INSERT INTO recognition_requests (student_id, target_institution, credential_format,"
        " credential_source, credential, issuer_id, status, decision)"
        f" VALUES ({q(w['student'])}, {q(home)}, 'elm3', '{{}}', {q(json.dumps(cred))},"
        f" {q(issuer_id)}, 'decided', '{{}}') RETURNING id")
    db.query("INSERT INTO credit_transfers (request_id, student_id, institution_id, outcome,"
             " credits, credential, decided_by, decided_at)"
             f" VALUES ({q(req)}, {q(w['student'])}, {q(home)}, {q(outcome)}, 3,"
             f" {q(json.dumps(cred))}, {q(w['registrar'])}, {q(decided_at)})")


@pytest.fixture(scope="module")
def world(db):
    for inst, cc in INSTITUTIONS:
        mcx(db, "institution", "add", inst, "--name", inst, "--country", cc, "--home")
    tokens = {}
    for name, role, inst in [("admin", "admin", None), ("pub-vdu", "publisher", A),
                             ("reg-uab", "registrar", B), ("student", "student", None)]:
        email = f"{name}@example.org"
        args = ["user", "add", email, "--role", role, "--password-stdin"]
        if inst:
            args += ["--institution", inst]
        mcx(db, *args, stdin=PASSWORD + "\n")
        tokens[name] = mcx(db, "token", "create", "--user", email)
    w = {"db": db, "tokens": tokens,
         "student": db.query("SELECT id FROM users WHERE email = 'student@example.org'"),
         "registrar": db.query("SELECT id FROM users WHERE email = 'reg-uab@example.org'")}
    oa, ob, oc = put(db, A, ["A1", "A2"]), put(db, B, ["B1"]), put(db, C, ["C1"])
    w["offers"] = {**oa, **ob, **oc}

    # exposure: v1 searches, sees and reads A's offers in January and B's in February;
    # v2 sees B's twice (and one batch written twice); v3 only searches; v6 reads C's
    event(db, "search", vid(1), "2025-01-05T10:00:00Z")
    event(db, "impression", vid(1), "2025-01-05T10:00:00Z", oa["A1"], A)
    event(db, "view", vid(1), "2025-01-31T23:59:59.999Z", oa["A1"], A)
    event(db, "view", vid(1), "2025-02-01T00:00:00Z", ob["B1"], B)
    event(db, "impression", vid(2), "2025-02-10T08:00:00Z", ob["B1"], B)
    event(db, "impression", vid(2), "2025-02-10T08:00:00Z", ob["B1"], B)
    event(db, "impression", vid(2), "2025-02-11T08:00:00Z", ob["B1"], B)
    event(db, "search", vid(3), "2025-03-03T12:00:00Z")
    event(db, "view", vid(6), "2025-03-31T23:59:59Z", oc["C1"], C)
    # ... and what does not count: outside the period, or without a visitor (DNT)
    event(db, "view", vid(4), "2024-12-31T23:59:59.999Z", oa["A1"], A)
    event(db, "view", vid(5), "2025-04-01T00:00:00Z", oc["C1"], C)
    event(db, "impression", None, "2025-01-20T09:00:00Z", oa["A2"], A)
    event(db, "search", None, "2025-02-20T09:00:00Z")

    # applications: s3's account is erased afterwards; its application still counts
    s1, s2, s3 = (new_user(db, t) for t in ("s1", "s2", "s3"))
    apply(db, s1, oa["A1"], A, "2025-01-10T10:00:00Z")
    apply(db, s2, oa["A1"], A, "2025-02-14T10:00:00Z")
    apply(db, s1, ob["B1"], B, "2025-03-01T10:00:00Z")
    apply(db, s3, ob["B1"], B, "2025-03-31T23:00:00Z")
    apply(db, s2, oa["A2"], A, "2024-12-15T10:00:00Z")  # outside
    db.query(f"DELETE FROM users WHERE id = {q(s3)}")

    # credentials: revoked after delivery and its reissue both count; not delivered ones not
    credential(db, A, oa["A1"], "delivered", "2025-01-20T10:00:00Z")
    rev = credential(db, A, oa["A1"], "revoked", "2025-02-02T10:00:00Z", "2025-02-05T10:00:00Z")
    credential(db, A, oa["A1"], "delivered", "2025-02-06T10:00:00Z", reissue_of=rev)
    credential(db, B, ob["B1"], "delivered", "2025-03-15T10:00:00Z")
    credential(db, B, ob["B1"], "queued")
    credential(db, B, ob["B1"], "failed")
    credential(db, C, oc["C1"], "delivered", "2025-04-02T10:00:00Z")  # outside

    # credit transfers: (home, issuer_id, the credential's issuer id, outcome, decided)
    transfer(db, w, A, B, B, "recognised", "2025-01-25T10:00:00Z")
    transfer(db, w, A, C, C, "partially_recognised", "2025-02-25T10:00:00Z")
    transfer(db, w, A, B, B, "not_recognised", "2025-02-26T10:00:00Z")
    transfer(db, w, A, A, A, "recognised", "2025-03-05T10:00:00Z")  # its own credential
    transfer(db, w, B, None, C, "recognised", "2025-03-10T10:00:00Z")  # issuer by the credential
    transfer(db, w, B, None, B, "recognised", "2025-03-11T10:00:00Z")  # its own, likewise
    transfer(db, w, B, None, None, "recognised", "2025-03-12T10:00:00Z")  # issuer unknown
    transfer(db, w, C, A, A, "recognised", "2025-04-01T00:00:00Z")  # outside
    return w


@pytest.fixture(scope="module")
def srv(module_mcxd, world):
    return module_mcxd("--harvest", "off", "--events-flush-ms", "200")


def stats(srv, world, who=None, headers=None, **params):
    hdrs = dict(headers or {})
    if who:
        hdrs["Authorization"] = "Bearer " + world["tokens"][who]
    path = "/api/v1/stats/impact"
    if params:
        path += "?" + urllib.parse.urlencode(params)
    return http(srv.port, "GET", path, hdrs)


def ok(r):
    assert r.status == 200, r.text()
    assert r.header("Content-Type").startswith("application/json")
    return r.json()


# ---- the independent counts ------------------------------------------------


def day_start(d):
    return f"'{d}T00:00:00Z'::timestamptz"


def next_day(d):
    return f"('{d}'::date + 1)::timestamp AT TIME ZONE 'UTC'"


def months_of(db, frm, to):
    return db.query(
        f"SELECT string_agg(to_char(m, 'YYYY-MM'), ' ' ORDER BY m) FROM generate_series("
        f"date_trunc('month', '{frm}'::timestamp), '{to}'::timestamp, '1 month') m").split()


def sql_counts(db, frm, to, inst=None, month=None):
    """The four figures by SQL written for this test: [frm, to] in UTC days, optionally
    one institution and one month (YYYY-MM) of it."""
    lo, hi = day_start(frm), next_day(to)
    if month:
        ms = f"'{month}-01T00:00:00Z'::timestamptz"
        me = f"('{month}-01'::date + interval '1 month') AT TIME ZONE 'UTC'"
        lo, hi = f"greatest({lo}, {ms})", f"least({hi}, {me})"

    def scope(t, col, inst_col):
        s = f"{col} >= {lo} AND {col} < {hi}"
        return s + (f" AND {t}.{inst_col} = {q(inst)}" if inst else "")

    row = db.query(
        "SELECT concat_ws(',',"
        f" (SELECT count(DISTINCT e.visitor) FROM events e WHERE e.kind IN {KINDS_SEEN}"
        f"   AND e.visitor IS NOT NULL AND {scope('e', 'e.at', 'institution_id')}),"
        f" (SELECT count(*) FROM events e WHERE e.kind = 'application'"
        f"   AND {scope('e', 'e.at', 'institution_id')}),"
        f" (SELECT count(*) FROM credentials c WHERE c.delivered_at IS NOT NULL"
        f"   AND {scope('c', 'c.delivered_at', 'institution_id')}),"
        f" (SELECT count(*) FROM credit_transfers t JOIN recognition_requests r"
        f"   ON r.id = t.request_id WHERE t.outcome IN ('recognised', 'partially_recognised')"
        f"   AND coalesce(r.issuer_id, t.credential->'issuer'->>'id') IS NOT NULL"
        f"   AND coalesce(r.issuer_id, t.credential->'issuer'->>'id') <> t.institution_id"
        f"   AND {scope('t', 't.decided_at', 'institution_id')}))")
    return dict(zip(["exposed", "applied", "issued", "mobilities"], map(int, row.split(","))))


def active_institutions(db, frm, to):
    ids = db.query("SELECT string_agg(id, ' ' ORDER BY id) FROM institutions").split()
    out = {}
    for i in ids:
        c = sql_counts(db, frm, to, i)
        if any(c.values()):
            out[i] = c
    return out


def four(d):
    return {k: d[k] for k in ("exposed", "applied", "issued", "mobilities")}


def assert_matches_sql(db, body, frm, to, inst=None, detail=False):
    assert body["from"] == frm and body["to"] == to and body["institution"] == inst
    assert four(body) == sql_counts(db, frm, to, inst)
    months = months_of(db, frm, to)
    assert [s["month"] for s in body["series"]] == months
    for s in body["series"]:
        assert four(s) == sql_counts(db, frm, to, inst, s["month"]), s["month"]
    if detail:
        want = active_institutions(db, frm, to)
        if inst:
            want = {k: v for k, v in want.items() if k == inst}
        assert body["by_institution"] == want
    else:
        assert "by_institution" not in body


# ---- tests -----------------------------------------------------------------


def test_figures_equal_sql_counts_and_the_designed_world(srv, world):
    db = world["db"]
    body = ok(stats(srv, world, "admin", **{"from": FROM, "to": TO}))
    assert_matches_sql(db, body, FROM, TO, detail=True)
    # the world as designed (a check on the SQL above as much as on the endpoint)
    assert four(body) == {"exposed": 4, "applied": 4, "issued": 4, "mobilities": 3}
    assert [(s["month"], s["exposed"], s["applied"], s["issued"], s["mobilities"])
            for s in body["series"]] == [("2025-01", 1, 1, 1, 1), ("2025-02", 2, 1, 2, 1),
                                         ("2025-03", 2, 2, 1, 1)]
    assert body["by_institution"] == {
        A: {"exposed": 1, "applied": 2, "issued": 3, "mobilities": 2},
        B: {"exposed": 2, "applied": 2, "issued": 1, "mobilities": 1},
        C: {"exposed": 1, "applied": 0, "issued": 0, "mobilities": 0}}
    # one institution: its own figures and series
    for inst in (A, B, C, D):
        one = ok(stats(srv, world, "reg-uab", **{"from": FROM, "to": TO, "institution": inst}))
        assert_matches_sql(db, one, FROM, TO, inst, detail=True)
    assert four(ok(stats(srv, world, "admin", **{"from": FROM, "to": TO, "institution": D}))) \
        == {"exposed": 0, "applied": 0, "issued": 0, "mobilities": 0}


def test_period_edges_are_utc_days(srv, world):
    db = world["db"]
    # 31 January and 1 February: one visitor, counted once in total and once per month
    body = ok(stats(srv, world, "admin", **{"from": "2025-01-31", "to": "2025-02-01"}))
    assert_matches_sql(db, body, "2025-01-31", "2025-02-01", detail=True)
    assert body["exposed"] == 1
    assert [(s["month"], s["exposed"]) for s in body["series"]] == [("2025-01", 1),
                                                                     ("2025-02", 1)]
    # the day after the period and the day before it
    for frm, to in [("2024-12-31", "2024-12-31"), ("2025-04-01", "2025-04-02"),
                    ("2024-11-15", "2025-04-15"), ("2025-03-31", "2025-03-31")]:
        body = ok(stats(srv, world, "pub-vdu", **{"from": frm, "to": to}))
        assert_matches_sql(db, body, frm, to, detail=True)
    one_day = ok(stats(srv, world, **{"from": "2024-12-31", "to": "2024-12-31"}))
    assert four(one_day) == {"exposed": 1, "applied": 0, "issued": 0, "mobilities": 0}


def test_live_search_application_and_decision_count(srv, world):
    db = world["db"]
    today = db.query("SELECT (now() AT TIME ZONE 'UTC')::date")
    before = ok(stats(srv, world, "admin", **{"from": today, "to": today}))

    # a real search with a visitor cookie, then a read with the same cookie
    r = srv.get("/api/v1/offers?q=course&limit=5")
    assert r.status == 200, r.text()
    cookie = [v for v in r.header_values("Set-Cookie") if v.startswith("mcx_vid=")]
    assert len(cookie) == 1
    visitor = cookie[0].split(";")[0].split("=", 1)[1]
    shown = r.json()["items"]
    assert shown, "the search found none of the world's offers"
    assert srv.get(f"/api/v1/offers/{world['offers']['A1']}",
                   {"Cookie": f"mcx_vid={visitor}"}).status == 200
    wait_until(lambda: int(db.query(f"SELECT count(*) FROM events WHERE visitor = {q(visitor)}"))
               == 1 + len(shown) + 1, 10, 0.05, "the flush of the visitor's events")

    # a real application by a student
    r = http(srv.port, "POST", f"/api/v1/offers/{world['offers']['B1']}/applications",
             {"Authorization": "Bearer " + world["tokens"]["student"]})
    assert r.status == 201, r.text()
    # a real decision (the function the decision endpoint runs): uab.cat recognises ut.ee's
    req = db.query(
        "INSERT INTO recognition_requests (student_id, target_institution, credential_format,"
        " credential_source, credential, issuer_id, status, proposal)"
        f" VALUES ({q(world['student'])}, {q(B)}, 'elm3', '{{}}',"
        f" '{{\"title\":\"x\",\"issuer\":{{\"id\":\"ut.ee\"}}}}', {q(C)}, 'proposed',"
        " '{\"outcome\":\"needs_review\"}') RETURNING id")
    assert db.query(f"SELECT status FROM recognition_decide({q(req)}, {q(world['registrar'])},"
                    f" {q(B)}, 'recognised', 3, NULL, 'equivalent course', 'test')") == "200"
    credential(db, A, world["offers"]["A2"], "delivered", db.query("SELECT now()"))

    after = ok(stats(srv, world, "admin", **{"from": today, "to": today}))
    assert_matches_sql(db, after, today, today, detail=True)
    assert after["exposed"] == before["exposed"] + 1
    assert after["applied"] == before["applied"] + 1
    assert after["issued"] == before["issued"] + 1
    assert after["mobilities"] == before["mobilities"] + 1
    insts = {o["institution"]["id"] for o in shown} | {A}
    for inst in insts:
        assert after["by_institution"][inst]["exposed"] >= 1
    # the default period: the 365 days up to today
    frm = db.query(f"SELECT '{today}'::date - 364")
    body = ok(stats(srv, world, "admin"))
    assert_matches_sql(db, body, frm, today, detail=True)
    assert len(body["series"]) in (12, 13)


def test_who_sees_what(srv, world):
    db = world["db"]
    period = {"from": FROM, "to": TO}
    full = ok(stats(srv, world, "admin", **period))
    # anonymous: the network's totals and series, no per-institution detail
    r = stats(srv, world, **period)
    anon = ok(r)
    assert_matches_sql(db, anon, FROM, TO, detail=False)
    assert {k: v for k, v in full.items() if k != "by_institution"} == anon
    assert r.header("Cache-Control") == "no-cache"
    assert "Authorization" in ", ".join(r.header_values("Vary"))
    # a student likewise; staff of any institution see every institution
    assert "by_institution" not in ok(stats(srv, world, "student", **period))
    for who in ("pub-vdu", "reg-uab", "admin"):
        r = stats(srv, world, who, **period)
        assert ok(r)["by_institution"] == full["by_institution"]
        assert r.header("Cache-Control") == "no-store"
    # one institution's figures are detail: staff only
    for who in (None, "student"):
        r = stats(srv, world, who, **period, institution=A)
        assert_json_error(r, 403, "forbidden")
        assert r.json()["error"]["message"].startswith("institution:")
    # a session cookie signs in as well; a stale one is anonymous, a bad token is 401
    r = http(srv.port, "POST", "/api/v1/session", {"Content-Type": "application/json"},
             json.dumps({"email": "reg-uab@example.org", "password": PASSWORD}).encode())
    assert r.status == 200, r.text()
    session = [v for v in r.header_values("Set-Cookie") if v.startswith("mcx_session=")]
    jar = {"Cookie": session[0].split(";")[0]}
    assert ok(stats(srv, world, headers=jar, **period))["by_institution"] == full["by_institution"]
    stale = {"Cookie": "mcx_session=" + "ab" * 32}
    assert "by_institution" not in ok(stats(srv, world, headers=stale, **period))
    r = stats(srv, world, headers={"Authorization": "Bearer mcx_nope"}, **period)
    assert_json_error(r, 401)


def test_parameter_errors(srv, world):
    cases = [
        ({"from": "2025-02-30"}, "from:"),
        ({"from": "2025-1-01"}, "from:"),
        ({"to": "tomorrow"}, "to:"),
        ({"to": "2025-01-01T00:00:00Z"}, "to:"),
        ({"from": "2025-03-01", "to": "2025-02-28"}, "from:"),
        ({"from": "2015-01-01", "to": "2025-01-01"}, "to:"),
        ({"institution": "VDU.LT"}, "institution:"),
        ({"institution": "vdu.lt' OR '1'='1"}, "institution:"),
    ]
    for params, prefix in cases:
        for who in (None, "admin"):
            r = stats(srv, world, who, **params)
            assert_json_error(r, 400, "invalid_parameter")
            assert r.json()["error"]["message"].startswith(prefix), (params, r.text())
    # ten years is fine; an empty parameter is no parameter
    ok(stats(srv, world, **{"from": "2016-01-01", "to": "2025-12-31"}))
    ok(stats(srv, world, **{"from": "", "to": "", "institution": ""}))
    # an institution that does not exist
    r = stats(srv, world, "admin", institution="nowhere.example")
    assert_json_error(r, 404, "not_found")
    assert r.json()["error"]["message"].startswith("institution:")
    # a media type that is not served
    assert_json_error(stats(srv, world, headers={"Accept": "application/xml"}), 406)


def test_csv(srv, world):
    db = world["db"]
    period = {"from": FROM, "to": TO}
    for who in (None, "admin"):
        want = ok(stats(srv, world, who, **period))
        r = stats(srv, world, who, headers={"Accept": "text/csv"}, **period)
        assert r.status == 200, r.text()
        assert r.header("Content-Type") == "text/csv; charset=utf-8"
        assert r.header("Content-Disposition") == \
            f'attachment; filename="mcx-impact-{FROM}-{TO}.csv"'
        text = r.body.decode("utf-8")
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows[0] == ["month", "exposed", "applied", "issued", "mobilities"]
        assert rows[1:] == [[s["month"], str(s["exposed"]), str(s["applied"]), str(s["issued"]),
                             str(s["mobilities"])] for s in want["series"]]
    # one institution's, for staff; it matches SQL too
    r = stats(srv, world, "pub-vdu", headers={"Accept": "text/csv"}, **period, institution=A)
    rows = list(csv.reader(io.StringIO(r.body.decode(), newline="")))[1:]
    for month, *nums in rows:
        assert dict(zip(["exposed", "applied", "issued", "mobilities"], map(int, nums))) == \
            sql_counts(db, FROM, TO, A, month)
    assert_json_error(stats(srv, world, headers={"Accept": "text/csv"}, **{"from": "x"}), 400)
    assert_json_error(stats(srv, world, "admin", headers={"Accept": "text/csv"},
                            institution="nowhere.example"), 404)
