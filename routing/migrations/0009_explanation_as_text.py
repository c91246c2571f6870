"""Explanations kept as compact JSON text rather than ``jsonb`` (see
``routing.models.Explanation``). The column keeps its name; SQLite already
stores JSON as text."""

from django.db import migrations, models


def to_text(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE routing_explanation ALTER COLUMN data TYPE text USING data::text")


def to_jsonb(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE routing_explanation ALTER COLUMN data TYPE jsonb USING data::jsonb")


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0008_explanation_cheaper_writes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField(model_name="explanation", old_name="data", new_name="text"),
                migrations.AlterField(
                    model_name="explanation",
                    name="text",
                    field=models.TextField(db_column="data", help_text="The reasoning as JSON (routing.core.explain)."),
                ),
            ],
            database_operations=[migrations.RunPython(to_text, to_jsonb)],
        ),
    ]
