"""Exposure counting (issue 7, DESIGN §5 "Exposure"): searches and offer reads become
`events` rows per distinct visitor (the mcx_vid cookie), written in batches by a
periodic flush; DNT/GPC opt out; a crash loses at most the last interval; rows wait
through a database outage; /metrics shows the buffer."""

import hashlib
import json
import re
import signal
import subprocess
import time
import urllib.parse
import uuid

import pytest

import mcxtest
import promparse
from mcxtest import HttpConn, wait_until

COOKIE_RE = re.compile(r"^mcx_vid=([0-9a-f]{32}); Max-Age=31536000; Path=/; HttpOnly; "
                       r"SameSite=Lax(; Secure)?$")


def mcx(db, *args):
    r = subprocess.run([mcxtest.mcx_binary(), *args], capture_output=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def put(db, inst, docs):
    """Stores offers through offers_put_many, the statement publishing runs."""
    items = [{"external_id": d["external_id"], "completeness": [],
              "hash": hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest(),
              "doc": d} for d in docs]
    db.query(f"SELECT count(*) FROM offers_put_many({sql_str(inst)}, 'test', NULL, "
             f"{sql_str(json.dumps(items))}::jsonb)")


def doc(ext, title):
    return {"external_id": ext, "title": {"en": title}, "languages": ["en"], "isced": ["0613"],
            "eqf": 6, "ects": 5, "mode": "online", "starts": "2027-02-01"}


def populate(db):
    for inst, cc in [("vdu.lt", "LT"), ("uab.cat", "ES")]:
        mcx(db, "institution", "add", inst, "--name", inst, "--country", cc, "--home")
    put(db, "vdu.lt", [doc("ML-1", "Introduction to machine learning"),
                       doc("ML-2", "Machine learning"),
                       doc("ML-3", "Machine learning for engineers")])
    put(db, "uab.cat", [doc("ES-1", "Machine learning in Catalonia"),
                        doc("ES-2", "Economía circular")])
    # enough for a full page of 20: a search then makes 21 rows
    put(db, "vdu.lt", [doc(f"MD-{i}", f"Machine data course {i}") for i in range(20)])


@pytest.fixture(scope="module")
def world(db):
    populate(db)
    return db


def offer_id(db, inst, ext):
    return db.query(f"SELECT id FROM offers WHERE institution_id = {sql_str(inst)} "
                    f"AND external_id = {sql_str(ext)}")


def rows(db, srv, where="true"):
    """This server's events (its node names its pid), oldest first."""
    out = db.query(
        "SELECT coalesce(json_agg(e ORDER BY e.id), '[]') FROM (SELECT id, kind, visitor, "
        "offer_id, institution_id, detail, node, extract(epoch FROM at)::float8 AS at, "
        "extract(epoch FROM flushed_at)::float8 AS flushed_at FROM events "
        f"WHERE node LIKE '%:{srv.pid}/%' AND ({where})) e")
    return json.loads(out)


def wait_rows(db, srv, n, timeout, where="true"):
    return wait_until(lambda: (len(r := rows(db, srv, where)) >= n) and r, timeout, 0.05,
                      f"{n} event rows of mcxd {srv.pid}")


def cookie_of(resp):
    values = resp.header_values("Set-Cookie")
    assert len(values) == 1, f"Set-Cookie: {values}"
    m = COOKIE_RE.match(values[0])
    assert m, f"malformed visitor cookie {values[0]!r}"
    return m.group(1), m.group(2) is not None


def expo(srv):
    return promparse.parse(srv.metrics_text())


# ---------------------------------------------------------------------------


def test_searches_and_reads_become_rows(mcxd, world):
    srv = mcxd("--harvest", "off", "--events-flush-ms", "200")
    path = "/api/v1/offers?" + urllib.parse.urlencode({"q": "machine learning", "limit": 3})

    # a first search: the visitor cookie is set, and the reply is for this client only
    r1 = srv.get(path)
    assert r1.status == 200, r1.text()
    vid, secure = cookie_of(r1)
    assert not secure, "Secure on a plain-HTTP node"
    assert r1.header("Cache-Control") == "private, no-cache"
    page1 = r1.json()
    assert len(page1["items"]) == 3 and page1["total"] >= 4

    # the cookie sent back: the same visitor, nothing set, the usual caching
    with_vid = {"Cookie": f"theme=dark; mcx_vid={vid}"}
    r2 = srv.get(path + "&cursor=" + urllib.parse.quote(page1["next_cursor"]), with_vid)
    assert r2.status == 200 and not r2.header_values("Set-Cookie")
    assert r2.header("Cache-Control") == "no-cache"
    page2 = r2.json()

    ml1 = offer_id(world, "vdu.lt", "ML-1")
    r3 = srv.get(f"/api/v1/offers/{ml1}", with_vid)
    assert r3.status == 200 and not r3.header_values("Set-Cookie")
    r4 = srv.get("/api/v1/institutions/uab.cat/offers/ES-2",
                 {**with_vid, "Accept": "application/xml"})
    assert r4.status == 200 and r4.header("Content-Type").startswith("application/xml")
    r5 = srv.get(f"/api/v1/offers/{ml1}", {**with_vid, "Accept": "application/ld+json"})
    assert r5.status == 200 and r5.header("Content-Type") == "application/ld+json"
    # HEAD, failed reads and failed searches count nothing
    assert srv.request("HEAD", f"/api/v1/offers/{ml1}", with_vid).status == 200
    assert srv.get(f"/api/v1/offers/{uuid.uuid4()}", with_vid).status == 404
    assert srv.get("/api/v1/institutions/vdu.lt/offers/NOPE", with_vid).status == 404
    assert srv.get("/api/v1/offers?eqf=9", with_vid).status == 400

    # opting out: no cookie, rows without a visitor (even when a cookie is sent)
    r6 = srv.get("/api/v1/offers?q=circular", {"DNT": "1"})
    assert r6.status == 200 and not r6.header_values("Set-Cookie")
    assert r6.header("Cache-Control") == "no-cache"
    r7 = srv.get(f"/api/v1/offers/{ml1}", {"Sec-GPC": "1"})
    assert r7.status == 200 and not r7.header_values("Set-Cookie")
    r8 = srv.get(f"/api/v1/offers/{ml1}", {**with_vid, "DNT": "1"})
    assert r8.status == 200 and not r8.header_values("Set-Cookie")

    # a malformed cookie is replaced
    r9 = srv.get(f"/api/v1/offers/{ml1}", {"Cookie": "mcx_vid=not-ours"})
    vid2, _ = cookie_of(r9)
    assert vid2 != vid
    assert r9.header("Cache-Control") == "private"

    n1, n2, n6 = len(page1["items"]), len(page2["items"]), len(r6.json()["items"])
    want = (1 + n1) + (1 + n2) + 3 + (1 + n6) + 3
    got = wait_rows(world, srv, want, 0.2 + 1.0 + 2.0)
    assert len(got) == want, got

    def take(n):
        out = got[:n]
        del got[:n]
        return out

    for page, continued in ((page1, False), (page2, True)):
        search, *impressions = take(1 + len(page["items"]))
        assert search["kind"] == "search" and search["visitor"] == vid
        assert search["offer_id"] is None and search["institution_id"] is None
        assert search["detail"]["q"] == "machine learning"
        assert search["detail"]["limit"] == 3 and search["detail"]["sort"] == "relevance"
        assert search["detail"]["total"] == page["total"]
        assert search["detail"].get("cursor", False) == continued
        assert [(e["kind"], e["visitor"], e["offer_id"], e["institution_id"]) for e in impressions] \
            == [("impression", vid, o["id"], o["institution"]["id"]) for o in page["items"]]
    es2 = offer_id(world, "uab.cat", "ES-2")
    assert [(e["kind"], e["visitor"], e["offer_id"], e["institution_id"], e["detail"])
            for e in take(3)] == [
        ("view", vid, ml1, "vdu.lt", {"format": "json"}),
        ("view", vid, es2, "uab.cat", {"format": "xml"}),
        ("view", vid, ml1, "vdu.lt", {"format": "jsonld"})]
    search, *impressions = take(1 + n6)
    assert search["kind"] == "search" and search["visitor"] is None
    assert search["detail"]["q"] == "circular"
    assert all(e["kind"] == "impression" and e["visitor"] is None for e in impressions)
    assert [(e["kind"], e["visitor"], e["offer_id"]) for e in take(3)] == [
        ("view", None, ml1), ("view", None, ml1), ("view", vid2, ml1)]

    # /metrics
    x = expo(srv)
    assert x.family("mcx_events_buffered").type == "gauge"
    assert x.family("mcx_events_flushed_total").type == "counter"
    assert x.family("mcx_events_dropped_total").type == "counter"
    assert x.value("mcx_events_buffered") == 0
    assert x.value("mcx_events_flushed_total") == want
    assert x.value("mcx_events_dropped_total") == 0


def test_304_still_works_and_sets_the_cookie(mcxd, world):
    srv = mcxd("--harvest", "off", "--events-flush-ms", "100")
    path = "/api/v1/offers?q=machine+learning&limit=2"
    answered_200 = 0
    deadline = time.monotonic() + 10
    while True:  # until the listener is up: results carry an ETag
        first = srv.get(path)
        assert first.status == 200
        answered_200 += 1
        if first.header("ETag"):
            break
        assert time.monotonic() < deadline, "no ETag: the catalogue listener never came up"
        time.sleep(0.1)
    etag = first.header("ETag")
    vid, _ = cookie_of(first)

    cookieless = srv.get(path, {"If-None-Match": etag})
    assert cookieless.status == 304 and not cookieless.body
    assert cookieless.header("ETag") == etag
    vid2, _ = cookie_of(cookieless)
    assert vid2 != vid
    again = srv.get(path, {"If-None-Match": etag, "Cookie": f"mcx_vid={vid}"})
    assert again.status == 304 and not again.header_values("Set-Cookie")
    assert again.header("ETag") == etag
    # the cookie does not change the representation's ETag
    with_cookie = srv.get(path, {"Cookie": f"mcx_vid={vid}"})
    assert with_cookie.status == 200 and with_cookie.header("ETag") == etag
    answered_200 += 1

    # every 200 is counted, no 304 is
    got = wait_rows(world, srv, answered_200, 2.0, "kind = 'search'")
    time.sleep(0.5)
    got = rows(world, srv, "kind = 'search'")
    assert len(got) == answered_200
    assert vid2 not in {e["visitor"] for e in got}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_cookie_is_secure_over_tls(mcxd, world, tls_files):
    cert, key = tls_files
    srv = mcxd("--harvest", "off", "--tls-cert", cert, "--tls-key", key)
    r = srv.get("/api/v1/offers?q=machine")
    assert r.status == 200
    _, secure = cookie_of(r)
    assert secure


def test_rows_arrive_within_the_interval(mcxd, world):
    interval = 0.5
    srv = mcxd("--harvest", "off", "--events-flush-ms", str(int(interval * 1000)))
    ml2 = offer_id(world, "vdu.lt", "ML-2")
    for i in range(3):
        vid = uuid.uuid4().hex
        t0 = time.monotonic()
        assert srv.get(f"/api/v1/offers/{ml2}", {"Cookie": f"mcx_vid={vid}"}).status == 200
        wait_rows(world, srv, 1, interval + 1.0, f"visitor = '{vid}'")
        took = time.monotonic() - t0
        assert took <= interval + 1.0, f"row {i} took {took:.2f}s"
        time.sleep(0.13 * i)  # land at different points of the interval
    for e in rows(world, srv):
        assert 0 <= e["flushed_at"] - e["at"] <= interval + 1.0, e


def test_batching(mcxd, world):
    """200 requests within one interval are a few INSERTs, not 200: 100 offer reads and
    100 searches of 20 results make 2200 rows, written when 1000 wait and at the end
    of the interval."""
    interval = 5.0
    srv = mcxd("--harvest", "off", "--events-flush-ms", str(int(interval * 1000)))
    ml3 = offer_id(world, "vdu.lt", "ML-3")
    vid = uuid.uuid4().hex
    want = 0
    t0 = time.monotonic()
    with HttpConn(srv.port) as c:
        for i in range(200):
            if i % 2:
                r = c.request("GET", f"/api/v1/offers/{ml3}", [("Cookie", f"mcx_vid={vid}")])
                want += 1
            else:
                r = c.request("GET", "/api/v1/offers?q=machine&limit=20",
                              [("Cookie", f"mcx_vid={vid}")])
                want += 1 + len(r.json()["items"])
            assert r.status == 200, r
    took = time.monotonic() - t0
    assert took < interval, f"200 requests took {took:.1f}s: not within one interval"
    assert want == 100 + 100 * 21
    got = wait_rows(world, srv, want, interval + 3.0)
    assert len(got) == want
    batches = {e["flushed_at"] for e in got}
    assert len(batches) <= 3, f"{len(batches)} batches for 200 requests"
    x = expo(srv)
    assert x.value("mcx_events_flushed_total") == want
    assert x.value("mcx_events_buffered") == 0


def test_kill_9_loses_at_most_the_last_interval(mcxd, world):
    interval = 0.5
    srv = mcxd("--harvest", "off", "--events-flush-ms", str(int(interval * 1000)))
    ml1 = offer_id(world, "vdu.lt", "ML-1")
    answered = []  # (wall time of the answer, visitor)
    end = time.time() + 3.0
    with HttpConn(srv.port) as c:
        while time.time() < end:
            vid = uuid.uuid4().hex
            r = c.request("GET", f"/api/v1/offers/{ml1}", [("Cookie", f"mcx_vid={vid}")])
            assert r.status == 200
            answered.append((time.time(), vid))
            time.sleep(0.01)
    killed_at = time.time()
    srv.expect_exit = None  # killed on purpose
    srv.send_signal(signal.SIGKILL)
    assert srv.wait_exit(10) == -signal.SIGKILL
    stored = {e["visitor"] for e in rows(world, srv)}
    old = [v for t, v in answered if t < killed_at - 2 * interval]
    assert len(old) > 20
    missing = [v for v in old if v not in stored]
    assert not missing, f"{len(missing)} of {len(old)} events older than two intervals lost"


def test_sigterm_writes_what_waits(mcxd, world):
    srv = mcxd("--harvest", "off", "--events-flush-ms", "600000")
    ml2 = offer_id(world, "vdu.lt", "ML-2")
    vid = uuid.uuid4().hex
    for _ in range(5):
        assert srv.get(f"/api/v1/offers/{ml2}", {"Cookie": f"mcx_vid={vid}"}).status == 200
    assert rows(world, srv) == []
    assert expo(srv).value("mcx_events_buffered") == 5
    assert srv.stop() == 0
    assert [e["visitor"] for e in rows(world, srv)] == [vid] * 5


def test_database_outage_holds_rows(mcxd, private_pg):
    db = mcxtest.Database(private_pg.url(), "events")
    db.create(migrate=True)
    try:
        populate(db)
        interval = 4.0
        srv = mcxd("--database-url", db.url, "--harvest", "off", "--pool-timeout-ms", "1000",
                   "--events-flush-ms", str(int(interval * 1000)))
        pid = srv.pid
        es1 = offer_id(db, "uab.cat", "ES-1")
        vid = uuid.uuid4().hex
        assert srv.get(f"/api/v1/offers/{es1}", {"Cookie": f"mcx_vid={vid}"}).status == 200
        wait_rows(db, srv, 1, interval + 2.0)

        # answered while the database is up; the flush comes an interval later
        t0 = time.monotonic()
        for _ in range(20):
            r = srv.get(f"/api/v1/offers/{es1}", {"Cookie": f"mcx_vid={vid}"})
            assert r.status == 200
        private_pg.stop()
        assert time.monotonic() - t0 < interval - 0.5, "PostgreSQL took too long to stop"

        # the flush fails: the rows wait (and are counted), the node keeps serving
        time.sleep(max(0.0, t0 + interval + 1.5 - time.monotonic()))
        x = expo(srv)
        assert x.value("mcx_events_buffered") == 20
        assert x.value("mcx_events_flushed_total") == 1
        assert x.value("mcx_events_dropped_total") == 0
        assert srv.get("/healthz").status == 200
        assert "exposure events not written" in srv.log_text()

        private_pg.start()
        got = wait_rows(db, srv, 21, interval + 10.0)
        assert [e["visitor"] for e in got] == [vid] * 21
        x = expo(srv)
        assert x.value("mcx_events_buffered") == 0
        assert x.value("mcx_events_flushed_total") == 21
        assert x.value("mcx_events_dropped_total") == 0
        assert srv.alive() and srv.pid == pid
        assert srv.stop() == 0
    finally:
        try:
            db.drop()
        except Exception:  # noqa: BLE001 - the cluster is removed anyway
            pass
