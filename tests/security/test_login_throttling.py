"""Five failed logins for one username from one address lock that pair out
for 15 minutes (config.security); other users and addresses are not affected."""

from __future__ import annotations

import pytest

from tests import factories

PASSWORD = "pw-for-tests"


@pytest.fixture
def ana(db):
    return factories.user("ana", password=PASSWORD)


def login(client, username, password, address="10.0.0.1", path="/accounts/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_sixth_try_after_five_failures_is_refused_with_429_even_with_the_right_password(client, ana):
    for _ in range(5):
        assert login(client, "ana", "wrong").status_code == 200
    locked = login(client, "ana", PASSWORD)
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert locked["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_username_and_address(client, ana):
    factories.user("ben", password=PASSWORD)
    for _ in range(5):
        login(client, "ana", "wrong")
    assert login(client, "ana", PASSWORD, address="10.0.0.2").status_code == 302  # ana from elsewhere
    client.logout()
    assert login(client, "ben", PASSWORD).status_code == 302  # ben from the same address


def test_the_username_is_counted_case_insensitively(client, ana):
    for name in ["ana", "ANA", "Ana ", "aNa", "ana"]:
        login(client, name, "wrong")
    assert login(client, "ana", PASSWORD).status_code == 429


def test_a_success_clears_the_failures(client, ana):
    for _ in range(4):
        login(client, "ana", "wrong")
    assert login(client, "ana", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        login(client, "ana", "wrong")
    assert login(client, "ana", PASSWORD).status_code == 302


def test_the_lock_ends_after_the_window(client, ana, settings):
    from django.core.cache import cache

    from config.security import attempts_key

    for _ in range(5):
        login(client, "ana", "wrong")
    assert login(client, "ana", PASSWORD).status_code == 429
    cache.delete(attempts_key("ana", "10.0.0.1"))  # what the cache's timeout does after LOGIN_LOCK_SECONDS
    assert login(client, "ana", PASSWORD).status_code == 302


def test_failures_are_counted_with_the_window_as_timeout(ana, settings, monkeypatch):
    from django.core.cache import cache

    from config.security import record_failure

    calls = []
    monkeypatch.setattr(cache, "add", lambda key, value, timeout: calls.append(timeout) or True)
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"LOGIN_LOCK_SECONDS": 600}
    record_failure("ana", "10.0.0.1")
    assert calls == [600]


def test_the_admin_login_is_throttled_too(client, db):
    root = factories.user("root", password=PASSWORD)
    root.is_staff = root.is_superuser = True
    root.save()
    for _ in range(5):
        login(client, "root", "wrong", path="/admin/login/")
    refused = login(client, "root", PASSWORD, path="/admin/login/")
    assert b"Too many failed logins" in refused.content
    assert "_auth_user_id" not in client.session


def test_zero_turns_throttling_off(client, ana, settings):
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"LOGIN_FAILURES_ALLOWED": 0}
    for _ in range(8):
        login(client, "ana", "wrong")
    assert login(client, "ana", PASSWORD).status_code == 302
