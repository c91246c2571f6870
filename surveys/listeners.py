"""A resolved case gets its survey: the surveys app follows the cases app's
status events (after commit) and sends in the background. (The web chat
shows a survey and closes its card when answered: connectors' listeners.)"""

from __future__ import annotations

from cases.events import CaseStatusChanged
from cases.models import CaseStatus
from config import background, events


def on_status_changes(batch: list[CaseStatusChanged]) -> None:
    from surveys.tasks import send_survey

    for case_id in dict.fromkeys(e.case_id for e in batch if e.status == CaseStatus.RESOLVED):
        background.enqueue(send_survey, case_id=case_id)


def connect() -> None:
    events.subscribe_batch(CaseStatusChanged, on_status_changes)
