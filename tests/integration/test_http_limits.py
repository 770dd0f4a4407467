"""HTTP/1.1 edge cases and limits: 404/405/431/413/408/411/400, keep-alive, pipelining,
connection cap (DESIGN §3: every error is JSON with the right status)."""

import select
import socket
import time

import pytest

from mcxtest import HttpConn, PeerClosed, assert_json_error, raw_exchange, wait_until


@pytest.fixture(scope="module")
def srv(module_mcxd):
    return module_mcxd("--max-body-size", "1024", "--read-timeout-ms", "500")


def test_404_json(srv):
    r = srv.get("/api/v1/does-not-exist", {"X-Request-Id": "nf-1"})
    doc = assert_json_error(r, 404)
    assert doc["request_id"] == "nf-1"
    assert r.header("Content-Length") == str(len(r.body))


def test_405_with_allow(srv):
    r = srv.request("POST", "/healthz", body=b"")
    assert_json_error(r, 405)
    allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
    assert set(allow) == {"GET", "HEAD"}, r.header("Allow")
    r = srv.request("DELETE", "/metrics")
    assert_json_error(r, 405)
    assert "GET" in r.header("Allow")


def test_unknown_method_is_an_error_not_a_crash(srv):
    r = raw_exchange(srv.port, b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status in (400, 405, 501), r
    assert_json_error(r, r.status)


def test_431_big_header(srv):
    with HttpConn(srv.port) as c:
        try:
            r = c.request("GET", "/healthz", {"X-Big": "a" * 40960})
        except (ConnectionResetError, BrokenPipeError) as e:
            pytest.fail(f"connection dropped instead of a 431: {e}")
        assert_json_error(r, 431)
        assert c.wait_closed(5), "connection should close after 431"
    assert srv.get("/healthz").status == 200


def test_431_many_small_headers(srv):
    headers = [(f"X-H{i}", "v" * 300) for i in range(120)]  # ~37 KiB in total
    r = srv.request("GET", "/healthz", headers)
    assert_json_error(r, 431)


def test_header_below_limit_is_fine(srv):
    r = srv.get("/healthz", {"X-Big": "a" * 30000})
    assert r.status == 200


def test_413_body_over_limit(srv):
    body = b"x" * 2048
    r = srv.request("POST", "/healthz", body=body)
    assert_json_error(r, 413)


def test_413_before_the_body_is_sent(srv):
    with HttpConn(srv.port, timeout=5) as c:
        c.send(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 2048\r\n\r\n")
        t0 = time.monotonic()
        r = c.read_response(timeout=3)
        assert_json_error(r, 413)
        assert time.monotonic() - t0 < 2
        assert r.header("Connection") == "close"


def test_413_with_expect_100_continue(srv):
    with HttpConn(srv.port, timeout=5) as c:
        c.send(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response(timeout=3)
        # The final answer, and no "100 Continue" before it: the body must not be sent.
        assert r.status != 100, "server asked for a body it is going to refuse"
        assert_json_error(r, 413)
        assert c.wait_closed(5)


def test_body_at_the_limit_is_read(srv):
    # No route takes a body yet, but GET /healthz with one reads it (exactly 1024 bytes is
    # within the limit) and the connection stays in sync: the body, which looks like a
    # request, must not be parsed as the next request.
    with HttpConn(srv.port) as c:
        body = b"GET /x HTTP/1.1\r\n\r\n".ljust(1024, b"z")
        r = c.request("GET", "/healthz", {"X-Request-Id": "at-limit"}, body=body)
        assert r.status == 200, r
        r2 = c.request("GET", "/healthz", {"X-Request-Id": "after-limit"})
        assert r2.status == 200 and r2.header("X-Request-Id") == "after-limit"
    r = srv.request("GET", "/healthz", body=b"y" * 1025)
    assert_json_error(r, 413)


def test_expect_100_continue_within_limit(srv):
    with HttpConn(srv.port, timeout=5) as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response(timeout=3)
        assert r.status == 100, r
        c.send(b"0123456789")
        r = c.read_response(timeout=3)
        assert r.status == 200, r


def test_408_half_a_head(srv):
    with HttpConn(srv.port, timeout=5) as c:
        t0 = time.monotonic()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        r = c.read_response(timeout=3)
        elapsed = time.monotonic() - t0
        assert_json_error(r, 408)
        assert 0.3 < elapsed < 2.0, elapsed
        assert c.wait_closed(3)


def test_408_slow_body(srv):
    with HttpConn(srv.port, timeout=5) as c:
        t0 = time.monotonic()
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        r = c.read_response(timeout=3)
        assert_json_error(r, 408)
        assert time.monotonic() - t0 < 2.0


def test_408_slowloris_dribble(srv):
    """A byte every 100 ms keeps the socket busy, but the whole request must arrive
    within --read-timeout-ms (500 ms)."""
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    with HttpConn(srv.port, timeout=5) as c:
        t0 = time.monotonic()
        got = None
        for i in range(len(data)):
            try:
                c.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            r, _, _ = select.select([c.sock], [], [], 0.1)
            if r:
                break
            if time.monotonic() - t0 > 3:
                break
        got = c.read_response(timeout=3)
        elapsed = time.monotonic() - t0
        assert_json_error(got, 408)
        assert elapsed < 2.0, elapsed


def test_idle_connection_gets_no_408(srv):
    """An idle keep-alive connection is not a slow request."""
    with HttpConn(srv.port, timeout=5) as c:
        assert c.request("GET", "/healthz").status == 200
        time.sleep(0.9)  # longer than the read timeout, shorter than keep-alive
        assert c.is_open_now(), "idle keep-alive connection closed by the read timeout"
        assert not c.buf, f"unsolicited bytes on an idle connection: {bytes(c.buf)!r}"
        assert c.request("GET", "/healthz").status == 200


def test_411_chunked_request_body(srv):
    r = raw_exchange(srv.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert_json_error(r, 411)


GARBAGE = {
    "garbage line": b"GARBAGE\r\n\r\n",
    "no target": b"GET\r\n\r\n",
    "no version": b"GET /healthz\r\n\r\n",
    "binary": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "NUL in line": b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n",
    "header without colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    "space before colon": b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",
    "obs-fold": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",
    "HTTP/1.1 without Host": b"GET /healthz HTTP/1.1\r\n\r\n",
    "two Content-Lengths": b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                           b"Content-Length: 2\r\n\r\nab",
    "negative Content-Length": b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "absolute-form target": b"GET http://evil/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad percent escape": b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    "control char in header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_400_malformed(srv, case):
    r = raw_exchange(srv.port, GARBAGE[case], timeout=5)
    assert_json_error(r, 400)


def test_unsupported_http_version(srv):
    r = raw_exchange(srv.port, b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
    assert r.status in (400, 505), r
    assert_json_error(r, r.status)


def test_http10_closes_by_default(srv):
    with HttpConn(srv.port) as c:
        c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert c.wait_closed(3)


def test_keep_alive_three_requests(srv):
    with HttpConn(srv.port) as c:
        local = c.sock.getsockname()
        ids = []
        for path in ("/healthz", "/readyz", "/healthz"):
            r = c.request("GET", path)
            assert r.status == 200, r
            assert (r.header("Connection") or "keep-alive").lower() == "keep-alive"
            ids.append(r.header("X-Request-Id"))
        assert c.sock.getsockname() == local
        assert len(set(ids)) == 3
        r = c.request("GET", "/healthz", {"Connection": "close"})
        assert r.status == 200 and r.header("Connection") == "close"
        assert c.wait_closed(3)


def test_pipelining_in_order(srv):
    req = (b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-1\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-2\r\n\r\n"
           b"GET /missing HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-3\r\n\r\n"
           b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-4\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: pipe-5\r\n\r\n")
    with HttpConn(srv.port) as c:
        c.send(req)
        r1 = c.read_response()
        r2 = c.read_response()
        r3 = c.read_response()
        r4 = c.read_response(head=True)
        r5 = c.read_response()
    assert [r.header("X-Request-Id") for r in (r1, r2, r3, r4, r5)] == \
        ["pipe-1", "pipe-2", "pipe-3", "pipe-4", "pipe-5"]
    assert r1.status == 200 and r1.json()["status"] == "ready"
    assert r2.status == 200 and r2.json() == {"status": "ok"}
    assert_json_error(r3, 404)
    assert r4.status == 200 and r4.body == b""
    assert r5.status == 200 and r5.json() == {"status": "ok"}


def test_pipelined_request_after_body(srv):
    req = (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
           b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: after-body\r\n\r\n")
    with HttpConn(srv.port) as c:
        c.send(req)
        assert_json_error(c.read_response(), 405)
        try:
            r = c.read_response()
        except PeerClosed:
            return  # closing after a refused body is allowed
        assert r.status == 200 and r.header("X-Request-Id") == "after-body"


def test_server_survives_abrupt_clients(srv):
    for data in (b"GET /healthz HTTP/1.1\r\nHo", b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 500\r\n\r\nabc", b""):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.sendall(data)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    assert srv.get("/healthz").status == 200


def test_max_connections(mcxd):
    s = mcxd("--max-connections", "2")
    a, b = HttpConn(s.port), HttpConn(s.port)
    try:
        # Requests on both make sure the server has accepted and counts them.
        assert a.request("GET", "/healthz").status == 200
        assert b.request("GET", "/healthz").status == 200
        with HttpConn(s.port, timeout=5) as third:
            try:
                third.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = third.read_response(timeout=5)
            assert r.status == 503, r
            ctype = r.header("Content-Type") or ""
            assert ctype.split(";")[0] == "application/json", r
            doc = r.json()
            assert isinstance(doc.get("error"), dict) and doc["error"].get("code"), doc
            assert third.wait_closed(3)
        # the two admitted connections still work
        assert a.request("GET", "/healthz").status == 200
        assert b.request("GET", "/readyz").status == 200
    finally:
        a.close()
    # once one is gone, a new connection is admitted again
    try:
        def admitted():
            try:
                return mcxtest_get(s.port).status == 200
            except Exception:  # noqa: BLE001
                return False
        wait_until(admitted, 5, 0.05, "a connection admitted after another closed")
    finally:
        b.close()


def test_max_connections_503_has_request_id(mcxd):
    """Every response carries X-Request-Id (DESIGN §3 request lifecycle), the
    connection-limit 503 included."""
    s = mcxd("--max-connections", "1")
    with HttpConn(s.port) as a:
        assert a.request("GET", "/healthz").status == 200
        with HttpConn(s.port, timeout=5) as b:
            r = b.read_response(timeout=5)
            assert r.status == 503
            assert r.header("X-Request-Id"), f"503 without X-Request-Id: {r.head_bytes!r}"
            assert r.json().get("request_id") == r.header("X-Request-Id")


def mcxtest_get(port):
    from mcxtest import get
    return get(port, "/healthz", timeout=3)


def test_keepalive_timeout_closes_idle_connection(mcxd):
    s = mcxd("--keepalive-timeout-ms", "300")
    with HttpConn(s.port) as c:
        assert c.request("GET", "/healthz").status == 200
        t0 = time.monotonic()
        assert c.wait_closed(3), "idle connection not closed after --keepalive-timeout-ms"
        assert 0.2 < time.monotonic() - t0 < 2.0
        assert not c.buf, f"bytes sent on an idle close: {bytes(c.buf)!r}"


def test_zz_nothing_leaks(srv):
    """Runs last in this file: after every error case above, the server holds no stray
    connections or requests (only the scrape's own)."""
    import promparse

    def settled():
        expo = promparse.parse(srv.metrics_text())
        return (expo.value("mcx_http_connections_open") == 1 and
                expo.value("mcx_http_requests_in_flight") == 1)
    wait_until(settled, 5, 0.05, "connections_open == 1 and requests_in_flight == 1")
