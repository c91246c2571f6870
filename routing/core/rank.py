"""Which waiting case comes first.

Each waiting case gets one number, its *rank*, and the router serves the
smallest first. The rank is a virtual deadline::

    rank = queued_at + level × aging_seconds          (capped at the SLA due time)
    level = 8 × (queue priority − 1) + 2 × (case priority − 1) + (0 if VIP else 1)

So among cases that arrived together, queue priority decides, then case
priority, then the customer's tier; between equals, whoever waited longest.
Waiting *ages* a case: every ``aging_seconds`` it waits counts as one level,
so a low-priority case is overtaken only by cases that arrived less than
``level × aging_seconds`` after it, and never starves. A case with a known
SLA due time ranks no later than that time (earliest deadline first).

Because the rank does not change while a case waits, it is stored on the
case and indexed: the router finds the most urgent cases with one ordered
index scan however many are waiting.
"""

from __future__ import annotations

QUEUE_PRIORITIES = 5
CASE_PRIORITIES = 4


def level(*, queue_priority: int, priority: int, vip: bool) -> int:
    """0 (most urgent) to 8 × 4 + 2 × 3 + 1 = 39."""
    qp = min(max(queue_priority, 1), QUEUE_PRIORITIES)
    p = min(max(priority, 1), CASE_PRIORITIES)
    return 8 * (qp - 1) + 2 * (p - 1) + (0 if vip else 1)


def rank(
    *,
    queued_at: float,
    queue_priority: int,
    priority: int,
    vip: bool,
    aging_seconds: float,
    sla_due_at: float | None = None,
) -> float:
    """The case's rank, in seconds since the epoch (smaller first)."""
    value = queued_at + level(queue_priority=queue_priority, priority=priority, vip=vip) * aging_seconds
    if sla_due_at is not None:
        value = min(value, sla_due_at)
    return value
