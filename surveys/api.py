"""Surveys over REST (read only): admins see all, supervisors their teams',
agents their own cases'."""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.pagination import CursorPagination

from config.api import Invalid
from surveys.models import Survey
from surveys.selectors import visible_surveys

_ID = re.compile(r"\A[0-9]{1,18}\Z")


class SurveySerializer(serializers.ModelSerializer):
    agent_name = serializers.CharField(source="agent.display_name", default=None, read_only=True)
    queue_name = serializers.CharField(source="queue.name", default=None, read_only=True)

    class Meta:
        model = Survey
        fields = [
            "id",
            "case",
            "customer",
            "agent",
            "agent_name",
            "queue",
            "queue_name",
            "channel_kind",
            "sent_at",
            "answered_at",
            "score",
            "comment",
            "answered_via",
        ]


class NewestFirst(CursorPagination):
    ordering = "-sent_at"
    page_size = 50


def _id_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if not _ID.match(value):
        raise Invalid(f"'{name}' must be an id (digits)")
    return int(value)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("case", int),
            OpenApiParameter("agent", int),
            OpenApiParameter("queue", int),
            OpenApiParameter("answered", bool, description="true: answered only; false: unanswered only."),
        ]
    )
)
class SurveyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SurveySerializer
    pagination_class = NewestFirst
    queryset = Survey.objects.none()  # for the schema; get_queryset() says who sees what

    def get_queryset(self):
        qs = visible_surveys(self.request.user)
        if self.action != "list":
            return qs
        for name in ("case", "agent", "queue"):
            value = _id_param(self.request, name)
            if value is not None:
                qs = qs.filter(**{f"{name}_id": value})
        answered = self.request.query_params.get("answered")
        if answered not in (None, ""):
            if answered not in ("true", "false"):
                raise Invalid("'answered' must be true or false")
            qs = qs.filter(answered_at__isnull=answered == "false")
        return qs
