"""Why a case went to an agent: kept with each offer, told to supervisors
and admins through the API (names only of agents they may see), worked out
live for a case still waiting, and purged after the kept days."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from agents.models import Role, Team
from routing import explain
from routing.batch import route_agent, route_case
from routing.models import Explanation, Offer
from routing.offers import decline_offer
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    team = Team.objects.create(name="Spanish desk")
    boss = factories.user("boss", role=Role.SUPERVISOR)
    team.supervisors.add(boss)
    return team


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _world(team):
    queue = factories.queue("Spanish", team=team)
    chan = factories.channel("es", default_queue=queue)
    agents = {
        "jana": factories.agent("jana", skills={"lang-es": 5}, teams=[team]),
        "petr": factories.agent("petr", skills={"lang-es": 1}, teams=[team]),  # below the minimum
        "olga": factories.agent("olga", teams=[team]),  # no Spanish at all
        "ivan": factories.agent(
            "ivan", skills={"lang-es": 4}, teams=[team], presence=factories.status("Email only", ["email"])
        ),
    }
    return queue, chan, agents


def test_an_offer_keeps_why_it_went_to_its_agent(team):
    queue, chan, agents = _world(team)
    case = factories.queued_case(chan, skills={"lang-es": 3})

    offer = route_case(case_id=case.pk, now=timezone.now())

    assert offer.agent_id == agents["jana"].pk
    data = Explanation.objects.get(offer=offer).data
    assert data["agent"] == agents["jana"].pk
    assert data["excluded"] == {
        "status": [agents["ivan"].pk],
        "skill": [agents["olga"].pk],
        "proficiency": [agents["petr"].pk],
    }
    assert data["eligible"] == 1 and data["considered"] == 4


def test_supervisors_read_why_with_names_and_sentences(team):
    queue, chan, agents = _world(team)
    case = factories.queued_case(chan, skills={"lang-es": 3})
    route_case(case_id=case.pk, now=timezone.now())

    boss = team.supervisors.get()
    body = _client(boss).get(f"/api/v1/cases/{case.pk}/explanation/").json()

    told = body["offers"][0]["explanation"]
    assert body["offers"][0]["agent_name"] == "Jana"
    assert {e["name"] for e in told["excluded"]["proficiency"]} == {"Petr"}
    assert any(line.startswith("Chosen: Jana") for line in told["summary"])
    assert any("below the required proficiency" in line and "Petr" in line for line in told["summary"])
    assert body["waiting"] is None


def test_agents_may_not_read_explanations(team):
    queue, chan, agents = _world(team)
    case = factories.queued_case(chan, skills={"lang-es": 3})
    route_case(case_id=case.pk, now=timezone.now())

    response = _client(agents["jana"].user).get(f"/api/v1/cases/{case.pk}/explanation/")
    assert response.status_code == 403
    assert "supervisors" in response.json()["detail"]


def test_another_teams_agents_are_told_without_names(team):
    queue, chan, agents = _world(team)
    other_team = Team.objects.create(name="Other")
    outsider = factories.agent("zora", skills={}, teams=[other_team])
    case = factories.queued_case(chan, skills={"lang-es": 3})
    case.overflow = {"anyone": True}
    case.save(update_fields=["overflow"])
    route_case(case_id=case.pk, now=timezone.now())

    boss = team.supervisors.get()
    told = _client(boss).get(f"/api/v1/cases/{case.pk}/explanation/").json()["offers"][0]["explanation"]
    skill_excluded = told["excluded"]["skill"]
    assert {"agent": None, "name": explain.HIDDEN} in skill_excluded
    assert all(e["agent"] != outsider.pk for e in skill_excluded)
    assert "Zora" not in str(told)

    admin = factories.user("root", role=Role.ADMIN)
    told = _client(admin).get(f"/api/v1/cases/{case.pk}/explanation/").json()["offers"][0]["explanation"]
    assert {"agent": outsider.pk, "name": "Zora"} in told["excluded"]["skill"]


def test_a_waiting_case_says_why_nobody_has_it(team):
    queue, chan, agents = _world(team)
    case = factories.queued_case(chan, skills={"lang-es": 5, "billing": 2})

    assert route_case(case_id=case.pk, now=timezone.now()) is None

    boss = team.supervisors.get()
    body = _client(boss).get(f"/api/v1/cases/{case.pk}/explanation/").json()
    assert body["offers"] == []
    waiting = body["waiting"]
    assert waiting["eligible"] == 0 and waiting["agent"] is None
    assert "Nobody may take it now." in waiting["summary"]
    assert {e["name"] for e in waiting["excluded"]["skill"]} == {"Jana", "Olga"}


def test_a_declined_offer_is_named_in_the_next_explanation(team):
    queue, chan, agents = _world(team)
    factories.agent("lucia", skills={"lang-es": 3}, teams=[team])
    case = factories.queued_case(chan, skills={"lang-es": 3})
    now = timezone.now()
    first = route_case(case_id=case.pk, now=now)
    decline_offer(offer_id=first.pk, agent=first.agent, reason="On a call", now=now)
    route_case(case_id=case.pk, now=now)

    second = Offer.objects.filter(case=case).exclude(pk=first.pk).get()
    data = second.explanation.data
    assert data["excluded"]["declined"] == [first.agent_id]
    assert data["agent"] == second.agent_id != first.agent_id


def test_an_agent_who_pulls_a_case_is_said_to_have_pulled_it(team):
    queue, chan, agents = _world(team)
    case = factories.queued_case(chan, skills={"lang-es": 3})
    jana = agents["jana"]
    jana.present_until = None
    jana.save(update_fields=["present_until"])
    assert route_case(case_id=case.pk, now=timezone.now()) is None

    jana.present_until = timezone.now() + timedelta(minutes=5)
    jana.save(update_fields=["present_until"])
    assert route_agent(agent_id=jana.pk, now=timezone.now()) == 1

    data = Offer.objects.get(case=case).explanation.data
    assert data["pulled_by"] == jana.pk


def test_explanations_are_purged_after_the_kept_days_and_none_kept_at_zero(team):
    queue, chan, agents = _world(team)
    now = timezone.now()
    old = route_case(case_id=factories.queued_case(chan).pk, now=now - timedelta(days=31))
    new = route_case(case_id=factories.queued_case(chan).pk, now=now)

    assert explain.purge(now) == 1
    assert list(Explanation.objects.values_list("offer_id", flat=True)) == [new.pk]
    assert Offer.objects.filter(pk=old.pk).exists()  # the offer itself stays

    with override_settings(SWITCHBOARD={**settings.SWITCHBOARD, "EXPLANATION_DAYS": 0}):
        offer = route_case(case_id=factories.queued_case(chan).pk, now=now)
        assert offer is not None and not Explanation.objects.filter(offer=offer).exists()


def test_deleting_a_case_deletes_its_offers_explanations(team):
    """The database does not check an explanation's offer (see the model):
    deleting goes through Django's cascade, so none is left behind."""
    queue, chan, agents = _world(team)
    kept, gone = (factories.queued_case(chan) for _ in range(2))
    offers = [route_case(case_id=case.pk, now=timezone.now()) for case in (kept, gone)]
    assert Explanation.objects.filter(offer__in=offers).count() == 2

    gone.delete()
    assert list(Explanation.objects.values_list("offer_id", flat=True)) == [offers[0].pk]


def test_the_admin_shows_why_on_the_offer(team):
    queue, chan, agents = _world(team)
    case = factories.queued_case(chan, skills={"lang-es": 3})
    offer = route_case(case_id=case.pk, now=timezone.now())
    admin = factories.user("root", role=Role.ADMIN)
    admin.is_staff = admin.is_superuser = True
    admin.save()

    page = _client(admin).get(f"/admin/routing/offer/{offer.pk}/change/").content.decode()
    assert "Chosen: Jana, by most free capacity on the channel" in page
    assert "Not offered (below the required proficiency): Petr." in page
