"""The shared template library over the API: agents find and render
templates for the cases they may see, only admins change the library, bad
bodies are refused with the reason and change nothing, changes are audited."""

from __future__ import annotations

import pytest

from agents.models import Role
from audit.models import ConfigChange
from replies.models import Template
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(db):
    return {
        "refund": Template.objects.create(
            name="Refund approved",
            shortcut="refund-ok",
            body="Hi {{customer.first_name}}, refund done (case {{case.id}}).",
        ),
        "signoff": Template.objects.create(
            name="Email sign-off",
            shortcut="email-signoff",
            kind="snippet",
            channel_kinds=["email"],
            body="Regards, {{agent.name}} ({{queue.name}})",
        ),
        "sms": Template.objects.create(
            name="SMS refund", shortcut="sms-refund", kind="snippet", channel_kinds=["sms"], body="Refund sent."
        ),
        "old": Template.objects.create(name="Old refund", shortcut="old-refund", body="Old.", is_active=False),
        "hola": Template.objects.create(name="Saludo", shortcut="hola", language="es", body="Hola."),
    }


def _shortcuts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["shortcut"] for row in response.json()["results"]]


def test_agent_lists_active_templates_filtered_by_channel_text_kind_and_language(client, library):
    client.force_login(factories.agent("ana").user)

    assert _shortcuts(client.get("/api/v1/templates/")) == ["email-signoff", "hola", "refund-ok", "sms-refund"]
    assert _shortcuts(client.get("/api/v1/templates/?channel_kind=email")) == ["email-signoff", "hola", "refund-ok"]
    assert _shortcuts(client.get("/api/v1/templates/?q=refund")) == ["refund-ok", "sms-refund"]
    assert _shortcuts(client.get("/api/v1/templates/?channel_kind=email&q=refund")) == ["refund-ok"]
    assert _shortcuts(client.get("/api/v1/templates/?kind=snippet")) == ["email-signoff", "sms-refund"]
    assert _shortcuts(client.get("/api/v1/templates/?language=de")) == [
        "email-signoff",
        "refund-ok",
        "sms-refund",
    ]
    row = client.get(f"/api/v1/templates/{library['refund'].pk}/").json()
    assert row["variables"] == ["customer.first_name", "case.id"]
    assert client.get(f"/api/v1/templates/{library['old'].pk}/").status_code == 404


def test_admin_lists_inactive_templates_too(client, library):
    client.force_login(factories.user("root", role=Role.ADMIN))

    assert "old-refund" in _shortcuts(client.get("/api/v1/templates/"))


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("channel_kind=fax", "'channel_kind' must be one of"),
        ("kind=macro", "'kind' must be one of"),
        ("q=re%00fund", "'q' must not contain NUL characters"),
        ("q=" + "x" * 201, "'q' is limited to 200 characters"),
    ],
)
def test_bad_filters_are_a_400_with_the_reason(client, library, query, detail):
    client.force_login(factories.agent("ana").user)

    response = client.get(f"/api/v1/templates/?{query}")

    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_only_admins_create_and_the_change_is_audited(client, library):
    body = {"name": "Greeting", "shortcut": "greeting", "body": "Hi {{customer.first_name}}", "channel_kinds": []}
    client.force_login(factories.agent("ana").user)
    assert client.post("/api/v1/templates/", body, content_type="application/json").status_code == 403
    client.force_login(factories.user("sam", role=Role.SUPERVISOR))
    assert client.post("/api/v1/templates/", body, content_type="application/json").status_code == 403
    assert not Template.objects.filter(shortcut="greeting").exists()

    admin = factories.user("root", role=Role.ADMIN)
    client.force_login(admin)
    response = client.post("/api/v1/templates/", body, content_type="application/json")

    assert response.status_code == 201, response.content
    template = Template.objects.get(shortcut="greeting")
    change = ConfigChange.objects.get(model="replies.template", object_id=str(template.pk))
    assert change.action == "created" and change.actor == admin
    response = client.patch(
        f"/api/v1/templates/{template.pk}/", {"body": "Hello {{customer.name}}"}, content_type="application/json"
    )
    assert response.status_code == 200
    updated = ConfigChange.objects.get(model="replies.template", object_id=str(template.pk), action="updated")
    assert updated.changes["body"] == ["Hi {{customer.first_name}}", "Hello {{customer.name}}"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"body": "Hi {{customer.email}}"}, "body", "unknown variable {{customer.email}}"),
        ({"body": "Hi {{customer.first_name"}, "body", "never closed"),
        ({"channel_kinds": ["fax"]}, "channel_kinds", "not a valid choice"),
        ({"shortcut": "refund ok!"}, "shortcut", "letters, numbers, underscores or hyphens"),
        ({"shortcut": "refund-ok"}, "shortcut", "already exists"),
        ({"kind": "macro"}, "kind", "not a valid choice"),
    ],
)
def test_bad_template_is_a_400_with_the_reason_and_nothing_is_saved(client, library, body, field, words):
    client.force_login(factories.user("root", role=Role.ADMIN))
    before = Template.objects.count(), ConfigChange.objects.count()

    payload = {"name": "New", "shortcut": "new-one", "body": "Hello."} | body
    response = client.post("/api/v1/templates/", payload, content_type="application/json")

    assert response.status_code == 400
    assert words in str(response.json()[field])
    assert (Template.objects.count(), ConfigChange.objects.count()) == before


