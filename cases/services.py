"""Every write to customers, cases and messages.

Lock order everywhere in Switchboard: case, then agent, then offer.
Events leave on commit (``config.events.publish_on_commit``); the apps above
react to them: an agent's reply is delivered by connectors
(``OutboundQueued``), an agent who freed a case is offered work by routing
(``AgentGainedRoom``), and a score reply answers its survey through the hook
the surveys app fills in (``answer_survey_replies_with``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import nh3
from django.conf import settings
from django.db import IntegrityError, transaction

from agents.events import AgentGainedRoom
from agents.models import Agent
from cases.events import CaseCreated, CaseStatusChanged, MessageAdded, OutboundQueued
from cases.identities import normalize_identity
from cases.models import HELD_STATUSES, OPEN_STATUSES, Case, CaseEvent, CaseStatus, Customer, Identity, Message
from cases.normalized import NormalizedMessage
from cases.selectors import is_reply_window_open, reply_window_closes_at
from config.api import DomainError, Invalid, NotFound
from config.events import publish_on_commit
from config.logs import bind_case


class NotYourCase(DomainError):
    status_code = 403
    code = "forbidden"


class CaseClosed(DomainError):
    code = "case_closed"


class ReplyWindowClosed(DomainError):
    code = "reply_window_closed"


def sanitize_html(html: str) -> str:
    """Customer-supplied HTML, made safe before any browser renders it."""
    if not html:
        return ""
    return nh3.clean(html, link_rel="noopener noreferrer nofollow")


def record(*, case: Case, kind: str, now: datetime, agent: Agent | None = None, actor=None, **data) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, agent=agent, actor=actor, data=data, created_at=now)


def resolve_customer(
    *, kind: str, address: str, display_name: str = "", language: str = ""
) -> tuple[Customer, Identity]:
    """The customer behind an identity, created with it if new. Safe under
    concurrency: two first messages from one address make one customer."""
    normalized = normalize_identity(kind, address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
    identity = Identity.objects.select_related("customer").filter(kind=kind, address=normalized).first()
    if identity is not None:
        customer = identity.customer
        changed = []
        if display_name and not customer.display_name:
            customer.display_name = display_name
            changed.append("display_name")
        if language and not customer.language:
            customer.language = language
            changed.append("language")
        if changed:
            customer.save(update_fields=changed)
        return customer, identity
    try:
        with transaction.atomic():
            customer = Customer.objects.create(display_name=display_name, language=language)
            identity = Identity.objects.create(customer=customer, kind=kind, address=normalized)
            return customer, identity
    except IntegrityError:
        # Another transaction created this identity first: use theirs.
        identity = Identity.objects.select_related("customer").get(kind=kind, address=normalized)
        return identity.customer, identity


def add_identity_if_free(*, customer: Customer, kind: str, address: str) -> Identity | None:
    """Attach an unverified address the customer gave (e.g. a pre-chat email)
    only when no customer holds it yet: never an automatic merge."""
    try:
        normalized = normalize_identity(kind, address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
    except ValueError:
        return None
    if Identity.objects.filter(kind=kind, address=normalized).exists():
        return None
    try:
        with transaction.atomic():
            return Identity.objects.create(customer=customer, kind=kind, address=normalized)
    except IntegrityError:
        return None


def _no_survey_answered(*, channel, thread_key: str, text: str, now: datetime) -> Case | None:
    return None


# Which resolved case an inbound reply answers the survey of (answered now),
# or None. Intake must know before it picks the message's case, so this is a
# call, not an event: the surveys app (a layer above) fills it in at ready().
_survey_answered_by: Callable[..., Case | None] = _no_survey_answered


def answer_survey_replies_with(answer: Callable[..., Case | None]) -> None:
    """Called by ``SurveysConfig.ready()`` with ``surveys.replies.answer_from_reply``:
    ``answer(channel=, thread_key=, text=, now=)`` returns the resolved case whose
    survey the reply answered, or None for an ordinary message."""
    global _survey_answered_by
    _survey_answered_by = answer


@dataclass(frozen=True, slots=True)
class Received:
    message: Message
    case: Case
    created_case: bool
    reopened: bool


def receive_message(*, channel, normalized: NormalizedMessage, now: datetime) -> Received:
    """Attach an inbound message to its case: the open case of its thread, a
    recently resolved one (re-opened), or a new case. Call inside a transaction."""
    if normalized.sender is None:
        raise Invalid("a message needs a sender")
    customer, identity = resolve_customer(
        kind=normalized.sender.identity_kind,
        address=normalized.sender.address,
        display_name=normalized.sender.display_name,
        language=normalized.language,
    )
    thread_key = normalized.thread_key or _sender_thread_key(identity)
    # A reply that is just a score answers the survey of a resolved case: it joins that case, not re-opening it.
    surveyed = _survey_answered_by(channel=channel, thread_key=thread_key, text=normalized.text, now=now)
    if surveyed is not None:
        case, created, reopened = surveyed, False, False
    else:
        case, created, reopened = _case_for_thread(
            channel=channel, customer=customer, thread_key=thread_key, normalized=normalized, now=now
        )
    message = Message.objects.create(
        case=case,
        direction=Message.Direction.INBOUND,
        channel=channel,
        channel_kind=channel.kind,
        provider_message_id=normalized.external_id,
        text=normalized.text,
        html=sanitize_html(normalized.html),
        attachments=[
            {"name": a.name, "content_type": a.content_type, "size": a.size, "url": a.url}
            for a in normalized.attachments
        ],
        sender_identity=identity,
        delivery_status=Message.Delivery.RECEIVED,
        sent_at=normalized.sent_at,
        created_at=now,
    )
    bind_case(case.pk)  # the rest of this task's log lines name the case
    case.last_customer_message_at = now
    case.save(update_fields=["last_customer_message_at", "updated_at"])
    record(case=case, kind=CaseEvent.Kind.MESSAGE_RECEIVED, now=now, message_id=message.pk)
    publish_on_commit(
        MessageAdded(case_id=case.pk, message_id=message.pk, direction=message.direction, assignee_id=case.assignee_id)
    )
    return Received(message=message, case=case, created_case=created, reopened=reopened)


def _sender_thread_key(identity: Identity) -> str:
    """One thread per sender when the provider names none, kept within the
    column's 255 characters (a long platform id is hashed)."""
    key = f"{identity.kind}:{identity.address}"
    if len(key) <= 255:
        return key
    return f"{identity.kind}:sha256:{hashlib.sha256(identity.address.encode()).hexdigest()}"


