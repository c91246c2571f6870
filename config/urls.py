from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from connectors.email.views import attachment
from connectors.webhooks import webhook
from dashboards import views as dashboard_views

urlpatterns = [
    path("", RedirectView.as_view(url="/agent/", permanent=False)),
    path("hooks/<slug:channel_key>/", webhook, name="webhook"),
    path("agent/", dashboard_views.agent_workspace, name="agent-workspace"),
    path("supervisor/", dashboard_views.supervisor_dashboard, name="supervisor-dashboard"),
    path("supervisor/wallboard/", dashboard_views.wallboard, name="wallboard"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", dashboard_views.logout_view, name="logout"),
    path("admin/", admin.site.urls),
    path("media/<path:name>", attachment, name="email-attachment"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("config.api_urls")),
]
