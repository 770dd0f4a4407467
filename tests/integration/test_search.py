"""Student search, GET /api/v1/offers (issue 7): relevance (exact title first, typos,
German stems), filters (AND across fields, OR within one), facets equal to direct SQL
counts, keyset pages that survive concurrent inserts, signed cursors, parameter
errors, and ETags that follow the catalogue version across nodes."""

import hashlib
import json
import subprocess
import threading
import time
import urllib.parse

import pytest

import mcxtest
from mcxtest import assert_json_error, http


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


def doc(ext, title, lang="en", **kw):
    d = {"external_id": ext, "title": title if isinstance(title, dict) else {lang: title},
         "languages": [lang], "isced": ["0613"], "eqf": 6, "ects": 5, "mode": "online",
         "starts": "2027-02-01"}
    d.update(kw)
    return d


@pytest.fixture(scope="module")
def world(db):
    for inst, cc in [("vdu.lt", "LT"), ("uni-heidelberg.de", "DE"), ("uab.cat", "ES")]:
        mcx(db, "institution", "add", inst, "--name", inst, "--country", cc, "--home")
    put(db, "vdu.lt", [
        doc("ML-1", "Introduction to machine learning"),
        doc("ML-2", "Machine learning", eqf=7, ects=6),
        doc("ML-3", "Machine learning for engineers", isced=["0714"], mode="blended"),
        doc("ML-4", "Learning machines in agriculture", isced=["0811"]),
        doc("DL-1", "Deep neural networks",
            learning_outcomes=[{"en": "Apply machine learning to images"}]),
        doc("LT-1", "Mašininis mokymasis", lang="lt", eqf=5, ects=3),
    ])
    put(db, "uni-heidelberg.de", [
        doc("DE-1", "Maschinelles Lernen für Ingenieure", lang="de", ects=7.5,
            description={"de": "Grundlagen des Lernens aus Daten"}),
        doc("DE-2", "Datenbanken", lang="de", isced=["0612"], mode="onsite"),
        doc("DE-3", "Statistik für Sozialwissenschaften", lang="de", isced=["0314"], eqf=7,
            ects=2),
    ])
    put(db, "uab.cat", [
        doc("ES-1", "Aprendizaje automático", lang="es", mode="onsite", ects=10),
        doc("ES-2", "Economía circular", lang="es", isced=["0311"], eqf=6, ects=2.5,
            starts="2028-03-01"),
        doc("FR-1", "Apprentissage automatique", lang="fr", mode="blended", ects=4,
            starts="2026-10-01"),
    ])
    return db