def _case_for_thread(*, channel, customer: Customer, thread_key: str, normalized: NormalizedMessage, now: datetime):
    open_case = (
        Case.objects.select_for_update()
        .filter(channel=channel, thread_key=thread_key, status__in=OPEN_STATUSES)
        .first()
    )
    if open_case is not None:
        if open_case.status == CaseStatus.WAITING:
            open_case.status = CaseStatus.ASSIGNED
            open_case.save(update_fields=["status", "updated_at"])
            publish_on_commit(_status_event(open_case))
        return open_case, False, False
    window = timedelta(seconds=settings.SWITCHBOARD["REOPEN_WINDOW_SECONDS"])
    recent = (
        Case.objects.select_for_update()
        .filter(channel=channel, thread_key=thread_key, status=CaseStatus.RESOLVED, resolved_at__gte=now - window)
        .order_by("-resolved_at")
        .first()
    )
    if recent is not None:
        recent.status = CaseStatus.NEW
        recent.assignee = None
        recent.resolved_at = None
        recent.save(update_fields=["status", "assignee", "resolved_at", "updated_at"])
        record(case=recent, kind=CaseEvent.Kind.REOPENED, now=now)
        return recent, False, True
    try:
        with transaction.atomic():
            case = Case.objects.create(
                customer=customer,
                channel=channel,
                channel_kind=channel.kind,
                thread_key=thread_key,
                subject=_subject(normalized),
                language=normalized.language or customer.language,
                status=CaseStatus.NEW,
                created_at=now,
            )
    except IntegrityError:
        # A concurrent message on the same thread opened the case first.
        case = Case.objects.select_for_update().get(channel=channel, thread_key=thread_key, status__in=OPEN_STATUSES)
        return case, False, False
    record(case=case, kind=CaseEvent.Kind.CREATED, now=now, channel=channel.key)
    publish_on_commit(CaseCreated(case_id=case.pk, customer_id=customer.pk))
    return case, True, False


