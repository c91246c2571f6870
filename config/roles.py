"""Roles: Django groups of these names (a superuser is an admin). A leaf
module, like ``config/channel_kinds.py``, so that apps below ``agents`` (the
configuration audit) may ask who is an admin; ``agents.selectors.role_of``
adds the one rule that needs the agents' table (a user with an agent profile
and no group is an agent)."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    """Roles are Django groups of these names."""

    AGENT = "agent", "Agent"
    SUPERVISOR = "supervisor", "Supervisor"
    ADMIN = "admin", "Admin"


def role_from_groups(user) -> str | None:
    """The user's role from superuser and groups alone (None when neither
    says; ``agents.selectors.role_of`` then looks for an agent profile)."""
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (Role.ADMIN, Role.SUPERVISOR, Role.AGENT):
        if role.value in names:
            return role
    return None
