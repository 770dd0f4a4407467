"""The demo network (issue 8, demo/): every demo catalogue is valid Europass LOQ, publishes
with `mcx publish` with nothing rejected, and mcx reads back every field the document
states (compared with an independent reading of the XML); the network has the promised
shape: at least 5 institutions in at least 3 countries, 40 offers, titles in English and
the institution's language, no two titles alike, plausible credits, levels and dates."""

import collections
import csv
import glob
import json
import os
import shutil
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

import mcxtest
from mcxtest import http

SOURCE = mcxtest.source_dir()
DEMO = os.path.join(SOURCE, "demo")
XSD = os.path.join(SOURCE, "schemas", "loq", "loq.xsd")

NS = {"l": "http://data.europa.eu/snb/model/ap/loq-constraints/",
      "skos": "http://www.w3.org/2004/02/skos/core#",
      "dc": "http://purl.org/dc/terms/"}
LANG_URI = "http://publications.europa.eu/resource/authority/language/"
COUNTRY_URI = "http://publications.europa.eu/resource/authority/country/"
CURRENCY_URI = "http://publications.europa.eu/resource/authority/currency/"
ISCED_URI = "http://data.europa.eu/snb/isced-f/"
EQF_URI = "http://data.europa.eu/snb/eqf/"
ECTS_URI = "http://data.europa.eu/snb/education-credit/6fcec5c5af"
MODE_URI = "http://data.europa.eu/snb/learning-assessment/"
TOPIC_URI = "http://data.europa.eu/snb/qualification-topics#"
# The vocabulary codes the demo uses, as mcx reports them (DESIGN §5 value conventions).
LANGS = {"ENG": "en", "LIT": "lt", "CAT": "ca", "SPA": "es", "EST": "et", "POR": "pt",
         "DEU": "de", "FRA": "fr"}
COUNTRIES = {"LTU": "LT", "ESP": "ES", "EST": "EE", "PRT": "PT", "DEU": "DE", "FRA": "FR"}
MODES = {"920fbb3cbe": "online", "e92d221e4d": "blended", "9191af2ed9": "onsite"}


