"""The local Europass adapter (DESIGN §5 "Issuance": --europass-adapter edci|local):
mcxd seals each credential with the institution's eSeal (made here with the openssl
command, PKCS#12 and PEM), completes it as EDCI would (issued, the issuer's eIDAS
identifier from the certificate), keeps the sealed file for the learner and the
institution's staff to download, and /verify checks the seal. The seal is verified
here independently of mcx, with `openssl dgst`."""

import base64
import json
import os
import subprocess
import time

import pytest

import mcxtest
from mcxtest import assert_json_error, http, run_mcxd
from test_issuance import OFFER, PASSWORD, call, issue, mcx, offer, wait_states  # noqa: F401

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORG_ID = "VATLT-100002513"
SEAL_PASSWORD = "eseal pass 42"
LEARNER = "learner@example.org"


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def eseal(tmp_path_factory):
    return mcxtest.make_eseal(tmp_path_factory.mktemp("eseal"), ORG_ID, SEAL_PASSWORD)


@pytest.fixture(scope="module")
def world(db):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University",
        "--country", "LT", "--homepage", "https://www.vdu.lt/", "--home")
    mcx(db, "institution", "add", "ut.ee", "--name", "University of Tartu", "--country", "EE",
        "--home")
    tokens = {}
    for name, email, role, inst in [("pub", "pub@example.org", "publisher", "vdu.lt"),
                                    ("pub-ut", "pub-ut@example.org", "publisher", "ut.ee"),
                                    ("learner", LEARNER, "student", None),
                                    ("other", "other@example.org", "student", None),
                                    ("reg", "reg@example.org", "registrar", "vdu.lt")]:
        args = ["user", "add", email, "--role", role, "--password-stdin"]
        if inst:
            args += ["--institution", inst]
        mcx(db, *args, stdin=PASSWORD + "\n")
        tokens[name] = mcx(db, "token", "create", "--user", email)
    return {"db": db, "tokens": tokens}


def local_args(eseal, *extra):
    return ["--harvest", "off", "--europass-adapter", "local",
            "--europass-seal-file", str(eseal / "eseal.p12"),
            "--europass-seal-password-file", str(eseal / "password"),
            "--outbox-tick-ms", "100", "--web-root", os.path.join(SOURCE, "web"), *extra]


@pytest.fixture(scope="module")
def srv(module_mcxd, world, eseal):
    return module_mcxd(*local_args(eseal))


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_with_openssl(sealed_text, workdir):
    """RFC 7797 (b64 false): the signature covers BASE64URL(header) '.' payload; the
    key is the first x5c certificate's. Returns the header and the payload."""
    env = json.loads(sealed_text)
    sig = env["signatures"][0]
    header = json.loads(b64url(sig["protected"]))
    assert header["alg"] == "RS256" and header["b64"] is False and "b64" in header["crit"]
    leaf = base64.b64decode(header["x5c"][0])
    (workdir / "leaf.der").write_bytes(leaf)
    (workdir / "input").write_bytes(sig["protected"].encode() + b"." + env["payload"].encode())
    (workdir / "sig").write_bytes(b64url(sig["signature"]))
    openssl("x509", "-inform", "DER", "-in", "leaf.der", "-pubkey", "-noout", "-out", "pub.pem",
            cwd=workdir)
    out = openssl("dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "input",
                  cwd=workdir)
    assert "Verified OK" in out
    return header, json.loads(env["payload"])


