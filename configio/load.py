"""Apply a configuration file: create what is missing, change what differs,
leave what is equal untouched (so a second import changes nothing), and
with ``prune`` delete (agents and channels: deactivate) what the file's
sections leave out. One transaction: an error changes nothing, and a dry
run is the same work rolled back.

Calendars, queues, routing rules, SLA policies and the routing settings are
saved and deleted through their apps' configuration services (the ones the
API and the admin call), which record revisions and reset caches; the
loader only reads the file, validates and compares.

Errors name the file and the path of the bad value:
``prod.yaml:queues[2].team: no team 'Salse' (known: Sales, Support)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, ProtectedError, UniqueConstraint
from django.utils import timezone

from config.api import DomainError
from configio.export import plain, without_secrets
from configio.spec import (
    SECTIONS,
    SETTINGS_KEY,
    SETTINGS_MODEL,
    SETTINGS_REFS,
    TOP_LEVEL,
    Child,
    Ref,
    Section,
    installed,
    is_secret,
    natural_key_of,
    user_model,
)
from routing import configuration as routing_configuration
from sla import configuration as sla_configuration


class ConfigError(Exception):
    pass


def _show(value: Any) -> str:
    text = repr(plain(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


def _keep_secrets(old: Any, new: Any) -> Any:
    """The file has no secrets: keep the ones the channel already has."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    kept = {k: v for k, v in old.items() if is_secret(str(k)) and k not in new}
    return {**{k: _keep_secrets(old.get(k), v) for k, v in new.items()}, **kept}


@dataclass(frozen=True)
class Writer:
    """How a section's objects are saved (with their many-to-many lists and
    children, named as in the file) and deleted: by their service."""

    save: Callable[..., Any]
    delete: Callable[[Any], None]
    at_once: bool = False  # saved once with its relations: no other section refers to it


def _writers(now) -> dict[str, Writer]:
    return {
        "calendars": Writer(
            lambda obj, **rel: sla_configuration.save_calendar(calendar=obj, **rel),
            lambda obj: sla_configuration.delete_calendar(calendar=obj),
        ),
        "queues": Writer(
            lambda obj, **rel: routing_configuration.save_queue(queue=obj, **rel),
            lambda obj: routing_configuration.delete_queue(queue=obj),
        ),
        "routing_rules": Writer(
            lambda obj, **rel: routing_configuration.save_rule(rule=obj, **rel),
            lambda obj: routing_configuration.delete_rule(rule=obj),
        ),
        "sla_policies": Writer(
            lambda obj, **rel: sla_configuration.save_policy(policy=obj, now=now, **rel),
            lambda obj: sla_configuration.delete_policy(policy=obj),
            at_once=True,
        ),
    }


