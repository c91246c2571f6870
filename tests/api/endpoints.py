"""Every endpoint under /api/v1/ and its methods, found in the URL resolver
(not listed by hand), so a new endpoint cannot escape the permission matrix."""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "api/v1/"
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def _text(pattern) -> str:
    text = str(pattern.pattern)
    return text.removeprefix("^").removesuffix("$").removesuffix("\\Z")


def _methods(callback) -> list[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: method -> action
        return sorted(m.upper() for m in actions if m != "head")  # HEAD answers as GET
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    names = getattr(cls, "http_method_names", [])
    return sorted(m.upper() for m in names if m not in ("options", "head", "trace") and hasattr(cls, m))


def api_endpoints() -> dict[str, list[str]]:
    """{"/api/v1/cases/{pk}/reply/": ["POST"], ...} for every route under /api/v1/."""
    found: dict[str, set[str]] = {}

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + _text(p))
            elif isinstance(p, URLPattern):
                path = prefix + _text(p)
                if not path.startswith(API_PREFIX) or "format" in path:
                    continue  # format-suffix twins (.json) share their route's view
                path = "/" + _GROUP.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", path)
                found.setdefault(path, set()).update(_methods(p.callback))

    walk(get_resolver().url_patterns, "")
    return {path: sorted(methods) for path, methods in sorted(found.items())}
