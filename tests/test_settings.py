"""Settings read from the environment: embedded defaults and production rules.
Each case runs in a subprocess so it sees only the environment it sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRITERS = r"""
import json, os, threading, django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.core.management import call_command
from django.db import connection, connections, transaction
call_command("migrate", verbosity=0)
from cases.models import Customer
errors = []
def write(n):
    try:
        for i in range(40):
            with transaction.atomic():  # read, then write: the lock upgrade that fails without IMMEDIATE
                Customer.objects.filter(display_name__startswith=f"w{n}-").count()
                c = Customer.objects.create(display_name=f"w{n}-{i}")
                Customer.objects.filter(pk=c.pk).update(language="en")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connections.close_all()
threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
[t.start() for t in threads]; [t.join() for t in threads]
with connection.cursor() as cur:
    cur.execute("PRAGMA journal_mode")
    mode = cur.fetchone()[0]
print(json.dumps({"errors": errors, "count": Customer.objects.count(), "journal": mode}))
"""


def _run(code: str, env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    dropped = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    base = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("SWITCHBOARD_")}
    base.update({"SWITCHBOARD_VAR_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)})
    base.update(env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_embedded_sqlite_takes_concurrent_writers_without_database_is_locked(tmp_path):
    result = _run(WRITERS, {}, tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["count"] == 240
    assert report["journal"] == "wal"
    assert (tmp_path / "secret_key").exists()  # generated once, kept under var/


def test_embedded_secret_key_is_kept_between_starts(tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup();"
        "from django.conf import settings; print(settings.SECRET_KEY)"
    )
    first = _run(code, {}, tmp_path)
    second = _run(code, {}, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and len(first.stdout.strip()) > 40


def test_production_refuses_to_start_without_secret_key(tmp_path):
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup()"
    result = _run(code, {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required in production" in result.stderr


def test_redis_url_switches_channel_layer_and_background_work(tmp_path):
    code = (
        "import django, os, json; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(json.dumps([s.CHANNEL_LAYERS['default']['BACKEND'], s.BACKGROUND_MODE, s.CELERY_BROKER_URL,"
        " s.DATABASES['default']['ENGINE'], s.DEBUG]))"
    )
    prod = _run(
        code,
        {"DATABASE_URL": "postgres://u@db:5432/sb", "REDIS_URL": "redis://r:6379/0", "SECRET_KEY": "k"},
        tmp_path,
    )
    assert prod.returncode == 0, prod.stderr
    assert json.loads(prod.stdout) == [
        "channels_redis.core.RedisChannelLayer",
        "celery",
        "redis://r:6379/0",
        "django.db.backends.postgresql",
        False,
    ]
    embedded = _run(code, {}, tmp_path)
    layer, mode, _, engine, debug = json.loads(embedded.stdout)
    assert (layer, mode, engine, debug) == (
        "channels.layers.InMemoryChannelLayer",
        "thread",
        "django.db.backends.sqlite3",
        True,
    )
