"""Events the surveys app publishes on commit."""

from dataclasses import dataclass

from config.events import Event


@dataclass(frozen=True, slots=True)
class SurveyAnswered(Event):
    survey_id: int
    case_id: int
    agent_id: int | None
    queue_id: int | None
    score: int


@dataclass(frozen=True, slots=True)
class SurveySent(Event):
    """A resolved case's survey went out: ``via`` is "widget" (a live web
    chat's form, pushed by connectors) or "message" (an outbound message)."""

    survey_id: int
    case_id: int
    via: str
