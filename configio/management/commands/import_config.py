"""``manage.py import_config file [--dry-run] [--prune]``: make this
installation's configuration what the file says, in one transaction. Prints
each object created, updated, deleted or deactivated; a second import of the
same file prints nothing. Exits with an error (and changes nothing) on a bad
value or an unknown reference, naming the file and the value's path."""

from __future__ import annotations

import yaml
from django.core.management.base import BaseCommand, CommandError

from configio.load import ConfigError, apply_config


class Command(BaseCommand):
    help = "Apply a configuration file written by export_config (YAML)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The YAML file; '-' reads stdin.")
        parser.add_argument("--dry-run", action="store_true", help="Print the changes, make none.")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Delete what the file's sections leave out (agents and channels: deactivate).",
        )

    def handle(self, *args, file: str, dry_run: bool, prune: bool, **options) -> None:
        import sys

        try:
            if file == "-":
                data = yaml.safe_load(sys.stdin)
            else:
                with open(file, encoding="utf-8") as source:
                    data = yaml.safe_load(source)
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise CommandError(f"{file}: not YAML: {exc}") from None
        try:
            changes = apply_config(data, source=file, prune=prune, dry_run=dry_run)
        except ConfigError as exc:
            raise CommandError(f"{exc} (nothing was changed)") from None
        for line in changes:
            self.stdout.write(line)
        summary = f"{len(changes)} change(s)" if changes else "no changes"
        self.stdout.write(f"{summary}{' (dry run: nothing was changed)' if dry_run else ''}")
