"""Acceptance: "/metrics is valid Prometheus text (checked by a parser in the test) and its
request counter increases by exactly the number of requests made"."""

import time

import pytest

import promparse
from mcxtest import HttpConn, assert_json_error, raw_exchange

REQUESTS = "mcx_http_requests_total"
HIST = "mcx_http_request_duration_seconds"


@pytest.fixture
def srv(mcxd):
    return mcxd("--debug-endpoints")


def scrape(srv):
    r = srv.get("/metrics")
    assert r.status == 200, r
    ctype = r.header("Content-Type") or ""
    assert ctype.startswith("text/plain"), ctype
    assert "version=0.0.4" in ctype, ctype
    assert r.header("X-Request-Id")
    return promparse.parse(r.body)


def test_metrics_is_valid_prometheus_text(srv):
    srv.get("/healthz")
    srv.get("/nope")
    expo = scrape(srv)
    fams = expo.families
    assert fams[REQUESTS].type == "counter"
    assert fams[HIST].type == "histogram"
    for name in (REQUESTS, HIST, "mcx_db_pool_connections", "mcx_db_pool_waiting",
                 "mcx_http_connections_open", "mcx_uptime_seconds", "mcx_harvest_in_flight",
                 "mcx_outbox_in_flight"):
        assert name in fams, f"{name} missing; have {sorted(fams)}"
        assert fams[name].help, f"{name} has no HELP"
        assert fams[name].type != "untyped", f"{name} has no TYPE"
    for s in expo.samples(REQUESTS):
        assert set(s.labels) == {"worker", "route", "status"}, s
        assert s.labels["worker"] == "0"
        assert s.labels["status"].isdigit() and len(s.labels["status"]) == 3, s


def test_request_counter_counts_exactly(srv):
    before = scrape(srv)
    sent = 0
    with HttpConn(srv.port) as c:
        for _ in range(3):
            assert c.request("GET", "/healthz").status == 200
            sent += 1
        assert c.request("HEAD", "/healthz").status == 200
        sent += 1
        assert c.request("GET", "/readyz").status == 200
        sent += 1
        assert c.request("GET", "/nothing/here").status == 404
        sent += 1
        assert c.request("GET", "/also/missing").status == 404
        sent += 1
        assert c.request("POST", "/healthz", body=b"").status == 405
        sent += 1
    assert srv.get("/debug/sleep?seconds=0").status == 200
    sent += 1
    assert raw_exchange(srv.port, b"GARBAGE\r\n\r\n").status == 400
    sent += 1
    after = scrape(srv)
    # the first scrape is counted once it was answered; the second one not yet
    delta = after.sum(REQUESTS) - before.sum(REQUESTS)
    assert delta == sent + 1, f"counter grew by {delta}, {sent} requests + 1 scrape were made"

    def d(**labels):
        return after.sum(REQUESTS, **labels) - before.sum(REQUESTS, **labels)
    assert d(route="/healthz", status="200") == 4
    assert d(route="/readyz", status="200") == 1
    assert d(route="/metrics", status="200") == 1
    assert d(route="/debug/sleep", status="200") == 1
    assert d(status="404") == 2
    assert d(status="405") == 1
    assert d(status="400") == 1
    # histogram counts move with the counter
    assert after.value(HIST + "_count", route="/healthz") - \
        before.sum(HIST + "_count", route="/healthz") == 4


def test_counter_per_scrape(srv):
    """Scraping n times in a row: each scrape sees exactly the previous ones."""
    values = [scrape(srv).sum(REQUESTS) for _ in range(5)]
    assert [b - a for a, b in zip(values, values[1:])] == [1, 1, 1, 1], values


def test_histogram_consistent_with_counter(srv):
    for _ in range(5):
        srv.get("/healthz")
    srv.get("/debug/sleep?seconds=0.3")
    srv.get("/missing")
    expo = scrape(srv)
    routes = {s.labels["route"] for s in expo.samples(REQUESTS)}
    assert routes >= {"/healthz", "/debug/sleep"}
    for route in routes:
        count = expo.value(HIST + "_count", route=route)
        assert count == expo.sum(REQUESTS, route=route), route
        assert expo.value(HIST + "_bucket", route=route, le="+Inf") == count
        assert expo.value(HIST + "_sum", route=route) >= 0
    # the 0.3 s sleep lands above the 0.25 bucket and in the 0.5 one
    b = {s.labels["le"]: s.value for s in expo.samples(HIST + "_bucket", route="/debug/sleep")}
    les = sorted(b, key=promparse.parse_float)
    assert promparse.parse_float(les[0]) <= 0.01 and les[-1] == "+Inf"
    below = [b[le] for le in les if promparse.parse_float(le) < 0.3]
    above = [b[le] for le in les if promparse.parse_float(le) >= 0.5]
    assert max(below) == 0 and min(above) == 1, b
    assert expo.value(HIST + "_sum", route="/debug/sleep") >= 0.3


def test_pool_and_connection_gauges(mcxd):
    srv = mcxd("--pool-size", "3")
    assert srv.get("/readyz").status == 200
    with HttpConn(srv.port) as a, HttpConn(srv.port) as b:
        a.request("GET", "/healthz")
        b.request("GET", "/healthz")
        expo = scrape(srv)
    fams = expo.families
    for name in ("mcx_db_pool_connections", "mcx_db_pool_waiting", "mcx_http_connections_open",
                 "mcx_uptime_seconds"):
        assert fams[name].type == "gauge", name
    states = {s.labels.get("state") for s in expo.samples("mcx_db_pool_connections")}
    assert states >= {"busy", "idle", "connected"}
    busy = expo.value("mcx_db_pool_connections", state="busy")
    idle = expo.value("mcx_db_pool_connections", state="idle")
    connected = expo.value("mcx_db_pool_connections", state="connected")
    assert 0 <= busy <= 3 and 0 <= idle <= 3 and 1 <= connected <= 3
    assert busy + idle <= connected
    assert expo.value("mcx_db_pool_waiting") == 0
    if "mcx_db_pool_size" in fams:
        assert expo.value("mcx_db_pool_size") == 3
    # a, b and the scrape's own connection
    assert expo.value("mcx_http_connections_open") >= 3
    up1 = expo.value("mcx_uptime_seconds")
    time.sleep(0.2)
    up2 = scrape(srv).value("mcx_uptime_seconds")
    assert 0 < up1 < up2


def test_unknown_paths_do_not_create_series(srv):
    """Route labels come from the route table, never from the request path."""
    before = scrape(srv)
    for i in range(25):
        srv.get(f"/random-{i}/x%22y%5Cz")
    raw_exchange(srv.port, b"GET /%0a HTTP/1.1\r\nHost: x\r\n\r\n")
    after = scrape(srv)
    new = {s.key() for s in after.samples(REQUESTS)} - {s.key() for s in before.samples(REQUESTS)}
    assert len(new) <= 2, new
    for s in after.samples(REQUESTS):
        assert "random" not in s.labels["route"]


def test_head_metrics(srv):
    with HttpConn(srv.port) as c:
        r = c.request("HEAD", "/metrics")
        assert r.status == 200 and r.body == b""
        assert c.request("GET", "/metrics").status == 200


def test_post_metrics_405(srv):
    assert_json_error(srv.request("POST", "/metrics", body=b""), 405)
