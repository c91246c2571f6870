"""Meta: WhatsApp Cloud API, Messenger, Instagram messaging and Page comments.

One provider for every Meta product; a channel is one WhatsApp business
number, one Facebook Page or one Instagram account, its kind says which.
Configure at Meta the callback URL ``https://<host>/hooks/<channel-key>/``
and the verify token ``config["verify_token"]``; the channel's ``secret`` is
the app secret (it signs every POST: ``X-Hub-Signature-256``).

- ``GET``: the verification handshake (``hub.mode=subscribe``,
  ``hub.verify_token``) answers ``hub.challenge`` as plain text, or 403.
- ``POST``: ``object`` ``whatsapp_business_account`` (``entry[].changes[]
  .value`` with ``messages``, ``contacts`` and ``statuses``), ``page`` and
  ``instagram`` (``entry[].messaging[]``: messages, postbacks, echoes,
  deliveries, reads; ``entry[].changes[]`` field ``feed``: Page comments).
  One call carries many entries and messages: each becomes its own
  normalized message with its own id, stored once however often it comes.

Thread keys say where a reply goes (see ``meta_send``)::

    whatsapp:<phone_number_id>:<wa_id>    messenger:<page_id>:<psid>
    instagram:<account_id>:<igsid>        fbpost:<post_id>
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from cases.normalized import NormalizedMessage
from connectors.providers.base import (
    PayloadInvalid,
    SendResult,
    SignatureInvalid,
    hmac_sha256_hex,
    signatures_match,
)
from connectors.providers.base import header as _header
from connectors.providers.meta_fields import Skip, as_dict, ignored
from connectors.providers.meta_pages import page_entry
from connectors.providers.meta_whatsapp import whatsapp_entry

SIGNATURE_HEADER = "X-Hub-Signature-256"
OBJECTS = {"whatsapp_business_account", "page", "instagram"}


def sign(secret: str, body: bytes) -> str:
    """The header value Meta puts on a body signed with the app secret."""
    return f"sha256={hmac_sha256_hex(secret, body)}"


class MetaProvider:
    name = "meta"
    label = "Meta (WhatsApp Cloud API, Messenger, Instagram, Page comments)"
    accepted_status = 200  # Meta counts any other answer as a failed delivery and sends it again

    # -- receiving -----------------------------------------------------------

    def handshake(self, *, channel, params: Mapping[str, str]) -> tuple[int, str]:
        """Meta's ``GET`` verification of the callback URL: (status, plain-text body)."""
        token = str((channel.config or {}).get("verify_token") or "")
        challenge = params.get("hub.challenge") or ""
        if (
            token
            and params.get("hub.mode") == "subscribe"
            and signatures_match(token, params.get("hub.verify_token") or "")
            and 0 < len(challenge) <= 200
        ):
            return 200, challenge
        return 403, "verification failed: hub.mode must be subscribe with this channel's verify token"

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        given = _header(headers, SIGNATURE_HEADER).strip()
        if not given:
            raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
        if not signatures_match(sign(channel.secret, body), given):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")

    def parse(self, body: bytes) -> dict:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadInvalid(f"body is not JSON: {exc}") from None
        except RecursionError:
            raise PayloadInvalid("body is not JSON this service accepts: nested too deeply") from None
        if not isinstance(payload, dict):
            raise PayloadInvalid("body must be a JSON object")
        if payload.get("object") not in OBJECTS:
            raise PayloadInvalid(f"field 'object' must be one of {', '.join(sorted(OBJECTS))}")
        if not isinstance(payload.get("entry"), list):
            raise PayloadInvalid("field 'entry' must be a list")
        return payload

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        """A call carries many messages: the call is deduped by its body, each
        message by its own id when it is stored (``Message`` is unique per
        channel and provider id), so a batch delivered again stores nothing."""
        self.parse(body)
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        payload = self.parse(bytes(event.body))
        out: list[NormalizedMessage] = []
        for index, entry in enumerate(payload["entry"][:1000]):
            try:
                entry = as_dict(entry, "entry")
                if payload["object"] == "whatsapp_business_account":
                    out.extend(whatsapp_entry(channel, entry))
                else:
                    out.extend(page_entry(channel, entry, instagram=payload["object"] == "instagram"))
            except Skip as exc:
                out.append(ignored(channel, f"entry-{index}", str(exc)))
        return out

    # -- replying --------------------------------------------------------------

    def send(self, *, channel, message) -> SendResult:
        from connectors.providers.meta_send import send

        return send(channel=channel, message=message)
