"""Browser-facing protections of our own pages.

``ContentSecurityPolicy``: our pages load scripts, styles, images and fonts
from this origin only, talk to this origin (HTTP and websockets) only, and
cannot be framed. A response that set its own policy (attachments: a sandbox)
keeps it. The web chat widget's script runs on other sites under *their*
policy; it only needs ours to let it be fetched, which a policy never blocks.

Login throttling: ``LOGIN_FAILURES_ALLOWED`` failed logins for one username
from one address within ``LOGIN_LOCK_SECONDS`` lock that pair out for the rest
of the window: the login page answers 429 with a message and checks no
password (the admin's login form says the same). Counted in the cache: Redis in
production (shared by every web process), this process's memory embedded.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self' {websockets}; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


class ContentSecurityPolicy:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            host = request.get_host()
            response["Content-Security-Policy"] = POLICY.format(websockets=f"ws://{host} wss://{host}")
        return response


# --- Login throttling ------------------------------------------------------
LOCKED_MESSAGE = "Too many failed logins for this username from your address. Try again in {minutes} minutes."


def _limits() -> tuple[int, int]:
    return settings.SWITCHBOARD["LOGIN_FAILURES_ALLOWED"], settings.SWITCHBOARD["LOGIN_LOCK_SECONDS"]


def attempts_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()
    return f"switchboard:login-failures:{digest}"


def _address(request) -> str:
    return (request.META.get("REMOTE_ADDR") if request is not None else "") or "unknown"


def is_locked(username: str, address: str) -> bool:
    allowed, _ = _limits()
    return allowed > 0 and (cache.get(attempts_key(username, address)) or 0) >= allowed


def record_failure(username: str, address: str) -> None:
    _, seconds = _limits()
    key = attempts_key(username, address)
    if cache.add(key, 1, timeout=seconds):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=seconds)


def clear_failures(username: str, address: str) -> None:
    cache.delete(attempts_key(username, address))


class LoginLocked(ValidationError):
    pass


class _Throttled:
    """Mixed into an authentication form: refuses a locked pair before any
    password is checked, counts failures, forgets them on success."""

    def clean(self):
        username = self.data.get("username", "") or ""
        address = _address(self.request)
        if is_locked(username, address):
            minutes = max(1, _limits()[1] // 60)
            raise LoginLocked(LOCKED_MESSAGE.format(minutes=minutes), code="locked")
        try:
            cleaned = super().clean()
        except ValidationError:
            record_failure(username, address)
            raise
        clear_failures(username, address)
        return cleaned

    @property
    def is_locked_out(self) -> bool:
        return any(e.code == "locked" for e in self.errors.as_data().get("__all__", []))


class ThrottledAuthenticationForm(_Throttled, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(_Throttled, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.is_locked_out:
            response.status_code = 429
            response["Retry-After"] = str(_limits()[1])
        return response
