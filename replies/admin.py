from django.contrib import admin

from replies.models import Template


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "name", "kind", "language", "channel_kinds", "is_active", "updated_at"]
    list_filter = ["kind", "is_active", "language"]
    search_fields = ["name", "shortcut", "body"]
    readonly_fields = ["created_at", "updated_at"]