def test_a_credential_is_sealed_here_and_verifies(srv, world, offer, tmp_path):
    r = issue(srv.port, world, offer, "local-1", email=LEARNER)
    assert r.status == 202, r.text()
    cid = r.json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    got = call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{cid}").json()
    assert got["europass"]["adapter"] == "local"
    assert f"organizationIdentifier={ORG_ID}" in got["europass"]["sealed_by"]
    assert got["europass"]["download_url"] == f"/api/v1/credentials/{cid}/sealed"
    assert got["attempts"] == 1 and got["last_error"] is None

    r = call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{cid}/sealed")
    assert r.status == 200, r.text()
    assert r.header("Content-Type").startswith("application/json")
    assert r.header("Content-Disposition") == f'attachment; filename="credential-{cid}.json"'
    header, cred = verify_with_openssl(r.text(), tmp_path)
    assert len(header["x5c"]) == 2  # the leaf and its CA, from the PKCS#12 file
    # completed as EDCI completes it when it seals
    assert cred["id"] == f"urn:uuid:{cid}"
    assert cred["issued"] == cred["issuanceDate"]
    assert abs(time.time() - header["iat"]) < 300
    eidas = cred["issuer"]["eIDASIdentifier"]
    assert eidas["type"] == "LegalIdentifier" and eidas["notation"] == ORG_ID
    assert eidas["spatial"]["id"].endswith("/country/LTU")
    assert cred["credentialSubject"]["contactPoint"]["emailAddress"]["id"] == "mailto:" + LEARNER
    # the same as what the built document said, but for the completion
    doc = json.loads(world["db"].query(f"SELECT document FROM credentials WHERE id = '{cid}'"))
    for key in doc:
        if key not in ("issuanceDate", "issuer"):
            assert cred[key] == doc[key], key

    # the learner downloads the same file; nobody else sees it
    mine = call(srv.port, world, "learner", "GET", f"/api/v1/credentials/{cid}/sealed")
    assert mine.status == 200 and mine.body == r.body
    for who in ("other", "pub-ut", "reg"):
        assert_json_error(call(srv.port, world, who, "GET", f"/api/v1/credentials/{cid}/sealed"),
                          404, "not_found")
    assert_json_error(call(srv.port, world, None, "GET", f"/api/v1/credentials/{cid}/sealed"),
                      401)
    for bad in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        assert_json_error(call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{bad}/sealed"),
                          404, "not_found")

    # /verify checks the seal
    v = http(srv.port, "GET", f"/verify/{cid}", {"Accept": "application/json"}).json()
    assert v["status"] == "valid" and v["seal"]["valid"] is True
    assert "CN=VMU eSeal" in v["seal"]["sealed_by"]


def test_an_altered_file_fails_verification(srv, world, offer):
    cid = issue(srv.port, world, offer, "local-tamper", email=LEARNER).json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    db = world["db"]
    db.query(f"UPDATE credentials SET sealed = replace(sealed, 'Jonaitytė', 'Jonaitis')"
             f" WHERE id = '{cid}'")
    v = http(srv.port, "GET", f"/verify/{cid}", {"Accept": "application/json"}).json()
    assert v["seal"]["valid"] is False and "signature" in v["seal"]["problem"], v


def test_what_has_no_sealed_file_says_why(srv, world, offer):
    db = world["db"]
    ids = []
    for key in ("local-revoke", "local-edci"):
        ids.append(issue(srv.port, world, offer, key, email=LEARNER).json()["id"])
    wait_states(srv.port, world, ids, {"delivered"})
    revoked, edci = ids

    r = call(srv.port, world, "pub", "POST", f"/api/v1/credentials/{revoked}/revoke",
             {"reason": "issued to the wrong learner"})
    assert r.status == 200, r.text()
    assert_json_error(call(srv.port, world, "learner", "GET",
                           f"/api/v1/credentials/{revoked}/sealed"), 409, "revoked")
    v = http(srv.port, "GET", f"/verify/{revoked}", {"Accept": "application/json"}).json()
    assert v["status"] == "revoked"

    # one delivered by the EDCI adapter (before a switch to local): EDCI has the file
    db.query(f"UPDATE credentials SET sealed = NULL, europass = '{{\"viewerURL\": []}}'"
             f" WHERE id = '{edci}'")
    r = call(srv.port, world, "pub", "GET", f"/api/v1/credentials/{edci}/sealed")
    assert_json_error(r, 409, "not_sealed")
    assert "EDCI" in r.json()["error"]["message"]
    assert "seal" not in http(srv.port, "GET", f"/verify/{edci}",
                              {"Accept": "application/json"}).json()



