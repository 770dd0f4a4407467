"""Two mcx nodes federating (issue 6, acceptance 1): node B harvests node A's LOQ
feed; an offer published on A appears on B with its provenance, a change on A
updates it on B, a deletion on A tombstones it on B (404, deleted in B's
replication feed). Also A's feeds themselves: valid LOQ, conditional GET."""

import json
import os
import shutil
import subprocess
import time

import pytest

import mcxtest
from mcxtest import assert_json_error, http

XSD = os.path.join(mcxtest.source_dir(), "schemas", "loq", "loq.xsd")


def mcx(db, *args, binary=False):
    r = subprocess.run([mcxtest.mcx_binary(), *args], capture_output=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout if binary else r.stdout.decode().strip()


@pytest.fixture(scope="module")
def db_b(request):
    d = mcxtest.Database(mcxtest.shared_conninfo("postgres"), "test_federation_b")
    d.create(migrate=True)
    yield d
    d.drop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def offers(port, db, inst):
    rows = json.loads(db.query("SELECT coalesce(jsonb_agg(offers_api_json(id) ORDER BY external_id),"
                               f" '[]') FROM offers WHERE institution_id = '{inst}' "
                               "AND deleted_at IS NULL"))
    return {o["external_id"]: o for o in rows}


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s")


def test_node_b_follows_node_a(mcxd, db, db_b, tmp_path):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University", "--country",
        "LT", "--home")
    mcx(db, "user", "add", "pub@vdu.lt", "--role", "publisher", "--institution", "vdu.lt")
    pub = bearer(mcx(db, "token", "create", "--user", "pub@vdu.lt"))
    mcx(db_b, "user", "add", "admin@b.test", "--role", "admin")
    admin_b = bearer(mcx(db_b, "token", "create", "--user", "admin@b.test"))

    a = mcxd("--harvest", "off")
    b = mcxd("--database-url", db_b.url, "--harvest-tick-ms", "100")
    r = http(a.port, "POST", "/api/v1/institutions/vdu.lt/catalogue", body=mcx(
        db, "gen-loq", "5", "--institution", "vdu.lt", binary=True),
        headers={**pub, "Content-Type": "application/xml"})
    assert r.status == 200 and r.json()["accepted"] == 5, r.text()

    # A's feed validates and answers conditional GETs
    feed = http(a.port, "GET", "/feeds/institutions/vdu.lt/loq.xml")
    assert feed.status == 200 and feed.header("ETag")
    f = tmp_path / "feed.xml"
    f.write_bytes(feed.body)
    if shutil.which("xmllint"):
        v = subprocess.run(["xmllint", "--nonet", "--noout", "--schema", XSD, str(f)],
                           capture_output=True, text=True, timeout=120)
        assert v.returncode == 0, v.stderr[-2000:]
    again = http(a.port, "GET", "/feeds/institutions/vdu.lt/loq.xml",
                 headers={"If-None-Match": feed.header("ETag")})
    assert again.status == 304
    lm = feed.header("Last-Modified")
    assert http(a.port, "GET", "/feeds/institutions/vdu.lt/loq.xml",
                headers={"If-Modified-Since": lm}).status == 304
    assert http(a.port, "GET", "/feeds/institutions/vdu.lt/loq.xml",
                headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}).status == 200
    assert http(a.port, "GET", "/feeds/institutions/vdu.lt/loq.xml",
                headers={"If-Modified-Since": "yesterday"}).status == 200
    node_feed = http(a.port, "GET", "/feeds/loq.xml")
    assert node_feed.status == 200 and node_feed.body.count(b"<learningOpportunity ") == 5
    assert_json_error(http(a.port, "GET", "/feeds/institutions/nope.example/loq.xml"), 404)

    # B registers A's feed; the first harvest is due at once
    body = json.dumps({"id": "vdu.lt", "name": "Vytautas Magnus University", "country": "LT",
                       "feed_url": f"http://127.0.0.1:{a.port}/feeds/institutions/vdu.lt/loq.xml",
                       "format": "loq", "interval_s": 10}).encode()
    r = http(b.port, "POST", "/api/v1/partners", headers=admin_b, body=body)
    assert r.status == 201, r.text()
    got = wait_for(lambda: len(offers(b.port, db_b, "vdu.lt")) == 5 and offers(b.port, db_b, "vdu.lt"),
                   10, "B has A's 5 offers")
    one = http(b.port, "GET", "/api/v1/institutions/vdu.lt/offers/vdu.lt-MC-00001").json()
    assert one["provenance"]["partner"] == "vdu.lt" and one["provenance"]["fetched_at"]
    mine = offers(a.port, db, "vdu.lt")
    keys = ["title", "description", "isced", "eqf", "ects", "mode", "starts", "learning_outcomes"]
    assert all({k: got[x][k] for k in keys} == {k: mine[x][k] for k in keys} for x in mine)

    # changed on A → updated on B within one interval (10 s), no trigger
    r = http(a.port, "POST", "/api/v1/institutions/vdu.lt/catalogue", body=mcx(
        db, "gen-loq", "5", "--institution", "vdu.lt", "--seed", "8", binary=True),
        headers={**pub, "Content-Type": "application/xml"})
    assert r.json()["accepted"] == 5
    wait_for(lambda: all(o["version"] == 2 for o in offers(b.port, db_b, "vdu.lt").values()),
             14, "B updated")

    # deleted on A → tombstoned on B
    r = http(a.port, "DELETE", "/api/v1/institutions/vdu.lt/offers/vdu.lt-MC-00003", headers=pub)
    assert r.status == 204
    r = http(b.port, "POST", "/api/v1/partners/vdu.lt/harvest", headers=admin_b)
    assert r.status == 202
    wait_for(lambda: "vdu.lt-MC-00003" not in offers(b.port, db_b, "vdu.lt"), 10, "B tombstoned")
    assert_json_error(http(b.port, "GET", "/api/v1/institutions/vdu.lt/offers/vdu.lt-MC-00003"), 404)
    rep = http(b.port, "GET", "/api/v1/replication/offers").json()
    gone = [o for o in rep["offers"] if o["external_id"] == "vdu.lt-MC-00003"]
    assert gone and gone[0]["deleted"] is True and gone[0]["partner"] == "vdu.lt"


