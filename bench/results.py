"""Figures: what a part measured, printed as a table and kept in
``var/bench/results.json`` as flat keys so runs can be compared over time."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number. ``key`` is the name within its part (the JSON key
    is ``<part>.<key>``); ``reference`` is what the same run measured for the
    figure to be compared with, and ``ratio`` is value / reference."""

    key: str
    value: float | int | None
    unit: str = ""
    reference: float | int | None = None
    reference_key: str | None = None  # JSON key of the reference, e.g. "sql_reference_per_s"
    ratio_key: str | None = None  # JSON key of the ratio, e.g. "ratio"

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.reference:
            return None
        return self.value / self.reference


@dataclass(slots=True)
class PartResult:
    part: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Extra flat keys for the JSON only (counts, settings of the run).
    facts: dict[str, object] = field(default_factory=dict)
    failed: str | None = None

    def flat(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for figure in self.figures:
            out[f"{self.part}.{figure.key}"] = _json_number(figure.value)
            if figure.reference_key is not None:
                out[f"{self.part}.{figure.reference_key}"] = _json_number(figure.reference)
            if figure.ratio_key is not None:
                out[f"{self.part}.{figure.ratio_key}"] = _json_number(figure.ratio)
        for key, value in self.facts.items():
            out[f"{self.part}.{key}"] = _json_number(value)
        out[f"{self.part}.measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        return out


def _json_number(value: object) -> object:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 3)
    return value


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the value below which ``fraction`` of the
    samples fall), so p99 of 300 samples is the 297th smallest."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


# --- Printing ------------------------------------------------------------------


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def table(results: Sequence[PartResult]) -> str:
    rows = [("figure", "value", "unit", "reference", "ratio")]
    for result in results:
        if result.failed:
            rows.append((f"{result.part}: FAILED", "", "", "", ""))
        for figure in result.figures:
            rows.append(
                (
                    f"{result.part}.{figure.key}",
                    _fmt(figure.value),
                    figure.unit,
                    _fmt(figure.reference) if figure.reference is not None else "",
                    f"{figure.ratio:.2f}×" if figure.ratio is not None else "",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2])]
        cells += [row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for result in results:
        for note in result.notes:
            lines.append(f"  {result.part}: {note}")
        if result.failed:
            lines.append(f"  {result.part}: FAILED: {result.failed}")
    return "\n".join(lines)


# --- The JSON file ---------------------------------------------------------------


def machine_facts() -> dict[str, object]:
    return {
        "machine.cpus": os.cpu_count(),
        "machine.platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "machine.python": platform.python_version(),
    }


def merge_into(path: Path, results: Sequence[PartResult], extra: dict[str, object] | None = None) -> dict:
    """Merge these parts' keys into the file, keeping every other key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            if isinstance(loaded, dict):
                data = loaded
        except (OSError, json.JSONDecodeError):
            data = {}
    for result in results:
        if result.failed:
            # Keep the last good figures of a part that failed this time; say it failed.
            data[f"{result.part}.failed"] = result.failed
            continue
        data.pop(f"{result.part}.failed", None)
        data.update(result.flat())
    data.update(machine_facts())
    data.update(extra or {})
    data["updated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")
    os.replace(tmp, path)
    return data
