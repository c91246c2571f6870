"""The benchmarks' and the load test's webhooks (``bench.providers``) are
what each provider's connector accepts: signed right, one new case per
message, and a delivery sent again is acknowledged and stored nowhere twice
— else ``make load`` and ``bench ingest`` would measure refusals. A body
with a forged signature (or Telegram's secret token) is refused."""

from __future__ import annotations

import pytest

from bench import providers
from cases.models import Case, Message
from connectors.models import Channel, InboundEvent

pytestmark = pytest.mark.django_db


def _post(client, delivery: providers.Delivery, *, forged: bool = False):
    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": "sha256=" + "0" * 64 if forged else value
        for name, value in delivery.headers.items()
        if name != "Content-Type"
    }
    return client.post(delivery.path, data=delivery.body, content_type=delivery.headers["Content-Type"], **headers)


def test_every_provider_opens_one_case_and_a_redelivery_stores_nothing(client, django_capture_on_commit_callbacks):
    providers.seed_channels(prefix="load")
    mix = providers.Mix(prefix="load", run="ld0")
    for n in range(len(providers.PROVIDERS)):
        delivery = mix.delivery(n)
        with django_capture_on_commit_callbacks(execute=True):  # processed at commit, as by a worker
            first = _post(client, delivery)
        with django_capture_on_commit_callbacks(execute=True):  # the same request again, as a provider retries
            again = _post(client, delivery)

        assert first.status_code in (200, 202), (delivery.provider, first.content)  # Meta answers 200
        assert again.status_code == 200, (delivery.provider, again.content)
        channel = Channel.objects.get(key=delivery.path.split("/")[2])
        assert channel.provider == delivery.provider
        event = InboundEvent.objects.get(channel=channel)
        assert event.status == InboundEvent.Status.PROCESSED, (delivery.provider, event.error)
        message = Message.objects.get(channel=channel)
        assert message.text.startswith(f"{mix.token(n)} ")  # how a run finds its messages again
    assert Case.objects.count() == len(providers.PROVIDERS)
    assert {mix.provider_of(n) for n in range(4)} == set(providers.PROVIDERS)


def test_a_forged_signature_or_secret_is_refused_for_every_provider(client):
    providers.seed_channels(prefix="load")
    mix = providers.Mix(prefix="load", run="ld1")
    for n in range(len(providers.PROVIDERS)):
        response = _post(client, mix.delivery(n), forged=True)
        assert response.status_code == 403, (mix.provider_of(n), response.content)
    assert InboundEvent.objects.count() == 0


def test_an_unknown_provider_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown providers: smoke"):
        providers.Mix(["smoke"])
