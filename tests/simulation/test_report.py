"""The figures of a run, the text report side by side, and the HTML report."""

from __future__ import annotations

import re

import pytest

from simulation import html, report
from simulation.compare import compare
from simulation.engine import simulate
from simulation.scenario import from_dict
from simulation.traffic import HOUR
from tests.simulation.helpers import agent, arrival, config, doc, scenario

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg

SLA = [{"name": "chat", "match_channel_kinds": ["web_chat"], "first_response_minutes": 1}]


def test_figures_are_computed_from_the_cases():
    cfg = config([agent("ana", capacity={"web_chat": 1, "email": 1}, total=1)], sla=SLA)
    arrivals = [
        arrival(1, 0.0, handle=100.0),  # served at once
        arrival(2, 10.0, handle=100.0),  # waits 90 s: misses the 60 s target
        arrival(3, 20.0, handle=100.0, patience=30.0),  # leaves after 30 s
        arrival(4, 3 * HOUR, kind="email", handle=100.0, reply_delay=50.0),  # no target
    ]
    summary = report.summarize(simulate(cfg, arrivals, scenario(shifts={"default": [0, 4]})), "A")
    t = summary.total
    assert (t.cases, t.answered, t.abandoned, t.unanswered) == (4, 3, 1, 0)
    assert (t.with_target, t.met) == (3, 1) and t.sla == pytest.approx(1 / 3)
    assert t.waits == [0.0, 90.0, 0.0] and t.avg_wait == pytest.approx(30.0) and t.p90_wait == 90.0
    assert summary.queues["Chat"].cases == 4
    assert summary.hours[0].cases == 3 and summary.hours[3].cases == 1
    # Held 300 s of 4 hours' capacity of 1 unit.
    assert summary.occupancy == pytest.approx(300 / (4 * HOUR))
    # Case 2 waited from 10 s to 100 s: the sample at 0 s saw none, so hour 0 averages 0.
    assert summary.backlog["Chat"][0] == 0.0


def test_first_response_on_email_is_the_assignment_plus_the_reply_delay():
    sla = [{"name": "mail", "match_channel_kinds": ["email"], "first_response_minutes": 10}]
    cfg = config([agent("ana")], sla=sla)
    arrivals = [arrival(1, 0.0, kind="email", reply_delay=500.0), arrival(2, 1.0, kind="email", reply_delay=700.0)]
    runs = simulate(cfg, arrivals, scenario()).cases
    assert [r.first_response_at for r in runs] == [500.0, 701.0]
    assert report.summarize(simulate(cfg, arrivals, scenario()), "A").total.met == 1


def test_backlog_counts_waiting_cases_per_queue_each_hour():
    cfg = config([agent("ana")], sla=SLA)
    # Nobody on shift until 2h: cases arriving in the first minutes wait two hours.
    arrivals = [arrival(n, float(n)) for n in range(1, 6)]
    summary = report.summarize(simulate(cfg, arrivals, scenario(shifts={"default": [2, 3]})), "A")
    # Hour 0: samples at :00 (nothing yet), :15, :30, :45 (5 waiting). Hour 2: ana
    # takes 2 (3 wait at 2:00), 2 more at 2:10 (1 waits at 2:15), the last at 2:20.
    assert summary.backlog["Chat"][:3] == [3.75, 5.0, 1.0]


def comparison():
    base = doc([agent("ana", capacity={"web_chat": 1}, total=1)], sla=SLA)
    sc = from_dict(
        {
            "name": "One more <agent>",
            "seed": 2,
            "arrivals": {"web_chat": {"per_hour": {9: 20, 10: 20}, "mix": [{"queue": "Chat"}]}},
            "handle_time": {"web_chat": 300},
            "patience": {"web_chat": 600},
            "shifts": {"default": [8, 12]},
            "what_if": [{"add_agents": {"count": 1, "capacity": {"web_chat": 1}, "hours": [8, 12]}}],
        }
    )
    from simulation.traffic import generate

    return compare(base, sc, generate(sc))


def test_a_second_agent_shows_up_as_better_figures_for_b():
    result = comparison()
    a, b = result.summaries
    assert a.total.cases == b.total.cases > 20
    assert b.total.avg_wait < a.total.avg_wait
    assert b.total.sla > a.total.sla
    assert b.agent_hours == 2 * a.agent_hours == 8.0
    text = report.text(result.summaries)
    assert "A: today" in text and "B: what if" in text
    assert re.search(r"SLA attainment \(first response\)\s+[\d.]+ %\s+[\d.]+ %", text)


def test_the_html_report_has_its_charts_and_escapes_text():
    result = comparison()
    page = html.document(result)
    assert page.startswith("<!doctype html>")
    assert page.count("<svg ") >= 3 and "<polyline" in page and "<rect" in page
    assert "One more &lt;agent&gt;" in page and "<agent>" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched
    assert ' style="' not in html.fragment(result)  # the admin's Content-Security-Policy allows no inline styles
