"""Offers over REST: my pending offers, accept, decline. And routing's
actions on a case, under ``/cases/{id}/`` beside the cases app's own: end
wrap-up, position in the queue, explanation, assign, transfer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from agents.models import Agent, Role
from agents.selectors import agent_visible_to, role_of
from cases.api import CaseLookup, CaseSerializer, requesting_agent
from cases.models import Case
from config.api import NotFound
from routing import explain, offers, ranking, supervision, timers
from routing.models import Offer


class OfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Offer
        fields = [
            "id",
            "case_id",
            "agent_id",
            "channel_kind",
            "status",
            "created_at",
            "expires_at",
            "responded_at",
            "decline_reason",
            "units",
        ]


class DeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-pk")
    page_size = 50


class OfferViewSet(viewsets.ReadOnlyModelViewSet):
    """My offers, newest first, a cursor page at a time; ``?status=pending``."""

    serializer_class = OfferSerializer
    pagination_class = NewestFirst
    queryset = Offer.objects.none()  # the API schema's model; get_queryset says what one sees

    def _agent(self) -> Agent:
        agent = Agent.objects.filter(user=self.request.user).first()
        if agent is None:
            raise PermissionDenied("only agents receive offers")
        return agent

    def get_queryset(self):
        agent = Agent.objects.filter(user=self.request.user).first()
        if agent is None:
            return Offer.objects.none()
        qs = Offer.objects.filter(agent=agent).order_by("-created_at")
        status = self.request.query_params.get("status")
        return qs.filter(status=status) if status else qs

    @extend_schema(request=None, responses=serializers.ListSerializer(child=serializers.CharField()))
    @action(detail=False, methods=["get"], url_path="decline-reasons", pagination_class=None)
    def decline_reasons(self, request):
        """The reasons an agent may give when declining (empty: any text)."""
        return Response(offers.decline_reasons())

    @extend_schema(request=None, responses=OfferSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        offer = self.get_object()
        offers.accept_offer(offer_id=offer.pk, agent=self._agent(), now=timezone.now())
        offer.refresh_from_db()
        return Response(OfferSerializer(offer).data)

    @extend_schema(request=DeclineSerializer, responses=OfferSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        offer = self.get_object()
        body = DeclineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offer = offers.decline_offer(
            offer_id=offer.pk, agent=self._agent(), reason=body.validated_data["reason"], now=timezone.now()
        )
        return Response(OfferSerializer(offer).data)


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
    if role_of(request.user) not in (Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied(f"only supervisors and admins {what}")


def _may_transfer(request, case: Case) -> None:
    """Supervisors and admins transfer any case they see; an agent, a case they hold."""
    if role_of(request.user) in (Role.SUPERVISOR, Role.ADMIN):
        return
    if case.assignee_id is None or not Agent.objects.filter(user=request.user, pk=case.assignee_id).exists():
        raise PermissionDenied("only supervisors, admins and the agent holding the case transfer it")


# Routing's actions on a case: ``/cases/{id}/end-wrap-up/``, ``position/``,
# ``explanation/``, ``assign/``, ``transfer/`` (registered beside
# ``cases.api.CaseViewSet`` under the same prefix, on the same cases).
class CaseRoutingViewSet(CaseLookup):
    @extend_schema(request=None, responses=CaseSerializer)
    @action(detail=True, methods=["post"], url_path="end-wrap-up")
    def end_wrap_up(self, request, pk=None):
        case = self.get_object()
        case = timers.end_wrap_up(case_id=case.pk, agent=requesting_agent(request), now=timezone.now())
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
        return Response(explain.for_case(case, timezone.now(), user=request.user))

    @extend_schema(request=AssignSerializer, responses=CaseSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Supervisors: give the case to an agent (reassign if someone holds it)."""
        _supervising(request)
        case = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        agent_id = body.validated_data["agent"]
        if not agent_visible_to(request.user, agent_id):
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
            supervising = role_of(request.user) in (Role.SUPERVISOR, Role.ADMIN)
            if supervising and not agent_visible_to(request.user, agent_id):
                raise NotFound(f"no agent {agent_id}")
            case = supervision.assign_case(case_id=case.pk, agent_id=agent_id, actor=request.user, now=timezone.now())
            return Response(CaseSerializer(case).data)
        case = supervision.transfer_to_queue(
            case_id=case.pk, queue_id=body.validated_data["queue"], actor=request.user, now=timezone.now()
        )
        return Response(CaseSerializer(case).data)
