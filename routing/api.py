"""Offers over REST: my pending offers, accept, decline."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from agents.models import Agent
from routing import offers
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
