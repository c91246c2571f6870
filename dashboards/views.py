"""The agent workspace (live over /ws/agent/), the supervisor dashboard and
the wallboard (live over /ws/supervisor/)."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agents import services as agent_services
from agents.models import Agent


@login_required
def agent_workspace(request: HttpRequest) -> HttpResponse:
    agent = Agent.objects.filter(user=request.user, is_active=True).first()
    if agent is None:
        return render(request, "dashboards/not_an_agent.html", status=403)
    from dashboards.scope import scope_for

    return render(request, "dashboards/agent.html", {"agent": agent, "supervises": scope_for(request.user) is not None})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    agent = Agent.objects.filter(user_id=request.user.pk).first() if request.user.is_authenticated else None
    if agent is not None:
        agent_services.end_presence(agent_id=agent.pk, now=timezone.now())
    logout(request)
    return redirect("login")


def _supervising(request: HttpRequest):
    from dashboards.scope import scope_for

    return scope_for(request.user)


@login_required
def supervisor_dashboard(request: HttpRequest) -> HttpResponse:
    if _supervising(request) is None:
        return render(request, "dashboards/supervisor_forbidden.html", status=403)
    return render(request, "dashboards/supervisor.html", {"mode": "dashboard"})


@login_required
def wallboard(request: HttpRequest) -> HttpResponse:
    if _supervising(request) is None:
        return render(request, "dashboards/supervisor_forbidden.html", status=403)
    return render(request, "dashboards/supervisor_wallboard.html", {"mode": "wallboard"})