def test_replication_paging_and_errors(mcxd, db):
    srv = mcxd("--harvest", "off")
    seen, cursor = [], None
    while True:
        path = "/api/v1/replication/offers?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = http(srv.port, "GET", path).json()
        seen += [o["id"] for o in page["offers"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == int(db.query("SELECT count(*) FROM offers"))
    later = http(srv.port, "GET", "/api/v1/replication/offers?modified_since=2999-01-01T00:00:00Z")
    assert later.json()["offers"] == []
    assert_json_error(http(srv.port, "GET", "/api/v1/replication/offers?modified_since=yesterday"),
                      400)
    assert_json_error(http(srv.port, "GET", "/api/v1/replication/offers?limit=0"), 400)
    assert_json_error(http(srv.port, "GET", "/api/v1/replication/offers?cursor=nonsense"), 400)


def test_signed_harvest_is_verified_by_the_feed(mcxd, db, db_b, tmp_path):
    # B's node key is registered at A (as partner b.example); C's is not.
    keys = {}
    for name in ["b", "c"]:
        key_id = mcx(db, "key", "generate", "--out", str(tmp_path / name))
        keys[name] = (key_id, tmp_path / name / "private.pem",
                      (tmp_path / name / "public.pem").read_text())
    mcx(db, "user", "add", "admin@a.test", "--role", "admin")
    admin_a = bearer(mcx(db, "token", "create", "--user", "admin@a.test"))
    a = mcxd("--harvest", "off")
    body = json.dumps({"id": "b.example", "name": "Node B", "country": "LT", "format": "loq",
                       "feed_url": "http://127.0.0.1:9/unused.xml",
                       "public_key": keys["b"][2]}).encode()
    assert http(a.port, "POST", "/api/v1/partners", headers=admin_a, body=body).status == 201
    feed = f"http://127.0.0.1:{a.port}/feeds/institutions/vdu.lt/loq.xml"
    admin_b = bearer(mcx(db_b, "token", "create", "--user", "admin@b.test"))

    for name, pid, ok in [("b", "signed-b.example", True), ("c", "signed-c.example", False)]:
        node = mcxd("--database-url", db_b.url, "--harvest-tick-ms", "100",
                    "--node-key", str(keys[name][1]))
        body = json.dumps({"id": pid, "name": pid, "country": "LT", "format": "loq",
                           "feed_url": feed, "interval_s": 3600}).encode()
        assert http(node.port, "POST", "/api/v1/partners", headers=admin_b, body=body).status == 201
        p = wait_for(lambda: (r := http(node.port, "GET", f"/api/v1/partners/{pid}",
                                        headers=admin_b).json())["last_run"] and r, 10, "a run")
        if ok:
            assert p["last_run"]["status"] == "ok", p
            assert db.query(f"SELECT count(*) > 0 FROM httpsig_seen WHERE key_id = '{keys['b'][0]}'") == "t"
        else:
            assert p["last_run"]["status"] == "failed" and "401" in p["last_run"]["error"], p
        node.stop() if hasattr(node, "stop") else None


def run_of(port, admin, pid, after=None, timeout=20):
    """The partner's newest run once there is one other than `after`."""
    return wait_for(lambda: (p := http(port, "GET", f"/api/v1/partners/{pid}",
                                       headers=admin).json())["last_run"]
                    and p["last_run"] != after and p, timeout, f"a run of {pid}")


def trigger(port, admin, pid):
    before = http(port, "GET", f"/api/v1/partners/{pid}", headers=admin).json()["last_run"]
    assert http(port, "POST", f"/api/v1/partners/{pid}/harvest", headers=admin).status == 202
    return run_of(port, admin, pid, before)["last_run"]


def hashes(d, inst):
    return d.query("SELECT coalesce(string_agg(external_id || ':' || content_hash, ',' "
                   f"ORDER BY external_id), '') FROM offers WHERE institution_id = '{inst}' "
                   "AND deleted_at IS NULL")


def test_mcx_partner_replicates_incrementally(mcxd, db, db_b):
    """Format mcx: B follows A's replication feed: the first run copies everything
    (lossless: the same content hashes), later runs ask only for what changed since,
    tombstones travel, and a full run removes what A no longer has at all."""
    mcx(db, "institution", "add", "uab.cat", "--name", "Universitat Autonoma de Barcelona",
        "--country", "ES", "--home")
    mcx(db, "user", "add", "pub@uab.cat", "--role", "publisher", "--institution", "uab.cat")
    pub = {**bearer(mcx(db, "token", "create", "--user", "pub@uab.cat")),
           "Content-Type": "application/xml"}
    admin_b = bearer(mcx(db_b, "token", "create", "--user", "admin@b.test"))
    a = mcxd("--harvest", "off")
    b = mcxd("--database-url", db_b.url, "--harvest-tick-ms", "100")

    def publish(n, seed):
        r = http(a.port, "POST", "/api/v1/institutions/uab.cat/catalogue", headers=pub, body=mcx(
            db, "gen-loq", str(n), "--institution", "uab.cat", "--seed", str(seed), binary=True))
        assert r.status == 200, r.text()
        return r.json()

    assert publish(6, 1)["accepted"] == 6
    # published an hour ago: the incremental window below is then exact
    db.query("UPDATE offers SET updated_at = updated_at - interval '1 hour' "
             "WHERE institution_id = 'uab.cat'")
    body = json.dumps({"id": "uab.cat", "name": "UAB", "country": "ES", "format": "mcx",
                       "feed_url": f"http://127.0.0.1:{a.port}/", "interval_s": 3600}).encode()
    assert http(b.port, "POST", "/api/v1/partners", headers=admin_b, body=body).status == 201
    run = run_of(b.port, admin_b, "uab.cat")["last_run"]
    assert run["status"] == "ok" and run["fetched"] == 6 and run["accepted"] == 6, run
    assert hashes(db_b, "uab.cat") == hashes(db, "uab.cat") != ""
    one = http(b.port, "GET", "/api/v1/institutions/uab.cat/offers/uab.cat-MC-00001").json()
    assert one["provenance"]["partner"] == "uab.cat"
    stamp = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
    assert db_b.query(f"SELECT {stamp.format('modified_since')} FROM partners "
                      "WHERE id = 'uab.cat'") == db.query(
        f"SELECT {stamp.format('max(updated_at)')} FROM offers WHERE institution_id = 'uab.cat'")

    # B asks again from its mark less a margin (a change committed late with an earlier
    # time must not be missed): what changed in the margin is listed again, unchanged
    run = trigger(b.port, admin_b, "uab.cat")
    assert run["status"] == "ok" and run["fetched"] == 6 and run["unchanged"] == 6, run
    # once the offers are older than the margin, nothing is listed and nothing written
    db.query("UPDATE offers SET updated_at = updated_at - interval '1 hour' "
             "WHERE institution_id = 'uab.cat'")
    run = trigger(b.port, admin_b, "uab.cat")
    assert run["status"] == "ok" and run["fetched"] == 0 and run["accepted"] == 0, run

    # one offer changed on A: the next run is asked for that one only
    assert publish(1, 9)["accepted"] == 1
    run = trigger(b.port, admin_b, "uab.cat")
    assert run["fetched"] == 1 and run["accepted"] == 1, run
    assert hashes(db_b, "uab.cat") == hashes(db, "uab.cat")

    # deleted on A: the tombstone travels
    assert http(a.port, "DELETE", "/api/v1/institutions/uab.cat/offers/uab.cat-MC-00002",
                headers=pub).status == 204
    run = trigger(b.port, admin_b, "uab.cat")
    assert run["removed"] == 1, run
    assert_json_error(http(b.port, "GET", "/api/v1/institutions/uab.cat/offers/uab.cat-MC-00002"),
                      404)

    # an offer A no longer has at all (not even a tombstone): a full run removes it
    db.query("DELETE FROM offers WHERE external_id = 'uab.cat-MC-00003'")
    db_b.query("UPDATE partners SET modified_since = NULL WHERE id = 'uab.cat'")
    run = trigger(b.port, admin_b, "uab.cat")
    assert run["status"] == "ok" and run["fetched"] == 4 and run["removed"] == 1, run
    assert hashes(db_b, "uab.cat") == hashes(db, "uab.cat")

    # more than a page (500): the run follows the cursor to the end
    assert publish(1100, 10)["accepted"] == 1100
    run = trigger(b.port, admin_b, "uab.cat")
    assert run["status"] == "ok" and run["accepted"] == 1100, run
    assert hashes(db_b, "uab.cat") == hashes(db, "uab.cat")


def test_mcx_replication_filters_and_errors(mcxd, db):
    srv = mcxd("--harvest", "off")
    page = http(srv.port, "GET", "/api/v1/replication/offers?institution=uab.cat&include=doc"
                "&limit=3").json()
    assert len(page["offers"]) == 3 and page["next"]
    assert all(o["institution"] == "uab.cat" for o in page["offers"])
    assert all(("doc" in o) == (not o["deleted"]) for o in page["offers"])
    assert all(o["doc"]["external_id"] == o["external_id"] for o in page["offers"] if "doc" in o)
    bare = http(srv.port, "GET", "/api/v1/replication/offers?limit=3").json()
    assert all("doc" not in o for o in bare["offers"])
    assert_json_error(http(srv.port, "GET", "/api/v1/replication/offers?institution=nope.example"),
                      404)
    assert_json_error(http(srv.port, "GET", "/api/v1/replication/offers?include=everything"), 400)
    assert_json_error(http(srv.port, "GET", "/api/v1/replication/offers?institution="), 400)
