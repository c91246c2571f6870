"""The bench harness's bookkeeping: percentiles, ratios, and the results file
that runs are compared through (a part that fails keeps its last figures)."""

from __future__ import annotations

import json

from bench.results import Figure, PartResult, merge_into, percentile, table


def test_percentile_is_nearest_rank():
    values = list(range(1, 301))  # 1..300
    assert percentile(values, 0.50) == 150
    assert percentile(values, 0.99) == 297
    assert percentile(values, 1.0) == 300
    assert percentile([7.5], 0.99) == 7.5
    assert percentile([], 0.5) is None


def test_ratio_is_value_over_reference_and_absent_without_one():
    assert Figure("x", 3000, reference=1500).ratio == 2.0
    assert Figure("x", 3000).ratio is None
    assert Figure("x", None, reference=10).ratio is None


def test_merge_writes_flat_keys_and_keeps_other_parts(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"route.assignments_per_s": 4000}))
    part = PartResult(
        part="ingest",
        figures=[
            Figure("accepted_per_s", 812.3456, reference=1000, reference_key="noop_reference_per_s", ratio_key="ratio")
        ],
        facts={"duplicates_stored": 0},
    )
    merge_into(path, [part])
    data = json.loads(path.read_text())
    assert data["route.assignments_per_s"] == 4000
    assert data["ingest.accepted_per_s"] == 812.346
    assert data["ingest.noop_reference_per_s"] == 1000
    assert data["ingest.ratio"] == 0.812
    assert data["ingest.duplicates_stored"] == 0
    assert "machine.cpus" in data and "updated_at" in data


def test_a_failed_part_keeps_its_last_figures_and_says_it_failed(tmp_path):
    path = tmp_path / "results.json"
    merge_into(path, [PartResult(part="latency", figures=[Figure("webhook_to_offer_p50_ms", 80.0)])])
    merge_into(path, [PartResult(part="latency", failed="PostgreSQL is not reachable")])
    data = json.loads(path.read_text())
    assert data["latency.webhook_to_offer_p50_ms"] == 80.0
    assert data["latency.failed"] == "PostgreSQL is not reachable"
    merge_into(path, [PartResult(part="latency", figures=[Figure("webhook_to_offer_p50_ms", 70.0)])])
    data = json.loads(path.read_text())
    assert "latency.failed" not in data
    assert data["latency.webhook_to_offer_p50_ms"] == 70.0


def test_table_shows_value_reference_and_ratio():
    part = PartResult(part="ingest", figures=[Figure("accepted_per_s", 500.0, "req/s", reference=1000)])
    text = table([part])
    row = next(line for line in text.splitlines() if line.startswith("ingest.accepted_per_s"))
    assert "500.0" in row and "1,000" in row and "0.50×" in row
    assert "FAILED: down" in table([PartResult(part="route", failed="down")])
