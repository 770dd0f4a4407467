"""`mcx gen-corpus` (issue 7): the multilingual search and benchmark corpus, loaded
through the publishing path into a fresh migrated database.

Checked with SQL: offers per institution and per language match the report, every
institution exists with the country of its domain (one that was there before is
kept), the fixed titles of catalogue/gen.h sit at their external ids, codes and
dates are sane; a second run with the same arguments changes nothing (every offer
unchanged, no new version, no audit entry), nor does a run with another chunk size.
"""

import json
import os
import pwd
import re
import subprocess

import pytest

import mcxtest

ACTOR = "cli:" + pwd.getpwuid(os.geteuid()).pw_name
N = 2000
K = 50
LANGS = {"en", "de", "fr", "es", "it", "pl", "lt", "pt"}
TLD_COUNTRY = {"ie": "IE", "de": "DE", "fr": "FR", "es": "ES", "cat": "ES", "it": "IT",
               "pl": "PL", "lt": "LT", "pt": "PT", "nl": "NL", "fi": "FI", "se": "SE",
               "dk": "DK", "at": "AT", "cz": "CZ", "ee": "EE", "be": "BE", "lv": "LV"}
# catalogue/gen.h: offer i is "corpus-%07d" of institution i % K (the K=50 list
# starts tcd.ie, uni-heidelberg.de, unistra.fr, uab.cat, unibo.it, uw.edu.pl, vdu.lt …)
FIXED = [
    (0, "tcd.ie", "en", "Machine learning", None),
    (1, "uni-heidelberg.de", "en", "Introduction to machine learning", None),
    (2, "unistra.fr", "de", "Maschinelles Lernen für Ingenieure", "Machine learning for engineers"),
    (3, "uab.cat", "de", "Grundlagen der Datenanalyse", None),
    (8, "uva.nl", "lt", "Mašininio mokymosi pagrindai", None),
    (10, "ucd.ie", "lt", "Duomenų raštingumas", "Data literacy"),
    (11, "tum.de", "fr", "Économie circulaire", "Circular economy"),
]


def mcx(db, *args, timeout=600):
    r = subprocess.run([mcxtest.mcx_binary(), *args], capture_output=True, text=True,
                       timeout=timeout, env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}),
                       cwd=mcxtest.source_dir())
    report = mcxtest.sanitizer_report(r.stderr)
    assert report is None, f"sanitizer report from mcx {args}:\n{report}"
    return r


def gen_corpus(db, *args):
    r = mcx(db, "gen-corpus", *args)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    return json.loads(r.stdout), r.stderr


def q(db, sql):
    return db.query(sql)


def rows(db, sql):
    out = q(db, sql)
    return [line.split("|") for line in out.splitlines()] if out else []


def state(db):
    """What a run that changes nothing must leave as it was."""
    return q(db, "SELECT (SELECT count(*) FROM offers), (SELECT max(version) FROM offers), "
                 "(SELECT max(updated_at) FROM offers), (SELECT count(*) FROM audit_log), "
                 "(SELECT count(*) FROM institutions)")


@pytest.fixture(scope="module")
def loaded(db):
    # an institution that exists already is kept as it is
    r = mcx(db, "institution", "add", "vdu.lt", "--name", "VMU (registered by hand)",
            "--country", "LT")
    assert r.returncode == 0, r.stderr
    report, err = gen_corpus(db, str(N))
    return report, err


