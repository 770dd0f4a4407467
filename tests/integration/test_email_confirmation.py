"""E-mail address confirmation: a sign-up proves nothing about the address, so what
mcx finds by address (the credentials issued to it, their sealed files, a registry
credential named in a recognition request) waits until the account confirms it with
the link of the mail mcxd sends through a real SMTP exchange (tests/smtp_standin.py),
or until staff vouch for it (accounts they create, `mcx user confirm`)."""

import email
import email.policy
import json
import os
import re
import subprocess
import threading
import time

import pytest

import mcxtest
from mcxtest import assert_json_error, http
from test_issuance import PASSWORD, Standin, call, issue, mcx, node_args, offer, wait_states  # noqa: F401

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PUBLIC = "https://mcx.example.org"


@pytest.fixture(scope="module")
def world(db, tmp_path_factory):
    mcx(db, "institution", "add", "vdu.lt", "--name", "Vytautas Magnus University",
        "--country", "LT", "--homepage", "https://www.vdu.lt/", "--home")
    mcx(db, "institution", "add", "ut.ee", "--name", "University of Tartu", "--country", "EE",
        "--home")
    tokens = {}
    for name, role, inst in [("pub", "publisher", "vdu.lt"), ("admin", "admin", None)]:
        args = ["user", "add", f"{name}@example.org", "--role", role, "--password-stdin"]
        if inst:
            args += ["--institution", inst]
        mcx(db, *args, stdin=PASSWORD + "\n")
        tokens[name] = mcx(db, "token", "create", "--user", f"{name}@example.org")
    d = tmp_path_factory.mktemp("secrets")
    (d / "seal").write_text("seal-pass-1234\n")
    (d / "token").write_text("edci-front-token-5678\n")
    standin = Standin()
    smtp = mcxtest.SmtpStandin(tmp_path_factory.mktemp("spool"), "--reject-domain", "refused.example")
    yield {"db": db, "tokens": tokens, "secrets": d, "standin": standin, "smtp": smtp}
    smtp.stop()
    standin.stop()


def mail_args(world, *extra):
    return node_args(world, "--smtp-url", world["smtp"].url,
                     "--smtp-from", "Vytauto Didžiojo universitetas <no-reply@vdu.lt>",
                     "--public-url", PUBLIC, *extra)


@pytest.fixture(scope="module")
def srv(module_mcxd, world):
    return module_mcxd(*mail_args(world))


def sign_up(port, email_address):
    r = http(port, "POST", "/api/v1/users", {"Content-Type": "application/json"},
             json.dumps({"email": email_address, "password": PASSWORD}).encode())
    assert r.status == 201, r.text()
    s = http(port, "POST", "/api/v1/session", {"Content-Type": "application/json"},
             json.dumps({"email": email_address, "password": PASSWORD}).encode())
    assert s.status == 200, s.text()
    cookie = s.header("Set-Cookie").split(";")[0]
    return r.json(), {"Cookie": cookie, "X-CSRF-Token": s.json()["csrf_token"]}


