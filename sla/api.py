"""SLA over REST: policies, calendars (hours, holidays, custom dates),
promises, and the clocks of a case. Admins change configuration; anyone
signed in reads it; agents make promises on cases they may see."""

from __future__ import annotations

import holidays as holiday_library
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from agents.models import Agent, Role
from agents.selectors import role_of
from cases.selectors import visible_cases
from config.api import Invalid, NotFound
from sla import configuration, selectors
from sla import promises as promise_services
from sla.models import (
    BusinessCalendar,
    Clock,
    CustomClosedDate,
    EscalationAction,
    OpeningHours,
    PolicyRevision,
    Promise,
    SlaPolicy,
)


class AdminWritesOthersRead(permissions.BasePermission):
    message = "only admins change SLA configuration"

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return role_of(request.user) is not None
        return role_of(request.user) == Role.ADMIN


# --- Calendars ----------------------------------------------------------------------


class OpeningHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]


class ClosedDateSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomClosedDate
        fields = ["date", "name"]


class CalendarSerializer(serializers.ModelSerializer):
    hours = OpeningHoursSerializer(many=True, required=False)
    closed_dates = ClosedDateSerializer(many=True, required=False)

    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "time_zone", "holiday_country", "holiday_subdivision", "hours", "closed_dates"]

    def validate(self, attrs):
        country = attrs.get("holiday_country", getattr(self.instance, "holiday_country", ""))
        subdivision = attrs.get("holiday_subdivision", getattr(self.instance, "holiday_subdivision", ""))
        if country:
            country = country.upper()
            attrs["holiday_country"] = country
            if subdivision and subdivision not in holiday_library.list_supported_countries().get(country, []):
                raise ValidationError({"holiday_subdivision": f"{country} has no subdivision {subdivision!r}"})
        elif subdivision:
            raise ValidationError({"holiday_subdivision": "a subdivision needs a country"})
        dates = [d["date"] for d in attrs.get("closed_dates", [])]
        if len(dates) != len(set(dates)):
            raise ValidationError({"closed_dates": "each date once"})
        return attrs


def _fields(serializer: serializers.ModelSerializer, instance, *children: str) -> tuple[object, dict]:
    """The instance with the validated plain fields set, and the validated
    children and many-to-many lists (``None`` where a change leaves them out)."""
    data = dict(serializer.validated_data)
    creating = serializer.instance is None
    related = {name: data.pop(name, [] if creating else None) for name in children}
    for field, value in data.items():
        setattr(instance, field, value)
    return instance, related


def _rows(model, rows: list[dict] | None) -> list | None:
    return None if rows is None else [model(**row) for row in rows]


class CalendarViewSet(viewsets.ModelViewSet):
    queryset = BusinessCalendar.objects.prefetch_related("hours", "closed_dates")
    serializer_class = CalendarSerializer
    permission_classes = [AdminWritesOthersRead]

    def perform_create(self, serializer: CalendarSerializer) -> None:
        self._save(serializer, BusinessCalendar())

    def perform_update(self, serializer: CalendarSerializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: CalendarSerializer, calendar: BusinessCalendar) -> None:
        calendar, related = _fields(serializer, calendar, "hours", "closed_dates")
        serializer.instance = configuration.save_calendar(
            calendar=calendar,
            hours=_rows(OpeningHours, related["hours"]),
            closed_dates=_rows(CustomClosedDate, related["closed_dates"]),
        )

    def perform_destroy(self, instance: BusinessCalendar) -> None:
        configuration.delete_calendar(calendar=instance)

    @extend_schema(parameters=[OpenApiParameter("year", int)])
    @action(detail=True, methods=["get"])
    def holidays(self, request, pk=None):
        """The dates it is closed in a year: the library's holidays and custom dates."""
        calendar = self.get_object()
        try:
            year = int(request.query_params.get("year") or timezone.now().year)
        except ValueError:
            raise Invalid("year must be a number") from None
        if not 1900 <= year <= 2200:
            raise Invalid("year must be between 1900 and 2200")
        out = []
        if calendar.holiday_country:
            found = holiday_library.country_holidays(
                calendar.holiday_country, subdiv=calendar.holiday_subdivision or None, years=year
            )
            out += [{"date": d.isoformat(), "name": name, "source": "holidays"} for d, name in sorted(found.items())]
        out += [
            {"date": d.date.isoformat(), "name": d.name, "source": "custom"}
            for d in calendar.closed_dates.filter(date__year=year)
        ]
        return Response(sorted(out, key=lambda row: row["date"]))

    @action(detail=True, methods=["get"])
    def opening(self, request, pk=None):
        """Open now, and when it next opens (the web chat widget shows this)."""
        calendar = self.get_object()
        return Response(selectors.opening_state(calendar.pk, timezone.now()).as_dict())


