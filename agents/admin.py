from django.contrib import admin

from agents.models import Agent, AgentCapacity, AgentSkill, PresenceStatus, Skill, Team
from audit.actions import ACTIVATE, DEACTIVATE


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    extra = 0
    autocomplete_fields = ["skill"]


class AgentCapacityInline(admin.TabularInline):
    model = AgentCapacity
    extra = 0


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "status", "status_since", "present_until", "capacity_total", "is_active"]
    list_filter = ["status", "teams", "is_active", "skills__skill"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["teams"]
    inlines = [AgentSkillInline, AgentCapacityInline]
    raw_id_fields = ["user"]
    actions = [ACTIVATE, DEACTIVATE]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "kind", "language_code"]
    list_filter = ["kind"]
    search_fields = ["name", "label", "language_code"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["supervisors"]


@admin.register(PresenceStatus)
class PresenceStatusAdmin(admin.ModelAdmin):
    list_display = ["name", "channel_kinds", "is_default", "order"]
    list_editable = ["order"]
    search_fields = ["name"]
