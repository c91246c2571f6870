"""Block-range (BRIN) indexes, on PostgreSQL only, for the timestamps the
hourly aggregation reads by range: rows are written in about that order, so
a BRIN index is a few pages, finds an hour's rows without reading the
tables, and costs the router's and ingestion's inserts almost nothing (a
B-tree on each would be paid on every offer, event and message). SQLite
(development and tests) gets none."""

from django.db import migrations

INDEXES = [
    ("reports_brin_caseevent_created", "cases_caseevent", "created_at"),
    ("reports_brin_message_created", "cases_message", "created_at"),
    ("reports_brin_case_first_response", "cases_case", "first_response_at"),
    ("reports_brin_offer_created", "routing_offer", "created_at"),
    ("reports_brin_offer_responded", "routing_offer", "responded_at"),
    ("reports_brin_clock_stopped", "sla_clock", "stopped_at"),
    ("reports_brin_clock_breached", "sla_clock", "breached_at"),
    ("reports_brin_callsession_ended", "connectors_callsession", "ended_at"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" USING brin ("{column}")')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("cases", "0002_initial"),
        ("routing", "0001_initial"),
        ("sla", "0001_initial"),
        ("connectors", "0005_callsession_deliveryattempt"),
    ]

    operations = [migrations.RunPython(create, drop)]
