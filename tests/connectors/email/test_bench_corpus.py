"""The email benchmark's mixed set is parsed for real, not measured on
failures: each kind comes out as what it is."""

from __future__ import annotations

import pytest

from bench.email import corpus
from connectors.email.parse import parse_email

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg


def test_every_message_of_the_bench_set_parses_as_what_it_is():
    plain, czech, polish, attached, auto, bounce, nested = (parse_email(raw) for raw in corpus(1))

    assert plain.text == "Thanks, that works now." and plain.quoted.startswith("On Mon")
    assert czech.subject == "Reklamace č. 0" and czech.from_name == "Jiří Novák" and "žluťoučký" in czech.text
    assert polish.from_name == "Łukasz Wróbel" and "Zażółć" in polish.text and "<b>nie dotarła</b>" in polish.html
    assert [a.content_type for a in attached.attachments] == ["image/png", "application/pdf"]
    assert auto.automated and not plain.automated
    assert bounce.report.failed and bounce.report.original_message_id == "sb0.1@acme.test"
    assert nested.text == "deep inside"
