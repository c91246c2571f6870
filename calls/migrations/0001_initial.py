import django.db.models.deletion
from django.db import migrations, models


def _move_content_type(apps, schema_editor, old: str, new: str) -> None:
    """Permissions given on calls (view_callsession) follow the model."""
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label=new, model="callsession").exists():
        content_types.objects.filter(app_label=old, model="callsession").update(app_label=new)


def forwards(apps, schema_editor) -> None:
    _move_content_type(apps, schema_editor, "connectors", "calls")


def backwards(apps, schema_editor) -> None:
    _move_content_type(apps, schema_editor, "calls", "connectors")


class Migration(migrations.Migration):
    """Takes over CallSession from connectors (connectors' 0006): the table
    connectors' 0005 created, with its data, is kept as it is, and so are
    the permissions on it."""

    initial = True

    dependencies = [
        ("cases", "0006_dashboard_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("connectors", "0006_callsession_moves_to_calls"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CallSession",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("call_id", models.CharField(max_length=128)),
                        ("direction", models.CharField(default="inbound", max_length=16)),
                        ("from_number", models.CharField(blank=True, max_length=64)),
                        ("to_number", models.CharField(blank=True, max_length=64)),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("ringing", "Ringing"),
                                    ("answered", "Answered"),
                                    ("held", "On hold"),
                                    ("ended", "Ended"),
                                    ("missed", "Missed (call back)"),
                                    ("voicemail", "Voicemail (call back)"),
                                ],
                                default="ringing",
                                max_length=16,
                            ),
                        ),
                        ("started_at", models.DateTimeField()),
                        ("answered_at", models.DateTimeField(blank=True, null=True)),
                        ("ended_at", models.DateTimeField(blank=True, null=True)),
                        ("duration_seconds", models.PositiveIntegerField(blank=True, null=True)),
                        ("recording_url", models.URLField(blank=True, max_length=2000)),
                        ("transcription", models.TextField(blank=True)),
                        (
                            "timeline",
                            models.JSONField(
                                blank=True, default=list, help_text="[{event, at, ...}] as the provider reported it."
                            ),
                        ),
                        (
                            "case",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="calls", to="cases.case"
                            ),
                        ),
                        (
                            "channel",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="calls",
                                to="connectors.channel",
                            ),
                        ),
                        (
                            "message",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="cases.message",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "connectors_callsession",
                        "constraints": [
                            models.UniqueConstraint(fields=("channel", "call_id"), name="call_unique_per_channel")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
