"""Normalizing customer identities so one person has one key per kind:
email lower-cased, phone numbers in E.164, platform ids trimmed."""

from __future__ import annotations

import re

import phonenumbers
from django.db import models


class IdentityKind(models.TextChoices):
    EMAIL = "email", "Email address"
    PHONE = "phone", "Phone number (SMS, WhatsApp, calls)"
    MESSENGER = "messenger", "Messenger user id"
    INSTAGRAM = "instagram", "Instagram user id"
    TELEGRAM = "telegram", "Telegram user id"
    TWITTER = "twitter", "X user id"
    FACEBOOK = "facebook", "Facebook user id"
    WEB = "web", "Web chat visitor"
    EXTERNAL = "external", "External system id"


class InvalidIdentity(ValueError):
    pass


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def normalize_identity(kind: str, address: str, *, default_region: str | None = None) -> str:
    """Return the canonical form of ``address`` for ``kind``, or raise InvalidIdentity."""
    if kind not in IdentityKind.values:
        raise InvalidIdentity(f"unknown identity kind {kind!r}; expected one of {', '.join(IdentityKind.values)}")
    value = (address or "").strip()
    if not value:
        raise InvalidIdentity(f"empty {kind} address")
    if kind == IdentityKind.EMAIL:
        value = value.lower()
        if value.startswith("mailto:"):
            value = value[len("mailto:") :]
        if not _EMAIL.match(value):
            raise InvalidIdentity(f"not an email address: {address!r}")
        return value
    if kind == IdentityKind.PHONE:
        for prefix in ("whatsapp:", "tel:", "sms:"):
            if value.lower().startswith(prefix):
                value = value[len(prefix) :]
        try:
            number = phonenumbers.parse(value, default_region)
        except phonenumbers.NumberParseException as exc:
            raise InvalidIdentity(f"not a phone number: {address!r} ({exc})") from exc
        if not phonenumbers.is_possible_number(number):
            raise InvalidIdentity(f"not a possible phone number: {address!r}")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(value) > 255:
        raise InvalidIdentity(f"{kind} id longer than 255 characters")
    return value
