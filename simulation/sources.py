"""Where a simulation's inputs come from: configuration documents (a YAML
file in the ``export_config`` format, or the database now) and the day's
arrivals (generated from the scenario, or recorded on a date)."""

from __future__ import annotations

from datetime import date

import yaml

from simulation.distributions import ScenarioError
from simulation.scenario import Scenario
from simulation.traffic import Arrival, generate


def config_from_text(text: str, *, where: str = "configuration") -> dict:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}: a mapping with 'agents', 'queues', ... (as export_config writes)")
    return doc


def config_today() -> dict:
    """Today's configuration from the database, as ``export_config`` writes it."""
    from configio.export import export_config

    return export_config()


def arrivals_for(scenario: Scenario, day: date | None) -> list[Arrival]:
    """Generated when the scenario has arrival rates, else recorded on ``day``."""
    if scenario.streams:
        if day is not None:
            raise ScenarioError("the scenario has 'arrivals': leave out the date, or the arrivals to replay that day")
        return generate(scenario)
    if day is None:
        raise ScenarioError("no traffic: give the scenario 'arrivals', or a date to replay from the database")
    from simulation.replay import recorded

    return recorded(day, scenario)
