"""How the command line shows what the API answers: pure functions from the API's JSON to text
and Rich tables (no I/O here, so each is tested on its own)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text

# Job states (the API's `state`) after which nothing changes by itself.
TERMINAL_STATES = frozenset({"Succeeded", "Failed", "Superseded", "Cancelled"})
_GUID_SUFFIX = re.compile(
    r"_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clock(value: Any) -> str:
    parsed = parse_time(value)
    return parsed.astimezone(UTC).strftime("%H:%M:%S UTC") if parsed else "-"


def short_time(value: Any) -> str:
    parsed = parse_time(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if parsed else "-"


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def until(value: Any, now: datetime) -> str:
    """`03:41:05 UTC (in 4m 10s)`; the past as `(due)`."""
    parsed = parse_time(value)
    if parsed is None:
        return "-"
    left = (parsed - now).total_seconds()
    return f"{clock(value)} ({'in ' + duration(left) if left > 0 else 'due'})"


def disk_name(name: str | None) -> str:
    """A disk restore point is named `<disk name>_<guid>`: the disk's name."""
    return _GUID_SUFFIX.sub("", name or "") or "?"


def disk_state(code: str | None) -> str:
    return (code or "waiting").removeprefix("ReplicationState/").replace("inProgress", "copying")


def percent_text(value: Any, width: int = 5, decimals: int = 1) -> str:
    return (
        "--".rjust(width) if not isinstance(value, int | float) else f"{value:{width}.{decimals}f}"
    )


def bar(percent: Any, width: int = 20) -> str:
    value = float(percent) if isinstance(percent, int | float) else 0.0
    filled = round(width * max(0.0, min(100.0, value)) / 100)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def job_situation(job: Mapping[str, Any], now: datetime) -> str:
    """What the job is doing or waiting for, in a few words (the progress header's tail)."""
    state = job.get("state")
    if state == "Replicating" and job.get("expectedFinish"):
        return f"expected finish {until(job['expectedFinish'], now)}"
    if state == "WaitingForBudget":
        return f"copy-PUT budget spent; next attempt {until(job.get('nextAttemptAt'), now)}"
    if state == "RerunPending":
        return f"run {int(job.get('run', 1)) + 1} starts {until(job.get('nextRunAt'), now)}"
    if state in ("Waiting",) and job.get("detail"):
        return str(job["detail"])
    return ""


def outcome_reason(job: Mapping[str, Any]) -> str:
    """Why a job that ended is not a usable copy (its error, else its detail)."""
    error = job.get("error") or {}
    if error.get("code") or error.get("message"):
        stage = f" (stage {error['stage']})" if error.get("stage") else ""
        return f"{error.get('code', 'Error')}: {error.get('message', '')}{stage}".strip()
    return str(job.get("detail") or f"the job ended {job.get('state')}")


def progress_lines(
    job: Mapping[str, Any], label: str, now: datetime, disk_label: Any = None
) -> list[tuple[str, str]]:
    """(key, text): one line for the job, one per disk; keys are stable so a log prints only the
    lines whose text changed. `disk_label(name) -> str` may name disks (the demo's roles)."""
    state = str(job.get("state", "?"))
    head = f"{label:<12} {state:<16}"
    if state in ("Replicating", "Succeeded"):
        # No percentage yet = Azure has not published progress since replication started.
        head += f" {percent_text(job.get('percentComplete'))} % overall"
    situation = job_situation(job, now) if state not in TERMINAL_STATES else ""
    if situation:
        head += f"   {situation}"
    rows = [(f"{job.get('id')}:job", head.rstrip())]
    disks = job.get("disks", []) or []
    width = max((len(disk_name(d.get("name"))) for d in disks), default=0)
    for disk in disks:
        name = disk_name(disk.get("name"))
        shown = disk_label(disk.get("name")) if disk_label else f"{name:<{width}}"
        pct = disk.get("percent")
        text = (
            f"{label:<12} {shown} {bar(pct)} {percent_text(pct, 3, 0)} % "
            f"{disk_state(disk.get('code'))}"
        )
        rows.append((f"{job.get('id')}:{name}", text))
    return rows


# -- tables ----------------------------------------------------------------------------------


# Columns of words that may wrap; ids, states, times and numbers stay on one line.
_PROSE = frozenset({"detail", "why", "fix", "outcome", "value", "target"})


