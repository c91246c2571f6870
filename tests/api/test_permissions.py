"""The permission matrix: every endpoint under /api/v1/ and every method,
for anonymous, an agent of team A, a supervisor of team A and an admin, on an
object of team A and one of team B.

Each cell says what must happen: ``ok`` (the request gets past permissions:
any answer but 401/403/404 and never a 5xx), ``401``, ``403`` or ``404``. A
detail route has two cells, ``A/B`` (one cell stands for both). The endpoints come from the URL resolver,
so a new endpoint (or method) missing from the table fails
``test_every_endpoint_and_method_is_in_the_matrix``; lists are also checked
for team B's rows (never a 2xx with another team's data).

Every request is made with real authentication (a token, as integrations do)
inside a savepoint that is rolled back, so each cell starts from the same world.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.models import PresenceStatus, Role, Skill, Team
from audit.models import ConfigChange
from cases.models import CaseStatus
from outhooks.models import Subscription
from replies.models import Template
from routing.models import DeclineReason, Offer, RoutingRule
from sla import services as sla_services
from sla.models import BusinessCalendar, Clock, Promise, SlaPolicy
from surveys.models import Survey
from tests import factories
from tests.api.endpoints import api_endpoints

ROLES = ("anonymous", "agent", "supervisor", "admin")

# "METHOD path": "anonymous agent supervisor admin"
MATRIX: dict[str, str] = {
    "GET /api/v1/": "401 ok ok ok",
    "GET /api/v1/schema/": "ok ok ok ok",
    "GET /api/v1/docs/": "ok ok ok ok",
    # Cases: agents see theirs and their queues', supervisors their teams'.
    "GET /api/v1/cases/": "401 ok ok ok",
    "GET /api/v1/cases/{pk}/": "401 ok/404 ok/404 ok/ok",
    "GET /api/v1/cases/{pk}/position/": "401 ok/404 ok/404 ok/ok",
    "POST /api/v1/cases/{pk}/reply/": "401 ok/404 403/404 403/403",
    "POST /api/v1/cases/{pk}/note/": "401 ok/404 403/404 403/403",
    # Why a case went where it did: supervisors and admins.
    "GET /api/v1/cases/{pk}/explanation/": "401 403/403 ok/404 ok/ok",
    "POST /api/v1/cases/{pk}/template/": "401 ok/404 403/404 403/403",
    "POST /api/v1/cases/{pk}/resolve/": "401 ok/404 403/404 403/403",
    "POST /api/v1/cases/{pk}/waiting/": "401 ok/404 403/404 403/403",
    "POST /api/v1/cases/{pk}/typing/": "401 ok/404 403/404 403/403",
    "POST /api/v1/cases/{pk}/end-wrap-up/": "401 ok/404 403/404 403/403",
    "POST /api/v1/cases/{pk}/assign/": "401 403/403 ok/404 ok/ok",
    # An agent transfers a case they hold (the matrix's A case is only offered
    # to them: 403); another team's case is not found.
    "POST /api/v1/cases/{pk}/transfer/": "401 403/404 ok/404 ok/ok",
    # Offers are an agent's own.
    "GET /api/v1/offers/": "401 ok ok ok",
    "GET /api/v1/offers/decline-reasons/": "401 ok ok ok",
    "GET /api/v1/offers/{pk}/": "401 ok/404 404/404 404/404",
    "POST /api/v1/offers/{pk}/accept/": "401 ok/404 404/404 404/404",
    "POST /api/v1/offers/{pk}/decline/": "401 ok/404 404/404 404/404",
    # Customers: those of the cases one may see.
    "GET /api/v1/customers/": "401 ok ok ok",
    "GET /api/v1/customers/{pk}/": "401 ok/404 ok/404 ok/ok",
    "GET /api/v1/customers/{pk}/history/": "401 ok/404 ok/404 ok/ok",
    "POST /api/v1/customers/{pk}/identities/": "401 ok/404 ok/404 ok/ok",
    "POST /api/v1/customers/{pk}/merge/": "401 ok/404 ok/404 ok/ok",
    "POST /api/v1/customers/{pk}/undo-merge/": "401 ok/404 ok/404 ok/ok",
    # Configuration: channels are admins' only.
    "GET /api/v1/channels/": "401 403 403 ok",
    "POST /api/v1/channels/": "401 403 403 ok",
    "GET /api/v1/channels/{pk}/": "401 403/403 403/403 ok/ok",
    "PUT /api/v1/channels/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/channels/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/channels/{pk}/agents-online/": "401 403/403 403/403 ok/ok",
    "POST /api/v1/channels/{pk}/rotate-secret/": "401 403/403 403/403 ok/ok",
    "POST /api/v1/handoffs/": "401 403 403 ok",
    # SLA configuration: everyone signed in reads it, only admins change it.
    "GET /api/v1/sla/calendars/": "401 ok ok ok",
    "POST /api/v1/sla/calendars/": "401 403 403 ok",
    "GET /api/v1/sla/calendars/{pk}/": "401 ok/ok ok/ok ok/ok",
    "PUT /api/v1/sla/calendars/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/sla/calendars/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/sla/calendars/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/sla/calendars/{pk}/holidays/": "401 ok/ok ok/ok ok/ok",
    "GET /api/v1/sla/calendars/{pk}/opening/": "401 ok/ok ok/ok ok/ok",
    "GET /api/v1/sla/policies/": "401 ok ok ok",
    "POST /api/v1/sla/policies/": "401 403 403 ok",
    "GET /api/v1/sla/policies/{pk}/": "401 ok/ok ok/ok ok/ok",
    "PUT /api/v1/sla/policies/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/sla/policies/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/sla/policies/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/sla/policies/{pk}/revisions/": "401 ok/ok ok/ok ok/ok",
    "GET /api/v1/sla/queue-opening/{pk}/": "401 ok/ok ok/ok ok/ok",
    # Clocks and promises: of the cases one may see.
    "GET /api/v1/sla/clocks/": "401 ok ok ok",
    "GET /api/v1/sla/clocks/{pk}/": "401 ok/404 ok/404 ok/ok",
    "GET /api/v1/sla/promises/": "401 ok ok ok",
    "POST /api/v1/sla/promises/": "401 ok ok ok",
    "GET /api/v1/sla/promises/{pk}/": "401 ok/404 ok/404 ok/ok",
    "POST /api/v1/sla/promises/{pk}/keep/": "401 ok/404 ok/404 ok/ok",
    "POST /api/v1/sla/promises/{pk}/cancel/": "401 ok/404 ok/404 ok/ok",
    # The supervisor dashboard's actions: their teams' queues and agents.
    "GET /api/v1/supervisor/queues/{pk}/cases/": "401 403/403 ok/404 ok/ok",
    "POST /api/v1/supervisor/queues/{pk}/priority/": "401 403/403 ok/404 ok/ok",
    "POST /api/v1/supervisor/agents/{pk}/status/": "401 403/403 ok/404 ok/ok",
    "POST /api/v1/supervisor/agents/{pk}/capacity/": "401 403/403 ok/404 ok/ok",
    "POST /api/v1/supervisor/channel-kind-priority/": "401 403 ok ok",
    # Outbound webhooks: admins' only.
    "GET /api/v1/webhook-subscriptions/": "401 403 403 ok",
    "POST /api/v1/webhook-subscriptions/": "401 403 403 ok",
    "GET /api/v1/webhook-subscriptions/{pk}/": "401 403 403 ok/ok",
    "PUT /api/v1/webhook-subscriptions/{pk}/": "401 403 403 ok/ok",
    "PATCH /api/v1/webhook-subscriptions/{pk}/": "401 403 403 ok/ok",
    "DELETE /api/v1/webhook-subscriptions/{pk}/": "401 403 403 ok/ok",
    "GET /api/v1/webhook-subscriptions/{pk}/deliveries/": "401 403 403 ok/ok",
    # Configuration: everyone signed in reads skills, presence statuses,
    # queues and decline reasons; supervisors and admins read routing rules
    # and settings; only admins change any of it. Agents and teams are read
    # by who they concern (oneself, one's teams; a supervisor's teams).
    "GET /api/v1/agents/": "401 ok ok ok",
    "POST /api/v1/agents/": "401 403 403 ok",
    "GET /api/v1/agents/me/": "401 ok 403 403",
    "POST /api/v1/agents/me/status/": "401 ok 403 403",
    "GET /api/v1/agents/{pk}/": "401 ok/404 ok/404 ok/ok",
    "PUT /api/v1/agents/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/agents/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/teams/": "401 ok ok ok",
    "POST /api/v1/teams/": "401 403 403 ok",
    "GET /api/v1/teams/{pk}/": "401 ok/404 ok/404 ok/ok",
    "PUT /api/v1/teams/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/teams/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/teams/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/skills/": "401 ok ok ok",
    "POST /api/v1/skills/": "401 403 403 ok",
    "GET /api/v1/skills/{pk}/": "401 ok/ok ok/ok ok/ok",
    "PUT /api/v1/skills/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/skills/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/skills/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/presence-statuses/": "401 ok ok ok",
    "POST /api/v1/presence-statuses/": "401 403 403 ok",
    "GET /api/v1/presence-statuses/{pk}/": "401 ok/ok ok/ok ok/ok",
    "PUT /api/v1/presence-statuses/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/presence-statuses/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/presence-statuses/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/queues/": "401 ok ok ok",
    "POST /api/v1/queues/": "401 403 403 ok",
    "GET /api/v1/queues/{pk}/": "401 ok/ok ok/ok ok/ok",
    "PUT /api/v1/queues/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/queues/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/queues/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/decline-reasons/": "401 ok ok ok",
    "POST /api/v1/decline-reasons/": "401 403 403 ok",
    "GET /api/v1/decline-reasons/{pk}/": "401 ok/ok ok/ok ok/ok",
    "PUT /api/v1/decline-reasons/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/decline-reasons/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/decline-reasons/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/routing-rules/": "401 403 ok ok",
    "POST /api/v1/routing-rules/": "401 403 403 ok",
    "GET /api/v1/routing-rules/{pk}/": "401 403/403 ok/ok ok/ok",
    "PUT /api/v1/routing-rules/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/routing-rules/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/routing-rules/{pk}/": "401 403/403 403/403 ok/ok",
    "GET /api/v1/routing-settings/": "401 403 ok ok",
    "PUT /api/v1/routing-settings/": "401 403 403 ok",
    "PATCH /api/v1/routing-settings/": "401 403 403 ok",
    # The configuration audit: admins read it, nobody writes it.
    "GET /api/v1/config-changes/": "401 403 403 ok",
    "GET /api/v1/config-changes/{pk}/": "401 403 403 ok/ok",
    # Reports: supervisors (their teams' figures) and admins.
    "GET /api/v1/reports/": "401 403 ok ok",
    # Response templates: everyone signed in reads and renders them, only admins change them.
    "GET /api/v1/templates/": "401 ok ok ok",
    "POST /api/v1/templates/": "401 403 403 ok",
    "GET /api/v1/templates/{pk}/": "401 ok/ok ok/ok ok/ok",
    "PUT /api/v1/templates/{pk}/": "401 403/403 403/403 ok/ok",
    "PATCH /api/v1/templates/{pk}/": "401 403/403 403/403 ok/ok",
    "DELETE /api/v1/templates/{pk}/": "401 403/403 403/403 ok/ok",
    "POST /api/v1/templates/{pk}/render/": "401 ok/ok ok/ok ok/ok",
    # Satisfaction surveys: agents their own cases', supervisors their teams'.
    "GET /api/v1/surveys/": "401 ok ok ok",
    "GET /api/v1/surveys/{pk}/": "401 ok/404 ok/404 ok/ok",
}

# The object a detail route is about, by the path's first segments.
OBJECT_OF = {
    "/api/v1/cases/": "case",
    "/api/v1/offers/": "offer",
    "/api/v1/customers/": "customer",
    "/api/v1/channels/": "channel",
    "/api/v1/sla/calendars/": "calendar",
    "/api/v1/sla/policies/": "policy",
    "/api/v1/sla/clocks/": "clock",
    "/api/v1/sla/promises/": "promise",
    "/api/v1/sla/queue-opening/": "queue",
    "/api/v1/supervisor/queues/": "queue",
    "/api/v1/supervisor/agents/": "agent",
    "/api/v1/webhook-subscriptions/": "subscription",
    "/api/v1/config-changes/": "change",
    "/api/v1/agents/": "agent",
    "/api/v1/teams/": "team",
    "/api/v1/skills/": "skill",
    "/api/v1/presence-statuses/": "status",
    "/api/v1/queues/": "queue",
    "/api/v1/routing-rules/": "rule",
    "/api/v1/decline-reasons/": "reason",
    "/api/v1/templates/": "template",
    "/api/v1/surveys/": "survey",
}

# Rows about another object than their path says: an agent works the cases
# assigned to them (the matrix checks who may, not the service's rules).
OBJECT_OF_ROW = {
    "POST /api/v1/cases/{pk}/reply/": "held",
    "POST /api/v1/cases/{pk}/note/": "held",
    "POST /api/v1/cases/{pk}/resolve/": "held",
    "POST /api/v1/cases/{pk}/template/": "held",
    "POST /api/v1/cases/{pk}/waiting/": "held",
    "POST /api/v1/cases/{pk}/typing/": "held",
    "POST /api/v1/cases/{pk}/end-wrap-up/": "held",
}

# Lists whose rows belong to a team: (object kind, query string, roles that
# see team B's row). Offers are personal: not even an admin lists another's.
SCOPED_LISTS = {
    "/api/v1/cases/": ("case", "", {"admin"}),
    "/api/v1/offers/": ("offer", "", set()),
    "/api/v1/customers/": ("customer", "", {"admin"}),
    "/api/v1/sla/clocks/": ("clock", "?case={case_b}", {"admin"}),
    "/api/v1/sla/promises/": ("promise", "", {"admin"}),
    "/api/v1/agents/": ("agent", "", {"admin"}),
    "/api/v1/teams/": ("team", "", {"admin"}),
    "/api/v1/surveys/": ("survey", "", {"admin"}),
}

# Bodies that pass validation where validation comes before a permission
# check, so the cell tests the permission, not the body.
BODIES = {
    "POST /api/v1/cases/{pk}/reply/": {"text": "Hello"},
    "POST /api/v1/cases/{pk}/note/": {"text": "Called back, no answer"},
    "POST /api/v1/cases/{pk}/template/": {"name": "order_update", "language": "en_US"},
}


@dataclass
class Side:
    """The objects of one team."""

    case: object  # offered to the team's agent
    held: object  # assigned to the team's agent
    offer: object
    customer: object
    channel: object
    calendar: object
    policy: object
    clock: object
    promise: object
    queue: object
    agent: object
    subscription: object
    change: object  # the audit record of the channel's creation
    # Configuration (set after the rest).
    team: object = None
    skill: object = None
    status: object = None
    rule: object = None
    reason: object = None
    template: object = None
    survey: object = None


def _side(name: str, team: Team) -> Side:
    now = timezone.now()
    queue = factories.queue(f"Queue {name}", team=team)
    agent = factories.agent(f"agent_{name.lower()}", teams=[team])
    channel = factories.channel(f"chan-{name.lower()}", default_queue=queue)
    case = factories.queued_case(channel, queue=queue)
    case.status = CaseStatus.OFFERED
    case.save(update_fields=["status"])
    offer = Offer.objects.create(
        case=case, agent=agent, channel_kind=case.channel_kind, created_at=now, expires_at=now + timedelta(minutes=5)
    )
    calendar = BusinessCalendar.objects.create(name=f"Calendar {name}")
    policy = SlaPolicy.objects.create(
        name=f"Policy {name}", first_response_minutes=30, next_response_minutes=60, resolution_minutes=480
    )
    revision = sla_services.record_revision(policy=policy, now=now)
    clock = Clock.objects.create(
        case=case,
        policy=policy,
        revision=revision,
        target="first_response",
        target_seconds=1800,
        warning_seconds=1440,
        started_at=now,
        running_since=now,
        due_at=now + timedelta(minutes=30),
    )
    promise = Promise.objects.create(
        case=case,
        customer=case.customer,
        agent=agent,
        due_at=now + timedelta(days=1),
        remind_at=now + timedelta(hours=23),
        channel_kind=case.channel_kind,
        created_at=now,
    )
    held = factories.held_case(channel, agent, queue=queue)
    subscription = Subscription.objects.create(url=f"https://example.com/{name}", events=["case.created"])
    change = ConfigChange.objects.get(model="connectors.channel", object_id=str(channel.pk), action="created")
    side = Side(
        case, held, offer, case.customer, channel, calendar, policy, clock, promise, queue, agent, subscription, change
    )
    side.team = team
    side.skill = Skill.objects.create(name=f"skill-{name.lower()}")
    side.status = PresenceStatus.objects.create(name=f"Status {name}", channel_kinds=["api"])
    side.rule = RoutingRule.objects.create(name=f"Rule {name}", queue=queue, match_keywords=name.lower())
    side.reason = DeclineReason.objects.create(label=f"Reason {name}")
    side.template = Template.objects.create(name=f"Template {name}", shortcut=f"template-{name.lower()}", body="Hi.")
    side.survey = Survey.objects.create(
        case=held,
        customer=held.customer,
        agent=agent,
        queue=queue,
        channel_kind=held.channel_kind,
        token=f"survey-{name}",
        resolved_at=now,
        sent_at=now,
    )
    return side


@dataclass
class World:
    a: Side
    b: Side
    tokens: dict[str, str | None]


@pytest.fixture
def world(db) -> World:
    team_a, team_b = Team.objects.create(name="Team A"), Team.objects.create(name="Team B")
    a, b = _side("A", team_a), _side("B", team_b)
    supervisor = factories.user("sam", role=Role.SUPERVISOR)
    team_a.supervisors.add(supervisor)
    admin = factories.user("root", role=Role.ADMIN)
    tokens = {
        "anonymous": None,
        "agent": Token.objects.create(user=a.agent.user).key,
        "supervisor": Token.objects.create(user=supervisor).key,
        "admin": Token.objects.create(user=admin).key,
    }
    return World(a, b, tokens)


def _expectations(cell: str) -> dict[str, tuple[str, ...]]:
    tokens = cell.split()
    assert len(tokens) == len(ROLES), f"{cell!r}: one cell per role {ROLES}"
    return {role: tuple(token.split("/")) for role, token in zip(ROLES, tokens, strict=True)}


def _object_kind(path: str) -> str:
    for prefix, kind in OBJECT_OF.items():
        if path.startswith(prefix):
            return kind
    raise AssertionError(f"{path}: say in OBJECT_OF which object its {{pk}} is")


def _call(client: Client, method: str, url: str, token: str | None, body: dict):
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    with transaction.atomic():
        if method == "GET":
            response = client.get(url, **headers)
        else:
            response = client.generic(method, url, data=json.dumps(body), content_type="application/json", **headers)
        transaction.set_rollback(True)
    return response


def _fresh_process_state() -> None:
    """Per-process caches that a rolled-back request may have filled."""
    from django.core.cache import cache

    from connectors.webhooks import channels
    from routing import pool

    pool.reset()
    channels.clear()
    cache.clear()


def _matches(expected: str, status: int) -> bool:
    if expected == "ok":
        return status < 500 and status not in (401, 403, 404)
    return status == int(expected)


def _ids(response) -> set[int]:
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {row["id"] for row in rows}


def test_every_endpoint_and_method_is_in_the_matrix():
    found = {f"{method} {path}" for path, methods in api_endpoints().items() for method in methods}
    missing = sorted(found - MATRIX.keys())
    stale = sorted(MATRIX.keys() - found)
    assert not missing, f"endpoints missing from the permission matrix: {missing}"
    assert not stale, f"matrix rows for endpoints that no longer exist: {stale}"


@pytest.mark.parametrize("row", sorted(MATRIX))
def test_permission_matrix(row, world):
    method, path = row.split(" ", 1)
    expectations = _expectations(MATRIX[row])
    detail = "{pk}" in path
    client = Client()
    wrong = []
    for role in ROLES:
        cells = expectations[role]
        if detail and len(cells) == 1:
            cells = cells * 2  # one cell for both objects (e.g. anonymous: 401)
        assert len(cells) == (2 if detail else 1), f"{row}: {role} needs {'A/B' if detail else 'one'} cell(s)"
        targets = [("A", world.a), ("B", world.b)] if detail else [("-", None)]
        for (label, side), expected in zip(targets, cells, strict=True):
            url = (
                path.replace("{pk}", str(getattr(side, OBJECT_OF_ROW.get(row) or _object_kind(path)).pk))
                if detail
                else path
            )
            if not detail and method == "GET" and path in SCOPED_LISTS:
                url += SCOPED_LISTS[path][1].format(case_b=world.b.case.pk)
            response = _call(client, method, url, world.tokens[role], BODIES.get(row, {}))
            _fresh_process_state()
            if not _matches(expected, response.status_code):
                wrong.append(
                    f"{role} on {label}: expected {expected}, got {response.status_code} {response.content[:200]!r}"
                )
                continue
            if method == "GET" and path in SCOPED_LISTS and response.status_code == 200:
                kind, _, seeing = SCOPED_LISTS[path]
                leaked = getattr(world.b, kind).pk in _ids(response)
                if leaked != (role in seeing):
                    wrong.append(f"{role}: team B's {kind} {'listed' if leaked else 'not listed'}")
    assert not wrong, f"{row}:\n  " + "\n  ".join(wrong)
