"""The async PostgreSQL pool under load (acceptance: "Pool of 4 connections, 200 concurrent
requests that each run pg_sleep(0.05): all 200 succeed; with the wait queue limited to 10,
the excess get 503 within the queue timeout"), and cancellation when a client leaves."""

import socket
import threading
import time

import promparse
from mcxtest import HttpConn, HttpError, assert_json_error, wait_until


def fire(port, path, n, timeout=30.0):
    """n concurrent requests, each on its own connection, released together.
    Returns a list of dicts: status, resp, latency (send → full response), error."""
    results = [None] * n
    barrier = threading.Barrier(n, timeout=30)

    def one(i):
        res = {"status": None, "resp": None, "latency": None, "error": None}
        try:
            c = HttpConn(port, timeout=timeout)
            try:
                data = HttpConn.build("GET", path, [("Connection", "close")])
                barrier.wait()
                t0 = time.monotonic()
                c.send(data)
                r = c.read_response()
                res.update(status=r.status, resp=r, latency=time.monotonic() - t0)
            finally:
                c.close()
        except (OSError, HttpError, TimeoutError, threading.BrokenBarrierError) as e:
            res["error"] = repr(e)
        results[i] = res

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 35)
    assert not any(t.is_alive() for t in threads), "client threads did not finish"
    return results


class Monitor(threading.Thread):
    """Polls pg_stat_activity and /metrics while a burst runs; keeps the maxima."""

    def __init__(self, db, srv):
        super().__init__(daemon=True)
        self.db, self.srv = db, srv
        self.stop_evt = threading.Event()
        self.max_backends = 0
        self.max_busy = 0
        self.max_connected = 0
        self.max_waiting = 0
        self.samples = 0
        self.errors = []

    def run(self):
        while not self.stop_evt.is_set():
            try:
                self.max_backends = max(self.max_backends, self.db.mcxd_backends())
                expo = promparse.parse(self.srv.metrics_text())
                self.max_busy = max(self.max_busy,
                                    expo.value("mcx_db_pool_connections", state="busy"))
                self.max_connected = max(self.max_connected,
                                         expo.value("mcx_db_pool_connections", state="connected"))
                self.max_waiting = max(self.max_waiting, expo.value("mcx_db_pool_waiting"))
                self.samples += 1
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
            self.stop_evt.wait(0.02)

    def finish(self):
        self.stop_evt.set()
        self.join(10)


def test_200_concurrent_on_4_connections(mcxd, db):
    srv = mcxd("--pool-size", "4", "--pool-queue", "1000", "--pool-timeout-ms", "30000",
               "--debug-endpoints")
    mon = Monitor(db, srv)
    mon.start()
    try:
        t0 = time.monotonic()
        results = fire(srv.port, "/debug/sleep?seconds=0.05", 200)
        elapsed = time.monotonic() - t0
    finally:
        mon.finish()
    errors = [r for r in results if r["status"] != 200]
    assert not errors, f"{len(errors)} of 200 failed, e.g. {errors[:3]}"
    for r in results:
        assert r["resp"].json() == {"slept": True}
    # 200 x 50 ms on 4 connections cannot take less than 2.5 s: they really queued
    assert elapsed >= 2.4, elapsed
    assert not mon.errors, mon.errors[:3]
    assert mon.samples >= 3
    assert mon.max_backends <= 4, f"{mon.max_backends} backends for a pool of 4"
    assert mon.max_connected <= 4 and mon.max_busy <= 4, (mon.max_connected, mon.max_busy)
    assert mon.max_busy >= 2, "the pool never ran queries in parallel"
    assert db.mcxd_backends() <= 4
    expo = promparse.parse(srv.metrics_text())
    assert expo.value("mcx_db_pool_rejected_total") == 0
    assert expo.value("mcx_db_pool_timeouts_total") == 0


