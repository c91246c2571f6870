from django.contrib import admin

from routing.models import Offer, Queue, QueueSkill, RoutingRule, RoutingRuleSkill


class QueueSkillInline(admin.TabularInline):
    model = QueueSkill
    extra = 0
    autocomplete_fields = ["skill"]


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
        "is_active",
    ]
    list_filter = ["team", "agent_selection", "auto_accept", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["agents"]
    inlines = [QueueSkillInline]


class RoutingRuleSkillInline(admin.TabularInline):
    model = RoutingRuleSkill
    extra = 0
    autocomplete_fields = ["skill"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
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
