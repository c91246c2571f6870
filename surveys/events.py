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