def as_user(port, session, method, path, body=None):
    h = dict(session)
    data = None
    if body is not None:
        h["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    return http(port, method, path, h, data)


def link_of(mail):
    msg = email.message_from_bytes(mail["data"].encode(), policy=email.policy.default)
    m = re.search(r"https://mcx\.example\.org/confirm#token=([0-9a-f]{64})", msg.get_content())
    assert m, msg.get_content()
    return msg, m.group(1)


def test_sign_up_sends_the_link_and_it_confirms(srv, world, offer):
    learner = "aiste.signup@students.example"
    cid = issue(srv.port, world, offer, "confirm-1", email=learner).json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})

    user, session = sign_up(srv.port, learner)
    assert user["email_confirmed"] is False and user["confirmation_mail"] == "sent"
    mails = world["smtp"].mails_to(learner)
    assert len(mails) == 1
    msg, token = link_of(mails[0])
    assert mails[0]["from"] == "no-reply@vdu.lt"
    assert msg["Subject"] == "Confirm your e-mail address for mcx"
    assert msg["To"] == learner and msg["Auto-Submitted"] == "auto-generated"
    assert str(msg["From"]) == "Vytauto Didžiojo universitetas <no-reply@vdu.lt>"
    assert msg["Message-ID"].endswith("@vdu.lt>")
    # the secret is stored only as its hash
    assert world["db"].query(f"SELECT count(*) FROM email_confirmations WHERE token_hash = '{token}'") == "0"

    # before: nothing is found by the address
    mine = as_user(srv.port, session, "GET", "/api/v1/me/credentials").json()
    assert mine == {"items": [], "email_confirmed": False}
    r = as_user(srv.port, session, "POST", "/api/v1/recognition-requests",
                {"credential_id": cid, "target": {"institution": "ut.ee"}})
    assert_json_error(r, 403, "email_unconfirmed")
    who = as_user(srv.port, session, "GET", "/api/v1/session").json()
    assert who["user"]["email_confirmed"] is False

    # the link confirms; a second click says the same; no session is needed
    for _ in range(2):
        r = http(srv.port, "POST", "/api/v1/email-confirmations",
                 {"Content-Type": "application/json"}, json.dumps({"token": token}).encode())
        assert r.status == 200, r.text()
        assert r.json()["email"] == learner and r.json()["confirmed_at"]
    mine = as_user(srv.port, session, "GET", "/api/v1/me/credentials").json()
    assert mine["email_confirmed"] is True and [i["id"] for i in mine["items"]] == [cid]
    r = as_user(srv.port, session, "POST", "/api/v1/recognition-requests",
                {"credential_id": cid, "target": {"institution": "ut.ee"}})
    assert r.status == 201, r.text()
    assert world["db"].query("SELECT count(*) FROM audit_log WHERE action = 'confirm_email'"
                             f" AND details->>'email' = '{learner}'") == "1"
    assert_json_error(as_user(srv.port, session, "POST", "/api/v1/me/email-confirmation", {}),
                      409, "already_confirmed")


def age(db, address, by="2 minutes"):
    """Moves the mails asked for by address back in time."""
    db.query(f"UPDATE email_confirmations SET created_at = created_at - interval '{by}'"
             f" WHERE email = '{address}'")
    db.query(f"UPDATE users SET confirmation_sent_at = confirmation_sent_at - interval '{by}'"
             f" WHERE email = '{address}'")


def test_asking_again_and_the_links_limits(srv, world):
    learner = "jonas.again@students.example"
    _, session = sign_up(srv.port, learner)
    # a mail went out with the sign-up: asking at once is too soon
    r = as_user(srv.port, session, "POST", "/api/v1/me/email-confirmation", {})
    assert_json_error(r, 429, "too_many_requests")
    assert r.header("Retry-After") == "60"
    age(world["db"], learner)
    r = as_user(srv.port, session, "POST", "/api/v1/me/email-confirmation", {})
    assert r.status == 202, r.text()
    assert r.json() == {"sent_to": learner}
    first, second = [link_of(m)[1] for m in world["smtp"].mails_to(learner)]
    assert first != second
    # an expired link is refused and confirms nothing; a fresh one still works
    world["db"].query("UPDATE email_confirmations SET expires_at = now() - interval '1 second'"
                      f" WHERE email = '{learner}' AND created_at < now() - interval '1 minute'")
    r = http(srv.port, "POST", "/api/v1/email-confirmations",
             {"Content-Type": "application/json"}, json.dumps({"token": first}).encode())
    assert_json_error(r, 410, "expired")
    assert as_user(srv.port, session, "GET", "/api/v1/session").json()["user"]["email_confirmed"] is False
    r = http(srv.port, "POST", "/api/v1/email-confirmations",
             {"Content-Type": "application/json"}, json.dumps({"token": second}).encode())
    assert r.status == 200, r.text()
    # made-up or malformed tokens, bodies that are not JSON
    for body, status in ((json.dumps({"token": "0" * 64}), 404), (json.dumps({"token": "x"}), 404),
                         (json.dumps({}), 422), ("not json", 400)):
        r = http(srv.port, "POST", "/api/v1/email-confirmations",
                 {"Content-Type": "application/json"}, body.encode())
        assert_json_error(r, status)
    assert_json_error(http(srv.port, "POST", "/api/v1/me/email-confirmation",
                           {"Content-Type": "application/json"}, b"{}"), 401)


