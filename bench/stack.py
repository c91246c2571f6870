"""The production stack a part runs against: PostgreSQL and Redis checked
first, a fresh database for each part, Django code run in a subprocess, and
server subprocesses that are always stopped, also on error or Ctrl-C.

Every server runs in its own process group (so a Celery worker's pool
children go with it) and dies with the bench process if that is killed
outright (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
LOGS = VAR / "logs"
RESULTS = VAR / "results.json"
BIN = Path(sys.executable).parent

# Where the services are; the bench owns one database and one Redis db number.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
BENCH_DATABASE = "switchboard_bench"
BENCH_REDIS_DB = 5

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no'

RESULT_MARK = "@@bench-result@@ "


class StackError(Exception):
    """The bench cannot run (a service is down, a server died, setup failed)."""


# --- Services -------------------------------------------------------------------


def check_postgres() -> str:
    """The server's version, or StackError saying how to start it."""
    import psycopg

    try:
        with psycopg.connect(f"{POSTGRES_URL}/postgres", connect_timeout=3, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0].split()[0]
    except psycopg.Error as exc:
        raise StackError(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({str(exc).strip()}).\n"
            f"Start it with:  {START_POSTGRES}\n"
            "(or point BENCH_POSTGRES_URL at a server where user postgres may create databases)"
        ) from None


def check_redis() -> str:
    import redis

    try:
        client = redis.Redis.from_url(f"{REDIS_URL}/0", socket_connect_timeout=3, socket_timeout=3)
        return str(client.info("server").get("redis_version", "?"))
    except redis.RedisError as exc:
        raise StackError(
            f"Redis is not reachable at {REDIS_URL} ({exc}).\n"
            f"Start it with:  {START_REDIS}\n"
            "(or point BENCH_REDIS_URL at another server)"
        ) from None


