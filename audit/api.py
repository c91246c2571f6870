"""``/api/v1/config-changes/``: the configuration audit, read-only, admins
only; ``?model=sla.slapolicy`` and ``?object_id=`` narrow it."""

from __future__ import annotations

from rest_framework import serializers, viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission

from agents.models import Role
from audit.models import ConfigChange
from cases.selectors import role_of


class IsAdmin(BasePermission):
    message = "only admins read the configuration audit"

    def has_permission(self, request, view) -> bool:
        return role_of(request.user) == Role.ADMIN


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
