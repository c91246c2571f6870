"""Separate what the customer just wrote from the history their mail client
quoted below it. Pure text in, text out.

A reply's history starts at a client's attribution line ("On … wrote:",
"-----Original Message-----", Outlook's underscore rule followed by
"From:", and their translations) or at a block of "> " lines that runs to
the end. Quoted lines interleaved with answers are an inline reply: kept
whole, since cutting them would hide the answers.
"""

from __future__ import annotations

import re

_ATTRIBUTIONS = [
    r"On\b.{0,300}\bwrote:",  # English (Gmail, Apple Mail, Thunderbird)
    r"Le\b.{0,300}\ba écrit\s?:",  # French
    r"Am\b.{0,300}\bschrieb\b.{0,200}:",  # German
    r"El\b.{0,300}\bescribió:",  # Spanish
    r"Dne\b.{0,300}\bnapsal(?:\(a\)|a)?:",  # Czech
    r"W dniu\b.{0,300}\bpisze:",  # Polish
    r"Op\b.{0,300}\bschreef\b.{0,200}:",  # Dutch
    r"Il giorno\b.{0,300}\bha scritto:",  # Italian
    r"-{2,}\s*(?:Original Message|Původní zpráva|Oryginalna wiadomość|Ursprüngliche Nachricht"
    r"|Mensaje original|Message d'origine)\s*-{2,}",
]
_ATTRIBUTION = re.compile(r"^\s*(?:" + "|".join(_ATTRIBUTIONS) + r")\s*$", re.IGNORECASE)
_OUTLOOK_RULE = re.compile(r"^\s*_{20,}\s*$")
_HEADER_LINE = re.compile(r"^\s*(?:From|Od|Von|De|Van|Da):\s", re.IGNORECASE)


def split_quoted(text: str) -> tuple[str, str]:
    """(new text, quoted history). When nothing is quoted, or the whole body
    is quotation, the text is all "new": nothing the customer wrote is hidden."""
    lines = text.splitlines()
    cut = _attribution_line(lines)
    if cut is None:
        cut = _trailing_quote_block(lines)
    if cut is None:
        return text.strip(), ""
    new = "\n".join(lines[:cut]).strip()
    quoted = "\n".join(lines[cut:]).strip()
    if not new:
        return text.strip(), ""
    return new, quoted


def _attribution_line(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if len(line) > 1000:
            continue
        if _ATTRIBUTION.match(line):
            return index
        # Clients wrap a long attribution over two lines.
        if index + 1 < len(lines) and len(lines[index + 1]) < 1000 and _ATTRIBUTION.match(f"{line} {lines[index + 1]}"):
            return index
        if _OUTLOOK_RULE.match(line) and any(_HEADER_LINE.match(n) for n in lines[index + 1 : index + 3]):
            return index
        if _HEADER_LINE.match(line) and index > 0 and not lines[index - 1].strip():
            following = lines[index + 1 : index + 4]
            if (
                sum(1 for n in following if re.match(r"^\s*(?:Sent|Date|To|Subject|Odesláno|Datum|Komu|Předmět):", n))
                >= 2
            ):
                return index
    return None


def _trailing_quote_block(lines: list[str]) -> int | None:
    """The first line of a run of quoted (or blank) lines that reaches the end."""
    start = None
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped.startswith(">"):
            start = index
        elif stripped:
            break
    return start


# Where mail clients put the quoted history in HTML: Gmail, Apple Mail and
# Thunderbird (blockquote type=cite), Thunderbird's attribution, Outlook.
_HTML_QUOTE = re.compile(
    r"""<(?:div[^>]*\bclass=["']?[^"'>]*\b(?:gmail_quote|moz-cite-prefix|yahoo_quoted)\b"""
    r"""|blockquote[^>]*\btype=["']?cite"""
    r"""|div[^>]*\bid=["']?(?:divRplyFwdMsg|appendonsend)\b)""",
    re.IGNORECASE,
)


def split_quoted_html(html: str) -> str:
    """The HTML up to where the client's quoted history starts (the sanitizer
    closes what the cut leaves open); all of it when nothing would remain."""
    found = _HTML_QUOTE.search(html)
    if found is None:
        return html
    head = html[: found.start()]
    if not re.sub(r"<[^>]*>|&nbsp;|\s", "", head):
        return html
    return head
