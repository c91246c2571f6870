"""The periodic scan: fire SLA warnings and breaches that are due.

Exactly once per clock and threshold, with any number of scanners at once
and after a worker died mid-way: a batch locks the cases of due clocks with
``SKIP LOCKED`` (case first, as everywhere), re-reads their clocks under the
lock, and marks each firing (``warned_at``, ``breached_at``) in the same
transaction as its timeline entries and escalation actions. A scanner that
dies rolls back: nothing is marked, and the next scan fires it. The candidate
queries use partial indexes on ``due_at`` and ``warn_at`` of running clocks,
so a scan costs what is due, not what is open.

Before firing, each case is checked against its clocks (``sync_locked``)
when the case says a clock is stale — answered, waiting, finished — so a
missed event never fires a wrong breach.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Max, Q

from cases.models import OPEN_STATUSES, Case, CaseEvent, CaseStatus, Message
from sla.escalation import Escalations, run_action
from sla.models import Clock, PolicyRevision, Target
from sla.services import sync_locked


@dataclass(slots=True)
class ScanResult:
    warnings: int = 0
    breaches: int = 0
    batches: int = 0
    skipped: frozenset[int] = frozenset()  # cases with due clocks another scanner holds

    @property
    def fired(self) -> int:
        return self.warnings + self.breaches


# What the scan reads of a case and a clock: plain rows, no model instances
# (escalation actions and the re-check of a stale case load what they need).
CASE_FIELDS = ("id", "queue_id", "status", "first_response_at")
CLOCK_FIELDS = ("id", "case_id", "revision_id", "target", "started_at", "due_at", "warn_at", "warned_at")


def _due(now: datetime) -> Q:
    return Q(status=Clock.Status.RUNNING) & (Q(due_at__lte=now) | Q(warned_at__isnull=True, warn_at__lte=now))


def _candidate_cases(now: datetime, limit: int, skip: frozenset[int]) -> list[int]:
    # Two index range scans (the partial indexes), not one OR over the table.
    breach = Clock.objects.filter(status=Clock.Status.RUNNING, due_at__lte=now).order_by("due_at")
    warn = Clock.objects.filter(status=Clock.Status.RUNNING, warned_at__isnull=True, warn_at__lte=now).order_by(
        "warn_at"
    )
    if skip:
        breach, warn = breach.exclude(case_id__in=skip), warn.exclude(case_id__in=skip)
    ids = list(breach.values_list("case_id", flat=True)[:limit])
    ids += list(warn.values_list("case_id", flat=True)[:limit])
    return list(dict.fromkeys(ids))[:limit]


def _stale(case, clock, last_out: datetime | None) -> bool:
    if case.status not in OPEN_STATUSES:
        return True
    if clock.target == Target.FIRST_RESPONSE:
        return case.first_response_at is not None
    if clock.target == Target.NEXT_RESPONSE:
        return last_out is not None and last_out >= clock.started_at
    return case.status == CaseStatus.WAITING


CaseRow = namedtuple("CaseRow", CASE_FIELDS)
ClockRow = namedtuple("ClockRow", CLOCK_FIELDS)


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


# The hot path on PostgreSQL is a few plain statements with array parameters
# (``= ANY(%s)``): the ORM's ``IN (...)`` with a thousand ids, and a model
# instance per row, cost more than the database work here. Elsewhere (SQLite
# in development and tests) the same reads and writes go through the ORM.


def _lock_cases(ids: list[int]) -> list[CaseRow]:
    if _on_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(CASE_FIELDS)} FROM {Case._meta.db_table} "  # noqa: S608 (names from the models)
                "WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED",
                [list(ids)],
            )
            return [CaseRow(*row) for row in cursor.fetchall()]
    rows = Case.objects.select_for_update(skip_locked=True, of=("self",)).filter(pk__in=ids)
    return [CaseRow(*row) for row in rows.values_list(*CASE_FIELDS)]


def _due_clocks(now: datetime, case_ids) -> list[ClockRow]:
    if _on_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(CLOCK_FIELDS)} FROM {Clock._meta.db_table} "  # noqa: S608 (names from the models)
                "WHERE case_id = ANY(%s) AND status = %s "
                "AND (due_at <= %s OR (warned_at IS NULL AND warn_at <= %s)) ORDER BY id",
                [list(case_ids), Clock.Status.RUNNING, now, now],
            )
            return [ClockRow(*row) for row in cursor.fetchall()]
    rows = Clock.objects.filter(_due(now), case_id__in=list(case_ids)).order_by("pk")
    return [ClockRow(*row) for row in rows.values_list(*CLOCK_FIELDS)]


def _entries(now: datetime, warned: list[int], breached: list[int]) -> list[CaseEvent]:
    """The timeline entries of the firings (the ORM path; PostgreSQL writes them in SQL)."""
    entries = []
    for ids, kind in ((warned, CaseEvent.Kind.SLA_WARNING), (breached, CaseEvent.Kind.SLA_BREACHED)):
        for clock in Clock.objects.filter(pk__in=ids).order_by("pk"):
            data = {"target": clock.target, "clock_id": clock.pk, "due_at": clock.due_at.isoformat()}
            entries.append(CaseEvent(case_id=clock.case_id, kind=kind, created_at=now, data=data))
    return entries


def _mark(now: datetime, warned: list[int], breached: list[int]) -> None:
    """Mark the firings and write their timeline entries, set-wise (every
    firing of a batch has the same values)."""
    if _on_postgres():
        clock, event = Clock._meta.db_table, CaseEvent._meta.db_table
        fired = (
            (warned, "SET warned_at = %s", CaseEvent.Kind.SLA_WARNING),
            (breached, "SET status = 'breached', breached_at = %s, warn_at = NULL", CaseEvent.Kind.SLA_BREACHED),
        )
        with connection.cursor() as cursor:
            for ids, assignment, kind in fired:
                if ids:
                    cursor.execute(
                        f"WITH fired AS (UPDATE {clock} {assignment} WHERE id = ANY(%s) "  # noqa: S608 (constants)
                        "RETURNING id, case_id, target, due_at) "
                        f"INSERT INTO {event} (case_id, kind, data, created_at) "
                        "SELECT case_id, %s, "
                        "jsonb_build_object('target', target, 'clock_id', id, 'due_at', due_at), %s "
                        "FROM fired ORDER BY id",
                        [now, ids, kind, now],
                    )
        return
    entries = _entries(now, warned, breached)
    if warned:
        Clock.objects.filter(pk__in=warned).update(warned_at=now)
    if breached:
        Clock.objects.filter(pk__in=breached).update(status=Clock.Status.BREACHED, breached_at=now, warn_at=None)
    CaseEvent.objects.bulk_create(entries)


def scan_batch(*, now: datetime, limit: int = 1000, skip: frozenset[int] = frozenset()) -> ScanResult:
    """One transaction: lock up to ``limit`` cases with due clocks (skipping
    those another scanner holds, and those in ``skip``) and fire what is due
    on them."""
    with transaction.atomic():
        candidates = _candidate_cases(now, limit, skip)
        if not candidates:
            return ScanResult()
        cases = {row.id: row for row in _lock_cases(candidates)}
        result = ScanResult(batches=1, skipped=frozenset(candidates) - frozenset(cases))
        if not cases:
            return result
        # No lock on the clocks themselves: every write to a clock holds its
        # case's lock first (sla.services, and this scan), and we hold those.
        clocks = _due_clocks(now, cases)
        responders = [c.case_id for c in clocks if c.target == Target.NEXT_RESPONSE]
        last_out = dict(
            Message.objects.filter(case_id__in=responders, direction=Message.Direction.OUTBOUND)
            .values("case_id")
            .annotate(at=Max("created_at"))
            .values_list("case_id", "at")
        )
        stale = {c.case_id for c in clocks if _stale(cases[c.case_id], c, last_out.get(c.case_id))}
        if stale:  # bring them in line with their case, then re-read what is still due
            for case in Case.objects.select_related("customer").filter(pk__in=stale):
                sync_locked(case, now=now)
            clocks = [c for c in clocks if c.case_id not in stale] + _due_clocks(now, stale)
        # A batch has a few policy revisions: each read (and its JSON parsed) once.
        revisions = {r.pk: r.snapshot for r in PolicyRevision.objects.filter(pk__in={c.revision_id for c in clocks})}
        actions: list[tuple[int, object, str, dict]] = []
        warned: list[int] = []
        breached: list[int] = []
        out = Escalations()
        for clock in clocks:
            queue_id = cases[clock.case_id].queue_id
            snapshot = revisions[clock.revision_id]
            if clock.warned_at is None and clock.warn_at is not None and clock.warn_at <= now:
                warned.append(clock.id)
                out.feed_case(clock.case_id, queue_id, kind="sla_warning", detail=_detail(clock, "warning"))
                actions += [(clock.case_id, clock, "warning", a) for a in _actions(snapshot, "warning")]
            if clock.due_at <= now:
                breached.append(clock.id)
                out.feed_case(clock.case_id, queue_id, kind="sla_breach", detail=_detail(clock, "breach"))
                actions += [(clock.case_id, clock, "breach", a) for a in _actions(snapshot, "breach")]
        _mark(now, warned, breached)
        result.warnings, result.breaches = len(warned), len(breached)
        if actions:
            acting = {c.pk: c for c in Case.objects.filter(pk__in={case_id for case_id, *_ in actions})}
            for case_id, clock, threshold, action in actions:
                detail = _detail(clock, threshold)
                run_action(action, case=acting[case_id], threshold=threshold, detail=detail, now=now, out=out)
        out.send_on_commit()
    return result


def scan(*, now: datetime, limit: int = 1000, max_batches: int = 20) -> ScanResult:
    """Fire everything due, batch after batch (called by the periodic tick).
    Cases another scanner holds are passed over, so a slow or stuck scanner
    never stops the others from reaching what lies behind its batch."""
    total = ScanResult()
    for _ in range(max_batches):
        got = scan_batch(now=now, limit=limit, skip=total.skipped)
        total.warnings += got.warnings
        total.breaches += got.breaches
        total.batches += got.batches
        total.skipped |= got.skipped
        if got.batches == 0:
            break
    return total


def _actions(snapshot: dict, threshold: str) -> list[dict]:
    return [a for a in snapshot.get("actions", []) if a["threshold"] == threshold]


def _detail(clock, threshold: str) -> str:
    label = Target(clock.target).label
    if threshold == "warning":
        return f"{label} due {clock.due_at:%Y-%m-%d %H:%M} UTC"
    return f"{label} breached (was due {clock.due_at:%Y-%m-%d %H:%M} UTC)"
