"""Fixtures of the fault tests: one private PostgreSQL cluster and one
private Redis for the session, a fresh database per test (copied from a
migrated template), and the test's server processes, always stopped."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench.stack import ROOT
from tests.faults.services import PrivatePostgres, PrivateRedis
from tests.faults.stack import FaultStack

TEMPLATE = "faults_template"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def fault_root():
    with tempfile.TemporaryDirectory(prefix="switchboard-faults-") as root:
        yield Path(root)


@pytest.fixture(scope="session")
def private_postgres(fault_root):
    cluster = PrivatePostgres(fault_root / "pg").init()
    try:
        cluster.sql("postgres", f"CREATE DATABASE {TEMPLATE}")
        env = FaultStack(postgres=cluster, redis=PrivateRedis(fault_root), database=TEMPLATE, tmp=fault_root).env()
        done = subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"migrate failed:\n{(done.stdout + done.stderr)[-3000:]}"
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def private_redis(fault_root):
    server = PrivateRedis(fault_root / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def fault_stack(private_postgres, private_redis, fault_root):
    """A fresh database, an empty Redis; the processes a test starts are stopped after it."""
    if private_redis.process is None:  # a test left it stopped
        private_redis.start()
    private_redis.client().flushall()
    private_postgres.wait_ready()
    database = f"fault_{next(_numbers)}"
    private_postgres.sql("postgres", f"CREATE DATABASE {database} TEMPLATE {TEMPLATE}")
    # Not tmp_path: pytest runs started meanwhile on this machine prune old ones.
    tmp = fault_root / database
    tmp.mkdir()
    stack = FaultStack(postgres=private_postgres, redis=private_redis, database=database, tmp=tmp)
    try:
        yield stack
    finally:
        stack.procs.stop(grace=3)  # SIGTERM, then SIGKILL: nothing outlives the test
