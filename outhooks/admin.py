from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from outhooks import addresses
from outhooks.models import Delivery, Subscription


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = ["url", "events", "secret", "active", "description"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        refusal = addresses.url_refusal(url)
        if refusal:
            raise forms.ValidationError(refusal)
        return url


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["url", "events", "active", "created_at", "history"]
    list_filter = ["active"]

    @admin.display(description="Deliveries")
    def history(self, obj: Subscription) -> str:
        url = reverse("admin:outhooks_delivery_changelist") + f"?subscription__id__exact={obj.pk}"
        return format_html('<a href="{}">history</a>', url)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery history: read-only."""

    list_display = ["pk", "event", "subscription", "status", "attempts", "response_code", "created_at"]
    list_filter = ["status", "event", "subscription"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    list_select_related = ["subscription"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
