"""Run every ``benchmarks/bench_*.py`` module's ``main()`` in turn (``make bench``), then print the
rows of issue 13's table against their targets (:mod:`benchmarks.targets`) from what they returned."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent))
    only = set(sys.argv[1:])
    results = {}
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if not info.name.startswith("bench_") or (only and info.name not in only):
            continue
        print(f"\n=== {info.name} ===", flush=True)
        results[info.name] = importlib.import_module(f"benchmarks.{info.name}").main()
    from benchmarks import targets

    targets.report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
