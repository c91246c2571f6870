"""Recorded days from the database, today's configuration, and the
``simulate`` command."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import yaml
from django.core.management import CommandError, call_command

from simulation import sources
from simulation.replay import day_start, recorded
from simulation.scenario import loads
from tests import factories

DAY = date(2026, 3, 10)
pytestmark = pytest.mark.django_db


def world():
    factories.skill("lang-es", language_code="es")
    queue = factories.queue("Chat")
    channel = factories.channel("web", kind="web_chat", default_queue=queue)
    ana = factories.agent("ana", capacity={"web_chat": 2}, total=2)
    factories.agent("eva", skills={"lang-es": 4}, capacity={"web_chat": 1}, total=1)
    start = day_start(DAY)
    # Served that day in 7 minutes, from 9:00.
    factories.held_case(
        channel,
        ana,
        status="resolved",
        at=start + timedelta(hours=9),
        resolved_at=start + timedelta(hours=9, minutes=7),
    )
    # Still waiting, in Spanish, at 9:30, VIP.
    factories.queued_case(channel, skills={"lang-es": 2}, at=start + timedelta(hours=9, minutes=30), tier="vip")
    # The day before and the day after: not replayed.
    factories.queued_case(channel, at=start - timedelta(minutes=1))
    factories.queued_case(channel, at=start + timedelta(days=1))
    return queue


def test_a_recorded_day_replays_its_cases_with_their_real_handle_times():
    world()
    arrivals = recorded(DAY, loads("seed: 1\nhandle_time: {web_chat: 100}"))
    assert len(arrivals) == 2
    served, waiting = arrivals
    assert served.at == 9 * 3600 and served.kind == "web_chat" and served.queue == "Chat"
    assert served.handle == 7 * 60  # first assignment to resolution
    assert waiting.at == 9.5 * 3600 and waiting.skills == {"lang-es": (2, False)} and waiting.vip
    assert waiting.handle == 100  # never resolved: from the scenario


def test_todays_configuration_is_read_in_the_export_format():
    world()
    doc = sources.config_today()
    assert {a["username"] for a in doc["agents"]} == {"ana", "eva"}
    eva = next(a for a in doc["agents"] if a["username"] == "eva")
    assert eva["skills"] == {"lang-es": 4} and eva["capacities"] == {"web_chat": 1}
    assert [q["name"] for q in doc["queues"]] == ["Chat"]
    assert yaml.safe_load(yaml.safe_dump(doc)) == doc  # a file of it reads back the same


def test_the_command_replays_a_day_against_today_and_a_what_if(tmp_path):
    world()
    scenario = tmp_path / "what-if.yaml"
    scenario.write_text(
        "what_if:\n  - add_agents: {count: 1, prefix: es, skills: {lang-es: 3}, capacity: {web_chat: 1}}\n"
    )
    out = io.StringIO()
    report = tmp_path / "report.html"
    call_command("simulate", str(scenario), "--date", DAY.isoformat(), "--html", str(report), stdout=out)
    text = out.getvalue()
    assert "A: today" in text and "B: what if" in text
    assert "2 cases simulated" in text
    assert "<svg" in report.read_text()


def test_the_command_reads_configuration_a_from_an_exported_file(tmp_path):
    world()
    config = tmp_path / "config.yaml"
    doc = sources.config_today()
    doc["agents"] = [a for a in doc["agents"] if a["username"] != "eva"]  # nobody speaks Spanish in this file
    config.write_text(yaml.safe_dump(doc))
    out = io.StringIO()
    call_command("simulate", "--date", DAY.isoformat(), "--config", str(config), stdout=out)
    assert "A: config" in out.getvalue().splitlines()[0]  # named after the file
    line = next(line for line in out.getvalue().splitlines() if line.startswith("never answered"))
    assert line.split()[-1] == "1"  # the Spanish case: nobody may take it


@pytest.mark.parametrize(
    "args, message",
    [
        (["--date", "2026-13-01"], "month must be in 1..12"),
        ([], "no traffic"),
        (["/nonexistent/scenario.yaml"], "No such file"),
        (["--date", "2026-03-10", "--config", "/nonexistent.yaml"], "No such file"),
    ],
)
def test_the_command_refuses_bad_input_with_a_message(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("simulate", *args, stdout=io.StringIO())


def test_generated_arrivals_and_a_date_do_not_mix(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("arrivals: {web_chat: {per_hour: {9: 10}}}")
    with pytest.raises(CommandError, match="leave out the date"):
        call_command("simulate", str(scenario), "--date", "2026-03-10", stdout=io.StringIO())


def test_the_seed_makes_a_generated_day_repeatable(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("arrivals: {web_chat: {per_hour: {9: 200}, mix: [{queue: Chat}]}}\nshifts: {default: [8, 12]}")
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"queues": [{"name": "Chat"}], "agents": [{"username": "ana", "capacities": {"web_chat": 3}}]})
    )

    def cases(seed: int) -> str:
        out = io.StringIO()
        call_command("simulate", str(scenario), "--config", str(config), "--seed", str(seed), stdout=out)
        return next(line for line in out.getvalue().splitlines() if line.startswith("cases"))

    assert cases(1) == cases(1)
    assert cases(1) != cases(2)
