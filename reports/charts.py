"""Bar charts drawn on the server as inline SVG geometry (no script, no
library): the template draws what ``bars`` computes."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, LABELS = 720, 220, 40


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float | None
    label_x: float


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    top: float  # the value the full height stands for
    baseline: int


def bars(points: list[tuple[str, float | None]]) -> Chart:
    """One bar per (label, value); None draws no bar (nothing to count)."""
    top = max((v for _, v in points if v is not None), default=0) or 1
    step = WIDTH / max(1, len(points))
    out = []
    width = min(step * 0.8, 64)
    for i, (label, value) in enumerate(points):
        h = (value or 0) / top * HEIGHT
        out.append(
            Bar(
                x=round(i * step + (step - width) / 2, 1),
                y=round(HEIGHT - h, 1),
                width=round(width, 1),
                height=round(h, 1),
                label=label,
                value=value,
                label_x=round(i * step + step / 2, 1),
            )
        )
    return Chart(bars=out, width=WIDTH, height=HEIGHT + LABELS, top=top, baseline=HEIGHT)
