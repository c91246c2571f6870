"""``manage.py erase_customer <id | kind:address | address> [--yes]``: erase a
customer's personal data across all its cases (privacy.erasure)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from privacy.erasure import erase_customer
from privacy.export import CustomerNotFound, find_customer


class Command(BaseCommand):
    help = "Erase one customer's names, identities, messages and files across all its cases."

    def add_arguments(self, parser):
        parser.add_argument("customer", help="a customer id, or an identity: email:ana@example.com")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--requested-by", default="cli", help="who asked for it (kept in the erasure record)")

    def handle(self, *args, customer: str, yes: bool, requested_by: str, **options):
        try:
            found = find_customer(customer)
        except CustomerNotFound as exc:
            raise CommandError(str(exc)) from None
        if not yes and input(f"Erase customer {found.pk} for good? Type 'erase': ").strip() != "erase":
            raise CommandError("not confirmed; nothing erased")
        record = erase_customer(customer_id=found.pk, now=timezone.now(), requested_by=requested_by[:150])
        if record is None:
            self.stdout.write(f"customer {found.pk}: nothing left to erase (already erased)")
        else:
            summary = ", ".join(f"{n} {k}" for k, n in record.counts.items() if n)
            self.stdout.write(f"customer {found.pk} erased: {summary} (erasure record {record.pk})")
