"""The Procfile runs every process production needs, every Celery task goes
to a queue a Procfile worker consumes, and workers never lose a task they
took (docs/production.md)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, list[str]]:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line and not line.startswith("#")]
    return {name: shlex.split(command) for name, command in (line.split(":", 1) for line in lines)}


def consumed_queues() -> set[str]:
    queues = set()
    for argv in procfile().values():
        if "worker" in argv:
            queues |= set(argv[argv.index("-Q") + 1].split(","))
    return queues


def test_the_procfile_runs_web_workers_by_queue_beat_and_smtpd():
    processes = procfile()
    assert set(processes) == {"web", "ingest", "routing", "outbound", "beat", "smtpd"}
    assert processes["web"][0].endswith("uvicorn") and "config.asgi:application" in processes["web"]
    assert processes["beat"][1:4] == ["-A", "config", "beat"]
    assert processes["smtpd"][1:3] == ["manage.py", "smtpd"]
    assert consumed_queues() == {"ingest", "routing", "outbound"}


def test_every_task_goes_to_a_queue_a_worker_consumes():
    from config.celery import app

    app.loader.import_default_modules()
    names = sorted(n for n in app.tasks if not n.startswith("celery."))
    assert "routing.tasks.route_case" in names and "connectors.tasks.process_event" in names
    routed = {name: app.amqp.router.route({}, name)["queue"].name for name in names}
    assert {n: q for n, q in routed.items() if q not in consumed_queues()} == {}
    assert routed["connectors.tasks.process_event"] == "ingest"
    assert routed["routing.tasks.route_case"] == "routing"
    assert routed["connectors.tasks.deliver_message"] == "outbound"


def test_every_beat_entry_names_a_registered_task(settings):
    from config.celery import app

    app.loader.import_default_modules()
    assert {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()} <= set(app.tasks)


def test_a_killed_worker_gives_its_task_back(settings):
    # A task is acknowledged only once done; a worker process that dies gives
    # it back to the broker; a worker holds no prefetched tasks besides it.
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


@pytest.mark.django_db
def test_a_redelivered_routing_task_does_nothing_twice():
    """A task run again after a worker died (acks late) finds the case
    already offered and changes nothing."""
    from routing.models import Offer
    from routing.tasks import route_case
    from tests import factories

    factories.agent("ana")
    case = factories.queued_case(factories.channel("web", default_queue=factories.queue("Support")))
    route_case.run(case_id=case.pk)
    route_case.run(case_id=case.pk)
    assert Offer.objects.filter(case=case).count() == 1


def test_make_run_prod_starts_the_procfile_with_honcho():
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^run-prod:.*?(?=^\S)", makefile, re.S | re.M)[0]
    assert "honcho start -f Procfile" in target and "migrate" in target
    assert re.search(r"manage\.py check --deploy$", target, re.M)  # every check, not only one tag
    assert re.search(r"^honcho==\d", (ROOT / "requirements.txt").read_text(), re.M)
