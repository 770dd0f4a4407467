"""script/pg as root in a directory PostgreSQL's user cannot enter — a clone under
/root (mode 700), what a newcomer on a fresh machine has: the cluster is made in
/var/lib/mcx/clusters and the asked-for directory becomes a link to it; it starts,
answers, stops; removing the link and starting again gives a fresh cluster. Skipped
when not run as root (then PostgreSQL runs as the caller and reaches its files)."""

import os
import shutil
import subprocess
import tempfile

import pytest

SOURCE = os.environ.get("MCX_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
PG = os.path.join(SOURCE, "script", "pg")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to postgres")


def pg(*args, check=True):
    r = subprocess.run([PG, *args], capture_output=True, text=True, timeout=180)
    if check:
        assert r.returncode == 0, f"script/pg {' '.join(args)}: {r.returncode}\n{r.stderr}"
    return r


def test_a_closed_directory_gets_its_cluster_elsewhere():
    closed = tempfile.mkdtemp(prefix="mcx-closed-")  # mode 700, owned by root
    os.chmod(closed, 0o700)
    want = os.path.join(closed, "var", "pg")
    target = None
    try:
        r = pg("start", want)
        assert os.path.islink(want), "the cluster directory is not a link"
        target = os.path.realpath(want)
        assert target.startswith("/var/lib/mcx/clusters/pg-"), target
        assert "cannot enter" in r.stderr and target in r.stderr, r.stderr
        assert pg("status", want).returncode == 0
        url = pg("url", want).stdout.strip()
        assert url == f"host={target}/run dbname=mcx user=mcx", url
        psql = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url]
        subprocess.run(psql + ["-c", "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)"],
                       check=True, capture_output=True)
        pg("stop", want)
        # started again through the link: the same cluster, its data kept
        pg("start", want)
        assert subprocess.run(psql + ["-c", "SELECT count(*) FROM kept"], check=True,
                              capture_output=True, text=True).stdout.strip() == "1"
        pg("stop", want)
        # the link removed (as script/test removes its cluster): the next one is new
        os.unlink(want)
        pg("start", want)
        assert os.path.realpath(want) == target
        r = subprocess.run(psql + ["-c", "SELECT count(*) FROM pg_tables WHERE tablename = 'kept'"],
                           check=True, capture_output=True, text=True)
        assert r.stdout.strip() == "0", "a removed cluster came back"
        pg("stop", want)
    finally:
        if os.path.lexists(want):
            pg("stop", want, check=False)
        shutil.rmtree(closed, ignore_errors=True)
        if target and target.startswith("/var/lib/mcx/clusters/"):
            shutil.rmtree(target, ignore_errors=True)
