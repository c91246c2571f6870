"""Classification through the webhook: routing rules set a new case's queue,
priority and required skills; the language of the message requires the
matching language skill; with no rule the channel's default queue takes it."""

from __future__ import annotations

import pytest

from cases.models import Case, CaseEvent, CaseStatus, Priority
from routing.models import Offer, QueueSkill, RoutingRule, RoutingRuleSkill
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def general():
    return factories.queue("General")


@pytest.fixture
def channel(general):
    return factories.channel("web", default_queue=general)


def _required(case: Case) -> dict[str, int]:
    return {cs.skill.name: cs.min_proficiency for cs in case.required_skills.select_related("skill")}


def test_spanish_message_requires_the_spanish_language_skill(deliver, channel):
    factories.skill("lang-es", language_code="es")
    factories.skill("lang-pt", language_code="pt")

    deliver(channel, factories.payload(id="m-1", language="es", text="Hola, mi pedido no llegó"))

    case = Case.objects.get()
    assert case.language == "es"
    assert _required(case) == {"lang-es": 1}


def test_regional_language_falls_back_to_its_base_language_skill(deliver, channel):
    factories.skill("lang-es", language_code="es")

    deliver(channel, factories.payload(id="m-1", language="es-MX"))

    assert _required(Case.objects.get()) == {"lang-es": 1}


def test_language_without_a_skill_requires_nothing(deliver, channel):
    factories.skill("lang-es", language_code="es")

    deliver(channel, factories.payload(id="m-1", language="fr"))

    assert _required(Case.objects.get()) == {}


def test_message_without_language_requires_no_language_skill(deliver, channel):
    factories.skill("lang-es", language_code="es")

    deliver(channel, factories.payload(id="m-1"))

    assert _required(Case.objects.get()) == {}


def test_with_no_rule_the_channels_default_queue_takes_the_case(deliver, channel, general):
    RoutingRule.objects.create(name="Refunds", match_keywords="refund", queue=factories.queue("Refunds"))

    deliver(channel, factories.payload(id="m-1", text="Where is my parcel?"))

    case = Case.objects.get()
    assert case.queue_id == general.pk
    assert case.priority == Priority.NORMAL
    assert case.status == CaseStatus.QUEUED
    assert case.events.get(kind=CaseEvent.Kind.CLASSIFIED).data["rule"] is None


def test_keyword_rule_routes_to_its_queue_with_its_priority_and_skills(deliver, channel):
    refunds = factories.queue("Refunds")
    QueueSkill.objects.create(queue=refunds, skill=factories.skill("payments"), min_proficiency=2)
    rule = RoutingRule.objects.create(
        name="Refunds", match_keywords="refund, money back", queue=refunds, set_priority=Priority.HIGH
    )
    RoutingRuleSkill.objects.create(rule=rule, skill=factories.skill("billing"), min_proficiency=3)
    factories.skill("lang-es", language_code="es")

    deliver(channel, factories.payload(id="m-1", language="es", text="I want my MONEY BACK now"))

    case = Case.objects.get()
    assert case.queue_id == refunds.pk
    assert case.priority == Priority.HIGH
    assert _required(case) == {"payments": 2, "billing": 3, "lang-es": 1}
    classified = case.events.get(kind=CaseEvent.Kind.CLASSIFIED)
    assert classified.data["rule"] == "Refunds"
    assert classified.data["queue"] == "Refunds"
    assert classified.data["skills"] == ["billing", "lang-es", "payments"]


def test_first_matching_rule_in_order_wins(deliver, channel):
    urgent = factories.queue("Urgent")
    refunds = factories.queue("Refunds")
    RoutingRule.objects.create(name="Refunds", order=20, match_keywords="refund", queue=refunds)
    RoutingRule.objects.create(
        name="Legal", order=10, match_keywords="lawyer", queue=urgent, set_priority=Priority.URGENT
    )
    RoutingRule.objects.create(name="Off", order=1, match_keywords="refund", queue=urgent, is_active=False)

    deliver(channel, factories.payload(id="m-1", text="My lawyer wants a refund", thread="a"))
    deliver(channel, factories.payload(id="m-2", text="A refund, please", thread="b"))

    by_thread = {c.thread_key: c for c in Case.objects.all()}
    assert (by_thread["a"].queue_id, by_thread["a"].priority) == (urgent.pk, Priority.URGENT)
    assert (by_thread["b"].queue_id, by_thread["b"].priority) == (refunds.pk, Priority.NORMAL)


def test_rule_can_match_on_language_and_channel_kind(deliver, channel):
    spanish = factories.queue("Spanish email")
    RoutingRule.objects.create(name="Spanish email", match_language="es", match_channel_kinds=["email"], queue=spanish)
    mail = factories.channel("mail", kind="email")

    deliver(mail, factories.payload(id="m-1", language="es"))
    deliver(channel, factories.payload(id="m-2", language="es"))  # api, not email
    deliver(mail, factories.payload(id="m-3", language="en", thread="en"))

    assert Case.objects.get(channel=mail, language="es").queue_id == spanish.pk
    assert Case.objects.get(channel=channel).queue.name == "General"
    assert Case.objects.get(channel=mail, language="en").queue_id is None  # the mail channel has no default


def test_rule_may_leave_out_the_language_skill(deliver, channel):
    factories.skill("lang-es", language_code="es")
    RoutingRule.objects.create(name="Any", queue=factories.queue("Any"), add_language_skill=False)

    deliver(channel, factories.payload(id="m-1", language="es"))

    assert _required(Case.objects.get()) == {}


def test_follow_up_message_does_not_reclassify_the_case(deliver, channel, general):
    RoutingRule.objects.create(name="Refunds", match_keywords="refund", queue=factories.queue("Refunds"))
    deliver(channel, factories.payload(id="m-1", text="Where is my parcel?"))

    deliver(channel, factories.payload(id="m-2", text="Actually I want a refund"))

    case = Case.objects.get()
    assert case.queue_id == general.pk
    assert case.events.filter(kind=CaseEvent.Kind.CLASSIFIED).count() == 1


def test_spanish_case_is_offered_to_the_spanish_speaking_agent(deliver, channel):
    factories.agent("ben", skills={"lang-en": 5})
    ana = factories.agent("ana", skills={"lang-es": 3})

    deliver(channel, factories.payload(id="m-1", language="es", text="Hola"))

    offer = Offer.objects.get()
    assert offer.agent_id == ana.pk
    assert offer.case.status == CaseStatus.OFFERED


def test_case_needing_a_skill_nobody_has_waits_in_its_queue(deliver, channel):
    factories.agent("ben", skills={"lang-en": 5})
    factories.skill("lang-es", language_code="es")

    deliver(channel, factories.payload(id="m-1", language="es", text="Hola"))

    assert Offer.objects.count() == 0
    assert Case.objects.get().status == CaseStatus.QUEUED
