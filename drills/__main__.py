"""`python -m drills NAME [options]`: run one reliability drill and record its results.

    python -m drills crash       kill hosts at random moments while copies are in flight
    python -m drills faults      a mix of ARM faults, compared with a fault-free run
    python -m drills outage      ARM unavailable for 30 s and for 5 minutes
    python -m drills bad-input   thousands of generated bad inputs on every way in

Each drill starts its own stack (Azurite, the ARM emulator, local function hosts) on free
loopback ports, stops it by PID, prints its table and writes benchmarks/results/drill-NAME.json
and .md with the date and the machine. `python -m drills NAME --help` lists its options.
See docs/drills.md.
"""

from __future__ import annotations

import importlib
import sys

DRILLS = {
    "crash": "drills.crash",
    "faults": "drills.arm_faults",
    "outage": "drills.outage",
    "bad-input": "drills.bad_input",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in DRILLS:
        print(__doc__)
        return 0 if args and args[0] in ("-h", "--help") else 2
    module = importlib.import_module(DRILLS[args[0]])
    return int(module.main(args[1:]))


if __name__ == "__main__":
    sys.exit(main())
