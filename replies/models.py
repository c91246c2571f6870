"""The shared library of response templates and knowledge snippets: the same
words on every channel, so the chat and the email say the same thing."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from config.channel_kinds import CHANNEL_KINDS
from replies.rendering import UnknownVariable, variables_in


class Template(models.Model):
    class Kind(models.TextChoices):
        TEMPLATE = "template", "Response template"
        SNIPPET = "snippet", "Knowledge snippet"

    name = models.CharField(max_length=200)
    shortcut = models.SlugField(max_length=80, unique=True, help_text='What agents type to find it, e.g. "refund-ok".')
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEMPLATE)
    body = models.TextField(
        help_text="Text with variables: {{customer.first_name}}, {{customer.name}}, {{agent.first_name}}, "
        "{{agent.name}}, {{case.id}}, {{queue.name}}."
    )
    channel_kinds = models.JSONField(
        default=list, blank=True, help_text='Channel kinds it fits, e.g. ["email"]; empty: every channel.'
    )
    language = models.CharField(max_length=16, blank=True, help_text="e.g. es; blank: any language.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"{self.name} ({self.shortcut})"

    def clean(self) -> None:
        errors = {}
        try:
            variables_in(self.body or "")
        except UnknownVariable as exc:
            errors["body"] = str(exc)
        kinds = self.channel_kinds
        if not isinstance(kinds, list) or any(k not in CHANNEL_KINDS for k in kinds):
            errors["channel_kinds"] = "a list of channel kinds: " + ", ".join(CHANNEL_KINDS)
        if errors:
            raise ValidationError(errors)

    def fits(self, channel_kind: str) -> bool:
        return not self.channel_kinds or channel_kind in self.channel_kinds
