"""Cheaper explanation writes (see ``routing.models.Explanation``): no
foreign-key check of the offer on each insert, and ``created_at`` indexed by
block range on PostgreSQL (a B-tree elsewhere) for the purge by age."""

import django.db.models.deletion
from django.db import migrations, models


def index_created(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS explanation_created_at_idx ON routing_explanation USING brin (created_at)"
        )
    else:
        schema_editor.execute("CREATE INDEX IF NOT EXISTS explanation_created_at_idx ON routing_explanation (created_at)")


def drop_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS explanation_created_at_idx")


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0007_agent_load_counters"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="explanation", name="explanation_created_idx"),
        migrations.AlterField(
            model_name="explanation",
            name="offer",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="explanation",
                serialize=False,
                to="routing.offer",
            ),
        ),
        # After the change of field: SQLite rebuilds the table for it, and the
        # rebuild keeps only the indexes the models declare.
        migrations.RunPython(index_created, drop_index),
    ]
