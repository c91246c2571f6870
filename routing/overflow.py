"""Overflow: a case waiting past a queue's steps widens who may take it
(lower proficiency, optional skills dropped, other queues or teams, anyone)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from cases.events import EscalationRaised
from cases.models import Case, CaseEvent, CaseSkill, CaseStatus
from cases.services import record
from config import background
from config.events import publish_on_commit
from routing.models import OverflowStep


def apply_overflow(*, now: datetime, limit: int = 500) -> int:
    """Take the overflow steps that waiting cases have become due for; each
    step is on the case's timeline and the case is routed again at once."""
    from routing.tasks import route_case as route_case_task

    steps_by_queue: dict[int, list[OverflowStep]] = {}
    for step in OverflowStep.objects.select_related("target_queue", "target_team"):
        steps_by_queue.setdefault(step.queue_id, []).append(step)
    if not steps_by_queue:
        return 0
    taken = 0
    for queue_id, steps in steps_by_queue.items():
        earliest = steps[0].after_seconds
        due = list(
            Case.objects.filter(
                status=CaseStatus.QUEUED,
                queue_id=queue_id,
                overflow_level__lt=len(steps),
                queued_at__lte=now - timedelta(seconds=earliest),
            ).values_list("pk", flat=True)[:limit]
        )
        for case_id in due:
            with transaction.atomic():
                case = (
                    Case.objects.select_for_update(skip_locked=True)
                    .filter(pk=case_id, status=CaseStatus.QUEUED)
                    .first()
                )
                if case is None:
                    continue
                waited = (now - (case.queued_at or case.created_at)).total_seconds()
                moved = False
                while case.overflow_level < len(steps) and waited >= steps[case.overflow_level].after_seconds:
                    take_step(case, steps[case.overflow_level], now)
                    case.overflow_level += 1
                    moved = True
                    taken += 1
                if moved:
                    case.save(update_fields=["overflow_level", "overflow", "updated_at"])
                    background.enqueue(route_case_task, case_id=case.pk)
    return taken


def take_step(case: Case, step: OverflowStep, now: datetime) -> None:
    scope = dict(case.overflow or {})
    detail: dict = {"step": case.overflow_level + 1, "action": step.action, "after_seconds": step.after_seconds}
    if step.action == OverflowStep.Action.LOWER_PROFICIENCY:
        lowered = []
        for cs in CaseSkill.objects.filter(case=case, optional=True).select_related("skill"):
            new = max(1, cs.min_proficiency - step.amount)
            if new != cs.min_proficiency:
                lowered.append(f"{cs.skill.name} {cs.min_proficiency}→{new}")
                cs.min_proficiency = new
                cs.save(update_fields=["min_proficiency"])
        detail["lowered"] = lowered
    elif step.action == OverflowStep.Action.DROP_OPTIONAL_SKILLS:
        dropped = list(CaseSkill.objects.filter(case=case, optional=True).values_list("skill__name", flat=True))
        CaseSkill.objects.filter(case=case, optional=True).delete()
        detail["dropped"] = sorted(dropped)
    elif step.action == OverflowStep.Action.ADD_QUEUE:
        scope["queues"] = sorted(set(scope.get("queues", [])) | {step.target_queue_id})
        detail["queue"] = step.target_queue.name  # type: ignore[union-attr]  # an ADD_QUEUE step has one
    elif step.action == OverflowStep.Action.ADD_TEAM:
        scope["teams"] = sorted(set(scope.get("teams", [])) | {step.target_team_id})
        detail["team"] = step.target_team.name  # type: ignore[union-attr]  # an ADD_TEAM step has one
    else:
        scope["anyone"] = True
    case.overflow = scope
    record(case=case, kind=CaseEvent.Kind.OVERFLOW, now=now, **detail)
    publish_on_commit(
        EscalationRaised(
            kind="overflow",
            case_id=case.pk,
            queue_id=case.queue_id,
            detail=f"Overflow step {detail['step']}: {step.get_action_display()}",
        )
    )
