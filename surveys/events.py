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
    """A resolved case's survey went out: ``via`` is ``message`` (a link on
    the case's channel) or ``widget`` (a live web chat shows its form)."""

    survey_id: int
    case_id: int
    via: str
