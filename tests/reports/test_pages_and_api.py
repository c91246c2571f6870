"""The report API, pages and CSV: who may see what, bad input refused with
a message, and the same figures everywhere."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from agents.models import Role
from reports.aggregate import aggregate_due
from tests import factories
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
RANGE = {"since": "2026-11-02", "until": "2026-11-04"}


@pytest.fixture
def people(history):
    aggregate_due(now=at(2, 0, 10), since=at(0, 0))
    sam = factories.user("sam", role=Role.SUPERVISOR)
    history.team.supervisors.add(sam)
    admin = factories.user("root", role=Role.ADMIN)
    return {"sam": sam, "root": admin, "ana": history.ana.user}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_api_gives_admins_everything_and_supervisors_their_teams(people):
    admin = client_for(people["root"]).get("/api/v1/reports/", {**RANGE, "group": "queue"})
    assert admin.status_code == 200
    assert {r["label"]: r["cases_created"] for r in admin.json()["rows"]} == {"Support": 6, "Deals": 1}
    sam = client_for(people["sam"]).get("/api/v1/reports/", {**RANGE, "group": "queue"})
    assert {r["label"]: r["cases_created"] for r in sam.json()["rows"]} == {"Support": 6}
    total = client_for(people["sam"]).get("/api/v1/reports/", RANGE).json()["rows"][0]
    assert (total["cases_created"], total["sla_attainment_pct"]) == (6, 100.0)


def test_agents_and_anonymous_get_no_report(people):
    assert client_for(people["ana"]).get("/api/v1/reports/").status_code == 403
    assert Client().get("/api/v1/reports/").status_code == 401
    assert client_for(people["ana"]).get("/reports/").status_code == 403
    assert client_for(people["ana"]).get("/reports/csv/").status_code == 403
    assert Client().get("/reports/").status_code == 302  # to the login page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"group": "planets"}, "unknown grouping"),
        ({"since": "yesterday"}, "since must be a date"),
        ({"since": "2026-11-04", "until": "2026-11-02"}, "until must be after since"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"since": "2020-01-01", "until": "2026-01-01"}, "at most 400 days"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "between the years 1970 and 9000"),
        ({"tz": "America"}, "unknown time zone"),
    ],
)
def test_bad_input_is_a_clear_400(people, params, message):
    response = client_for(people["root"]).get("/api/v1/reports/", params)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert client_for(people["root"]).get("/reports/csv/", params).status_code == 400
    page = client_for(people["root"]).get("/reports/", params)
    assert page.status_code == 400 and message in page.content.decode()


def test_page_shows_a_chart_and_a_table(people):
    page = client_for(people["sam"]).get("/reports/", {**RANGE, "group": "day"}).content.decode()
    assert "<svg" in page and page.count("<rect") == 2  # Monday and Tuesday
    assert '<th scope="row">2026-11-02</th>' in page
    assert "/reports/csv/?" in page


def test_every_table_downloads_as_csv_with_the_api_figures(people):
    for group in ("total", "queue", "team", "agent", "channel_kind", "tier", "sla", "hour", "day", "agent_status"):
        response = client_for(people["root"]).get("/reports/csv/", {**RANGE, "group": group})
        assert response.status_code == 200, group
        assert response["Content-Type"].startswith("text/csv")
        assert f"switchboard-{group}-" in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        api = client_for(people["root"]).get("/api/v1/reports/", {**RANGE, "group": group}).json()["rows"]
        assert [r[0] for r in rows[1:]] == [r["label"] for r in api], group
    queues = list(
        csv.DictReader(
            io.StringIO(client_for(people["root"]).get("/reports/csv/", {**RANGE, "group": "queue"}).content.decode())
        )
    )
    assert {q["Queue"]: q["Cases created"] for q in queues} == {"Deals": "1", "Support": "6"}
