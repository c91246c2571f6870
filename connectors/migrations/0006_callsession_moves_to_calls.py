from django.db import migrations


class Migration(migrations.Migration):
    """CallSession moves to the calls app: its table (connectors_callsession)
    stays where it is; only Django's idea of which app owns it changes
    (calls' 0001_initial takes it over)."""

    dependencies = [
        ("connectors", "0005_callsession_deliveryattempt"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="CallSession")],
            database_operations=[],
        ),
    ]
