"""Run the benchmark parts (`python -m bench [part ...]`), print their figures, save them.

Each part is a module `bench.<part>` with `run() -> dict[str, object]`; its figures are merged
into bench-results.json (with BENCH_SCALE != 1 under `scaled_` keys, so that a quick look never
replaces full-scale figures). Parts not present in this checkout are skipped with a note. Exits 1
when a part's peers found other results than straitwatch (`*_agree` false).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench.common import RESULTS_FILE, SCALE, write_results

PARTS = ["ingest", "detect", "analyst"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"any of {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if SCALE != 1:
        print(f"BENCH_SCALE={SCALE}: data shrunk, figures are not comparable with the goals")
    disagree = []
    for part in args.parts or PARTS:
        try:
            module = importlib.import_module(f"bench.{part}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{part}":
                print(f"-- {part}: not present, skipped")
                continue
            raise
        print(f"== {part}")
        figures = module.run()
        disagree += [k for k, v in figures.items() if k.endswith("_agree") and v is False]
        if SCALE != 1:
            figures = {f"scaled_{k}": v for k, v in figures.items()}
        write_results(figures)
    print(f"figures written to {RESULTS_FILE}")
    if disagree:
        print(f"peers disagree with straitwatch: {', '.join(disagree)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
