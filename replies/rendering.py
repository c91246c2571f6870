"""Variables in response templates: ``{{customer.first_name}}`` and a few
more. A small renderer of our own, never Django's template engine on text an
admin typed: it only replaces the known names and leaves everything else as
written. Pure Python, no Django imports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

VARIABLES = (
    "customer.first_name",
    "customer.name",
    "agent.first_name",
    "agent.name",
    "case.id",
    "queue.name",
)
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)


class UnknownVariable(ValueError):
    """A template names a variable we do not know (or leaves ``{{`` open)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    missing: list[str]  # variables without a value here, in order of first use


def variables_in(body: str) -> list[str]:
    """The variables a body uses, in order, once each; UnknownVariable says
    which are not known, or where a ``{{`` is left open."""
    used, unknown = [], []
    for match in _PLACEHOLDER.finditer(body):
        name = match.group(1).strip()
        if name not in VARIABLES:
            unknown.append(name or "(empty)")
        elif name not in used:
            used.append(name)
    if unknown:
        names = ", ".join(f"{{{{{n}}}}}" for n in dict.fromkeys(unknown))
        raise UnknownVariable(f"unknown variable {names}; known: " + ", ".join(VARIABLES))
    if "{{" in _PLACEHOLDER.sub("", body):
        raise UnknownVariable("a '{{' is never closed with '}}'")
    return used


def render(body: str, values: Mapping[str, str]) -> Rendered:
    """The body with each known variable replaced by its value; a variable
    without a value (empty or absent) renders as nothing and is listed in
    ``missing``."""
    variables_in(body)
    missing: list[str] = []

    def replace(match: re.Match) -> str:
        name = match.group(1).strip()
        value = values.get(name) or ""
        if not value and name not in missing:
            missing.append(name)
        return value

    return Rendered(text=_PLACEHOLDER.sub(replace, body), missing=missing)
