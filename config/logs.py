"""Structured logs: one JSON object a line, with the request id and the case
id of the work being done, and no secrets.

- ``RequestId`` middleware: takes the caller's ``X-Request-ID`` (a short,
  printable one) or makes one, binds it for the request's logs and returns it
  in the response. A case id in the URL (``/api/v1/cases/<id>/…``, a view's
  ``case_id``) is bound too.
- Celery: a task's ``case_id``, ``event_id``, ``message_id`` and ``agent_id``
  keyword arguments are bound while it runs, and the request id of the request
  that queued it travels with the task.
- ``bind_case(case_id)``: for code that learns the case on the way.
- ``Redact``: values of anything named like a secret (signature headers,
  tokens, passwords, secrets, cookies, authorization) become ``[redacted]``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("switchboard_log_context", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_BOUND_TASK_ARGUMENTS = ("case_id", "event_id", "message_id", "agent_id", "delivery_id")
_CASE_PATH = re.compile(r"^/api/v1/cases/(\d{1,18})/")

SECRET_NAME = r"[\w-]*(?:signature|token|password|passwd|secret|authorization|cookie|api[_-]?key|sessionid)[\w-]*"  # noqa: S105
_SECRET_PAIR = re.compile(
    rf"""(?P<key>['"]?{SECRET_NAME}['"]?)(?P<sep>\s*[:=]\s*)(?P<value>'[^']*'|"[^"]*"|[^\s,;&}}\]]+)""", re.I
)
_SECRET_KEY = re.compile(rf"^{SECRET_NAME}$", re.I)
REDACTED = "[redacted]"
access = logging.getLogger("switchboard.access")


def context() -> dict:
    return dict(_context.get() or {})


@contextmanager
def bound(**values):
    """Bind ``values`` to every log record written inside the block."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind_case(case_id: int | None) -> None:
    """Bind a case id for the rest of the current request or task; outside
    one (a thread of the embedded pool) nothing is bound, so nothing lingers."""
    current = _context.get()
    if case_id is not None and current is not None:
        _context.set({**current, "case_id": case_id})


def is_secret_name(name: str) -> bool:
    """A header, field or argument name whose value must not be logged
    (``X-Hub-Signature-256``, ``Authorization``, ``password``…)."""
    return bool(_SECRET_KEY.match(str(name)))


def is_credential_name(name: str) -> bool:
    """A name whose value must not even be stored (a secret, token, password,
    cookie or authorization); a signature, which proves nothing twice, may be."""
    return is_secret_name(name) and "signature" not in str(name).lower()


def redact_text(text: str) -> str:
    return _SECRET_PAIR.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)


def redact_value(value):
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEY.match(str(k)) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


class Redact(logging.Filter):
    """Rewrites the record's message with secrets' values redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what the caller wrote
            message = f"{record.msg} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_FIELDS:
                setattr(record, name, REDACTED if _SECRET_KEY.match(name) else redact_value(value))
        return True


class BindContext(logging.Filter):
    """Adds the bound request and case ids to the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


_STANDARD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_FIELDS and not name.startswith("_"):
                out[name] = value
        if record.exc_info:
            out["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(out, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """The plain line, with the bound ids after the message."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={getattr(record, k)}" for k in ("request_id", "case_id") if hasattr(record, k))
        return f"{line} [{ids}]" if ids else line

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return redact_text(super().formatException(ei))


def _case_from(request, view_kwargs: dict) -> int | None:
    for key in ("case_id", "case_pk"):
        if str(view_kwargs.get(key, "")).isdigit():
            return int(view_kwargs[key])
    match = _CASE_PATH.match(request.path)
    return int(match[1]) if match else None


class RequestId:
    """Binds a request id (the caller's ``X-Request-ID`` or a new one) and the
    case id in the URL to the request's logs, echoes the id in the response
    and writes one access line per request (``switchboard.access``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id
        started = time.monotonic()
        with bound(request_id=request_id):
            response = self.get_response(request)
            access.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "case_id": getattr(request, "log_case_id", None) or context().get("case_id"),
                },
            )
        response[REQUEST_ID_HEADER] = request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        request.log_case_id = _case_from(request, view_kwargs)
        bind_case(request.log_case_id)


# --- Celery: bind a task's ids, carry the request id to the worker ---------
def _on_publish(headers=None, **_):
    request_id = (_context.get() or {}).get("request_id")
    if headers is not None and request_id:
        headers.setdefault("request_id", request_id)


def _on_task_start(task=None, kwargs=None, **_):
    values = {k: v for k, v in (kwargs or {}).items() if k in _BOUND_TASK_ARGUMENTS}
    request_id = getattr(getattr(task, "request", None), "request_id", None)
    values = {"task": getattr(task, "name", None), "request_id": request_id, **values}
    _context.set({k: v for k, v in values.items() if v is not None})


def _on_task_end(**_):
    _context.set(None)


def connect_celery() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(_on_publish, weak=False)
    task_prerun.connect(_on_task_start, weak=False)
    task_postrun.connect(_on_task_end, weak=False)
