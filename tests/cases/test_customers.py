"""One customer across channels: a message from a known identity joins that
customer; agents link identities and merge customers (history combined,
recorded on the timeline) and undo a wrong merge exactly; the whole history
across channels is one API call."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from agents.models import Role, Team
from cases import customers
from cases.models import Case, CaseEvent, Customer, CustomerMerge, Identity
from config.api import DomainError, Invalid
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_messages_from_one_address_on_two_channels_join_one_customer(deliver):
    web = factories.channel("web")
    sms = factories.channel("sms", kind="sms")
    deliver(web, factories.payload(**{"from": {"kind": "email", "address": "Ana@Example.com", "name": "Ana"}}))
    deliver(sms, factories.payload(**{"from": {"kind": "email", "address": "ana@example.com"}}, text="again"))
    deliver(sms, factories.payload(**{"from": {"kind": "phone", "address": "+34 600 123 456"}}, text="by phone"))

    assert Customer.objects.count() == 2
    ana = Identity.objects.get(kind="email").customer
    assert ana.cases.count() == 2
    assert Identity.objects.get(kind="phone").address == "+34600123456"


@pytest.fixture
def two_customers(deliver):
    """Ana wrote by email on the web channel and by phone over SMS: two customers."""
    web = factories.channel("web", default_queue=factories.queue("General"))
    sms = factories.channel("sms", kind="sms", default_queue=factories.queue("General SMS"))
    deliver(web, factories.payload(**{"from": {"kind": "email", "address": "ana@example.com", "name": "Ana"}}))
    deliver(sms, factories.payload(**{"from": {"kind": "phone", "address": "+34600123456"}}, text="by sms"))
    by_email = Identity.objects.get(kind="email").customer
    by_phone = Identity.objects.get(kind="phone").customer
    return by_email, by_phone


def test_linking_a_new_identity_normalizes_it_and_records_it(two_customers):
    ana, _ = two_customers

    identity = customers.link_identity(
        customer_id=ana.pk, kind="phone", address="whatsapp:+44 20 7946 0958", now=timezone.now()
    )

    assert (identity.customer_id, identity.address) == (ana.pk, "+442079460958")
    event = CaseEvent.objects.get(kind=CaseEvent.Kind.IDENTITY_LINKED)
    assert event.case.customer_id == ana.pk
    assert event.data["identity"] == "phone:+442079460958"


def test_linking_an_identity_another_customer_holds_moves_it_and_new_messages_follow(two_customers, deliver):
    ana, phone_customer = two_customers

    customers.link_identity(customer_id=ana.pk, kind="phone", address="+34 600 123 456", now=timezone.now())

    assert Identity.objects.get(kind="phone").customer_id == ana.pk
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.IDENTITY_LINKED).count() == 2  # both customers' cases
    sms = factories.channel("sms2", kind="sms")
    deliver(sms, factories.payload(**{"from": {"kind": "phone", "address": "+34600123456"}}, text="new"))
    assert Case.objects.get(channel=sms).customer_id == ana.pk


def test_bad_identity_is_refused():
    customer = factories.customer()
    with pytest.raises(Invalid, match="not an email address"):
        customers.link_identity(customer_id=customer.pk, kind="email", address="nope", now=timezone.now())
    assert Identity.objects.count() == 0


def test_merge_combines_history_and_is_on_the_timeline_and_undo_restores_exactly(two_customers, deliver):
    ana, phone_customer = two_customers
    phone_case = phone_customer.cases.get()
    phone_customer.tier = Customer.Tier.VIP
    phone_customer.save()

    merge = customers.merge_customers(source_id=phone_customer.pk, target_id=ana.pk, now=timezone.now())

    ana.refresh_from_db()
    phone_customer.refresh_from_db()
    assert set(ana.cases.values_list("channel__key", flat=True)) == {"web", "sms"}
    assert set(ana.identities.values_list("kind", flat=True)) == {"email", "phone"}
    assert ana.tier == Customer.Tier.VIP
    assert phone_customer.merged_into_id == ana.pk
    assert merge.case_ids == [phone_case.pk]
    merged_events = CaseEvent.objects.filter(kind=CaseEvent.Kind.CUSTOMERS_MERGED)
    assert {e.case.customer_id for e in merged_events} == {ana.pk}
    assert merged_events.count() == 2
    history = customers.customer_history(ana)
    assert [c.channel.key for c in history.cases] == ["sms", "web"]

    # Something new arrives for Ana by email after the merge: it stays with her on undo.
    deliver(
        factories.channel("web2"),
        factories.payload(**{"from": {"kind": "email", "address": "ana@example.com"}}, text="later"),
    )
    later = Case.objects.get(channel__key="web2")

    customers.undo_merge(merge_id=merge.pk, now=timezone.now())

    ana.refresh_from_db()
    phone_customer.refresh_from_db()
    assert list(phone_customer.cases.values_list("pk", flat=True)) == [phone_case.pk]
    assert list(phone_customer.identities.values_list("kind", flat=True)) == ["phone"]
    assert phone_customer.merged_into_id is None
    assert ana.tier == Customer.Tier.STANDARD
    assert set(ana.cases.values_list("pk", flat=True)) == {Case.objects.get(channel__key="web").pk, later.pk}
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.MERGE_UNDONE).count() == 3
    merge.refresh_from_db()
    assert merge.undone_at is not None
    with pytest.raises(DomainError, match="already undone"):
        customers.undo_merge(merge_id=merge.pk, now=timezone.now())


def test_merge_into_itself_or_twice_is_refused(two_customers):
    ana, other = two_customers
    with pytest.raises(DomainError, match="itself"):
        customers.merge_customers(source_id=ana.pk, target_id=ana.pk, now=timezone.now())
    customers.merge_customers(source_id=other.pk, target_id=ana.pk, now=timezone.now())
    with pytest.raises(DomainError, match="already merged"):
        customers.merge_customers(source_id=other.pk, target_id=ana.pk, now=timezone.now())
    assert CustomerMerge.objects.count() == 1


# --- API ------------------------------------------------------------------------


def test_history_api_gives_every_case_across_channels_with_messages(two_customers):
    ana, other = two_customers
    customers.merge_customers(source_id=other.pk, target_id=ana.pk, now=timezone.now())
    admin = factories.user("root", role=Role.ADMIN)

    body = client_for(admin).get(f"/api/v1/customers/{ana.pk}/history/").json()

    assert body["customer"]["id"] == ana.pk
    assert {i["kind"] for i in body["identities"]} == {"email", "phone"}
    assert [c["channel_kind"] for c in body["cases"]] == ["sms", "api"]
    assert [m["text"] for m in body["cases"][0]["messages"]] == ["by sms"]
    assert len(body["merges"]) == 1


def test_agent_links_merges_and_undoes_over_the_api(two_customers):
    ana, other = two_customers
    root = client_for(factories.user("root", role=Role.ADMIN))

    linked = root.post(
        f"/api/v1/customers/{ana.pk}/identities/",
        {"kind": "email", "address": "ANA.WORK@example.com"},
        content_type="application/json",
    )
    assert linked.status_code == 201, linked.content
    assert linked.json()["address"] == "ana.work@example.com"

    merged = root.post(f"/api/v1/customers/{ana.pk}/merge/", {"source": other.pk}, content_type="application/json")
    assert merged.status_code == 201, merged.content
    merge_id = merged.json()["id"]

    undone = root.post(f"/api/v1/customers/{ana.pk}/undo-merge/", {"merge": merge_id}, content_type="application/json")
    assert undone.status_code == 200
    assert other.cases.count() == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("identities/", {"kind": "email", "address": "nope"}, 400),
        ("identities/", {"kind": "fax", "address": "1"}, 400),
        ("identities/", {}, 400),
        ("merge/", {"source": "x"}, 400),
        ("merge/", {"source": 999_999}, 404),
        ("undo-merge/", {"merge": 999_999}, 404),
    ],
)
def test_bad_customer_requests_get_a_clear_4xx(two_customers, path, body, status):
    ana, _ = two_customers
    root = client_for(factories.user("root", role=Role.ADMIN))

    response = root.post(f"/api/v1/customers/{ana.pk}/{path}", body, content_type="application/json")

    assert response.status_code == status
    assert response.json()
    assert CustomerMerge.objects.count() == 0


def test_agents_see_only_customers_of_cases_they_see(two_customers):
    ana, other = two_customers
    team = Team.objects.create(name="Elsewhere")
    outsider = factories.agent("zed", teams=[team])
    # Zed holds Ana's web case: he sees Ana, not the SMS customer.
    Case.objects.filter(customer=ana).update(status="assigned", assignee=outsider)
    # The SMS case waits in a queue of another team.
    other.cases.update(queue=factories.queue("Team B", team=Team.objects.create(name="B")))
    client = client_for(outsider.user)

    assert client.get(f"/api/v1/customers/{ana.pk}/history/").status_code == 200
    assert client.get(f"/api/v1/customers/{other.pk}/history/").status_code == 404
    response = client.post(f"/api/v1/customers/{ana.pk}/merge/", {"source": other.pk}, content_type="application/json")
    assert response.status_code == 404
    assert CustomerMerge.objects.count() == 0
    assert Client().get(f"/api/v1/customers/{ana.pk}/history/").status_code in (401, 403)
