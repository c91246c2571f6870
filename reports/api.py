"""GET /api/v1/reports/?group=queue&since=…&until=…&tz=… : the figures of
one grouping, for supervisors (their teams) and admins (everything)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboards.scope import scope_for
from reports.figures import COLUMNS
from reports.selectors import GROUPINGS, parse_range, report


class ReportView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("group", str, enum=list(GROUPINGS), description="What the rows are (default total)."),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Start (default: today 00:00 in tz)."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="End (default: now)."),
            OpenApiParameter("tz", str, description="Time zone for dates without one and for hour/day (default UTC)."),
        ],
        responses={200: OpenApiTypes.OBJECT},
        description="Report figures (docs/reports.md defines each).",
    )
    def get(self, request):
        scope = scope_for(request.user)
        if scope is None:
            raise PermissionDenied("reports are for supervisors and admins")
        now = timezone.now()
        grouping = request.query_params.get("group") or "total"
        rng = parse_range(request.query_params, now)
        rows = report(grouping, rng, scope, now)
        return Response(
            {
                "group": grouping,
                "since": rng.since.isoformat(),
                "until": rng.until.isoformat(),
                "tz": str(rng.zone),
                "columns": [{"name": name, "title": title} for name, title in COLUMNS],
                "rows": rows,
            }
        )
