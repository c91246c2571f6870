"""``python -m bench all`` | ``python -m bench <part> [options]`` | ``python -m bench --list``"""

from __future__ import annotations

import argparse
import atexit
import importlib
import signal
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

from bench import PARTS
from bench.results import PartResult, merge_into, table
from bench.stack import RESULTS, Stack, StackError, stop_all


def _module(part: str) -> ModuleType:
    return importlib.import_module(PARTS[part])


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Switchboard's benchmarks: print a table and merge the figures into var/bench/results.json.",
    )
    parser.add_argument("--list", action="store_true", help="list the parts and exit")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before measuring, wait up to this long for the machine's CPUs to be idle (default 0: don't wait)",
    )
    parser.add_argument("--results", default=str(RESULTS), help=f"the JSON file to merge into (default {RESULTS})")
    sub = parser.add_subparsers(dest="part", metavar="{all," + ",".join(PARTS) + "}")
    sub.add_parser("all", help="every part, each with its defaults")
    part_parsers = {}
    for name in PARTS:
        module = _module(name)
        part_parser = sub.add_parser(
            name,
            help=getattr(module, "TITLE", ""),
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if hasattr(module, "add_arguments"):
            module.add_arguments(part_parser)
        part_parsers[name] = part_parser
    return parser, part_parsers


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    parser, part_parsers = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for name in PARTS:
            print(f"{name:10} {getattr(_module(name), 'TITLE', '')}")
        return 0
    if args.part is None:
        parser.print_help()
        return 2

    # Servers are stopped whatever happens: Ctrl-C, `kill`, an exception.
    atexit.register(stop_all)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    if args.part == "all":
        runs = [(name, part_parsers[name].parse_args([])) for name in PARTS]
    else:
        runs = [(args.part, args)]

    try:
        stack = Stack.checked()
    except StackError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    stack.idle_wait = args.wait_idle
    print(f"PostgreSQL {stack.postgres_version}, Redis {stack.redis_version}; logs in {stack.log_dir}", flush=True)

    results: list[PartResult] = []
    interrupted = False
    try:
        for name, options in runs:
            print(f"\n== {name}: {getattr(_module(name), 'TITLE', '')}", flush=True)
            started = time.monotonic()
            try:
                result = _module(name).run(options, stack)
            except StackError as exc:
                print(f"bench {name}: {exc}", file=sys.stderr, flush=True)
                result = PartResult(part=name, failed=str(exc).splitlines()[0])
            except Exception as exc:
                traceback.print_exc()
                result = PartResult(part=name, failed=f"{type(exc).__name__}: {exc}")
            print(f"  {name} took {time.monotonic() - started:.0f} s", flush=True)
            results.append(result)
    except KeyboardInterrupt:
        interrupted = True
        stop_all()
        print("\nbench: interrupted; servers stopped", file=sys.stderr)
        if not results:
            return 130
    finally:
        stop_all()

    merged = merge_into(
        Path(args.results),
        results,
        {"machine.postgresql": stack.postgres_version, "machine.redis": stack.redis_version},
    )
    print()
    print(table(results))
    print(f"\n{len(merged)} keys in {args.results}")
    if interrupted:
        return 130
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
