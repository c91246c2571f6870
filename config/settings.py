"""Switchboard settings, read from the environment in this one place.

Embedded mode (the default) needs no services: SQLite under ``var/``, an
in-memory channel layer, background work in-process and timers from an
in-process ticker. Setting ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL``
switches to the production services: channels-redis and a Celery broker.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SWITCHBOARD_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not DATABASE_URL and not REDIS_URL
DEBUG = env_bool("DEBUG", default=EMBEDDED)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if not EMBEDDED and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required in production (DATABASE_URL or REDIS_URL set, DEBUG off).")
    # Embedded mode: generated once and kept under var/, so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "agents",
    "routing",
    "cases",
    "connectors",
    "calls",
    "dashboards",
    "sla",
    "outhooks",
    "audit",
    "privacy",
    "replies",
    "surveys",
    "reports",
    "simulation",
    "configio",
]

MIDDLEWARE = [
    "config.logs.RequestId",
    "config.health.HealthEndpoints",  # before host checks, HTTPS redirect and login (docs/production.md)
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicy",
    "config.ratelimit.WebhookRateLimit",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.AuditActor",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.health.DatabaseUnavailable",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        # A database that does not answer fails a request in seconds (503), not minutes.
        DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "switchboard.sqlite3"),
            "OPTIONS": {
                # WAL lets readers and one writer work at once; IMMEDIATE takes the
                # write lock at BEGIN so two writers queue on the busy timeout instead
                # of failing with "database is locked" on lock upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;PRAGMA busy_timeout=30000;"
                ),
            },
        }
    }
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer, background work, cache --------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # socket_timeout=None: redis-py 8 reads with a 5 s timeout by default, which
                # cuts channels-redis' blocking receive (BZPOPMIN, 5 s) and kills every
                # websocket consumer after 5 s without a message (channels_redis#422).
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "prefix": os.environ.get("CHANNELS_PREFIX", "switchboard"),
                # Messages a socket's channel holds before channels-redis drops
                # more (default 100): a burst of offers and deltas fits; a page
                # that still misses one sets itself right at its next heartbeat.
                "capacity": env_int("SWITCHBOARD_CHANNEL_CAPACITY", 1000),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# How background work runs: "celery" (production), "thread" (embedded: in-process
# after commit) or "inline" (tests: at commit, in the committing thread).
BACKGROUND_MODE = os.environ.get("SWITCHBOARD_BACKGROUND", "celery" if REDIS_URL else "thread")
if BACKGROUND_MODE not in {"celery", "thread", "inline"}:
    raise ImproperlyConfigured("SWITCHBOARD_BACKGROUND must be celery, thread or inline")

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One task at a time per worker process: a killed worker loses (and the
# broker redelivers) only the task it was running, never a prefetched batch.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING below (JSON)
# A task no route names (a new app's) goes to the outbound workers, never to a
# queue nobody consumes (tests/ops/test_production_run.py checks every task).
CELERY_TASK_DEFAULT_QUEUE = "outbound"
CELERY_TASK_ROUTES = {
    "connectors.tasks.deliver_message": {"queue": "outbound"},
    "privacy.*": {"queue": "outbound"},
    "connectors.*": {"queue": "ingest"},
    "routing.*": {"queue": "routing"},
    "cases.*": {"queue": "outbound"},
    "sla.*": {"queue": "routing"},
    "outhooks.*": {"queue": "outbound"},
    "config.tasks.tick": {"queue": "routing"},
}
# The apps' tasks modules are found by autodiscovery; config is not an app.
CELERY_IMPORTS = ["config.tasks"]
CELERY_BEAT_SCHEDULE = {
    # Every app's periodic jobs (config/schedule.py), in order.
    "switchboard-tick": {"task": "config.tasks.tick", "schedule": 1.0},
    # Email channels with config.imap (README "Email"); `manage.py fetch_mail --watch` uses IDLE instead.
    "switchboard-fetch-mail": {"task": "connectors.tasks.fetch_mail", "schedule": 60.0},
    # Does nothing unless SWITCHBOARD_RETENTION_DAYS is set (docs/privacy.md).
    "switchboard-retention": {"task": "privacy.tasks.purge_expired_cases", "schedule": 3600.0},
}

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/agent/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an unauthenticated call is answered 401 with WWW-Authenticate.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # Rate limits (docs/api.md): writes per user (or per address when
    # anonymous); reads are not limited. "<n>/<second|minute|hour|day>".
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.WriteRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"write": os.environ.get("SWITCHBOARD_API_WRITE_RATE", "120/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Omnichannel routing engine: cases, offers, agents, queues.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The docs page's assets come from drf-spectacular-sidecar (our static
    # files), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No schema validator badge: it would send our schema to swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # One schema name for each choice set several fields share.
    "ENUM_NAME_OVERRIDES": {
        "ChannelKindEnum": "config.channel_kinds.ChannelKind",
        "IdentityKindEnum": "cases.identities.IdentityKind",
        "CaseStatusEnum": "cases.models.CaseStatus",
    },
}
# Rate limits count in the cache: Redis when configured (shared by every
# process), else this process's memory.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("SWITCHBOARD_CACHE_URL", REDIS_URL),
        }
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Static files are served by WhiteNoise from the app folders (no collectstatic
# needed in embedded mode); production runs collectstatic and serves compressed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Switchboard ----------------------------------------------------------
SWITCHBOARD: dict[str, Any] = {
    # Webhook bodies above this many bytes are refused with 413.
    "MAX_WEBHOOK_BYTES": env_int("SWITCHBOARD_MAX_WEBHOOK_BYTES", 1024 * 1024),
    # Webhooks per channel and client address ("<n>/<second|minute|hour|day>",
    # e.g. "6000/minute"; "0": no limit, the default — see config.ratelimit);
    # over it: 429 with Retry-After.
    "WEBHOOK_RATE": os.environ.get("SWITCHBOARD_WEBHOOK_RATE", "0"),
    # An agent stays present this long after its last heartbeat from any tab.
    "PRESENCE_GRACE_SECONDS": env_int("SWITCHBOARD_PRESENCE_GRACE_SECONDS", 90),
    # A customer message on a thread resolved this recently re-opens that case.
    "REOPEN_WINDOW_SECONDS": env_int("SWITCHBOARD_REOPEN_WINDOW_SECONDS", 7 * 24 * 3600),
    # Inbound events still unprocessed after this long are picked up by the tick.
    "INBOUND_RETRY_AFTER_SECONDS": env_int("SWITCHBOARD_INBOUND_RETRY_AFTER_SECONDS", 30),
    # The in-process ticker (embedded mode) runs the periodic scans this often.
    # Region assumed for phone numbers written without a country code (ISO 3166, e.g. "US").
    "DEFAULT_PHONE_REGION": os.environ.get("SWITCHBOARD_DEFAULT_PHONE_REGION") or None,
    "TICK_SECONDS": env_int("SWITCHBOARD_TICK_SECONDS", 1),
    # A router plans on agents' states it read at most this long ago (then
    # re-reads the chosen agents under their locks before writing); 0 reads
    # every agent for every batch.
    "ROUTER_STATE_MS": env_int("SWITCHBOARD_ROUTER_STATE_MS", 1000),
    # Where listeners of committed events run (config.events): "thread" (this
    # process's event thread, off the committing request's or router's path;
    # production) or "inline" (at commit, in the committing thread; tests and
    # embedded mode, where SQLite takes one writer at a time).
    "EVENTS": os.environ.get("SWITCHBOARD_EVENTS", "thread" if BACKGROUND_MODE == "celery" else "inline"),
    # Batches of events a process may have waiting for its event thread
    # before a commit waits for room.
    "EVENTS_QUEUE": env_int("SWITCHBOARD_EVENTS_QUEUE", 1000),
    # Every offer keeps why it went to its agent (routing.core.explain), for
    # this many days; 0 keeps none.
    "EXPLANATION_DAYS": env_int("SWITCHBOARD_EXPLANATION_DAYS", 30),
    # Set (make run sets it): the providers' APIs played on this loopback port
    # by connectors.fakes, for demo channels with no account at the provider.
    "FAKE_PROVIDERS_PORT": env_int("SWITCHBOARD_FAKE_PROVIDERS_PORT", 0),
    "EMBEDDED_TICKER": env_bool("SWITCHBOARD_EMBEDDED_TICKER", BACKGROUND_MODE == "thread"),
    # An agent is reminded of a promise (follow-up) this long before it is due.
    "PROMISE_REMINDER_MINUTES": env_int("SWITCHBOARD_PROMISE_REMINDER_MINUTES", 15),
    # Outbound sends a provider answers with a 5xx, 429 or timeout are tried
    # again after base x 3^n seconds (10, 30, 90, ...), this many tries in all.
    "OUTBOUND_MAX_ATTEMPTS": env_int("SWITCHBOARD_OUTBOUND_MAX_ATTEMPTS", 5),
    "OUTBOUND_RETRY_BASE_SECONDS": env_int("SWITCHBOARD_OUTBOUND_RETRY_BASE_SECONDS", 10),
    # A send in progress holds its message this long (longer than any provider timeout).
    "OUTBOUND_SEND_LEASE_SECONDS": env_int("SWITCHBOARD_OUTBOUND_SEND_LEASE_SECONDS", 60),
    # Outbound event webhooks may go to private, loopback and link-local
    # addresses (checked when subscribing and again at each delivery): on in
    # embedded mode, off in production.
    "OUTHOOKS_ALLOW_PRIVATE": env_bool("SWITCHBOARD_OUTHOOKS_ALLOW_PRIVATE", EMBEDDED),
}
# Django's own request body guard sits above ours so that we answer 413 ourselves.
DATA_UPLOAD_MAX_MEMORY_SIZE = SWITCHBOARD["MAX_WEBHOOK_BYTES"] * 2 + 1024

# --- Email (docs/channels/email.md) ---------------------------------------
# Files customers send (email attachments) are stored under MEDIA_ROOT.
MEDIA_ROOT = Path(os.environ.get("SWITCHBOARD_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
# Outbound mail: agents' replies on email cases leave through this SMTP server
# (a channel's config["smtp"] may override host, port, user and TLS).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "support@localhost")
SWITCHBOARD |= {
    # The domain in the Message-IDs of our replies.
    "EMAIL_DOMAIN": os.environ.get("SWITCHBOARD_EMAIL_DOMAIN", "switchboard.localhost"),
    # An attachment over this size is described on the message but not stored;
    # so are the ones after the total is reached.
    "EMAIL_MAX_ATTACHMENT_BYTES": env_int("SWITCHBOARD_EMAIL_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
    "EMAIL_MAX_TOTAL_ATTACHMENT_BYTES": env_int("SWITCHBOARD_EMAIL_MAX_TOTAL_ATTACHMENT_BYTES", 25 * 1024 * 1024),
    # The SMTP listener refuses messages over this size (552).
    "SMTPD_MAX_MESSAGE_BYTES": env_int("SWITCHBOARD_SMTPD_MAX_MESSAGE_BYTES", 35 * 1024 * 1024),
}

# --- Production hardening (docs/security.md) ---------------------------------
# On when DEBUG is off; each can be turned off (e.g. trying it on plain HTTP).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$", r"^metrics$"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips a client's own).
if env_bool("SWITCHBOARD_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SWITCHBOARD |= {
    # This many failed logins for one username from one address lock the pair
    # out for LOGIN_LOCK_SECONDS (429); 0: never.
    "LOGIN_FAILURES_ALLOWED": env_int("SWITCHBOARD_LOGIN_FAILURES_ALLOWED", 5),
    "LOGIN_LOCK_SECONDS": env_int("SWITCHBOARD_LOGIN_LOCK_SECONDS", 15 * 60),
    # Resolved and closed cases older than this many days are deleted with
    # their messages and files (hourly, by Celery beat); 0: kept forever.
    "RETENTION_DAYS": env_int("SWITCHBOARD_RETENTION_DAYS", 0),
}

# --- Satisfaction surveys ---------------------------------------------------
SWITCHBOARD |= {
    # Where customers open survey links: <SITE_URL>/survey/<token>/.
    "SITE_URL": os.environ.get("SWITCHBOARD_SITE_URL", "http://127.0.0.1:8000"),
    # A survey goes out on the case's channel after each resolution (not on calls).
    "SURVEYS_ENABLED": env_bool("SWITCHBOARD_SURVEYS_ENABLED", True),
    # A reply that is just a number 1-5 answers the survey this many days after resolution.
    "SURVEY_REPLY_DAYS": env_int("SWITCHBOARD_SURVEY_REPLY_DAYS", 7),
}

# --- Logs: one JSON object a line in production, with request and case ids
# and secrets redacted (config.logs); LOG_FORMAT=plain for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if EMBEDDED else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logs.BindContext"}, "redact": {"()": "config.logs.Redact"}},
    "formatters": {
        "plain": {"()": "config.logs.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Metrics (docs/reports.md) -----------------------------------------------
# /metrics answers a request bearing "Authorization: Bearer <METRICS_TOKEN>";
# with no token set, it answers loopback addresses only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

if SWITCHBOARD["EVENTS"] not in {"thread", "inline"}:
    raise ImproperlyConfigured("SWITCHBOARD_EVENTS must be thread or inline")
