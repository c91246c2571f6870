"""``/api/v1/config-changes/``: the configuration audit, read-only, admins
only; ``?model=sla.slapolicy`` and ``?object_id=`` narrow it."""

from __future__ import annotations

from rest_framework import serializers, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission

from audit.models import ConfigChange
from config.roles import Role, role_from_groups


class IsAdmin(BasePermission):
    message = "only admins read the configuration audit"

    def has_permission(self, request, view) -> bool:
        # Superuser or the admin group: the agents' table is not needed to
        # know an admin (audit sits below agents: agents' admin records through it).
        return role_from_groups(request.user) == Role.ADMIN


class ConfigChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConfigChange
        fields = ["id", "at", "actor", "actor_name", "via", "model", "object_id", "object_repr", "action", "changes"]


class NewestFirst(CursorPagination):
    ordering = ("-at", "-pk")
    page_size = 100


class ConfigChangeViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsAdmin]
    serializer_class = ConfigChangeSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        qs = ConfigChange.objects.all()
        for param in ("model", "object_id"):
            value = self.request.query_params.get(param)
            if value:
                qs = qs.filter(**{param: value})
        return qs
