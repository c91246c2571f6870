"""Replies through Meta's Graph API, on the product the case came from.

- WhatsApp: ``POST {base}/v19.0/{phone_number_id}/messages`` with
  ``messaging_product: whatsapp``, ``to`` and ``type: text`` (or ``type:
  template`` for an approved template, allowed outside the 24-hour window).
- Messenger and Instagram: ``POST {base}/v19.0/me/messages`` with
  ``recipient.id``, ``message.text`` and ``messaging_type: RESPONSE``.
- Page comments: a public reply ``POST {base}/v19.0/{comment_id}/comments``,
  or with ``config["comment_reply"] == "private"`` a private message
  (``recipient.comment_id`` on ``/me/messages``), to the customer's latest
  comment on the case.

``config["api_base"]`` (default https://graph.facebook.com) selects the
server (tests and embedded mode point it at a local one); the Page or
WhatsApp access token is ``config["access_token"]``. Meta's answer maps to a
``SendResult``: sent with its id; failed on a refusal (4xx) with Meta's error
message; retry on a timeout, a 5xx, a 429 or a throttling error code.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from django.utils import timezone

from connectors.providers.base import SendResult

GRAPH_VERSION = "v19.0"
DEFAULT_API_BASE = "https://graph.facebook.com"
# Graph error codes that mean "slow down", not "no": tried again later.
_THROTTLED = {4, 17, 32, 613, 80007, 130429, 131056}


def send(*, channel, message) -> SendResult:
    from cases.models import Message
    from cases.selectors import is_reply_window_open

    config = channel.config or {}
    case = message.case
    product, _, rest = (case.thread_key or "").partition(":")
    owner, _, recipient = rest.partition(":")
    template = _template_of(message) if product == "whatsapp" else None
    if template is None and not is_reply_window_open(case, now=message.created_at or timezone.now()):
        return SendResult(status="failed", error="the 24-hour reply window is closed: only a template may be sent")
    token = str(config.get("access_token") or "")
    if not token:
        return SendResult(status="failed", error="the channel has no access_token in its config")
    base = str(config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        return SendResult(status="failed", error=f"api_base must be http or https: {base!r}")
    if product == "whatsapp" and owner and recipient:
        number_id = str(config.get("phone_number_id") or owner)
        path = f"{number_id}/messages"
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": recipient}
        if template is not None:
            parameters = [{"type": "text", "text": p} for p in template.get("parameters", [])]
            body["type"] = "template"
            body["template"] = {
                "name": template["name"],
                "language": {"code": template["language"]},
                "components": [{"type": "body", "parameters": parameters}] if parameters else [],
            }
        else:
            body["type"] = "text"
            body["text"] = {"preview_url": False, "body": message.text}
    elif product in ("messenger", "instagram") and owner and recipient:
        path = "me/messages"
        body = {"recipient": {"id": recipient}, "messaging_type": "RESPONSE", "message": {"text": message.text}}
    elif product == "fbpost":
        comment_id = (
            Message.objects.filter(case_id=case.pk, direction=Message.Direction.INBOUND)
            .exclude(provider_message_id="")
            .order_by("-created_at", "-pk")
            .values_list("provider_message_id", flat=True)
            .first()
        )
        if not comment_id:
            return SendResult(status="failed", error="no customer comment on this case to answer")
        if config.get("comment_reply") == "private":
            path = "me/messages"
            body = {"recipient": {"comment_id": comment_id}, "message": {"text": message.text}}
        else:
            path, body = f"{urllib.parse.quote(comment_id, safe='_')}/comments", {"message": message.text}
    else:
        return SendResult(status="failed", error=f"cannot tell where to reply on Meta from thread {case.thread_key!r}")
    try:
        timeout = min(max(float(config.get("timeout", 10)), 1.0), 60.0)
    except (TypeError, ValueError):
        timeout = 10.0
    return _post(f"{base}/{GRAPH_VERSION}/{path}", body, token=token, timeout=timeout)


def _template_of(message) -> dict | None:
    """The approved template an agent chose (kept on the reply's timeline event), if any."""
    from cases.models import CaseEvent

    data = (
        CaseEvent.objects.filter(case_id=message.case_id, kind=CaseEvent.Kind.REPLY_SENT, data__message_id=message.pk)
        .values_list("data", flat=True)
        .first()
    )
    template = (data or {}).get("template")
    return template if isinstance(template, dict) and template.get("name") else None


def _post(url: str, body: dict, *, token: str, timeout: float) -> SendResult:
    request = urllib.request.Request(  # noqa: S310 (scheme checked by the caller)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = _json(response.read())
    except urllib.error.HTTPError as exc:
        error = _json(exc.read()).get("error")
        error = error if isinstance(error, dict) else {}
        detail = f"Meta answered {exc.code}: {error.get('message') or exc.reason}"
        if exc.code == 429 or exc.code >= 500 or error.get("code") in _THROTTLED:
            return SendResult(status="retry", error=detail)
        return SendResult(status="failed", error=detail)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return SendResult(status="retry", error=f"Meta did not answer: {exc}")
    messages = answer.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        provider_id = messages[0].get("id")
    else:
        provider_id = answer.get("message_id") or answer.get("id")
    return SendResult(status="sent", provider_message_id=str(provider_id or "")[:255])


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