def search(port, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    r = http(port, "GET", "/api/v1/offers?" + q)
    assert r.status == 200, r.text()
    return r.json()


def exts(res):
    return [o["external_id"] for o in res["items"]]


def test_relevance_typos_and_stems(mcxd, world):
    srv = mcxd("--harvest", "off")
    res = search(srv.port, q="Machine learning")
    assert exts(res)[0] == "ML-2", exts(res)  # the exact title first
    assert {"ML-1", "ML-3", "DL-1"} <= set(exts(res))  # DL-1 by its learning outcome
    typo = search(srv.port, q="machne lerning")
    assert {"ML-1", "ML-2", "ML-3"} <= set(exts(typo)[:4]), exts(typo)
    # German stems: "maschineller" and "Lernens" find "Maschinelles Lernen"
    assert exts(search(srv.port, q="maschineller Lernens")) == ["DE-1"]
    # accents do not matter; the last word is a prefix
    assert "ES-1" in exts(search(srv.port, q="aprendizaje automatico"))
    assert "DE-2" in exts(search(srv.port, q="Datenba"))
    # a title in the asked language comes first
    res = search(srv.port, q="learning", lang="lt")
    assert res["total"] >= 1
    res = search(srv.port, q="automatique", lang="fr")
    assert exts(res)[0] == "FR-1"


def test_relevance_tiers_title_words_before_outcomes(mcxd, world):
    srv = mcxd("--harvest", "off")
    order = exts(search(srv.port, q="machine learning"))
    assert order[0] == "ML-2", order  # the exact title
    # every word in a title (ML-4 has them in another order) before a learning outcome
    assert set(order[1:4]) == {"ML-1", "ML-3", "ML-4"}, order
    assert order[4] == "DL-1", order


def test_filters_and_or(mcxd, world):
    srv = mcxd("--harvest", "off")
    assert set(exts(search(srv.port, language=["de", "fr"]))) == {"DE-1", "DE-2", "DE-3", "FR-1"}
    assert set(exts(search(srv.port, language="de", eqf=7))) == {"DE-3"}
    assert set(exts(search(srv.port, isced="06", institution="uni-heidelberg.de"))) == \
        {"DE-1", "DE-2"}  # a broad field finds its detailed ones
    assert set(exts(search(srv.port, isced="071"))) == {"ML-3"}
    assert set(exts(search(srv.port, mode=["blended", "onsite"], language="es"))) == {"ES-1"}
    got = search(srv.port, ects_min="4", ects_max="7.5", language="de")
    assert set(exts(got)) == {"DE-1", "DE-2"} and got["total"] == 2
    assert set(exts(search(srv.port, starts_after="2028-01-01"))) == {"ES-2"}
    assert set(exts(search(srv.port, starts_before="2026-12-31"))) == {"FR-1"}
    by_ects = search(srv.port, sort="ects", institution="uab.cat")
    assert exts(by_ects) == ["ES-2", "FR-1", "ES-1"]
    by_title = search(srv.port, sort="title", institution="uab.cat")
    assert exts(by_title) == ["FR-1", "ES-1", "ES-2"]


FACETS = {"eqf": "eqf::text", "language": "l", "isced": "c", "mode": "mode",
          "institution": "institution_id", "ects": "ects_band"}
CONDS = {"eqf": "eqf = ANY ('{6,7}')", "language": "languages && '{en,de}'",
         "mode": "mode = ANY ('{online,blended}')", "ects": "ects >= 3"}


def test_facets_equal_sql_counts(mcxd, world):
    srv = mcxd("--harvest", "off")
    res = search(srv.port, eqf=["6", "7"], language=["en", "de"], mode=["online", "blended"],
                 ects_min="3")
    for name, expr in FACETS.items():
        where = " AND ".join(c for f, c in CONDS.items() if f != name) or "true"
        frm = "offers"
        if name == "language":
            frm = "offers, unnest(languages) l"
        if name == "isced":
            frm = "offers, unnest(isced_codes) c"
            where += " AND length(c) = 2"
        rows = world.query(f"SELECT {expr} || '=' || count(*) FROM {frm} WHERE deleted_at IS NULL "
                           f"AND {where} AND {expr} IS NOT NULL GROUP BY {expr}")
        want = dict(r.split("=") for r in rows.splitlines() if r)
        assert {k: str(v) for k, v in res["facets"][name].items()} == want, name
    total = world.query("SELECT count(*) FROM offers WHERE deleted_at IS NULL AND "
                        + " AND ".join(CONDS.values()))
    assert res["total"] == int(total)


def test_errors_name_the_parameter(mcxd, world):
    srv = mcxd("--harvest", "off")
    for query, name in [("q=" + "x" * 10000, "q"), ("limit=0", "limit"), ("limit=1000", "limit"),
                        ("ects_min=abc", "ects_min"), ("eqf=9", "eqf"), ("language=EN", "language"),
                        ("isced=6", "isced"), ("mode=walking", "mode"), ("sort=price", "sort"),
                        ("starts_after=2027-02-30", "starts_after"), ("colour=red", "colour"),
                        ("ects_min=9&ects_max=2", "ects_min"), ("q=%ZZ", "escape"),
                        ("cursor=abc", "cursor")]:
        r = http(srv.port, "GET", "/api/v1/offers?" + query)
        assert_json_error(r, 400)
        assert name in r.json()["error"]["message"], (query, r.text())
    # SQL and tsquery syntax in q is plain text
    for q in ["'; DROP TABLE offers; --", "a & | ! ( ) : * \\", "'", "machine:* | !learning"]:
        assert search(srv.port, q=q)["items"] is not None
    assert int(world.query("SELECT count(*) FROM offers")) > 0


def test_pages_are_stable_under_inserts(mcxd, world):
    srv = mcxd("--harvest", "off")
    mcx(world, "institution", "add", "bulk.example", "--name", "Bulk", "--country", "LT")
    world.query(
        "SELECT count(*) FROM offers_put_many('bulk.example', 'test', NULL, (SELECT jsonb_agg("
        "jsonb_build_object('external_id', 'B-' || i, 'hash', md5(i::text) || md5(i::text), "
        "'completeness', '[]'::jsonb, 'doc', jsonb_build_object('external_id', 'B-' || i, "
        "'title', jsonb_build_object('en', 'Bulk course ' || i), 'languages', '[\"en\"]'::jsonb, "
        "'ects', (i % 30) + 1, 'starts', '2027-01-01'::date + (i % 300)))) "
        "FROM generate_series(1, 5000) i))")
    before = set(world.query("SELECT id FROM offers WHERE institution_id = 'bulk.example'")
                 .split())
    stop = threading.Event()

    def inserter():
        n = 0
        while not stop.is_set() and n < 40:
            n += 1
            world.query(
                "SELECT count(*) FROM offers_put_many('bulk.example', 'test', NULL, (SELECT "
                "jsonb_agg(jsonb_build_object('external_id', 'N-' || i, 'hash', "
                "md5(i::text) || md5('n'), 'completeness', '[]'::jsonb, 'doc', "
                "jsonb_build_object('external_id', 'N-' || i, 'title', jsonb_build_object('en', "
                "'New course ' || i), 'ects', (i % 30) + 1, 'starts', '2027-01-01'::date + "
                f"(i % 300)))) FROM generate_series({n * 10}, {n * 10 + 9}) i))")

    for sort in ["start", "ects"]:
        seen, cursor, pages = [], None, 0
        t = threading.Thread(target=inserter)
        stop.clear()
        t.start()
        try:
            while True:
                params = {"institution": "bulk.example", "sort": sort, "limit": 100}
                if cursor:
                    params["cursor"] = cursor
                res = search(srv.port, **params)
                seen += [o["id"] for o in res["items"]]
                pages += 1
                cursor = res["next_cursor"]
                if cursor is None:
                    break
        finally:
            stop.set()
            t.join()
        assert len(seen) == len(set(seen)), "an offer came twice"
        assert before <= set(seen), f"{len(before - set(seen))} offers skipped ({sort})"
        assert pages >= 50
    # a changed cursor, or one from another query, is refused
    first = search(srv.port, institution="bulk.example", limit=10)
    c = first["next_cursor"]
    bad = c[:10] + ("0" if c[10] != "0" else "1") + c[11:]
    assert_json_error(http(srv.port, "GET", "/api/v1/offers?institution=bulk.example&limit=10"
                           f"&cursor={bad}"), 400)
    assert_json_error(http(srv.port, "GET", f"/api/v1/offers?institution=vdu.lt&cursor={c}"),
                      400)
    # the same cursor is good on another node of the same database
    other = mcxd("--harvest", "off")
    r = http(other.port, "GET", f"/api/v1/offers?institution=bulk.example&limit=10&cursor={c}")
    assert r.status == 200 and r.json()["items"]


def test_etag_follows_the_catalogue_across_nodes(mcxd, world):
    mcx(world, "user", "add", "pub@vdu.lt", "--role", "publisher", "--institution", "vdu.lt")
    token = mcx(world, "token", "create", "--user", "pub@vdu.lt")
    a = mcxd("--harvest", "off")
    b = mcxd("--harvest", "off")
    path = "/api/v1/offers?q=machine+learning&limit=50"
    # the listener is up once results carry an ETag
    deadline = time.monotonic() + 10
    while not (first := http(a.port, "GET", path)).header("ETag"):
        assert time.monotonic() < deadline, "no ETag: the catalogue listener never came up"
        time.sleep(0.1)
    etag = first.header("ETag")
    again = http(a.port, "GET", path, headers={"If-None-Match": etag})
    assert again.status == 304 and again.header("ETag") == etag and not again.body
    # another query, or another page size, is another representation
    assert http(a.port, "GET", path + "&eqf=6", headers={"If-None-Match": etag}).status == 200
    assert http(a.port, "GET", "/api/v1/offers?q=machine+learning&limit=49",
                headers={"If-None-Match": etag}).status == 200

    # a publish on node B (same database) reaches node A through NOTIFY
    ld = {"@context": "http://data.europa.eu/snb/model/context/edc-ap",
          "id": "urn:vdu:ml-9", "type": "LearningOpportunity",
          "identifier": [{"id": "urn:vdu:ml-9:id", "type": "Identifier", "notation": "ML-9"}],
          "title": {"en": "Machine learning in practice"}}
    r = http(b.port, "PUT", "/api/v1/institutions/vdu.lt/offers/ML-9", body=json.dumps(ld).encode(),
             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/ld+json"})
    assert r.status == 201, r.text()
    deadline = time.monotonic() + 5
    while (now := http(a.port, "GET", path, headers={"If-None-Match": etag})).status == 304:
        assert time.monotonic() < deadline, "node A still answers 304 after B's publish"
        time.sleep(0.05)
    assert now.status == 200 and now.header("ETag") != etag
    assert "ML-9" in exts(now.json())


def test_pages_walk_every_tier_in_order(mcxd, world):
    """(Last in this file: its offers would change the other tests' counts.)
    With lang, each tier (exact title, title words, other words) splits into the
    offers titled in that language first; a walk in small pages crosses all six
    tiers and gives each offer once, in (tier, start, id) order."""
    srv = mcxd("--harvest", "off")
    mcx(world, "institution", "add", "tiers.example", "--name", "Tiers", "--country", "DE")
    docs, tier_of = [], {}
    for lang, pref in (("de", 1), ("en", 0)):
        for i in range(6):
            start = f"2027-0{1 + i % 3}-01"
            for kind, tier, d in (
                    ("E", 3, doc(f"E-{lang}-{i}", "Tier course", lang=lang, starts=start)),
                    ("T", 2, doc(f"T-{lang}-{i}", f"Tier course number {i}", lang=lang,
                                 starts=start)),
                    ("D", 1, doc(f"D-{lang}-{i}", f"Other offer {i}", lang=lang, starts=start,
                                 description={lang: "A tier course in disguise"}))):
                docs.append(d)
                tier_of[d["external_id"]] = (pref * 4 + tier, start)
    put(world, "tiers.example", docs)
    ids = dict(line.split("|") for line in world.query(
        "SELECT external_id || '|' || id FROM offers WHERE institution_id = 'tiers.example'")
        .split("\n"))
    want = sorted(tier_of, key=lambda e: (-tier_of[e][0], tier_of[e][1], ids[e]))
    got, cursor = [], None
    while True:
        params = {"q": "tier course", "lang": "de", "institution": "tiers.example", "limit": 5}
        if cursor:
            params["cursor"] = cursor
        res = search(srv.port, **params)
        got += exts(res)
        cursor = res["next_cursor"]
        if cursor is None:
            break
    assert got == want
    assert res["total"] == len(docs)