def institutions():
    with open(os.path.join(DEMO, "institutions.tsv"), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


INSTITUTIONS = institutions()
IDS = [i["id"] for i in INSTITUTIONS]


def demo_file(iid):
    return os.path.join(DEMO, f"{iid}.xml")


# ---- an independent reading of a demo document (ElementTree, not mcx) ----


def texts(el, name):
    return {t.get("language"): t.text for t in el.findall(f"l:{name}", NS)}


def code(el, prefix):
    uri = el.get("uri")
    assert uri.startswith(prefix), uri
    return uri[len(prefix):]


def notes(el, name, topic):
    out = {}
    for n in el.findall(f"l:{name}", NS):
        subject = n.find("dc:subject", NS)
        if topic is None or (subject is not None and subject.get("uri") == TOPIC_URI + topic):
            out.update(texts(n, "noteLiteral"))
    return out


def expected_offers(path):
    """external id -> the offer as DESIGN §5's JSON should show it."""
    root = ET.parse(path).getroot()
    by_id = {}
    for container in root:
        for entity in container:
            if entity.get("id") is not None:
                by_id[entity.get("id")] = entity
    out = {}
    for lo in root.findall("l:learningOpportunityReferences/l:learningOpportunity", NS):
        spec = by_id[lo.find("l:learningAchievementSpecification", NS).get("idref")]
        org = by_id[lo.find("l:providedBy", NS).get("idref")]
        loc = by_id[org.find("l:location", NS).get("idref")]
        amount = lo.find("l:priceDetail/l:amount", NS)
        temporal = lo.find("l:temporal", NS)
        entry = notes(spec, "entryRequirement", None)
        entry.update(notes(spec, "additionalNote", "entry-requirements"))
        ext = lo.find("l:identifier/skos:notation", NS).text
        out[ext] = {
            "external_id": ext,
            "title": texts(lo, "title"),
            "description": texts(lo, "description"),
            "homepage": lo.find("l:homepage/l:contentUrl", NS).text,
            "starts": temporal.find("l:startDate", NS).text[:10],
            "ends": temporal.find("l:endDate", NS).text[:10],
            "application_deadline": lo.find("l:applicationDeadline", NS).text[:10],
            "mode": MODES[code(lo.find("l:mode", NS), MODE_URI)],
            "price": {"amount": float(amount.find("l:value", NS).text),
                      "currency": code(amount.find("l:unit", NS), CURRENCY_URI)},
            "languages": [LANGS[code(x, LANG_URI)] for x in spec.findall("l:language", NS)],
            "isced": [code(x, ISCED_URI) for x in spec.findall("l:ISCEDFCode", NS)],
            "eqf": int(code(spec.find("l:EQFLevel", NS), EQF_URI)),
            "ects": float(spec.find("l:creditPoint/l:point", NS).text),
            "volume_of_learning": spec.find("l:volumeOfLearning", NS).text,
            "entry_requirements": entry,
            "learning_outcomes": [texts(by_id[x.get("idref")], "title")
                                  for x in spec.findall("l:learningOutcome", NS)],
            "assessment": texts(by_id[spec.find("l:provenBy", NS).get("idref")], "title"),
            "quality_assurance": notes(spec, "additionalNote", "accreditation-and-quality-assurance"),
            "provider": {"id": org.get("id"), "name": texts(org, "legalName"),
                         "homepage": org.find("l:homepage/l:contentUrl", NS).text,
                         "country": COUNTRIES[code(loc.find("l:address/l:countryCode", NS),
                                                   COUNTRY_URI)]},
        }
        assert spec.find("l:creditPoint/l:framework", NS).get("uri") == ECTS_URI
    return out


EXPECTED = {iid: expected_offers(demo_file(iid)) for iid in IDS}
FIELDS = ["external_id", "title", "description", "homepage", "starts", "ends",
          "application_deadline", "mode", "price", "languages", "isced", "eqf", "ects",
          "volume_of_learning", "entry_requirements", "learning_outcomes", "assessment",
          "quality_assurance", "provider"]


def as_shown(offer):
    """The fields expected_offers states, as a served offer has them (numbers as floats)."""
    got = {k: offer.get(k) for k in FIELDS}
    got["ects"] = float(got["ects"]) if got["ects"] is not None else None
    if got["price"] is not None:
        got["price"] = dict(got["price"], amount=float(got["price"]["amount"]))
    return got


# ---- the files ----


def test_one_file_per_institution_and_nothing_else():
    assert sorted(glob.glob(os.path.join(DEMO, "*.xml"))) == sorted(demo_file(i) for i in IDS)
    assert os.path.isfile(os.path.join(DEMO, "README.md"))
    for inst in INSTITUTIONS:
        assert set(inst) == {"id", "country", "language", "name", "local_name", "homepage"}, inst
        assert all(inst.values()), inst
        assert inst["homepage"].startswith("https://"), inst


def test_every_file_validates_with_xmllint():
    if shutil.which("xmllint") is None:
        pytest.skip("xmllint (libxml2-utils) is not installed")
    r = subprocess.run(["xmllint", "--nonet", "--noout", "--schema", XSD,
                        *[demo_file(i) for i in IDS]], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]


def test_network_shape():
    assert len(INSTITUTIONS) >= 5
    assert len({i["country"] for i in INSTITUTIONS}) >= 3
    offers = [o for iid in IDS for o in EXPECTED[iid].values()]
    assert len(offers) == 40
    titles = collections.Counter(t for o in offers for t in set(o["title"].values()))
    assert [t for t, n in titles.items() if n > 1] == []
    for inst in INSTITUTIONS:
        for o in EXPECTED[inst["id"]].values():
            # English and the institution's language, in title, description, outcomes,
            # assessment and quality assurance
            for field in ("title", "description", "assessment", "quality_assurance",
                          "entry_requirements"):
                assert {"en", inst["language"]} <= set(o[field]), (o["external_id"], field)
                assert all(v and v.strip() for v in o[field].values()), (o["external_id"], field)
            assert o["title"]["en"] != o["title"][inst["language"]] or inst["language"] == "en"
            assert len(o["learning_outcomes"]) >= 3
            for lo in o["learning_outcomes"]:
                assert {"en", inst["language"]} <= set(lo), o["external_id"]
            assert o["provider"]["country"] == inst["country"]
            assert o["provider"]["name"]["en"] == inst["name"]
            assert o["provider"]["name"][inst["language"]] == inst["local_name"]
            assert 1 <= o["ects"] <= 30 and 5 <= o["eqf"] <= 7, o["external_id"]
            assert o["languages"] and o["isced"] and all(len(c) == 4 for c in o["isced"])
            assert o["price"]["currency"] == "EUR" and o["price"]["amount"] >= 0
            assert "2027-01-01" <= o["application_deadline"] <= o["starts"] < o["ends"] <= "2027-12-31"
    assert sum(2 <= o["ects"] <= 10 for o in offers) >= 36
    assert {o["mode"] for o in offers} == {"online", "blended", "onsite"}
    assert any(o["price"]["amount"] == 0 for o in offers)
    assert any(o["price"]["amount"] > 0 for o in offers)
    assert len({o["eqf"] for o in offers}) == 3


# ---- publishing them ----


def mcx(db, *args):
    r = subprocess.run([mcxtest.mcx_binary(), *args], capture_output=True, text=True, timeout=120,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), cwd=SOURCE)
    assert mcxtest.sanitizer_report(r.stderr) is None, r.stderr
    return r


