from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from audit.actions import ACTIVATE, DEACTIVATE
from routing import explain
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
    actions = [ACTIVATE, DEACTIVATE]

    def after_bulk_change(self) -> None:
        from routing.config_api import forget_kept_state

        forget_kept_state()

    def save_related(self, request, form, formsets, change):
        """After the inlines: the router reads the queue anew, and the admin
        is told when no agent can serve it (a warning: agents may come later)."""
        super().save_related(request, form, formsets, change)
        self.after_bulk_change()
        for warning in queue_warnings(form.instance):
            messages.warning(request, warning)


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

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeclineReason)
class DeclineReasonAdmin(admin.ModelAdmin):
    list_display = ["label", "order", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["label"]
