"""Records configuration changes from the model layer, so every path — the
API, the admin, a management command — is covered without each view saying
so. The actor is the user of the request being served (a middleware keeps
the request in a context variable; DRF's token or session user is read when
the change is saved, after DRF has authenticated).

Audit trail is a side record, not domain logic: model signals are the one
place every write of these models passes, many-to-many changes included
(``m2m_changed``: an agent's teams, a queue's members, an SLA policy's
queues). ``QuerySet.update()`` sends no signal: bulk changes of audited
models go through ``update_audited()`` (the admin's bulk actions do).
Runtime fields (an agent's presence, status and counters) change all day
and are not configuration: they are not recorded, nor read for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone

from audit.models import ConfigChange

AUDITED = (
    "routing.Queue",
    "routing.QueueSkill",
    "routing.OverflowStep",
    "routing.RoutingRule",
    "routing.RoutingRuleSkill",
    "routing.RoutingSettings",
    "routing.DeclineReason",
    "agents.Agent",
    "agents.AgentSkill",
    "agents.AgentCapacity",
    "agents.Team",
    "agents.Skill",
    "agents.PresenceStatus",
    "sla.SlaPolicy",
    "sla.EscalationAction",
    "sla.BusinessCalendar",
    "sla.OpeningHours",
    "sla.CustomClosedDate",
    "connectors.Channel",
    "outhooks.Subscription",
    "replies.Template",
)
# Fields that are state, not configuration: changes to only these are not recorded.
RUNTIME_FIELDS = {
    "agents.agent": {
        "status_id",
        "status_since",
        "status_reason",
        "present_until",
        "idle_since",
        "last_routed_at",
        "missed_offers",
    },
    "sla.businesscalendar": {"updated_at"},
}
SECRET_FIELDS = {"secret", "password", "token"}
HIDDEN = "(hidden)"

current_request: contextvars.ContextVar = contextvars.ContextVar("audit_request", default=None)
# What made a change outside a request (e.g. "manage.py import_config").
current_via: contextvars.ContextVar = contextvars.ContextVar("audit_via", default="")


@contextlib.contextmanager
def acting(via: str):
    """Changes made inside say ``via`` (a command, not a request)."""
    token = current_via.set(via[:80])
    try:
        yield
    finally:
        current_via.reset(token)


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
        return None, "", (f"{request.method} {request.path}"[:80] if request is not None else current_via.get())
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


def _runtime_only(sender, update_fields) -> bool:
    runtime = RUNTIME_FIELDS.get(sender._meta.label_lower)
    if not runtime or not update_fields:
        return False
    names = {sender._meta.get_field(name).attname for name in update_fields}
    return names <= runtime


def _before(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or instance.pk is None or _runtime_only(sender, update_fields):
        instance._audit_before = None
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _state(old) if old is not None else None


def _after(sender, instance, created, raw=False, update_fields=None, **kwargs) -> None:
    if raw or _runtime_only(sender, update_fields):
        return
    before = getattr(instance, "_audit_before", None)
    now = _state(instance)
    if created or before is None:
        _record(instance, ConfigChange.Action.CREATED, {k: [None, _shown(k, v)] for k, v in now.items()})
        return
    runtime = RUNTIME_FIELDS.get(sender._meta.label_lower, set())
    diff = {
        k: [_shown(k, before.get(k)), _shown(k, v)] for k, v in now.items() if before.get(k) != v and k not in runtime
    }
    if diff:
        _record(instance, ConfigChange.Action.UPDATED, diff)


def _deleted(sender, instance, **kwargs) -> None:
    _record(instance, ConfigChange.Action.DELETED, {k: [_shown(k, v), None] for k, v in _state(instance).items()})


def _m2m_name(instance, through) -> str | None:
    for f in instance._meta.get_fields():
        if f.many_to_many and getattr(f.remote_field if f.concrete else f, "through", None) is through:
            return f.name
    return None


def _m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """Record a membership change as {field: [ids before, ids after]} on the
    object whose field changed (a team's members or an agent's teams)."""
    name = _m2m_name(instance, sender)
    if name is None or not action.startswith(("pre_", "post_")):
        return
    current = sorted(getattr(instance, name).values_list("pk", flat=True))
    if action.startswith("pre_"):
        instance.__dict__.setdefault("_audit_m2m", {})[name] = current
        return
    before = instance.__dict__.get("_audit_m2m", {}).pop(name, None)
    if before is not None and before != current:
        _record(instance, ConfigChange.Action.UPDATED, {name: [before, current]})


def update_audited(queryset, **values) -> int:
    """``queryset.update(**values)`` recorded for each object it changes
    (``update()`` itself sends no signal)."""
    model = queryset.model
    rows = list(queryset)
    changed = 0
    for obj in rows:
        before = _state(obj)
        for field, value in values.items():
            setattr(obj, field, value)
        after = _state(obj)
        diff = {k: [_shown(k, before[k]), _shown(k, v)] for k, v in after.items() if before[k] != v}
        if diff:
            model._default_manager.filter(pk=obj.pk).update(**values)
            _record(obj, ConfigChange.Action.UPDATED, diff)
            changed += 1
    return changed


def connect() -> None:
    from django.db.models.signals import m2m_changed

    for label in AUDITED:
        try:
            model = apps.get_model(label)
        except LookupError:  # an app not installed here
            continue
        uid = f"audit:{label}"
        pre_save.connect(_before, sender=model, dispatch_uid=uid + ":pre")
        post_save.connect(_after, sender=model, dispatch_uid=uid + ":post")
        post_delete.connect(_deleted, sender=model, dispatch_uid=uid + ":delete")
        for f in model._meta.local_many_to_many:
            m2m_changed.connect(_m2m_changed, sender=f.remote_field.through, dispatch_uid=f"{uid}:m2m:{f.name}")
