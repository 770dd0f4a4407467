"""Harvesting partner feeds (issue 6): a LOQ feed from the samples gives the same
offers as publishing the file; changes and removals follow the feed; hanging,
failing and garbage feeds change nothing, are recorded and backed off while a
healthy partner and /healthz carry on; an oversized feed is aborted; two nodes on
one database fetch each partner exactly once per interval."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

import mcxtest
from mcxtest import assert_json_error, http

SOURCE = mcxtest.source_dir()
SHARED = os.environ.get("MCX_SHARED_DIR") or os.path.join(SOURCE, "..", "shared")
SAMPLE = os.path.join(SHARED, "samples", "elm", "loq", "examples", "loq.xml")
EWP_SAMPLE = os.path.join(SHARED, "samples", "ewp", "courses", "courses-response-example.xml")
CONTENT = ["title", "description", "homepage", "languages", "isced", "eqf", "ects", "mode",
           "starts", "ends", "application_deadline", "price", "learning_outcomes", "assessment",
           "quality_assurance", "entry_requirements", "volume_of_learning", "provider"]


class FeedServer:
    def __init__(self, root):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SOURCE, "tests", "feedserver.py"), "--root", root,
             "--lifetime", "300"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("port "), line
        self.port = int(line.split()[1])

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stats(self):
        return http(self.port, "GET", "/_stats").json()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("feeds"))
    os.chmod(root, 0o755)
    shutil.copy(SAMPLE, os.path.join(root, "sample.xml"))
    shutil.copy(EWP_SAMPLE, os.path.join(root, "courses.xml"))
    srv = FeedServer(root)
    srv.root = root
    yield srv
    srv.stop()


def mcx(db, *args, binary_out=False):
    r = subprocess.run([mcxtest.mcx_binary(), *args], capture_output=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout if binary_out else r.stdout.decode().strip()


@pytest.fixture(scope="module")
def admin(db):
    mcx(db, "user", "add", "admin@harvest.test", "--role", "admin")
    return {"Authorization": "Bearer " + mcx(db, "token", "create", "--user", "admin@harvest.test")}


def add_partner(port, admin, pid, url, interval=3600, country="LT", fmt="loq"):
    body = json.dumps({"id": pid, "name": f"Partner {pid}", "country": country, "feed_url": url,
                       "format": fmt, "interval_s": interval}).encode()
    r = http(port, "POST", "/api/v1/partners", headers={**admin, "Content-Type": "application/json"},
             body=body)
    assert r.status == 201, r.text()
    return r.json()


def partner(port, admin, pid):
    r = http(port, "GET", f"/api/v1/partners/{pid}", headers=admin)
    assert r.status == 200, r.text()
    return r.json()


def wait_run(port, admin, pid, done=lambda p: p["last_run"] is not None, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = partner(port, admin, pid)
        if done(p):
            return p
        time.sleep(0.1)
    raise AssertionError(f"no harvest of {pid} within {timeout}s: {p}")


def trigger(port, admin, pid):
    before = partner(port, admin, pid)["last_run"]
    r = http(port, "POST", f"/api/v1/partners/{pid}/harvest", headers=admin)
    assert r.status == 202, r.text()
    return wait_run(port, admin, pid, lambda p: p["last_run"] and p["last_run"] != before)


def offers_of(db, inst):
    return json.loads(db.query(
        "SELECT coalesce(jsonb_agg(offers_api_json(id) ORDER BY external_id), '[]') FROM offers "
        f"WHERE institution_id = '{inst}' AND deleted_at IS NULL"))


def test_loq_feed_gives_what_publishing_gives(mcxd, db, admin, feeds):
    srv = mcxd("--harvest-tick-ms", "100")
    add_partner(srv.port, admin, "sample.example", feeds.url("/sample.xml"))
    p = wait_run(srv.port, admin, "sample.example")
    assert p["last_run"]["status"] == "ok", p
    assert p["offers"] == 2 and p["state"]["consecutive_failures"] == 0
    harvested = offers_of(db, "sample.example")
    for o in harvested:
        assert o["provenance"]["partner"] == "sample.example" and o["provenance"]["fetched_at"]

    # the same file published directly by an admin to another institution
    mcx(db, "institution", "add", "direct.example", "--name", "Direct", "--country", "LT")
    with open(SAMPLE, "rb") as f:
        r = http(srv.port, "POST", "/api/v1/institutions/direct.example/catalogue",
                 headers={**admin, "Content-Type": "application/xml"}, body=f.read())
    assert r.status == 200 and r.json()["accepted"] == 2, r.text()
    direct = offers_of(db, "direct.example")
    assert [{k: o[k] for k in CONTENT} for o in harvested] == \
        [{k: o[k] for k in CONTENT} for o in direct]
    assert all(o["provenance"] is None for o in direct)

    # unchanged feed → conditional GET → 304, nothing changes
    p = trigger(srv.port, admin, "sample.example")
    assert p["last_run"]["status"] == "not_modified", p
    again = offers_of(db, "sample.example")
    assert [(o["id"], o["version"], o["updated_at"]) for o in again] == \
        [(o["id"], o["version"], o["updated_at"]) for o in harvested]


def test_feed_changes_and_removals_follow(mcxd, db, admin, feeds):
    srv = mcxd("--harvest-tick-ms", "100")
    path = os.path.join(feeds.root, "moving.xml")
    with open(path, "wb") as f:
        f.write(mcx(db, "gen-loq", "5", "--institution", "moving.example", binary_out=True))
    add_partner(srv.port, admin, "moving.example", feeds.url("/moving.xml"))
    wait_run(srv.port, admin, "moving.example")
    assert len(offers_of(db, "moving.example")) == 5
    first = {o["external_id"]: o for o in offers_of(db, "moving.example")}

    # 4 offers with another seed: every content changes, the 5th disappears
    time.sleep(1.1)  # a new Last-Modified second
    with open(path, "wb") as f:
        f.write(mcx(db, "gen-loq", "4", "--institution", "moving.example", "--seed", "5",
                    binary_out=True))
    p = trigger(srv.port, admin, "moving.example")
    assert p["last_run"]["status"] == "ok" and p["last_run"]["removed"] == 1, p
    now = {o["external_id"]: o for o in offers_of(db, "moving.example")}
    assert set(now) == set(first) - {"moving.example-MC-00005"}
    assert all(now[k]["version"] == first[k]["version"] + 1 for k in now)
    r = http(srv.port, "GET", "/api/v1/institutions/moving.example/offers/moving.example-MC-00005")
    assert r.status == 404


def test_broken_feeds_are_recorded_backed_off_and_keep_old_offers(mcxd, db, admin, feeds):
    srv = mcxd("--harvest-tick-ms", "100", "--harvest-timeout-ms", "3000",
               "--harvest-backoff-ms", "60000")
    gaps = []
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            t0 = time.monotonic()
            r = http(srv.port, "GET", "/healthz")
            gaps.append((time.monotonic() - t0, r.status))
            time.sleep(0.02)

    t = threading.Thread(target=probe)
    t.start()
    try:
        # each partner first harvests a good feed...
        for pid in ["hang.example", "fail.example", "junk.example"]:
            add_partner(srv.port, admin, pid, feeds.url("/sample.xml"))
        for pid in ["hang.example", "fail.example", "junk.example"]:
            wait_run(srv.port, admin, pid)
        # ...then its feed breaks
        for pid, bad in [("hang.example", "/_hang/sample.xml"), ("fail.example", "/_500/sample.xml"),
                         ("junk.example", "/_garbage/sample.xml")]:
            db.query(f"UPDATE partners SET feed_url = '{feeds.url(bad)}', etag = NULL, "
                     f"last_modified = NULL, next_attempt_at = now() WHERE id = '{pid}'")
        add_partner(srv.port, admin, "good.example", feeds.url("/sample.xml"))
        t0 = time.monotonic()
        good = wait_run(srv.port, admin, "good.example")
        assert time.monotonic() - t0 < 2.5, "a healthy partner must not wait for a hanging one"
        assert good["last_run"]["status"] == "ok"
        expect = {"hang.example": "timeout", "fail.example": "HTTP 500",
                  "junk.example": "invalid document"}
        for pid, why in expect.items():
            p = wait_run(srv.port, admin, pid,
                         lambda p: p["state"]["consecutive_failures"] >= 1, timeout=15)
            assert why in p["state"]["last_error"], p
            assert p["last_run"]["status"] == "failed" and why in p["last_run"]["error"]
            # backoff: not before ~48 s (60 s − 20% jitter)
            assert db.query(f"SELECT next_attempt_at > now() + interval '40 seconds' FROM partners "
                            f"WHERE id = '{pid}'") == "t"
            # the last good data stays served
            assert p["offers"] == 2
            assert len(offers_of(db, pid)) == 2
    finally:
        stop.set()
        t.join()
    assert all(status == 200 for _, status in gaps)
    assert max(g for g, _ in gaps) < 0.1, f"/healthz took {max(g for g, _ in gaps):.3f}s"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def test_oversized_feed_is_aborted_at_the_limit(mcxd, db, admin, feeds):
    limit = 16 * 1024 * 1024
    srv = mcxd("--harvest-tick-ms", "100", "--harvest-max-body", str(limit),
               "--harvest-timeout-ms", "60000")
    before = rss_kb(srv.pid)
    add_partner(srv.port, admin, "huge.example", feeds.url("/_big/200"))
    p = wait_run(srv.port, admin, "huge.example", timeout=60)
    assert p["last_run"]["status"] == "failed" and "too_large" in p["last_run"]["error"], p
    assert rss_kb(srv.pid) - before < (limit + 32 * 1024 * 1024) // 1024


def test_two_nodes_fetch_each_partner_once_per_interval(mcxd, db, admin, feeds):
    a = mcxd("--harvest-tick-ms", "50")
    b = mcxd("--harvest-tick-ms", "50")
    ids = [f"p{i:02d}.example" for i in range(20)]
    for i, pid in enumerate(ids):
        shutil.copy(SAMPLE, os.path.join(feeds.root, f"{pid}.xml"))
        add_partner((a if i % 2 else b).port, admin, pid, feeds.url(f"/{pid}.xml"), interval=60)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        done = db.query("SELECT count(DISTINCT partner_id) FROM harvest_runs WHERE partner_id "
                        "LIKE 'p__.example'")
        if done == "20":
            break
        time.sleep(0.2)
    time.sleep(2)  # anyone fetching twice would do it now
    stats = feeds.stats()
    counts = {pid: stats.get(f"/{pid}.xml", 0) for pid in ids}
    assert all(c == 1 for c in counts.values()), counts
    nodes = db.query("SELECT count(DISTINCT node) FROM harvest_runs WHERE partner_id LIKE 'p__.example'")
    assert nodes == "2", "both nodes should have taken part"


def test_partner_api_errors(mcxd, db, admin, feeds):
    srv = mcxd()
    assert_json_error(http(srv.port, "GET", "/api/v1/partners"), 401)
    bad = [({"id": "X Y", "feed_url": "http://x/", "format": "loq"}, 422),
           ({"id": "ok.example", "feed_url": "ftp://x/", "format": "loq"}, 422),
           ({"id": "ok.example", "feed_url": "http://x/", "format": "rss"}, 422),
           ({"id": "ok.example", "feed_url": "http://x/", "format": "loq", "interval_s": 1}, 422)]
    for body, status in bad:
        r = http(srv.port, "POST", "/api/v1/partners", headers=admin,
                 body=json.dumps({"country": "LT", **body}).encode())
        assert_json_error(r, status)
    assert_json_error(http(srv.port, "POST", "/api/v1/partners", headers=admin, body=b"{"), 400)
    add_partner(srv.port, admin, "dup.example", feeds.url("/sample.xml"))
    r = http(srv.port, "POST", "/api/v1/partners", headers=admin,
             body=json.dumps({"id": "dup.example", "feed_url": "http://x/", "format": "loq"}).encode())
    assert_json_error(r, 409)
    assert_json_error(http(srv.port, "GET", "/api/v1/partners/none.example", headers=admin), 404)
    assert_json_error(http(srv.port, "POST", "/api/v1/partners/none.example/harvest", headers=admin), 404)
    lst = http(srv.port, "GET", "/api/v1/partners", headers=admin).json()["items"]
    assert "dup.example" in [p["id"] for p in lst]


def test_cli_partner_add(mcxd, db, admin, feeds, tmp_path):
    srv = mcxd("--harvest-tick-ms", "100")
    env = mcxtest.child_env({"MCX_DATABASE_URL": db.url})
    run = lambda *a: subprocess.run([mcxtest.mcx_binary(), "partner", "add", *a],
                                    capture_output=True, text=True, env=env, timeout=60)
    r = run("cli.example", "--feed-url", feeds.url("/sample.xml"), "--format", "loq")
    assert r.returncode == 2 and "--country" in r.stderr  # a new institution needs it
    key_id = mcx(db, "key", "generate", "--out", str(tmp_path / "k"))
    r = run("cli.example", "--feed-url", feeds.url("/sample.xml"), "--format", "loq", "--name",
            "CLI University", "--country", "lt", "--public-key", str(tmp_path / "k" / "public.pem"),
            "--interval", "600")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == key_id
    p = wait_run(srv.port, admin, "cli.example")
    assert p["last_run"]["status"] == "ok" and p["key_id"] == key_id and p["interval_s"] == 600
    assert p["country"] == "LT"
    assert run("cli.example", "--feed-url", "http://x/", "--format", "loq").returncode == 1
    assert run("bad id", "--feed-url", "http://x/", "--format", "loq").returncode == 2
    assert run("x.example", "--feed-url", "http://x/", "--format", "xml", "--name", "X",
               "--country", "LT").returncode == 2


def test_partner_input_never_500(mcxd, db, admin, tmp_path):
    srv = mcxd("--harvest", "off")
    cases = [{"id": "nocountry.example", "feed_url": "http://x/", "format": "loq"},
             {"id": "badcountry.example", "feed_url": "http://x/", "format": "loq", "country": "L1"},
             {"id": "longurl.example", "feed_url": "http://x/" + "a" * 3000, "format": "loq",
              "country": "LT"}]
    for body in cases:
        r = http(srv.port, "POST", "/api/v1/partners", headers=admin, body=json.dumps(body).encode())
        assert_json_error(r, 422)
    key_id = mcx(db, "key", "generate", "--out", str(tmp_path / "k"))
    pem = (tmp_path / "k" / "public.pem").read_text()
    for i, status in [(1, 201), (2, 409)]:
        body = {"id": f"samekey{i}.example", "feed_url": "http://x/", "format": "loq",
                "country": "LT", "public_key": pem}
        r = http(srv.port, "POST", "/api/v1/partners", headers=admin, body=json.dumps(body).encode())
        assert r.status == status, r.text()


def test_ewp_courses_feed_gives_the_codec_offers(mcxd, db, admin, feeds):
    srv = mcxd("--harvest-tick-ms", "100")
    add_partner(srv.port, admin, "uw.edu.pl", feeds.url("/courses.xml"), fmt="ewp", country="PL")
    p = wait_run(srv.port, admin, "uw.edu.pl")
    assert p["last_run"]["status"] == "ok", p
    got = offers_of(db, "uw.edu.pl")
    assert len(got) == p["last_run"]["fetched"] - p["last_run"]["rejected"] >= 1, p
    # the sample's first specification, field by field as the EWP codec reads it
    first = got[0]
    assert first["provenance"]["partner"] == "uw.edu.pl"
    assert first["provider"]["id"] == "uw.edu.pl" and first["provider"]["country"] == "PL"
    assert first["title"] and first["ects"] is not None
    # not in EWP Courses: reported as missing, not guessed
    assert "learning_outcomes" in first["completeness"]["missing"]

    # the same file published directly by an admin to another institution (another HEI
    # id, so another provider id; of the same country, so the rest of provider matches)
    mcx(db, "institution", "add", "direct.edu.pl", "--name", "Direct", "--country", "PL")
    with open(EWP_SAMPLE, "rb") as f:
        r = http(srv.port, "POST", "/api/v1/institutions/direct.edu.pl/catalogue",
                 headers={**admin, "Content-Type": "application/xml"}, body=f.read())
    assert r.status == 200, r.text()
    rep = r.json()
    assert rep["accepted"] == len(got) and len(rep["rejected"]) == p["last_run"]["rejected"], rep
    direct = offers_of(db, "direct.edu.pl")
    fields = ["external_id"] + [k for k in CONTENT if k != "provider"]
    assert [{k: o[k] for k in fields} for o in got] == [{k: o[k] for k in fields} for o in direct]
    assert [{**o["provider"], "id": None} for o in got] == \
        [{**o["provider"], "id": None} for o in direct]
    assert all(o["provider"]["id"] == "direct.edu.pl" and o["provenance"] is None for o in direct)
    assert [o["completeness"] for o in got] == [o["completeness"] for o in direct]

    p = trigger(srv.port, admin, "uw.edu.pl")
    assert p["last_run"]["status"] == "not_modified", p


ELM_SAMPLES = [os.path.join(SHARED, "samples", "elm", "elm3", n)
               for n in ["Sample-MC-Annex1-unsigned.jsonld", "Sample-CertOfPart-unsigned.jsonld"]]


def test_elm_feed_gives_what_publishing_gives(mcxd, db, admin, feeds):
    """Format elm: a JSON array (or @graph) of ELM 3 JSON-LD documents; each item is
    read like a PUT of that document; a bad item fails alone; a later feed without an
    offer removes it."""
    docs = [json.load(open(p, encoding="utf-8")) for p in ELM_SAMPLES]
    path = os.path.join(feeds.root, "elm.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(docs + [{"type": "Nonsense"}], f)
    srv = mcxd("--harvest-tick-ms", "100")
    add_partner(srv.port, admin, "elm.example", feeds.url("/elm.json"), fmt="elm")
    p = wait_run(srv.port, admin, "elm.example")
    run = p["last_run"]
    assert run["status"] == "ok" and run["fetched"] == 3 and run["rejected"] == 1, p
    harvested = offers_of(db, "elm.example")
    assert len(harvested) == 2 and all(o["provenance"]["partner"] == "elm.example"
                                       for o in harvested)

    # each document PUT directly gives the same offer
    mcx(db, "institution", "add", "direct-elm.example", "--name", "Direct", "--country", "LT")
    for doc in docs:  # the URL names the document's own external id: find which it is
        r = None
        for o in harvested:
            q = urllib.parse.quote(o["external_id"], safe="")
            r = http(srv.port, "PUT", f"/api/v1/institutions/direct-elm.example/offers/{q}",
                     headers={**admin, "Content-Type": "application/ld+json"},
                     body=json.dumps(doc).encode())
            if r.status in (200, 201):
                break
        assert r.status in (200, 201), r.text()
    direct = offers_of(db, "direct-elm.example")
    assert [{k: o[k] for k in CONTENT if k != "provider"} for o in harvested] == \
        [{k: o[k] for k in CONTENT if k != "provider"} for o in direct]

    # the same feed as an @graph without the first document: it is removed
    time.sleep(1.1)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"@graph": docs[1:]}, f)
    p = trigger(srv.port, admin, "elm.example")
    assert p["last_run"]["status"] == "ok" and p["last_run"]["removed"] == 1, p
    assert len(offers_of(db, "elm.example")) == 1

    # not JSON at all: the run fails, the offer stays
    time.sleep(1.1)
    with open(path, "w", encoding="utf-8") as f:
        f.write("{not json")
    p = trigger(srv.port, admin, "elm.example")
    assert p["last_run"]["status"] == "failed" and "invalid document" in p["last_run"]["error"], p
    assert len(offers_of(db, "elm.example")) == 1


def standin(feeds, name, op):
    r = http(feeds.port, "POST", f"/ewp/{name}/control", body=json.dumps(op).encode(),
             headers={"Content-Type": "application/json"})
    assert r.status == 200, r.text()
    return r.json()


def test_ewp_partner_replicates_through_its_manifest(mcxd, db, admin, feeds):
    """Format ewp with a Discovery manifest as feed URL: Simple Course Replication
    lists the ids (with modified_since once a run completed), the Courses API is asked
    for them max-los-ids at a time; a changed course alone comes again; a course
    the partner no longer has goes at the daily full listing."""
    st = standin(feeds, "agh", {"op": "load", "hei_id": "agh.edu.pl", "file": "courses.xml",
                                "copies": 3, "max_los_ids": 3,
                                "modified": "2020-01-01T00:00:00Z"})
    n = len(st["los"])
    srv = mcxd("--harvest-tick-ms", "100")
    add_partner(srv.port, admin, "agh.edu.pl", feeds.url("/ewp/agh/manifest.xml"), fmt="ewp",
                country="PL")
    p = wait_run(srv.port, admin, "agh.edu.pl")
    run = p["last_run"]
    assert run["status"] == "ok" and run["fetched"] == n and run["rejected"] == 0, p
    got = offers_of(db, "agh.edu.pl")
    assert sorted(o["external_id"] for o in got) == sorted(x["los_id"] for x in st["los"])
    assert all(o["provider"]["id"] == "agh.edu.pl" and o["provider"]["country"] == "PL"
               and o["provenance"]["partner"] == "agh.edu.pl" for o in got)
    st = standin(feeds, "agh", {"op": "set"})
    assert st["largest_batch"] == 3 and st["counts"]["courses"] == -(-n // 3), st
    assert not [r for r in st["requests"] if r["endpoint"] == "scr"][0]["params"].get(
        "modified_since")

    # one course changed at the partner: the next run lists that one only
    los = st["los"][0]["los_id"]
    standin(feeds, "agh", {"op": "modify", "los_id": los, "title": "Renamed course", "lang": "en"})
    run = trigger(srv.port, admin, "agh.edu.pl")["last_run"]
    assert run["status"] == "ok" and run["fetched"] == 1 and run["accepted"] == 1, run
    st = standin(feeds, "agh", {"op": "set"})
    assert [r for r in st["requests"] if r["endpoint"] == "scr"][-1]["params"].get(
        "modified_since")
    changed = [o for o in offers_of(db, "agh.edu.pl") if o["external_id"] == los][0]
    assert changed["title"]["en"] == "Renamed course" and changed["version"] == 2

    # deleted at the partner: an incremental list cannot say so; the daily full one does
    standin(feeds, "agh", {"op": "delete", "los_id": los})
    run = trigger(srv.port, admin, "agh.edu.pl")["last_run"]
    assert run["status"] == "ok" and run["removed"] == 0, run
    db.query("UPDATE partners SET last_full_at = now() - interval '25 hours' "
             "WHERE id = 'agh.edu.pl'")
    run = trigger(srv.port, admin, "agh.edu.pl")["last_run"]
    assert run["status"] == "ok" and run["removed"] == 1 and run["fetched"] == n - 1, run
    q = urllib.parse.quote(los, safe="")
    assert http(srv.port, "GET", f"/api/v1/institutions/agh.edu.pl/offers/{q}").status == 404



def test_ewp_feed_errors_are_clear(mcxd, db, admin, feeds):
    standin(feeds, "bad", {"op": "load", "hei_id": "bad.edu.pl", "file": "courses.xml"})
    srv = mcxd("--harvest-tick-ms", "100")
    # a manifest for another HEI
    add_partner(srv.port, admin, "other.edu.pl", feeds.url("/ewp/bad/manifest.xml"), fmt="ewp",
                country="PL")
    run = wait_run(srv.port, admin, "other.edu.pl")["last_run"]
    assert run["status"] == "failed" and "manifest" in run["error"], run
    # a replication list is not enough on its own
    add_partner(srv.port, admin, "bad.edu.pl", feeds.url("/ewp/bad/scr?hei_id=bad.edu.pl"),
                fmt="ewp", country="PL")
    run = wait_run(srv.port, admin, "bad.edu.pl")["last_run"]
    assert run["status"] == "failed" and "discovery manifest URL" in run["error"], run


def test_run_history_is_bounded(mcxd, db, admin, feeds):
    """Each recorded run drops the partner's runs beyond the newest 1,000."""
    srv = mcxd("--harvest-tick-ms", "100")
    add_partner(srv.port, admin, "history.example", feeds.url("/sample.xml"))
    wait_run(srv.port, admin, "history.example")
    db.query("INSERT INTO harvest_runs (partner_id, node, started_at, finished_at, status)"
             " SELECT 'history.example', 'old', now() - g * interval '1 hour',"
             "  now() - g * interval '1 hour', 'ok' FROM generate_series(1, 1200) g")
    assert int(db.query("SELECT count(*) FROM harvest_runs WHERE partner_id = 'history.example'")) \
        == 1201
    other = int(db.query("SELECT count(*) FROM harvest_runs WHERE partner_id <> 'history.example'"))
    newest = db.query("SELECT max(id) FROM harvest_runs WHERE partner_id = 'history.example'")
    p = trigger(srv.port, admin, "history.example")
    kept = int(db.query("SELECT count(*) FROM harvest_runs WHERE partner_id = 'history.example'"))
    assert kept == 1001, kept
    assert db.query("SELECT count(*) FROM harvest_runs WHERE partner_id = 'history.example'"
                    f" AND id >= {newest}") == "2"  # the newest before, and the new one
    assert p["last_run"]["id"] > int(newest)
    assert int(db.query("SELECT count(*) FROM harvest_runs"
                        " WHERE partner_id <> 'history.example'")) >= other  # others untouched
