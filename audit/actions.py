"""Admin bulk actions whose changes are recorded: ``QuerySet.update()``
sends no signal, so they go through ``audit.recorder.update_audited``."""

from __future__ import annotations

from django.contrib import admin, messages

from audit.recorder import update_audited


def set_flag(field: str, value: bool, description: str):
    """An admin action setting ``field`` to ``value`` on the selected rows."""

    @admin.action(description=description)
    def act(modeladmin, request, queryset) -> None:
        changed = update_audited(queryset, **{field: value})
        modeladmin.message_user(request, f"{changed} changed (recorded in the configuration audit).", messages.SUCCESS)

    act.__name__ = f"set_{field}_{str(value).lower()}"
    return act


ACTIVATE = set_flag("is_active", True, "Activate the selected")
DEACTIVATE = set_flag("is_active", False, "Deactivate the selected")