# --- Policies ------------------------------------------------------------------------


class ActionSerializer(serializers.ModelSerializer):
    class Meta:
        model = EscalationAction
        fields = ["threshold", "kind", "queue", "lead"]

    def validate(self, attrs):
        if attrs["kind"] == EscalationAction.Kind.MOVE_TO_QUEUE and not attrs.get("queue"):
            raise ValidationError({"queue": "moving to an escalation queue needs the queue"})
        return attrs


class PolicySerializer(serializers.ModelSerializer):
    actions = ActionSerializer(many=True, required=False)
    revision = serializers.SerializerMethodField()

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "order",
            "is_active",
            "match_priorities",
            "match_customer_tiers",
            "match_channel_kinds",
            "match_queues",
            "calendar",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "warning_percent",
            "on_reopen",
            "actions",
            "revision",
        ]

    def get_revision(self, policy) -> int | None:
        last = policy.revisions.order_by("-number").first()
        return last.number if last else None

    def validate_match_priorities(self, value):
        if not isinstance(value, list) or any(not isinstance(p, int) or not 1 <= p <= 4 for p in value):
            raise ValidationError("a list of priorities 1–4")
        return value

    def validate_match_customer_tiers(self, value):
        from cases.models import Customer

        if not isinstance(value, list) or any(t not in Customer.Tier.values for t in value):
            raise ValidationError(f"a list of tiers among {', '.join(Customer.Tier.values)}")
        return value

    def validate_warning_percent(self, value):
        if not 1 <= value <= 99:
            raise ValidationError("between 1 and 99")
        return value


class RevisionSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.username", default=None, read_only=True)

    class Meta:
        model = PolicyRevision
        fields = ["number", "snapshot", "changed_by", "changed_at"]


