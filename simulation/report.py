"""What a simulation measured, and the side-by-side text report.

- SLA attainment: cases whose first response came within their policy's
  first-response target, over the cases that had a target (abandoned and
  never-answered cases count as missed). The first response is the
  assignment on chat and voice, the assignment plus the scenario's reply
  delay elsewhere. Targets count around the clock (no business hours).
- Waits: arrival to assignment, over answered cases (average and p90).
- Abandonment: cases whose customer left before an agent took them.
- Occupancy: capacity units held (offers, work, wrap-up) over capacity units
  on shift.
- Backlog: cases waiting per queue, the average of the 15-minute samples of
  each hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulation.engine import SAMPLE_SECONDS, CaseRun, Outcome
from simulation.traffic import HOUR


@dataclass(slots=True)
class Figures:
    cases: int = 0
    answered: int = 0
    abandoned: int = 0
    with_target: int = 0
    met: int = 0
    waits: list[float] = field(default_factory=list)

    def add(self, run: CaseRun) -> None:
        self.cases += 1
        if run.assigned_at is not None:
            self.answered += 1
            self.waits.append(run.assigned_at - run.arrival.at)
        elif run.state == "abandoned":
            self.abandoned += 1
        if run.target is not None:
            self.with_target += 1
            first = run.first_response_at
            if first is not None and first - run.arrival.at <= run.target:
                self.met += 1

    @property
    def sla(self) -> float | None:
        return self.met / self.with_target if self.with_target else None

    @property
    def abandonment(self) -> float | None:
        return self.abandoned / self.cases if self.cases else None

    @property
    def unanswered(self) -> int:
        return self.cases - self.answered - self.abandoned

    @property
    def avg_wait(self) -> float | None:
        return sum(self.waits) / len(self.waits) if self.waits else None

    @property
    def p90_wait(self) -> float | None:
        if not self.waits:
            return None
        ordered = sorted(self.waits)
        return ordered[max(1, math.ceil(0.9 * len(ordered))) - 1]


@dataclass(slots=True)
class Summary:
    label: str
    total: Figures
    queues: dict[str, Figures]
    hours: list[Figures]  # by hour of arrival
    queue_hours: dict[str, list[Figures]]  # per queue, by hour of arrival
    backlog: dict[str, list[float]]  # queue -> average waiting in each hour
    occupancy: float | None
    agent_hours: float
    events: int
    not_simulated: list[str]


def summarize(outcome: Outcome, label: str) -> Summary:
    total = Figures()
    queues: dict[str, Figures] = {}
    last_hour = max((int(run.arrival.at // HOUR) for run in outcome.cases), default=23)
    span = max(24, last_hour + 1)
    hours = [Figures() for _ in range(span)]
    queue_hours: dict[str, list[Figures]] = {}
    for run in outcome.cases:
        name = run.queue.name if run.queue else "(no queue)"
        hour = int(run.arrival.at // HOUR)
        total.add(run)
        queues.setdefault(name, Figures()).add(run)
        hours[hour].add(run)
        if name not in queue_hours:
            queue_hours[name] = [Figures() for _ in range(span)]
        queue_hours[name][hour].add(run)
    per_hour = int(HOUR // SAMPLE_SECONDS)
    backlog = {}
    for name, samples in outcome.backlog.items():
        if name is None and not any(samples):
            continue
        backlog[name or "(no queue)"] = [
            sum(samples[h * per_hour : (h + 1) * per_hour]) / per_hour for h in range(len(samples) // per_hour)
        ]
    return Summary(
        label=label,
        total=total,
        queues=dict(sorted(queues.items())),
        hours=hours,
        queue_hours=queue_hours,
        backlog=backlog,
        occupancy=outcome.unit_seconds / outcome.capacity_seconds if outcome.capacity_seconds else None,
        agent_hours=outcome.agent_seconds / HOUR,
        events=outcome.events,
        not_simulated=outcome.not_simulated,
    )


# --- text --------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} s" if value < 600 else f"{value / 60:.1f} min"


def rows(summary: Summary) -> list[tuple[str, str]]:
    t = summary.total
    return [
        ("cases", f"{t.cases:,}"),
        ("SLA attainment (first response)", percent(t.sla)),
        ("average wait", seconds(t.avg_wait)),
        ("p90 wait", seconds(t.p90_wait)),
        ("abandoned", f"{t.abandoned:,} ({percent(t.abandonment)})"),
        ("never answered", f"{t.unanswered:,}"),
        ("agent occupancy", percent(summary.occupancy)),
        ("agent hours on shift", f"{summary.agent_hours:,.1f}"),
    ]


def queue_rows(summary: Summary) -> list[tuple[str, str]]:
    return [
        (
            name,
            f"{f.cases:,} cases · SLA {percent(f.sla)} · avg {seconds(f.avg_wait)} · p90 {seconds(f.p90_wait)}"
            f" · abandoned {percent(f.abandonment)}",
        )
        for name, f in summary.queues.items()
    ]


def text(summaries: list[Summary]) -> str:
    """The summaries side by side, then per queue, then the backlog by hour."""
    width = max(24, *(len(s.label) for s in summaries))
    out = []
    header = "".ljust(34) + "".join(s.label.rjust(width + 2) for s in summaries)
    out += [header, "-" * len(header)]
    table = [rows(s) for s in summaries]
    for i, (name, _) in enumerate(table[0]):
        out.append(name.ljust(34) + "".join(t[i][1].rjust(width + 2) for t in table))
    for s in summaries:
        out += ["", f"{s.label} — by queue:"]
        out += [f"  {name}: {line}" for name, line in queue_rows(s)]
    out += ["", "waiting cases by hour (average; " + " | ".join(s.label for s in summaries) + "):"]
    hours = max(len(v) for s in summaries for v in s.backlog.values()) if summaries[0].backlog else 0
    names = sorted({name for s in summaries for name in s.backlog})
    out.append("  hour " + "".join(name[:18].rjust(20) for name in names))
    for h in range(hours):
        cells = []
        for name in names:
            values = [s.backlog.get(name, [])[h] if h < len(s.backlog.get(name, [])) else 0.0 for s in summaries]
            cells.append(" | ".join(f"{v:.1f}" for v in values).rjust(20))
        if any(c.strip("0.| ") for c in cells):
            out.append(f"  {h:02d}   " + "".join(cells))
    missing = sorted({item for s in summaries for item in s.not_simulated})
    if missing:
        out += ["", "not simulated (present in the configuration): " + ", ".join(missing)]
    return "\n".join(out)
