from django.core.management.base import BaseCommand, CommandError

from routing import loads


class Command(BaseCommand):
    help = (
        "Check that each agent's load kept on its row (PostgreSQL) equals the sum of its held cases and "
        "pending offers; with --recount, set every agent's from the sums. The router decides with the "
        "kept loads; triggers keep them, so they drift only if those were disabled or bypassed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--recount", action="store_true", help="set every agent's kept load from the sums")

    def handle(self, *args, recount, **options):
        if not loads.counted_loads():
            self.stdout.write("loads are summed from cases and offers on this database: nothing is kept to check")
            return
        if recount:
            fixed = loads.recount_loads()
            self.stdout.write(f"recounted: {fixed} agent(s) had a kept load that differed from the sums")
            return
        drift = loads.load_drift()
        if not drift:
            self.stdout.write("every agent's kept load equals the sum of its held cases and pending offers")
            return
        for agent_id, values in sorted(drift.items())[:20]:
            self.stdout.write(f"agent {agent_id}: kept {values['kept']}, summed {values['summed']}")
        raise CommandError(
            f"{len(drift)} agent(s) have a kept load that differs from the sums; "
            "run `manage.py routing_loads --recount` to set them from the sums"
        )
