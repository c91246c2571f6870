"""The report pages (``/reports/``) and their CSV downloads, for
supervisors (their teams) and admins; agents get 403."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from config.api import Invalid
from dashboards.scope import scope_for
from reports import charts
from reports.figures import COLUMNS
from reports.selectors import GROUPINGS, parse_range, report

TITLES = dict(COLUMNS)
# The columns each table shows (the API and the total table show every figure).
TABLE_COLUMNS = {
    "agent": [
        "handle_count",
        "handle_avg_s",
        "first_response_count",
        "next_response_avg_s",
        "resolution_count",
        "transfers",
        "offers",
        "offers_accepted",
        "offers_declined",
        "offers_missed",
        "busy_s",
        "available_s",
        "occupancy_pct",
        "surveys_answered",
        "satisfaction_avg",
    ],
    "sla": ["sla_met", "sla_breached", "sla_attainment_pct"],
    "agent_status": ["status_s"],
    "total": [name for name, _ in COLUMNS],
}
DEFAULT_COLUMNS = [
    "cases_created",
    "reopened",
    "first_response_avg_s",
    "first_response_business_avg_s",
    "next_response_avg_s",
    "resolution_count",
    "resolution_avg_s",
    "resolution_business_avg_s",
    "handle_avg_s",
    "sla_attainment_pct",
    "abandoned",
    "transfers",
    "survey_response_pct",
    "satisfaction_avg",
    "social_reaction_avg_s",
]
CHART_FIGURE = {"hour": "cases_created", "day": "cases_created", "sla": "sla_attainment_pct", "agent": "handle_count"}
GROUP_TITLES = {
    "total": "Summary",
    "queue": "By queue",
    "team": "By team",
    "agent": "By agent",
    "channel_kind": "By channel",
    "tier": "By customer tier",
    "sla": "SLA by policy and target",
    "hour": "By hour of day",
    "day": "By day",
    "agent_status": "Time per status",
}

# The first column's title in CSV files.
ROW_TITLES = {
    "total": "Range",
    "queue": "Queue",
    "team": "Team",
    "agent": "Agent",
    "channel_kind": "Channel kind",
    "tier": "Customer tier",
    "sla": "SLA policy · target",
    "hour": "Hour",
    "day": "Day",
    "agent_status": "Agent · status",
}


def columns_for(grouping: str) -> list[str]:
    return TABLE_COLUMNS.get(grouping, DEFAULT_COLUMNS)


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "reports/forbidden.html", status=403)


@login_required
def reports_page(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    if scope is None:
        return _forbidden(request)
    now = timezone.now()
    grouping = request.GET.get("group") or "total"
    try:
        if grouping not in GROUPINGS:
            raise Invalid(f"unknown grouping {grouping!r}")
        rng = parse_range(request.GET, now)
    except Invalid as exc:
        return render(request, "reports/index.html", {"error": exc.message, "groups": GROUP_TITLES}, status=400)
    rows = report(grouping, rng, scope, now)
    names = columns_for(grouping)
    figure = request.GET.get("figure") if request.GET.get("figure") in TITLES else CHART_FIGURE.get(grouping)
    figure = figure or ("cases_created" if grouping != "agent_status" else "status_s")
    query = {k: v for k, v in request.GET.items() if k in ("group", "since", "until", "tz")}
    context = {
        "groups": GROUP_TITLES,
        "group": grouping,
        "title": GROUP_TITLES[grouping],
        "rng": rng,
        "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
        "tz": request.GET.get("tz", ""),
        "columns": [(name, TITLES[name]) for name in names],
        "table": [(r["label"], [r[name] for name in names]) for r in rows],
        "chart": charts.bars([(r["label"], r[figure]) for r in rows]),
        "chart_title": TITLES[figure],
        "csv_url": "/reports/csv/?" + urlencode({**query, "group": grouping}),
    }
    return render(request, "reports/index.html", context)


@login_required
def reports_csv(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    if scope is None:
        return _forbidden(request)
    now = timezone.now()
    grouping = request.GET.get("group") or "total"
    try:
        rng = parse_range(request.GET, now)
        rows = report(grouping, rng, scope, now)
    except Invalid as exc:
        return HttpResponse(exc.message + "\n", status=400, content_type="text/plain")
    names = columns_for(grouping)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = f"{rng.since:%Y%m%d}-{rng.until:%Y%m%d}"
    response["Content-Disposition"] = f'attachment; filename="switchboard-{grouping}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow([ROW_TITLES[grouping], *(TITLES[n] for n in names)])
    for r in rows:
        writer.writerow([_safe(r["label"]), *("" if r[n] is None else r[n] for n in names)])
    return response


def _safe(text: str) -> str:
    """A label that a spreadsheet would run as a formula is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
