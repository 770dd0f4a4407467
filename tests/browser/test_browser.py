"""Browser tests of the web front end (issue 8, ctest label `browser`).

One real mcxd on a fresh migrated database holding the demo network (loaded the way
script/server loads it: `mcx institution add` + `mcx publish demo/<id>.xml`), serving
the repository's web/ directory. Then `node --test tests/browser/*.test.mjs` drives
Debian's chromium through playwright-core against it (MCX_BASE_URL) and writes its
screenshots to MCX_SCREENSHOT_DIR (ctest: build/<preset>/browser-screenshots). Node's
output is printed; the test fails when node fails, when mcxd did not stop cleanly, or
when mcxd's log holds a sanitizer report.

The main node sends its mails (e-mail address confirmation) to tests/smtp_standin.py,
whose spool directory the tests read (MCX_SMTP_SPOOL); the links in them point to
http://mcx.test (--public-url).

Set MCX_BROWSER_ONLY=search,facet to run only those *.test.mjs files. docs/testing.md
says how to run the node tests against a server started by hand.
"""

import csv
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import mcxtest  # noqa: E402

# The whole node run (some forty chromium sessions, about 4 minutes under ASan) must end
# well inside ctest's TIMEOUT.
NODE_TIMEOUT_S = 720
DEMO_OFFERS = 40
PASSWORD = "correct horse battery staple"
SHARED = os.environ.get("MCX_SHARED_DIR") or os.path.join(mcxtest.source_dir(), "..", "shared")
# The sample micro-credential: University of Zed (uniz.edu), not in the demo network,
# so its proposal at vdu.lt is needs_review with reason codes.
ELM3 = os.path.join(SHARED, "samples", "elm", "elm3", "Sample-MC-Annex1-unsigned.jsonld")
# The EDCI issuer stand-in's secrets (tests/edci_standin.py): the outbox delivers to it.
SEAL_PASSWORD = "browser-seal-password"
EDCI_TOKEN = "browser-edci-token"


def demo_institutions():
    path = os.path.join(mcxtest.source_dir(), "demo", "institutions.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        return [row for row in csv.DictReader(f, delimiter="\t")
                if row["id"] and not row["id"].startswith("#")]


def mcx(db, *args, stdin=None):
    r = subprocess.run([mcxtest.mcx_binary(), *args], input=stdin, capture_output=True, text=True,
                       timeout=120, cwd=mcxtest.source_dir(),
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}))
    assert r.returncode == 0 and mcxtest.sanitizer_report(r.stderr) is None, \
        f"mcx {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def db():
    database = mcxtest.Database(mcxtest.shared_conninfo("postgres"), "browser")
    database.create(migrate=True)
    yield database
    database.drop()


def load_demo(db):
    """The demo network, as script/server loads it on a first start."""
    for inst in demo_institutions():
        mcx(db, "institution", "add", inst["id"], "--name", inst["name"],
            "--country", inst["country"],
            "--local-name", f"{inst['language']}={inst['local_name']}",
            "--homepage", inst["homepage"], "--home")
        mcx(db, "publish", os.path.join("demo", inst["id"] + ".xml"),
            "--institution", inst["id"])
    live = db.query("SELECT count(*) FROM offers WHERE deleted_at IS NULL")
    assert live == str(DEMO_OFFERS), f"demo data: {live} live offers, expected {DEMO_OFFERS}"


