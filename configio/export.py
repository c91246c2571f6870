"""The configuration as plain data (then YAML): natural keys, no ids, no
secrets, sorted so that two exports of the same configuration are equal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps

from configio.spec import (
    SECTIONS,
    SETTINGS_MODEL,
    SETTINGS_REFS,
    Child,
    Section,
    installed,
    is_secret,
    natural_key_of,
)


def plain(value: Any) -> Any:
    """A model value as YAML writes and reads it back the same."""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def without_secrets(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: without_secrets(v) for k, v in config.items() if not is_secret(str(k))}
    if isinstance(config, list):
        return [without_secrets(v) for v in config]
    return config


def _ref(instance, name: str, ref) -> Any:
    target = getattr(instance, name)
    return None if target is None else natural_key_of(target, ref.key)


def child_rows(child: Child, parent) -> Any:
    rows = []
    for row in apps.get_model(child.model).objects.filter(**{child.parent: parent}):
        out = {f: plain(getattr(row, f)) for f in child.fields}
        out |= {name: _ref(row, name, ref) for name, ref in child.refs.items()}
        rows.append(out)
    if child.as_mapping:
        key, value = child.as_mapping
        return {row[key]: row[value] for row in sorted(rows, key=lambda r: r[key])}
    return sorted(rows, key=lambda r: [str(v) for v in r.values()])


def export_row(section: Section, instance) -> dict:
    out: dict[str, Any] = {section.key: natural_key_of(instance, section.lookup)}
    for f in section.plain_fields():
        out[f.name] = plain(f.value_from_object(instance))
    for name, ref in section.refs.items():
        out[name] = _ref(instance, name, ref)
    for name, ref in section.many.items():
        out[name] = sorted(natural_key_of(t, ref.key) for t in getattr(instance, name).all())
    for child in section.children:
        out[child.name] = child_rows(child, instance)
    if section.name == "channels":
        out["config"] = without_secrets(out.get("config") or {})
    return out


def export_config() -> dict:
    data: dict[str, Any] = {}
    for section in SECTIONS:
        if not installed(section):
            continue
        rows = [export_row(section, obj) for obj in section.model_class.objects.all()]
        if section.name == "routing_rules":  # in the order they are tried
            data[section.name] = sorted(rows, key=lambda r: (r["order"], r["name"]))
        else:
            data[section.name] = sorted(rows, key=lambda r: str(r[section.key]))
    settings_model = apps.get_model(SETTINGS_MODEL)
    current = settings_model.current()
    settings_row = {
        f.name: plain(f.value_from_object(current))
        for f in settings_model._meta.concrete_fields
        if not f.primary_key and not f.is_relation
    }
    settings_row |= {name: _ref(current, name, ref) for name, ref in SETTINGS_REFS.items()}
    data["routing_settings"] = settings_row
    return data
