"""Jiří, a customer who wrote by email and by the JSON API, and a search of
every row of every table, for the customer-data tests."""

from __future__ import annotations

import base64
import json

from django.apps import apps

# Everything that says who the customer is or what they wrote (raw request
# bodies hold the ASCII ones literally).
SECRETS = ["Novák", "jiri@example.cz", "marmalade-kumquat", "plumtree", "Zebrafish", "passport-scan", "420601234567"]
PICTURE = b"\x89PNG-picture-of-a-passport"


def mail_with_a_file() -> bytes:
    return (
        b"From: =?utf-8?q?Ji=C5=99=C3=AD_Nov=C3=A1k?= <jiri@example.cz>\r\nTo: support@acme.test\r\n"
        b"Subject: Zebrafish order\r\nMessage-ID: <z1@example.cz>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy marmalade-kumquat order is late.\r\n"
        b'--m\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="passport-scan.png"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(PICTURE) + b"--m--\r\n"
    )


def everything_stored() -> str:
    """Every row of every table (every model Django knows), as text."""

    def text(value):
        return bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | memoryview) else value

    rows = []
    for model in apps.get_models(include_auto_created=True):
        for row in model._default_manager.values():
            rows.append(json.dumps({k: text(v) for k, v in row.items()}, default=str, ensure_ascii=False))
    return "\n".join(rows)