def _subject(normalized: NormalizedMessage) -> str:
    if normalized.subject:
        return normalized.subject[:255]
    first_line = normalized.text.strip().splitlines()[0] if normalized.text.strip() else ""
    return first_line[:255]


def _status_event(case: Case) -> CaseStatusChanged:
    return CaseStatusChanged(case_id=case.pk, status=case.status, assignee_id=case.assignee_id, queue_id=case.queue_id)


def _lock_case_for_agent(*, case_id: int, agent: Agent) -> Case:
    try:
        case = Case.objects.select_for_update(of=("self",)).select_related("queue").get(pk=case_id)
    except Case.DoesNotExist:
        raise NotFound(f"no case {case_id}") from None
    if case.assignee_id != agent.pk:
        raise NotYourCase(f"case {case_id} is not assigned to you")
    return case


def send_reply(*, case_id: int, agent: Agent, text: str, now: datetime, template: dict | None = None) -> Message:
    """Record the agent's reply and send it on the case's channel after commit.
    Outside a WhatsApp or Messenger 24-hour window only a ``template`` (see
    ``send_template``) may go, kept on the timeline's reply_sent event."""
    text = (text or "").strip()
    if not text:
        raise Invalid("a reply needs text")
    if len(text) > 100_000:
        raise Invalid("a reply is limited to 100,000 characters")
    with transaction.atomic():
        case = _lock_case_for_agent(case_id=case_id, agent=agent)
        if case.status not in (CaseStatus.ASSIGNED, CaseStatus.WAITING):
            raise CaseClosed(f"case {case_id} is {case.status}")
        if template is not None and case.channel_kind != "whatsapp":
            raise Invalid(f"templates are sent on WhatsApp cases only; this case is on {case.channel_kind}")
        if template is None and not is_reply_window_open(case, now=now):
            raise ReplyWindowClosed(
                f"the 24-hour {case.channel_kind} reply window closed at {reply_window_closes_at(case):%Y-%m-%d %H:%M} "
                "UTC: only an approved template may be sent until the customer writes again"
            )
        message = Message.objects.create(
            case=case,
            direction=Message.Direction.OUTBOUND,
            channel=case.channel,
            channel_kind=case.channel_kind,
            text=text,
            author_agent=agent,
            delivery_status=Message.Delivery.QUEUED,
            created_at=now,
        )
        reaction = {}
        if case.first_response_at is None:
            case.first_response_at = now
            case.save(update_fields=["first_response_at", "updated_at"])
            reaction = _social_reaction(case=case, now=now)
        if template is not None:
            reaction["template"] = template
        record(case=case, kind=CaseEvent.Kind.REPLY_SENT, now=now, agent=agent, message_id=message.pk, **reaction)
        publish_on_commit(
            MessageAdded(case_id=case.pk, message_id=message.pk, direction=message.direction, assignee_id=agent.pk)
        )
        publish_on_commit(OutboundQueued(case_id=case.pk, message_id=message.pk))
    return message


_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_TEMPLATE_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2,4})?$")


def send_template(
    *, case_id: int, agent: Agent, name: str, language: str, parameters: list[str], now: datetime
) -> Message:
    """Send an approved WhatsApp template (its name, language code and body
    parameters), allowed also when the 24-hour window is closed."""
    if not _TEMPLATE_NAME.match(name or ""):
        raise Invalid("a template name is lower-case letters, digits and underscores")
    if not _TEMPLATE_LANGUAGE.match(language or ""):
        raise Invalid("a template language is a code such as en or en_US")
    if len(parameters) > 20 or any(not isinstance(p, str) or not p.strip() or len(p) > 1024 for p in parameters):
        raise Invalid("template parameters are up to 20 non-empty texts of up to 1,024 characters")
    text = f"Template {name} ({language})" + (": " + " | ".join(parameters) if parameters else "")
    template = {"name": name, "language": language, "parameters": list(parameters)}
    return send_reply(case_id=case_id, agent=agent, text=text, now=now, template=template)


