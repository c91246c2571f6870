"""Routing configuration over REST: queues (required skills, overflow steps,
members), routing rules (with their skills), the engine-wide routing
settings and decline reasons. Everyone signed in reads queues and decline
reasons; supervisors and admins read rules and settings; only admins change
any of it. The views save through ``routing.configuration``, as the admin
and ``import_config`` do."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api import AdminWrites, InUse, StaffReadsAdminWrites
from agents.models import Agent, PresenceStatus, Skill
from cases.models import OPEN_STATUSES
from config.channel_kinds import ChannelKind
from routing import configuration
from routing.config_checks import rule_problems
from routing.models import (
    AgentSelection,
    DeclineReason,
    OverflowStep,
    Queue,
    QueueSkill,
    RoutingRule,
    RoutingRuleSkill,
    RoutingSettings,
)


def _kinds(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=ChannelKind.choices), required=False, help_text=help_text
    )


class SkillNeedSerializer(serializers.Serializer):
    skill = serializers.PrimaryKeyRelatedField(queryset=Skill.objects.all())
    min_proficiency = serializers.IntegerField(min_value=1, max_value=5, default=1)
    optional = serializers.BooleanField(default=False, help_text="Overflow steps may relax or drop it.")


def _unique_skills(rows: list[dict]) -> list[dict]:
    ids = [row["skill"].pk for row in rows]
    if len(ids) != len(set(ids)):
        raise serializers.ValidationError("each skill once")
    return rows


def _fields(serializer: serializers.ModelSerializer, instance, *children: str) -> tuple[object, dict]:
    """The instance with the validated plain fields set, and the validated
    children and many-to-many lists (``None`` where the request leaves them out)."""
    data = dict(serializer.validated_data)
    related = {name: data.pop(name, None) for name in children}
    for field, value in data.items():
        setattr(instance, field, value)
    return instance, related


def _rows(model, rows: list[dict] | None) -> list | None:
    return None if rows is None else [model(**row) for row in rows]


# --- Queues ------------------------------------------------------------------------------


class OverflowStepSerializer(serializers.ModelSerializer):
    after_seconds = serializers.IntegerField(min_value=0, max_value=7 * 24 * 3600)
    amount = serializers.IntegerField(min_value=1, max_value=4, default=1)

    class Meta:
        model = OverflowStep
        fields = ["after_seconds", "action", "amount", "target_queue", "target_team"]

    def validate(self, attrs):
        action = attrs["action"]
        if action == OverflowStep.Action.ADD_QUEUE and not attrs.get("target_queue"):
            raise serializers.ValidationError({"target_queue": "'add_queue' needs the queue to add"})
        if action == OverflowStep.Action.ADD_TEAM and not attrs.get("target_team"):
            raise serializers.ValidationError({"target_team": "'add_team' needs the team to add"})
        return attrs


class QueueSerializer(serializers.ModelSerializer):
    channel_kinds = _kinds("Channel kinds this queue takes; empty takes any.")
    auto_accept_channel_kinds = _kinds("Assign at once instead of offering, for cases on these channel kinds.")
    priority = serializers.IntegerField(min_value=1, max_value=5, default=3, help_text="1 (most urgent) to 5.")
    offer_timeout_seconds = serializers.IntegerField(min_value=5, max_value=24 * 3600, default=60)
    case_units = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    agent_selection = serializers.ChoiceField(choices=AgentSelection.choices, default=AgentSelection.MOST_AVAILABLE)
    agents = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Agent.objects.all(), required=False, help_text="Members besides the team's (agent ids)."
    )
    required_skills = SkillNeedSerializer(many=True, required=False)
    overflow_steps = OverflowStepSerializer(many=True, required=False)

    class Meta:
        model = Queue
        fields = [
            "id",
            "name",
            "channel_kinds",
            "priority",
            "team",
            "agents",
            "offer_timeout_seconds",
            "auto_accept",
            "auto_accept_channel_kinds",
            "agent_selection",
            "case_units",
            "continuity_minutes",
            "first_reply_minutes",
            "first_reply_action",
            "wrap_up_seconds",
            "surveys_enabled",
            "calendar",
            "is_active",
            "surveys_enabled",
            "required_skills",
            "overflow_steps",
        ]

    def validate_required_skills(self, value):
        return _unique_skills(value)

    def validate_overflow_steps(self, value):
        if self.instance is not None and any(s.get("target_queue") == self.instance for s in value):
            raise serializers.ValidationError("a queue does not overflow into itself")
        return value


class QueueViewSet(viewsets.ModelViewSet):
    queryset = Queue.objects.prefetch_related("agents", "required_skills", "overflow_steps").order_by("pk")
    serializer_class = QueueSerializer
    permission_classes = [AdminWrites]

    def perform_create(self, serializer: QueueSerializer) -> None:
        self._save(serializer, Queue())

    def perform_update(self, serializer: QueueSerializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: QueueSerializer, queue: Queue) -> None:
        queue, related = _fields(serializer, queue, "agents", "required_skills", "overflow_steps")
        serializer.instance = configuration.save_queue(
            queue=queue,
            agents=related["agents"],
            required_skills=_rows(QueueSkill, related["required_skills"]),
            overflow_steps=_rows(OverflowStep, related["overflow_steps"]),
        )

    def perform_destroy(self, instance: Queue) -> None:
        uses = []
        if instance.rules.exists():
            uses.append("routing rules (" + ", ".join(instance.rules.values_list("name", flat=True)[:5]) + ")")
        if instance.cases.filter(status__in=OPEN_STATUSES).exists():
            uses.append("open cases")
        if OverflowStep.objects.filter(target_queue=instance).exists():
            uses.append("other queues' overflow steps")
        if uses:
            raise InUse(f"queue {instance.name!r} is used by {' and '.join(uses)}; deactivate it or change those first")
        configuration.delete_queue(queue=instance)


# --- Routing rules -------------------------------------------------------------------------


class RoutingRuleSerializer(serializers.ModelSerializer):
    match_channel_kinds = _kinds("Empty: any channel kind.")
    set_priority = serializers.IntegerField(
        min_value=1, max_value=4, allow_null=True, required=False, help_text="1 (urgent) to 4 (low); null: keep."
    )
    order = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=100)
    skills = SkillNeedSerializer(many=True, required=False)

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "name",
            "order",
            "is_active",
            "match_channel_kinds",
            "match_channel",
            "match_keywords",
            "match_language",
            "match_customer_tier",
            "queue",
            "set_priority",
            "add_language_skill",
            "may_interrupt",
            "skills",
        ]

    def validate_skills(self, value):
        return _unique_skills(value)

    def validate(self, attrs):
        def now(field: str, default=None):
            return attrs.get(field, getattr(self.instance, field, default))

        problems = rule_problems(
            match_channel_kinds=now("match_channel_kinds", []),
            match_channel=now("match_channel"),
            match_customer_tier=now("match_customer_tier", ""),
            order=now("order", 100),
            is_active=now("is_active", True),
            pk=getattr(self.instance, "pk", None),
        )
        if problems:
            raise serializers.ValidationError({"non_field_errors": problems})
        return attrs


class RoutingRuleViewSet(viewsets.ModelViewSet):
    queryset = RoutingRule.objects.prefetch_related("skills").order_by("order", "pk")
    serializer_class = RoutingRuleSerializer
    permission_classes = [StaffReadsAdminWrites]

    def perform_create(self, serializer: RoutingRuleSerializer) -> None:
        self._save(serializer, RoutingRule())

    def perform_update(self, serializer: RoutingRuleSerializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: RoutingRuleSerializer, rule: RoutingRule) -> None:
        rule, related = _fields(serializer, rule, "skills")
        serializer.instance = configuration.save_rule(rule=rule, skills=_rows(RoutingRuleSkill, related["skills"]))

    def perform_destroy(self, instance: RoutingRule) -> None:
        configuration.delete_rule(rule=instance)


# --- Settings, decline reasons -------------------------------------------------------------


class RoutingSettingsSerializer(serializers.ModelSerializer):
    aging_seconds = serializers.IntegerField(min_value=1, max_value=7 * 24 * 3600, default=300)
    missed_offers_limit = serializers.IntegerField(min_value=0, max_value=100, default=3)
    away_status = serializers.PrimaryKeyRelatedField(
        queryset=PresenceStatus.objects.all(), allow_null=True, required=False
    )
    fair_cap_assignments = serializers.IntegerField(min_value=0, max_value=1000, default=0)
    fair_cap_window_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, default=60)

    class Meta:
        model = RoutingSettings
        fields = [
            "aging_seconds",
            "missed_offers_limit",
            "away_status",
            "fair_cap_assignments",
            "fair_cap_window_minutes",
        ]


class RoutingSettingsView(APIView):
    """The engine-wide routing settings (one set): read, replace or change."""

    permission_classes = [StaffReadsAdminWrites]

    @extend_schema(responses=RoutingSettingsSerializer)
    def get(self, request):
        return Response(RoutingSettingsSerializer(RoutingSettings.current()).data)

    def _write(self, request, partial: bool) -> Response:
        body = RoutingSettingsSerializer(RoutingSettings.current(), data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        settings = body.instance
        for field, value in body.validated_data.items():
            setattr(settings, field, value)
        body.instance = configuration.save_routing_settings(settings=settings)
        return Response(body.data)

    @extend_schema(request=RoutingSettingsSerializer, responses=RoutingSettingsSerializer)
    def put(self, request):
        return self._write(request, partial=False)

    @extend_schema(request=RoutingSettingsSerializer, responses=RoutingSettingsSerializer)
    def patch(self, request):
        return self._write(request, partial=True)


class DeclineReasonSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(min_value=0, max_value=32767, default=0)

    class Meta:
        model = DeclineReason
        fields = ["id", "label", "order", "is_active"]


class DeclineReasonViewSet(viewsets.ModelViewSet):
    queryset = DeclineReason.objects.order_by("order", "label")
    serializer_class = DeclineReasonSerializer
    permission_classes = [AdminWrites]
