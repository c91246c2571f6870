"""The escalation feed keeps what a whole scan raised at once: one row per
event, each with its queue (looked up from the case when not given)."""

from __future__ import annotations

import pytest

from cases.events import EscalationRaised
from config.events import publish_many_on_commit
from dashboards.models import Escalation
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_batch_of_escalations_is_kept_whole_with_queues(django_capture_on_commit_callbacks):
    queue = factories.queue("Billing")
    chan = factories.channel("web", default_queue=queue)
    case = factories.queued_case(chan)
    batch = [
        EscalationRaised(kind="sla_warning", case_id=case.pk, queue_id=None, detail="First response due in 5 min"),
        EscalationRaised(kind="sla_breach", case_id=case.pk, queue_id=queue.pk, detail="x" * 900),
        EscalationRaised(kind="inbound_failed", case_id=None, queue_id=None, detail="Event 7 failed"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        publish_many_on_commit(batch)

    rows = list(Escalation.objects.order_by("pk").values_list("kind", "case_id", "queue_id", "detail"))
    assert [r[0] for r in rows] == ["sla_warning", "sla_breach", "inbound_failed"]
    assert rows[0][2] == queue.pk and rows[1][2] == queue.pk and rows[2][2] is None
    assert len(rows[1][3]) == 500 and rows[2][1] is None
