from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join

from audit.actions import ACTIVATE, DEACTIVATE
from config.inlines import inline_rows
from routing import configuration, explain
from routing.config_checks import queue_warnings, rule_problems
from routing.models import (
    DeclineReason,
    Explanation,
    Offer,
    OverflowStep,
    Queue,
    QueueSkill,
    RoutingRule,
    RoutingRuleSkill,
    RoutingSettings,
)


def _set_active(value: bool, description: str):
    """Like ``audit.actions.ACTIVATE``/``DEACTIVATE`` (same names), through the service."""

    @admin.action(description=description)
    def act(modeladmin, request, queryset) -> None:
        changed = configuration.set_queues_active(queues=queryset, is_active=value)
        modeladmin.message_user(request, f"{changed} changed (recorded in the configuration audit).", messages.SUCCESS)

    act.__name__ = f"set_is_active_{str(value).lower()}"
    return act


activate_queues = _set_active(True, ACTIVATE.short_description)
deactivate_queues = _set_active(False, DEACTIVATE.short_description)


class QueueSkillInline(admin.TabularInline):
    model = QueueSkill
    extra = 0
    autocomplete_fields = ["skill"]


class OverflowStepInline(admin.TabularInline):
    model = OverflowStep
    fk_name = "queue"
    extra = 0
    autocomplete_fields = ["target_queue", "target_team"]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "priority",
        "channel_kinds",
        "team",
        "agent_selection",
        "offer_timeout_seconds",
        "auto_accept",
        "surveys_enabled",
        "is_active",
    ]
    list_filter = ["team", "agent_selection", "auto_accept", "surveys_enabled", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["agents"]
    inlines = [QueueSkillInline, OverflowStepInline]
    actions = [activate_queues, deactivate_queues]

    def save_model(self, request, obj, form, change) -> None:
        """Saved with its members and rows in ``save_related``, by the service."""

    def save_related(self, request, form, formsets, change) -> None:
        """The queue with its members and inline rows, through the service;
        then the admin is told when no agent can serve it (a warning: agents
        may come later)."""
        rows = inline_rows(formsets, QueueSkill, OverflowStep)
        configuration.save_queue(
            queue=form.instance,
            agents=form.cleaned_data["agents"] if "agents" in form.fields else None,
            required_skills=rows[QueueSkill],
            overflow_steps=rows[OverflowStep],
        )
        for warning in queue_warnings(form.instance):
            messages.warning(request, warning)

    def delete_model(self, request, obj) -> None:
        configuration.delete_queue(queue=obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for queue in queryset:
                configuration.delete_queue(queue=queue)


class RoutingRuleSkillInline(admin.TabularInline):
    model = RoutingRuleSkill
    extra = 0
    autocomplete_fields = ["skill"]


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = "__all__"  # noqa: DJ007 (the admin shows every field)

    def clean(self):
        data = super().clean()
        problems = rule_problems(
            match_channel_kinds=data.get("match_channel_kinds"),
            match_channel=data.get("match_channel"),
            match_customer_tier=data.get("match_customer_tier") or "",
            order=data.get("order"),
            is_active=bool(data.get("is_active")),
            pk=self.instance.pk,
        )
        if problems:
            raise forms.ValidationError(problems)
        return data


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    actions = [ACTIVATE, DEACTIVATE]
    list_display = [
        "name",
        "order",
        "queue",
        "set_priority",
        "match_channel_kinds",
        "match_keywords",
        "match_language",
        "is_active",
    ]
    list_editable = ["order", "is_active"]
    list_filter = ["queue", "is_active"]
    search_fields = ["name", "match_keywords"]
    inlines = [RoutingRuleSkillInline]

    def save_model(self, request, obj, form, change) -> None:
        """Saved with its skills in ``save_related``, by the service."""

    def save_related(self, request, form, formsets, change) -> None:
        configuration.save_rule(rule=form.instance, skills=inline_rows(formsets, RoutingRuleSkill)[RoutingRuleSkill])

    def delete_model(self, request, obj) -> None:
        configuration.delete_rule(rule=obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for rule in queryset:
                configuration.delete_rule(rule=rule)


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["pk", "case", "agent", "status", "created_at", "expires_at", "decline_reason"]
    list_filter = ["status", "channel_kind"]
    search_fields = ["agent__display_name", "case__pk"]
    raw_id_fields = ["case", "agent"]
    date_hierarchy = "created_at"
    readonly_fields = ["why"]

    @admin.display(description="Why this agent")
    def why(self, offer: Offer) -> str:
        kept = Explanation.objects.filter(offer=offer).first()
        if kept is None:
            return "No explanation kept."
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((line,) for line in explain.lines(kept.data)))
        )


@admin.register(RoutingSettings)
class RoutingSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "aging_seconds", "missed_offers_limit", "away_status", "fair_cap_assignments"]

    def has_add_permission(self, request) -> bool:
        return not RoutingSettings.objects.exists()

    def save_model(self, request, obj, form, change) -> None:
        configuration.save_routing_settings(settings=obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeclineReason)
class DeclineReasonAdmin(admin.ModelAdmin):
    list_display = ["label", "order", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["label"]
