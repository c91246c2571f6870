"""Classification: the first matching routing rule gives a case its queue,
priority, required skills, capacity units and whether it may interrupt."""

from __future__ import annotations

from datetime import datetime

from agents.models import Skill
from cases.models import Case, CaseEvent, CaseSkill
from cases.services import record
from routing.models import Queue, RoutingRule


def _rule_matches(rule: RoutingRule, *, case: Case, text: str) -> bool:
    if rule.match_channel_kinds and case.channel_kind not in rule.match_channel_kinds:
        return False
    if rule.match_channel_id and rule.match_channel_id != case.channel_id:
        return False
    if rule.match_language and rule.match_language.lower() != (case.language or "").lower():
        return False
    if rule.match_customer_tier and rule.match_customer_tier != case.customer.tier:
        return False
    keywords = rule.keywords()
    if keywords:
        lowered = text.lower()
        if not any(k in lowered for k in keywords):
            return False
    return True


def required_skills(queue: Queue | None, rule: RoutingRule | None) -> dict[int, tuple[int, bool]]:
    """skill id -> (minimum proficiency, optional); a skill required by both
    the queue and the rule takes the higher minimum and is optional only if
    both say so."""
    required: dict[int, tuple[int, bool]] = {}

    def add(skill_id: int, minimum: int, optional: bool) -> None:
        if skill_id in required:
            old_min, old_optional = required[skill_id]
            required[skill_id] = (max(old_min, minimum), old_optional and optional)
        else:
            required[skill_id] = (minimum, optional)

    if queue is not None:
        for qs in queue.required_skills.all():
            add(qs.skill_id, qs.min_proficiency, qs.optional)
    if rule is not None:
        for rs in rule.skills.all():
            add(rs.skill_id, rs.min_proficiency, rs.optional)
    return required


def classify_case(*, case: Case, text: str, now: datetime) -> RoutingRule | None:
    """Apply the first matching routing rule: queue, priority, required skills
    (the queue's, the rule's, and the language skill of the case's language),
    the capacity units the case takes and whether it may interrupt."""
    rule = next(
        (
            r
            for r in RoutingRule.objects.filter(is_active=True).select_related("queue")
            if _rule_matches(r, case=case, text=text)
        ),
        None,
    )
    queue = rule.queue if rule else (case.channel.default_queue if case.channel_id else None)  # type: ignore[union-attr]  # channel_id checked
    case.queue = queue
    if rule and rule.set_priority:
        case.priority = rule.set_priority
    case.units = queue.case_units if queue is not None else 1
    case.may_interrupt = bool(rule and rule.may_interrupt)
    case.save(update_fields=["queue", "priority", "units", "may_interrupt", "updated_at"])

    required = required_skills(queue, rule)
    if case.language and (rule is None or rule.add_language_skill):
        language = Skill.objects.filter(kind=Skill.Kind.LANGUAGE, language_code__iexact=case.language).first()
        if language is None and "-" in case.language:
            base = case.language.split("-")[0]
            language = Skill.objects.filter(kind=Skill.Kind.LANGUAGE, language_code__iexact=base).first()
        if language is not None:
            required.setdefault(language.pk, (1, False))
    set_case_skills(case, required)
    record(
        case=case,
        kind=CaseEvent.Kind.CLASSIFIED,
        now=now,
        rule=rule.name if rule else None,
        queue=queue.name if queue else None,
        priority=case.priority,
        skills=sorted(Skill.objects.filter(pk__in=required).values_list("name", flat=True)),
    )
    return rule


def set_case_skills(case: Case, required: dict[int, tuple[int, bool]]) -> None:
    CaseSkill.objects.filter(case=case).delete()
    CaseSkill.objects.bulk_create(
        [
            CaseSkill(case=case, skill_id=skill_id, min_proficiency=minimum, optional=optional)
            for skill_id, (minimum, optional) in required.items()
        ]
    )
