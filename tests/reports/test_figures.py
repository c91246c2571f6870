"""Every figure of a known history, exactly: from the hourly aggregates and
live, for admins and for a supervisor of one team (docs/reports.md
defines each)."""

from __future__ import annotations

import pytest

from dashboards.scope import Scope
from reports.aggregate import aggregate_due
from reports.models import AggregatedHour, HourlyFact
from reports.selectors import Range, report
from tests.reports.conftest import at

pytestmark = pytest.mark.django_db
ADMIN = Scope(is_admin=True, team_ids=frozenset())
LATER = at(2, 0, 10)  # Wednesday 00:10: Monday and Tuesday are history, every hour of them final
UTC_ZONE = at(0, 0).tzinfo


def rng(since, until, zone=UTC_ZONE):
    from zoneinfo import ZoneInfo

    return Range(since=since, until=until, zone=ZoneInfo(str(zone)) if not isinstance(zone, str) else ZoneInfo(zone))


def only(rows):
    assert len(rows) == 1
    return rows[0]


def by_label(rows):
    return {r["label"]: r for r in rows}


@pytest.fixture
def aggregated(history):
    computed = aggregate_due(now=LATER, since=at(0, 0))
    assert computed == 2 * 24  # Monday 00:00 to Tuesday 23:00, each hour once
    return history


def test_totals_of_the_history(aggregated):
    total = only(report("total", rng(at(0, 0), at(2, 0)), ADMIN, LATER))
    assert total["cases_created"] == 7
    assert total["reopened"] == 1
    # 20 min, 20 min (over midnight), 16 h 20 min (office hours: 20 min), 11 min, 5 min.
    assert total["first_response_count"] == 5
    assert total["first_response_avg_s"] == (1200 + 1200 + 58800 + 660 + 300) / 5
    assert total["first_response_business_avg_s"] == (1200 + 1200 + 1200 + 660 + 300) / 5
    # A reply nobody was waiting for is no next response.
    assert total["next_response_count"] == 2
    assert total["next_response_avg_s"] == 900
    # Resolved twice, the second time counted from the re-opening.
    assert total["resolution_count"] == 5
    assert total["resolution_avg_s"] == (4200 + 3000 + 2100 + 1800 + 1260) / 5
    assert total["handle_count"] == 6
    assert total["handle_avg_s"] == (3900 + 1500 + 600 + 1800 + 1200 + 1200) / 6
    assert (total["sla_met"], total["sla_breached"], total["sla_attainment_pct"]) == (1, 1, 50.0)
    assert total["abandoned"] == 2
    assert total["transfers"] == 1
    assert (total["offers"], total["offers_accepted"], total["offers_declined"], total["offers_missed"]) == (3, 1, 1, 1)
    assert (total["surveys_sent"], total["surveys_answered"], total["survey_response_pct"]) == (2, 1, 50.0)
    assert (total["satisfaction_avg"], total["score_4"], total["score_5"]) == (4.0, 1, 0)
    assert (total["social_reaction_count"], total["social_reaction_avg_s"]) == (1, 420.0)


def test_a_supervisor_sees_their_teams_only(aggregated):
    care = Scope(is_admin=False, team_ids=frozenset({aggregated.team.pk}))
    total = only(report("total", rng(at(0, 0), at(2, 0)), care, LATER))
    assert total["cases_created"] == 6
    assert (total["sla_met"], total["sla_breached"], total["sla_attainment_pct"]) == (1, 0, 100.0)
    assert set(by_label(report("queue", rng(at(0, 0), at(2, 0)), care, LATER))) == {"Support"}
    assert set(by_label(report("agent", rng(at(0, 0), at(2, 0)), care, LATER))) == {"Ana", "Ben"}
    assert set(by_label(report("team", rng(at(0, 0), at(2, 0)), ADMIN, LATER))) == {"Care", "Sales"}


def test_per_agent_handle_transfers_and_offers(aggregated):
    agents = by_label(report("agent", rng(at(0, 0), at(2, 0)), ADMIN, LATER))
    ana, ben = agents["Ana"], agents["Ben"]
    assert (ana["handle_count"], ana["handle_avg_s"]) == (3, (3900 + 600 + 1800) / 3)
    assert (ben["handle_count"], ben["handle_avg_s"]) == (2, (1500 + 1200) / 2)
    assert (ben["transfers"], ana["transfers"]) == (1, 0)
    assert (ben["offers"], ben["offers_declined"], ben["offers_missed"], ben["offers_accepted"]) == (2, 1, 1, 0)
    assert (ana["offers"], ana["offers_accepted"]) == (1, 1)
    assert (ana["first_response_count"], ben["first_response_count"]) == (3, 1)
    assert (ana["surveys_answered"], ana["satisfaction_avg"]) == (1, 4.0)


