"""``manage.py check --deploy`` is clean with the production settings (the
environment docs/production.md gives)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "x7-Kq2mVz9!pR4tL8wN3jH6bF1cY5gD0sA-unique-per-deployment-e8Uo",
    "DATABASE_URL": "postgres://switchboard@db.internal:5432/switchboard",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "switchboard.example.com",
}
OURS = {
    "SECURE_SSL_REDIRECT",
    "SECURE_COOKIES",
    "SECURE_HSTS_SECONDS",
    "SWITCHBOARD_BACKGROUND",
    "DJANGO_SETTINGS_MODULE",
}


def deploy_check(tmp_path, *, tags=(), **overrides) -> subprocess.CompletedProcess:
    """Every deployment check (Django's security checks, the API schema's,
    every app's) at the strictest level: any warning fails."""
    env = {k: v for k, v in os.environ.items() if k not in OURS and k not in PRODUCTION}
    env |= PRODUCTION | {"SWITCHBOARD_VAR_DIR": str(tmp_path)} | overrides
    return subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG", *tags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    """Not one warning of any check: the security settings, and the API
    schema (typed ids, one name per component and per choice set)."""
    result = deploy_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)" in result.stdout


def test_check_deploy_is_clean_behind_a_tls_proxy(tmp_path):
    result = deploy_check(tmp_path, tags=("--tag", "security"), SWITCHBOARD_BEHIND_PROXY="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_flags_plain_http_settings(tmp_path):
    result = deploy_check(tmp_path, tags=("--tag", "security"), SECURE_SSL_REDIRECT="0", SECURE_COOKIES="0")
    assert result.returncode != 0
    for warning in ("security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = deploy_check(tmp_path, SECRET_KEY="")
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr
