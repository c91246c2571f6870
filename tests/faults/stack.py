"""The production stack of one fault test: Celery workers, beat and uvicorn
as real subprocesses (bench.stack.Processes: own process groups, stopped on
the way out), on the test's private PostgreSQL database and Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.stack import BIN, RESULT_MARK, ROOT, Processes, Server, production_env, wait_for_http
from connectors.providers.generic_json import SIGNATURE_HEADER, sign
from tests.faults.services import PrivatePostgres, PrivateRedis, free_port

QUEUES = "ingest,routing,outbound,celery"


class FaultStack:
    def __init__(self, *, postgres: PrivatePostgres, redis: PrivateRedis, database: str, tmp: Path) -> None:
        self.postgres, self.redis, self.database, self.tmp = postgres, redis, database, tmp
        self.procs = Processes(prefix="fault", log_dir=tmp / "logs")
        self.port: int | None = None
        self.world: dict = {}

    # Environment and Django code -------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = production_env(
            database_url=f"{self.postgres.url}/{self.database}",
            redis_url=f"{self.redis.url}/0",
            var_dir=self.tmp / "var",
            secret_key="faults",
            # The periodic scan picks up inbound events left unprocessed this soon.
            SWITCHBOARD_INBOUND_RETRY_AFTER_SECONDS="2",
        )
        env = {k: v for k, v in env.items() if not k.startswith("FAULT_")}  # only the test's own, below
        env.update(extra)
        return env

    def django(self, target: str, **kwargs: object) -> object:
        """``module:function(**kwargs)`` run inside Django on the private database."""
        done = subprocess.run(  # noqa: S603 (our own bench.in_django, fixed arguments)
            [sys.executable, "-m", "bench.in_django", target, json.dumps(kwargs)],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        marked = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
        assert done.returncode == 0 and marked, f"{target} failed:\n{(done.stdout + done.stderr)[-3000:]}"
        return json.loads(marked[-1][len(RESULT_MARK) :])

    def seed(self, **kwargs: object) -> dict:
        self.world = self.django("tests.faults.seed:world", **kwargs)
        return self.world

    def sql(self, query: str, *params) -> list[tuple]:
        return self.postgres.sql(self.database, query, *params)

    def count(self, query: str, *params) -> int:
        return self.sql(query, *params)[0][0]

    # Processes --------------------------------------------------------------------

    def worker(self, name: str, *, app: str = "config", **env: str) -> Server:
        argv = [str(BIN / "celery"), "-A", app, "worker", "-Q", QUEUES, "-n", f"{name}@%h", "--concurrency", "1"]
        argv += ["--loglevel", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        return self.procs.start(name, argv, env=self.env(**env))

    def beat(self) -> Server:
        argv = [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "warning"]
        return self.procs.start("beat", argv + ["--schedule", str(self.tmp / "beat-schedule")], env=self.env())

    def web(self, **env: str) -> Server:
        self.port = free_port()
        argv = [str(BIN / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(self.port)]
        server = self.procs.start("web", argv + ["--lifespan", "on", "--no-access-log"], env=self.env(**env))
        wait_for_http(f"http://127.0.0.1:{self.port}/accounts/login/", procs=self.procs)
        return server

    def kill(self, server: Server) -> None:
        """SIGKILL the server and its children (a worker's pool): no cleanup runs."""
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        self.procs.servers.remove(server)

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}:\n{s.log_tail(15)}" for s in self.procs.servers)

    # Webhooks ----------------------------------------------------------------------

    def post(self, body: dict, *, timeout: float = 10) -> tuple[int, dict]:
        """A signed generic JSON webhook, as its sender would send it: (status, JSON answer)."""
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.world["secret"], raw)}
        return self.request("POST", f"/hooks/{self.world['channel_key']}/", raw, headers, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, *, timeout: float = 10
    ) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, headers=headers or {}, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read()) | {"retry_after": exc.headers.get("Retry-After")}


def message(n: int, *, tag: str = "m") -> dict:
    """A first message from a new customer: one case each."""
    return {
        "id": f"{tag}-{n}",
        "from": {"kind": "email", "address": f"{tag}{n}@example.com", "name": f"Customer {n}"},
        "text": f"{tag}-{n}: my order has not arrived.",
    }


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw[:300].decode(errors="replace")}
    return value if isinstance(value, dict) else {"value": value}


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, stack: FaultStack | None = None) -> None:
    """Poll ``check`` until it holds; fail saying ``what`` did not happen (with the servers' logs)."""
    deadline = time.monotonic() + timeout
    while not check():
        if stack is not None:
            stack.procs.check()  # a server that died says so at once
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:g} s" + (f"\n{stack.logs()}" if stack else ""))
        time.sleep(0.2)
