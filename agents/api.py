"""Agents, teams, skills and presence statuses over REST.

Admins change them; supervisors read their teams and those teams' agents;
an agent reads themself and their teams, and sets their own presence status
(``/api/v1/agents/me/status/``). Skills and presence statuses are read by
everyone signed in. Writes go through the same services and model signals
the admin's saves do, so the router's kept state is refreshed and the
configuration audit records them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from agents import services
from agents.events import AgentChanged
from agents.models import Agent, AgentSkill, PresenceStatus, Role, Skill, Team
from agents.selectors import role_of
from config.api import DomainError
from config.channel_kinds import CHANNEL_KINDS, ChannelKind
from config.events import publish_on_commit


class InUse(DomainError):
    code = "in_use"


class AdminWrites(permissions.BasePermission):
    """Anyone with a role reads (the view scopes what); only admins write."""

    message = "only admins change the configuration"

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if request.method in permissions.SAFE_METHODS:
            return role is not None
        return role == Role.ADMIN


class StaffReadsAdminWrites(AdminWrites):
    """Supervisors and admins read; only admins write; agents nothing."""

    message = "only supervisors and admins read this, only admins change it"

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return role_of(request.user) in (Role.SUPERVISOR, Role.ADMIN)
        return super().has_permission(request, view)


# --- Skills, presence statuses -----------------------------------------------------


class SkillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Skill
        fields = ["id", "name", "label", "kind", "language_code"]

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", Skill.Kind.PRODUCT))
        code = attrs.get("language_code", getattr(self.instance, "language_code", ""))
        if code and kind != Skill.Kind.LANGUAGE:
            raise serializers.ValidationError({"language_code": "only language skills have a language code"})
        clash = Skill.objects.filter(language_code__iexact=code).exclude(pk=getattr(self.instance, "pk", None))
        if code and clash.exists():
            raise serializers.ValidationError({"language_code": f"skill {clash.first().name!r} has code {code!r}"})
        return attrs


class SkillViewSet(viewsets.ModelViewSet):
    queryset = Skill.objects.all()
    serializer_class = SkillSerializer
    permission_classes = [AdminWrites]


class PresenceStatusSerializer(serializers.ModelSerializer):
    channel_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=ChannelKind.choices),
        required=False,
        help_text="Channel kinds an agent in this status is offered work on; empty: not routable.",
    )

    class Meta:
        model = PresenceStatus
        fields = ["id", "name", "channel_kinds", "is_default", "order"]

    def validate(self, attrs):
        if attrs.get("is_default"):
            other = PresenceStatus.objects.filter(is_default=True).exclude(pk=getattr(self.instance, "pk", None))
            if other.exists():
                raise serializers.ValidationError(
                    {"is_default": f"{other.first().name!r} is the default; unset it first (one default)"}
                )
        return attrs


class PresenceStatusViewSet(viewsets.ModelViewSet):
    queryset = PresenceStatus.objects.all()
    serializer_class = PresenceStatusSerializer
    permission_classes = [AdminWrites]


# --- Teams -----------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    supervisors = serializers.PrimaryKeyRelatedField(
        many=True, queryset=get_user_model().objects.all(), required=False, help_text="User ids."
    )
    members = serializers.PrimaryKeyRelatedField(
        many=True, source="agents", queryset=Agent.objects.all(), required=False, help_text="Agent ids."
    )

    class Meta:
        model = Team
        fields = ["id", "name", "supervisors", "members"]


class TeamViewSet(viewsets.ModelViewSet):
    serializer_class = TeamSerializer
    permission_classes = [AdminWrites]
    queryset = Team.objects.none()  # for the schema; get_queryset() says who sees what

    def get_queryset(self):
        user = self.request.user
        qs = Team.objects.prefetch_related("supervisors", "agents").order_by("name")
        role = role_of(user)
        if role == Role.ADMIN:
            return qs
        if role == Role.SUPERVISOR:
            return qs.filter(supervisors=user)
        return qs.filter(agents__user=user)

    def perform_destroy(self, instance: Team) -> None:
        queues = list(instance.queues.values_list("name", flat=True)[:5])
        if queues:
            # Without its team a queue would be open to every agent.
            raise InUse(f"team {instance.name!r} serves queues ({', '.join(queues)}); change their team first")
        instance.delete()


# --- Agents ----------------------------------------------------------------------------


class AgentSkillSerializer(serializers.ModelSerializer):
    proficiency = serializers.IntegerField(min_value=1, max_value=5, default=3, help_text="1 (basic) to 5 (expert)")

    class Meta:
        model = AgentSkill
        fields = ["skill", "proficiency"]


class CapacitiesField(serializers.DictField):
    """{channel kind: units} from the agent's capacity rows."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.IntegerField(min_value=1, max_value=1000), **kwargs)

    def get_attribute(self, instance):
        return {c.channel_kind: c.units for c in instance.capacities.all()}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(CHANNEL_KINDS))
        if unknown:
            raise serializers.ValidationError(f"unknown channel kind(s): {', '.join(unknown)}")
        return value


