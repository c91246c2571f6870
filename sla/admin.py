from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils import timezone

from config.inlines import inline_rows
from sla import configuration
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


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class CustomClosedDateInline(admin.TabularInline):
    model = CustomClosedDate
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "holiday_country", "holiday_subdivision", "updated_at"]
    inlines = [OpeningHoursInline, CustomClosedDateInline]

    def save_model(self, request, obj, form, change) -> None:
        """Saved with its rows in ``save_related``, by the service."""

    def save_related(self, request, form, formsets, change) -> None:
        rows = inline_rows(formsets, OpeningHours, CustomClosedDate)
        configuration.save_calendar(
            calendar=form.instance, hours=rows[OpeningHours], closed_dates=rows[CustomClosedDate]
        )

    def delete_model(self, request, obj) -> None:
        configuration.delete_calendar(calendar=obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for calendar in queryset:
                configuration.delete_calendar(calendar=calendar)


class EscalationActionInline(admin.TabularInline):
    model = EscalationAction
    extra = 0


class PolicyRevisionInline(admin.TabularInline):
    model = PolicyRevision
    extra = 0
    can_delete = False
    fields = ["number", "changed_by", "changed_at", "snapshot"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SlaPolicyForm(forms.ModelForm):
    class Meta:
        model = SlaPolicy
        fields = "__all__"  # noqa: DJ007 (the admin shows every field)

    def clean(self):
        data = super().clean()
        targets = ("first_response_minutes", "next_response_minutes", "resolution_minutes")
        if all(data.get(t) == 0 for t in targets):
            raise forms.ValidationError(
                "every target is 0 minutes, so this policy measures nothing: set at least one target "
                "(0 turns a single target off)"
            )
        return data


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    form = SlaPolicyForm
    list_display = [
        "name",
        "order",
        "is_active",
        "calendar",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "warning_percent",
    ]
    list_editable = ["order", "is_active"]
    filter_horizontal = ["match_queues"]
    inlines = [EscalationActionInline, PolicyRevisionInline]

    def save_model(self, request, obj, form, change) -> None:
        """Saved with its queues and actions in ``save_related``, by the service."""

    def save_related(self, request, form, formsets, change) -> None:
        configuration.save_policy(
            policy=form.instance,
            match_queues=form.cleaned_data["match_queues"] if "match_queues" in form.fields else None,
            actions=inline_rows(formsets, EscalationAction)[EscalationAction],
            changed_by=request.user,
            now=timezone.now(),
        )

    def delete_model(self, request, obj) -> None:
        configuration.delete_policy(policy=obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for policy in queryset:
                configuration.delete_policy(policy=policy)


@admin.register(Clock)
class ClockAdmin(admin.ModelAdmin):
    list_display = ["case", "target", "status", "policy", "due_at", "warned_at", "breached_at", "stopped_at"]
    list_filter = ["status", "target", "policy"]
    raw_id_fields = ["case"]
    readonly_fields = [f.name for f in Clock._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Promise)
class PromiseAdmin(admin.ModelAdmin):
    list_display = ["case", "agent", "due_at", "channel_kind", "status", "reminded_at", "missed_at", "kept_at"]
    list_filter = ["status", "channel_kind"]
    raw_id_fields = ["case", "customer", "agent"]
    readonly_fields = ["reminded_at", "missed_at", "kept_at", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # agents make promises on a case (API), which reminds and records them
