"""The template renderer: known variables are filled in, missing values are
empty and listed, unknown variables and an open '{{' are refused. Pure: no
database."""

from __future__ import annotations

import pytest

from replies.rendering import UnknownVariable, render, variables_in

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg

VALUES = {
    "customer.first_name": "María",
    "customer.name": "María López",
    "agent.first_name": "Ana",
    "agent.name": "Ana García",
    "case.id": "42",
    "queue.name": "Billing",
}


def test_every_variable_is_filled_in_with_or_without_spaces():
    body = (
        "Hi {{customer.first_name}} ({{ customer.name }}), "
        "{{agent.first_name}}/{{agent.name}} on {{case.id}} in {{queue.name}}."
    )

    rendered = render(body, VALUES)

    assert rendered.text == "Hi María (María López), Ana/Ana García on 42 in Billing."
    assert rendered.missing == []


def test_a_missing_value_renders_empty_and_is_listed_once():
    rendered = render("Hi {{customer.first_name}}! {{customer.first_name}}, {{queue.name}}", {"queue.name": ""})

    assert rendered.text == "Hi ! , "
    assert rendered.missing == ["customer.first_name", "queue.name"]


def test_values_are_inserted_as_written_never_evaluated():
    rendered = render("Hi {{customer.name}}", {"customer.name": "{{agent.name}} {% now 'Y' %} <b>x</b>"})

    assert rendered.text == "Hi {{agent.name}} {% now 'Y' %} <b>x</b>"


def test_text_that_looks_like_django_template_syntax_stays_as_written():
    assert render("{% if x %}50% off{% endif %} {# c #}", VALUES).text == "{% if x %}50% off{% endif %} {# c #}"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Hi {{customer.email}}", "{{customer.email}}"),
        ("Hi {{ Customer.First_Name }}", "{{Customer.First_Name}}"),
        ("Hi {{}}", "{{(empty)}}"),
        ("{{customer.first_name|upper}}", "{{customer.first_name|upper}}"),
    ],
)
def test_unknown_variables_are_refused_by_name(body, named):
    with pytest.raises(UnknownVariable) as caught:
        variables_in(body)

    assert named in str(caught.value)
    assert "customer.first_name" in str(caught.value)  # the known ones are listed


def test_an_open_brace_pair_is_refused():
    with pytest.raises(UnknownVariable, match="never closed"):
        variables_in("Hi {{customer.first_name}}, see {{agent.name")


def test_variables_in_lists_each_once_in_order():
    assert variables_in("{{case.id}} {{agent.name}} {{case.id}}") == ["case.id", "agent.name"]
