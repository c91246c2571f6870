from django.contrib import admin

from surveys.models import Survey


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["pk", "case", "agent", "queue", "channel_kind", "sent_at", "score", "answered_via", "answered_at"]
    list_filter = ["channel_kind", "score", "answered_via"]
    raw_id_fields = ["case", "customer", "agent", "queue", "message"]
    readonly_fields = ["token", "sent_at", "resolved_at", "answered_at", "score", "comment", "answered_via"]

    def has_add_permission(self, request) -> bool:
        return False  # surveys are sent by resolutions, not typed in
