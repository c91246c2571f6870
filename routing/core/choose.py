"""Who may take a case, who should, and which cases go to whom in a batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from routing.core.explain import Why
from routing.core.rules import exclusion_reason, score
from routing.core.state import AgentState, CaseDemand, Decision, Exclusion, Selection


def choose_agent(case: CaseDemand, agents: Iterable[AgentState]) -> Decision | None:
    """The best eligible agent for ``case``, or None when nobody may take it.
    The preferred agent (continuity) wins whenever eligible."""
    best: tuple[float, ...] | None = None
    best_agent: AgentState | None = None
    for agent in agents:
        if exclusion_reason(case, agent) is not None:
            continue
        if agent.agent_id == case.preferred_agent_id:
            return Decision(case_id=case.case_id, agent_id=agent.agent_id, score=(), continuity=True)
        value = score(case, agent)
        if best is None or value < best:
            best, best_agent = value, agent
    if best_agent is None or best is None:
        return None
    return Decision(case_id=case.case_id, agent_id=best_agent.agent_id, score=best)


def rank_cases(cases: Iterable[CaseDemand]) -> list[CaseDemand]:
    """Most urgent first (see ``routing.core.rank``)."""
    return sorted(cases, key=lambda c: (c.rank, c.case_id))


class AgentPool:
    """Agents for a run of decisions, indexed so that one decision is a few
    set operations and a look at the best few candidates, and kept current as
    work is handed out (``take``) or fresher states arrive (``update``).
    Decides exactly as ``choose_agent`` over ``states`` would.

    Indexes: agents by enabled channel kind, by skill level, by queue and by
    team; per channel kind the agents with a free unit there and in total
    (``room``); the free units, open cases and idle times that the selection
    rules order by."""

    def __init__(self, agents: Iterable[AgentState] = ()) -> None:
        self.states: dict[int, AgentState] = {}
        self._by_kind: dict[str, set[int]] = {}
        self._by_skill: dict[str, dict[int, int]] = {}
        self._by_queue: dict[int, set[int]] = {}
        self._by_team: dict[int, set[int]] = {}
        self._room: dict[str, set[int]] = {}
        self._free: dict[str, dict[int, int]] = {}  # kind -> agent -> free units on it
        self._open: dict[int, int] = {}
        self._idle: dict[int, float] = {}
        self._at_least: dict[tuple[str, int], frozenset[int]] = {}
        self._members: dict[tuple[frozenset[int], frozenset[int]], frozenset[int]] = {}
        self.update(agents)

    # --- keeping the indexes -------------------------------------------------

    def update(self, agents: Iterable[AgentState]) -> None:
        """Put these states in place of what the pool held for the same agents."""
        for agent in agents:
            old = self.states.get(agent.agent_id)
            if old is not None and (
                old.channel_kinds != agent.channel_kinds
                or old.skills != agent.skills
                or old.queue_ids != agent.queue_ids
                or old.team_ids != agent.team_ids
            ):
                self._forget(old)
                old = None
            if old is None:
                self._profile(agent)
            self.states[agent.agent_id] = agent
            self._work(agent)

    def remove(self, agent_ids: Iterable[int]) -> None:
        """Forget these agents (no longer routable)."""
        for agent_id in agent_ids:
            old = self.states.pop(agent_id, None)
            if old is not None:
                self._forget(old)
                self._open.pop(agent_id, None)
                self._idle.pop(agent_id, None)

    def _profile(self, agent: AgentState) -> None:
        a = agent.agent_id
        for kind in agent.channel_kinds:
            self._by_kind.setdefault(kind, set()).add(a)
        for skill, level in agent.skills.items():
            self._by_skill.setdefault(skill, {})[a] = level
        for queue_id in agent.queue_ids:
            self._by_queue.setdefault(queue_id, set()).add(a)
        for team_id in agent.team_ids:
            self._by_team.setdefault(team_id, set()).add(a)
        self._at_least.clear()
        self._members.clear()

    def _forget(self, agent: AgentState) -> None:
        a = agent.agent_id
        for kind in agent.channel_kinds:
            self._by_kind[kind].discard(a)
            self._room.get(kind, set()).discard(a)
            self._free.get(kind, {}).pop(a, None)
        for skill in agent.skills:
            self._by_skill[skill].pop(a, None)
        for queue_id in agent.queue_ids:
            self._by_queue[queue_id].discard(a)
        for team_id in agent.team_ids:
            self._by_team[team_id].discard(a)
        self._at_least.clear()
        self._members.clear()

    def _work(self, agent: AgentState) -> None:
        a = agent.agent_id
        total = agent.free_total
        for kind in agent.channel_kinds:
            free = agent.free_units(kind)
            self._free.setdefault(kind, {})[a] = free
            room = self._room.setdefault(kind, set())
            if free >= 1 and total >= 1:
                room.add(a)
            else:
                room.discard(a)
        self._open[a] = agent.open_cases
        self._idle[a] = agent.idle_since

    def take(self, decision: Decision, case: CaseDemand) -> None:
        agent = self.states[decision.agent_id]
        self.states[decision.agent_id] = changed = agent.with_work(case.channel_kind, case.units)
        self._work(changed)

    # --- deciding ------------------------------------------------------------

    def _skilled(self, skill: str, minimum: int) -> frozenset[int]:
        key = (skill, minimum)
        found = self._at_least.get(key)
        if found is None:
            levels = self._by_skill.get(skill, {})
            found = frozenset(a for a, level in levels.items() if level >= minimum)
            self._at_least[key] = found
        return found

    def serving(self, case: CaseDemand) -> frozenset[int] | dict[int, AgentState]:
        """The agents who serve the case's queues and teams (all, when the
        case is open to all)."""
        return self.states if case.open_to_all else self._serving(case.queue_ids, case.team_ids)

    def _serving(self, queue_ids: frozenset[int], team_ids: frozenset[int]) -> frozenset[int]:
        key = (queue_ids, team_ids)
        found = self._members.get(key)
        if found is None:
            members: set[int] = set()
            for queue_id in queue_ids:
                members |= self._by_queue.get(queue_id, set())
            for team_id in team_ids:
                members |= self._by_team.get(team_id, set())
            found = self._members[key] = frozenset(members)
        return found

    def candidates(self, case: CaseDemand, why: Why | None = None) -> set[int]:
        """Exactly the agents ``exclusion_reason`` finds no reason against.
        With ``why``, also note how many agents each test removed."""
        kind = case.channel_kind
        enabled = self._by_kind.get(kind, ())
        if case.may_interrupt:
            ids = set(enabled)
        elif case.units == 1:
            ids = set(self._room.get(kind, ()))
        else:
            states = self.states
            ids = {
                a for a in enabled if states[a].free_units(kind) >= case.units and states[a].free_total >= case.units
            }
        if why is not None:
            why.considered = len(self.states)
            why.step(Exclusion.STATUS, len(self.states), len(enabled))
            why.step(Exclusion.CAPACITY, len(enabled), len(ids))
        for skill, minimum in case.required_skills.items():
            if not ids:
                break
            before = len(ids)
            ids &= self._skilled(skill, minimum)
            if why is not None:
                why.step(f"{Exclusion.SKILL}:{skill}>={minimum}", before, len(ids))
        if ids and not case.open_to_all:
            before = len(ids)
            ids &= self._serving(case.queue_ids, case.team_ids)
            if why is not None:
                why.step(Exclusion.MEMBERSHIP, before, len(ids))
        if case.excluded_agents and ids:
            before = len(ids)
            ids -= case.excluded_agents
            if why is not None:
                why.step(Exclusion.DECLINED, before, len(ids))
        if case.fair_cap is not None and ids:
            before = len(ids)
            states = self.states
            ids = {a for a in ids if states[a].recent_assignments < case.fair_cap}
            if why is not None:
                why.step(Exclusion.FAIR_CAP, before, len(ids))
        if why is not None:
            why.name_excluded(self, case, ids)
        return ids

    def choose(self, case: CaseDemand, why: Why | None = None) -> Decision | None:
        """The best eligible agent for ``case`` (as ``choose_agent``). With
        ``why``, also note the reasoning (see ``routing.core.explain``)."""
        ids = self.candidates(case, why)
        if not ids:
            return None
        if case.preferred_agent_id in ids:
            if why is not None:
                why.decided_by = "continuity"
                why.rank(self, case, ids, (), case.preferred_agent_id)
            return Decision(case_id=case.case_id, agent_id=case.preferred_agent_id, score=(), continuity=True)
        # The selection rule's value first (one look per candidate), then the
        # full score only among those tied on it.
        values: Mapping[int, float]
        best: float
        if case.selection is Selection.LEAST_ACTIVE:
            values = self._open
            best = min(map(values.__getitem__, ids))
        elif case.selection is Selection.LONGEST_IDLE:
            values = self._idle
            best = min(map(values.__getitem__, ids))
        else:
            values = self._free[case.channel_kind]
            best = max(map(values.__getitem__, ids))
        tied = [a for a in ids if values[a] == best]
        stages = [("rule", tied)]  # who was still tied after each comparison (for ``why``)
        decided_by = "selection"
        if len(tied) > 1 and case.required_skills:
            # Then the highest proficiency summed over the required skills
            # (every candidate has them all).
            decided_by = "proficiency"
            levels = [self._by_skill[skill] for skill in case.required_skills]
            if len(levels) == 1:
                sums = list(map(levels[0].__getitem__, tied))
            else:
                sums = [sum(level[a] for level in levels) for a in tied]
            top = max(sums)
            tied = [a for a, total in zip(tied, sums, strict=True) if total == top]
            stages.append(("proficiency", tied))
        if len(tied) > 1:
            # Then idle longest, then the lowest id.
            decided_by = "idle"
            idle = self._idle
            first = min(map(idle.__getitem__, tied))
            tied = [a for a in tied if idle[a] == first]
            stages.append(("idle", tied))
            if len(tied) > 1:
                decided_by = "id"
        agent = self.states[min(tied)]
        decision = Decision(case_id=case.case_id, agent_id=agent.agent_id, score=score(case, agent))
        if why is not None:
            why.decided_by = decided_by
            why.ties = {name: len(stage) for name, stage in stages}
            closest = next((stage for _, stage in reversed(stages) if len(stage) > 1), ())
            why.rank(self, case, ids, closest, agent.agent_id)
        return decision

    def has_room(self) -> bool:
        """Anyone with a free unit on an enabled channel kind."""
        return any(self._room.values())


def plan(
    cases: Sequence[CaseDemand], agents: Iterable[AgentState] | AgentPool, *, notes: dict[int, Why] | None = None
) -> list[Decision]:
    """Decide a batch: cases in rank order, each to the best eligible agent
    given the work already handed out in this batch. With ``notes``, each
    case's reasoning is noted there by case id (also for cases nobody may
    take)."""
    pool = agents if isinstance(agents, AgentPool) else AgentPool(agents)
    decisions = []
    for case in rank_cases(cases):
        why = None if notes is None else Why()
        decision = pool.choose(case, why)
        if why is not None and notes is not None:  # notes are kept when why is made
            notes[case.case_id] = why
        if decision is not None:
            pool.take(decision, case)
            decisions.append(decision)
    return decisions
