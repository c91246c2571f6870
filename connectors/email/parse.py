"""Raw MIME in, plain data out: no Django, no database.

Done the way mail really arrives: RFC 2047 encoded words in headers,
quoted-printable and base64 bodies, any charset Python knows (iso-8859-2 and
windows-1250 for Czech and Polish customers) with a fallback when a part lies
about its charset, multipart/alternative (the plain text kept, the HTML kept
raw here and sanitized when stored), attachments and inline images, and the
quoted history separated from the new text.

Hostile input never raises anything but ``EmailInvalid`` (with a sentence
saying what is wrong): parts are walked without recursion and counted,
headers and texts are capped, NUL bytes and unpaired surrogates removed
(PostgreSQL stores neither).
"""

from __future__ import annotations

import codecs
import email.header
import email.utils
import html as html_lib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message

import nh3

from connectors.email import noise
from connectors.email.quoting import split_quoted, split_quoted_html

MAX_PARTS = 500
MAX_DEPTH = 20
MAX_TEXT_CHARS = 100_000
MAX_HTML_CHARS = 500_000
MAX_HEADER_CHARS = 2_000
MAX_REFERENCES = 50
MAX_ID_CHARS = 250

_MSGID = re.compile(r"<([^<>\s]{1,998})>")


class EmailInvalid(ValueError):
    """The bytes are not a message this service can take, with why."""


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    inline: bool = False


@dataclass(slots=True)
class ParsedEmail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    sent_at: datetime | None = None
    text: str = ""  # the new text only
    quoted: str = ""  # the history the client quoted below it
    html: str = ""  # raw: sanitized when stored
    attachments: list[ParsedAttachment] = field(default_factory=list)
    automated: str = ""  # why this is an auto-reply or bulk mail; "" for a person
    report: noise.DeliveryReport | None = None  # a bounce or delivery notice
    defects: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Ids this message answers, nearest first."""
        seen, out = set(), []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.add(mid)
                out.append(mid)
        return out


def clean_text(value: str, limit: int | None = None) -> str:
    """No NUL, no lone surrogates: what PostgreSQL and browsers accept."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        value = value.encode("utf-8", "replace").decode("utf-8")
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset; a lying or unknown charset falls back to
    UTF-8, then to windows-1252 with replacement characters: never raises."""
    tried = []
    for candidate in (charset, "utf-8"):
        name = _codec(candidate)
        if name is None or name in tried:
            continue
        tried.append(name)
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(_codec(charset) or "windows-1252", "replace")


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    charset = charset.strip().strip('"').lower()
    if charset in ("unknown-8bit", "x-unknown", "default", "us-ascii", "ascii"):
        # "us-ascii" is what clients say by default, often wrongly: 8-bit
        # bytes then fall through to UTF-8 and windows-1252.
        return "ascii" if charset in ("us-ascii", "ascii") else None
    try:
        return codecs.lookup(charset).name
    except (LookupError, ValueError):
        return None


def decode_header(value: object, limit: int = MAX_HEADER_CHARS) -> str:
    """A header's text with RFC 2047 encoded words decoded, unfolded."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    raw = str(value)[: limit * 4]
    try:
        chunks = email.header.decode_header(raw)
    except Exception:
        chunks = [(raw, None)]
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset))
        elif any("\udc80" <= c <= "\udcff" for c in chunk):
            # Raw 8-bit bytes in a header (common, not standard): mostly UTF-8.
            out.append(decode_bytes(chunk.encode("utf-8", "surrogateescape"), "utf-8"))
        else:
            out.append(chunk)
    # Whitespace between two encoded words is dropped by decode_header already.
    text = "".join(out) if len(out) > 1 else (out[0] if out else "")
    text = re.sub(r"\r?\n[ \t]*", " ", text)
    return clean_text(text, limit).strip()


def message_ids(value: object) -> list[str]:
    """The ids in a Message-ID, In-Reply-To or References header, without
    angle brackets; a bare token when a client forgot the brackets."""
    if value is None:
        return []
    raw = str(value)[:100_000]
    ids = _MSGID.findall(raw)
    if not ids:
        token = raw.strip().split()[0] if raw.strip() else ""
        ids = [token.strip("<>")] if token and "@" in token else []
    return [clean_text(i, MAX_ID_CHARS) for i in ids if i]


