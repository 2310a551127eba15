"""Every benchmark, one after the other (`make bench`): python -m benchmarks [--only NAME ...]

Each benchmark starts and stops its own services and writes benchmarks/results/<name>.{json,md};
this runner only sequences them (never in parallel: they would compete for the same cores) and
prints which passed. Each one is also runnable alone: python -m benchmarks.bench_<name>.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from benchmarks import bench_emulator, bench_pipeline, bench_polling, bench_sweep, bench_throttling

BENCHMARKS: dict[str, Callable[[list[str] | None], int]] = {
    "emulator": bench_emulator.main,
    "pipeline": bench_pipeline.main,
    "polling": bench_polling.main,
    "sweep": bench_sweep.main,
    "throttling": bench_throttling.main,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args(argv)
    outcome: dict[str, tuple[int | str, float]] = {}
    for name in args.only or BENCHMARKS:
        print(f"\n=== benchmark: {name} ===", flush=True)
        started = time.monotonic()
        try:
            code: int | str = BENCHMARKS[name]([])
        except Exception as exc:  # one broken benchmark must not hide the others' results
            code = f"error: {type(exc).__name__}: {exc}"
        outcome[name] = (code, time.monotonic() - started)
    print("\n=== summary ===")
    for name, (code, seconds) in outcome.items():
        verdict = "ok" if code == 0 else ("targets missed" if isinstance(code, int) else code)
        print(f"{name:10} {verdict:40} {seconds:6.0f} s   results: benchmarks/results/")
    return 0 if all(code == 0 for code, _ in outcome.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
