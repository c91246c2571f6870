"""The public survey page, ``/survey/<token>/``: no login, a CSRF-protected
form, answered once. An unknown token is a 404; a second answer gets the
"already answered" page (409 on a POST) and changes nothing."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from config.api import Invalid
from surveys.models import Survey
from surveys.services import MAX_COMMENT, AlreadyAnswered, answer_survey, looks_like_token

SCORES = [(1, "Poor"), (2, "Fair"), (3, "Good"), (4, "Very good"), (5, "Excellent")]


def _page(request, survey: Survey, *, status: int = 200, error: str = "", score=None, comment: str = ""):
    context = {
        "survey": survey,
        "scores": SCORES,
        "error": error,
        "chosen": str(score or ""),
        "comment": comment,
        "max_comment": MAX_COMMENT,
    }
    return render(request, "surveys/survey.html", context, status=status)


@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    # Not a token's shape (PostgreSQL refuses a NUL in a text, say): no survey's.
    survey = Survey.objects.select_related("case").filter(token=token).first() if looks_like_token(token) else None
    if survey is None:
        raise Http404("no such survey")
    if survey.answered_at is not None:
        return render(
            request, "surveys/answered.html", {"survey": survey}, status=409 if request.method == "POST" else 200
        )
    if request.method == "GET":
        return _page(request, survey, score=request.GET.get("score", "")[:1])
    score, comment = request.POST.get("score", ""), request.POST.get("comment", "")
    try:
        survey = answer_survey(token=token, score=score, comment=comment, via=Survey.Via.LINK, now=timezone.now())
    except Invalid as exc:
        return _page(request, survey, status=400, error=exc.message, score=score[:1], comment=comment[:MAX_COMMENT])
    except AlreadyAnswered:
        survey.refresh_from_db()
        return render(request, "surveys/answered.html", {"survey": survey}, status=409)
    return render(request, "surveys/thanks.html", {"survey": survey})
