"""Every bench part has a `make bench-<part>` that runs it.

A phony target never matches a pattern rule, so a part listed in `.PHONY`
without a target of its own made `make bench-latency` print "Nothing to be
done"; `make -n` shows what each target would really run."""

import shutil
import subprocess
from pathlib import Path

import pytest

from bench import PARTS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.pure

MAKE = shutil.which("make") or "/usr/bin/make"


def _make_n(target: str) -> subprocess.CompletedProcess:
    return subprocess.run([MAKE, "-n", "-C", str(ROOT), target], capture_output=True, text=True, check=False)  # noqa: S603


@pytest.mark.parametrize("part", sorted(PARTS))
def test_make_bench_part_runs_that_part(part):
    done = _make_n(f"bench-{part}")
    assert done.returncode == 0, done.stderr
    assert f"-m bench {part}" in done.stdout, done.stdout


def test_unknown_bench_part_is_refused():
    done = _make_n("bench-nosuchpart")
    assert done.returncode != 0
