"""Who is chatting: the conversation token a widget keeps, and the signed
identity a website may pass for a signed-in user.

The conversation token is signed with Django's signing (the server's secret
key), so a widget can reconnect to its own conversation and to no other. The
signed identity is ``hex(HMAC-SHA256(key=widget secret, msg=user id))``: the
website computes it on its server, where the widget's secret lives.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import asdict, dataclass

from django.core import signing

TOKEN_SALT = "switchboard.webchat.conversation"  # noqa: S105 (a salt, not a secret)
TOKEN_MAX_AGE_SECONDS = 30 * 24 * 3600


class VisitorRefused(Exception):
    """A token or signature that does not check out."""


@dataclass(frozen=True, slots=True)
class Visitor:
    channel_key: str
    visitor_id: str  # random per browser; the thread of an anonymous visitor
    user_id: str = ""  # set when the website signed the user's id
    name: str = ""
    email: str = ""

    @property
    def identity_address(self) -> str:
        """The address of the visitor's ``web`` identity."""
        if self.user_id:
            return f"{self.channel_key}:user:{self.user_id}"
        return f"{self.channel_key}:visitor:{self.visitor_id}"

    @property
    def thread_key(self) -> str:
        if self.user_id:
            return "user:" + hashlib.sha256(self.user_id.encode()).hexdigest()[:40]
        return f"visitor:{self.visitor_id}"

    @property
    def has_details(self) -> bool:
        return bool(self.name or self.user_id)


def new_visitor(channel_key: str) -> Visitor:
    return Visitor(channel_key=channel_key, visitor_id=uuid.uuid4().hex)


def token_for(visitor: Visitor) -> str:
    return signing.dumps(asdict(visitor), salt=TOKEN_SALT, compress=True)


def visitor_from_token(token: str, *, channel_key: str) -> Visitor:
    if not isinstance(token, str) or len(token) > 2000:
        raise VisitorRefused("the conversation token is not valid")
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
        visitor = Visitor(**data)
    except (signing.BadSignature, TypeError, ValueError):
        raise VisitorRefused("the conversation token is not valid or has expired") from None
    if visitor.channel_key != channel_key:
        raise VisitorRefused("the conversation token belongs to another widget")
    return visitor


def identity_signature(secret: str, user_id: str) -> str:
    """What the website's server computes for a signed-in user."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def check_identity_signature(secret: str, user_id: str, signature: str) -> None:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 200:
        raise VisitorRefused("'identity.user_id' must be a non-empty string of at most 200 characters")
    if not isinstance(signature, str) or not hmac.compare_digest(
        identity_signature(secret, user_id).encode(), signature.strip().lower().encode()
    ):
        raise VisitorRefused("the identity signature does not match the user id")