def header_text_limit(message: Message, name: str) -> str:
    try:
        return decode_header(message.get(name))
    except Exception:
        return ""


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message. Raises ``EmailInvalid`` only when there is no
    message to speak of (empty, or no sender address)."""
    if not raw or not raw.strip():
        raise EmailInvalid("the message is empty")
    try:
        message = message_from_bytes(raw)
    except RecursionError:
        raise EmailInvalid("the message's parts are nested too deeply to read") from None
    except Exception as exc:  # the stdlib parser is lenient; this is the odd case
        raise EmailInvalid(f"the message cannot be parsed: {type(exc).__name__}") from None
    if not message.keys():
        raise EmailInvalid("the message has no headers")
    parsed = ParsedEmail()
    parsed.defects = [type(d).__name__ for d in message.defects][:20]
    ids = message_ids(message.get("Message-ID"))
    parsed.message_id = ids[0] if ids else ""
    parsed.in_reply_to = message_ids(message.get("In-Reply-To"))[:5]
    parsed.references = message_ids(message.get("References"))[-MAX_REFERENCES:]
    parsed.subject = header_text_limit(message, "Subject")[:255]
    parsed.from_name, parsed.from_address = sender_of(message)
    parsed.to = [addr for _, addr in _addresses(message, "To")][:50]
    parsed.sent_at = _date(message.get("Date"))
    parsed.automated = noise.automated_reason(message)
    parsed.report = noise.delivery_report(message)
    _read_body(message, parsed)
    if not parsed.from_address and parsed.report is None:
        raise EmailInvalid("the message has no sender address in From (or Sender/Reply-To)")
    return parsed


def sender_of(message: Message) -> tuple[str, str]:
    for name in ("From", "Sender", "Reply-To"):
        for display, address in _addresses(message, name):
            if address:
                return display, address
    return "", ""


_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[^@\s<>\"(),;:\\\[\]]+\.[^@\s<>\"(),;:\\\[\]]+$")


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    try:
        values = [str(v)[: MAX_HEADER_CHARS * 4] for v in message.get_all(name) or []]
        pairs = email.utils.getaddresses(values)
    except Exception:
        return []
    out = []
    for display, address in pairs[:100]:
        address = clean_text(address.strip(), 254)
        if not _ADDRESS.match(address):
            continue
        out.append((decode_header(display, 200).strip('"').strip(), address))
    return out


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(str(value)[:200])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _read_body(message: Message, parsed: ParsedEmail) -> None:
    texts: list[str] = []
    html = ""
    for part, depth in _walk(message, parsed):
        ctype = part.get_content_type()
        if part.is_multipart() and ctype != "message/rfc822":
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        is_attachment = disposition == "attachment" or (filename and ctype not in ("text/plain", "text/html"))
        if parsed.report is not None and depth > 0 and ctype in noise.REPORT_PART_TYPES:
            continue  # the bounce's machine-readable parts are read by noise
        if ctype == "text/plain" and not is_attachment:
            texts.append(_part_text(part, parsed))
        elif ctype == "text/html" and not is_attachment and not html:
            html = _part_text(part, parsed)
        elif ctype == "message/rfc822" or not ctype.startswith("multipart/"):
            data = _payload_bytes(part, parsed)
            if data is None:
                continue
            parsed.attachments.append(
                ParsedAttachment(
                    filename=filename or _default_name(ctype, len(parsed.attachments) + 1),
                    content_type=ctype[:100],
                    data=data,
                    content_id=message_ids(part.get("Content-ID"))[0] if part.get("Content-ID") else "",
                    inline=disposition == "inline" or (disposition == "" and bool(part.get("Content-ID"))),
                )
            )
    text = "\n\n".join(t for t in texts if t.strip())
    if not text.strip() and html:
        text = html_to_text(html)
    new, quoted = split_quoted(text)
    parsed.text = clean_text(new, MAX_TEXT_CHARS)
    parsed.quoted = clean_text(quoted, MAX_TEXT_CHARS)
    parsed.html = clean_text(split_quoted_html(html) if quoted else html, MAX_HTML_CHARS)


def _walk(message: Message, parsed: ParsedEmail):
    """Every part with its depth, in document order, without recursion, capped."""
    stack = [(message, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            parsed.defects.append(f"more than {MAX_PARTS} parts: the rest ignored")
            return
        yield part, depth
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            if depth >= MAX_DEPTH:
                parsed.defects.append(f"multiparts nested deeper than {MAX_DEPTH}: the inner ones ignored")
                continue
            payload = part.get_payload()
            if isinstance(payload, list):
                children = [(child, depth + 1) for child in payload if isinstance(child, Message)]
                stack.extend(reversed(children))


def _payload_bytes(part: Message, parsed: ParsedEmail) -> bytes | None:
    try:
        if part.get_content_type() == "message/rfc822" or part.is_multipart():
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                return inner.as_bytes()
            return str(inner).encode("utf-8", "surrogateescape")
        data = part.get_payload(decode=True)
    except Exception as exc:
        parsed.defects.append(f"a part could not be decoded: {type(exc).__name__}")
        return None
    return data if isinstance(data, bytes) else b""


def _part_text(part: Message, parsed: ParsedEmail) -> str:
    data = _payload_bytes(part, parsed)
    if data is None:
        return ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode_bytes(data, charset)


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return ""
    name = decode_header(name, 255)
    # Never a path: only the last component, no control characters.
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).replace("\\", "/").rsplit("/", 1)[-1].strip(". ")
    return name[:200]


def _default_name(content_type: str, n: int) -> str:
    extension = {
        "message/rfc822": "eml",
        "image/png": "png",
        "image/jpeg": "jpg",
        "image/gif": "gif",
        "application/pdf": "pdf",
        "text/calendar": "ics",
    }.get(content_type, "bin")
    return f"attachment-{n}.{extension}"


def html_to_text(html: str) -> str:
    """Readable text from HTML (for a message sent as HTML only)."""
    html = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|</tr\s*>|</h[1-6]\s*>", "\n", html[:MAX_HTML_CHARS])
    stripped = nh3.clean(html, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    text = html_lib.unescape(stripped)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r"\n\s*\n\s*(\n\s*)+", "\n\n", text)
    return text.strip()
