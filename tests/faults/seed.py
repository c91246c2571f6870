"""Run inside Django in a subprocess (``python -m bench.in_django
tests.faults.seed:<function>``), against a fault test's private database."""

from __future__ import annotations

from tests import factories

PASSWORD = "pw-for-tests"


def world(*, agents: int = 1, reply_url: str = "") -> dict:
    """A generic JSON channel to one queue, ``agents`` present agents with
    room for many cases, and an admin ("boss") whose dashboard shows every queue."""
    from agents.models import Role

    queue = factories.queue("Faults", offer_timeout_seconds=3600)
    config = {"reply_url": reply_url} if reply_url else {}
    channel = factories.channel("faults", default_queue=queue, config=config)
    made = [factories.agent(f"agent{n}", capacity={"api": 100, "sms": 100}, total=200) for n in range(1, agents + 1)]
    factories.user("boss", role=Role.ADMIN)
    return {
        "channel_key": channel.key,
        "secret": channel.secret,
        "queue_id": queue.pk,
        "agents": [{"id": a.pk, "username": a.user.username} for a in made],
        "password": PASSWORD,
    }


def reply(*, case_id: int, text: str) -> dict:
    """The assignee of ``case_id`` (accepting its pending offer first) replies."""
    from django.utils import timezone

    from cases import services as case_services
    from routing.models import Offer
    from routing.offers import accept_offer

    offer = Offer.objects.select_related("agent").get(case_id=case_id, status=Offer.Status.PENDING)
    accept_offer(offer_id=offer.pk, agent=offer.agent, now=timezone.now())
    message = case_services.send_reply(case_id=case_id, agent=offer.agent, text=text, now=timezone.now())
    return {"message_id": message.pk}


def twilio_channel(*, api_base: str, auth_token: str, account_sid: str) -> dict:
    """An SMS channel on Twilio whose Messages API is ``api_base`` (the test's loopback)."""
    from connectors.models import Channel
    from routing.models import Queue

    channel = Channel.objects.create(
        key="sms",
        name="SMS",
        kind="sms",
        provider="twilio",
        secret=auth_token,
        default_queue=Queue.objects.get(name="Faults"),
        config={"account_sid": account_sid, "api_base": api_base, "from": "+15005550006"},
    )
    return {"channel_key": channel.key}


def delivery(*, message_id: int) -> dict:
    """Where a reply stands, as an agent and a supervisor see it."""
    from cases.models import Message
    from dashboards.models import Escalation

    message = Message.objects.get(pk=message_id)
    escalations = Escalation.objects.filter(case_id=message.case_id)
    return {
        "status": message.delivery_status,
        "error": message.delivery_error,
        "provider_message_id": message.provider_message_id,
        "escalations": [{"kind": e.kind, "detail": e.detail} for e in escalations],
    }
