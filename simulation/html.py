"""The comparison as an HTML report with inline SVG charts (drawn here, no
library, nothing fetched): one self-contained file, or a fragment for the
admin page. Every piece of text is escaped. The fragment has no inline
styles (the site's Content-Security-Policy allows none): colours are SVG
attributes."""

from __future__ import annotations

from html import escape

from simulation.compare import Comparison
from simulation.report import Summary, percent, queue_rows, rows, seconds

COLORS = ("#1f6feb", "#d9480f")  # A, B
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 220, 48, 12, 14, 28


def _scale(values: list[list[float | None]]) -> float:
    top = max((v for series in values for v in series if v is not None), default=0.0)
    if top <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(top))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return top


def _frame(title: str, top: float, hours: int, fmt) -> list[str]:
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    out = [
        f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="10">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        y = PAD_T + plot_h * i / 4
        out.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{PAD_L - 4}" y="{y + 3:.1f}" text-anchor="end">{escape(fmt(top * (4 - i) / 4))}</text>')
    for h in range(0, hours, 3):
        x = PAD_L + plot_w * (h + 0.5) / hours
        out.append(f'<text x="{x:.1f}" y="{H - 10}" text-anchor="middle">{h:02d}h</text>')
    return out


def line_chart(title: str, series: list[tuple[str, list[float | None]]], fmt=lambda v: f"{v:.0f}") -> str:
    hours = max(len(values) for _, values in series)
    top = _scale([values for _, values in series])
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    out = _frame(title, top, hours, fmt)
    for (label, values), color in zip(series, COLORS, strict=False):
        points = [
            f"{PAD_L + plot_w * (h + 0.5) / hours:.1f},{PAD_T + plot_h * (1 - v / top):.1f}"
            for h, v in enumerate(values)
            if v is not None
        ]
        out.append(
            f'<polyline class="series" data-label="{escape(label)}" fill="none" stroke="{color}" '
            f'stroke-width="2" points="{" ".join(points)}"/>'
        )
    out.append("</svg>")
    return "".join(out)


def bar_chart(title: str, series: list[tuple[str, list[float | None]]], fmt=lambda v: f"{v:.0f}") -> str:
    hours = max(len(values) for _, values in series)
    top = _scale([values for _, values in series])
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    out = _frame(title, top, hours, fmt)
    slot = plot_w / hours
    width = slot * 0.8 / len(series)
    for n, ((label, values), color) in enumerate(zip(series, COLORS, strict=False)):
        for h, v in enumerate(values):
            if v is None:
                continue
            height = plot_h * v / top
            x = PAD_L + slot * h + slot * 0.1 + width * n
            out.append(
                f'<rect class="bar" data-label="{escape(label)}" x="{x:.1f}" y="{PAD_T + plot_h - height:.1f}" '
                f'width="{width:.1f}" height="{height:.1f}" fill="{color}"/>'
            )
    out.append("</svg>")
    return "".join(out)


def _legend(summaries: list[Summary]) -> str:
    return "".join(
        f'<span class="key"><svg width="12" height="12" aria-hidden="true">'
        f'<rect width="12" height="12" fill="{color}"/></svg> {escape(s.label)}</span>'
        for s, color in zip(summaries, COLORS, strict=False)
    )


def _hourly(summaries: list[Summary], attr: str) -> list[tuple[str, list[float | None]]]:
    hours = min(len(s.hours) for s in summaries)
    return [(s.label, [getattr(f, attr) for f in s.hours[:hours]]) for s in summaries]


def _changed_queues(summaries: list[Summary], most: int = 4) -> list[str]:
    """Queues whose figures differ between A and B, most changed first."""
    if len(summaries) < 2:
        return []
    a, b = summaries[0].queues, summaries[1].queues
    changes = []
    for name in a.keys() & b.keys():
        before, after = a[name], b[name]
        change = abs((before.sla or 0) - (after.sla or 0)) + abs((before.avg_wait or 0) - (after.avg_wait or 0)) / 60
        if change > 0:
            changes.append((-change, name))
    return [name for _, name in sorted(changes)[:most]]


def _queue_hourly(summaries: list[Summary], name: str) -> list[tuple[str, list[float | None]]]:
    hours = min(len(s.queue_hours[name]) for s in summaries)
    return [(s.label, [f.avg_wait for f in s.queue_hours[name][:hours]]) for s in summaries]


def fragment(comparison: Comparison) -> str:
    summaries = comparison.summaries
    table = [rows(s) for s in summaries]
    head = "".join(f"<th>{escape(s.label)}</th>" for s in summaries)
    body = "".join(
        f"<tr><th>{escape(name)}</th>" + "".join(f"<td>{escape(t[i][1])}</td>" for t in table) + "</tr>"
        for i, (name, _) in enumerate(table[0])
    )
    backlog = []
    for s in summaries:
        hours = max((len(v) for v in s.backlog.values()), default=0)
        backlog.append((s.label, [sum(v[h] for v in s.backlog.values() if h < len(v)) for h in range(hours)]))
    parts = [
        '<div class="simulation-report">',
        f"<h2>{escape(comparison.scenario.name)}</h2>",
        f'<table class="summary"><tr><th></th>{head}</tr>{body}</table>',
        f'<p class="legend">{_legend(summaries)}</p>',
        "<h3>Waiting cases by hour (all queues)</h3>",
        line_chart("Waiting cases by hour", backlog, lambda v: f"{v:.3g}"),
        "<h3>SLA attainment by hour of arrival</h3>",
        bar_chart("SLA attainment by hour", _hourly(summaries, "sla"), percent),
        "<h3>Average wait by hour of arrival</h3>",
        line_chart("Average wait by hour", _hourly(summaries, "avg_wait"), seconds),
    ]
    for name in _changed_queues(summaries):
        parts += [
            f"<h3>Average wait by hour of arrival: {escape(name)}</h3>",
            line_chart(f"Average wait by hour, {name}", _queue_hourly(summaries, name), seconds),
        ]
    for s in summaries:
        parts.append(f"<h3>{escape(s.label)}: by queue</h3><ul>")
        parts += [f"<li><b>{escape(name)}</b>: {escape(line)}</li>" for name, line in queue_rows(s)]
        parts.append("</ul>")
    missing = sorted({item for s in summaries for item in s.not_simulated})
    if missing:
        parts.append(f"<p>Not simulated (present in the configuration): {escape(', '.join(missing))}.</p>")
    parts.append(
        f'<p class="meta">{summaries[0].total.cases:,} cases; simulated in {comparison.seconds:.1f} s '
        f"(seed {comparison.scenario.seed}).</p></div>"
    )
    return "".join(parts)


STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:60rem}
table.summary{border-collapse:collapse}table.summary th,table.summary td{padding:.25rem .75rem;text-align:right;
border-bottom:1px solid #eee}table.summary th:first-child{text-align:left}
.key{margin-right:1rem}
.meta{color:#666}
"""


def document(comparison: Comparison) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Simulation: {escape(comparison.scenario.name)}</title><style>{STYLE}</style></head>"
        f"<body>{fragment(comparison)}</body></html>\n"
    )
