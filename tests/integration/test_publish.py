"""Catalogue publishing API (issue 5): LOQ samples in bulk and one by one, reads
in JSON / LOQ XML / JSON-LD with no field lost, every bad input's status, XXE and
billion laughs, and who may write where."""

import glob
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest

import mcxtest
from mcxtest import assert_json_error, http

SOURCE = mcxtest.source_dir()
SHARED = os.environ.get("MCX_SHARED_DIR") or os.path.join(SOURCE, "..", "shared")
SAMPLES = sorted(glob.glob(os.path.join(SHARED, "samples", "elm", "loq", "examples", "*.xml")))
XSD = os.path.join(SOURCE, "schemas", "loq", "loq.xsd")

# Fields of the offer that are its content (DESIGN §5), as opposed to where it lives.
CONTENT_FIELDS = ["external_id", "title", "description", "homepage", "languages", "isced", "eqf",
                  "ects", "mode", "starts", "ends", "application_deadline", "price",
                  "learning_outcomes", "assessment", "quality_assurance", "entry_requirements",
                  "volume_of_learning", "provider"]


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, f"mcx {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


@pytest.fixture(scope="module")
def world(db):
    """Three institutions, a publisher of each of two, an admin, and their tokens."""
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University", "--country", "LT",
        "--home")
    mcx(db, "institution", "add", "ktu.lt", "--name", "Kaunas University of Technology", "--country",
        "LT")
    mcx(db, "institution", "add", "uab.cat", "--name", "Universitat Autonoma de Barcelona",
        "--country", "ES")
    tokens = {}
    for email, role, inst in [("pub@vdu.lt", "publisher", "vdu.lt"),
                              ("pub@ktu.lt", "publisher", "ktu.lt"),
                              ("admin@mcx.test", "admin", None)]:
        args = ["user", "add", email, "--role", role]
        if inst:
            args += ["--institution", inst]
        mcx(db, *args)
        tokens[email] = mcx(db, "token", "create", "--user", email)
    return tokens


@pytest.fixture(scope="module")
def server(module_mcxd, world):
    return module_mcxd()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def put(port, inst, ext, body, token, ctype="application/xml"):
    path = f"/api/v1/institutions/{inst}/offers/{urllib.parse.quote(ext, safe='')}"
    headers = {"Content-Type": ctype, **(auth(token) if token else {})}
    return http(port, "PUT", path, headers=headers, body=body, timeout=60)


def bulk(port, inst, body, token, mode="merge"):
    headers = {"Content-Type": "application/xml", **auth(token)}
    return http(port, "POST", f"/api/v1/institutions/{inst}/catalogue?mode={mode}",
                headers=headers, body=body, timeout=120)


def get_offer(port, inst, ext, accept=None):
    path = f"/api/v1/institutions/{inst}/offers/{urllib.parse.quote(ext, safe='')}"
    return http(port, "GET", path, headers={"Accept": accept} if accept else None)


def read(path):
    with open(path, "rb") as f:
        return f.read()


LO_RE = re.compile(rb"<learningOpportunity\s[^>]*>.*?</learningOpportunity>", re.S)


def split_offers(doc):
    """One single-offer Courses document per learningOpportunity: the others are cut
    out, every entity they might reference stays."""
    los = LO_RE.findall(doc)
    out = []
    for keep in los:
        single = doc
        for other in los:
            if other is keep:
                continue
            single = single.replace(other, b"", 1)
            # references to the removed one (hasPart, isPartOf, ...) would dangle
            oid = re.search(rb'id="([^"]*)"', other).group(1)
            single = re.sub(rb'\s*<[\w:]+ idref="' + re.escape(oid) + rb'"\s*/>', b"", single)
        out.append(single)
    return out


def content(offer):
    return {k: offer.get(k) for k in CONTENT_FIELDS}


