from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.security import LoginView, ThrottledAdminAuthenticationForm
from connectors.email.views import attachment
from connectors.webhooks import webhook
from dashboards import views as dashboard_views
from reports import views as report_views
from reports.metrics import metrics_view
from surveys.views import survey_page

# A database that fails outside a view still answers 503 (config.health).
handler500 = "config.health.server_error"
# The admin's login counts failures like ours (config.security).
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(url="/agent/", permanent=False)),
    path("hooks/<slug:channel_key>/", webhook, name="webhook"),
    path("survey/<str:token>/", survey_page, name="survey"),
    path("agent/", dashboard_views.agent_workspace, name="agent-workspace"),
    path("supervisor/", dashboard_views.supervisor_dashboard, name="supervisor-dashboard"),
    path("supervisor/wallboard/", dashboard_views.wallboard, name="wallboard"),
    path("reports/", report_views.reports_page, name="reports"),
    path("reports/csv/", report_views.reports_csv, name="reports-csv"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", dashboard_views.logout_view, name="logout"),
    path("admin/", admin.site.urls),
    path("media/<path:name>", attachment, name="email-attachment"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("config.api_urls")),
]
