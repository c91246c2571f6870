"""Response templates and knowledge snippets over REST: agents and up read
and render them, only admins change the library."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from agents.models import Agent, Role
from agents.selectors import role_of
from cases.selectors import visible_cases
from config.api import Invalid, NotFound
from config.channel_kinds import CHANNEL_KINDS, ChannelKind
from replies import rendering, selectors
from replies.models import Template


class AdminWritesAgentsRead(permissions.BasePermission):
    message = "only admins change response templates"

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS or getattr(view, "action", None) == "render":
            return role_of(request.user) is not None
        return role_of(request.user) == Role.ADMIN


class TemplateSerializer(serializers.ModelSerializer):
    channel_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=ChannelKind.choices),
        required=False,
        max_length=len(CHANNEL_KINDS),
        help_text="Channel kinds it fits; empty: every channel.",
    )
    variables = serializers.SerializerMethodField(help_text="The variables its body uses.")

    class Meta:
        model = Template
        fields = [
            "id",
            "name",
            "shortcut",
            "kind",
            "body",
            "channel_kinds",
            "language",
            "is_active",
            "variables",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"body": {"max_length": 20_000}}

    def get_variables(self, template: Template) -> list[str]:
        try:
            return rendering.variables_in(template.body)
        except rendering.UnknownVariable:
            return []

    def validate_body(self, body: str) -> str:
        try:
            rendering.variables_in(body)
        except rendering.UnknownVariable as exc:
            raise serializers.ValidationError(str(exc)) from None
        return body

    def validate_channel_kinds(self, kinds: list[str]) -> list[str]:
        return list(dict.fromkeys(kinds))


class RenderRequestSerializer(serializers.Serializer):
    case = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="The case the reply is for.")


class RenderedSerializer(serializers.Serializer):
    text = serializers.CharField()
    missing = serializers.ListField(child=serializers.CharField(), help_text="Variables without a value here.")


class ByShortcut(CursorPagination):
    ordering = "shortcut"
    page_size = 100


def _query(request, name: str, choices=None) -> str:
    value = (request.query_params.get(name) or "").strip()
    if len(value) > 200:
        raise Invalid(f"'{name}' is limited to 200 characters")
    if "\x00" in value:
        raise Invalid(f"'{name}' must not contain NUL characters")
    if value and choices is not None and value not in choices:
        raise Invalid(f"'{name}' must be one of: " + ", ".join(choices))
    return value


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("channel_kind", str, enum=CHANNEL_KINDS, description="Only those that fit this channel."),
            OpenApiParameter("q", str, description="Text in the name, shortcut or body."),
            OpenApiParameter("kind", str, enum=Template.Kind.values),
            OpenApiParameter("language", str, description="Only those in this language or any."),
        ]
    )
)
class TemplateViewSet(viewsets.ModelViewSet):
    serializer_class = TemplateSerializer
    permission_classes = [AdminWritesAgentsRead]
    pagination_class = ByShortcut
    queryset = Template.objects.none()  # for the schema; get_queryset() filters

    def get_queryset(self):
        admin = role_of(self.request.user) == Role.ADMIN
        if self.action != "list":
            return Template.objects.all() if admin else Template.objects.filter(is_active=True)
        request = self.request
        return selectors.find_templates(
            channel_kind=_query(request, "channel_kind", CHANNEL_KINDS),
            q=_query(request, "q"),
            kind=_query(request, "kind", Template.Kind.values),
            language=_query(request, "language"),
            active_only=not admin,
        )

    @extend_schema(request=RenderRequestSerializer, responses=RenderedSerializer)
    @action(detail=True, methods=["post"])
    def render(self, request, pk=None):
        """The template's text for a reply on a case you may see, variables
        filled in; those without a value are empty and listed in ``missing``."""
        template = self.get_object()
        body = RenderRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case_id = body.validated_data["case"]
        case = visible_cases(request.user).select_related("customer", "queue", "assignee__user").filter(pk=case_id)
        case = case.first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        if not template.fits(case.channel_kind):
            raise Invalid(f"template {template.shortcut} is not for {case.channel_kind} cases")
        writer = Agent.objects.select_related("user").filter(user=request.user).first()
        rendered = rendering.render(template.body, selectors.variable_values(case=case, agent=writer))
        return Response({"text": rendered.text, "missing": rendered.missing})
