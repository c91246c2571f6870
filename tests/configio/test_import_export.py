"""``manage.py export_config`` / ``import_config``: the whole configuration
as YAML with natural keys, imported idempotently, a dry run that changes
nothing, errors that name the file and path and change nothing, pruning."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from agents.models import Agent, AgentCapacity, PresenceStatus, Skill, Team
from audit.models import ConfigChange
from connectors.models import Channel
from routing.models import DeclineReason, OverflowStep, Queue, RoutingRule, RoutingSettings
from sla.models import BusinessCalendar, SlaPolicy

pytestmark = pytest.mark.django_db

CONFIG = """
skills:
  - {name: billing, label: Billing}
  - {name: lang-es, label: Spanish, kind: language, language_code: es}
presence_statuses:
  - {name: Offline, channel_kinds: [], is_default: true, order: 0}
  - {name: Available, channel_kinds: [web_chat, email], order: 1}
teams:
  - {name: Support, supervisors: [sam]}
calendars:
  - name: Madrid
    time_zone: Europe/Madrid
    holiday_country: ES
    hours:
      - {weekday: 0, opens: "09:00", closes: "17:00"}
      - {weekday: 1, opens: "09:00", closes: "17:00"}
    closed_dates:
      - {date: "2026-12-24", name: Christmas Eve}
agents:
  - username: ana
    display_name: Ana
    capacity_total: 4
    capacities: {web_chat: 2, email: 3}
    skills: {billing: 4, lang-es: 5}
    teams: [Support]
queues:
  - name: Billing
    priority: 2
    team: Support
    calendar: Madrid
    agents: [ana]
    offer_timeout_seconds: 30
    agent_selection: longest_idle
    auto_accept_channel_kinds: [email]
    required_skills:
      - {skill: billing, min_proficiency: 2}
      - {skill: lang-es, min_proficiency: 1, optional: true}
    overflow_steps:
      - {after_seconds: 120, action: drop_optional_skills}
      - {after_seconds: 300, action: add_queue, target_queue: General}
  - name: General
channels:
  - key: shop
    name: Shop chat
    kind: web_chat
    provider: webchat
    default_queue: General
routing_rules:
  - name: Invoices
    order: 10
    match_keywords: invoice, refund
    queue: Billing
    set_priority: 2
    skills:
      - {skill: billing, min_proficiency: 3}
routing_settings:
  aging_seconds: 240
  away_status: Offline
decline_reasons:
  - {label: On a call, order: 1}
sla_policies:
  - name: Standard
    calendar: Madrid
    match_queues: [Billing]
    first_response_minutes: 30
    resolution_minutes: 480
    actions:
      - {threshold: breach, kind: move_to_queue, queue: General}