def test_unknown_variable_in_an_update_is_a_400_and_the_body_stays(client, library):
    client.force_login(factories.user("root", role=Role.ADMIN))
    template = library["refund"]

    response = client.patch(
        f"/api/v1/templates/{template.pk}/", {"body": "Hi {{customer.surname}}"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "{{customer.surname}}" in response.json()["body"][0]
    template.refresh_from_db()
    assert template.body == "Hi {{customer.first_name}}, refund done (case {{case.id}})."


@pytest.fixture
def ana_case(db):
    ana = factories.agent("ana")
    ana.user.first_name = "Ana"
    ana.user.save()
    queue = factories.queue("Billing")
    channel = factories.channel("mail", kind="email", default_queue=queue)
    case = factories.held_case(channel, ana, customer_obj=factories.customer("María López"))
    return ana, case


def test_render_fills_in_the_case_customer_agent_and_queue(client, library, ana_case):
    ana, case = ana_case
    client.force_login(ana.user)

    response = client.post(
        f"/api/v1/templates/{library['refund'].pk}/render/", {"case": case.pk}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"text": f"Hi María, refund done (case {case.pk}).", "missing": []}

    response = client.post(
        f"/api/v1/templates/{library['signoff'].pk}/render/", {"case": case.pk}, content_type="application/json"
    )
    assert response.json() == {"text": "Regards, Ana (Billing)", "missing": []}


def test_render_lists_missing_values_and_renders_them_empty(client, library, ana_case):
    ana, case = ana_case
    case.customer.display_name = ""
    case.customer.save()
    case.queue = None
    case.save()
    client.force_login(ana.user)

    refund = client.post(
        f"/api/v1/templates/{library['refund'].pk}/render/", {"case": case.pk}, content_type="application/json"
    )
    signoff = client.post(
        f"/api/v1/templates/{library['signoff'].pk}/render/", {"case": case.pk}, content_type="application/json"
    )

    assert refund.json() == {"text": f"Hi , refund done (case {case.pk}).", "missing": ["customer.first_name"]}
    assert signoff.json() == {"text": "Regards, Ana ()", "missing": ["queue.name"]}


def test_render_for_a_case_the_agent_may_not_see_is_a_404(client, library, ana_case):
    _, case = ana_case
    other = factories.agent("ben")
    client.force_login(other.user)

    response = client.post(
        f"/api/v1/templates/{library['refund'].pk}/render/", {"case": case.pk}, content_type="application/json"
    )

    assert response.status_code == 404
    assert response.json()["detail"] == f"no case {case.pk}"


def test_render_of_a_template_for_another_channel_is_a_400(client, library, ana_case):
    ana, case = ana_case
    client.force_login(ana.user)

    response = client.post(
        f"/api/v1/templates/{library['sms'].pk}/render/", {"case": case.pk}, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "template sms-refund is not for email cases"


@pytest.mark.parametrize("body", [{}, {"case": "x"}, {"case": 0}, {"case": 2**70}])
def test_render_with_a_bad_case_id_is_a_400(client, library, ana_case, body):
    ana, _ = ana_case
    client.force_login(ana.user)

    response = client.post(f"/api/v1/templates/{library['refund'].pk}/render/", body, content_type="application/json")

    assert response.status_code == 400
    assert "case" in response.json()


def test_anonymous_gets_a_401(client, library):
    assert client.get("/api/v1/templates/").status_code == 401