def xmllint_valid(xml, tmp_path):
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint (libxml2-utils) is not installed")
    f = tmp_path / "export.xml"
    f.write_bytes(xml)
    r = subprocess.run(["xmllint", "--nonet", "--noout", "--schema", XSD, str(f)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


def test_samples_exist():
    assert len(SAMPLES) >= 2, f"no LOQ samples under {SHARED}"


@pytest.mark.parametrize("sample", SAMPLES, ids=os.path.basename)
def test_sample_bulk_then_each_alone_then_read_back(server, world, sample, tmp_path):
    port = server.port
    token = world["pub@vdu.lt"]
    doc = read(sample)
    nlos = len(LO_RE.findall(doc))
    r = bulk(port, "vdu.lt", doc, token)
    assert r.status == 200, r.text()
    report = r.json()
    assert report["rejected"] == [], report
    assert report["accepted"] + report["unchanged"] == nlos

    # Each offer alone by PUT: the same content, so nothing changes.
    for single in split_offers(doc):
        ext = re.search(rb"<skos:notation[^>]*>([^<]*)</skos:notation>", single).group(1).decode()
        first = get_offer(port, "vdu.lt", ext)
        assert first.status == 200, first.text()
        r = put(port, "vdu.lt", ext, single, token)
        assert r.status == 200, r.text()
        again = r.json()
        assert again["version"] == first.json()["version"], "identical content must not bump"
        assert again["updated_at"] == first.json()["updated_at"]
        offer = first.json()
        assert offer["institution"]["id"] == "vdu.lt"
        assert offer["deleted"] is False
        assert "missing" in offer["completeness"]

        # LOQ XML export: valid against the XSD, and publishing it elsewhere keeps
        # every field.
        x = get_offer(port, "vdu.lt", ext, accept="application/xml")
        assert x.status == 200 and x.header("Content-Type").startswith("application/xml")
        xmllint_valid(x.body, tmp_path)
        admin = world["admin@mcx.test"]
        r = put(port, "ktu.lt", ext, x.body, admin)
        assert r.status in (200, 201), r.text()
        assert content(r.json()) == content(offer)

        # JSON-LD export in the edc-ap context, re-imported without loss.
        j = get_offer(port, "vdu.lt", ext, accept="application/ld+json")
        assert j.status == 200 and j.header("Content-Type").startswith("application/ld+json")
        ld = j.json()
        ctx = ld["@context"]
        assert "http://data.europa.eu/snb/model/context/edc-ap" in (ctx if isinstance(ctx, list) else [ctx])
        r = put(port, "uab.cat", ext, j.body, admin, ctype="application/ld+json")
        assert r.status in (200, 201), r.text()
        assert content(r.json()) == content(offer)

        # and by its id
        by_id = http(port, "GET", f"/api/v1/offers/{offer['id']}")
        assert by_id.status == 200 and by_id.json() == offer


def one_offer_doc():
    return split_offers(read(SAMPLES[0]))[0]


def ext_of(doc):
    return re.search(rb"<skos:notation[^>]*>([^<]*)</skos:notation>", doc).group(1).decode()


def test_schema_invalid_offer_is_422_with_line_and_element(server, world):
    doc = one_offer_doc()
    # An element the schema does not allow inside the learning opportunity.
    bad = doc.replace(b"<homepage>", b"<homepagex/><homepage>", 1)
    r = put(server.port, "vdu.lt", ext_of(doc), bad, world["pub@vdu.lt"])
    body = assert_json_error(r, 422, "validation_failed")
    details = body["error"]["details"]
    assert details and all(d.get("line", 0) > 0 for d in details), details
    assert any("learningOpportunity" in d.get("path", "") for d in details), details
    assert any("homepagex" in d["message"] for d in details), details


def test_malformed_xml_is_400(server, world):
    r = put(server.port, "vdu.lt", "x", b"<Courses><oops></Courses>", world["pub@vdu.lt"])
    assert_json_error(r, 400)


def test_wrong_content_type_is_415(server, world):
    r = put(server.port, "vdu.lt", "x", b"hello", world["pub@vdu.lt"], ctype="text/plain")
    assert_json_error(r, 415, "unsupported_media_type")
    r = http(server.port, "PUT", "/api/v1/institutions/vdu.lt/offers/x", body=b"<a/>",
             headers=auth(world["pub@vdu.lt"]))
    assert_json_error(r, 415)


def test_invalid_utf8_is_400(server, world):
    body = b'<?xml version="1.0" encoding="UTF-8"?><Courses>\xff\xfe</Courses>'
    r = put(server.port, "vdu.lt", "x", body, world["pub@vdu.lt"])
    assert_json_error(r, 400, "invalid_utf8")


def test_body_over_limit_is_413(mcxd, world):
    srv = mcxd("--max-body-size", "4096")
    r = put(srv.port, "vdu.lt", "x", b"<a/>" + b" " * 8192, world["pub@vdu.lt"])
    assert_json_error(r, 413)


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Courses [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Courses xmlns="http://data.europa.eu/snb/model/ap/loq-constraints/">&xxe;</Courses>"""

LOL = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Courses xmlns="http://data.europa.eu/snb/model/ap/loq-constraints/">&lol9;</Courses>"""


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_xxe_is_rejected_and_the_file_appears_nowhere(server, world, db):
    for path, method in [("/api/v1/institutions/vdu.lt/offers/x", "PUT"),
                         ("/api/v1/institutions/vdu.lt/catalogue", "POST")]:
        r = http(server.port, method, path, body=XXE,
                 headers={"Content-Type": "application/xml", **auth(world["pub@vdu.lt"])})
        assert 400 <= r.status < 500, r.text()
        assert b"root:" not in r.body
    dump = db.query("SELECT coalesce(string_agg(body, ''), '') FROM offer_sources") + \
        db.query("SELECT coalesce(string_agg(doc::text, ''), '') FROM offers")
    assert "root:x:" not in dump
    assert "root:x:" not in server.log_text()


def test_billion_laughs_is_rejected_fast_and_small(server, world):
    before = rss_kb(server.pid)
    t0 = time.monotonic()
    r = put(server.port, "vdu.lt", "x", LOL, world["pub@vdu.lt"])
    elapsed = time.monotonic() - t0
    assert 400 <= r.status < 500, r.text()
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
    assert rss_kb(server.pid) - before < 50 * 1024


def test_auth_401_403_and_revoked(server, world, db):
    doc = one_offer_doc()
    ext = ext_of(doc)
    r = put(server.port, "vdu.lt", ext, doc, None)
    assert_json_error(r, 401)
    assert r.header("WWW-Authenticate", ) is not None
    r = put(server.port, "vdu.lt", ext, doc, "mcx_not-a-token")
    assert_json_error(r, 401)
    r = put(server.port, "ktu.lt", ext, doc, world["pub@vdu.lt"])
    assert_json_error(r, 403)
    r = http(server.port, "DELETE", f"/api/v1/institutions/ktu.lt/offers/{ext}",
             headers=auth(world["pub@vdu.lt"]))
    assert_json_error(r, 403)
    token = mcx(db, "token", "create", "--user", "pub@vdu.lt", "--name", "short-lived")
    r = put(server.port, "vdu.lt", ext, doc, token)
    assert r.status in (200, 201), r.text()
    mcx(db, "token", "revoke", token)
    r = put(server.port, "vdu.lt", ext, doc, token)
    assert_json_error(r, 401)


def test_a_browser_session_publishes_with_its_csrf_token(server, world, db):
    """The publisher page publishes by session cookie: writes need X-CSRF-Token."""
    mcx(db, "user", "add", "web@vdu.lt", "--role", "publisher", "--institution", "vdu.lt",
        "--password-stdin", stdin="correct horse battery staple\n")
    r = http(server.port, "POST", "/api/v1/session", headers={"Content-Type": "application/json"},
             body=json.dumps({"email": "web@vdu.lt", "password": "correct horse battery staple"}))
    assert r.status == 200, r.text()
    cookie = r.header("Set-Cookie").split(";")[0]
    csrf = r.json()["csrf_token"]
    doc = one_offer_doc()
    ext = ext_of(doc)
    path = f"/api/v1/institutions/vdu.lt/offers/{urllib.parse.quote(ext, safe='')}"
    xml = {"Content-Type": "application/xml", "Cookie": cookie}
    before = db.query("SELECT count(*) FROM audit_log")
    assert_json_error(http(server.port, "PUT", path, headers=xml, body=doc), 403)
    assert_json_error(http(server.port, "PUT", path, headers={**xml, "X-CSRF-Token": "0" * 64},
                           body=doc), 403)
    assert db.query("SELECT count(*) FROM audit_log") == before  # refused before any write
    r = http(server.port, "PUT", path, headers={**xml, "X-CSRF-Token": csrf}, body=doc)
    assert r.status in (200, 201), r.text()
    r = http(server.port, "DELETE", path, headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert r.status == 204, r.text()
    r = http(server.port, "PUT", path, headers={**xml, "X-CSRF-Token": csrf}, body=doc)
    assert r.status in (200, 201) and r.json()["deleted"] is False, r.text()
    me = "user:" + db.query("SELECT id FROM users WHERE email = 'web@vdu.lt'")
    assert db.query("SELECT count(*) FROM audit_log WHERE entity = 'offer'"
                    f" AND actor = '{me}'") == "2"  # the tombstone and its revival
    r = http(server.port, "POST", "/api/v1/institutions/vdu.lt/catalogue?mode=merge",
             headers={**xml, "X-CSRF-Token": csrf}, body=doc, timeout=60)
    assert r.status == 200 and r.json()["unchanged"] == 1, r.text()
    assert_json_error(http(server.port, "PUT", path.replace("vdu.lt", "ktu.lt", 1),
                           headers={**xml, "X-CSRF-Token": csrf}, body=doc), 403)


def test_delete_tombstones_and_audits(server, world, db):
    doc = one_offer_doc()
    ext = ext_of(doc)
    token = world["pub@ktu.lt"]
    r = put(server.port, "ktu.lt", ext, doc, token)
    assert r.status in (200, 201), r.text()
    oid = r.json()["id"]
    r = http(server.port, "DELETE", f"/api/v1/institutions/ktu.lt/offers/{ext}", headers=auth(token))
    assert r.status == 204, r.text()
    assert get_offer(server.port, "ktu.lt", ext).status == 404
    assert http(server.port, "GET", f"/api/v1/offers/{oid}").status == 404
    r = http(server.port, "DELETE", f"/api/v1/institutions/ktu.lt/offers/{ext}", headers=auth(token))
    assert_json_error(r, 404)
    assert db.query(f"SELECT count(*) FROM audit_log WHERE entity = 'offer' AND "
                    f"entity_id = '{oid}' AND action = 'delete'") == "1"
    # publishing it again restores it as a new version
    r = put(server.port, "ktu.lt", ext, doc, token)
    assert r.status == 200 and r.json()["deleted"] is False


def test_institutions(server, world):
    r = http(server.port, "GET", "/api/v1/institutions")
    assert r.status == 200
    ids = [i["id"] for i in r.json()["items"]]
    assert ids == sorted(ids) and {"vdu.lt", "ktu.lt", "uab.cat"} <= set(ids)
    r = http(server.port, "GET", "/api/v1/institutions/vdu.lt")
    assert r.status == 200
    inst = r.json()
    assert inst["name"] == "Vytautas Magnus University" and inst["country"] == "LT"
    assert_json_error(http(server.port, "GET", "/api/v1/institutions/nope.example"), 404)
    assert_json_error(http(server.port, "GET", "/api/v1/offers/not-a-uuid"), 404)


def gen_loq(count, inst, invalid=None, seed=7):
    args = [mcxtest.mcx_binary(), "gen-loq", str(count), "--institution", inst, "--seed", str(seed)]
    if invalid:
        args += ["--invalid", ",".join(str(i) for i in invalid)]
    r = subprocess.run(args, capture_output=True, timeout=120, env=mcxtest.child_env())
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_bulk_100_with_3_invalid_then_repost_then_replace_with_90(server, world, db):
    # an institution of its own: replace mode removes whatever else it had
    mcx(db, "institution", "add", "vu.lt", "--name", "Vilnius University", "--country", "LT")
    token = world["admin@mcx.test"]
    bad = [10, 20, 30]
    doc = gen_loq(100, "vu.lt", bad)
    r = bulk(server.port, "vu.lt", doc, token)
    assert r.status == 200, r.text()
    rep = r.json()
    assert rep["accepted"] == 97 and rep["unchanged"] == 0 and rep["removed"] == 0, rep
    assert [x["index"] for x in rep["rejected"]] == bad
    for x in rep["rejected"]:
        assert x["external_id"] == f"vu.lt-MC-{x['index'] + 1:05d}"
        assert x["line"] > 0 and x["errors"], x
        assert all(e["line"] > 0 and "notAnElementOfLoq" in e["message"] for e in x["errors"]), x

    r = bulk(server.port, "vu.lt", doc, token)
    rep = r.json()
    assert (rep["accepted"], rep["unchanged"], rep["removed"], len(rep["rejected"])) == (0, 97, 0, 3)

    # The first 93 offers hold the 3 invalid ones again: 90 valid, 7 stored ones absent.
    doc90 = gen_loq(93, "vu.lt", bad)
    r = bulk(server.port, "vu.lt", doc90, token, mode="replace")
    rep = r.json()
    assert (rep["accepted"], rep["unchanged"], rep["removed"], len(rep["rejected"])) == (0, 90, 7, 3), rep
    for n in range(94, 101):
        ext = f"vu.lt-MC-{n:05d}"
        assert get_offer(server.port, "vu.lt", ext).status == 404
        assert db.query("SELECT count(*) FROM audit_log a JOIN offers o ON o.id::text = a.entity_id "
                        f"WHERE a.action = 'delete' AND o.external_id = '{ext}'") == "1"
    assert get_offer(server.port, "vu.lt", "vu.lt-MC-00093").status == 200


def test_bulk_to_unknown_institution_is_404(server, world):
    r = bulk(server.port, "nowhere.example", gen_loq(2, "nowhere.example"), world["admin@mcx.test"])
    assert_json_error(r, 404)


def test_cli_publish_progress_report_and_replace(server, world, db, tmp_path):
    mcx(db, "institution", "add", "mru.lt", "--name", "Mykolas Romeris University", "--country", "LT")
    f = tmp_path / "catalogue.xml"
    f.write_bytes(gen_loq(600, "mru.lt", [4]))
    env = mcxtest.child_env({"MCX_DATABASE_URL": db.url})
    r = subprocess.run([mcxtest.mcx_binary(), "publish", str(f), "--institution", "mru.lt"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stderr  # one offer was rejected
    rep = json.loads(r.stdout)
    assert (rep["accepted"], rep["unchanged"], rep["removed"]) == (599, 0, 0)
    assert [x["index"] for x in rep["rejected"]] == [4]
    assert "500/600 offers processed" in r.stderr and "mru.lt-MC-00005" in r.stderr
    # what the CLI stored, the API serves
    assert get_offer(server.port, "mru.lt", "mru.lt-MC-00001").status == 200

    f.write_bytes(gen_loq(590, "mru.lt"))
    r = subprocess.run([mcxtest.mcx_binary(), "publish", str(f), "--institution", "mru.lt",
                        "--replace"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    # offer 5 is valid now (created); the 10 stored ones past 590 are gone
    assert (rep["accepted"], rep["unchanged"], rep["removed"]) == (1, 589, 10), rep
    assert get_offer(server.port, "mru.lt", "mru.lt-MC-00600").status == 404

    r = subprocess.run([mcxtest.mcx_binary(), "publish", str(f), "--institution", "nope.example"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and "registered" in r.stderr


def test_bulk_rejects_a_repeated_external_id(server, world):
    doc = gen_loq(3, "vdu.lt", seed=99).replace(b">vdu.lt-MC-00002</skos:notation>",
                                               b">vdu.lt-MC-00001</skos:notation>")
    r = bulk(server.port, "vdu.lt", doc, world["pub@vdu.lt"])
    assert r.status == 200, r.text()
    rep = r.json()
    assert [x["index"] for x in rep["rejected"]] == [1], rep
    # LOQ's own identity constraint (UniqueNotationCheck) or mcx's check names it
    msgs = " ".join(e["message"] for e in rep["rejected"][0]["errors"])
    assert "Duplicate key-sequence" in msgs or "already used" in msgs, msgs
    assert rep["accepted"] + rep["unchanged"] == 2


# ---- EWP Courses API responses (issue 6): published like a LOQ catalogue ----

EWP_SAMPLE = os.path.join(SHARED, "samples", "ewp", "courses", "courses-response-example.xml")
LOS_RE = re.compile(rb"<learningOpportunitySpecification>.*?</learningOpportunitySpecification>",
                    re.S)


def ewp_los():
    """The sample's learningOpportunitySpecification elements, as bytes."""
    return LOS_RE.findall(read(EWP_SAMPLE))


def ewp_doc(*los):
    """The sample courses-response holding the given LOS (in that order) instead of its own."""
    doc = read(EWP_SAMPLE)
    own = LOS_RE.findall(doc)
    start, end = doc.index(own[0]), doc.index(own[-1]) + len(own[-1])
    return doc[:start] + b"\n    ".join(los) + doc[end:]


def los_id(los):
    return re.search(rb"<los-id>([^<]*)</los-id>", los).group(1).decode()


def line_of(doc, part, nth=0):
    """1-based line of the nth occurrence of part in doc."""
    at = -1
    for _ in range(nth + 1):
        at = doc.index(part, at + 1)
    return doc[:at].count(b"\n") + 1


def broken(los):
    """The LOS with an element the schema does not allow in it."""
    return los.replace(b"</learningOpportunitySpecification>",
                       b"<notAnEwpElement/></learningOpportunitySpecification>")


def test_ewp_samples_exist():
    assert len(ewp_los()) >= 2, f"no EWP Courses sample with two LOS under {SHARED}"


def test_ewp_bulk_then_repost_then_replace(server, world, db):
    mcx(db, "institution", "add", "uw.edu.pl", "--name", "University of Warsaw", "--country", "PL")
    token = world["admin@mcx.test"]
    los = ewp_los()
    r = bulk(server.port, "uw.edu.pl", read(EWP_SAMPLE), token)
    assert r.status == 200, r.text()
    rep = r.json()
    assert rep == {"accepted": len(los), "unchanged": 0, "removed": 0, "rejected": []}, rep

    # what the EWP codec reads, with the URL's institution as the HEI
    first = get_offer(server.port, "uw.edu.pl", los_id(los[0]))
    assert first.status == 200, first.text()
    o = first.json()
    assert o["institution"]["id"] == "uw.edu.pl"
    assert o["provider"]["id"] == "uw.edu.pl" and o["provider"]["country"] == "PL", o
    assert o["title"]["en"] == "Introductory calculus" and o["ects"] == 15, o
    assert o["isced"] == ["0541"] and o["starts"] == "2016-07-01", o
    assert "learning_outcomes" in o["completeness"]["missing"]
    assert db.query("SELECT count(*) FROM offer_sources WHERE institution_id = 'uw.edu.pl' "
                    "AND format = 'ewp'") == "1"

    r = bulk(server.port, "uw.edu.pl", read(EWP_SAMPLE), token)
    assert r.json() == {"accepted": 0, "unchanged": len(los), "removed": 0, "rejected": []}

    # replace with the first LOS alone: the others go
    r = bulk(server.port, "uw.edu.pl", ewp_doc(los[0]), token, mode="replace")
    assert r.status == 200, r.text()
    assert r.json() == {"accepted": 0, "unchanged": 1, "removed": len(los) - 1, "rejected": []}
    for gone in los[1:]:
        assert get_offer(server.port, "uw.edu.pl", los_id(gone)).status == 404
    assert get_offer(server.port, "uw.edu.pl", los_id(los[0])).json()["version"] == o["version"]


def test_ewp_bulk_rejects_a_broken_los_alone_and_a_repeated_id(server, world, db):
    mcx(db, "institution", "add", "uj.edu.pl", "--name", "Jagiellonian University", "--country",
        "PL")
    token = world["admin@mcx.test"]
    los = ewp_los()
    doc = ewp_doc(los[0], broken(los[1]))
    r = bulk(server.port, "uj.edu.pl", doc, token)
    assert r.status == 200, r.text()
    rep = r.json()
    assert (rep["accepted"], rep["unchanged"], rep["removed"]) == (1, 0, 0), rep
    assert len(rep["rejected"]) == 1, rep
    bad = rep["rejected"][0]
    assert bad["index"] == 1 and bad["external_id"] == los_id(los[1]), bad
    assert bad["line"] == line_of(doc, b"<learningOpportunitySpecification>", 1), bad
    assert bad["errors"] and any("notAnEwpElement" in e["message"] for e in bad["errors"]), bad
    assert all("learningOpportunitySpecification[2]" in e["path"] for e in bad["errors"]), bad
    assert get_offer(server.port, "uj.edu.pl", los_id(los[0])).status == 200
    assert get_offer(server.port, "uj.edu.pl", los_id(los[1])).status == 404

    # a los-id twice: the first wins, the other is rejected and says why
    r = bulk(server.port, "uj.edu.pl", ewp_doc(los[0], los[1], los[0]), token)
    assert r.status == 200, r.text()
    rep = r.json()
    assert (rep["accepted"], rep["unchanged"]) == (1, 1), rep
    assert [(x["index"], x["external_id"]) for x in rep["rejected"]] == [(2, los_id(los[0]))], rep
    err = rep["rejected"][0]["errors"]
    assert any("already used by the learning opportunity at index 0" in e["message"]
               and e["path"].endswith("learningOpportunitySpecification[3]/los-id")
               for e in err), err


def test_ewp_put_one_los(server, world, db):
    mcx(db, "institution", "add", "agh.edu.pl", "--name", "AGH University", "--country", "PL")
    token = world["admin@mcx.test"]
    los = ewp_los()
    ext = los_id(los[0])
    r = put(server.port, "agh.edu.pl", ext, ewp_doc(los[0]), token)
    assert r.status == 201, r.text()
    o = r.json()
    assert o["external_id"] == ext and o["provider"]["id"] == "agh.edu.pl", o
    assert o["title"]["en"] == "Introductory calculus"
    r = put(server.port, "agh.edu.pl", ext, ewp_doc(los[0]), token)
    assert r.status == 200 and r.json()["version"] == o["version"], r.text()
    assert db.query("SELECT s.format FROM offers o JOIN offer_sources s ON s.id = o.source_id "
                    f"WHERE o.institution_id = 'agh.edu.pl' AND o.external_id = '{ext}'") == "ewp"
    # the same LOS in a whole catalogue: nothing new
    r = bulk(server.port, "agh.edu.pl", ewp_doc(los[0]), token)
    assert r.json() == {"accepted": 0, "unchanged": 1, "removed": 0, "rejected": []}


def test_ewp_put_errors_are_422_with_details(server, world):
    token = world["admin@mcx.test"]
    los = ewp_los()
    ext = los_id(los[0])
    # the URL names another LOS
    r = put(server.port, "vdu.lt", los_id(los[1]), ewp_doc(los[0]), token)
    body = assert_json_error(r, 422, "external_id_mismatch")
    assert ext in body["error"]["message"]
    # several LOS
    r = put(server.port, "vdu.lt", ext, read(EWP_SAMPLE), token)
    body = assert_json_error(r, 422, "validation_failed")
    assert "learningOpportunitySpecification" in body["error"]["message"], body
    # an invalid LOS
    doc = ewp_doc(broken(los[0]))
    r = put(server.port, "vdu.lt", ext, doc, token)
    body = assert_json_error(r, 422, "validation_failed")
    assert "EWP" in body["error"]["message"], body
    details = body["error"]["details"]
    assert any("notAnEwpElement" in d["message"] and d.get("line", 0) > 0 for d in details), details
    assert get_offer(server.port, "vdu.lt", ext).status == 404


def test_ewp_doctype_is_400_and_an_unknown_root_422(server, world):
    token = world["pub@vdu.lt"]
    doc = read(EWP_SAMPLE)
    with_doctype = b'<?xml version="1.0"?>\n<!DOCTYPE courses-response [<!ENTITY x "y">]>\n' + doc
    r = put(server.port, "vdu.lt", los_id(ewp_los()[0]), with_doctype, token)
    assert_json_error(r, 400, "malformed_xml")
    r = bulk(server.port, "vdu.lt", with_doctype, token)
    assert_json_error(r, 400, "malformed_xml")
    r = bulk(server.port, "vdu.lt", b'<courses-response xmlns="urn:not-ewp"/>', token)
    body = assert_json_error(r, 422, "unsupported_document")
    msg = body["error"]["message"]
    assert "LOQ Courses" in msg and "courses-response" in msg, msg
