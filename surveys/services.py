"""Every write to surveys: send one after a resolution, take its answer.

Lock order as everywhere: the case first, then the survey. Events and sends
leave on commit.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from django.conf import settings
from django.db import transaction

from cases.events import MessageAdded, OutboundQueued
from cases.models import Case, CaseEvent, CaseStatus, Message
from cases.selectors import is_reply_window_open
from cases.services import record
from config.api import DomainError, Invalid, NotFound
from config.events import publish_on_commit
from surveys.events import SurveyAnswered, SurveySent
from surveys.models import Survey

MAX_COMMENT = 2_000
# No survey after a call, nor as a public answer under a social post.
NO_SURVEY_KINDS = frozenset({"voice", "social"})


_TOKEN = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")


def looks_like_token(value) -> bool:
    """A survey token's shape (URL-safe base64): anything else is no survey."""
    return isinstance(value, str) and _TOKEN.match(value) is not None


class AlreadyAnswered(DomainError):
    code = "already_answered"


def survey_url(survey: Survey) -> str:
    return f"{settings.SWITCHBOARD['SITE_URL'].rstrip('/')}/survey/{survey.token}/"


def survey_text(survey: Survey) -> str:
    return (
        "Thank you for contacting us. How did we do? Rate us from 1 (poor) to 5 (excellent): "
        f"{survey_url(survey)} or reply with a number from 1 to 5."
    )


def is_live_chat(case: Case) -> bool:
    """A web chat the widget shows (not an offline-form case answered by email)."""
    return case.channel is not None and case.channel.provider == "webchat" and case.channel_kind != "email"


def send_survey(*, case_id: int, now: datetime, skip_locked: bool = False) -> Survey | None:
    """The survey for the case's latest resolution, on its own channel: an
    outbound message with the link, or on a live web chat the widget's form.
    None when surveys are off (everywhere, or in the case's queue), the case
    is not resolved, its channel takes none (calls, public social posts), the
    WhatsApp/Messenger window is closed, or it was sent. ``skip_locked``: a
    case another transaction holds is skipped (None), not waited for.

    ``SurveySent`` leaves on commit: connectors show a widget's form
    (``connectors/listeners.py``); a message's survey goes out like any
    outbound message (``OutboundQueued``)."""
    if not settings.SWITCHBOARD["SURVEYS_ENABLED"]:
        return None
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("channel", "queue")
            .filter(pk=case_id, status=CaseStatus.RESOLVED, resolved_at__isnull=False)
            .first()
        )
        if case is None or case.channel is None or case.channel_kind in NO_SURVEY_KINDS:
            return None
        if case.queue is not None and not case.queue.surveys_enabled:
            return None
        if Survey.objects.filter(case=case, resolved_at=case.resolved_at).exists():  # type: ignore[misc]  # resolved_at__isnull=False above
            return None
        if not is_reply_window_open(case, now=now):
            return None
        survey = Survey.objects.create(  # type: ignore[misc]  # resolved_at: resolved_at__isnull=False above
            case=case,
            customer_id=case.customer_id,
            agent_id=case.assignee_id,
            queue_id=case.queue_id,
            channel_kind=case.channel_kind,
            token=secrets.token_urlsafe(24),
            resolved_at=case.resolved_at,
            sent_at=now,
        )
        if is_live_chat(case):
            via = "widget"  # the web chat shows its form (on SurveySent)
        else:
            survey.message = Message.objects.create(
                case=case,
                direction=Message.Direction.OUTBOUND,
                channel=case.channel,
                channel_kind=case.channel_kind,
                text=survey_text(survey),
                delivery_status=Message.Delivery.QUEUED,
                created_at=now,
            )
            survey.save(update_fields=["message"])
            publish_on_commit(
                MessageAdded(
                    case_id=case.pk, message_id=survey.message.pk, direction="out", assignee_id=case.assignee_id
                )
            )
            publish_on_commit(OutboundQueued(case_id=case.pk, message_id=survey.message.pk))
            via = "message"
        record(case=case, kind=CaseEvent.Kind.SURVEY_SENT, now=now, agent=case.assignee, survey_id=survey.pk, via=via)
        publish_on_commit(SurveySent(survey_id=survey.pk, case_id=case.pk, via=via))
    return survey


def clean_answer(score, comment) -> tuple[int, str]:
    """A score 1–5 (an int, or its digit as text) and a comment, or Invalid."""
    if isinstance(score, str) and len(score.strip()) == 1 and score.strip() in "12345":
        score = int(score.strip())
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise Invalid("the score is a whole number from 1 to 5")
    comment = comment if comment is not None else ""
    if not isinstance(comment, str):
        raise Invalid("the comment is text")
    comment = comment.replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT:
        raise Invalid(f"the comment is limited to {MAX_COMMENT:,} characters")
    return score, comment


def answer_survey(*, token: str, score, comment="", via: str, now: datetime) -> Survey:
    """Take the one answer of a survey; a second one is refused and changes nothing."""
    score, comment = clean_answer(score, comment)
    if not looks_like_token(token):
        raise NotFound("no such survey")
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(of=("self",)).select_related("case", "agent").filter(token=token).first()
        )
        if survey is None:
            raise NotFound("no such survey")
        if survey.answered_at is not None:
            raise AlreadyAnswered("this survey was answered already: thank you")
        survey.score, survey.comment, survey.answered_via, survey.answered_at = score, comment, via, now
        survey.save(update_fields=["score", "comment", "answered_via", "answered_at"])
        record(
            case=survey.case,
            kind=CaseEvent.Kind.SURVEY_ANSWERED,
            now=now,
            agent=survey.agent,
            survey_id=survey.pk,
            score=score,
            via=via,
        )
        event = SurveyAnswered(
            survey_id=survey.pk, case_id=survey.case_id, agent_id=survey.agent_id, queue_id=survey.queue_id, score=score
        )
        publish_on_commit(event)
    return survey