class AgentSerializer(serializers.ModelSerializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z", source="user.username", max_length=150, help_text="The agent's login; a new one is made."
    )
    teams = serializers.PrimaryKeyRelatedField(many=True, queryset=Team.objects.all(), required=False)
    status = serializers.PrimaryKeyRelatedField(
        queryset=PresenceStatus.objects.all(), allow_null=True, required=False, help_text="null: no status (offline)."
    )
    capacity_total = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    capacities = CapacitiesField(required=False, help_text="{channel kind: units}; kinds left out hold nothing.")
    skills = AgentSkillSerializer(many=True, required=False)

    class Meta:
        model = Agent
        fields = [
            "id",
            "username",
            "display_name",
            "teams",
            "status",
            "status_since",
            "capacity_total",
            "capacities",
            "skills",
            "is_active",
        ]
        read_only_fields = ["status_since"]

    def validate_username(self, value: str) -> str:
        if self.instance is not None:
            if value != self.instance.user.username:
                raise serializers.ValidationError("a username is not changed here (the admin's user page does)")
            return value
        if Agent.objects.filter(user__username=value).exists():
            raise serializers.ValidationError(f"{value!r} already is an agent")
        return value

    def validate_skills(self, value):
        ids = [row["skill"].pk for row in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("each skill once")
        return value

    def create(self, validated_data):
        username = validated_data.pop("user")["username"]
        with transaction.atomic():
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                user = get_user_model().objects.create_user(username=username)  # no password: set in the admin
            agent = Agent.objects.create(user=user, display_name=validated_data.get("display_name") or username)
            return self._apply(agent, validated_data)

    def update(self, instance, validated_data):
        validated_data.pop("user", None)
        with transaction.atomic():
            return self._apply(instance, validated_data)

    def _apply(self, agent: Agent, data: dict) -> Agent:
        """Plain fields saved; teams, skills, capacity and status through the
        paths that tell the router (signals and agents.services)."""
        now = timezone.now()
        changed = [f for f in ("display_name", "is_active") if f in data and getattr(agent, f) != data[f]]
        for field in changed:
            setattr(agent, field, data[field])
        if changed:
            agent.save(update_fields=changed)
        if "teams" in data:
            agent.teams.set(data["teams"])
        if "skills" in data:
            wanted = {row["skill"].pk: row["proficiency"] for row in data["skills"]}
            for row in agent.skills.all():
                if row.skill_id not in wanted:
                    row.delete()
                elif row.proficiency != wanted[row.skill_id]:
                    row.proficiency = wanted[row.skill_id]
                    row.save(update_fields=["proficiency"])
            have = set(agent.skills.values_list("skill_id", flat=True))
            for skill_id, level in wanted.items():
                if skill_id not in have:
                    AgentSkill.objects.create(agent=agent, skill_id=skill_id, proficiency=level)
        if "capacities" in data or "capacity_total" in data:
            per_kind = None
            if "capacities" in data:
                per_kind = {c.channel_kind: 0 for c in agent.capacities.all()} | data["capacities"]
            services.set_capacity(agent_id=agent.pk, now=now, total=data.get("capacity_total"), per_kind=per_kind)
        if data.get("status") is not None:
            services.set_status(agent_id=agent.pk, status_id=data["status"].pk, now=now)
        elif "status" in data and agent.status_id is not None:
            agent.status, agent.status_since = None, now
            agent.save(update_fields=["status", "status_since"])
        publish_on_commit(AgentChanged(agent_id=agent.pk))
        return Agent.objects.prefetch_related("teams", "skills", "capacities").get(pk=agent.pk)


class ByCreation(CursorPagination):
    ordering = "pk"
    page_size = 100


class MyStatusSerializer(serializers.Serializer):
    status_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class AgentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Agents with their skills and capacity per channel kind. Deleting is
    not offered: set ``is_active`` false (their history stays theirs)."""

    serializer_class = AgentSerializer
    permission_classes = [AdminWrites]
    pagination_class = ByCreation
    queryset = Agent.objects.none()  # for the schema; get_queryset() says who sees what

    def get_permissions(self):
        if self.action in ("me", "my_status"):
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

    def get_queryset(self):
        user = self.request.user
        qs = Agent.objects.select_related("user").prefetch_related("teams", "skills", "capacities").order_by("pk")
        role = role_of(user)
        if role == Role.ADMIN:
            return qs
        if role == Role.SUPERVISOR:
            return qs.filter(teams__supervisors=user).distinct()
        return qs.filter(user=user)

    def _me(self, request) -> Agent:
        agent = Agent.objects.filter(user=request.user).first()
        if agent is None:
            raise PermissionDenied("you are not an agent")
        return agent

    @extend_schema(request=None, responses=AgentSerializer)
    @action(detail=False, methods=["get"])
    def me(self, request):
        """The agent signed in: status, skills, capacity."""
        agent = self._me(request)
        return Response(AgentSerializer(agent).data)

    @extend_schema(request=MyStatusSerializer, responses=AgentSerializer)
    @action(detail=False, methods=["post"], url_path="me/status")
    def my_status(self, request):
        """Set my own presence status (what the workspace's status menu does)."""
        agent = self._me(request)
        body = MyStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.set_status(agent_id=agent.pk, status_id=body.validated_data["status_id"], now=timezone.now())
        return Response(AgentSerializer(Agent.objects.get(pk=agent.pk)).data)
