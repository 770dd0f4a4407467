"""
The test feed server itself (tests/feedserver.py): validators and 304s, the broken
variants other tests rely on, and that it can never outlive a test (SIGTERM,
--lifetime). Standard library only; every wait is bounded.
"""

import gzip
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

SAMPLE = "/elm/loq/examples/loq.xml"


def source_dir():
    return os.environ.get("MCX_SOURCE_DIR",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def samples_dir():
    shared = os.environ.get("MCX_SHARED_DIR", os.path.join(source_dir(), "..", "shared"))
    return os.path.join(shared, "samples")


def start(*extra):
    proc = subprocess.Popen(
        ["/usr/bin/python3", os.path.join(source_dir(), "tests", "feedserver.py"),
         "--root", samples_dir(), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("port "):
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"feedserver did not start: {line!r}")
    return proc, int(line.split()[1])


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def server():
    proc, port = start("--lifetime", "120")
    yield port
    assert stop(proc) == 0
    err = proc.stderr.read().decode()
    assert "Traceback" not in err, err


def request(port, path, method="GET", headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def sample_bytes():
    with open(samples_dir() + SAMPLE, "rb") as f:
        return f.read()


def test_file_validators_and_304(server):
    status, headers, body = request(server, SAMPLE)
    assert status == 200 and body == sample_bytes()
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert request(server, SAMPLE, headers={"If-None-Match": etag})[0] == 304
    assert request(server, SAMPLE, headers={"If-None-Match": '"x", ' + etag})[0] == 304
    assert request(server, SAMPLE, headers={"If-None-Match": '"stale"'})[0] == 200
    assert request(server, SAMPLE, headers={"If-Modified-Since": last_modified})[0] == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert request(server, SAMPLE, headers={"If-Modified-Since": old})[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    both = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert request(server, SAMPLE, headers=both)[0] == 200


def test_stays_inside_root(server):
    for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/no/such.xml", "/elm"]:
        assert request(server, path)[0] == 404, path


def test_broken_variants(server):
    assert request(server, "/_500" + SAMPLE)[0] == 500
    status, _, body = request(server, "/_garbage" + SAMPLE)
    assert status == 200 and len(body) == 8192
    status, headers, body = request(server, "/_gzip" + SAMPLE)
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == sample_bytes()
    with pytest.raises(http.client.IncompleteRead):
        request(server, "/_truncated" + SAMPLE)


def test_redirects(server):
    status, headers, _ = request(server, "/_redirect/2" + SAMPLE)
    assert status == 302 and headers["Location"] == "/_redirect/1" + SAMPLE
    status, _, body = request(server, "/_redirect/0" + SAMPLE)
    assert status == 200 and body == sample_bytes()
    status, headers, _ = request(server, "/_goto?url=file:///etc/passwd")
    assert status == 302 and headers["Location"] == "file:///etc/passwd"


def test_big_is_exact_and_well_formed(server):
    status, headers, body = request(server, "/_big/2")
    assert status == 200 and int(headers["Content-Length"]) == len(body) == 2 * 1024 * 1024
    assert len(ET.fromstring(body).findall("item")) > 10000
    status, headers, body = request(server, "/_big/2?chunked")
    assert headers["Transfer-Encoding"] == "chunked" and len(body) == 2 * 1024 * 1024
    status, headers, body = request(server, "/_big/2?gzip")
    assert headers["Content-Encoding"] == "gzip" and len(body) < 1024 * 1024
    assert len(gzip.decompress(body)) == 2 * 1024 * 1024
    assert request(server, "/_big/0")[0] == 404


def test_many_headers(server):
    status, headers, body = request(server, "/_headers/90")
    assert status == 200 and headers["X-Filler-89"] == "v89" and body == b"ok\n"


def test_hang_and_slow_answer_nothing_quickly(server):
    with socket.create_connection(("127.0.0.1", server), timeout=5) as s:
        s.sendall(b"GET /_hang/x HTTP/1.1\r\nHost: x\r\n\r\n")
        ready, _, _ = select.select([s], [], [], 1.5)
        assert not ready
    with socket.create_connection(("127.0.0.1", server), timeout=5) as s:
        s.sendall(b"GET /_slow" + SAMPLE.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(2.5)
        got = s.recv(65536)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and 1 <= len(body) <= 4


def test_echo_and_stats(server):
    status, _, body = request(server, "/_echo", method="PUT", headers={"X-Test": "1"})
    doc = json.loads(body)
    assert status == 200 and doc["method"] == "PUT" and ["X-Test", "1"] in doc["headers"]
    before = json.loads(request(server, "/_stats")[2]).get("/_500/counted", 0)
    for _ in range(3):
        request(server, "/_500/counted")
    after = json.loads(request(server, "/_stats")[2])["/_500/counted"]
    assert after - before == 3


def test_never_outlives_a_test():
    proc, _ = start("--lifetime", "1")
    try:
        assert proc.wait(6) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    proc, port = start()
    assert request(port, SAMPLE)[0] == 200
    t0 = time.monotonic()
    assert stop(proc) == 0 and time.monotonic() - t0 < 3


def test_tls_self_signed():
    import ssl
    proc, port = start("--tls", "--lifetime", "60")
    try:
        ctx = ssl.create_default_context()
        with pytest.raises(ssl.SSLCertVerificationError):
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
            conn.request("GET", SAMPLE)
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        conn.request("GET", SAMPLE)
        assert conn.getresponse().read() == sample_bytes()
        conn.close()
    finally:
        assert stop(proc) == 0
