"""Outbound webhook subscriptions over REST (admins only):
``/api/v1/webhook-subscriptions/`` and each one's delivery history at
``/api/v1/webhook-subscriptions/<id>/deliveries/`` (newest first)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission

from agents.models import Role
from agents.selectors import role_of
from outhooks import addresses
from outhooks.listeners import EVENT_NAMES
from outhooks.models import Delivery, Subscription


class IsAdmin(BasePermission):
    message = "only admins manage webhook subscriptions"

    def has_permission(self, request, view) -> bool:
        return role_of(request.user) == Role.ADMIN


class SubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_NAMES), min_length=1, help_text="Event names to receive."
    )
    secret = serializers.CharField(
        required=False, min_length=16, max_length=200, help_text="HMAC-SHA256 key; generated when not given."
    )

    class Meta:
        model = Subscription
        fields = ["id", "url", "events", "secret", "active", "description", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("an http:// or https:// URL")
        refusal = addresses.url_refusal(value)
        if refusal:
            raise serializers.ValidationError(refusal)
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return sorted(set(value))


class SubscriptionListSerializer(SubscriptionSerializer):
    class Meta(SubscriptionSerializer.Meta):
        fields = [f for f in SubscriptionSerializer.Meta.fields if f != "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "response_code",
            "response_body",
            "error",
            "created_at",
            "last_attempt_at",
            "delivered_at",
        ]


class NewestFirst(CursorPagination):
    ordering = "-pk"
    page_size = 50


class SubscriptionViewSet(viewsets.ModelViewSet):
    """External URLs subscribed to events; each event is POSTed signed with
    ``X-Switchboard-Signature: sha256=<HMAC-SHA256 of the body>``."""

    permission_classes = [IsAdmin]
    queryset = Subscription.objects.order_by("pk")

    def get_serializer_class(self):
        return SubscriptionListSerializer if self.action == "list" else SubscriptionSerializer

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The subscription's deliveries, newest first: status, attempts, the answer."""
        subscription = self.get_object()
        paginator = NewestFirst()
        page = paginator.paginate_queryset(subscription.deliveries.all(), request, view=self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)
