"""Cases over REST: list, detail with messages, reply, resolve."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from agents.models import Agent
from cases import selectors, services
from cases.models import Case, Message


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
        ]


class CaseDetailSerializer(CaseSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = CaseSerializer.Meta.fields + ["messages"]


class ReplySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=100_000)


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

    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        case = self.get_object()
        case = services.resolve_case(case_id=case.pk, agent=_agent(request), now=timezone.now())
        return Response(CaseSerializer(case).data)
