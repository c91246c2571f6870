from django.contrib import admin

from calls.models import CallSession


@admin.register(CallSession)
class CallSessionAdmin(admin.ModelAdmin):
    """Written from the telephony providers' call events only; admins look,
    never edit."""

    list_display = ["call_id", "channel", "case", "direction", "from_number", "state", "started_at", "duration_seconds"]
    list_filter = ["state", "direction"]
    search_fields = ["call_id", "from_number", "to_number"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
