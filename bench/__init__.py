"""Switchboard's benchmarks (``make bench``): measured, not assumed.

Each part is a module of this package with a name in ``PARTS``. A part module
provides::

    TITLE = "one line saying what it measures"

    def add_arguments(parser: argparse.ArgumentParser) -> None:  # optional
        ...

    def run(options: argparse.Namespace, stack: bench.stack.Stack) -> bench.results.PartResult:
        ...

``python -m bench all`` runs every part with its defaults, ``python -m bench
<part> [options]`` runs one. Figures are printed as a table and merged, as
flat keys ``<part>.<figure>``, into ``var/bench/results.json``.

Adding a part: write ``bench/<part>.py`` and add one line below. Modules are
imported only when their part runs, so a part may import what it needs.
"""

from __future__ import annotations

PARTS: dict[str, str] = {
    "dashboard": "bench.dashboard",
    "email": "bench.email",
    "ingest": "bench.ingest",
    "latency": "bench.latency",
    "pages": "bench.pages",
    "route": "bench.route",
    "reports": "bench.reports",
    "simulate": "bench.simulate",
    "sla": "bench.sla",
}
