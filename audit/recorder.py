"""Records configuration changes from the model layer, so every path — the
API, the admin, a management command — is covered without each view saying
so. The actor is the user of the request being served (a middleware keeps
the request in a context variable; DRF's token or session user is read when
the change is saved, after DRF has authenticated).

Audit trail is a side record, not domain logic: model signals are the one
place every write of these models passes. ``.update()`` and many-to-many
changes are not seen (none of the API's configuration writes use them for
the audited fields, except an SLA policy's queues, which its revision keeps).
"""

from __future__ import annotations

import contextvars
import json

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from audit.models import ConfigChange

AUDITED = (
    "routing.Queue",
    "routing.RoutingRule",
    "routing.RoutingSettings",
    "agents.Skill",
    "agents.PresenceStatus",
    "sla.SlaPolicy",
    "sla.BusinessCalendar",
    "connectors.Channel",
    "outhooks.Subscription",
)
SECRET_FIELDS = {"secret", "password", "token"}
HIDDEN = "(hidden)"

current_request: contextvars.ContextVar = contextvars.ContextVar("audit_request", default=None)


def _state(instance) -> dict:
    out = {}
    for field in instance._meta.concrete_fields:
        if getattr(field, "auto_now", False):
            continue  # a timestamp of the save itself, not a change
        value = getattr(instance, field.attname)
        out[field.attname] = json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))
    return out


def _shown(name: str, value):
    return HIDDEN if name in SECRET_FIELDS else value


def _actor():
    request = current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is None or not user.is_authenticated:
        return None, "", (f"{request.method} {request.path}"[:80] if request is not None else "")
    return user, user.get_username(), f"{request.method} {request.path}"[:80]


def _record(instance, action: str, changes: dict) -> None:
    user, name, via = _actor()
    ConfigChange.objects.create(
        at=timezone.now(),
        actor=user,
        actor_name=name,
        via=via,
        model=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        action=action,
        changes=changes,
    )


def _before(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        instance._audit_before = None
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _state(old) if old is not None else None


def _after(sender, instance, created, raw=False, update_fields=None, **kwargs) -> None:
    if raw:
        return
    before = getattr(instance, "_audit_before", None)
    now = _state(instance)
    if created or before is None:
        _record(instance, ConfigChange.Action.CREATED, {k: [None, _shown(k, v)] for k, v in now.items()})
        return
    diff = {k: [_shown(k, before.get(k)), _shown(k, v)] for k, v in now.items() if before.get(k) != v}
    if diff:
        _record(instance, ConfigChange.Action.UPDATED, diff)


def _deleted(sender, instance, **kwargs) -> None:
    _record(instance, ConfigChange.Action.DELETED, {k: [_shown(k, v), None] for k, v in _state(instance).items()})


def connect() -> None:
    for label in AUDITED:
        try:
            model = apps.get_model(label)
        except LookupError:  # an app not installed here
            continue
        uid = f"audit:{label}"
        pre_save.connect(_before, sender=model, dispatch_uid=uid + ":pre")
        post_save.connect(_after, sender=model, dispatch_uid=uid + ":post")
        post_delete.connect(_deleted, sender=model, dispatch_uid=uid + ":delete")