@pytest.fixture(scope="module")
def demo(db):
    load_demo(db)
    # registrars of two demo universities, for the recognition test's agreement
    tokens = {}
    for inst in ("vdu.lt", "uab.cat"):
        email = f"registrar@{inst}"
        mcx(db, "user", "add", email, "--role", "registrar", "--institution", inst,
            "--password-stdin", stdin=PASSWORD + "\n")  # the queue test logs in with it
        tokens[inst] = mcx(db, "token", "create", "--user", email).strip()
    # two credentials in the registry for the verification page: one delivered, one
    # revoked after delivery (what the outbox and the revoke endpoint leave behind)
    for state, reason in (("delivered", None), ("revoked", "issued to the wrong learner")):
        db.query(
            "INSERT INTO credentials (institution_id, offer_id, idempotency_key, learner,"
            " learner_name, learner_email, result, title, document, state, delivered_at,"
            " revoked_at, revoke_reason, created_by)"
            " SELECT 'vdu.lt', id, 'browser-" + state + "', '{\"given_name\": \"Ona\"}',"
            " 'Ona Petraitytė', 'ona@example.lt', '{}', 'Data literacy', '{}', '" + state + "',"
            " now(), " + ("now()" if reason else "NULL") + ", "
            + ("'" + reason + "'" if reason else "NULL") + ", 'test'"
            " FROM offers WHERE institution_id = 'vdu.lt' LIMIT 1")
    # one that failed (EDCI refused it): the publisher page sends it again
    db.query(
        "INSERT INTO credentials (institution_id, offer_id, idempotency_key, learner,"
        " learner_name, learner_email, result, title, document, state, attempts, last_error,"
        " created_by)"
        " SELECT 'vdu.lt', id, 'browser-failed', '{\"given_name\": \"Jonas\","
        " \"family_name\": \"Jonaitis\", \"email\": \"jonas@example.lt\"}',"
        " 'Jonas Jonaitis', 'jonas@example.lt', '{\"grade\": \"9\", \"date\": \"2026-11-20\"}',"
        " 'Data literacy', '{}', 'failed', 3, 'EDCI answered 401: the access token was refused',"
        " 'test' FROM offers WHERE institution_id = 'vdu.lt' LIMIT 1")
    tokens["verify"] = {
        "valid": db.query("SELECT id FROM credentials WHERE idempotency_key = 'browser-delivered'"),
        "revoked": db.query("SELECT id FROM credentials WHERE idempotency_key = 'browser-revoked'"),
    }
    return tokens


@pytest.fixture(scope="module")
def staff(db, demo):
    """One signed-up account per role for the staff pages' tests (MCX_STAFF): the
    password logs in through the page, the token calls the API from the test."""
    accounts = {}
    for role, email, inst in (("publisher", "publisher@vdu.lt", "vdu.lt"),
                              ("registrar", "registrar@vdu.lt", "vdu.lt"),
                              ("admin", "admin@mcx.test", None),
                              ("student", "student@example.org", None)):
        if role != "registrar":  # demo() made the registrars
            args = ["user", "add", email, "--role", role, "--password-stdin"]
            if inst:
                args += ["--institution", inst]
            mcx(db, *args, stdin=PASSWORD + "\n")
        accounts[role] = {"email": email, "password": PASSWORD, "institution": inst,
                          "token": mcx(db, "token", "create", "--user", email).strip()}
    return accounts


