"""What every `rpcopy` command shares: the API session, the two output forms, how an error
ends a command (problem+json title and detail, exit code), and following jobs to their end.

Exit codes: 0 done (for `copy --wait`, `status --watch` and `retry --wait`: the copy is usable);
1 the copy ended without a usable copy (Failed, Cancelled, Superseded) or preflight failed;
2 the command line was used wrongly or cannot tell where the app is; 3 the app answered an error
(its problem+json title and detail are printed) or could not be reached; 4 `--timeout` passed
while waiting; 130 interrupted (the copy itself goes on).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console

from rpcopy_cli import render
from rpcopy_cli.client import Api, ApiProblem
from rpcopy_cli.config import ConfigProblem, resolve
from rpcopy_cli.progress import FollowTimeout, ProgressView, follow

PIPE_WIDTH = 200
EXIT_OK, EXIT_NOT_USABLE, EXIT_USAGE, EXIT_API, EXIT_TIMEOUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


@dataclass
class Session:
    api: Api
    output: Output
    out: Console
    err: Console

    @property
    def json(self) -> bool:
        return self.output is Output.JSON

    def show(self, data: Any, table: Callable[[Any], Any]) -> None:
        if self.json:
            typer.echo(json.dumps(data, indent=2))
        else:
            self.out.print(table(data))


def _console(stderr: bool) -> Console:
    """Rich's console; in a pipe or a log (no terminal, no COLUMNS) lines are not cut at 80."""
    console = Console(stderr=stderr)
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(stderr=stderr, width=PIPE_WIDTH)


def _consoles() -> tuple[Console, Console]:
    return _console(False), _console(True)


@contextmanager
def session(
    endpoint: str | None, key: str | None, profile: str | None, output: Output
) -> Iterator[Session]:
    """The API client for one command; every error ends the command with its exit code."""
    out, err = _consoles()
    try:
        target = resolve(endpoint=endpoint, key=key, profile=profile)
    except ConfigProblem as exc:
        err.print(f"rpcopy: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    api = Api(target)
    try:
        yield Session(api, output, out, err)
    except ApiProblem as exc:
        _print_problem(exc, output, err)
        raise typer.Exit(EXIT_API) from None
    except KeyboardInterrupt:
        err.print("interrupted; a copy already requested goes on", soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        api.close()


def _print_problem(exc: ApiProblem, output: Output, err: Console) -> None:
    status = f" (HTTP {exc.status})" if exc.status else ""
    err.print(f"Error{status}: {exc.title}", markup=False, highlight=False, soft_wrap=True)
    if exc.detail:
        err.print(f"  {exc.detail}", markup=False, highlight=False, soft_wrap=True)
    for item in exc.errors:
        err.print(
            f"  - {item.get('field')}: {item.get('message')}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if output is Output.JSON:
        body = {"title": exc.title, "detail": exc.detail, "status": exc.status}
        if exc.errors:
            body["errors"] = exc.errors
        typer.echo(json.dumps(body, indent=2))


def job_path(job_id: str) -> str:
    return f"/api/copies/{job_id.strip()}"


def wait_for(
    s: Session, jobs: list[Mapping[str, Any]], *, timeout: float | None, interval: float
) -> int:
    """Live per-disk progress until the jobs end; the exit code says whether each is usable."""
    # With --output json the progress goes to stderr, so stdout stays one JSON document.
    view = ProgressView(s.err if s.json else s.out)
    labels = {str(j["id"]): str(j.get("targetRegion", "")) for j in jobs}
    try:
        done = follow(
            lambda job_id: s.api.get(job_path(job_id)),
            list(labels),
            labels,
            view,
            timeout=timeout,
            interval=interval,
        )
    except FollowTimeout as exc:
        s.err.print(f"rpcopy: {exc}", markup=False, highlight=False, soft_wrap=True)
        if s.json:
            typer.echo(json.dumps(exc.jobs[0] if len(exc.jobs) == 1 else exc.jobs, indent=2))
        return EXIT_TIMEOUT
    if s.json:
        typer.echo(json.dumps(done[0] if len(done) == 1 else done, indent=2))
    code = EXIT_OK
    for job in done:
        if job.get("state") == "Succeeded":
            if not s.json:
                s.out.print(
                    f"Copy usable in {job.get('targetRegion')}: {job.get('targetRestorePointId')}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
        else:
            code = EXIT_NOT_USABLE
            s.err.print(
                f"Copy {job.get('id')} ended {job.get('state')}, not usable: "
                f"{render.outcome_reason(job)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    return code
