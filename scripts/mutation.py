"""Mutation testing of the code whose numbers and writes must not be wrong (``make mutation``).

    .venv/bin/python scripts/mutation.py [--max-children 2] [--only unchecked]

mutmut (configured in pyproject.toml's ``[tool.mutmut]``) copies the package to
``mutants/``, makes every small change it knows to each function of the files listed
there, and runs, for each change, the tests that call that function, stopping at the first
failure. It learns which tests call which function from a first run of the whole suite,
less four files: the docs' Sphinx builds and shell examples (tests/test_docs.py), the Dask
clusters (tests/test_distributed.py) and the plugin guide's commands
(tests/test_plugin_guide.py), whose work runs in other processes, out of mutmut's sight, or
checks documents rather than numbers; the lint of the plugins' imports
(tests/test_public_surface.py), which would lint mutmut's copy of the code; and the tests of
the repository itself (tests/test_makefile.py, tests/test_packaging.py,
tests/test_scripts.py), which need all of it beside them and call no mutated function. Two
tests more are deselected (see pyproject.toml). A mutant whose tests run three times as long as
unmutated, plus 30 s, counts as a timeout (caught: an endless loop); every process of the run
may take :data:`MEMORY_LIMIT` bytes.

This script runs the functions named in ``TARGETS`` and prints, per target, how many mutants
were caught and the score; the survivors follow by name (``.venv/bin/mutmut show NAME``
shows the change).
"""

from __future__ import annotations

import argparse
import fnmatch
import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).parent / "mutmut"

TARGETS = {
    "noise": ["xaikit.engine.noise.*"],
    "noisy-gradient kernel": ["xaikit.engine.passes.*"],
    "stability": ["xaikit.engine.stability.*"],
    "gradient engine": ["xaikit.engine.gradients.*"],
    "grey sink": ["xaikit.builtins.sinks.grey.*"],
    "manifest": ["xaikit.datasets.manifest.*"],
    "CSV writing": ["xaikit.datasets.nnc_csv.x_write_csv__*"],
    "atomic write": ["xaikit.run.outputs.x_write_atomically__*",
                     "xaikit.run.outputs.x__umask__*"],
}
"""What is mutated: mutmut's mutant names (``module.x_function__mutmut_N``, methods as
``module.xǁClassǁmethod__mutmut_N``) by target."""

MEMORY_LIMIT = 4 * 2**30
"""Bytes of address space each of mutmut's processes may take: a mutant that appends in an
endless loop fails with a MemoryError long before it fills a machine shared with others
(the suite's tests, unmutated, need well under it: mutmut's clean run checks that)."""

KILLED = ("killed", "timeout", "segfault")
"""A mutant that makes a test fail, crash, or run far longer than it does unmutated, is
caught."""


def targeted(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for globs in TARGETS.values() for g in globs)


def run(max_children: int, only: str) -> None:
    """``mutmut run`` on every target (``all``), or on those not tested yet (``unchecked``:
    after an interrupted run) or not killed (``survivors``: after adding tests)."""
    if only == "all":
        names = [p for globs in TARGETS.values() for p in globs]
    else:
        wanted = {"unchecked": lambda status: status == "not checked",
                  "survivors": lambda status: status not in KILLED}[only]
        names = [n for n, status in results().items() if targeted(n) and wanted(status)]
    if names:
        subprocess.run([str(MUTMUT), "run", "--max-children", str(max_children), *names],
                       cwd=ROOT, check=True, preexec_fn=_limit_memory)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def results() -> dict:
    """Every mutant's status, as ``mutmut results --all true`` lists them."""
    out = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return dict(line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line)


def report(statuses: dict) -> int:
    """Print the score per target (caught of the mutants tested) and the survivors; return
    how many survived."""
    print(f"\n{'target':24} {'mutants':>7} {'tested':>7} {'caught':>7} {'score':>7}")
    survivors, totals = [], Counter()
    for target, globs in TARGETS.items():
        names = sorted(n for n in statuses if any(fnmatch.fnmatchcase(n, g) for g in globs))
        tested = [n for n in names if statuses[n] != "not checked"]
        caught = sum(statuses[n] in KILLED for n in tested)
        totals.update(mutants=len(names), tested=len(tested), caught=caught)
        survivors += [(n, statuses[n]) for n in tested if statuses[n] not in KILLED]
        print(f"{target:24} {len(names):7} {len(tested):7} {caught:7} "
              f"{caught / max(len(tested), 1):7.1%}")
    print(f"{'all':24} {totals['mutants']:7} {totals['tested']:7} {totals['caught']:7} "
          f"{totals['caught'] / max(totals['tested'], 1):7.1%}")
    for name, status in survivors:
        print(f"  {status}: {name}")
    return len(survivors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--only", choices=("all", "unchecked", "survivors", "none"),
                        default="all", help="which mutants to test: all of them; those not "
                        "tested yet; those not killed (after adding tests); none (report "
                        "the last results)")
    args = parser.parse_args()
    if args.only != "none":
        run(args.max_children, args.only)
    report(results())


if __name__ == "__main__":
    main()
