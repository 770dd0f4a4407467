"""Acceptance: "Stop PostgreSQL under a running mcxd: /readyz → 503 JSON, /healthz → 200,
no crash; start PostgreSQL again: /readyz → 200 within 5 s, mcxd never restarted."
Uses a private cluster (script/pg) so stopping it disturbs no other test."""

import time

import mcxtest
import promparse
from mcxtest import assert_json_error, wait_until


def test_database_outage_and_recovery(mcxd, private_pg, tmp_path):
    url = private_pg.url()
    db = mcxtest.Database(url, "readyz")
    db.create(migrate=True)
    try:
        srv = mcxd("--database-url", db.url, "--pool-size", "2", "--pool-timeout-ms", "2000",
                   "--debug-endpoints")
        pid = srv.pid
        assert srv.get("/readyz").status == 200
        assert srv.get("/debug/sleep?seconds=0").status == 200

        private_pg.stop()
        assert not private_pg.is_running()

        # Every /readyz while the database is down: a prompt 503 JSON; /healthz stays 200.
        # 7 s is long enough for the pool's reconnect backoff to reach its cap, so the
        # recovery below measures the worst case.
        saw_503 = 0
        deadline = time.monotonic() + 7
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            r = srv.get("/readyz", timeout=10)
            took = time.monotonic() - t0
            assert r.status in (200, 503), r
            if r.status == 503:
                assert_json_error(r, 503)
                assert took < 3.0, f"/readyz took {took:.1f}s with the database down"
                saw_503 += 1
            h = srv.get("/healthz", timeout=5)
            assert h.status == 200 and h.json() == {"status": "ok"}
            time.sleep(0.1)
        assert saw_503 >= 5, f"only {saw_503} 503s while PostgreSQL was down"
        assert r.status == 503, "the last /readyz with the database down was not 503"
        # a query-backed endpoint degrades the same way (503, never 500)
        assert_json_error(srv.get("/debug/sleep?seconds=0", timeout=10), 503,
                          "database_unavailable")
        expo = promparse.parse(srv.metrics_text())
        assert expo.value("mcx_db_pool_connections", state="connected") == 0
        assert srv.alive(), "mcxd died while the database was down"

        private_pg.start()
        t0 = time.monotonic()

        def ready():
            return srv.get("/readyz", timeout=5).status == 200
        wait_until(ready, 5.0, 0.1, "/readyz 200 after PostgreSQL came back")
        assert time.monotonic() - t0 <= 5.0
        assert srv.get("/debug/sleep?seconds=0").status == 200

        assert srv.alive() and srv.pid == pid
        assert len(srv.listening_lines()) == 1, "mcxd restarted (second listening line)"
        assert srv.stop() == 0
    finally:
        try:
            db.drop()
        except Exception:  # noqa: BLE001 - the cluster is removed anyway
            pass


def test_readyz_503_when_database_never_reachable(mcxd, tmp_path):
    # A socket directory with no server in it: libpq fails at once.
    srv = mcxd("--database-url", f"host={tmp_path} dbname=mcx user=mcx connect_timeout=2",
               "--pool-timeout-ms", "1500")
    for _ in range(3):
        t0 = time.monotonic()
        r = srv.get("/readyz", timeout=10)
        assert_json_error(r, 503)
        assert time.monotonic() - t0 < 2.5
    assert srv.get("/healthz").status == 200