class PolicyViewSet(viewsets.ModelViewSet):
    queryset = SlaPolicy.objects.prefetch_related("actions", "match_queues")
    serializer_class = PolicySerializer
    permission_classes = [AdminWritesOthersRead]

    def perform_create(self, serializer: PolicySerializer) -> None:
        self._save(serializer, SlaPolicy())

    def perform_update(self, serializer: PolicySerializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: PolicySerializer, policy: SlaPolicy) -> None:
        policy, related = _fields(serializer, policy, "match_queues", "actions")
        serializer.instance = configuration.save_policy(
            policy=policy,
            match_queues=related["match_queues"],
            actions=_rows(EscalationAction, related["actions"]),
            changed_by=self.request.user,
            now=timezone.now(),
        )

    def perform_destroy(self, instance: SlaPolicy) -> None:
        configuration.delete_policy(policy=instance)

    @extend_schema(responses=RevisionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def revisions(self, request, pk=None):
        """The policy's recorded changes, newest first."""
        policy = self.get_object()
        return Response(RevisionSerializer(policy.revisions.select_related("changed_by"), many=True).data)


# --- Clocks of a case ---------------------------------------------------------------------


class ClockSerializer(serializers.ModelSerializer):
    policy = serializers.CharField(source="policy.name", default=None, read_only=True)

    class Meta:
        model = Clock
        fields = [
            "id",
            "case",
            "policy",
            "target",
            "status",
            "target_seconds",
            "consumed_seconds",
            "started_at",
            "due_at",
            "warn_at",
            "warned_at",
            "breached_at",
            "stopped_at",
        ]


class ClockViewSet(viewsets.ReadOnlyModelViewSet):
    """Clocks of a case: ``?case=<id>`` (required), for a case you may see."""

    serializer_class = ClockSerializer
    pagination_class = None
    queryset = Clock.objects.none()  # the API schema's model; get_queryset says what one sees

    @extend_schema(parameters=[OpenApiParameter("case", int, required=True)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        visible = visible_cases(self.request.user).values("pk")
        qs = Clock.objects.filter(case__in=visible).select_related("policy")
        if self.action == "list":
            case = self.request.query_params.get("case", "")
            if not (case.isascii() and case.isdigit() and len(case) <= 18):
                raise Invalid("?case=<id> is required")
            qs = qs.filter(case_id=int(case))
        return qs.order_by("started_at", "pk")


# --- Promises -------------------------------------------------------------------------------


class PromiseSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.display_name", default=None, read_only=True)

    class Meta:
        model = Promise
        fields = [
            "id",
            "case",
            "customer",
            "agent",
            "due_at",
            "remind_at",
            "channel_kind",
            "note",
            "status",
            "reminded_at",
            "missed_at",
            "kept_at",
            "created_at",
        ]
        read_only_fields = [f for f in fields if f not in ("case", "due_at", "channel_kind", "note")]


class PromiseInput(serializers.Serializer):
    case = serializers.IntegerField(min_value=1)
    due_at = serializers.DateTimeField()
    channel_kind = serializers.CharField(max_length=16)
    note = serializers.CharField(max_length=promise_services.MAX_NOTE, required=False, allow_blank=True, default="")


class PromiseViewSet(viewsets.ReadOnlyModelViewSet):
    """Promises on cases you may see; ``?case=<id>`` or ``?customer=<id>`` narrows."""

    serializer_class = PromiseSerializer
    queryset = Promise.objects.none()  # the API schema's model; get_queryset says what one sees

    def get_queryset(self):
        qs = Promise.objects.filter(case__in=visible_cases(self.request.user).values("pk")).select_related("agent")
        for param in ("case", "customer"):
            value = self.request.query_params.get(param)
            if value:
                if not (value.isascii() and value.isdigit() and len(value) <= 18):
                    raise Invalid(f"{param} must be an id")
                qs = qs.filter(**{f"{param}_id": int(value)})
        return qs.order_by("due_at", "pk")

    @extend_schema(request=PromiseInput, responses=PromiseSerializer)
    def create(self, request):
        body = PromiseInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not visible_cases(request.user).filter(pk=data["case"]).exists():
            raise NotFound(f"no case {data['case']}")
        agent = Agent.objects.filter(user=request.user).first()
        promise = promise_services.make_promise(
            case_id=data["case"],
            agent=agent,
            due_at=data["due_at"],
            channel_kind=data["channel_kind"],
            note=data["note"],
            now=timezone.now(),
            actor=request.user,
        )
        return Response(PromiseSerializer(promise).data, status=201)

    @extend_schema(request=None, responses=PromiseSerializer)
    @action(detail=True, methods=["post"])
    def keep(self, request, pk=None):
        """The promise was kept (done)."""
        promise = self.get_object()
        agent = Agent.objects.filter(user=request.user).first()
        promise = promise_services.close_promise(
            promise_id=promise.pk, kept=True, now=timezone.now(), agent=agent, actor=request.user
        )
        return Response(PromiseSerializer(promise).data)

    @extend_schema(request=None, responses=PromiseSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        promise = self.get_object()
        promise = promise_services.close_promise(
            promise_id=promise.pk, kept=False, now=timezone.now(), actor=request.user
        )
        return Response(PromiseSerializer(promise).data)


class QueueOpeningViewSet(viewsets.ViewSet):
    """Opening hours of queues: open now, next opening (for the web chat widget)."""

    @extend_schema(responses={200: dict}, parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
    def retrieve(self, request, pk=None):
        from routing.models import Queue

        if (
            not (str(pk).isascii() and str(pk).isdigit() and len(str(pk)) <= 18)
            or not Queue.objects.filter(pk=int(pk)).exists()
        ):
            raise NotFound(f"no queue {pk}")
        return Response(selectors.queue_opening(int(pk), timezone.now()).as_dict())
