"""`python -m devstack demo | run` (what `make demo` and `make run` call)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Azurite + the ARM emulator + the local function host, on free loopback ports.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="copy restore points end to end (manual, then event-driven) and stop (~1 minute)",
    )
    demo.add_argument(
        "--workdir", type=Path, help="where the logs go (default .stack/demo-<time>-<pid>/)"
    )
    run = commands.add_parser("run", help="start the stack and keep it running until Ctrl-C")
    run.add_argument("--hosts", type=_positive_int, default=1, help="function hosts (default 1)")
    run.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="emulator clock: simulated seconds per real second (default 1; replication is "
        "already sped up, and RPO ages only mean something at 1)",
    )
    run.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="copy policy file (default devstack/demo-policy.json; see docs/policies.md)",
    )
    run.add_argument(
        "--workdir", type=Path, help="where the logs go (default .stack/run-<time>-<pid>/)"
    )
    args = parser.parse_args(argv)
    if args.command == "run" and args.time_scale <= 0:
        parser.error("--time-scale must be greater than 0")
    return args


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported late so `--help` answers at once.
    if args.command == "demo":
        from devstack.demo import run_demo

        return run_demo(args.workdir)
    from devstack.run import run_stack

    return run_stack(
        hosts=args.hosts, time_scale=args.time_scale, policy=args.policy, workdir=args.workdir
    )


if __name__ == "__main__":
    sys.exit(main())
