"""The provider registry: one module per provider, one entry here each."""

from __future__ import annotations

from connectors.providers.base import PayloadInvalid, Provider, SendResult, SignatureInvalid
from connectors.providers.bot_handoff import BotHandoffProvider
from connectors.providers.email import EmailProvider
from connectors.providers.generic_json import GenericJsonProvider
from connectors.providers.meta import MetaProvider
from connectors.providers.telegram import TelegramProvider
from connectors.providers.telephony_json import TelephonyJsonProvider
from connectors.providers.twilio import TwilioProvider
from connectors.providers.webchat import WebChatProvider
from connectors.providers.x_social import XSocialProvider

PROVIDERS: dict[str, Provider] = {
    GenericJsonProvider.name: GenericJsonProvider(),
    EmailProvider.name: EmailProvider(),
    WebChatProvider.name: WebChatProvider(),
    BotHandoffProvider.name: BotHandoffProvider(),
    TwilioProvider.name: TwilioProvider(),
    TelephonyJsonProvider.name: TelephonyJsonProvider(),
    MetaProvider.name: MetaProvider(),
    TelegramProvider.name: TelegramProvider(),
    XSocialProvider.name: XSocialProvider(),
}


def provider_for(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise LookupError(f"no provider {name!r}; known: {', '.join(sorted(PROVIDERS))}") from None


def provider_choices() -> list[tuple[str, str]]:
    return [(name, provider.label) for name, provider in sorted(PROVIDERS.items())]


__all__ = [
    "PROVIDERS",
    "PayloadInvalid",
    "Provider",
    "SendResult",
    "SignatureInvalid",
    "provider_choices",
    "provider_for",
]