def _table(title: str | None, columns: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in columns:
        if name in _PROSE:
            table.add_column(name, overflow="fold", ratio=1)
        elif name == "id":
            table.add_column(name, no_wrap=True, min_width=32)  # ids are never cut
        else:
            table.add_column(name, overflow="fold")
    return table


def _row(table: Table, *cells: str) -> None:
    """Cells are plain text: `[####....]` and ARM ids must not be read as Rich markup."""
    table.add_row(*(Text(cell) for cell in cells))


def _tail(resource_id: Any) -> str:
    return str(resource_id).rsplit("/", 1)[-1] if resource_id else "-"


def jobs_table(jobs: Iterable[Mapping[str, Any]]) -> Table:
    table = _table(
        None, ["id", "state", "source restore point", "to", "run", "%", "requested", "detail"]
    )
    for job in jobs:
        _row(
            table,
            str(job.get("id")),
            str(job.get("state")),
            _tail(job.get("sourceRestorePointId")),
            str(job.get("targetRegion")),
            str(job.get("run", 1)),
            percent_text(job.get("percentComplete")).strip(),
            short_time(job.get("requestedAt")),
            _detail(job),
        )
    return table


def _detail(job: Mapping[str, Any]) -> str:
    if job.get("state") in ("Failed", "Cancelled", "Superseded"):
        return outcome_reason(job)
    return job_situation(job, datetime.now(UTC)) or str(job.get("detail") or "")


def job_table(job: Mapping[str, Any]) -> Table:
    table = _table(f"copy job {job.get('id')}", ["field", "value"])
    fields = [
        ("state", job.get("state")),
        ("run", job.get("run")),
        ("source", job.get("sourceRestorePointId")),
        ("source region", job.get("sourceRegion")),
        ("target region", job.get("targetRegion")),
        ("target", job.get("targetRestorePointId") or job.get("targetCollectionName")),
        ("trigger", job.get("trigger")),
        ("requested", job.get("requestedAt")),
        ("started", job.get("startedAt")),
        ("replicated", job.get("replicationDoneAt")),
        ("finished", job.get("finishedAt")),
        ("progress", f"{percent_text(job.get('percentComplete')).strip()} %"),
        ("expected finish", job.get("expectedFinish")),
        ("next attempt", job.get("nextAttemptAt")),
        ("next run", job.get("nextRunAt")),
        ("detail", job.get("detail")),
        ("error", outcome_reason(job) if job.get("error") else None),
    ]
    for name, value in fields:
        if value not in (None, "", "-- %"):
            _row(table, name, str(value))
    for disk in job.get("disks", []) or []:
        pct = disk.get("percent")
        _row(
            table,
            f"disk {disk_name(disk.get('name'))}",
            f"{bar(pct)} {percent_text(pct, 3, 0)} % {disk_state(disk.get('code'))}",
        )
    return table


def runs_table(runs: Mapping[str, Any]) -> Table:
    table = _table(
        f"runs of copy job {runs.get('id')}",
        ["run", "state", "requested", "ended", "target", "outcome"],
    )
    for run in runs.get("value", []):
        _row(
            table,
            str(run.get("run")),
            str(run.get("state")),
            short_time(run.get("requestedAt")),
            short_time(run.get("endedAt")),
            _tail(run.get("targetRestorePointId")),
            outcome_reason(run) if run.get("error") else str(run.get("detail") or ""),
        )
    return table


def protection_table(status: Mapping[str, Any]) -> Table:
    table = _table(
        None,
        [
            "source collection",
            "to",
            "policy",
            "RPO",
            "newest usable copy",
            "age",
            "in flight",
            "waiting",
            "state",
            "why",
        ],
    )
    for pair in status.get("pairs", []):
        newest = pair.get("newestUsable") or {}
        age = pair.get("ageMinutes")
        rpo = pair.get("rpoMinutes")
        _row(
            table,
            _tail(pair.get("sourceCollectionId")),
            str(pair.get("targetRegion")),
            str(pair.get("policy") or "-"),
            f"{rpo} m" if rpo is not None else "-",
            _tail(newest.get("sourceRestorePointId")),
            f"{age:.1f} m" if isinstance(age, int | float) else "-",
            str(len(pair.get("inFlight", []))),
            str(pair.get("waiting", 0)),
            str(pair.get("rpoState")),
            str(pair.get("reason") or ""),
        )
    return table


def plan_table(plan: Mapping[str, Any]) -> Table:
    """The sweep's dry run: one row per planned copy, deletion and skip of each pair."""
    table = _table(None, ["pair", "action", "restore point", "why"])
    for pair in plan.get("pairs", []):
        name = f"{_tail(pair.get('sourceCollectionId'))} -> {pair.get('targetRegion')}"
        copies = (pair.get("plan") or {}).get("copies", [])
        skipped = (pair.get("plan") or {}).get("skipped", [])
        deletions = (pair.get("retention") or {}).get("deletions", [])
        for item in copies:
            rp = _tail(item.get("sourceRestorePointId"))
            _row(table, name, "copy", rp, str(item.get("reason", "")))
        for item in deletions:
            rp = _tail(item.get("targetRestorePointId"))
            _row(table, name, "delete", rp, str(item.get("reason", "")))
        for item in skipped:
            rp = _tail(item.get("sourceRestorePointId"))
            _row(table, name, f"skip: {item.get('reason')}", rp, str(item.get("message", "")))
        for error in pair.get("errors", []) or []:
            _row(table, name, "error", "-", str(error))
    return table


def preflight_table(report: Mapping[str, Any]) -> Table:
    verdict = "passed" if report.get("passed") else "FAILED"
    table = _table(f"preflight {verdict}", ["check", "status", "scope", "detail", "fix"])
    for check in report.get("checks", []):
        _row(
            table,
            str(check.get("name")),
            str(check.get("status")),
            str(check.get("scope") or ""),
            str(check.get("detail") or ""),
            str(check.get("fix") or ""),
        )
    return table


def drills_table(drills: Iterable[Mapping[str, Any]]) -> Table:
    table = _table(None, ["id", "state", "pair", "started", "finished", "disks", "detail"])
    for drill in drills:
        pair = drill.get("pair")
        if isinstance(pair, Mapping):
            pair = f"{_tail(pair.get('sourceCollectionId'))} -> {pair.get('targetRegion')}"
        disks = drill.get("disks")
        _row(
            table,
            str(drill.get("id")),
            str(drill.get("state")),
            str(pair or "-"),
            short_time(drill.get("startedAt")),
            short_time(drill.get("finishedAt")),
            str(len(disks)) if isinstance(disks, list) else str(disks or "-"),
            str(drill.get("detail") or drill.get("error") or ""),
        )
    return table
