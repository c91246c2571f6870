from django.urls import path
from rest_framework.routers import DefaultRouter

from agents import api as agents_api
from audit.api import ConfigChangeViewSet
from cases.api import CaseViewSet
from cases.customers_api import CustomerViewSet
from connectors.api import ChannelViewSet, HandoffView
from connectors.webchat.api import CaseTypingViewSet
from dashboards.api import ChannelKindPriorityViewSet, SupervisorAgentViewSet, SupervisorQueueViewSet
from outhooks.api import SubscriptionViewSet
from replies.api import TemplateViewSet
from reports.api import ReportView
from routing import config_api as routing_config
from routing.api import CaseRoutingViewSet, OfferViewSet
from sla import api as sla_api
from surveys.api import SurveyViewSet

router = DefaultRouter()
# Routing's and the web chat's actions on a case, under the cases' prefix
# (registered first: the API root names a prefix's last registration).
router.register("cases", CaseRoutingViewSet, basename="case-routing")
router.register("cases", CaseTypingViewSet, basename="case-typing")
router.register("cases", CaseViewSet, basename="case")
router.register("offers", OfferViewSet, basename="offer")
router.register("sla/policies", sla_api.PolicyViewSet, basename="sla-policy")
router.register("sla/calendars", sla_api.CalendarViewSet, basename="sla-calendar")
router.register("sla/clocks", sla_api.ClockViewSet, basename="sla-clock")
router.register("sla/promises", sla_api.PromiseViewSet, basename="sla-promise")
router.register("sla/queue-opening", sla_api.QueueOpeningViewSet, basename="sla-queue-opening")
router.register("customers", CustomerViewSet, basename="customer")
router.register("channels", ChannelViewSet, basename="channel")
router.register("supervisor/queues", SupervisorQueueViewSet, basename="supervisor-queue")
router.register("supervisor/agents", SupervisorAgentViewSet, basename="supervisor-agent")
router.register("supervisor/channel-kind-priority", ChannelKindPriorityViewSet, basename="supervisor-channel-priority")
router.register("webhook-subscriptions", SubscriptionViewSet, basename="webhook-subscription")
router.register("config-changes", ConfigChangeViewSet, basename="config-change")
# Configuration (admins write): agents/api.py and routing/config_api.py.
router.register("agents", agents_api.AgentViewSet, basename="agent")
router.register("teams", agents_api.TeamViewSet, basename="team")
router.register("skills", agents_api.SkillViewSet, basename="skill")
router.register("presence-statuses", agents_api.PresenceStatusViewSet, basename="presence-status")
router.register("queues", routing_config.QueueViewSet, basename="queue")
router.register("routing-rules", routing_config.RoutingRuleViewSet, basename="routing-rule")
router.register("decline-reasons", routing_config.DeclineReasonViewSet, basename="decline-reason")
router.register("templates", TemplateViewSet, basename="template")
router.register("surveys", SurveyViewSet, basename="survey")

urlpatterns = [
    path("handoffs/", HandoffView.as_view(), name="handoff"),
    path("routing-settings/", routing_config.RoutingSettingsView.as_view(), name="routing-settings"),
    path("reports/", ReportView.as_view(), name="reports"),
    *router.urls,
]