def test_queue_limit_gives_fast_503(mcxd, db):
    srv = mcxd("--pool-size", "4", "--pool-queue", "10", "--pool-timeout-ms", "3000",
               "--debug-endpoints")
    mon = Monitor(db, srv)
    mon.start()
    try:
        results = fire(srv.port, "/debug/sleep?seconds=0.5", 200)
    finally:
        mon.finish()
    transport = [r for r in results if r["status"] is None]
    assert not transport, transport[:3]
    ok = [r for r in results if r["status"] == 200]
    busy = [r for r in results if r["status"] == 503]
    other = [r for r in results if r["status"] not in (200, 503)]
    assert not other, [r["resp"] for r in other[:3]]
    assert len(ok) >= 14, f"only {len(ok)} succeeded"
    assert busy, "no request was refused although 200 > 4 + 10"
    for r in ok:
        assert r["resp"].json() == {"slept": True}
    for r in busy:
        assert_json_error(r["resp"], 503, "database_unavailable")
        assert r["latency"] < 2.5, f"503 after {r['latency']:.2f}s"
    assert max(r["latency"] for r in busy) < 2.5
    assert not mon.errors, mon.errors[:3]
    assert mon.max_backends <= 4 and mon.max_busy <= 4
    assert mon.max_waiting <= 10, f"{mon.max_waiting} waiting with --pool-queue 10"
    expo = promparse.parse(srv.metrics_text())
    refused = expo.value("mcx_db_pool_rejected_total") + expo.value("mcx_db_pool_timeouts_total")
    assert refused == len(busy), (refused, len(busy))
    assert expo.value("mcx_http_requests_total", route="/debug/sleep", status="503") == len(busy)
    assert expo.value("mcx_http_requests_total", route="/debug/sleep", status="200") == len(ok)
    assert srv.get("/readyz").status == 200


def test_queue_timeout_gives_503(mcxd):
    srv = mcxd("--pool-size", "1", "--pool-queue", "10", "--pool-timeout-ms", "500",
               "--debug-endpoints")
    with HttpConn(srv.port, timeout=10) as hold:
        hold.send(HttpConn.build("GET", "/debug/sleep?seconds=2"))
        time.sleep(0.2)
        t0 = time.monotonic()
        r = srv.get("/debug/sleep?seconds=0.01", timeout=5)
        waited = time.monotonic() - t0
        assert_json_error(r, 503, "database_unavailable")
        assert 0.4 < waited < 1.5, waited
        assert hold.read_response().status == 200
    assert srv.get("/debug/sleep?seconds=0.01").status == 200


def test_debug_sleep_validates_input(mcxd):
    srv = mcxd("--debug-endpoints")
    for q in ("", "?seconds=abc", "?seconds=-1", "?seconds=1e9", "?seconds=", "?seconds=NaN"):
        assert_json_error(srv.get("/debug/sleep" + q), 400)


def test_debug_endpoints_off_by_default(mcxd):
    srv = mcxd()
    r = srv.get("/debug/sleep?seconds=0")
    assert r.status == 404


def test_disconnect_cancels_query(mcxd, db):
    srv = mcxd("--pool-size", "1", "--pool-timeout-ms", "2000", "--debug-endpoints")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(HttpConn.build("GET", "/debug/sleep?seconds=5", [("X-Request-Id", "leaver-1")]))
    wait_until(lambda: db.running_sleeps() == 1, 5, 0.02, "pg_sleep running for mcxd")
    s.close()
    t0 = time.monotonic()
    wait_until(lambda: db.running_sleeps() == 0, 2, 0.02, "pg_sleep cancelled after disconnect")
    assert time.monotonic() - t0 < 1.0
    # the single pooled connection is back and usable, well before the 5 s sleep would end
    r = srv.get("/debug/sleep?seconds=0.01", timeout=5)
    assert r.status == 200, r
    assert time.monotonic() - t0 < 2.0
    assert srv.get("/healthz").status == 200
    assert srv.get("/readyz").status == 200
    line = srv.access_log("leaver-1")
    assert line["status"] == 499 and line["route"] == "/debug/sleep", line
    expo = promparse.parse(srv.metrics_text())
    assert expo.value("mcx_db_pool_connections", state="busy") == 0
    assert expo.value("mcx_db_pool_waiting") == 0
    assert expo.value("mcx_http_requests_in_flight") <= 1
    assert db.mcxd_backends() <= 1


def test_disconnect_while_queued(mcxd, db):
    srv = mcxd("--pool-size", "1", "--pool-timeout-ms", "5000", "--debug-endpoints")
    with HttpConn(srv.port, timeout=10) as hold:
        hold.send(HttpConn.build("GET", "/debug/sleep?seconds=1"))
        wait_until(lambda: db.running_sleeps() == 1, 5, 0.02, "first sleep running")
        q = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        q.sendall(HttpConn.build("GET", "/debug/sleep?seconds=3", [("X-Request-Id", "queued-1")]))

        def waiting():
            return promparse.parse(srv.metrics_text()).value("mcx_db_pool_waiting")
        wait_until(lambda: waiting() == 1, 3, 0.02, "second request queued")
        q.close()
        wait_until(lambda: waiting() == 0, 2, 0.02, "queued wait dropped after disconnect")
        assert hold.read_response().status == 200
    # the abandoned request never ran its 3 s sleep
    time.sleep(0.1)
    assert db.running_sleeps() == 0
    assert srv.get("/debug/sleep?seconds=0.01").status == 200
    assert srv.access_log("queued-1")["status"] == 499
