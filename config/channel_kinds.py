"""Channel kinds: the ways customers reach the company. A leaf module that
every app may import (agents' capacity, cases, queues, connectors)."""

from django.db import models


class ChannelKind(models.TextChoices):
    WEB_CHAT = "web_chat", "Web chat"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    MESSENGER = "messenger", "Messenger"
    INSTAGRAM = "instagram", "Instagram"
    TELEGRAM = "telegram", "Telegram"
    SOCIAL = "social", "Public social post"
    VOICE = "voice", "Phone call"
    API = "api", "API / generic"


CHANNEL_KINDS = [kind.value for kind in ChannelKind]
