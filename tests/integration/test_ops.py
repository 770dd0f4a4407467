"""Operations endpoints, request ids, access log, command line and TLS (DESIGN §3, §5)."""

import json
import os
import re
import ssl
import subprocess
import urllib.request

import pytest

import mcxtest
from mcxtest import HttpConn, assert_json_error, run_mcxd

ALL_FLAGS = [
    "--listen", "--database-url", "--web-root", "--pool-size", "--pool-queue",
    "--pool-timeout-ms", "--workers", "--max-connections", "--max-header-size",
    "--max-body-size", "--read-timeout-ms", "--write-timeout-ms", "--keepalive-timeout-ms",
    "--shutdown-timeout-ms", "--tls-cert", "--tls-key", "--access-log", "--migrate",
    "--debug-endpoints", "--help",
]


@pytest.fixture(scope="module")
def srv(module_mcxd):
    return module_mcxd()


def test_healthz_body_and_headers(srv):
    r = srv.get("/healthz")
    assert r.status == 200
    assert r.json() == {"status": "ok"}
    assert r.header("Content-Type").split(";")[0] == "application/json"
    assert r.header("Content-Length") == str(len(r.body))
    assert r.header("X-Request-Id")
    assert r.header("Date")
    assert r.version == "HTTP/1.1"


def test_healthz_head_has_headers_and_no_body(srv):
    with srv.conn() as c:
        r = c.request("HEAD", "/healthz")
        assert r.status == 200
        assert r.header("Content-Length") == str(len(b'{"status":"ok"}'))
        assert r.body == b""
        # Had the server sent a body after the HEAD response, it would be read as the
        # next response here and fail to parse.
        r2 = c.request("GET", "/healthz")
        assert r2.status == 200 and r2.json() == {"status": "ok"}


def test_request_id_is_echoed(srv):
    rid = "test-ops.echo_42:A"
    r = srv.get("/healthz", {"X-Request-Id": rid})
    assert r.header("X-Request-Id") == rid
    # also in an error body
    r = srv.get("/no/such/thing", {"X-Request-Id": rid})
    doc = assert_json_error(r, 404)
    assert doc["request_id"] == rid


def test_request_id_is_generated_and_unique(srv):
    ids = set()
    with srv.conn() as c:
        for _ in range(5):
            r = c.request("GET", "/healthz")
            assert r.status == 200
            rid = r.header("X-Request-Id")
            assert rid and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", rid), rid
            ids.add(rid)
    for _ in range(5):
        ids.add(srv.get("/healthz").header("X-Request-Id"))
    assert len(ids) == 10, ids


@pytest.mark.parametrize("bad", ["has space", "x" * 200, "semi;colon", "<script>"])
def test_invalid_incoming_request_id_is_replaced(srv, bad):
    r = srv.get("/healthz", {"X-Request-Id": bad})
    assert r.status == 200
    rid = r.header("X-Request-Id")
    assert rid and rid != bad and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", rid), rid


def test_readyz_ok(srv):
    r = srv.get("/readyz")
    assert r.status == 200, r
    assert r.json() == {"status": "ready", "database": "ok"}
    assert r.header("Content-Type").split(";")[0] == "application/json"
    assert r.header("X-Request-Id")


def test_access_log_line_per_request(srv):
    cases = [
        ("GET", "/healthz", None, 200, "/healthz"),
        ("GET", "/readyz", None, 200, "/readyz"),
        ("GET", "/definitely/missing", None, 404, None),
        ("POST", "/healthz", b"", 405, None),
    ]
    for i, (method, path, body, status, route) in enumerate(cases):
        rid = f"alog-{os.getpid()}-{i}"
        r = srv.request(method, path, {"X-Request-Id": rid}, body)
        assert r.status == status, r
        line = srv.access_log(rid)
        for field in ("request_id", "method", "path", "route", "status", "bytes", "duration_ms"):
            assert field in line, (field, line)
        assert line["method"] == method
        assert line["path"] == path
        assert line["status"] == status
        assert isinstance(line["route"], str) and line["route"]
        if route is not None:
            assert line["route"] == route
        assert line["bytes"] == len(r.body), (line, len(r.body))
        assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
        matching = [o for o in srv.log_json() if o.get("request_id") == rid and
                    o.get("msg") == "request"]
        assert len(matching) == 1, matching


