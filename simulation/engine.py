"""The discrete-event simulation: arrivals, offers, work, wrap-up,
abandonment, overflow steps and shifts on a heap of timed events, routed by
``routing.core`` exactly as the router routes.

- A case arriving (or waiting again after a decline, or widened by an
  overflow step) goes to ``AgentPool.choose``; with nobody eligible it
  waits in a ``WaitingLine``.
- An agent that gains room (work resolved after wrap-up, an offer
  declined, the start of a shift) takes the most urgent waiting cases it
  may take (``WaitingLine.first_for``), as ``route_agent`` does.
- The pool is kept current incrementally (``update``/``remove``), never
  rebuilt: one event costs a few set operations, whatever the number of
  agents.

So after every event no agent with room is eligible for a waiting case,
which is what the router guarantees too (it routes both ways at once).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field, replace

from routing.core import AgentPool, AgentState, CaseDemand, Selection
from routing.core import rank as core_rank
from routing.core.sim_api import WaitingLine, given, given_back, widen
from simulation.classify import classify
from simulation.model import SYNCHRONOUS, SimConfig, SimQueue
from simulation.scenario import Scenario, Shift
from simulation.traffic import HOUR, Arrival

ARRIVE, REPLY, DONE, RELEASE, ABANDON, OVERFLOW, SHIFT_ON, SHIFT_OFF, SAMPLE = range(9)
SAMPLE_SECONDS = 900.0  # waiting cases are counted per queue every 15 minutes


@dataclass(slots=True)
class CaseRun:
    arrival: Arrival
    queue: SimQueue | None
    demand: CaseDemand
    optional: frozenset[str]
    target: float | None  # first-response target, seconds
    state: str = "new"  # waiting, offered, held, done, abandoned
    agent: int | None = None
    offers: int = 0
    step: int = 0  # overflow steps taken
    impatient: bool = False  # patience ran out while an offer was pending
    assigned_at: float | None = None
    ended_at: float | None = None  # resolved (after wrap-up) or abandoned

    @property
    def first_response_at(self) -> float | None:
        if self.assigned_at is None:
            return None
        kind = self.arrival.kind
        return self.assigned_at + (0.0 if kind in SYNCHRONOUS else self.arrival.reply_delay)


@dataclass(slots=True)
class Outcome:
    cases: list[CaseRun]
    agent_seconds: float  # on-shift seconds, all agents
    unit_seconds: float  # held capacity units × seconds while on shift
    capacity_seconds: float  # capacity units × on-shift seconds
    backlog: dict[str | None, list[int]] = field(default_factory=dict)  # queue -> waiting at each sample
    events: int = 0
    not_simulated: list[str] = field(default_factory=list)


class Simulation:
    def __init__(
        self,
        config: SimConfig,
        arrivals: list[Arrival],
        scenario: Scenario,
        *,
        shifts: dict[str, list[Shift]] | None = None,
    ) -> None:
        self.config = config
        self.scenario = scenario
        self.pool = AgentPool()
        self.line = WaitingLine()
        self.heap: list[tuple] = []
        self.seq = 0
        self.states: dict[int, AgentState] = {}
        self.on_shift: set[int] = set()
        self.held: dict[int, int] = {}
        self.since: dict[int, float] = {}
        self.unit_seconds = self.capacity_seconds = self.agent_seconds = 0.0
        self.runs: dict[int, CaseRun] = {}
        self._classes: dict[tuple, tuple] = {}  # arrivals alike are classified alike
        self.backlog: dict[str | None, list[int]] = {None: []}
        for name in config.queues:
            self.backlog[name] = []
        self.horizon = max([a.at for a in arrivals], default=0.0)
        days = int(self.horizon // (24 * HOUR)) + 1
        for arrival in arrivals:
            self.runs[arrival.case_id] = self._case(arrival)
            self._at(arrival.at, ARRIVE, arrival.case_id)
        for agent in config.agents:
            self.states[agent.agent_id] = AgentState(
                agent_id=agent.agent_id,
                channel_kinds=agent.channel_kinds,
                capacity=agent.capacity,
                capacity_total=agent.capacity_total,
                skills=agent.skills,
                queue_ids=agent.queue_ids,
                team_ids=agent.team_ids,
            )
            self.held[agent.agent_id] = 0
            hours = (shifts or {}).get(agent.username) or scenario.shifts_of(agent.username)
            for day in range(days):  # the same shifts every simulated day
                for start, end in hours:
                    self._at((24 * day + start) * HOUR, SHIFT_ON, agent.agent_id)
                    self._at((24 * day + end) * HOUR, SHIFT_OFF, agent.agent_id)
        samples = int(max(self.horizon, 24 * HOUR) // SAMPLE_SECONDS)
        for n in range(samples):
            self._at(n * SAMPLE_SECONDS, SAMPLE, n)

    def _case(self, arrival: Arrival) -> CaseRun:
        key = (arrival.queue, arrival.kind, arrival.language, arrival.vip, arrival.priority)
        kept = self._classes.get(key) if arrival.skills is None else None
        if kept is None:
            kept = self._class_of(arrival)
            if arrival.skills is None:
                self._classes[key] = kept
        queue, required, optional, priority, may_interrupt, target = kept
        demand = CaseDemand(
            case_id=arrival.case_id,
            channel_kind=arrival.kind,
            required_skills=required,
            queue_ids=frozenset({queue.queue_id}) if queue else frozenset(),
            team_ids=frozenset({queue.team_id}) if queue and queue.team_id else frozenset(),
            open_to_all=queue is None or queue.open_to_all,
            units=queue.case_units if queue else 1,
            may_interrupt=may_interrupt,
            selection=queue.selection if queue else Selection.MOST_AVAILABLE,
            rank=core_rank(
                queued_at=arrival.at,
                queue_priority=queue.priority if queue else 3,
                priority=priority,
                vip=arrival.vip,
                aging_seconds=self.config.aging_seconds,
                sla_due_at=arrival.at + target if target is not None else None,
            ),
        )
        return CaseRun(arrival=arrival, queue=queue, demand=demand, optional=optional, target=target)

    def _class_of(self, arrival: Arrival) -> tuple:
        queue, skills, priority, may_interrupt = classify(arrival, self.config)
        target = self.config.first_response_target(
            priority=priority, vip=arrival.vip, kind=arrival.kind, queue=queue.name if queue else None
        )
        required = {name: minimum for name, (minimum, _) in skills.items()}
        optional = frozenset(name for name, (_, opt) in skills.items() if opt)
        return queue, required, optional, priority, may_interrupt, target

    def _at(self, t: float, kind: int, subject: int, extra: object = None) -> None:
        self.seq += 1
        # At the same instant: shifts change first, then events in the order
        # they were scheduled, then the backlog is sampled.
        order = 0 if kind in (SHIFT_ON, SHIFT_OFF) else 2 if kind == SAMPLE else 1
        heapq.heappush(self.heap, (t, order, self.seq, kind, subject, extra))

    # --- the run ----------------------------------------------------------------

    def run(self) -> Outcome:
        heap, events = self.heap, 0
        handlers = {
            ARRIVE: self._arrive,
            REPLY: self._reply,
            DONE: self._done,
            RELEASE: self._release,
            ABANDON: self._abandon,
            OVERFLOW: self._overflow,
            SHIFT_ON: self._shift_on,
            SHIFT_OFF: self._shift_off,
            SAMPLE: self._sample,
        }
        while heap:
            t, _, _, kind, subject, extra = heapq.heappop(heap)
            handlers[kind](t, subject, extra)
            events += 1
        for agent_id in list(self.on_shift):
            self._shift_off(t if events else 0.0, agent_id, None)
        return Outcome(
            cases=list(self.runs.values()),
            agent_seconds=self.agent_seconds,
            unit_seconds=self.unit_seconds,
            capacity_seconds=self.capacity_seconds,
            backlog=self.backlog,
            events=events,
            not_simulated=list(self.config.not_simulated),
        )

    # --- routing ----------------------------------------------------------------

    def _route(self, run: CaseRun, t: float) -> None:
        """Offer the case to the best eligible agent with room, or let it wait."""
        decision = self.pool.choose(run.demand)
        if decision is None:
            run.state = "waiting"
            self.line.add(run.demand)
        else:
            self._offer(run, decision.agent_id, t)

    def _pull(self, agent_id: int, t: float) -> None:
        """The agent gained room: it takes the most urgent cases it may take."""
        if agent_id not in self.on_shift:
            return
        while True:
            state = self.states[agent_id]
            if state.free_total < 1 or not any(state.free_units(k) >= 1 for k in state.channel_kinds):
                return
            demand = self.line.first_for(state)
            if demand is None:
                return
            self.line.discard(demand.case_id)
            self._offer(self.runs[demand.case_id], agent_id, t)

    def _change(self, agent_id: int, state: AgentState, units: int, t: float) -> None:
        if agent_id in self.on_shift:
            self.unit_seconds += self.held[agent_id] * (t - self.since[agent_id])
            self.since[agent_id] = t
            self.pool.update((state,))
        self.held[agent_id] += units
        self.states[agent_id] = state

    def _offer(self, run: CaseRun, agent_id: int, t: float) -> None:
        demand = run.demand
        self._change(agent_id, given(self.states[agent_id], demand.channel_kind, demand.units, t), demand.units, t)
        run.state, run.agent = "offered", agent_id
        run.offers += 1
        queue = run.queue
        if queue is None or queue.auto_accepts(demand.channel_kind):
            self._assign(run, t)
            return
        scenario = self.scenario
        if scenario.accept_probability >= 1 and scenario.accept_delay.kind == "constant":
            accept, delay = True, scenario.accept_delay.a
        else:
            rng = random.Random(hash((scenario.seed, demand.case_id, run.offers)))
            accept, delay = rng.random() < scenario.accept_probability, scenario.accept_delay.sample(rng)
        if delay >= queue.offer_timeout:
            accept, delay = False, queue.offer_timeout  # timed out
        self._at(t + delay, REPLY, demand.case_id, accept)

    def _assign(self, run: CaseRun, t: float) -> None:
        run.state, run.assigned_at = "held", t
        self._at(t + run.arrival.handle, DONE, run.demand.case_id)

    def _give_back(self, run: CaseRun, t: float) -> int:
        agent_id = run.agent
        demand = run.demand
        self._change(
            agent_id, given_back(self.states[agent_id], demand.channel_kind, demand.units, t), -demand.units, t
        )
        return agent_id

    # --- events -------------------------------------------------------------------

    def _arrive(self, t: float, case_id: int, extra: object) -> None:
        run = self.runs[case_id]
        if run.arrival.patience is not None:
            self._at(t + run.arrival.patience, ABANDON, case_id)
        if run.queue is not None and run.queue.steps:
            self._at(t + run.queue.steps[0].after_seconds, OVERFLOW, case_id)
        self._route(run, t)

    def _reply(self, t: float, case_id: int, accepted: object) -> None:
        run = self.runs[case_id]
        if accepted:
            self._assign(run, t)
            return
        agent_id = self._give_back(run, t)
        run.agent = None
        run.demand = replace(run.demand, excluded_agents=run.demand.excluded_agents | {agent_id})
        if run.impatient:
            run.state, run.ended_at = "abandoned", t
        else:
            self._take_due_steps(run, t)
            self._next_step(run)
            self._route(run, t)
        self._pull(agent_id, t)

    def _done(self, t: float, case_id: int, extra: object) -> None:
        run = self.runs[case_id]
        wrap = run.queue.wrap_up if run.queue else 0.0
        if wrap > 0:
            self._at(t + wrap, RELEASE, case_id)
        else:
            self._release(t, case_id, None)

    def _release(self, t: float, case_id: int, extra: object) -> None:
        run = self.runs[case_id]
        run.state, run.ended_at = "done", t
        self._pull(self._give_back(run, t), t)

    def _abandon(self, t: float, case_id: int, extra: object) -> None:
        run = self.runs[case_id]
        if run.state == "waiting":
            self.line.discard(case_id)
            run.state, run.ended_at = "abandoned", t
        elif run.state == "offered":
            run.impatient = True

    def _take_due_steps(self, run: CaseRun, t: float) -> bool:
        steps = run.queue.steps if run.queue else []
        waited = t - run.arrival.at
        moved = False
        while run.step < len(steps) and waited + 1e-6 >= steps[run.step].after_seconds:
            run.demand, run.optional = widen(run.demand, steps[run.step], run.optional)
            run.step += 1
            moved = True
        return moved

    def _overflow(self, t: float, case_id: int, extra: object) -> None:
        run = self.runs[case_id]
        if run.state != "waiting":
            return  # an offered case takes its due steps if it waits again
        if not self._take_due_steps(run, t):
            return  # not due (a second event for the same step)
        self.line.discard(case_id)
        self._next_step(run)
        self._route(run, t)

    def _next_step(self, run: CaseRun) -> None:
        steps = run.queue.steps if run.queue else ()
        if run.step < len(steps):
            self._at(run.arrival.at + steps[run.step].after_seconds, OVERFLOW, run.demand.case_id)

    def _shift_on(self, t: float, agent_id: int, extra: object) -> None:
        if agent_id in self.on_shift:
            return
        self.on_shift.add(agent_id)
        self.since[agent_id] = t
        self.pool.update((self.states[agent_id],))
        self.capacity_seconds -= self.states[agent_id].capacity_total * t
        self.agent_seconds -= t
        self._pull(agent_id, t)

    def _shift_off(self, t: float, agent_id: int, extra: object) -> None:
        if agent_id not in self.on_shift:
            return
        self.unit_seconds += self.held[agent_id] * (t - self.since[agent_id])
        self.on_shift.discard(agent_id)
        self.pool.remove((agent_id,))
        self.capacity_seconds += self.states[agent_id].capacity_total * t
        self.agent_seconds += t

    def _sample(self, t: float, n: int, extra: object) -> None:
        counts: dict[str | None, int] = dict.fromkeys(self.backlog, 0)
        runs = self.runs
        for demand in self.line:
            queue = runs[demand.case_id].queue
            counts[queue.name if queue else None] += 1
        for name, count in counts.items():
            self.backlog[name].append(count)


def simulate(
    config: SimConfig, arrivals: list[Arrival], scenario: Scenario, *, shifts: dict[str, list[Shift]] | None = None
) -> Outcome:
    return Simulation(config, arrivals, scenario, shifts=shifts).run()
