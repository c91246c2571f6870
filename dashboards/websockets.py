"""Websocket routes. Staff sockets (agents, supervisors) need a session and
an origin among ALLOWED_HOSTS; the web chat widget's socket is public and
embedded on customers' own sites, so its origin is checked by the widget's
channel (``config.allowed_origins``) instead."""

from django.urls import path

from connectors.webchat.consumer import ChatConsumer
from dashboards.consumers import AgentConsumer, SupervisorConsumer

staff_websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/supervisor/", SupervisorConsumer.as_asgi()),
]

public_websocket_urlpatterns = [
    path("ws/chat/<slug:widget_key>/", ChatConsumer.as_asgi()),
]
