"""``manage.py simulate``: a day of traffic through the routing core against
configuration A (today's, or ``--config``) and B (A, or ``--config-b``, with
the scenario's ``what_if`` edits); the reports side by side on the console,
and as HTML with ``--html``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from simulation import html, report, scenario, sources
from simulation.compare import compare


class Command(BaseCommand):
    help = "Simulate a day of traffic against today's configuration and a what-if; print and write the comparison."

    def add_arguments(self, parser) -> None:
        parser.add_argument("scenario", nargs="?", help="scenario YAML (traffic, behaviour, what_if edits)")
        parser.add_argument("--date", help="replay the cases created on this day (YYYY-MM-DD) from the database")
        parser.add_argument("--config", help="configuration A: a YAML file from export_config (default: today's)")
        parser.add_argument("--config-b", help="configuration B before the what-if edits (default: A)")
        parser.add_argument("--seed", type=int, help="random seed (overrides the scenario's)")
        parser.add_argument("--html", help="also write the report as HTML with charts to this file")

    def handle(self, *args, **options) -> None:
        try:
            text = Path(options["scenario"]).read_text() if options["scenario"] else ""
            chosen = scenario.loads(text, name=Path(options["scenario"]).stem if options["scenario"] else "replay")
            if options["seed"] is not None:
                chosen.seed = options["seed"]
            day = date.fromisoformat(options["date"]) if options["date"] else None
            doc_a = self._config(options["config"]) if options["config"] else sources.config_today()
            doc_b = self._config(options["config_b"]) if options["config_b"] else None
            arrivals = sources.arrivals_for(chosen, day)
            label_a = f"A: {Path(options['config']).stem}" if options["config"] else "A: today"
            label_b = f"B: {Path(options['config_b']).stem}" if options["config_b"] else "B: what if"
            if options["config_b"] and chosen.what_if:
                label_b += " + what if"
            result = compare(doc_a, chosen, arrivals, doc_b=doc_b, labels=(label_a, label_b))
        except (OSError, ValueError) as exc:  # ScenarioError is a ValueError, as is a bad date
            raise CommandError(str(exc)) from None
        self.stdout.write(report.text(result.summaries))
        self.stdout.write(f"\n{len(arrivals):,} cases simulated in {result.seconds:.1f} s")
        if options["html"]:
            Path(options["html"]).write_text(html.document(result))
            self.stdout.write(f"HTML report: {options['html']}")

    def _config(self, path: str) -> dict:
        return sources.config_from_text(Path(path).read_text(), where=path)
