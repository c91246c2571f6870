"""HTTP as a browser or a provider would speak it: log in through the login
form, and POST from a pool of threads with keep-alive connections."""

from __future__ import annotations

import http.client
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from bench.stack import StackError

# What writing to a kept-alive connection the server has closed meanwhile
# raises (uvicorn closes idle ones after 5 s): the request was not read.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        parsed = SimpleCookie()
        parsed.load(header)
        jar.update({name: morsel.value for name, morsel in parsed.items()})
    return jar


def login(host: str, port: int, *, username: str, password: str) -> str:
    """Log in through ``/accounts/login/`` (CSRF token and all) and return
    the ``Cookie`` header value a browser would then send."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", "/accounts/login/")
        response = conn.getresponse()
        page = response.read()
        jar = _cookies(response)
        token = _CSRF_INPUT.search(page)
        if response.status != 200 or token is None or "csrftoken" not in jar:
            raise StackError(f"GET /accounts/login/ answered {response.status} without a CSRF token")
        form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)})
        conn.request(
            "POST",
            "/accounts/login/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={jar['csrftoken']}",
                "Referer": f"http://{host}:{port}/accounts/login/",
            },
        )
        response = conn.getresponse()
        response.read()
        jar.update(_cookies(response))
        if response.status != 302 or "sessionid" not in jar:
            raise StackError(f"logging in as {username} answered {response.status}, no session")
        return "; ".join(f"{name}={value}" for name, value in jar.items())
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int  # 0: no answer (connection failed)
    body: bytes
    sent_at: float  # perf_counter() just before the request was written
    answered_at: float
    error: str = ""


class Poster:
    """POSTs from a pool of threads, each keeping one connection alive, so an
    open-loop sender is not held back by a slow answer."""

    def __init__(self, host: str, port: int, *, threads: int = 32, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-post")
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return conn

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        headers = {"Content-Type": "application/json", **headers}
        for attempt in (1, 2):
            conn = self._conn()
            sent_at = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                return Answer(response.status, data, sent_at, time.perf_counter())
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                # A kept-alive connection the server had closed: one fresh try.
                if attempt == 2 or not isinstance(exc, _STALE):
                    return Answer(0, b"", sent_at, time.perf_counter(), error=f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
