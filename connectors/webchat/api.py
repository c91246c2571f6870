"""The web chat's action on a case, under ``/cases/{id}/`` beside the cases
app's own: the agent holding a live chat is typing."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from cases.api import CaseLookup, requesting_agent
from connectors.webchat.services import agent_typing


# ``/cases/{id}/typing/``: registered beside ``cases.api.CaseViewSet`` under
# the same prefix, on the same cases.
class CaseTypingViewSet(CaseLookup):
    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def typing(self, request, pk=None):
        """The agent is typing a reply to a web chat: the customer's widget shows it."""
        case = self.get_object()
        agent_typing(case_id=case.pk, agent=requesting_agent(request))
        return Response(status=204)