class Loader:
    def __init__(self, source: str, prune: bool):
        self.source = source
        self.prune = prune
        self.changes: dict[tuple[str, str], list] = {}
        self.writers = _writers(timezone.now())
        self.waiting: list[Model] = []  # changed objects of an ``at_once`` section, not saved yet

    # --- reporting ---------------------------------------------------------------

    def fail(self, path: str, message: str) -> NoReturn:
        raise ConfigError(f"{self.source}:{path}: {message}")

    def note(self, section: str, key: Any, action: str, detail: str = "") -> None:
        entry = self.changes.setdefault((section, str(key)), [action, []])
        if detail:
            entry[1].append(detail)

    def lines(self) -> list[str]:
        return [
            f"{action} {section} {key!r}" + (": " + "; ".join(details) if details else "")
            for (section, key), (action, details) in self.changes.items()
        ]

    # --- values --------------------------------------------------------------------

    def value(self, model_field, raw: Any, path: str) -> Any:
        try:
            return model_field.to_python(raw)
        except ValidationError as exc:
            self.fail(path, _messages(exc))

    def resolve(self, ref: Ref, raw: Any, path: str):
        if raw is None:
            return None
        model = apps.get_model(ref.model)
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            self.fail(path, f"a {model._meta.verbose_name} name, not {_show(raw)}")
        found = list(model.objects.filter(**{ref.key: raw})[:2])
        if not found:
            known = sorted(str(k) for k in model.objects.values_list(ref.key, flat=True)[:20])
            self.fail(path, f"no {model._meta.verbose_name} {raw!r} (known: {', '.join(known) or 'none'})")
        if len(found) > 1:
            self.fail(path, f"two {model._meta.verbose_name_plural} are named {raw!r}; rename one")
        return found[0]

    def mapping(self, raw: Any, allowed: set[str], path: str) -> dict:
        if not isinstance(raw, dict):
            self.fail(path, f"a mapping, not {_show(raw)}")
        unknown = sorted(str(k) for k in set(raw) - allowed)
        if unknown:
            self.fail(f"{path}.{unknown[0]}", f"unknown field (fields: {', '.join(sorted(allowed))})")
        return raw

    def check(self, obj, path: str, exclude: tuple[str, ...] = ()) -> None:
        try:
            obj.full_clean(exclude=exclude or None)
        except ValidationError as exc:
            self.fail(path, _messages(exc))

    def save(self, obj, path: str) -> None:
        self.check(obj, path)
        obj.save()

    def write(self, section: Section, obj, **related) -> None:
        """Save through the section's service (checked before)."""
        self.writers[section.name].save(obj, **related)

    def is_waiting(self, obj) -> bool:
        return any(o is obj for o in self.waiting)

    # --- sections -----------------------------------------------------------------

    def rows(self, section: Section, raw: Any) -> list[tuple[str, dict]]:
        if not isinstance(raw, list):
            self.fail(section.name, f"a list of {section.name}, not {_show(raw)}")
        allowed = {section.key, *(f.name for f in section.plain_fields()), *section.refs, *section.many}
        allowed |= {c.name for c in section.children}
        out, seen = [], {}
        for i, row in enumerate(raw):
            path = f"{section.name}[{i}]"
            self.mapping(row, allowed, path)
            key = row.get(section.key)
            if not isinstance(key, str) or not key:
                self.fail(f"{path}.{section.key}", f"each of {section.name} needs its {section.key}")
            if key in seen:
                self.fail(f"{path}.{section.key}", f"{key!r} is also {seen[key]}")
            seen[key] = path
            out.append((path, row))
        if section.name == "presence_statuses":  # the new default after the old one is unset
            out.sort(key=lambda item: bool(item[1].get("is_default")))
        return out

    def find(self, section: Section, key: str, path: str):
        found = list(section.model_class.objects.filter(**{section.lookup: key})[:2])
        if len(found) > 1:
            self.fail(path, f"two {section.name} are named {key!r} in the database; rename one first")
        return found[0] if found else None

    def new(self, section: Section, key: str, row: dict):
        model = section.model_class
        if section.name != "agents":
            return model(**{section.lookup: key})
        user = user_model().objects.filter(username=key).first()
        if user is None:
            user = user_model().objects.create_user(username=key)  # no password: set it in the admin
        return model(user=user, display_name=row.get("display_name") or key)

    def upsert(self, section: Section, path: str, row: dict):
        key = row[section.key]
        obj = self.find(section, key, path)
        created = obj is None
        if created:
            obj = self.new(section, key, row)
        details = []
        for f in section.plain_fields():
            if f.name not in row:
                continue
            value = self.value(f, row[f.name], f"{path}.{f.name}")
            if section.name == "channels" and f.name == "config":
                value = _keep_secrets(obj.config, value)
            old = f.value_from_object(obj)
            if old != value:
                setattr(obj, f.attname, value)
                shown = (without_secrets(old), without_secrets(value)) if f.name == "config" else (old, value)
                details.append(f"{f.name}: {_show(shown[0])} → {_show(shown[1])}")
        for name, ref in section.refs.items():
            if name not in row:
                continue
            target = self.resolve(ref, row[name], f"{path}.{name}")
            field = obj._meta.get_field(name)
            if getattr(obj, field.attname) != (target.pk if target else None):
                old = None if getattr(obj, field.attname) is None else natural_key_of(getattr(obj, name), ref.key)
                setattr(obj, name, target)
                details.append(f"{name}: {_show(old)} → {_show(row[name])}")
        if created or details:
            writer = self.writers.get(section.name)
            if writer is None:
                self.save(obj, path)
            elif writer.at_once:
                self.check(obj, path)
                self.waiting.append(obj)
            else:
                self.check(obj, path)
                self.write(section, obj)
            self.note(section.name, key, "created" if created else "updated", "" if created else "; ".join(details))
        return obj

    def relations(self, section: Section, path: str, row: dict, obj) -> None:
        writer = self.writers.get(section.name)
        related: dict[str, list] = {}
        for name, ref in section.many.items():
            if name not in row:
                continue
            raw = row[name] if row[name] is not None else []
            if not isinstance(raw, list):
                self.fail(f"{path}.{name}", f"a list, not {_show(raw)}")
            if section.name == "teams" and name == "supervisors":
                self.supervisor_users(raw, f"{path}.{name}")
            targets = [self.resolve(ref, v, f"{path}.{name}[{i}]") for i, v in enumerate(raw)]
            current = list(getattr(obj, name).all()) if obj.pk is not None else []
            before = sorted(str(t) for t in current)
            if {t.pk for t in current} != {t.pk for t in targets}:
                if writer is None:
                    getattr(obj, name).set(targets)
                else:
                    related[name] = targets
                self.changed(section, row, obj, f"{name}: {before} → {sorted(str(t) for t in targets)}")
        for child in section.children:
            if child.name in row:
                rows = self.child(section, child, f"{path}.{child.name}", row, obj, replace=writer is None)
                if rows is not None:
                    related[child.name] = rows
        if writer is not None and (related or self.is_waiting(obj)):
            self.write(section, obj, **related)

    def supervisor_users(self, usernames: list, path: str) -> None:
        """A supervisor new to this installation gets a user in the supervisor
        group, without a password (set in the admin), like a new agent."""
        from django.contrib.auth.models import Group

        for i, username in enumerate(usernames):
            if not isinstance(username, str) or not username:
                self.fail(f"{path}[{i}]", f"a username, not {_show(username)}")
            if not user_model().objects.filter(username=username).exists():
                user = user_model().objects.create_user(username=username)
                user.groups.add(Group.objects.get_or_create(name="supervisor")[0])
                self.note("users", username, "created", "")

    def changed(self, section: Section, row: dict, obj, detail: str) -> None:
        key = row[section.key]
        action = self.changes.get((section.name, str(key)), ["updated"])[0]
        self.note(section.name, key, action, "" if action == "created" else detail)

    def child(self, section: Section, child: Child, path: str, row: dict, parent, replace: bool) -> list | None:
        """The parent's new rows when they differ from its rows now (else
        ``None``); with ``replace``, saved here in place of the old ones."""
        model = apps.get_model(child.model)
        raw = row[child.name] if row[child.name] is not None else []
        if child.as_mapping:
            if not isinstance(raw, dict):
                self.fail(path, f"a mapping of {child.as_mapping[0]} to {child.as_mapping[1]}")
            raw = [{child.as_mapping[0]: k, child.as_mapping[1]: v} for k, v in raw.items()]
        elif not isinstance(raw, list):
            self.fail(path, f"a list, not {_show(raw)}")
        allowed = set(child.fields) | set(child.refs)
        wanted = []
        for i, item in enumerate(raw):
            where = f"{path}.{item.get(child.as_mapping[0])}" if child.as_mapping else f"{path}[{i}]"
            self.mapping(item, allowed, where)
            values = {
                f: self.value(model._meta.get_field(f), item[f], f"{where}.{f}") for f in child.fields if f in item
            }
            values |= {n: self.resolve(ref, item.get(n), f"{where}.{n}") for n, ref in child.refs.items()}
            wanted.append((where, values))
        existing = list(model.objects.filter(**{child.parent: parent})) if parent.pk is not None else []

        def shape(values: dict) -> tuple:
            return tuple(
                str(values[f].pk if hasattr(values.get(f), "pk") else values.get(f))
                for f in (*child.fields, *child.refs)
                if f in values
            )

        full = [(w, {f: model._meta.get_field(f).get_default() for f in child.fields} | v) for w, v in wanted]
        now = sorted(shape({f: getattr(r, f) for f in (*child.fields, *child.refs)}) for r in existing)
        if now == sorted(shape(v) for _, v in full):
            return None
        if replace:
            for old in existing:
                old.delete()
            for where, values in full:
                self.save(model(**{child.parent: parent}, **values), where)
            made = None
        else:
            made = self.new_rows(model, child.parent, parent, full)
        self.changed(section, row, parent, f"{child.name}: {len(existing)} row(s) replaced by {len(full)}")
        return made

    def new_rows(self, model, parent_field: str, parent, full: list[tuple[str, dict]]) -> list:
        """Rows a service will save in place of the parent's rows, checked as
        saving them one by one after the old ones are deleted would check:
        each alone, and each key unique among them."""
        rows, seen = [], set()
        unique = [c for c in model._meta.constraints if isinstance(c, UniqueConstraint) and parent_field in c.fields]
        for where, values in full:
            obj = model(**{parent_field: parent}, **values)
            self.check(obj, where, exclude=(parent_field,))
            for constraint in unique:
                key = (constraint.name, *(getattr(obj, f) for f in constraint.fields if f != parent_field))
                if key in seen:
                    self.fail(where, " ".join(obj.unique_error_message(model, constraint.fields).messages))
                seen.add(key)
            rows.append(obj)
        return rows

    def settings(self, raw: Any) -> None:
        model = apps.get_model(SETTINGS_MODEL)
        fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.is_relation]
        self.mapping(raw, {f.name for f in fields} | set(SETTINGS_REFS), SETTINGS_KEY)
        current = model.current()
        details = []
        for f in fields:
            if f.name in raw:
                value = self.value(f, raw[f.name], f"{SETTINGS_KEY}.{f.name}")
                if f.value_from_object(current) != value:
                    details.append(f"{f.name}: {_show(f.value_from_object(current))} → {_show(value)}")
                    setattr(current, f.attname, value)
        for name, ref in SETTINGS_REFS.items():
            if name in raw:
                target = self.resolve(ref, raw[name], f"{SETTINGS_KEY}.{name}")
                if getattr(current, f"{name}_id") != (target.pk if target else None):
                    details.append(f"{name}: {_show(str(getattr(current, name) or '') or None)} → {_show(raw[name])}")
                    setattr(current, name, target)
        if details or current._state.adding:
            self.check(current, SETTINGS_KEY)
            routing_configuration.save_routing_settings(settings=current)
            self.note(SETTINGS_KEY, "settings", "updated", "; ".join(details))

    def prune_section(self, section: Section, keys: set[str]) -> None:
        for obj in section.model_class.objects.exclude(**{f"{section.lookup}__in": keys}):
            key = obj.user.username if section.name == "agents" else getattr(obj, section.lookup)
            if section.soft_delete:
                if getattr(obj, section.soft_delete):
                    setattr(obj, section.soft_delete, False)
                    obj.save(update_fields=[section.soft_delete])
                    self.note(section.name, key, "deactivated")
                continue
            writer = self.writers.get(section.name)
            try:
                if writer is None:
                    obj.delete()
                else:
                    writer.delete(obj)
            except ProtectedError as exc:
                self.fail(section.name, f"{key!r} is not in the file but cannot be deleted: {exc.args[0]}")
            except DomainError as exc:
                self.fail(section.name, f"{key!r} is not in the file but cannot be deleted: {exc}")
            self.note(section.name, key, "deleted")

    # --- the whole file -------------------------------------------------------------

    def run(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.fail("(top)", f"a mapping of sections ({', '.join(TOP_LEVEL)})")
        unknown = sorted(str(k) for k in set(data) - set(TOP_LEVEL))
        if unknown:
            self.fail(unknown[0], f"unknown section (sections: {', '.join(TOP_LEVEL)})")
        applied = []
        for section in SECTIONS:
            if section.name not in data:
                continue
            if not installed(section):
                self.fail(section.name, "this installation has no such configuration")
            rows = self.rows(section, data[section.name])
            applied.append((section, [(path, row, self.upsert(section, path, row)) for path, row in rows]))
        if data.get(SETTINGS_KEY) is not None:
            self.settings(data[SETTINGS_KEY])
        for section, rows in applied:
            for path, row, obj in rows:
                self.relations(section, path, row, obj)
        if self.prune:
            for section, rows in reversed(applied):
                self.prune_section(section, {row[section.key] for _, row, _ in rows})
        self.after()

    def after(self) -> None:
        """Skills, statuses, teams, agents and channels have no configuration
        service yet: after a change of theirs, this process's router forgets
        what it kept (the services do so for what they save)."""
        kept_by_services = {*self.writers, SETTINGS_KEY}
        if any(section not in kept_by_services for section, _ in self.changes):
            transaction.on_commit(routing_configuration.forget_kept_state)


def apply_config(data: Any, *, source: str, prune: bool = False, dry_run: bool = False) -> list[str]:
    """The changes made (or, in a dry run, that would be made), one line each."""
    from audit.recorder import acting

    loader = Loader(source, prune)
    with acting("manage.py import_config"), transaction.atomic():
        loader.run(data)
        if dry_run:
            transaction.set_rollback(True)
    return loader.lines()
