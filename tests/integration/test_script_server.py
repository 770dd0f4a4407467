"""Acceptance: script/server serves /healthz, stops its database on SIGTERM, keeps
the data across starts, and listens where MCX_LISTEN says; it loads the demo network
(demo/) when its institutions are missing, leaves it alone once it is there, and skips
it with MCX_DEMO=0.

Runs the newcomer's command itself (release build included), with MCX_VAR_DIR
pointing at a temporary directory so the developer's var/ is never touched."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

SOURCE = os.environ.get("MCX_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DEMO = os.path.join(SOURCE, "demo")


def demo_offers():
    """Demo institution id -> number of offers in its demo/<id>.xml."""
    with open(os.path.join(DEMO, "institutions.tsv"), encoding="utf-8") as f:
        ids = [line.split("\t")[0] for line in f.read().splitlines()[1:] if line.strip()]
    counts = {}
    for iid in ids:
        with open(os.path.join(DEMO, f"{iid}.xml"), encoding="utf-8") as f:
            counts[iid] = f.read().count("<learningOpportunity ")
    return counts


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_running(var):
    return subprocess.run([os.path.join(SOURCE, "script", "pg"), "status", os.path.join(var, "pg")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def psql(var, sql):
    url = subprocess.check_output([os.path.join(SOURCE, "script", "pg"), "url", os.path.join(var, "pg")],
                                  text=True).strip()
    return subprocess.run(["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        assert r.status == 200
        return json.load(r)


def log_text(log):
    log.seek(0)
    return log.read()


def start_server(var, port, log, demo=None):
    env = dict(os.environ, MCX_VAR_DIR=var, MCX_LISTEN=f"127.0.0.1:{port}")
    env.pop("MCX_DATABASE_URL", None)
    env.pop("MCX_DEMO", None)
    if demo is not None:
        env["MCX_DEMO"] = demo
    proc = subprocess.Popen([os.path.join(SOURCE, "script", "server")], cwd=SOURCE, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120  # acceptance: within 2 minutes
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"script/server exited with {proc.returncode} before serving:\n"
                        f"{log_text(log)[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                assert r.status == 200
                assert r.read() == b'{"status":"ok"}'
                return proc
        except OSError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("script/server did not serve /healthz within 120 s")


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("script/server did not stop within 60 s of SIGTERM")


def test_server_serves_stops_and_keeps_data():
    var = tempfile.mkdtemp(prefix="mcx-server-", dir="/tmp")
    os.chmod(var, 0o755)  # the cluster may run as the postgres user
    log = open(os.path.join(var, "server.log"), "w+")
    port = free_port()
    demo = demo_offers()
    try:
        # 1. A fresh cluster with MCX_DEMO=0: served, and no demo data at all.
        proc = start_server(var, port, log, demo="0")
        assert pg_running(var)
        assert get_json(port, "/api/v1/institutions")["items"] == []
        assert get_json(port, "/api/v1/offers?limit=1")["total"] == 0
        psql(var, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        stop_server(proc)
        assert not pg_running(var), "SIGTERM must stop the private cluster too"
        out = log_text(log)
        assert f"http://127.0.0.1:{port}/" in out, out[-2000:]
        assert "demo data: skipped (MCX_DEMO=0)" in out, out[-2000:]
        seen = len(out)

        # 2. The next start, demo on by default: the demo institutions are missing, so
        # they are added and their catalogues published; the kept data is still there.
        proc = start_server(var, port, log)
        assert psql(var, "SELECT v FROM kept") == "still here"
        listed = {i["id"]: i for i in get_json(port, "/api/v1/institutions")["items"]}
        assert set(demo) <= set(listed) and len(demo) >= 5
        assert len({listed[i]["country"] for i in demo}) >= 3
        for iid, n in demo.items():
            assert listed[iid]["home"] is True
            assert get_json(port, f"/api/v1/offers?institution={iid}&limit=1")["total"] == n, iid
        assert sum(demo.values()) == 40
        assert psql(var, "SELECT count(*) FROM offers WHERE deleted_at IS NULL") == "40"
        out = log_text(log)[seen:]
        assert (f"demo data: loaded {len(demo)} institutions" in out
                and ", 40 offers, 0 rejected" in out), out[-3000:]
        # a user's edit, which the next start must not undo
        psql(var, "UPDATE institutions SET name = '{\"en\":\"VMU, renamed\"}' WHERE id = 'vdu.lt'")
        before = psql(var, "SELECT count(*), sum(version) FROM offers")
        stop_server(proc)
        assert not pg_running(var)
        seen = len(log_text(log))

        # 3. A restart over the kept cluster loads nothing again and keeps the edit.
        proc = start_server(var, port, log)
        assert psql(var, "SELECT v FROM kept") == "still here"
        assert get_json(port, "/api/v1/institutions/vdu.lt")["name"] == "VMU, renamed"
        assert psql(var, "SELECT count(*), sum(version) FROM offers") == before
        stop_server(proc)
        assert not pg_running(var)
        out = log_text(log)[seen:]
        assert "demo data: already there" in out and "demo data: loaded" not in out, out[-3000:]
    finally:
        if pg_running(var):
            subprocess.run([os.path.join(SOURCE, "script", "pg"), "stop", os.path.join(var, "pg")])
        subprocess.run(["rm", "-rf", var])
