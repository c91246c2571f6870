"""Every write of routing configuration: queues (with their members,
required skills and overflow steps), routing rules (with their skills), the
engine-wide routing settings, and a queue's priority changed while it runs.
The REST API, the admin, ``import_config`` and the supervisors' dashboard
all call these functions, so what must follow a change happens here once:

- this process's router forgets the queues, settings and memberships it
  kept, on commit (other processes read them anew within ROUTER_STATE_MS);
- the configuration audit (``audit.recorder``) records each row saved or
  deleted here, child rows included.

Callers validate (serializers, admin forms, the importer) and present;
children are given as the whole new list of rows (saved or not): rows of
the list are saved, the parent's other rows are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from agents.models import Agent
from audit.recorder import update_audited
from cases.models import Case, CaseStatus
from config.api import Invalid, NotFound
from config.inlines import replace_rows
from routing import queue_settings
from routing.models import OverflowStep, Queue, QueueSkill, RoutingRule, RoutingRuleSkill, RoutingSettings
from routing.pool import planning
from routing.ranking import refresh_ranks

RERANK_CHUNK = 2000


def forget_kept_state() -> None:
    """Queues, settings and memberships changed: this process's router reads them anew."""
    queue_settings.forget()
    planning.clear()


def _forget_on_commit() -> None:
    transaction.on_commit(forget_kept_state)


# --- Queues -----------------------------------------------------------------------------------


def save_queue(
    *,
    queue: Queue,
    agents: Iterable[Agent] | None = None,
    required_skills: Sequence[QueueSkill] | None = None,
    overflow_steps: Sequence[OverflowStep] | None = None,
) -> Queue:
    """Save the queue as given and, when given, its members besides the
    team's and its whole lists of required skills and overflow steps."""
    with transaction.atomic():
        queue.save()
        if agents is not None:
            queue.agents.set(agents)
        if required_skills is not None:
            replace_rows(QueueSkill, "queue", queue, required_skills)
        if overflow_steps is not None:
            replace_rows(OverflowStep, "queue", queue, overflow_steps)
        _forget_on_commit()
    return queue


def delete_queue(*, queue: Queue) -> None:
    """Delete the queue (the caller says whether it may: rules, open cases and
    other queues' overflow steps may use it)."""
    with transaction.atomic():
        queue.delete()
        _forget_on_commit()


def set_queues_active(*, queues: QuerySet[Queue], is_active: bool) -> int:
    """Activate or deactivate these queues at once; returns how many changed."""
    with transaction.atomic():
        changed = update_audited(queues, is_active=is_active)
        _forget_on_commit()
    return changed


@dataclass(frozen=True, slots=True)
class PriorityChange:
    queue: Queue
    before: int
    reranked: int  # waiting cases ranked anew


def set_queue_priority(*, queue_id: int, priority: int) -> PriorityChange:
    """1 (most urgent) to 5, while the queue runs: its waiting cases are
    re-ranked at once."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
        raise Invalid("a queue's priority is a whole number from 1 (most urgent) to 5")
    with transaction.atomic():
        queue = Queue.objects.select_for_update().filter(pk=queue_id).first()
        if queue is None:
            raise NotFound(f"no queue {queue_id}")
        before = queue.priority
        queue.priority = priority
        queue.save(update_fields=["priority"])
        waiting = list(Case.objects.filter(queue=queue, status=CaseStatus.QUEUED).values_list("pk", flat=True))
        for start in range(0, len(waiting), RERANK_CHUNK):
            refresh_ranks(case_ids=waiting[start : start + RERANK_CHUNK])
        _forget_on_commit()
    return PriorityChange(queue=queue, before=before, reranked=len(waiting))


# --- Routing rules ----------------------------------------------------------------------------


def save_rule(*, rule: RoutingRule, skills: Sequence[RoutingRuleSkill] | None = None) -> RoutingRule:
    """Save the rule as given and, when given, its whole list of skills.
    Rules are read anew for each case: nothing is kept to forget."""
    with transaction.atomic():
        rule.save()
        if skills is not None:
            replace_rows(RoutingRuleSkill, "rule", rule, skills)
    return rule


def delete_rule(*, rule: RoutingRule) -> None:
    with transaction.atomic():
        rule.delete()


def set_rule_priority_for_channel_kind(*, channel_kind: str, priority: int) -> list[int]:
    """Active rules that match only this channel kind set this priority on
    new cases; returns their ids."""
    rules = RoutingRule.objects.filter(is_active=True, match_channel_kinds=[channel_kind])
    rule_ids = list(rules.values_list("pk", flat=True))
    rules.update(set_priority=priority)
    return rule_ids


# --- Engine-wide settings ---------------------------------------------------------------------


def save_routing_settings(*, settings: RoutingSettings) -> RoutingSettings:
    with transaction.atomic():
        settings.save()
        _forget_on_commit()
    return settings
