"""Cases over REST: list, detail with messages, reply, note, wait, resolve.

Other apps add their own actions under ``/cases/{id}/`` with viewsets built
on ``CaseLookup`` (the same cases, the same lookup): routing's wrap-up,
position, explanation, assign and transfer (``routing/api.py``), the web
chat's typing (``connectors/webchat/api.py``)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from agents.models import Agent
from cases import selectors, services
from cases.models import Case, CaseEvent, Message


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author_agent.display_name", default=None, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "channel_kind",
            "text",
            "html",
            "attachments",
            "author",
            "delivery_status",
            "sent_at",
            "created_at",
        ]


class CaseSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.display_name", read_only=True)
    queue = serializers.CharField(source="queue.name", default=None, read_only=True)
    window_closes_at = serializers.SerializerMethodField(
        help_text="WhatsApp, Messenger, Instagram: when the 24-hour reply window closes (after it only templates "
        "may be sent); null on channels without one."
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "status",
            "channel_kind",
            "subject",
            "customer",
            "customer_id",
            "queue",
            "priority",
            "assignee_id",
            "language",
            "created_at",
            "first_offered_at",
            "first_assigned_at",
            "first_response_at",
            "resolved_at",
            "window_closes_at",
        ]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_window_closes_at(self, case: Case):
        closes_at = selectors.reply_window_closes_at(case)
        return closes_at.isoformat() if closes_at else None


class CaseDetailSerializer(CaseSerializer):
    messages = MessageSerializer(many=True, read_only=True)
    social_reaction_seconds = serializers.SerializerMethodField(
        help_text="Public social posts: seconds from the post to the first answer (public or private); else null."
    )

    class Meta(CaseSerializer.Meta):
        fields = CaseSerializer.Meta.fields + ["messages", "social_reaction_seconds"]

    @extend_schema_field(OpenApiTypes.INT)
    def get_social_reaction_seconds(self, case: Case) -> int | None:
        first_reply = case.events.filter(kind=CaseEvent.Kind.REPLY_SENT).order_by("created_at", "pk").first()
        seconds = first_reply.data.get("reaction_seconds") if first_reply is not None else None
        return seconds if isinstance(seconds, int) else None


class ReplySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=100_000)


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20_000)


class WhatsAppTemplateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=512, help_text="The approved template's name, e.g. order_update.")
    language = serializers.CharField(max_length=16, help_text="Its language code, e.g. en_US.")
    parameters = serializers.ListField(
        child=serializers.CharField(max_length=1024),
        max_length=20,
        default=list,
        help_text="Body parameters, in order.",
    )


class NewestFirst(CursorPagination):
    ordering = "-created_at"
    page_size = 50


def requesting_agent(request) -> Agent:
    """The agent making the request, or 403: only agents work cases."""
    agent = Agent.objects.filter(user=request.user).first()
    if agent is None:
        raise PermissionDenied("only agents work cases")
    return agent


# The cases the user may see (``?status=`` narrows them), found by id: the
# base of every viewset under ``/cases/`` (a comment, not a docstring: the
# API schema would show it as every action's description).
class CaseLookup(viewsets.GenericViewSet):
    pagination_class = NewestFirst
    queryset = Case.objects.none()  # the API schema's model (ids are numbers); get_queryset says what one sees

    def get_queryset(self):
        qs = selectors.visible_cases(self.request.user)
        status = self.request.query_params.get("status")
        if status:
            qs = qs.filter(status=status)
        if self.action == "retrieve":
            qs = qs.prefetch_related("messages__author_agent")
        return qs

    def get_serializer_class(self):
        return CaseDetailSerializer if self.action == "retrieve" else CaseSerializer


class CaseViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, CaseLookup):
    @extend_schema(request=ReplySerializer, responses=MessageSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        case = self.get_object()
        body = ReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.send_reply(
            case_id=case.pk, agent=requesting_agent(request), text=body.validated_data["text"], now=timezone.now()
        )
        return Response(MessageSerializer(message).data, status=201)

    @extend_schema(request=WhatsAppTemplateSerializer, responses=MessageSerializer)
    @action(detail=True, methods=["post"])
    def template(self, request, pk=None):
        """Send an approved WhatsApp template, also outside the 24-hour window."""
        case = self.get_object()
        body = WhatsAppTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.send_template(
            case_id=case.pk, agent=requesting_agent(request), now=timezone.now(), **body.validated_data
        )
        return Response(MessageSerializer(message).data, status=201)

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        case = self.get_object()
        case = services.resolve_case(case_id=case.pk, agent=requesting_agent(request), now=timezone.now())
        return Response(CaseSerializer(case).data)

    @extend_schema(request=NoteSerializer, responses=MessageSerializer)
    @action(detail=True, methods=["post"])
    def note(self, request, pk=None):
        """An internal note on a case you hold: never sent to the customer."""
        case = self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.add_note(
            case_id=case.pk, agent=requesting_agent(request), text=body.validated_data["text"], now=timezone.now()
        )
        return Response(MessageSerializer(message).data, status=201)

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def waiting(self, request, pk=None):
        """Wait on the customer: the case stays the agent's, the resolution
        clock pauses until the customer writes."""
        case = self.get_object()
        case = services.set_waiting(case_id=case.pk, agent=requesting_agent(request), now=timezone.now())
        return Response(CaseSerializer(case).data)
