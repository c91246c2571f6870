from django.contrib import admin

from cases.models import Case, CaseEvent, CaseSkill, Customer, CustomerMerge, Identity, Message


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["pk", "display_name", "tier", "language", "created_at"]
    list_filter = ["tier", "language"]
    search_fields = ["display_name", "identities__address"]
    inlines = [IdentityInline]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["direction", "text", "author_agent", "delivery_status", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    fields = ["created_at", "kind", "agent", "data"]
    readonly_fields = fields
    can_delete = False


class CaseSkillInline(admin.TabularInline):
    model = CaseSkill
    extra = 0


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "subject",
        "status",
        "channel_kind",
        "queue",
        "priority",
        "assignee",
        "customer",
        "created_at",
    ]
    list_filter = ["status", "channel_kind", "queue", "priority"]
    search_fields = ["pk", "subject", "customer__display_name", "thread_key"]
    raw_id_fields = ["customer", "assignee", "channel"]
    date_hierarchy = "created_at"
    inlines = [CaseSkillInline, MessageInline, CaseEventInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "case", "direction", "channel_kind", "delivery_status", "created_at"]
    list_filter = ["direction", "channel_kind", "delivery_status"]
    search_fields = ["text", "provider_message_id"]
    raw_id_fields = ["case", "author_agent", "sender_identity", "channel"]


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    """Merges are made and undone through the API (recorded on the timeline);
    here they are looked at."""

    list_display = ["pk", "source", "target", "actor", "created_at", "undone_at"]
    list_filter = ["undone_at"]
    readonly_fields = [f.name for f in CustomerMerge._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