def test_purge_takes_the_sealed_file(mcxd, srv, world, offer, eseal):
    cid = issue(srv.port, world, offer, "local-retention", email=LEARNER).json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    db = world["db"]
    assert db.query(f"SELECT sealed IS NOT NULL FROM credentials WHERE id = '{cid}'") == "t"
    db.query(f"UPDATE credentials SET delivered_at = now() - interval '40 days' WHERE id = '{cid}'")
    node = mcxd(*local_args(eseal, "--learner-retention-days", "30"))  # purges at start
    mcxtest.wait_until(lambda: db.query(f"SELECT sealed IS NULL FROM credentials"
                                        f" WHERE id = '{cid}'") == "t", 20, 0.2, "purged")
    r = call(node.port, world, "pub", "GET", f"/api/v1/credentials/{cid}/sealed")
    assert_json_error(r, 409, "not_sealed")
    assert "purged" in r.json()["error"]["message"]


def test_a_pem_key_with_its_chain(mcxd, world, offer, eseal, tmp_path):
    node = mcxd("--harvest", "off", "--europass-adapter", "local",
                "--europass-seal-file", str(eseal / "leaf.key"),
                "--europass-seal-chain", str(eseal / "chain.pem"), "--outbox-tick-ms", "100")
    assert "sealing locally as" in node.log_text()
    cid = issue(node.port, world, offer, "local-pem", email=LEARNER).json()["id"]
    wait_states(node.port, world, [cid], {"delivered"})
    r = call(node.port, world, "learner", "GET", f"/api/v1/credentials/{cid}/sealed")
    assert r.status == 200, r.text()
    verify_with_openssl(r.text(), tmp_path)


@pytest.mark.parametrize("flags,says", [
    (["--europass-adapter", "local"], "--europass-seal-file"),
    (["--europass-adapter", "wallet"], "edci or local"),
    (["--europass-adapter", "local", "--europass-seal-file", "{d}/eseal.p12",
      "--europass-seal-password-file", "{d}/wrong"], "password"),
    (["--europass-adapter", "local", "--europass-seal-file", "{d}/missing.p12"], "missing.p12"),
    (["--europass-adapter", "local", "--europass-seal-file", "{d}/leaf.key"], "certificate"),
    (["--europass-adapter", "local", "--europass-seal-file", "{d}/eseal.p12",
      "--europass-seal-password-file", "{d}/password", "--europass-url", "http://127.0.0.1:9"],
     "--europass-url"),
    (["--europass-seal-file", "{d}/eseal.p12"], "--europass-adapter local"),
])
def test_a_bad_seal_configuration_stops_at_start(db, eseal, flags, says):
    args = [f.format(d=eseal) for f in flags]
    r = run_mcxd(["--listen", "127.0.0.1:0", "--database-url", db.url, *args])
    assert r.returncode == 2, r.stderr
    assert says in r.stderr, r.stderr
    assert SEAL_PASSWORD not in r.stderr and "not the password" not in r.stderr


