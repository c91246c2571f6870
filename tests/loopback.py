"""A provider's HTTP API played on loopback for the tests: a real server in
a thread that hands each POST to ``handle(path, headers, body)`` and answers
with its ``(status, json)``; ``None`` as the json drops the connection, as a
provider that hangs up."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handle = Callable[[str, dict, bytes], tuple[int, dict | None]]


@contextmanager
def json_api(handle: Handle) -> Iterator[str]:
    """Serve ``handle`` until the block ends; yields the server's base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = handle(self.path, dict(self.headers), body)
            if answer is None:
                self.close_connection = True
                return
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
