"""The hourly aggregation reads operational tables by time range; on
PostgreSQL each such timestamp has a block-range index (small, and nearly
free for the inserts of the router and ingestion)."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
migration = importlib.import_module("reports.migrations.0002_brin_indexes")


def test_every_range_read_timestamp_has_a_brin_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, tablename, indexdef FROM pg_indexes WHERE indexname LIKE 'reports_brin_%'")
        found = {name: (table, definition) for name, table, definition in cursor.fetchall()}
    for name, table, column in migration.INDEXES:
        assert name in found, f"{name} missing"
        assert found[name][0] == table
        assert "USING brin" in found[name][1] and column in found[name][1]
