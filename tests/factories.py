"""Small factories for tests: plain functions with sensible defaults."""

from __future__ import annotations

import itertools
import json

from django.contrib.auth.models import Group, User
from django.utils import timezone

from agents.models import Agent, AgentCapacity, AgentSkill, PresenceStatus, Role, Skill, Team
from config.channel_kinds import CHANNEL_KINDS
from connectors.models import Channel
from connectors.providers.generic_json import SIGNATURE_HEADER, sign
from routing.models import Queue

_seq = itertools.count(1)


def status(name: str = "Available", kinds: list[str] | None = None) -> PresenceStatus:
    obj, _ = PresenceStatus.objects.get_or_create(
        name=name, defaults={"channel_kinds": CHANNEL_KINDS if kinds is None else kinds}
    )
    return obj


def skill(name: str, *, language_code: str = "") -> Skill:
    obj, _ = Skill.objects.get_or_create(
        name=name, defaults={"kind": "language" if language_code else "product", "language_code": language_code}
    )
    return obj


def user(username: str | None = None, *, role: str = Role.AGENT, password: str = "pw-for-tests") -> User:
    username = username or f"user{next(_seq)}"
    obj = User.objects.create_user(username=username, password=password)
    obj.groups.add(Group.objects.get_or_create(name=role)[0])
    return obj


def agent(
    name: str | None = None,
    *,
    skills: dict[str, int] | None = None,
    capacity: dict[str, int] | None = None,
    total: int = 5,
    presence: PresenceStatus | None | str = "available",
    present: bool = True,
    teams: list[Team] = (),
) -> Agent:
    name = name or f"agent{next(_seq)}"
    if presence == "available":
        presence = status()
    obj = Agent.objects.create(
        user=user(name),
        display_name=name.title(),
        status=presence,
        status_since=timezone.now(),
        present_until=timezone.now() + timezone.timedelta(minutes=30) if present else None,
        capacity_total=total,
    )
    for kind, units in (capacity or {"api": 2, "email": 3, "web_chat": 2}).items():
        AgentCapacity.objects.create(agent=obj, channel_kind=kind, units=units)
    for skill_name, level in (skills or {}).items():
        code = skill_name.split("-", 1)[1] if skill_name.startswith("lang-") else ""
        AgentSkill.objects.create(agent=obj, skill=skill(skill_name, language_code=code), proficiency=level)
    for team in teams:
        obj.teams.add(team)
    return obj


def queue(name: str | None = None, **fields) -> Queue:
    return Queue.objects.create(name=name or f"queue{next(_seq)}", **fields)


def channel(key: str | None = None, *, kind: str = "api", default_queue: Queue | None = None, **fields) -> Channel:
    key = key or f"chan{next(_seq)}"
    return Channel.objects.create(
        key=key, name=key.title(), kind=kind, provider="generic_json", default_queue=default_queue, **fields
    )


def payload(**fields) -> dict:
    body = {
        "id": f"msg-{next(_seq)}",
        "from": {"kind": "email", "address": "maria@example.com", "name": "María"},
        "text": "Hello, my order has not arrived.",
    }
    body.update(fields)
    return body


def signed(channel: Channel, body: dict | bytes) -> tuple[bytes, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {"HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_"): sign(channel.secret, raw)}


def post_webhook(client, channel: Channel, body: dict | bytes, **extra):
    raw, headers = signed(channel, body)
    return client.post(f"/hooks/{channel.key}/", data=raw, content_type="application/json", **headers, **extra)


def customer(name: str = "María", tier: str = "standard"):
    from cases.models import Customer

    return Customer.objects.create(display_name=name, tier=tier)


def queued_case(
    channel: Channel,
    *,
    queue: Queue | None = None,
    skills: dict[str, int] | None = None,
    priority: int = 3,
    tier: str = "standard",
    at=None,
    units: int = 1,
    may_interrupt: bool = False,
    optional: tuple[str, ...] = (),
    customer_obj=None,
    sla_due_at=None,
):
    """A case waiting for an agent, as the connector layer leaves it (its
    rank computed as ``routing.ranking.queue_case`` does). ``customer_obj``:
    an existing customer (its tier wins over ``tier``)."""
    from cases.models import Case, CaseSkill, CaseStatus
    from routing.ranking import rank_of

    now = at or timezone.now()
    if customer_obj is not None:
        tier = customer_obj.tier
    obj = Case(
        customer=customer_obj if customer_obj is not None else customer(tier=tier),
        channel=channel,
        channel_kind=channel.kind,
        thread_key=f"t-{next(_seq)}",
        status=CaseStatus.QUEUED,
        priority=priority,
        queue=queue if queue is not None else channel.default_queue,
        created_at=now,
        queued_at=now,
        units=units,
        may_interrupt=may_interrupt,
        sla_due_at=sla_due_at,
    )
    obj.route_rank = rank_of(obj, tier=tier)
    obj.save()
    for skill_name, level in (skills or {}).items():
        code = skill_name.split("-", 1)[1] if skill_name.startswith("lang-") else ""
        CaseSkill.objects.create(
            case=obj,
            skill=skill(skill_name, language_code=code),
            min_proficiency=level,
            optional=skill_name in optional,
        )
    return obj


def held_case(
    channel: Channel,
    agent: Agent,
    *,
    status: str = "assigned",
    units: int = 1,
    customer_obj=None,
    queue: Queue | None = None,
    at=None,
    resolved_at=None,
):
    """A case an agent holds (assigned, waiting, wrap-up) or held (resolved)."""
    from cases.models import Case

    now = at or timezone.now()
    return Case.objects.create(
        customer=customer_obj if customer_obj is not None else customer(),
        channel=channel,
        channel_kind=channel.kind,
        thread_key=f"t-{next(_seq)}",
        status=status,
        queue=queue if queue is not None else channel.default_queue,
        assignee=agent,
        created_at=now,
        first_assigned_at=now,
        resolved_at=resolved_at,
        units=units,
    )
