"""The provider registry: one module per provider, one entry here each."""

from __future__ import annotations

from connectors.providers.base import PayloadInvalid, Provider, SendResult, SignatureInvalid
from connectors.providers.bot_handoff import BotHandoffProvider
from connectors.providers.email import EmailProvider
from connectors.providers.generic_json import GenericJsonProvider
from connectors.providers.webchat import WebChatProvider

PROVIDERS: dict[str, Provider] = {
    GenericJsonProvider.name: GenericJsonProvider(),
    EmailProvider.name: EmailProvider(),
    WebChatProvider.name: WebChatProvider(),
    BotHandoffProvider.name: BotHandoffProvider(),
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
