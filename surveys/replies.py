"""A customer's reply that is just a number from 1 to 5 (perhaps followed by
a comment), on the thread of a case resolved at most SURVEY_REPLY_DAYS ago
whose survey is unanswered, is that survey's answer: it joins the resolved
case's conversation and does not re-open it. Anything else is an ordinary
message (and re-opens as before)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings

from cases.models import OPEN_STATUSES, Case, CaseStatus
from surveys.models import Survey

# "4", "5!", "4 - quick and kind", "3: slow"; not "10", "1.5", "2,5" or "3pm".
_SCORE_REPLY = re.compile(r"\A\s*([1-5])(?:\s*\Z|(?:\s*[.!:,;)\-–—]+\s*|\s+)(?P<comment>(?!\d).*))", re.S)


def parse_score_reply(text: str) -> tuple[int, str] | None:
    """(score, comment) when the text is a survey answer, else None."""
    match = _SCORE_REPLY.match(text or "")
    if match is None:
        return None
    return int(match.group(1)), (match.group("comment") or "").strip()


def answer_from_reply(*, channel, thread_key: str, text: str, now: datetime) -> Case | None:
    """The resolved case whose survey this reply answers (answered now), or
    None when it is not such an answer. Call inside the receiving transaction."""
    from surveys.services import AlreadyAnswered, answer_survey

    parsed = parse_score_reply(text)
    if parsed is None:
        return None
    if Case.objects.filter(channel=channel, thread_key=thread_key, status__in=OPEN_STATUSES).exists():
        return None  # the conversation goes on: a number is part of it
    since = now - timedelta(days=settings.SWITCHBOARD["SURVEY_REPLY_DAYS"])
    survey = (
        Survey.objects.select_related("case")
        .filter(
            case__channel=channel,
            case__thread_key=thread_key,
            case__status__in=[CaseStatus.RESOLVED, CaseStatus.CLOSED],
            answered_at__isnull=True,
            resolved_at__gte=since,
        )
        .order_by("-sent_at", "-pk")
        .first()
    )
    if survey is None or survey.case.resolved_at != survey.resolved_at:
        return None
    score, comment = parsed
    try:
        answer_survey(token=survey.token, score=score, comment=comment, via=Survey.Via.REPLY, now=now)
    except AlreadyAnswered:
        return None  # answered meanwhile (the link, the widget): an ordinary message
    return survey.case
