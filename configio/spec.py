"""What the configuration file holds: one ``Section`` per top-level key, in
the order they are applied (a section refers only to those before it in its
own fields; memberships and child rows are applied after every section's
rows exist, so a queue may overflow into one written after it).

Everything is named by natural keys (names, usernames, slugs, channel keys),
never by database ids, so a file moves between environments."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model

# Config keys of a channel that hold secrets: never exported; kept on import.
SECRET_KEY = re.compile(r"secret|token|password|api_key|auth|private", re.IGNORECASE)


def is_secret(key: str) -> bool:
    return bool(SECRET_KEY.search(key)) and not key.endswith("_env")


@dataclass(frozen=True)
class Ref:
    """A foreign key written as the target's natural key."""

    model: str  # "app.Model"
    key: str  # the target's natural key field, e.g. "name"


@dataclass(frozen=True)
class Child:
    """Rows that belong to a parent (a queue's required skills), written as a
    list of mappings, or as one mapping ``{key: value}`` when ``as_mapping``."""

    name: str  # the YAML key
    model: str
    parent: str  # the child's foreign key to the parent
    fields: tuple[str, ...]  # plain fields
    refs: dict[str, Ref] = field(default_factory=dict)
    as_mapping: tuple[str, str] | None = None  # (key field, value field)


@dataclass(frozen=True)
class Section:
    name: str  # the YAML top-level key
    model: str
    key: str  # the natural key, as written in the file
    lookup: str  # ... and as looked up (agents: "user__username")
    exclude: tuple[str, ...] = ()  # plain fields not written (runtime state)
    refs: dict[str, Ref] = field(default_factory=dict)
    many: dict[str, Ref] = field(default_factory=dict)  # many-to-many fields
    children: tuple[Child, ...] = ()
    soft_delete: str | None = None  # pruned by setting this flag false instead of deleting

    @property
    def model_class(self):
        return apps.get_model(self.model)

    def plain_fields(self) -> list:
        skip = set(self.exclude) | set(self.refs) | {self.lookup}
        return [
            f
            for f in self.model_class._meta.concrete_fields
            if not f.primary_key
            and not f.is_relation
            and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
            and f.name not in skip
        ]


USER = settings.AUTH_USER_MODEL
SKILL_NEED = ("min_proficiency", "optional")

SECTIONS: list[Section] = [
    Section("skills", "agents.Skill", "name", "name"),
    Section("presence_statuses", "agents.PresenceStatus", "name", "name"),
    Section("teams", "agents.Team", "name", "name", many={"supervisors": Ref(USER, "username")}),
    Section(
        "calendars",
        "sla.BusinessCalendar",
        "name",
        "name",
        children=(
            Child("hours", "sla.OpeningHours", "calendar", ("weekday", "opens", "closes")),
            Child("closed_dates", "sla.CustomClosedDate", "calendar", ("date", "name")),
        ),
    ),
    Section(
        "agents",
        "agents.Agent",
        "username",
        "user__username",
        exclude=(
            "status_since",
            "present_until",
            "idle_since",
            "last_routed_at",
            "missed_offers",
            "status_reason",
        ),
        many={"teams": Ref("agents.Team", "name")},
        children=(
            Child(
                "skills",
                "agents.AgentSkill",
                "agent",
                ("proficiency",),
                {"skill": Ref("agents.Skill", "name")},
                as_mapping=("skill", "proficiency"),
            ),
            Child(
                "capacities",
                "agents.AgentCapacity",
                "agent",
                ("channel_kind", "units"),
                as_mapping=("channel_kind", "units"),
            ),
        ),
        soft_delete="is_active",
    ),
    Section(
        "queues",
        "routing.Queue",
        "name",
        "name",
        refs={"team": Ref("agents.Team", "name"), "calendar": Ref("sla.BusinessCalendar", "name")},
        many={"agents": Ref("agents.Agent", "user__username")},
        children=(
            Child("required_skills", "routing.QueueSkill", "queue", SKILL_NEED, {"skill": Ref("agents.Skill", "name")}),
            Child(
                "overflow_steps",
                "routing.OverflowStep",
                "queue",
                ("after_seconds", "action", "amount"),
                {"target_queue": Ref("routing.Queue", "name"), "target_team": Ref("agents.Team", "name")},
            ),
        ),
    ),
    Section(
        "channels",
        "connectors.Channel",
        "key",
        "key",
        exclude=("secret",),
        refs={"default_queue": Ref("routing.Queue", "name")},
        soft_delete="is_active",
    ),
    Section(
        "routing_rules",
        "routing.RoutingRule",
        "name",
        "name",
        refs={"queue": Ref("routing.Queue", "name"), "match_channel": Ref("connectors.Channel", "key")},
        children=(
            Child("skills", "routing.RoutingRuleSkill", "rule", SKILL_NEED, {"skill": Ref("agents.Skill", "name")}),
        ),
    ),
    Section("decline_reasons", "routing.DeclineReason", "label", "label"),
    Section(
        "sla_policies",
        "sla.SlaPolicy",
        "name",
        "name",
        refs={"calendar": Ref("sla.BusinessCalendar", "name")},
        many={"match_queues": Ref("routing.Queue", "name")},
        children=(
            Child(
                "actions",
                "sla.EscalationAction",
                "policy",
                ("threshold", "kind"),
                {"queue": Ref("routing.Queue", "name"), "lead": Ref("agents.Agent", "user__username")},
            ),
        ),
    ),
    Section("templates", "replies.Template", "shortcut", "shortcut"),
]

# The one row of engine-wide settings: a mapping, not a list.
SETTINGS_KEY = "routing_settings"
SETTINGS_MODEL = "routing.RoutingSettings"
SETTINGS_REFS = {"away_status": Ref("agents.PresenceStatus", "name")}

TOP_LEVEL = [s.name for s in SECTIONS] + [SETTINGS_KEY]


def installed(section: Section) -> bool:
    try:
        apps.get_model(section.model)
    except LookupError:
        return False
    return True


def natural_key_of(instance, key: str) -> Any:
    """``user__username`` → instance.user.username."""
    value = instance
    for part in key.split("__"):
        value = getattr(value, part)
    return value


def user_model():
    return get_user_model()