@pytest.fixture(scope="module")
def loaded(db):
    """What script/server does on a first start: add, then publish, each institution."""
    reports = {}
    for inst in INSTITUTIONS:
        r = mcx(db, "institution", "add", inst["id"], "--name", inst["name"], "--country",
                inst["country"], "--local-name", f"{inst['language']}={inst['local_name']}",
                "--homepage", inst["homepage"], "--home")
        assert r.returncode == 0, r.stderr
        r = mcx(db, "publish", os.path.join("demo", inst["id"] + ".xml"), "--institution",
                inst["id"])
        assert r.returncode == 0, r.stderr
        reports[inst["id"]] = json.loads(r.stdout)
    return reports


@pytest.fixture(scope="module")
def server(module_mcxd, loaded):
    return module_mcxd()


def test_every_file_publishes_with_nothing_rejected(loaded, db):
    for iid, rep in loaded.items():
        assert rep == {"accepted": len(EXPECTED[iid]), "unchanged": 0, "removed": 0,
                       "rejected": []}, (iid, rep)
    assert db.query("SELECT count(*) FROM offers WHERE deleted_at IS NULL") == "40"


def test_mcx_reads_every_field_written(server, loaded):
    for iid in IDS:
        for ext, want in EXPECTED[iid].items():
            r = http(server.port, "GET",
                     f"/api/v1/institutions/{iid}/offers/{urllib.parse.quote(ext, safe='')}")
            assert r.status == 200, (iid, ext, r.status)
            offer = r.json()
            assert as_shown(offer) == want, (iid, ext)
            assert offer["completeness"] == {"missing": []}, (iid, ext)
            assert offer["institution"]["id"] == iid


def test_search_finds_them_per_institution_and_in_both_languages(server, loaded):
    r = http(server.port, "GET", "/api/v1/institutions")
    assert r.status == 200
    listed = {i["id"]: i for i in r.json()["items"]}
    for inst in INSTITUTIONS:
        assert listed[inst["id"]]["home"] is True
        assert listed[inst["id"]]["country"] == inst["country"]
        assert listed[inst["id"]]["names"] == {"en": inst["name"],
                                               inst["language"]: inst["local_name"]}
        assert listed[inst["id"]]["homepage"] == inst["homepage"]
        r = http(server.port, "GET", f"/api/v1/offers?institution={inst['id']}&limit=1")
        assert r.status == 200
        assert r.json()["total"] == len(EXPECTED[inst["id"]]), inst["id"]
    # a word of a local title finds its offer, and so does the English one
    for q, ext in [("Wasserstofftechnologien", "RUB-MC-2701"), ("hydrogen", "RUB-MC-2701"),
                   ("kaugseire", "UT-MC-2707"), ("postedició", "UAB-MC-2702")]:
        r = http(server.port, "GET", f"/api/v1/offers?q={urllib.parse.quote(q)}")
        assert r.status == 200
        assert ext in [i["external_id"] for i in r.json()["items"]], q


def test_publishing_again_changes_nothing(db, loaded):
    for iid in IDS:
        r = mcx(db, "publish", demo_file(iid), "--institution", iid)
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        assert (rep["accepted"], rep["unchanged"], rep["rejected"]) == (0, len(EXPECTED[iid]), [])
