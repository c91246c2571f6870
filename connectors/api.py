"""Channels and chatbot handoffs over REST.

``/api/v1/channels/``: admins only (token or session). A channel's secret is
generated when it is created and returned in the create answer and in the
detail view, never in the list; ``rotate-secret`` makes a new one.

``POST /api/v1/handoffs/``: a bot platform (token auth; an admin or a user
given the ``cases.add_case`` permission) hands a conversation over. The body
is stored first as an inbound event of the bot's channel, like every inbound
request, then becomes a case (``connectors.providers.bot_handoff``).
"""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Role
from agents.selectors import role_of
from cases.identities import IdentityKind
from connectors import services
from connectors.models import Channel, InboundEvent, new_channel_secret
from connectors.providers import PROVIDERS
from connectors.webchat.services import agents_serving


class IsAdmin(BasePermission):
    message = "only admins manage channels"

    def has_permission(self, request, view) -> bool:
        return role_of(request.user) == Role.ADMIN


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "key", "name", "kind", "provider", "config", "default_queue", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_provider(self, value: str) -> str:
        if value not in PROVIDERS:
            raise serializers.ValidationError(f"unknown provider; known: {', '.join(sorted(PROVIDERS))}")
        return value

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("config is a JSON object")
        if len(json.dumps(value)) > 20_000:
            raise serializers.ValidationError("config is limited to 20,000 characters of JSON")
        origins = value.get("allowed_origins", [])
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise serializers.ValidationError("allowed_origins is a list of origins like 'https://shop.example.com'")
        return value

    def validate(self, attrs):
        provider = attrs.get("provider", getattr(self.instance, "provider", None))
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        if provider == "webchat" and kind != "web_chat":
            raise serializers.ValidationError({"kind": "a webchat channel has kind 'web_chat'"})
        return attrs


class ChannelWithSecretSerializer(ChannelSerializer):
    secret = serializers.CharField(
        required=False, min_length=16, max_length=200, help_text="Generated when not given.", write_only=False
    )

    class Meta(ChannelSerializer.Meta):
        fields = ChannelSerializer.Meta.fields + ["secret"]


class ChannelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Configured channels: a mailbox, a chat widget, a number, a page, a bot."""

    permission_classes = [IsAdmin]
    queryset = Channel.objects.select_related("default_queue").order_by("name")

    def get_serializer_class(self):
        return ChannelSerializer if self.action == "list" else ChannelWithSecretSerializer

    @extend_schema(request=None, responses=ChannelWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret for the channel; the old one stops working at once."""
        channel = self.get_object()
        channel.secret = new_channel_secret()
        channel.save(update_fields=["secret"])
        return Response(ChannelWithSecretSerializer(channel).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("WidgetStatus", {"agents_online": serializers.IntegerField()}),
    )
    @action(detail=True, methods=["get"], url_path="agents-online")
    def agents_online(self, request, pk=None):
        """How many agents could take a chat of this channel now."""
        return Response({"agents_online": agents_serving(self.get_object(), timezone.now())})


# For the schema; the provider module validates (one place for both paths).
# "from" is a Python keyword, hence the type() call.
TranscriptLineSerializer = type(
    "TranscriptLineSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.ChoiceField(choices=["bot", "customer"]),
        "text": serializers.CharField(max_length=10_000),
        "sent_at": serializers.DateTimeField(required=False),
        "bot_name": serializers.CharField(required=False, max_length=120, help_text="Bot lines: shown as the author."),
    },
)


class HandoffCustomerSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    address = serializers.CharField(max_length=255)
    name = serializers.CharField(required=False, max_length=200)


class HandoffSerializer(serializers.Serializer):
    channel = serializers.CharField(help_text="The key of the bot's channel (provider bot_handoff).")
    conversation_id = serializers.CharField(max_length=200, help_text="Unique per channel: a retry is harmless.")
    customer = HandoffCustomerSerializer()
    transcript = TranscriptLineSerializer(many=True, help_text="In order; 1 to 500 lines, at least one customer's.")
    collected = serializers.DictField(required=False, help_text="What the bot learnt: names to scalar values.")
    reason = serializers.CharField(max_length=1000)
    language = serializers.CharField(required=False, max_length=16)
    subject = serializers.CharField(required=False, max_length=255)


class HandoffResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["created", "duplicate", "failed", "accepted"],
        help_text="accepted: stored, still being made into a case (ask again with the same body for its id)",
    )
    event_id = serializers.IntegerField()
    case_id = serializers.IntegerField(allow_null=True)
    queue = serializers.CharField(allow_null=True)
    priority = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(required=False)


class CanHandOver(BasePermission):
    message = "handing over needs an admin or the 'cases.add_case' permission"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return role_of(user) == Role.ADMIN or bool(user and user.is_authenticated and user.has_perm("cases.add_case"))


def _error(status_code: int, code: str, detail: str, **extra) -> Response:
    return Response({"error": code, "detail": detail, **extra}, status=status_code)


class HandoffView(APIView):
    """A chatbot hands a conversation to people: transcript, what it
    collected, the reason. Answers 201 with the case, 200 for a retry of a
    conversation already handed over, 400 with the reason for a body that is
    not a handoff (kept as a failed event of the channel)."""

    permission_classes = [CanHandOver]

    @extend_schema(
        request=HandoffSerializer,
        responses={
            201: HandoffResultSerializer,
            200: HandoffResultSerializer,
            400: OpenApiResponse(description="the body is not a handoff: 'detail' says why"),
            404: OpenApiResponse(description="no active bot_handoff channel with that key"),
        },
    )
    def post(self, request):
        raw = request.body  # read before anything parses it: stored as it came
        if not (request.content_type or "").startswith("application/json"):
            return _error(415, "unsupported_media_type", "send the handoff as application/json")
        if len(raw) > 1024 * 1024:
            return _error(413, "too_large", "a handoff is limited to 1 MiB")
        try:
            key = json.loads(raw).get("channel")
        except (ValueError, AttributeError, RecursionError):
            return _error(400, "invalid_payload", "body must be a JSON object")
        if not isinstance(key, str) or not key:
            return _error(400, "invalid_payload", "'channel' is required: the key of the bot's channel")
        channel = Channel.objects.filter(key=key, is_active=True, provider="bot_handoff").first()
        if channel is None:
            return _error(404, "unknown_channel", f"no active bot_handoff channel with key {key[:64]!r}")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"cookie", "authorization"}}
        result = services.store_event(
            channel=channel, body=raw, headers=headers, remote_addr=request.META.get("REMOTE_ADDR"), now=timezone.now()
        )
        if result.status == 400:
            return Response(result.body, status=400)
        if result.status == 200:
            event = InboundEvent.objects.filter(channel=channel, dedupe_key=result.body["dedupe_key"]).first()
            return Response(_outcome(event, "duplicate"), status=200)
        event = InboundEvent.objects.get(pk=result.body["event_id"])
        if event.status == InboundEvent.Status.RECEIVED:
            # A worker may not have run yet: run it here (SKIP LOCKED makes sure
            # only one of the two does), then wait for whichever holds it.
            services.process_event(event_id=event.pk, now=timezone.now())
            with transaction.atomic():
                event = InboundEvent.objects.select_for_update().get(pk=event.pk)
        if event.status == InboundEvent.Status.RECEIVED:
            return Response(_outcome(event, "accepted"), status=status.HTTP_202_ACCEPTED)
        if event.status == InboundEvent.Status.FAILED:
            return Response(_outcome(event, "failed"), status=status.HTTP_202_ACCEPTED)
        return Response(_outcome(event, "created"), status=201)


def _outcome(event: InboundEvent | None, label: str) -> dict:
    case = event.message.case if event is not None and event.message_id else None
    out = {
        "status": label,
        "event_id": event.pk if event else None,
        "case_id": case.pk if case else None,
        "queue": case.queue.name if case and case.queue_id else None,
        "priority": case.priority if case else None,
    }
    if event is not None and event.status == InboundEvent.Status.FAILED:
        out["error"] = event.error
    return out
