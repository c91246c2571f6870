"""Customers over REST: detail, whole history across channels, link an
identity, merge two customers and undo a merge.

Who sees a customer: admins all; agents and supervisors the customers of the
cases they may see (``cases.selectors.visible_cases``). Whoever sees a
customer sees their whole history, so no customer repeats themselves."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from cases import customers
from cases.api import MessageSerializer
from cases.identities import IdentityKind, InvalidIdentity, normalize_identity
from cases.models import Case, Customer, CustomerMerge, Identity
from config.api import NotFound


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ["id", "kind", "address", "created_at"]


class CustomerSerializer(serializers.ModelSerializer):
    identities = IdentitySerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "display_name", "tier", "language", "created_at", "merged_into", "identities"]


class HistoryMessageSerializer(MessageSerializer):
    class Meta(MessageSerializer.Meta):
        fields = MessageSerializer.Meta.fields + ["bot_name"]


class HistoryCaseSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.key", default=None, read_only=True)
    queue = serializers.CharField(source="queue.name", default=None, read_only=True)
    assignee = serializers.CharField(source="assignee.display_name", default=None, read_only=True)
    messages = HistoryMessageSerializer(many=True, read_only=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "status",
            "channel",
            "channel_kind",
            "subject",
            "queue",
            "priority",
            "assignee",
            "created_at",
            "resolved_at",
            "messages",
        ]


class MergeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerMerge
        fields = ["id", "source", "target", "identity_ids", "case_ids", "created_at", "undone_at"]


class HistorySurveySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    channel_kind = serializers.CharField()
    score = serializers.IntegerField()
    comment = serializers.CharField()
    agent = serializers.CharField(source="agent.display_name", default=None)
    answered_via = serializers.CharField()
    answered_at = serializers.DateTimeField()


class HistorySerializer(serializers.Serializer):
    customer = CustomerSerializer()
    identities = IdentitySerializer(many=True)
    cases = HistoryCaseSerializer(many=True)
    merges = MergeSerializer(many=True)
    surveys = HistorySurveySerializer(many=True, help_text="Satisfaction answers, newest first.")


class LinkIdentitySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IdentityKind.choices)
    address = serializers.CharField(max_length=320)


class MergeRequestSerializer(serializers.Serializer):
    source = serializers.IntegerField(min_value=1, help_text="The customer merged into this one.")


class UndoMergeSerializer(serializers.Serializer):
    merge = serializers.IntegerField(min_value=1, help_text="The merge to undo (its id).")


class NewestFirst(CursorPagination):
    ordering = "-pk"
    page_size = 50


class CustomerViewSet(viewsets.ReadOnlyModelViewSet):
    """Customers one may see, newest first, a cursor page at a time; ``?tier=vip``."""

    serializer_class = CustomerSerializer
    queryset = Customer.objects.none()  # for the schema; get_queryset() says who sees what
    pagination_class = NewestFirst

    def get_queryset(self):
        qs = customers.visible_customers(self.request.user).prefetch_related("identities").order_by("-pk")
        tier = self.request.query_params.get("tier")
        return qs.filter(tier=tier) if tier else qs

    def _visible(self, customer_id: int) -> Customer:
        customer = self.get_queryset().filter(pk=customer_id).first()
        if customer is None:
            raise NotFound(f"no customer {customer_id}")
        return customer

    def _refuse_taking_unseen(self, kind: str, address: str) -> None:
        """Linking moves an identity another customer holds: only from a
        customer this user may see (else another team's customer is emptied)."""
        try:
            normalized = normalize_identity(
                kind, address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION")
            )
        except InvalidIdentity:
            return  # the service answers 400 with the reason
        holder = Identity.objects.filter(kind=kind, address=normalized).values_list("customer_id", flat=True).first()
        if holder is not None and not self.get_queryset().filter(pk=holder).exists():
            raise PermissionDenied("that identity belongs to a customer you may not see; ask an admin to link it")

    @extend_schema(request=None, responses=HistorySerializer)
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The customer's whole history across channels: identities, every
        case (newest first) with its messages, and merges in effect."""
        history = customers.customer_history(self.get_object())
        return Response(HistorySerializer(history).data)

    @extend_schema(request=LinkIdentitySerializer, responses=IdentitySerializer)
    @action(detail=True, methods=["post"], url_path="identities")
    def link_identity(self, request, pk=None):
        """Link an identity (normalized) to this customer; one another customer
        holds moves here."""
        customer = self.get_object()
        body = LinkIdentitySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        self._refuse_taking_unseen(body.validated_data["kind"], body.validated_data["address"])
        identity = customers.link_identity(
            customer_id=customer.pk,
            kind=body.validated_data["kind"],
            address=body.validated_data["address"],
            now=timezone.now(),
            actor=request.user,
        )
        return Response(IdentitySerializer(identity).data, status=201)

    @extend_schema(request=MergeRequestSerializer, responses=MergeSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge another customer (``source``) into this one: identities and
        cases move here; the merge is kept so it can be undone."""
        target = self.get_object()
        body = MergeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        source = self._visible(body.validated_data["source"])
        merge = customers.merge_customers(
            source_id=source.pk, target_id=target.pk, now=timezone.now(), actor=request.user
        )
        return Response(MergeSerializer(merge).data, status=201)

    @extend_schema(request=UndoMergeSerializer, responses=MergeSerializer)
    @action(detail=True, methods=["post"], url_path="undo-merge")
    def undo_merge(self, request, pk=None):
        """Undo a merge into this customer: exactly what moved moves back."""
        target = self.get_object()
        body = UndoMergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        merge_id = body.validated_data["merge"]
        if not CustomerMerge.objects.filter(pk=merge_id, target=target).exists():
            raise NotFound(f"no merge {merge_id} into customer {target.pk}")
        merge = customers.undo_merge(merge_id=merge_id, now=timezone.now(), actor=request.user)
        return Response(MergeSerializer(merge).data)
