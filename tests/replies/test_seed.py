"""The demo data brings a handful of templates and snippets, valid and
loaded once however often the command runs."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from replies.models import Template

pytestmark = pytest.mark.django_db


def test_demo_data_has_valid_templates_and_snippets_loaded_once():
    call_command("seed_demo", "--quiet")
    first = list(Template.objects.values_list("shortcut", flat=True))
    call_command("seed_demo", "--quiet")

    assert list(Template.objects.values_list("shortcut", flat=True)) == first
    assert {"greeting", "refund-ok", "email-signoff"} <= set(first)
    assert set(Template.objects.values_list("kind", flat=True)) == {"template", "snippet"}
    for template in Template.objects.all():
        template.full_clean()  # every variable known
