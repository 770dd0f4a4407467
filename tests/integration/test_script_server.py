"""Acceptance: script/server serves /healthz, stops its database on SIGTERM, keeps
the data across starts, and listens where MCX_LISTEN says.

Runs the newcomer's command itself (release build included), with MCX_VAR_DIR
pointing at a temporary directory so the developer's var/ is never touched."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

SOURCE = os.environ.get("MCX_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


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


def start_server(var, port, log):
    env = dict(os.environ, MCX_VAR_DIR=var, MCX_LISTEN=f"127.0.0.1:{port}")
    env.pop("MCX_DATABASE_URL", None)
    proc = subprocess.Popen([os.path.join(SOURCE, "script", "server")], cwd=SOURCE, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120  # acceptance: within 2 minutes
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"script/server exited with {proc.returncode} before serving")
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
    try:
        proc = start_server(var, port, log)
        assert pg_running(var)
        psql(var, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        stop_server(proc)
        assert not pg_running(var), "SIGTERM must stop the private cluster too"
        log.seek(0)
        out = log.read()
        assert f"http://127.0.0.1:{port}/" in out, out[-2000:]

        proc = start_server(var, port, log)
        assert psql(var, "SELECT v FROM kept") == "still here"
        stop_server(proc)
        assert not pg_running(var)
    finally:
        if pg_running(var):
            subprocess.run([os.path.join(SOURCE, "script", "pg"), "stop", os.path.join(var, "pg")])
        subprocess.run(["rm", "-rf", var])