def test_two_requests_at_once_send_one_mail(srv, world):
    learner = "twice@students.example"
    _, session = sign_up(srv.port, learner)
    age(world["db"], learner)
    results = []

    def ask():
        results.append(as_user(srv.port, session, "POST", "/api/v1/me/email-confirmation", {}))
    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status for r in results) == [202, 429, 429, 429], [r.text() for r in results]
    assert len(world["smtp"].mails_to(learner)) == 2  # the sign-up's and one more


def test_a_refused_mail_can_be_asked_for_again(srv, world):
    learner = "someone@refused.example"
    user, session = sign_up(srv.port, learner)
    assert user["confirmation_mail"] == "failed"  # the relay refused the recipient
    r = as_user(srv.port, session, "POST", "/api/v1/me/email-confirmation", {})
    assert_json_error(r, 502, "mail_failed")  # not 429: a failed mail leaves no link
    assert world["db"].query(f"SELECT count(*) FROM email_confirmations WHERE email = '{learner}'") == "0"


def test_staff_vouch_for_addresses(mcxd, srv, world, offer):
    # accounts staff create are confirmed; `mcx user confirm` vouches for a sign-up
    db = world["db"]
    assert db.query("SELECT email_confirmed_at IS NOT NULL FROM users WHERE email = 'pub@example.org'") == "t"
    learner = "ona.vouched@students.example"
    cid = issue(srv.port, world, offer, "confirm-vouched", email=learner).json()["id"]
    wait_states(srv.port, world, [cid], {"delivered"})
    _, session = sign_up(srv.port, learner)
    assert as_user(srv.port, session, "GET", "/api/v1/me/credentials").json()["items"] == []
    out = mcx(db, "user", "confirm", learner.upper())
    assert out == db.query(f"SELECT id FROM users WHERE email = '{learner}'")
    assert [i["id"] for i in as_user(srv.port, session, "GET",
                                      "/api/v1/me/credentials").json()["items"]] == [cid]
    r = subprocess.run([mcxtest.mcx_binary(), "user", "confirm", "nobody@example.org"],
                       capture_output=True, text=True, timeout=60,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}))
    assert r.returncode == 1 and "no account" in r.stderr

    # a node without mail: sign-up says so, and asking for a mail is 503
    node = mcxd(*node_args(world))
    user, session = sign_up(node.port, "no.mail@students.example")
    assert user["confirmation_mail"] == "unavailable" and user["email_confirmed"] is False
    assert_json_error(as_user(node.port, session, "POST", "/api/v1/me/email-confirmation", {}),
                      503, "mail_unavailable")


@pytest.mark.parametrize("flags,says", [
    (["--smtp-url", "http://mail.example"], "smtp:// or smtps://"),
    (["--smtp-url", "smtp://127.0.0.1:25", "--public-url", PUBLIC], "--smtp-from"),
    (["--smtp-url", "smtp://127.0.0.1:25", "--smtp-from", "no-reply@vdu.lt"], "--public-url"),
    (["--smtp-url", "smtp://127.0.0.1:25", "--smtp-from", "Name <not an address>",
      "--public-url", PUBLIC], "--smtp-from"),
])
def test_a_bad_mail_configuration_stops_at_start(db, flags, says):
    r = mcxtest.run_mcxd(["--listen", "127.0.0.1:0", "--database-url", db.url, *flags])
    assert r.returncode == 2, r.stderr
    assert says in r.stderr, r.stderr