class EdciStandin:
    """tests/edci_standin.py on a free 127.0.0.1 port: EDCI's issuing API."""

    def __init__(self, secrets):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(mcxtest.source_dir(), "tests", "edci_standin.py"),
             "--password", SEAL_PASSWORD, "--token", EDCI_TOKEN, "--lifetime", "600"],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("port "), f"edci_standin.py: {line!r}"
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        (secrets / "seal").write_text(SEAL_PASSWORD + "\n")
        (secrets / "token").write_text(EDCI_TOKEN + "\n")
        self.args = ["--europass-url", self.url,
                     "--europass-seal-password-file", str(secrets / "seal"),
                     "--europass-token-file", str(secrets / "token"),
                     "--outbox-tick-ms", "200", "--outbox-backoff-ms", "200"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def issue_to(port, token, learner, key):
    """One credential of vdu.lt's first offer that is ready to issue, to learner."""
    auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    offers = json.loads(mcxtest.http(port, "GET", "/api/v1/institutions/vdu.lt/offers",
                                     auth).body)["items"]
    ready = [o for o in offers if not o["completeness"]["missing"]]
    assert ready, "no vdu.lt demo offer is ready to issue"
    body = {"offer_id": ready[0]["id"], "idempotency_key": key,
            "learner": {"given_name": "Eglė", "family_name": "Studentė", "email": learner},
            "result": {"grade": "10", "ects": ready[0]["ects"], "date": "2026-11-27"}}
    r = mcxtest.http(port, "POST", "/api/v1/credentials", auth, json.dumps(body).encode())
    assert r.status == 202, f"issuing: {r.status} {r.body!r}"
    cid = json.loads(r.body)["id"]
    mcxtest.wait_until(lambda: json.loads(mcxtest.http(
        port, "GET", f"/api/v1/credentials/{cid}", auth).body)["state"] == "delivered",
        60, 0.2, f"credential {cid} delivered")
    return cid


@pytest.fixture(scope="module")
def sealed(db, demo, staff, tmp_path_factory):
    """A credential sealed by a node with the local Europass adapter (an eSeal made
    here with openssl), for the student, before the main node (EDCI) starts: the file
    the student's page offers for download. The node stops once it is sealed."""
    eseal = mcxtest.make_eseal(tmp_path_factory.mktemp("eseal"))
    factory = mcxtest.McxdFactory(str(tmp_path_factory.mktemp("local")), db.url,
                                  os.path.join(mcxtest.source_dir(), "web"))
    node = factory.start("--harvest", "off", "--europass-adapter", "local",
                         "--europass-seal-file", str(eseal / "eseal.p12"),
                         "--europass-seal-password-file", str(eseal / "password"),
                         "--outbox-tick-ms", "100")
    try:
        cid = issue_to(node.port, staff["publisher"]["token"], staff["student"]["email"],
                       "browser-sealed")
    finally:
        problems = factory.cleanup()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
    return cid


class SmtpStandin:
    """tests/smtp_standin.py on a free 127.0.0.1 port: the mail relay. Every mail it
    accepts becomes <spool>/NNNNNN.json ({"from", "to", "data"})."""

    def __init__(self, spool):
        self.spool = str(spool)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(mcxtest.source_dir(), "tests", "smtp_standin.py"),
             "--spool", self.spool, "--lifetime", "900"],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("port "), f"smtp_standin.py: {line!r}"
        self.args = ["--smtp-url", f"smtp://127.0.0.1:{int(line.split()[1])}",
                     "--smtp-from", "mcx <no-reply@mcx.test>",
                     "--public-url", "http://mcx.test"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    standin = SmtpStandin(tmp_path_factory.mktemp("spool"))
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def server(db, demo, sealed, smtp, tmp_path_factory):
    web = os.path.join(mcxtest.source_dir(), "web")
    factory = mcxtest.McxdFactory(str(tmp_path_factory.mktemp("mcxd")), db.url, web)
    standin = EdciStandin(tmp_path_factory.mktemp("edci"))
    # the outbox sends what the publisher page issues (publish → issue → verify); the
    # harvester runs too, for the admin page's "Harvest now"; mails (a sign-up's
    # confirmation) go to the SMTP stand-in
    yield factory.start(*standin.args, *smtp.args)
    problems = factory.cleanup()
    standin.stop()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def call(server, token, method, path, body):
    r = mcxtest.http(server.port, method, path,
                     {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
                     json.dumps(body).encode())
    assert r.status in (200, 201), f"{method} {path}: {r.status} {r.body!r}"
    return json.loads(r.body)


@pytest.fixture(scope="module")
def queue(db, demo, server):
    """For the registrar's queue (queue.test.mjs): a student's recognition request to
    vdu.lt, submitted through the API, and a draft agreement of vdu.lt and uab.cat that
    only uab.cat's registrar could make active (so no test's catalogue gains a
    recognition from the queue test's approval)."""
    student = "queue-student@example.org"
    mcx(db, "user", "add", student, "--role", "student", "--password-stdin",
        stdin=PASSWORD + "\n")
    token = mcx(db, "token", "create", "--user", student).strip()
    with open(ELM3, encoding="utf-8") as f:
        credential = json.load(f)
    req = call(server, token, "POST", "/api/v1/recognition-requests",
               {"credential": credential, "target": {"institution": "vdu.lt"}})
    agreement = call(server, demo["uab.cat"], "POST", "/api/v1/agreements", {
        "title": "Kaunas–Barcelona draft for the queue", "parties": ["uab.cat", "vdu.lt"],
        "valid_from": "2026-01-01", "rules": [{"recognise_as": "elective"}]})
    return {"request": req["id"], "agreement": agreement["id"], "password": PASSWORD,
            "registrar": "registrar@vdu.lt", "student": student, "student_token": token}


def screenshot_dir():
    path = os.environ.get("MCX_SCREENSHOT_DIR") or os.path.join(
        tempfile.gettempdir(), "mcx-browser-screenshots")
    os.makedirs(path, exist_ok=True)
    for old in glob.glob(os.path.join(path, "*.png")):  # no stale pictures from a past run
        os.unlink(old)
    return os.path.abspath(path)


def selected_files():
    files = sorted(glob.glob(os.path.join(HERE, "*.test.mjs")))
    only = [s.strip() for s in os.environ.get("MCX_BROWSER_ONLY", "").split(",") if s.strip()]
    if only:
        files = [f for f in files if os.path.basename(f)[:-len(".test.mjs")] in only]
    return files


def node_help(node):
    r = subprocess.run([node, "--help"], capture_output=True, text=True, timeout=30)
    return r.stdout


def run_node(args, env):
    """Runs node in its own process group, so a timeout also ends the browsers it started."""
    proc = subprocess.Popen(args, cwd=HERE, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=NODE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        pytest.fail(f"node did not finish within {NODE_TIMEOUT_S} s; its output:\n{out}",
                    pytrace=False)
    return proc.returncode, out


def test_browser_suite(db, server, demo, queue, staff, sealed, smtp):
    node = shutil.which("node")
    assert node, "node is not installed (script/bootstrap installs it)"
    assert os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")), \
        "tests/browser/node_modules is missing: run script/bootstrap"
    files = selected_files()
    assert files, "no *.test.mjs file selected"
    shots = screenshot_dir()
    env = dict(os.environ)
    env.update({"MCX_BASE_URL": f"http://127.0.0.1:{server.port}",
                "MCX_SCREENSHOT_DIR": shots, "NO_COLOR": "1",
                "MCX_REGISTRAR_TOKENS": json.dumps({k: v for k, v in demo.items()
                                                     if k != "verify"}),
                "MCX_VERIFY_IDS": json.dumps(demo["verify"]),
                "MCX_QUEUE": json.dumps(queue),
                "MCX_STAFF": json.dumps(staff),
                "MCX_SMTP_SPOOL": smtp.spool,
                "MCX_SEALED_ID": sealed,
                # the journey test compares the impact page with SQL of its own
                "MCX_DATABASE_URL": db.url, "MCX_PSQL": mcxtest.psql_binary(),
                "MCX_ELM3": ELM3})
    args = [node, "--test", "--test-reporter=spec"]
    if "--test-concurrency" in node_help(node):  # Node 20; Debian 12's Node 18 has none
        args.append("--test-concurrency=1")  # one chromium at a time on a 2-core machine
    started = time.monotonic()
    rc, out = run_node(args + files, env)
    took = time.monotonic() - started
    print(out)
    print(f"node --test: exit {rc} after {took:.1f} s; screenshots in {shots}")
    assert server.alive(), f"mcxd died during the browser tests:\n{server.log_tail()}"
    assert rc == 0, (f"node --test failed (exit {rc}); its output is above, the screenshots "
                     f"are in {shots}")
