"""The supervisor dashboard's actions over REST (session auth + CSRF from the
page, token auth for integrations): change a queue's or a channel kind's
priority, an agent's status or capacity, and a queue's drill-down list.
Assigning, reassigning and transferring a case are the case API's
``/api/v1/cases/<id>/assign/`` and ``/transfer/``. Supervisors act on their
teams' queues and agents; admins on all; agents on nothing here."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from agents.models import Agent
from cases.models import Case, CaseStatus
from config.api import NotFound
from config.channel_kinds import CHANNEL_KINDS, ChannelKind
from dashboards import services, supervision
from dashboards.scope import Scope, scope_for
from routing.models import Offer, Queue


def _number(value) -> bool:
    """A primary key as the database takes it: ASCII digits, no "²", no 30-digit overflow."""
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 18


class IsSupervisor(BasePermission):
    message = "only supervisors and admins use the supervisor dashboard"

    def has_permission(self, request, view) -> bool:
        view.supervision = scope_for(request.user)
        return view.supervision is not None


class QueuePrioritySerializer(serializers.Serializer):
    priority = serializers.IntegerField(min_value=1, max_value=5, help_text="1 (most urgent) to 5.")


class CasePrioritySerializer(serializers.Serializer):
    priority = serializers.IntegerField(min_value=1, max_value=4, help_text="1 (urgent) to 4 (low).")


class StatusSerializer(serializers.Serializer):
    status_id = serializers.IntegerField(min_value=1)


class CapacitySerializer(serializers.Serializer):
    total = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    capacities = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=1000), required=False, help_text="{channel kind: units}"
    )

    def validate_capacities(self, value):
        unknown = sorted(set(value) - set(CHANNEL_KINDS))
        if unknown:
            raise serializers.ValidationError(f"unknown channel kind(s): {', '.join(unknown)}")
        return value

    def validate(self, data):
        if "total" not in data and not data.get("capacities"):
            raise serializers.ValidationError("give 'total', 'capacities' or both")
        return data


class DrillCaseSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.display_name", read_only=True)
    assignee = serializers.CharField(source="assignee.display_name", default=None, read_only=True)
    offered_to = serializers.SerializerMethodField(help_text="The agent a pending offer waits on, if any.")

    class Meta:
        model = Case
        fields = [
            "id",
            "status",
            "channel_kind",
            "subject",
            "customer",
            "priority",
            "assignee_id",
            "assignee",
            "offered_to",
            "queued_at",
            "sla_due_at",
            "created_at",
        ]

    def get_offered_to(self, case: Case) -> str | None:
        return self.context.get("offered_to", {}).get(case.pk)


class ChannelKindPrioritySerializer(CasePrioritySerializer):
    channel_kind = serializers.ChoiceField(choices=ChannelKind.choices)


def _queue(scope: Scope, pk) -> Queue:
    queue = Queue.objects.filter(pk=pk).first() if _number(pk) else None
    if queue is None or not scope.sees_team(queue.team_id):
        raise NotFound(f"no queue {pk}")
    return queue


def _agent(scope: Scope, pk) -> Agent:
    agent = Agent.objects.filter(pk=pk).first() if _number(pk) else None
    if agent is None or not scope.sees_any_team(agent.teams.values_list("pk", flat=True)):
        raise NotFound(f"no agent {pk}")
    return agent


class SupervisorQueueViewSet(viewsets.ViewSet):
    permission_classes = [IsSupervisor]
    queryset = Queue.objects.none()  # the API schema's model (typed ids); nothing reads it

    @extend_schema(responses=DrillCaseSerializer(many=True))
    @action(detail=True, methods=["get"])
    def cases(self, request, pk=None):
        """Drill-down: the queue's open cases, waiting first (most urgent first), at most 200."""
        queue = _queue(self.supervision, pk)
        waiting = list(
            Case.objects.filter(queue=queue, status__in=[CaseStatus.QUEUED, CaseStatus.OFFERED])
            .select_related("customer", "assignee")
            .order_by("route_rank", "queued_at", "pk")[:200]
        )
        held = list(
            Case.objects.filter(queue=queue, status__in=[CaseStatus.ASSIGNED, CaseStatus.WAITING])
            .select_related("customer", "assignee")
            .order_by("first_assigned_at", "pk")[: 200 - len(waiting)]
        )
        offered_to = dict(
            Offer.objects.filter(
                case__in=[c.pk for c in waiting if c.status == CaseStatus.OFFERED], status=Offer.Status.PENDING
            ).values_list("case_id", "agent__display_name")
        )
        return Response(DrillCaseSerializer(waiting + held, many=True, context={"offered_to": offered_to}).data)

    @extend_schema(request=QueuePrioritySerializer, responses=QueuePrioritySerializer)
    @action(detail=True, methods=["post"])
    def priority(self, request, pk=None):
        """Change the queue's priority while running; its waiting cases are re-ranked."""
        queue = _queue(self.supervision, pk)
        body = QueuePrioritySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        queue = services.set_queue_priority(
            queue_id=queue.pk, priority=body.validated_data["priority"], actor=request.user, now=timezone.now()
        )
        return Response({"id": queue.pk, "priority": queue.priority})


class SupervisorAgentViewSet(viewsets.ViewSet):
    permission_classes = [IsSupervisor]
    queryset = Agent.objects.none()  # the API schema's model (typed ids); nothing reads it

    @extend_schema(request=StatusSerializer, responses=StatusSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        """Set the agent's presence status (e.g. move them to chat for the peak)."""
        agent = _agent(self.supervision, pk)
        body = StatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent = services.set_agent_status(
            agent_id=agent.pk, status_id=body.validated_data["status_id"], actor=request.user, now=timezone.now()
        )
        return Response({"status_id": agent.status_id})

    @extend_schema(request=CapacitySerializer, responses=CapacitySerializer)
    @action(detail=True, methods=["post"])
    def capacity(self, request, pk=None):
        """Change the agent's total capacity and/or capacity per channel kind (0 removes a kind)."""
        agent = _agent(self.supervision, pk)
        body = CapacitySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.set_agent_capacity(
            agent_id=agent.pk,
            actor=request.user,
            now=timezone.now(),
            total=body.validated_data.get("total"),
            per_kind=body.validated_data.get("capacities", {}),
        )
        row = supervision.agent_rows([agent.pk])[agent.pk]
        return Response({"total": row["capacity_total"], "capacities": row["capacities"]})


class ChannelKindPriorityViewSet(viewsets.ViewSet):
    permission_classes = [IsSupervisor]

    @extend_schema(request=ChannelKindPrioritySerializer, responses=None)
    def create(self, request):
        """Give every waiting case of a channel kind this priority (a supervisor's
        own queues only; admins: all), re-ranked at once, and new cases through
        the routing rules that match only this kind."""
        body = ChannelKindPrioritySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        scope = self.supervision
        if not scope.is_admin and not scope.team_ids:
            raise PermissionDenied("you supervise no team")
        changed = services.set_channel_kind_priority(
            channel_kind=body.validated_data["channel_kind"],
            priority=body.validated_data["priority"],
            actor=request.user,
            now=timezone.now(),
            queue_ids=None if scope.is_admin else supervision.queues_in(scope),
        )
        return Response({"changed": changed})
