"""Cases over REST: list, detail with messages, reply, resolve."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from agents.models import Agent, Role
from cases import selectors, services
from cases.models import Case, CaseEvent, Message
from config.api import NotFound
from routing import explain as routing_explain
from routing import ranking, supervision, timers


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


class AssignSerializer(serializers.Serializer):
    agent = serializers.IntegerField(min_value=1, help_text="The agent's id.")
    force = serializers.BooleanField(default=False, help_text="Override status, skills and capacity (recorded).")


class TransferSerializer(serializers.Serializer):
    queue = serializers.IntegerField(min_value=1, required=False, help_text="The queue's id.")
    agent = serializers.IntegerField(
        min_value=1, required=False, help_text="Or an agent's id: they must be free to take it (status, skills, room)."
    )

    def validate(self, data):
        if ("queue" in data) == ("agent" in data):
            raise serializers.ValidationError("give either 'queue' or 'agent'")
        return data


class PositionSerializer(serializers.Serializer):
    status = serializers.CharField()
    position = serializers.IntegerField(allow_null=True)
    estimated_wait_seconds = serializers.IntegerField(allow_null=True)


def _supervising(request, what: str = "assign and transfer cases") -> None:
    if selectors.role_of(request.user) not in (Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied(f"only supervisors and admins {what}")


def _may_transfer(request, case: Case) -> None:
    """Supervisors and admins transfer any case they see; an agent, a case they hold."""
    if selectors.role_of(request.user) in (Role.SUPERVISOR, Role.ADMIN):
        return
    if case.assignee_id is None or not Agent.objects.filter(user=request.user, pk=case.assignee_id).exists():
        raise PermissionDenied("only supervisors, admins and the agent holding the case transfer it")


class NewestFirst(CursorPagination):
    ordering = "-created_at"
    page_size = 50


def _agent(request) -> Agent:
    agent = Agent.objects.filter(user=request.user).first()
    if agent is None:
        raise PermissionDenied("only agents work cases")
    return agent


class CaseViewSet(viewsets.ReadOnlyModelViewSet):
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

    @extend_schema(request=ReplySerializer, responses=MessageSerializer)
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        case = self.get_object()
        body = ReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.send_reply(
            case_id=case.pk, agent=_agent(request), text=body.validated_data["text"], now=timezone.now()
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
            case_id=case.pk, agent=_agent(request), now=timezone.now(), **body.validated_data
        )
        return Response(MessageSerializer(message).data, status=201)

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        case = self.get_object()
        case = services.resolve_case(case_id=case.pk, agent=_agent(request), now=timezone.now())
        return Response(CaseSerializer(case).data)

    @extend_schema(request=NoteSerializer, responses=MessageSerializer)
    @action(detail=True, methods=["post"])
    def note(self, request, pk=None):
        """An internal note on a case you hold: never sent to the customer."""
        case = self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        message = services.add_note(
            case_id=case.pk, agent=_agent(request), text=body.validated_data["text"], now=timezone.now()
        )
        return Response(MessageSerializer(message).data, status=201)

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def waiting(self, request, pk=None):
        """Wait on the customer: the case stays the agent's, the resolution
        clock pauses until the customer writes."""
        case = self.get_object()
        case = services.set_waiting(case_id=case.pk, agent=_agent(request), now=timezone.now())
        return Response(CaseSerializer(case).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def typing(self, request, pk=None):
        """The agent is typing a reply to a web chat: the customer's widget shows it."""
        from connectors.webchat.services import agent_typing

        case = self.get_object()
        agent_typing(case_id=case.pk, agent=_agent(request))
        return Response(status=204)

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"], url_path="end-wrap-up")
    def end_wrap_up(self, request, pk=None):
        case = self.get_object()
        case = timers.end_wrap_up(case_id=case.pk, agent=_agent(request), now=timezone.now())
        return Response(CaseSerializer(case).data)

    @extend_schema(request=None, responses=PositionSerializer)
    @action(detail=True, methods=["get"])
    def position(self, request, pk=None):
        """Where a waiting case stands in its queue and an estimated wait."""
        case = self.get_object()
        return Response(ranking.queue_position(case, timezone.now()))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def explanation(self, request, pk=None):
        """Supervisors and admins: why each offer of the case went to its
        agent ("Why Jana?"), and for a waiting case why nobody has it yet."""
        _supervising(request, "see why cases are routed")
        case = self.get_object()
        return Response(routing_explain.for_case(case, timezone.now(), user=request.user))

    @extend_schema(request=AssignSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Supervisors: give the case to an agent (reassign if someone holds it)."""
        _supervising(request)
        case = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent_id = body.validated_data["agent"]
        if not selectors.agent_visible_to(request.user, agent_id):
            raise NotFound(f"no agent {agent_id}")
        case = supervision.assign_case(
            case_id=case.pk,
            agent_id=agent_id,
            force=body.validated_data["force"],
            actor=request.user,
            now=timezone.now(),
        )
        return Response(CaseSerializer(case).data)

    @extend_schema(request=TransferSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        """Supervisors, or the agent holding the case: move it to another
        queue, where it is routed again, or to an agent free to take it."""
        case = self.get_object()
        _may_transfer(request, case)
        body = TransferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if "agent" in body.validated_data:
            agent_id = body.validated_data["agent"]
            supervising = selectors.role_of(request.user) in (Role.SUPERVISOR, Role.ADMIN)
            if supervising and not selectors.agent_visible_to(request.user, agent_id):
                raise NotFound(f"no agent {agent_id}")
            case = supervision.assign_case(case_id=case.pk, agent_id=agent_id, actor=request.user, now=timezone.now())
            return Response(CaseSerializer(case).data)
        case = supervision.transfer_to_queue(
            case_id=case.pk, queue_id=body.validated_data["queue"], actor=request.user, now=timezone.now()
        )
        return Response(CaseSerializer(case).data)
