from django.contrib import admin, messages
from django.utils import timezone

from connectors import services
from connectors.email.models import EmailAttachment, EmailDetail, MailboxState
from connectors.models import Channel, InboundEvent
from connectors.outbound import DeliveryAttempt


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "kind", "provider", "default_queue", "is_active"]
    list_filter = ["kind", "provider", "is_active"]
    search_fields = ["name", "key"]


@admin.action(description="Replay the selected events")
def replay(modeladmin, request, queryset):
    done = services.replay_events(event_ids=list(queryset.values_list("pk", flat=True)), now=timezone.now())
    failed = sum(1 for e in done if e.status == InboundEvent.Status.FAILED)
    modeladmin.message_user(
        request,
        f"Replayed {len(done)} event(s); {failed} failed again.",
        messages.WARNING if failed else messages.SUCCESS,
    )


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["pk", "channel", "status", "dedupe_key", "received_at", "attempts", "error"]
    list_filter = ["status", "channel"]
    search_fields = ["dedupe_key", "error"]
    readonly_fields = [
        "channel",
        "received_at",
        "body_text",
        "headers",
        "remote_addr",
        "dedupe_key",
        "status",
        "error",
        "traceback",
        "attempts",
        "processed_at",
        "message",
    ]
    exclude = ["body"]
    actions = [replay]
    date_hierarchy = "received_at"

    @admin.display(description="body")
    def body_text(self, obj):
        return bytes(obj.body).decode("utf-8", errors="replace")

    def has_add_permission(self, request):
        return False


class _ReadOnly(admin.ModelAdmin):
    """Written by the mail connector only; admins look, never edit."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EmailDetail)
class EmailDetailAdmin(_ReadOnly):
    list_display = ["message_id", "from_address", "subject", "automated", "event"]
    search_fields = ["message_id", "from_address", "subject"]


@admin.register(EmailAttachment)
class EmailAttachmentAdmin(_ReadOnly):
    list_display = ["name", "content_type", "size", "inline", "skipped", "event"]
    list_filter = ["inline", "content_type"]


@admin.register(MailboxState)
class MailboxStateAdmin(_ReadOnly):
    list_display = ["channel", "folder", "last_uid", "polled_at", "error"]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(_ReadOnly):
    """Outbound sends being tried again (or given up): what failed and when
    the next try is."""

    list_display = ["message", "attempts", "next_try_at", "last_error", "updated_at"]
