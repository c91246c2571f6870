"""``manage.py export_config [file]``: the whole configuration as YAML
(stdout without a file). Natural keys, no ids, no secrets."""

from __future__ import annotations

import yaml
from django.core.management.base import BaseCommand

from configio.export import export_config


class Command(BaseCommand):
    help = "Write the configuration (skills, teams, agents, queues, rules, SLA, channels, ...) as YAML."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", nargs="?", help="Where to write it; stdout when left out.")

    def handle(self, *args, file=None, **options) -> None:
        text = yaml.safe_dump(export_config(), sort_keys=False, allow_unicode=True, default_flow_style=False)
        if file:
            with open(file, "w", encoding="utf-8") as out:
                out.write(text)
            self.stderr.write(f"configuration written to {file}")
        else:
            self.stdout.write(text, ending="")
