"""
Fixtures for the mcxd integration tests (helpers live in mcxtest.py).

* db             — module-scoped: a fresh database in the shared cluster
                   ($MCX_TEST_PG_DIR), migrated with `$MCX migrate`, dropped afterwards;
* web_root       — module-scoped minimal static root;
* mcxd           — function-scoped factory: mcxd(*flags, expect_exit=0, ...) starts a
                   server on 127.0.0.1:0 and waits for its listening line and /healthz;
                   at teardown every server gets SIGTERM and the test FAILS if one does
                   not exit in time, exits with another status than expected, or left
                   a sanitizer report in its log;
* module_mcxd    — the same, shared by a module's tests;
* private_pg     — a private cluster (script/pg) in a temporary directory.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mcxtest  # noqa: E402


def _label(request):
    return os.path.splitext(os.path.basename(str(request.node.fspath)))[0]


@pytest.fixture(scope="module")
def db(request):
    database = mcxtest.Database(mcxtest.shared_conninfo("postgres"), _label(request))
    database.create(migrate=True)
    yield database
    database.drop()


@pytest.fixture(scope="module")
def web_root(tmp_path_factory):
    return mcxtest.write_web_root(str(tmp_path_factory.mktemp("web")))


def _finish(factory):
    problems = factory.cleanup()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def mcxd(db, web_root, tmp_path):
    factory = mcxtest.McxdFactory(str(tmp_path), db.url, web_root)
    yield factory.start
    _finish(factory)


@pytest.fixture(scope="module")
def module_mcxd(db, web_root, tmp_path_factory):
    factory = mcxtest.McxdFactory(str(tmp_path_factory.mktemp("mcxd")), db.url, web_root)
    yield factory.start
    _finish(factory)


@pytest.fixture
def private_pg():
    cluster = mcxtest.PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()
