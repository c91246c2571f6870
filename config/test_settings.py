"""Settings for the test suite: the same as production's reading of the
environment, with background work run inline at commit so tests see its
effects deterministically and no in-process ticker running."""

import os

os.environ.setdefault("SWITCHBOARD_BACKGROUND", "inline")
os.environ.setdefault("SWITCHBOARD_EMBEDDED_TICKER", "0")
# Tests change agents behind the router's back between calls: plan on what
# the database says now (tests of the kept planning state set it themselves).
os.environ.setdefault("SWITCHBOARD_ROUTER_STATE_MS", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# Webhook receivers in tests listen on 127.0.0.1 (tests of the refusal turn it off).
os.environ.setdefault("SWITCHBOARD_OUTHOOKS_ALLOW_PRIVATE", "1")
# The test client and the browser tests speak plain HTTP (production turns these on).
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SECURE_COOKIES", "0")

from config.settings import *  # noqa: E402,F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405 (threads of async tests must not keep connections)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
