"""What the web chat does on the server: store a customer's frame (the same
store-first path as every webhook), tell the widget where its conversation
stands, and push agents' replies, typing and status to it."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from agents.models import Agent
from cases.models import OPEN_STATUSES, Case, CaseStatus, Message
from config.api import DomainError, NotFound
from config.events import publish_on_commit
from config.fanout import group_send
from connectors.events import CustomerTyping
from connectors.models import Channel
from connectors.providers.webchat import chat_group, message_frame
from connectors.services import WebhookResult, store_event
from connectors.webchat.visitors import Visitor
from routing.agent_states import routable_agent_ids
from routing.models import Queue
from routing.ranking import queue_position

MAX_FRAME_CHARS = 32_000


def push_to_conversation(*, channel_id: int, thread_key: str, payload: dict) -> None:
    group_send(chat_group(channel_id, thread_key), payload)


def receive_frame(
    *, channel: Channel, visitor: Visitor, raw: str, remote_addr: str | None, now: datetime
) -> WebhookResult:
    """Store a customer's message frame raw, as an ``InboundEvent`` (committed
    first, normalized after commit). A frame the provider cannot read is kept,
    failed, with its error."""
    body = json.dumps({"frame": raw, "visitor": asdict(visitor)}).encode()
    return store_event(
        channel=channel,
        body=body,
        headers={"X-Switchboard-Source": "webchat"},
        remote_addr=remote_addr,
        now=now,
    )


def chat_queue(channel: Channel) -> Queue | None:
    queue_id = (channel.config or {}).get("queue")
    if isinstance(queue_id, int):
        return Queue.objects.filter(pk=queue_id).first() or channel.default_queue
    return channel.default_queue


def agents_serving(channel: Channel, now: datetime) -> int:
    """How many agents could take a chat of this channel now: present, in a
    status that takes web chat, with web chat capacity, and members of the
    chat queue (a queue without team or members is served by anyone)."""
    queue = chat_queue(channel)
    qs = Agent.objects.filter(
        pk__in=routable_agent_ids(now),
        capacities__channel_kind=channel.kind,
        capacities__units__gt=0,
    )
    if queue is not None and (queue.team_id or queue.agents.exists()):
        qs = qs.filter(Q(teams=queue.team_id) | Q(queues=queue))
    rows = qs.values_list("pk", "status__channel_kinds").distinct()
    return len({pk for pk, kinds in rows if channel.kind in (kinds or [])})


def conversation_case(channel: Channel, visitor: Visitor) -> Case | None:
    """The visitor's open chat case, else its latest one."""
    cases = Case.objects.filter(channel=channel, thread_key=visitor.thread_key).select_related("assignee")
    return cases.filter(status__in=OPEN_STATUSES).first() or cases.order_by("-created_at", "-pk").first()


def status_payload(case: Case | None, now: datetime) -> dict:
    if case is None:
        return {"status": "none", "case_id": None, "agent": None, "position": None, "estimated_wait_seconds": None}
    position = queue_position(case, now)
    return {
        "status": case.status,
        "case_id": case.pk,
        "agent": case.assignee.display_name if case.assignee_id else None,  # type: ignore[union-attr]  # assignee_id checked
        "position": position["position"],
        "estimated_wait_seconds": position["estimated_wait_seconds"],
    }


def conversation_snapshot(channel: Channel, visitor: Visitor, now: datetime) -> dict:
    """What a (re)connecting widget shows: the conversation's messages (no
    internal notes), its status, and whether anyone serves the chat now."""
    from connectors.webchat.surveys import pending_survey  # it pushes with this module

    case = conversation_case(channel, visitor)
    messages = []
    if case is not None:
        messages = [
            message_frame(m)
            for m in case.messages.exclude(direction=Message.Direction.NOTE).select_related("author_agent")
        ]
    return {
        "messages": messages,
        "survey": pending_survey(case, now),
        "conversation": status_payload(case, now),
        "agents_online": agents_serving(channel, now) > 0,
        "name": visitor.name,
        "needs_details": not visitor.has_details,
    }


def push_status(*, case_id: int, now: datetime | None = None) -> None:
    """Tell a chat's widget where its case stands (queued, agent joined, ended)."""
    case = Case.objects.select_related("channel", "assignee").filter(pk=case_id).first()
    if case is None or case.channel is None or case.channel.provider != "webchat" or case.channel_kind == "email":
        return
    push_to_conversation(
        channel_id=case.channel_id,  # type: ignore[arg-type]  # case.channel checked
        thread_key=case.thread_key,
        payload={"type": "chat.status", "conversation": status_payload(case, now or timezone.now())},
    )


class NotAChat(DomainError):
    code = "not_a_chat"


def customer_typing(channel: Channel, visitor: Visitor) -> None:
    """The visitor is typing: the agent holding the chat sees it (dashboards
    push ``CustomerTyping`` to the agent's socket)."""
    held = (
        Case.objects.filter(
            channel=channel, thread_key=visitor.thread_key, status__in=(CaseStatus.ASSIGNED, CaseStatus.WAITING)
        )
        .values_list("pk", "assignee_id")
        .first()
    )
    if held is not None and held[1] is not None:
        publish_on_commit(CustomerTyping(case_id=held[0], agent_id=held[1]))


def agent_typing(*, case_id: int, agent: Agent) -> None:
    """The agent holding a web chat is typing: the widget shows it."""
    case = Case.objects.select_related("channel").filter(pk=case_id).first()
    if case is None:
        raise NotFound(f"no case {case_id}")
    if case.assignee_id != agent.pk or case.status not in (CaseStatus.ASSIGNED, CaseStatus.WAITING):
        raise DomainError(f"case {case_id} is not assigned to you")
    if case.channel is None or case.channel.provider != "webchat" or case.channel_kind == "email":
        raise NotAChat(f"case {case_id} is not a live web chat")
    push_to_conversation(
        channel_id=case.channel_id,  # type: ignore[arg-type]  # case.channel checked
        thread_key=case.thread_key,
        payload={"type": "chat.typing", "agent": agent.display_name},
    )