def test_a_learner_lists_their_credentials(srv, world, offer):
    """GET /api/v1/me/credentials: what was issued to the signed-in person's e-mail
    address, newest first, with where to check it and, sealed here, the download."""
    cid = issue(srv.port, world, offer, "local-mine", email=LEARNER.upper()).json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    r = call(srv.port, world, "learner", "GET", "/api/v1/me/credentials")
    assert r.status == 200, r.text()
    items = r.json()["items"]
    assert items[0]["id"] == cid  # the newest first; the address matched case-blind
    mine = items[0]
    assert mine["state"] == "delivered" and mine["title"] == OFFER["title"]["en"]
    assert mine["institution"]["id"] == "vdu.lt"
    assert mine["institution"]["name"]["en"] == "Vytautas Magnus University"
    assert mine["result"]["grade"] == "9" and mine["issued_at"]
    assert mine["verify_url"] == f"/verify/{cid}" and mine["viewer_url"] is None
    assert mine["download_url"] == f"/api/v1/credentials/{cid}/sealed"
    assert call(srv.port, world, "learner", "GET", mine["download_url"]).status == 200
    by_state = {i["state"] for i in items}
    assert "revoked" in by_state  # from the test above, without a download
    assert all(i["download_url"] is None for i in items if i["state"] == "revoked")
    # somebody else's list holds none of them
    assert call(srv.port, world, "other", "GET", "/api/v1/me/credentials").json() == \
        {"items": [], "email_confirmed": True}
    assert_json_error(call(srv.port, world, None, "GET", "/api/v1/me/credentials"), 401)


def test_the_learner_is_told_by_mail(mcxd, world, offer, eseal, tmp_path):
    """With mail, each learner of a credential sealed here gets a notice: what was
    issued, where to download it and where anyone may check it. A relay that refuses
    it is asked again later, at most 5 times."""
    import email
    import email.policy

    smtp = mcxtest.SmtpStandin(tmp_path / "spool", "--reject-domain", "refused.example")
    try:
        node = mcxd(*local_args(eseal, "--smtp-url", smtp.url, "--smtp-from",
                                "VMU <no-reply@vdu.lt>", "--public-url", "https://mcx.vdu.lt"))
        cid = issue(node.port, world, offer, "local-notice", email=LEARNER).json()["id"]
        wait_states(node.port, world, [cid], {"delivered"})
        got = mcxtest.wait_until(
            lambda: (lambda c: c if c["notified_at"] else None)(
                call(node.port, world, "pub", "GET", f"/api/v1/credentials/{cid}").json()),
            20, 0.1, "the learner told")
        assert got["notice_attempts"] == 1
        mails = [m for m in smtp.mails_to(LEARNER) if cid in m["data"]]
        assert len(mails) == 1
        msg = email.message_from_bytes(mails[0]["data"].encode(), policy=email.policy.default)
        assert msg["Subject"] == "Your micro-credential is ready: " + OFFER["title"]["en"]
        body = msg.get_content()
        assert "Vytautas Magnus University issued you the micro-credential" in body
        assert "Hello Aistė Jonaitytė," in body
        assert "https://mcx.vdu.lt/me" in body and f"https://mcx.vdu.lt/verify/{cid}" in body

        # refused: due again later; the fifth refusal is the last
        bad = issue(node.port, world, offer, "local-notice-refused",
                    email="learner@refused.example").json()["id"]
        wait_states(node.port, world, [bad], {"delivered"})
        db = world["db"]
        # the refusal recorded: due again in 2 minutes (the claim's lease was 10)
        mcxtest.wait_until(lambda: db.query(
            f"SELECT notice_attempts = 1 AND notice_due_at < now() + interval '5 minutes'"
            f" FROM credentials WHERE id = '{bad}'") == "t", 20, 0.1, "one try, refused")
        assert db.query(f"SELECT notified_at IS NULL AND notice_due_at > now() + interval '30 s'"
                        f" FROM credentials WHERE id = '{bad}'") == "t"
        db.query(f"UPDATE credentials SET notice_attempts = 4, notice_due_at = now()"
                 f" WHERE id = '{bad}'")
        mcxtest.wait_until(lambda: db.query(f"SELECT notice_attempts = 5 AND notice_due_at IS NULL"
                                            f" FROM credentials WHERE id = '{bad}'") == "t",
                           20, 0.1, "given up")
        assert "gave up telling the learner of credential " + bad in node.log_text()
    finally:
        smtp.stop()