def test_log_is_json_lines(srv):
    srv.get("/healthz")
    objs, other = mcxtest.parse_json_lines(srv.log_text())
    assert objs
    assert other == [], f"non-JSON lines on stderr: {other[:5]}"
    for o in objs:
        assert "msg" in o and "level" in o, o


def test_access_log_off(mcxd):
    s = mcxd("--access-log", "off")
    rid = "quiet-request-1"
    assert s.get("/healthz", {"X-Request-Id": rid}).status == 200
    s.stop()
    assert rid not in s.log_text()
    assert not [o for o in s.log_json() if o.get("msg") == "request"]


def test_help_lists_flags():
    r = run_mcxd(["--help"])
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    for flag in ALL_FLAGS:
        assert flag in out, f"--help does not mention {flag}"
    assert not mcxtest.sanitizer_report(out), out


def test_version():
    r = run_mcxd(["--version"])
    assert r.returncode == 0
    assert re.search(r"\d+\.\d+", r.stdout + r.stderr)


BAD_CONFIGS = {
    "pool size not a number": (["--pool-size", "abc"], "pool-size"),
    "pool size zero": (["--pool-size", "0"], "pool-size"),
    "unknown flag": (["--bogus"], "bogus"),
    "flag without value": (["--pool-size"], "pool-size"),
    "tls cert without key": (["--tls-cert", "x"], "tls"),
    "tls key without cert": (["--tls-key", "x"], "tls"),
    "tls files missing": (["--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"],
                          "nonexistent"),
    "listen without port": (["--listen", "localhost"], "listen"),
    "access log not on/off": (["--access-log", "maybe"], "access-log"),
    "web root missing": (["--web-root", "/nonexistent/web/root"], "web"),
    "stray argument": (["extra-argument"], "extra-argument"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2(case, db, web_root):
    args, mention = BAD_CONFIGS[case]
    base = ["--listen", "127.0.0.1:0", "--database-url", db.url, "--web-root", web_root]
    r = run_mcxd(base + args)
    assert r.returncode == 2, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert r.stderr.strip(), "no message on stderr"
    assert mention.lower() in r.stderr.lower(), r.stderr
    assert not mcxtest.sanitizer_report(r.stderr), r.stderr


def test_bad_config_from_environment(db, web_root):
    r = run_mcxd(["--listen", "127.0.0.1:0", "--database-url", db.url, "--web-root", web_root],
                 env={"MCX_POOL_SIZE": "lots"})
    assert r.returncode == 2, r.stderr
    assert "MCX_POOL_SIZE" in r.stderr


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_healthz(mcxd, tls_files):
    cert, key = tls_files
    s = mcxd("--tls-cert", cert, "--tls-key", key)
    assert s.scheme == "https"
    r = mcxtest.get(s.port, "/healthz", tls=True)
    assert r.status == 200
    assert r.json() == {"status": "ok"}
    assert r.header("X-Request-Id")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{s.port}/healthz", context=ctx,
                                timeout=10) as u:
        assert u.status == 200
        assert json.loads(u.read()) == {"status": "ok"}
    # keep-alive over TLS, and a 404 JSON
    with HttpConn(s.port, tls=True) as c:
        for _ in range(3):
            assert c.request("GET", "/readyz").status == 200
        assert_json_error(c.request("GET", "/nope"), 404)
    # plain HTTP on the TLS port must not break the server
    try:
        with HttpConn(s.port) as c:
            c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            c.wait_closed(timeout=5)
    except OSError:
        pass
    assert mcxtest.get(s.port, "/healthz", tls=True).status == 200
    assert s.alive()


def test_sigterm_exits_zero(mcxd):
    s = mcxd()
    assert s.get("/healthz").status == 200
    assert s.stop() == 0
    msgs = [o.get("msg") for o in s.log_json()]
    assert "stopped" in msgs or any("stop" in str(m) for m in msgs), msgs
