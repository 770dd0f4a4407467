"""Pushes signed with EWP HTTP Signatures (issue 6, acceptance 6): a partner with a
registered key may PUT its offers without a token; a bad signature, a wrong digest,
a date outside the window, a replayed request id and an unknown key are each a 401
whose error code names the reason; a partner cannot write another institution."""

import base64
import email.utils
import hashlib
import json
import subprocess
import time
import uuid

import pytest

import mcxtest
from mcxtest import assert_json_error, http


def mcx(db, *args, binary=False):
    r = subprocess.run([mcxtest.mcx_binary(), *args], capture_output=True,
                       env=mcxtest.child_env({"MCX_DATABASE_URL": db.url}), timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout if binary else r.stdout.decode().strip()


def keypair(db, tmp_path, name):
    d = tmp_path / name
    key_id = mcx(db, "key", "generate", "--out", str(d))
    assert len(key_id) == 64
    return key_id, d / "private.pem", (d / "public.pem").read_text()


@pytest.fixture(scope="module")
def setup(db, module_mcxd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keys")
    mcx(db, "user", "add", "admin@sig.test", "--role", "admin")
    admin = {"Authorization": "Bearer " + mcx(db, "token", "create", "--user", "admin@sig.test")}
    srv = module_mcxd("--harvest", "off")
    keys = {}
    for pid in ["sig.example", "other.example"]:
        key_id, private, public = keypair(db, tmp, pid)
        body = json.dumps({"id": pid, "name": pid, "country": "LT", "format": "loq",
                           "feed_url": "http://127.0.0.1:9/feed.xml", "public_key": public}).encode()
        r = http(srv.port, "POST", "/api/v1/partners", headers=admin, body=body)
        assert r.status == 201, r.text()
        assert r.json()["key_id"] == key_id
        keys[pid] = (key_id, private)
    stranger = keypair(db, tmp, "stranger")
    return srv, keys, stranger, db


def signed(port, method, path, body, key_id, private, *, date=None, request_id=None,
           tamper_body=None, tamper_sig=False):
    host = f"127.0.0.1:{port}"
    date = date or email.utils.formatdate(usegmt=True)
    request_id = request_id or str(uuid.uuid4())
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    lines = [f"(request-target): {method.lower()} {path}", f"host: {host}", f"date: {date}",
             f"digest: {digest}", f"x-request-id: {request_id}"]
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(private)],
                         input="\n".join(lines).encode(), capture_output=True, check=True).stdout
    b64 = base64.b64encode(sig).decode()
    if tamper_sig:
        b64 = ("B" if b64[0] == "A" else "A") + b64[1:]
    auth = (f'Signature keyId="{key_id}",algorithm="rsa-sha256",'
            f'headers="(request-target) host date digest x-request-id",signature="{b64}"')
    headers = [("Host", host), ("Date", date), ("Digest", digest), ("X-Request-Id", request_id),
               ("Content-Type", "application/xml"), ("Authorization", auth)]
    return http(port, method, path, headers=headers, body=tamper_body or body), request_id


def doc_for(db, inst):
    return mcx(db, "gen-loq", "1", "--institution", inst, binary=True)


def test_signed_put_is_accepted_and_every_forgery_rejected(setup):
    srv, keys, stranger, db = setup
    key_id, private = keys["sig.example"]
    body = doc_for(db, "sig.example")
    path = "/api/v1/institutions/sig.example/offers/sig.example-MC-00001"

    r, rid = signed(srv.port, "PUT", path, body, key_id, private)
    assert r.status == 201, r.text()
    assert db.query("SELECT actor FROM audit_log WHERE entity = 'offer' ORDER BY id DESC LIMIT 1") \
        == "partner:sig.example"

    r, _ = signed(srv.port, "PUT", path, body, key_id, private, request_id=rid)
    assert_json_error(r, 401, "replayed")

    r, _ = signed(srv.port, "PUT", path, body, key_id, private, tamper_sig=True)
    assert_json_error(r, 401, "bad_signature")

    r, _ = signed(srv.port, "PUT", path, body, key_id, private,
                  tamper_body=body.replace(b"University", b"Universitas"))
    assert_json_error(r, 401, "bad_digest")

    old = email.utils.formatdate(time.time() - 600, usegmt=True)
    r, _ = signed(srv.port, "PUT", path, body, key_id, private, date=old)
    assert_json_error(r, 401, "date_out_of_window")

    r, _ = signed(srv.port, "PUT", path, body, stranger[0], stranger[1])
    assert_json_error(r, 401, "unknown_key")
    assert r.header("WWW-Authenticate") == "Signature"


def test_a_partner_signs_only_for_itself(setup):
    srv, keys, _, db = setup
    key_id, private = keys["other.example"]
    r, _ = signed(srv.port, "PUT", "/api/v1/institutions/sig.example/offers/sig.example-MC-00001",
                  doc_for(db, "sig.example"), key_id, private)
    assert_json_error(r, 403)


def test_bad_public_key_is_refused(setup):
    srv, _, _, db = setup
    admin = {"Authorization": "Bearer " + mcx(db, "token", "create", "--user", "admin@sig.test")}
    body = json.dumps({"id": "badkey.example", "name": "x", "country": "LT", "format": "loq",
                       "feed_url": "http://127.0.0.1:9/f.xml", "public_key": "not a key"}).encode()
    assert_json_error(http(srv.port, "POST", "/api/v1/partners", headers=admin, body=body), 422)


def test_old_request_ids_are_forgotten(db, mcxd):
    old = "11111111-1111-4111-8111-111111111111"
    db.query("INSERT INTO httpsig_seen (key_id, request_id, seen_at) VALUES "
             f"(repeat('a', 64), '{old}', now() - interval '1 hour'), "
             "(repeat('a', 64), '22222222-2222-4222-8222-222222222222', now())")
    mcxd("--harvest", "off")  # sweeps once at start, then every minute
    deadline = time.monotonic() + 5
    while db.query(f"SELECT count(*) FROM httpsig_seen WHERE request_id = '{old}'") != "0":
        assert time.monotonic() < deadline, "the old request id was not swept"
        time.sleep(0.1)
    assert db.query("SELECT count(*) FROM httpsig_seen WHERE key_id = repeat('a', 64)") == "1"
