from django.contrib import admin

from audit.models import ConfigChange


@admin.register(ConfigChange)
class ConfigChangeAdmin(admin.ModelAdmin):
    """Read-only: the record of who changed what."""

    list_display = ["at", "actor_name", "action", "model", "object_repr", "via"]
    list_filter = ["action", "model"]
    search_fields = ["object_repr", "actor_name", "object_id"]
    readonly_fields = [f.name for f in ConfigChange._meta.fields]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
