"""Files customers mailed us, served only to staff who may see the case.

Everything under MEDIA_ROOT is a customer's file: never served as a page of
ours. Images a browser renders safely are shown inline; anything else
(HTML, SVG, PDFs, archives) downloads, and no type is sniffed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from cases.selectors import visible_cases
from connectors.email.models import EmailAttachment

INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
# What the first bytes of each inline type are: a file that only claims to be
# an image (HTML named .png) downloads like any other file.
SIGNATURES = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8", "image/webp": b"RIFF"}


@require_GET
@login_required
def attachment(request, name: str):
    found = EmailAttachment.objects.select_related("event").filter(file=name).exclude(file="").first()
    if found is None or found.event.message_id is None:
        raise Http404("no such file")
    case_id = found.event.message.case_id
    if not request.user.is_superuser and not visible_cases(request.user).filter(pk=case_id).exists():
        raise Http404("no such file")  # not "forbidden": nothing says the file exists
    try:
        handle = found.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("the file is gone") from exc
    inline = found.content_type in INLINE_TYPES and handle.read(4).startswith(SIGNATURES[found.content_type][:4])
    handle.seek(0)
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=found.name,
        content_type=found.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
