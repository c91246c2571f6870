from django.urls import path
from rest_framework.routers import DefaultRouter

from audit.api import ConfigChangeViewSet
from cases.api import CaseViewSet
from cases.customers_api import CustomerViewSet
from connectors.api import ChannelViewSet, HandoffView
from dashboards.api import ChannelKindPriorityViewSet, SupervisorAgentViewSet, SupervisorQueueViewSet
from outhooks.api import SubscriptionViewSet
from routing.api import OfferViewSet
from sla import api as sla_api

router = DefaultRouter()
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

urlpatterns = [path("handoffs/", HandoffView.as_view(), name="handoff"), *router.urls]
