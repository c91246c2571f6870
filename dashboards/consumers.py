"""Websocket consumers. Thin: authenticate, join the groups the user may see,
send a snapshot, forward deltas, turn requests into service calls."""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from agents import services as agent_services
from agents.models import Agent
from cases import services as case_services
from config.api import DomainError
from dashboards import selectors
from dashboards.scope import agent_group
from routing.offers import accept_offer, decline_offer

log = logging.getLogger(__name__)

# Close codes (4000–4999 are the application's).
UNAUTHENTICATED = 4401
NOT_AN_AGENT = 4403


def _agent_for(user) -> Agent | None:
    if not user or not user.is_authenticated:
        return None
    return Agent.objects.filter(user=user, is_active=True).first()


def _int(content: dict, key: str) -> int:
    value = content.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError(f"'{key}' must be a whole number")
    return value


class AgentConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/agent/``: offers and my cases, live; accept, decline, reply."""

    agent_id: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        agent = await database_sync_to_async(_agent_for)(user)
        if agent is None:
            await self.close(code=NOT_AN_AGENT)
            return
        self.agent_id = agent.pk
        await self.channel_layer.group_add(agent_group(agent.pk), self.channel_name)
        await self.accept()
        await database_sync_to_async(agent_services.touch_presence)(agent_id=agent.pk, now=timezone.now())
        await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        if self.agent_id is not None:
            await self.channel_layer.group_discard(agent_group(self.agent_id), self.channel_name)
        # Presence lapses after the grace period unless another tab beats.

    async def send_snapshot(self) -> None:
        snapshot = await database_sync_to_async(selectors.agent_snapshot)(self.agent_id)
        await self.send_json({"type": "snapshot", **snapshot})

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json({"type": "error", "detail": "a request is an object with a 'type'"})
            return
        kind = content["type"]
        request_id = content.get("request_id")
        handler = self._handlers().get(kind)
        if handler is None:
            await self.send_json(
                {"type": "error", "request_id": request_id, "detail": f"unknown request type {kind!r}"}
            )
            return
        try:
            reply = await database_sync_to_async(handler)(content)
        except DomainError as exc:
            await self.send_json({"type": "error", "request_id": request_id, "request": kind, "detail": exc.message})
            return
        await self.send_json({"type": "ack", "request_id": request_id, "request": kind, **(reply or {})})

    def _handlers(self):
        return {
            "heartbeat": self._heartbeat,
            "snapshot": self._snapshot,
            "status.set": self._set_status,
            "offer.accept": self._accept,
            "offer.decline": self._decline,
            "case.open": self._open_case,
            "case.reply": self._reply,
            "case.resolve": self._resolve,
            "case.waiting": self._waiting,
        }

    def _agent(self) -> Agent:
        return Agent.objects.select_related("status").get(pk=self.agent_id)

    def _heartbeat(self, content: dict) -> dict:
        """Presence, and the agent's pending offers: a page that missed a
        push (a full channel-layer buffer drops it) sees the difference and
        asks for a snapshot."""
        agent_services.touch_presence(agent_id=self.agent_id, now=timezone.now())
        return {"pending_offers": selectors.pending_offer_ids(self.agent_id)}

    def _snapshot(self, content: dict) -> dict:
        return {"snapshot": selectors.agent_snapshot(self.agent_id)}

    def _set_status(self, content: dict) -> dict:
        agent = agent_services.set_status(
            agent_id=self.agent_id, status_id=_int(content, "status_id"), now=timezone.now()
        )
        return {"status_id": agent.status_id}

    def _accept(self, content: dict) -> dict:
        case = accept_offer(offer_id=_int(content, "offer_id"), agent=self._agent(), now=timezone.now())
        return {"case_id": case.pk}

    def _decline(self, content: dict) -> dict:
        reason = content.get("reason") or ""
        if not isinstance(reason, str):
            raise DomainError("'reason' must be text")
        offer = decline_offer(
            offer_id=_int(content, "offer_id"), agent=self._agent(), reason=reason, now=timezone.now()
        )
        return {"offer_id": offer.pk}

    def _open_case(self, content: dict) -> dict:
        from cases.models import Case

        case = (
            Case.objects.select_related("customer", "queue")
            .filter(pk=_int(content, "case_id"), assignee_id=self.agent_id)
            .first()
        )
        if case is None:
            raise DomainError("no such case assigned to you")
        return {"case": selectors.case_payload(case, with_messages=True)}

    def _reply(self, content: dict) -> dict:
        text = content.get("text")
        if not isinstance(text, str):
            raise DomainError("'text' must be text")
        message = case_services.send_reply(
            case_id=_int(content, "case_id"), agent=self._agent(), text=text, now=timezone.now()
        )
        return {"message_id": message.pk}

    def _resolve(self, content: dict) -> dict:
        case = case_services.resolve_case(case_id=_int(content, "case_id"), agent=self._agent(), now=timezone.now())
        return {"case_id": case.pk, "status": case.status}

    def _waiting(self, content: dict) -> dict:
        case = case_services.set_waiting(case_id=_int(content, "case_id"), agent=self._agent(), now=timezone.now())
        return {"case_id": case.pk, "status": case.status}

    # Group messages → this socket.
    async def offer_created(self, event: dict) -> None:
        await self.send_json(event)

    async def offer_closed(self, event: dict) -> None:
        await self.send_json(event)

    async def case_updated(self, event: dict) -> None:
        await self.send_json(event)

    async def message_added(self, event: dict) -> None:
        await self.send_json(event)

    async def message_status(self, event: dict) -> None:
        await self.send_json(event)

    async def customer_typing(self, event: dict) -> None:
        await self.send_json(event)

    async def agent_updated(self, event: dict) -> None:
        await self.send_json(event)


NOT_A_SUPERVISOR = 4403


class SupervisorConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/supervisor/``: a snapshot numbered per stream, then deltas and
    heartbeats (``dashboards.streams``); ``{"type": "resync"}`` re-joins the
    groups and sends a fresh snapshot (after a gap, a silence, a reconnect)."""

    groups_joined: list[str] = []

    async def connect(self) -> None:
        from dashboards.scope import scope_for
        from dashboards.streams import heartbeat, watchers

        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.supervision = await database_sync_to_async(scope_for)(user)
        if self.supervision is None:
            await self.close(code=NOT_A_SUPERVISOR)
            return
        await self.accept()
        self.groups_joined = self.supervision.groups
        # Join before the snapshot is read: nothing committed after it is missed.
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        heartbeat.join(self.groups_joined)
        # Marked as watched before the snapshot is read (see streams.Watchers).
        await sync_to_async(watchers.join, thread_sensitive=False)(self.groups_joined)
        await self.send_snapshot()

    async def disconnect(self, code: int) -> None:
        from dashboards.streams import heartbeat, watchers

        if self.groups_joined:
            heartbeat.leave(self.groups_joined)
            watchers.leave(self.groups_joined)
            for group in self.groups_joined:
                try:
                    await self.channel_layer.group_discard(group, self.channel_name)
                except Exception as exc:  # Redis away; its memberships expire
                    log.warning("group_discard failed: %s", exc)
            self.groups_joined = []

    async def send_snapshot(self) -> None:
        text = await database_sync_to_async(self._snapshot_text)()
        await self.send(text_data=text)

    def _snapshot_text(self) -> str:
        import json

        from dashboards import supervision
        from dashboards.streams import sequences

        # Numbers first, then the rows: a delta numbered after this snapshot
        # was computed after it began, so applying it never goes back in time.
        seqs = sequences.current(self.groups_joined)
        return json.dumps({"type": "snapshot", "seqs": seqs, **supervision.snapshot(self.supervision)})

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "resync":
            try:
                from dashboards.streams import watchers

                for group in self.groups_joined:
                    await self.channel_layer.group_add(group, self.channel_name)
                await sync_to_async(watchers.renew, thread_sensitive=False)(self.groups_joined)
                await self.send_snapshot()
            except Exception as exc:
                log.warning("supervisor resync failed: %s", exc)
                await self.send_json({"type": "error", "detail": "live updates are unavailable; retrying"})
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "detail": f"unknown request type {kind!r}"})

    async def supervisor_delta(self, event: dict) -> None:
        await self.send(text_data=event["text"])  # serialized once by the publisher

    async def supervisor_heartbeat(self, event: dict) -> None:
        await self.send(text_data=event["text"])
