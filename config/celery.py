"""The Celery app: workers by queue (ingest, routing, outbound) and beat for the tick."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from config.logs import connect_celery  # noqa: E402

connect_celery()  # tasks log their case id and the request id that queued them

from celery.signals import worker_process_init, worker_process_shutdown  # noqa: E402


@worker_process_init.connect
def _freeze_startup_objects(**kwargs) -> None:
    """A worker child, once started, keeps the garbage collector off its
    start-up objects (see ``config.runtime``)."""
    from config.runtime import freeze_startup_objects

    freeze_startup_objects()


@worker_process_shutdown.connect
def _deliver_queued_events(**kwargs) -> None:
    """A worker child that stops delivers its committed events first (the
    event thread is a daemon; atexit does not run in a prefork child)."""
    from config.events import dispatcher

    dispatcher.flush(timeout=10.0)