def production_env(
    *,
    database_url: str,
    redis_url: str,
    var_dir: Path,
    secret_key: str = "bench",  # noqa: S107 (the bench's own servers' key)
    **extra: str,
) -> dict[str, str]:
    """The environment of a production-mode process on loopback (DEBUG off,
    Celery for background work, channels-redis, plain HTTP), without
    anything inherited that would change the mode. The benchmarks and the
    fault tests start their servers and workers with it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    for name in ("DJANGO_SETTINGS_MODULE", "TEST_DATABASE_NAME", "DEBUG", "CHANNELS_PREFIX"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=secret_key,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # Plain HTTP on loopback: no redirect to HTTPS, cookies sent over HTTP.
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        SWITCHBOARD_VAR_DIR=str(var_dir),
    )
    env.update(extra)
    return env


@dataclass(slots=True)
class Stack:
    """What every part shares: the checked services and where logs go."""

    postgres_version: str = ""
    redis_version: str = ""
    log_dir: Path = LOGS
    idle_wait: float = 0.0  # --wait-idle: seconds a part may wait for the machine to be idle

    @classmethod
    def checked(cls) -> Stack:
        postgres, redis_version = check_postgres(), check_redis()
        LOGS.mkdir(parents=True, exist_ok=True)
        return cls(postgres_version=postgres, redis_version=redis_version)

    def settle(self) -> float | None:
        """Called by a part just before it measures: wait for an idle machine
        if the run asked for it (``--wait-idle``)."""
        return self.wait_until_idle(self.idle_wait) if self.idle_wait > 0 else None

    def wait_until_idle(self, max_seconds: float, *, busy_below: float = 0.25, window: float = 3.0) -> float:
        """Wait (up to ``max_seconds``) for a ``window`` in which the machine's
        CPUs are less than ``busy_below`` busy, so other work does not compete
        with the measurement; returns the busy fraction last seen."""
        deadline = time.monotonic() + max_seconds
        while True:
            busy0, total0 = machine_cpu_seconds()
            time.sleep(window)
            busy1, total1 = machine_cpu_seconds()
            busy = (busy1 - busy0) / max(total1 - total0, 1e-9)
            if busy < busy_below:
                print(f"  machine idle ({100 * busy:.0f}% busy)", flush=True)
                return busy
            if time.monotonic() >= deadline:
                print(f"  machine still {100 * busy:.0f}% busy; measuring anyway", flush=True)
                return busy
            print(f"  machine {100 * busy:.0f}% busy; waiting for it to be idle…", flush=True)

    # Database and Redis -------------------------------------------------------

    def database_url(self, name: str = BENCH_DATABASE) -> str:
        return f"{POSTGRES_URL}/{name}"

    def redis_url(self, db: int = BENCH_REDIS_DB) -> str:
        return f"{REDIS_URL}/{db}"

    def fresh_database(self, name: str = BENCH_DATABASE, *, env: dict[str, str] | None = None) -> str:
        """Drop and create ``name`` and migrate it; returns its URL. The bench
        process holds ``name``'s lock from then on (see ``hold_lock``)."""
        import psycopg
        from psycopg import sql

        hold_lock(name)
        started = time.monotonic()
        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = self.database_url(name)
        run_env = env or self.production_env(database_url=url, redis_url=self.redis_url())
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env={**run_env, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"manage.py migrate failed on {name}:\n{_tail(done.stdout + done.stderr)}")
        print(f"  fresh database {name}, migrated in {time.monotonic() - started:.1f} s", flush=True)
        return url

    def clone_database(self, target: str, *, source: str = BENCH_DATABASE) -> str:
        """Drop ``target`` and create it as a file-level copy of ``source``
        (same rows, same planner statistics); returns its URL. Nothing may
        be connected to ``source`` meanwhile."""
        import psycopg
        from psycopg import sql

        started = time.monotonic()
        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source))
                )
            except psycopg.Error as exc:
                raise StackError(f"could not copy database {source} to {target}: {str(exc).strip()}") from None
        print(f"  database {source} copied to {target} in {time.monotonic() - started:.1f} s", flush=True)
        return self.database_url(target)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def flush_redis(self, db: int = BENCH_REDIS_DB) -> None:
        """Empty the bench's Redis db: no broker messages or channel-layer
        groups left from an earlier run."""
        import redis

        redis.Redis.from_url(self.redis_url(db)).flushdb()

    def production_env(self, *, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
        """The environment of a production-mode process (see ``production_env``)."""
        return production_env(database_url=database_url, redis_url=redis_url, var_dir=VAR / "var", **extra)

    # Django code in a subprocess ------------------------------------------------

    def django(self, target: str, *, env: dict[str, str], timeout: float = 300, **kwargs: object) -> object:
        """Run ``module:function(**kwargs)`` inside Django configured by
        ``env`` (see ``bench.in_django``) and return its JSON result."""
        done = subprocess.run(
            [sys.executable, "-m", "bench.in_django", target, json.dumps(kwargs)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        marked = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
        if done.returncode != 0 or not marked:
            raise StackError(f"{target} failed (exit {done.returncode}):\n{_tail(done.stdout + done.stderr)}")
        return json.loads(marked[-1][len(RESULT_MARK) :])


_held_locks: dict[str, int] = {}


def hold_lock(name: str, *, wait: float = 1800.0) -> None:
    """Hold the lock ``var/bench/<name>.lock`` until this process exits, so
    two bench runs on this machine never drop each other's database: the
    second waits (up to ``wait`` seconds) for the first to finish."""
    if name in _held_locks:
        return
    VAR.mkdir(parents=True, exist_ok=True)
    fd = os.open(VAR / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by subprocesses
    deadline = time.monotonic() + wait
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not waiting:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                print(f"  another bench run (pid {holder}) is using {name}; waiting for it to finish…", flush=True)
                waiting = True
            if time.monotonic() > deadline:
                os.close(fd)
                raise StackError(f"another bench run held {name} for more than {wait:.0f} s") from None
            time.sleep(1)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    _held_locks[name] = fd


# --- Server processes ------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the bench process dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass(slots=True)
class Server:
    name: str
    process: subprocess.Popen
    log_path: Path

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its children (its process group)."""
        return group_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return ""


@dataclass(slots=True)
class Processes:
    """Servers started for one part; ``with Processes(...) as procs`` stops
    them all on the way out, whatever happened."""

    prefix: str
    log_dir: Path = LOGS
    servers: list[Server] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str]) -> Server:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{self.prefix}-{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        server = Server(name=name, process=process, log_path=log_path)
        self.servers.append(server)
        return server

    def check(self) -> None:
        """StackError if any server has exited."""
        for server in self.servers:
            code = server.process.poll()
            if code is not None:
                raise StackError(
                    f"{server.name} exited with code {code}; the end of {server.log_path}:\n{server.log_tail()}"
                )

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM each server's process group, wait, then SIGKILL what is left."""
        for server in reversed(self.servers):
            _signal_group(server.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for server in reversed(self.servers):
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for server in self.servers:
            # Also reaps pool children that outlived their parent.
            _signal_group(server.process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=5)
        self.servers.clear()

    def __enter__(self) -> Processes:
        _live.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            if self in _live:
                _live.remove(self)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


_live: list[Processes] = []


def stop_all() -> None:
    """Stop every server still running (the SIGTERM handler and atexit)."""
    for procs in list(_live):
        with contextlib.suppress(Exception):
            procs.stop(grace=5.0)
        if procs in _live:
            _live.remove(procs)


# --- CPU accounting (Linux /proc) ----------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> Iterator[tuple[str, int, float]]:
    """(command, process group, CPU seconds) of every live process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        command = raw[raw.find("(") + 1 : raw.rfind(")")]
        fields = raw[raw.rfind(")") + 2 :].split()
        yield command, int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICK


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes in a process group."""
    return sum(cpu for _, group, cpu in _proc_stats() if group == pgid)


def command_cpu_seconds(*commands: str) -> float:
    """CPU seconds of the live processes running these commands (e.g.
    ``postgres``: every backend, also those of other databases)."""
    return sum(cpu for command, _, cpu in _proc_stats() if command in commands)


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICK, total / _TICK


# --- Small network helpers -----------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, procs: Processes, timeout: float = 60.0) -> None:
    """Until ``url`` answers at all (any status), or a server died, or time ran out."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while True:
        procs.check()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=2)
        try:
            conn.request("GET", parts.path or "/")
            conn.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise StackError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.1)
        finally:
            conn.close()


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
