"""Running a simulation from the admin: the add form simulates and stores
the run, the run's page shows the report; bad input is refused and stores
nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from simulation import admin as simulation_admin
from simulation.models import SimulationRun
from tests.simulation.helpers import agent, doc

pytestmark = pytest.mark.django_db
ADD = "/admin/simulation/simulationrun/add/"
SCENARIO = """
seed: 4
arrivals: {web_chat: {per_hour: {9: 30, 10: 30}, mix: [{queue: Chat}]}}
handle_time: {web_chat: 400}
patience: {web_chat: {dist: exponential, mean: 300}}
shifts: {default: [8, 12]}
what_if:
  - add_agents: {count: 1, prefix: extra, capacity: {web_chat: 2}, hours: [9, 11]}
"""


def config_yaml() -> str:
    import yaml

    return yaml.safe_dump(doc([agent("ana", capacity={"web_chat": 1}, total=1)]))


def test_an_admin_runs_a_simulation_and_sees_the_report(admin_client, admin_user):
    response = admin_client.post(ADD, {"name": "One more agent", "scenario": SCENARIO, "config": config_yaml()})
    run = SimulationRun.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{run.pk}/change/")
    assert run.created_by == admin_user and run.cases > 30
    assert "B: what if" in run.summary
    page = admin_client.get(response["Location"]).content.decode()
    assert "<svg" in page and "SLA attainment by hour" in page and "One more agent" in page


def test_the_scenario_and_configuration_may_be_uploaded(admin_client):
    response = admin_client.post(
        ADD,
        {
            "scenario_file": SimpleUploadedFile("s.yaml", SCENARIO.encode()),
            "config_file": SimpleUploadedFile("c.yaml", config_yaml().encode()),
        },
    )
    assert response.status_code == 302
    assert SimulationRun.objects.get().scenario.strip() == SCENARIO.strip()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"scenario": "arrivals: [", "config": "agents: []"}, "not valid YAML"),
        ({"scenario": "colour: red"}, "unknown keys colour"),
        ({"scenario": "", "config": "agents: []"}, "Give a scenario with arrivals, or a day to replay"),
        ({"scenario": SCENARIO.replace("queue: Chat", "queue: Nope"), "config": "agents: []"}, "no queue named"),
        ({"scenario": SCENARIO, "config": "- not a mapping"}, "a mapping with"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_stores_nothing(admin_client, data, message):
    response = admin_client.post(ADD, data)
    assert response.status_code == 400  # the form again, with the message
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not SimulationRun.objects.exists()


def test_too_many_cases_for_the_admin_are_refused(admin_client, monkeypatch):
    monkeypatch.setattr(simulation_admin, "MAX_CASES", 10)
    response = admin_client.post(ADD, {"scenario": SCENARIO, "config": config_yaml()})
    assert response.status_code == 400
    assert "the admin simulates at most 10" in response.content.decode()
    assert not SimulationRun.objects.exists()


def test_a_run_is_not_edited_afterwards(admin_client):
    admin_client.post(ADD, {"scenario": SCENARIO, "config": config_yaml()})
    run = SimulationRun.objects.get()
    before = run.summary
    admin_client.post(f"/admin/simulation/simulationrun/{run.pk}/change/", {"name": "changed", "scenario": "x"})
    run.refresh_from_db()
    assert run.summary == before and run.name == ""


def test_only_staff_with_permission_may_run_one(client, django_user_model):
    user = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"scenario": SCENARIO, "config": config_yaml()}).status_code == 403
    assert not SimulationRun.objects.exists()
