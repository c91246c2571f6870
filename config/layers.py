"""The apps in layers, lowest first (docs/architecture.md says why).

A module imports only from its own layer or below, at module level and
inside functions alike; apps of one layer import each other only without a
cycle. A lower app that must cause work in a higher one publishes an event
(``config.events``) and the higher app's ``listeners.py`` reacts.
``tests/test_layers.py`` reads every import and enforces this table.
"""

from __future__ import annotations

LAYERS: dict[str, int] = {
    "config": 0,  # settings, events, background work, the vocabularies every app shares
    "audit": 1,  # the configuration audit: records every app's models by label
    "agents": 1,
    "cases": 2,
    "routing": 3,
    "sla": 4,
    "surveys": 4,
    "replies": 4,
    "calls": 4,  # phone calls: call events into cases (classified and queued by routing)
    "connectors": 5,
    "dashboards": 6,
    "reports": 6,
    "outhooks": 6,
    "privacy": 6,
    "configio": 6,
    "simulation": 6,
}

# Composition roots wire every app together (URL confs, server and worker
# entry points): they may import any app. ``tests/`` and ``bench/`` are no apps.
EXEMPT: frozenset[str] = frozenset(
    {
        "config/urls.py",
        "config/api_urls.py",
        "config/asgi.py",
        "config/celery.py",
        "config/wsgi.py",
        "manage.py",
    }
)
