"""``python -m bench.in_django module:function '<JSON keyword arguments>'``

Runs one bench function inside Django, configured by the environment (the
bench passes a production-mode environment pointing at its own database), and
prints the function's JSON result on a marked line. Parts seed data and read
diagnostics this way, so the bench process itself never opens Django's
database connection to a database it is about to drop.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

from bench.stack import RESULT_MARK


def main(argv: list[str]) -> int:
    if len(argv) != 2 or ":" not in argv[0]:
        print(__doc__, file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from config.runtime import freeze_startup_objects

    freeze_startup_objects()  # as the production processes do once started
    module_name, function_name = argv[0].split(":", 1)
    function = getattr(importlib.import_module(module_name), function_name)
    result = function(**json.loads(argv[1]))
    sys.stdout.write(f"\n{RESULT_MARK}{json.dumps(result)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
