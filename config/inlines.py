"""The admin's inline rows handed to a configuration service instead of
saved by the admin: the service saves the parent and its whole list of
rows in one place (revisions, cache resets and the audit with it), and
the services' one way of replacing a parent's rows."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from django.forms.models import BaseModelFormSet


def inline_rows(formsets: Sequence[BaseModelFormSet], *models: type[Model]) -> dict[type[Model], list[Model] | None]:
    """For each of ``models``, the rows the parent has after this admin save
    (kept and changed rows with their new values, and new ones), not saved;
    ``None`` when the page had no such inline (a list page's quick edit).

    ``save(commit=False)`` also fills each formset's ``new_objects``,
    ``changed_objects`` and ``deleted_objects``, which the admin's history
    message reads. An inline of another model (a read-only list) must have
    no change: nothing would save it."""
    rows: dict[type[Model], list[Model] | None] = dict.fromkeys(models)
    for formset in formsets:
        changed = formset.save(commit=False)
        gone = {obj.pk for obj in formset.deleted_objects}
        if formset.model not in rows:
            if changed or gone:
                raise ImproperlyConfigured(f"the {formset.model.__name__} inline changed rows that no service saves")
            continue
        kept = [form.instance for form in formset.initial_forms if form.instance.pk not in gone]
        rows[formset.model] = kept + [obj for obj in changed if obj.pk is None]
    return rows


def replace_rows(model: type[Model], parent_field: str, parent: Model, rows: Sequence[Model]) -> None:
    """The parent's rows become ``rows``: its other rows are deleted first (so
    a unique key may pass from an old row to a new one), then each is saved
    (one by one, so the configuration audit records every row)."""
    keep = [row.pk for row in rows if row.pk is not None]
    for old in model._default_manager.filter(**{parent_field: parent}).exclude(pk__in=keep):
        old.delete()
    for row in rows:
        setattr(row, parent_field, parent)
        row.save()
