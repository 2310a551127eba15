"""Command line: `python -m devhost --app-dir DIR [--host H] [--port P] [--settings FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from devhost.errors import StartupError
from devhost.host import Host, HostOptions, dump_functions_json
from devhost.logs import configure_logging, host_logger
from devhost.settings import (
    build_app_settings,
    export_to_environment,
    load_host_config,
    read_local_settings,
)

DEFAULT_PORT = 7071  # what `func start` uses


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Run a v2-model Python function app locally (offline `func start`).",
    )
    parser.add_argument(
        "--app-dir", required=True, type=Path, help="folder with function_app.py and host.json"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port (default: local.settings Host.LocalHttpPort or 7071)",
    )
    parser.add_argument(
        "--settings",
        type=Path,
        default=None,
        help="settings JSON with Values (default DIR/local.settings.json)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=10.0,
        help="seconds in-flight invocations get at shutdown",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the resolved function metadata and exit"
    )
    parser.add_argument("--log-level", default="INFO", help="root log level (default INFO)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(getattr(logging, str(args.log_level).upper(), logging.INFO))
    log = host_logger()
    try:
        app_dir = args.app_dir.resolve()
        if not app_dir.is_dir():
            raise StartupError(f"--app-dir {app_dir} is not a directory")
        local = read_local_settings(app_dir, args.settings)
        # The app reads settings from os.environ (as on Azure); local Values fill the gaps.
        export_to_environment(local, os.environ)
        settings = build_app_settings(local, os.environ)
        config = load_host_config(app_dir, settings)
        port = args.port or local.local_http_port or DEFAULT_PORT
        host = Host(
            HostOptions(
                app_dir=app_dir, host=args.host, port=port, drain_timeout=args.drain_timeout
            ),
            settings,
            config,
        )
        host.load()
        if args.list:
            print(dump_functions_json(host.functions))
            return 0
        asyncio.run(host.run())
    except StartupError as exc:
        log.error("Startup failed: %s", exc)
        print(f"devhost: startup failed: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0
