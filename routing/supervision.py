"""Supervisors: assign (or reassign) a case to an agent, transfer it to
another queue.

Lock order, as everywhere in the router: case, then agent, then offer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from django.db import transaction

from agents.models import Agent, Skill
from cases.events import EscalationRaised
from cases.models import OPEN_STATUSES, Case, CaseEvent, CaseSkill, CaseStatus
from cases.services import record
from config.api import NotFound
from config.events import publish_on_commit
from routing import core
from routing.agent_states import agent_states
from routing.batch import release
from routing.classify import required_skills, set_case_skills
from routing.demands import case_demands
from routing.errors import NotAllowed
from routing.models import Queue
from routing.offers import assign, cancel_pending_offer
from routing.ranking import queue_case


def assign_case(*, case_id: int, agent_id: int, now: datetime, actor=None, force: bool = False) -> Case:
    """A supervisor gives an open case to an agent (also one held by another
    agent: a reassignment). The agent's status, skills and capacity are
    respected unless ``force``, which is recorded on the timeline."""
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        if case.status not in OPEN_STATUSES or case.status == CaseStatus.NEW:
            raise NotAllowed(f"case {case_id} is {case.status}")
        agent = Agent.objects.select_for_update().filter(pk=agent_id, is_active=True).first()
        if agent is None:
            raise NotFound(f"no agent {agent_id}")
        if case.assignee_id == agent.pk:
            raise NotAllowed(f"case {case_id} is already {agent.display_name}'s")
        # Cancel a pending offer first, so the unit it holds (perhaps on this
        # very agent) does not count against them; a refusal rolls it back.
        cancel_pending_offer(case, now)
        if not force:
            states = agent_states(now, [agent.pk])
            demand = case_demands([case], now)[0]
            # The supervisor chooses: a past decline and continuity don't bind them.
            demand = replace(demand, excluded_agents=frozenset(), open_to_all=True)
            reason = core.exclusion_reason(demand, states[0]) if states else core.Exclusion.STATUS
            if reason is not None:
                raise NotAllowed(f"{agent.display_name} may not take case {case_id} now ({reason}); force to override")
        previous = case.assignee_id
        assign(case=case, agent=agent, now=now, via="supervisor", actor=actor, forced=force, previous_agent_id=previous)
        if previous is not None:
            record(case=case, kind=CaseEvent.Kind.REASSIGNED, now=now, agent=agent, actor=actor, from_agent_id=previous)
        if force:
            publish_on_commit(
                EscalationRaised(
                    kind="forced_assignment",
                    case_id=case.pk,
                    queue_id=case.queue_id,
                    detail=f"Forced to {agent.display_name}"
                    + (f" by {actor.get_username()}" if actor is not None else ""),
                )
            )
        release(case, previous)
    return case


def transfer_to_queue(*, case_id: int, queue_id: int, now: datetime, actor=None) -> Case:
    """Move an open case to another queue: it waits there with that queue's
    skills and is routed again; the agent who held it is freed."""
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("customer").filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        if case.status not in OPEN_STATUSES or case.status == CaseStatus.NEW:
            raise NotAllowed(f"case {case_id} is {case.status}")
        queue = Queue.objects.filter(pk=queue_id, is_active=True).first()
        if queue is None:
            raise NotFound(f"no active queue {queue_id}")
        previous_agent, previous_queue = case.assignee_id, case.queue
        cancel_pending_offer(case, now)
        case.queue = queue
        case.units = queue.case_units
        case.overflow_level = 0
        case.overflow = {}
        case.save(update_fields=["queue", "units", "overflow_level", "overflow", "updated_at"])
        keep = {
            cs.skill_id: (cs.min_proficiency, cs.optional)
            for cs in CaseSkill.objects.filter(case=case, skill__kind=Skill.Kind.LANGUAGE)
        }
        set_case_skills(case, {**keep, **required_skills(queue, None)})
        record(
            case=case,
            kind=CaseEvent.Kind.TRANSFERRED,
            now=now,
            actor=actor,
            from_queue=previous_queue.name if previous_queue else None,
            to_queue=queue.name,
        )
        queue_case(case=case, now=now)
        release(case, previous_agent)
    return case
