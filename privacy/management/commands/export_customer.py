"""``manage.py export_customer <id | kind:address | address> [--output FILE]``:
everything kept about one customer, as JSON (docs/privacy.md)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from privacy.export import CustomerNotFound, export_customer, find_customer


class Command(BaseCommand):
    help = "Print everything Switchboard keeps about one customer as JSON."

    def add_arguments(self, parser):
        parser.add_argument("customer", help="a customer id, or an identity: email:ana@example.com, +34600111222")
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")

    def handle(self, *args, customer: str, output: str | None, **options):
        try:
            found = find_customer(customer)
        except CustomerNotFound as exc:
            raise CommandError(str(exc)) from None
        text = json.dumps(export_customer(found), indent=2, ensure_ascii=False, default=str)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            self.stderr.write(f"customer {found.pk} written to {output}")
        else:
            self.stdout.write(text)
