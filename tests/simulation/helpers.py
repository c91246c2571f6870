"""Small configurations and scenarios for the simulator's tests."""

from __future__ import annotations

from simulation import model
from simulation.scenario import from_dict
from simulation.traffic import Arrival


def agent(username: str, *, skills=None, capacity=None, total: int = 2, teams=()) -> dict:
    return {
        "username": username,
        "capacities": capacity or {"web_chat": 2, "email": 2},
        "capacity_total": total,
        "skills": skills or {},
        "teams": list(teams),
    }


def doc(agents: list[dict], *, queues=None, sla=None, rules=None) -> dict:
    return {
        "skills": [{"name": "lang-es", "kind": "language", "language_code": "es"}, {"name": "billing"}],
        "teams": [{"name": "Support"}],
        "agents": agents,
        "queues": queues if queues is not None else [{"name": "Chat", "offer_timeout_seconds": 30}],
        "routing_rules": rules or [],
        "sla_policies": sla or [],
    }


def arrival(case_id: int, at: float, **fields) -> Arrival:
    fields.setdefault("kind", "web_chat")
    fields.setdefault("queue", "Chat")
    fields.setdefault("handle", 600.0)
    return Arrival(case_id=case_id, at=at, **fields)


def scenario(**fields):
    return from_dict({"shifts": {"default": [0, 48]}, **fields})


def config(*args, **kwargs):
    return model.load(doc(*args, **kwargs))
