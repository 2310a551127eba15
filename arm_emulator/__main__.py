"""python -m arm_emulator --host 127.0.0.1 --port PORT [--time-scale X] [--config FILE] [--seed N]
[--token T]"""

from __future__ import annotations

import argparse
import sys

from .config import EmulatorConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m arm_emulator",
        description="Local emulator of Azure Resource Manager's VM restore point API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8180, help="TCP port (default 8180)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="simulated seconds per real second (600 = 10 simulated minutes per second; "
        "0 = frozen, advance with POST /_emulator/clock/advance)",
    )
    parser.add_argument("--config", help="JSON config file (see docs/emulator.md)")
    parser.add_argument("--seed", type=int, default=None, help="seed for faults and generated ids")
    parser.add_argument("--token", default=None, help="strict auth: accept only this bearer token")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = EmulatorConfig.from_file(args.config) if args.config else EmulatorConfig()
    except (OSError, ValueError) as exc:
        print(f"arm_emulator: bad config: {exc}", file=sys.stderr)
        return 2
    if args.time_scale is not None:
        config.time_scale = args.time_scale
    if args.seed is not None:
        config.seed = args.seed
    if args.token is not None:
        config.token = args.token
    from .app import create_app
    from .server import serve

    app = create_app(config)
    print(
        f"ARM emulator on http://{args.host}:{args.port} (time scale {config.time_scale}, "
        f"control plane /_emulator/)",
        flush=True,
    )
    serve(app, args.host, args.port, args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