def test_report_and_progress(loaded):
    report, err = loaded
    assert report["offers"] == N
    assert report["accepted"] == N and report["unchanged"] == 0 and report["rejected"] == 0
    assert report["institutions_created"] == K - 1
    assert len(report["institutions"]) == K
    assert set(report["institutions"].values()) == {N // K}
    assert set(report["languages"]) == LANGS
    assert sum(report["languages"].values()) == N
    assert all(n > 0 for n in report["languages"].values()), report["languages"]
    # progress on stderr: institutions done and a rate
    assert re.search(r"50/50 institutions \(lu\.se, added\), 2000/2000 offers .* offers/s", err), err
    assert "(vdu.lt)," in err


def test_counts_per_institution(db, loaded):
    report, _ = loaded
    got = dict(rows(db, "SELECT institution_id, count(*) FROM offers WHERE deleted_at IS NULL "
                        "GROUP BY 1"))
    assert {k: int(v) for k, v in got.items()} == report["institutions"]


def test_counts_per_language(db, loaded):
    report, _ = loaded
    got = dict(rows(db, "SELECT languages[1], count(*) FROM offers GROUP BY 1"))
    assert {k: int(v) for k, v in got.items()} == report["languages"]
    assert q(db, "SELECT count(*) FROM offers WHERE cardinality(languages) <> 1") == "0"
    # the title's first language is the offer's; description and outcomes likewise
    assert q(db, "SELECT count(*) FROM offers WHERE NOT title ? languages[1] "
                 "OR NOT doc->'description' ? languages[1] "
                 "OR NOT doc->'learning_outcomes'->0 ? languages[1]") == "0"
    # some non-English offers carry an English title too, and only those
    with_en = int(q(db, "SELECT count(*) FROM offers WHERE languages[1] <> 'en' AND title ? 'en'"))
    non_en = N - report["languages"]["en"]
    assert 0.15 * non_en < with_en < 0.45 * non_en, (with_en, non_en)
    assert q(db, "SELECT count(*) FROM offers WHERE (SELECT count(*) FROM jsonb_object_keys(title)) "
                 "> 1 AND NOT title ? 'en'") == "0"


def test_per_institution_and_language(db, loaded):
    # every institution offers courses in its own language mostly (or English)
    got = rows(db, "SELECT institution_id, languages[1], count(*) FROM offers "
                   "GROUP BY 1, 2 ORDER BY 1, 3 DESC")
    top = {}
    for inst, lang, _ in got:
        top.setdefault(inst, lang)
    assert top["uni-heidelberg.de"] in ("de", "en")
    assert top["vdu.lt"] in ("lt", "en")
    assert top["tcd.ie"] == "en"


def test_institutions(db, loaded):
    insts = rows(db, "SELECT id, country, name->>'en' FROM institutions")
    assert len(insts) == K
    for iid, country, name in insts:
        assert TLD_COUNTRY[iid.rsplit(".", 1)[1]] == country, (iid, country)
        assert name
    assert q(db, "SELECT name->>'en' FROM institutions WHERE id = 'vdu.lt'") == \
        "VMU (registered by hand)"
    assert q(db, "SELECT name->>'en' FROM institutions WHERE id = 'uni-heidelberg.de'") == \
        "Heidelberg University"
    # created as `mcx institution add` would: one audit entry each, by the CLI user
    assert q(db, f"SELECT count(*) FROM audit_log WHERE entity = 'institution' AND action = "
                 f"'create' AND actor = '{ACTOR}'") == str(K)


def test_fixed_titles(db, loaded):
    for i, inst, lang, title, title_en in FIXED:
        got = rows(db, f"SELECT institution_id, languages[1], title->>languages[1], "
                       f"coalesce(title->>'en', '') FROM offers WHERE external_id = 'corpus-{i:07d}'")
        expect_en = title_en if title_en is not None else (title if lang == "en" else "")
        assert got == [[inst, lang, title, expect_en]], (i, got)
    # the search columns see them (accent folding of the stored title)
    assert q(db, "SELECT count(*) FROM offers WHERE title_text LIKE '%economie circulaire%'") != "0"


def test_codes_and_dates(db, loaded):
    with open(os.path.join(mcxtest.source_dir(), "schemas", "loq", "cv", "isced-f.xsd")) as f:
        vocab = set(re.findall(r'"http://data\.europa\.eu/snb/isced-f/(\d{4})"', f.read()))
    codes = set(q(db, "SELECT DISTINCT unnest(isced) FROM offers").split())
    assert codes and codes <= vocab, codes - vocab
    assert len(codes) >= 40
    assert q(db, "SELECT count(*) FROM offers WHERE eqf NOT BETWEEN 4 AND 8 OR eqf IS NULL") == "0"
    assert int(q(db, "SELECT count(*) FROM offers WHERE eqf BETWEEN 5 AND 7")) > 0.8 * N
    assert set(q(db, "SELECT DISTINCT mode FROM offers").split()) == {"online", "blended", "onsite"}
    assert set(q(db, "SELECT DISTINCT ects FROM offers").split()) <= {
        "1.00", "2.00", "2.50", "3.00", "4.00", "5.00", "6.00", "7.50", "10.00", "15.00", "30.00"}
    assert q(db, "SELECT count(*) FROM offers WHERE starts < '2026-01-01' OR starts > '2028-12-31' "
                 "OR ends <= starts OR application_deadline >= starts OR starts IS NULL") == "0"
    assert q(db, "SELECT count(DISTINCT extract(year FROM starts)) FROM offers") == "3"
    # complete offers: nothing of the Council Recommendation's list is missing
    assert q(db, "SELECT count(*) FROM offers WHERE completeness <> '{}'") == "0"


def test_second_run_changes_nothing(db, loaded):
    before = state(db)
    report, _ = gen_corpus(db, str(N))
    assert (report["accepted"], report["unchanged"], report["rejected"]) == (0, N, 0)
    assert report["institutions_created"] == 0
    assert state(db) == before
    assert q(db, "SELECT max(version) FROM offers") == "1"


def test_chunk_size_does_not_change_offers(db, loaded):
    before = state(db)
    report, err = gen_corpus(db, str(N), "--chunk", "7")
    assert (report["accepted"], report["unchanged"]) == (0, N)
    assert "tcd.ie: 35/40 offers" in err
    assert state(db) == before


@pytest.mark.parametrize("args", [[], ["x"], ["10", "--institutions", "0"],
                                  ["10", "--institutions", "158"], ["10", "--chunk", "0"],
                                  ["10", "--chunk", "20001"], ["10", "--seed", "-1"],
                                  ["10", "--colour"]])
def test_usage_errors(db, args):
    r = mcx(db, "gen-corpus", *args, timeout=60)
    assert r.returncode == 2, r
    assert r.stdout == ""
    assert "usage: mcx gen-corpus" in r.stderr or "gen-corpus" in r.stderr


def test_help_lists_gen_corpus(db):
    r = mcx(db, "--help", timeout=60)
    assert "mcx gen-corpus N [--seed S] [--institutions K] [--chunk C]" in r.stdout