"""


@pytest.fixture
def sam(django_user_model):
    return django_user_model.objects.create_user(username="sam")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # errors name the file as given: config.yaml


def _import(tmp_path, text: str, *flags: str) -> list[str]:
    (tmp_path / "config.yaml").write_text(text)
    out = io.StringIO()
    call_command("import_config", "config.yaml", *flags, stdout=out)
    return out.getvalue().splitlines()


def _export() -> dict:
    out = io.StringIO()
    call_command("export_config", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_import_builds_the_configuration_by_natural_keys(tmp_path, sam):
    lines = _import(tmp_path, CONFIG)
    assert "created queues 'Billing'" in lines and lines[-1] == f"{len(lines) - 1} change(s)"
    ana = Agent.objects.get(user__username="ana")
    assert ana.user.has_usable_password() is False  # passwords never travel
    assert {c.channel_kind: c.units for c in ana.capacities.all()} == {"web_chat": 2, "email": 3}
    assert {s.skill.name: s.proficiency for s in ana.skills.all()} == {"billing": 4, "lang-es": 5}
    billing = Queue.objects.get(name="Billing")
    assert (billing.team.name, billing.calendar.name, list(billing.agents.all())) == ("Support", "Madrid", [ana])
    step = OverflowStep.objects.get(queue=billing, action="add_queue")
    assert step.target_queue.name == "General"  # a queue written after the one that overflows into it
    assert RoutingRule.objects.get(name="Invoices").skills.get().min_proficiency == 3
    assert RoutingSettings.current().away_status.name == "Offline"
    policy = SlaPolicy.objects.get(name="Standard")
    assert list(policy.match_queues.all()) == [billing] and policy.revisions.count() == 1
    assert BusinessCalendar.objects.get(name="Madrid").hours.count() == 2
    assert Team.objects.get(name="Support").supervisors.get() == sam


def test_a_second_import_changes_nothing(tmp_path, sam):
    _import(tmp_path, CONFIG)
    recorded = ConfigChange.objects.count()
    assert _import(tmp_path, CONFIG) == ["no changes"]
    assert ConfigChange.objects.count() == recorded


def test_export_then_import_is_a_round_trip_with_no_ids_and_no_secrets(tmp_path, sam):
    _import(tmp_path, CONFIG)
    channel = Channel.objects.get(key="shop")
    channel.config = {"widget": {"title": "Hi"}, "access_token": "tok-123", "smtp": {"password": "pw-9", "host": "mx"}}
    channel.save()
    exported = _export()
    assert list(exported) == [
        "skills",
        "presence_statuses",
        "teams",
        "calendars",
        "agents",
        "queues",
        "channels",
        "routing_rules",
        "decline_reasons",
        "sla_policies",
        "templates",
        "routing_settings",
    ]
    text = yaml.safe_dump(exported)
    assert "tok-123" not in text and "pw-9" not in text and channel.secret not in text
    assert "id" not in exported["queues"][0] and exported["channels"][0]["default_queue"] == "General"
    assert _import(tmp_path, text) == ["no changes"]
    channel.refresh_from_db()
    assert channel.config["access_token"] == "tok-123" and channel.config["smtp"]["password"] == "pw-9"


def test_dry_run_prints_the_changes_and_makes_none(tmp_path, sam):
    _import(tmp_path, CONFIG)
    changed = CONFIG.replace("priority: 2\n    team", "priority: 4\n    team").replace("On a call", "Lunch")
    lines = _import(tmp_path, changed, "--dry-run")
    assert "updated queues 'Billing': priority: 2 → 4" in lines
    assert "created decline_reasons 'Lunch'" in lines
    assert lines[-1] == "2 change(s) (dry run: nothing was changed)"
    assert Queue.objects.get(name="Billing").priority == 2 and not DeclineReason.objects.filter(label="Lunch").exists()
    assert _import(tmp_path, changed)[-1] == "2 change(s)"
    assert Queue.objects.get(name="Billing").priority == 4


def test_changed_capacity_and_skills_are_updated_in_place(tmp_path, sam):
    _import(tmp_path, CONFIG)
    lines = _import(tmp_path, CONFIG.replace("{web_chat: 2, email: 3}", "{web_chat: 1}"))
    assert lines == ["updated agents 'ana': capacities: 2 row(s) replaced by 1", "1 change(s)"]
    assert list(AgentCapacity.objects.values_list("channel_kind", "units")) == [("web_chat", 1)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("team: Support", "config.yaml:queues[0].team: no team 'Suport' (known: Support)"),
        ("skill: billing, min_proficiency: 2", "config.yaml:queues[0].required_skills[0].skill: no skill 'biling'"),
        ("priority: 2\n    team", "config.yaml:queues[0]: Constraint “queue_priority_1_5” is violated."),
        ("offer_timeout_seconds: 30", "config.yaml:queues[0].offer_timeout_seconds:"),
        ("[web_chat, email], order", "config.yaml:presence_statuses[1]: channel_kinds: a list of channel kinds"),
        ("agent_selection: longest_idle", "config.yaml:queues[0].agent_selectoin: unknown field"),
        ("teams: [Support]", "config.yaml:agents[0].teams[0]: no team 'Nobody' (known: Support)"),
    ],
)
def test_a_bad_value_names_file_and_path_and_changes_nothing(tmp_path, sam, change, message):
    bad = {
        "team: Support": "team: Suport",
        "skill: billing, min_proficiency: 2": "skill: biling, min_proficiency: 2",
        "priority: 2\n    team": "priority: 9\n    team",
        "offer_timeout_seconds: 30": "offer_timeout_seconds: soon",
        "[web_chat, email], order": "[web_chat, pigeon], order",
        "agent_selection: longest_idle": "agent_selectoin: longest_idle",
        "teams: [Support]": "teams: [Nobody]",
    }[change]
    with pytest.raises(CommandError) as raised:
        _import(tmp_path, CONFIG.replace(change, bad))
    assert str(raised.value).startswith(message), str(raised.value)
    assert str(raised.value).endswith("(nothing was changed)")
    assert not Skill.objects.exists() and not Queue.objects.exists() and not ConfigChange.objects.exists()


def test_unknown_sections_and_unreadable_files_are_refused(tmp_path):
    with pytest.raises(CommandError, match=r"config.yaml:queue: unknown section \(sections: skills, "):
        _import(tmp_path, "queue: []")
    with pytest.raises(CommandError, match="config.yaml: not YAML"):
        _import(tmp_path, "skills: [\n")
    with pytest.raises(CommandError, match=r"config.yaml:skills\[1\].name: 'a' is also skills\[0\]"):
        _import(tmp_path, "skills: [{name: a}, {name: a}]")


def test_prune_deletes_what_the_file_leaves_out_and_deactivates_agents_and_channels(tmp_path, sam):
    _import(tmp_path, CONFIG)
    smaller = yaml.safe_load(CONFIG)
    smaller["agents"] = []
    smaller["channels"] = []
    smaller["decline_reasons"] = []
    text = yaml.safe_dump(smaller)
    assert _import(tmp_path, text)[-1] == "no changes"  # without --prune nothing is deleted
    lines = _import(tmp_path, text, "--prune")
    assert set(lines[:-1]) == {
        "deactivated agents 'ana'",
        "deactivated channels 'shop'",
        "deleted decline_reasons 'On a call'",
    }
    assert not Agent.objects.get(user__username="ana").is_active and not Channel.objects.get(key="shop").is_active
    assert not DeclineReason.objects.exists()


def test_a_supervisor_new_here_gets_a_user_without_a_password(tmp_path):
    lines = _import(tmp_path, CONFIG)
    assert "created users 'sam'" in lines
    sam = Team.objects.get(name="Support").supervisors.get()
    assert sam.username == "sam" and not sam.has_usable_password()
    assert list(sam.groups.values_list("name", flat=True)) == ["supervisor"]


def test_the_audit_records_an_import_as_such(tmp_path, sam):
    _import(tmp_path, CONFIG)
    change = ConfigChange.objects.get(model="routing.queue", object_repr="Billing", action="created")
    assert (change.actor, change.via) == (None, "manage.py import_config")
    assert PresenceStatus.objects.get(is_default=True).name == "Offline"


def test_an_import_reaches_the_routers_kept_state(tmp_path, sam, settings):
    from routing.queue_settings import queues

    _import(tmp_path, CONFIG)
    settings.SWITCHBOARD = {**settings.SWITCHBOARD, "ROUTER_STATE_MS": 60_000}
    billing = Queue.objects.get(name="Billing")
    assert queues()[billing.pk].priority == 2  # kept for a minute from now
    _import(tmp_path, CONFIG.replace("priority: 2\n    team", "priority: 1\n    team"))
    assert queues()[billing.pk].priority == 1