def test_occupancy_and_time_per_status(aggregated):
    hour = by_label(report("agent", rng(at(0, 10), at(0, 11)), ADMIN, LATER))["Ana"]
    assert (hour["busy_s"], hour["available_s"], hour["occupancy_pct"]) == (3300, 3600, 91.7)
    # In the evening Ana still holds the office-hours case, with no event since 16:55.
    evening = by_label(report("agent", rng(at(0, 20), at(0, 21)), ADMIN, LATER))["Ana"]
    assert (evening["busy_s"], evening["available_s"], evening["occupancy_pct"]) == (3600, 3600, 100.0)
    statuses = by_label(report("agent_status", rng(at(0, 10), at(0, 12)), ADMIN, LATER))
    assert statuses["Ana · Available"]["status_s"] == 3600 + 1800
    assert statuses["Ana · Lunch"]["status_s"] == 1800


def test_by_channel_tier_and_sla_policy(aggregated):
    kinds = by_label(report("channel_kind", rng(at(0, 0), at(2, 0)), ADMIN, LATER))
    assert kinds["web_chat"]["abandoned"] == 1 and kinds["voice"]["abandoned"] == 1
    assert kinds["web_chat"]["resolution_count"] == 3
    tiers = by_label(report("tier", rng(at(0, 0), at(2, 0)), ADMIN, LATER))
    assert (tiers["vip"]["cases_created"], tiers["standard"]["cases_created"]) == (1, 6)
    sla = only(report("sla", rng(at(0, 0), at(2, 0)), ADMIN, LATER))
    assert (sla["label"], sla["sla_met"], sla["sla_breached"]) == ("Office hours · first_response", 1, 1)


def test_by_hour_and_by_day_in_a_time_zone(aggregated):
    hours = report("hour", rng(at(0, 0), at(2, 0)), ADMIN, LATER)
    assert len(hours) == 24 and by_label(hours)["10:00"]["cases_created"] == 2
    days = by_label(report("day", rng(at(0, 0), at(2, 0)), ADMIN, LATER))
    assert {d: r["cases_created"] for d, r in days.items() if r["cases_created"]} == {"2026-11-02": 7}
    # In Prague (UTC+1) the chat written at 23:50 UTC arrived on Tuesday.
    prague = by_label(report("day", rng(at(0, 0), at(2, 0), "Europe/Prague"), ADMIN, LATER))
    assert {d: r["cases_created"] for d, r in prague.items() if r["cases_created"]} == {
        "2026-11-02": 6,
        "2026-11-03": 1,
    }
    assert (
        by_label(report("hour", rng(at(0, 0), at(2, 0), "Europe/Prague"), ADMIN, LATER))["11:00"]["cases_created"] == 2
    )


def test_midnight_splits_the_chat_between_days(aggregated):
    monday = only(report("total", rng(at(0, 0), at(1, 0)), ADMIN, LATER))
    tuesday = only(report("total", rng(at(1, 0), at(2, 0)), ADMIN, LATER))
    assert (monday["cases_created"], tuesday["cases_created"]) == (7, 0)
    # The chat's first answer, transfer and both resolutions came on Tuesday.
    assert (tuesday["first_response_count"], tuesday["transfers"], tuesday["resolution_count"]) == (2, 1, 2)
    assert tuesday["reopened"] == 1


def test_live_figures_equal_the_aggregated_ones(history):
    now = at(1, 23, 59)
    live = only(report("total", rng(at(0, 0), now), ADMIN, now))
    assert not HourlyFact.objects.exists()
    aggregate_due(now=now, since=at(0, 0))
    assert HourlyFact.objects.exists()
    stored = only(report("total", rng(at(0, 0), now), ADMIN, at(3, 12)))  # nothing live any more
    assert live == stored


def test_aggregating_twice_changes_nothing(aggregated):
    before = sorted(HourlyFact.objects.values_list("hour", "dimension", "key", "team_id", "cases_created"))
    assert aggregate_due(now=LATER, since=at(0, 0)) == 0  # every hour is final
    AggregatedHour.objects.update(computed_at=None)
    assert aggregate_due(now=LATER, since=at(0, 0)) == 2 * 24
    after = sorted(HourlyFact.objects.values_list("hour", "dimension", "key", "team_id", "cases_created"))
    assert before == after


def test_an_hour_computed_before_it_settled_is_computed_again(history):
    aggregate_due(now=at(0, 11, 1), since=at(0, 10))  # 10:00–11:00, one minute after it ended
    assert aggregate_due(now=at(0, 11, 2), since=at(0, 10)) == 1
    assert aggregate_due(now=at(0, 11, 6), since=at(0, 10)) == 1  # settled now: final
    assert aggregate_due(now=at(0, 11, 7), since=at(0, 10)) == 0
