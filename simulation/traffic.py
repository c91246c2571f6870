"""A day of arrivals: generated from hourly rates (Poisson) and a mix of case
types, or recorded (``simulation.replay``). Each arrival carries its own
random draws (handle time, patience, reply delay), so configurations A and B
see exactly the same customers behaving the same way."""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulation.scenario import Scenario

HOUR = 3600.0


@dataclass(slots=True)
class Arrival:
    case_id: int
    at: float  # seconds from the start of the day
    kind: str
    queue: str | None  # None: classified by the configuration's routing rules
    language: str = ""
    priority: int = 3
    vip: bool = False
    skills: dict[str, tuple[int, bool]] | None = None  # recorded: as classified then; None: by the configuration
    handle: float = 0.0  # seconds an agent works the case once assigned
    patience: float | None = None  # seconds the customer waits before leaving; None: never leaves
    reply_delay: float = 0.0  # assignment to first reply, on asynchronous channels


def draw(arrival: Arrival, scenario: Scenario, rng: random.Random, *, handle: float | None = None) -> Arrival:
    """Fill in the arrival's random durations from the scenario."""
    arrival.handle = handle if handle is not None else scenario.handle(arrival.kind).sample(rng)
    patience = scenario.patience.get(arrival.kind)
    arrival.patience = patience.sample(rng) if patience is not None else None
    delay = scenario.reply_delay.get(arrival.kind)
    arrival.reply_delay = delay.sample(rng) if delay is not None else 0.0
    return arrival


def generate(scenario: Scenario) -> list[Arrival]:
    """Poisson arrivals at each stream's hourly rate for ``scenario.hours``
    (the rates of hour ``h % 24``), in time order, with ids from 1."""
    rng = random.Random(scenario.seed)
    timed: list[tuple[float, int, object]] = []
    for index, stream in enumerate(scenario.streams):
        weights = [t.weight for t in stream.mix]
        hour = 0
        while hour < scenario.hours:
            rate = stream.per_hour[hour % 24] / HOUR
            end = min(hour + 1, scenario.hours) * HOUR
            t = hour * HOUR
            while rate > 0:
                t += rng.expovariate(rate)
                if t >= end:
                    break
                case_type = rng.choices(stream.mix, weights)[0]
                timed.append((t, index, case_type))
            hour += 1
    timed.sort(key=lambda item: (item[0], item[1]))
    arrivals = []
    for n, (t, index, case_type) in enumerate(timed, start=1):
        arrival = Arrival(
            case_id=n,
            at=t,
            kind=scenario.streams[index].kind,
            queue=case_type.queue,
            language=case_type.language,
            priority=case_type.priority,
            vip=rng.random() < case_type.vip,
        )
        arrivals.append(draw(arrival, scenario, rng))
    return arrivals