def add_note(*, case_id: int, agent: Agent, text: str, now: datetime) -> Message:
    """An internal note on a case the agent holds: seen by agents and
    supervisors, never sent to the customer, no SLA effect."""
    text = (text or "").strip()
    if not text:
        raise Invalid("a note needs text")
    if len(text) > 20_000:
        raise Invalid("a note is limited to 20,000 characters")
    with transaction.atomic():
        case = _lock_case_for_agent(case_id=case_id, agent=agent)
        if case.status not in (CaseStatus.ASSIGNED, CaseStatus.WAITING, CaseStatus.WRAP_UP):
            raise CaseClosed(f"case {case_id} is {case.status}")
        message = Message.objects.create(
            case=case,
            direction=Message.Direction.NOTE,
            channel_kind=case.channel_kind,
            text=text,
            author_agent=agent,
            created_at=now,
        )
        record(case=case, kind=CaseEvent.Kind.NOTE_ADDED, now=now, agent=agent, message_id=message.pk)
        publish_on_commit(
            MessageAdded(case_id=case.pk, message_id=message.pk, direction=message.direction, assignee_id=agent.pk)
        )
    return message


def _social_reaction(*, case: Case, now: datetime) -> dict:
    """For a public social post (an X mention, a Page comment): the time from
    the post to the first answer, public or private, kept on the first
    REPLY_SENT event of the timeline (``posted_at``, ``reaction_seconds``)."""
    if case.channel_kind != "social":
        return {}
    first = case.messages.filter(direction=Message.Direction.INBOUND).order_by("created_at", "pk").first()
    if first is None:
        return {}
    posted_at = first.sent_at or first.created_at
    return {"posted_at": posted_at.isoformat(), "reaction_seconds": max(0, round((now - posted_at).total_seconds()))}


def set_waiting(*, case_id: int, agent: Agent, now: datetime) -> Case:
    """The agent waits on the customer (asked for an order number, say): the
    case keeps the agent and its capacity, the resolution clock pauses, and
    the customer's next message makes it the agent's turn again."""
    with transaction.atomic():
        case = _lock_case_for_agent(case_id=case_id, agent=agent)
        if case.status == CaseStatus.WAITING:
            return case
        if case.status != CaseStatus.ASSIGNED:
            raise CaseClosed(f"case {case_id} is {case.status}: only an assigned case can wait on the customer")
        case.status = CaseStatus.WAITING
        case.save(update_fields=["status", "updated_at"])
        record(case=case, kind=CaseEvent.Kind.WAITING, now=now, agent=agent)
        publish_on_commit(_status_event(case))
    return case


def resolve_case(*, case_id: int, agent: Agent, now: datetime) -> Case:
    """Resolve a case the agent holds; its capacity frees and the agent pulls new work."""
    with transaction.atomic():
        case = _lock_case_for_agent(case_id=case_id, agent=agent)
        if case.status not in (CaseStatus.ASSIGNED, CaseStatus.WAITING):
            raise CaseClosed(f"case {case_id} is {case.status}")
        case.resolved_at = now
        wrap_up = case.queue.wrap_up_seconds if case.queue_id else 0  # type: ignore[union-attr]  # queue_id checked
        if wrap_up:
            # After-contact work: the case keeps holding the agent's capacity
            # until the agent ends it or its time limit passes.
            case.status = CaseStatus.WRAP_UP
            case.wrap_up_until = now + timedelta(seconds=wrap_up)
            case.save(update_fields=["status", "resolved_at", "wrap_up_until", "updated_at"])
            record(case=case, kind=CaseEvent.Kind.WRAP_UP, now=now, agent=agent, until=case.wrap_up_until.isoformat())
            publish_on_commit(_status_event(case))
            return case
        case.status = CaseStatus.RESOLVED
        case.save(update_fields=["status", "resolved_at", "updated_at"])
        record(case=case, kind=CaseEvent.Kind.RESOLVED, now=now, agent=agent)
        publish_on_commit(_status_event(case))
        mark_idle_if_free(agent_id=agent.pk, now=now)
        publish_on_commit(AgentGainedRoom(agent_id=agent.pk))
    return case


def mark_idle_if_free(*, agent_id: int, now: datetime) -> None:
    """Start the agent's idle clock when it holds no case any more."""
    if not Case.objects.filter(assignee_id=agent_id, status__in=HELD_STATUSES).exists():
        Agent.objects.filter(pk=agent_id, idle_since__isnull=True).update(idle_since=now)
