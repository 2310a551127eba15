"""Recording a drill: benchmarks/results/drill-<name>.{json,md} with the date and the machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import machine, machine_line, now_iso, table, write_results


def started_record(command: str) -> dict[str, Any]:
    """Date and machine, taken before the drill runs (the load average says how busy it was)."""
    return {"date": now_iso(), "machine": machine(), "command": command}


def verdict_lines(result: dict[str, Any]) -> list[str]:
    counts: dict[str, int] = result.get("violationCounts", {})
    rows = [(check, "holds" if not n else f"**VIOLATED ({n})**") for check, n in counts.items()]
    lines = [f"**Verdict: {'PASS' if result.get('ok') else 'FAIL'}**", ""]
    lines += table(["invariant", "result"], rows)
    problems = {k: v for k, v in result.get("violations", {}).items() if v}
    if problems:
        lines += ["", "First violations:", ""]
        for check, items in problems.items():
            lines += [f"- {check}:"] + [f"  - `{item}`" for item in items[:10]]
    return lines


def header(title: str, record: dict[str, Any], what: str) -> list[str]:
    return [
        f"# {title}",
        "",
        f"Date: {record['date']}  ",
        f"Machine: {machine_line(record['machine'])}  ",
        f"Command: `{record['command']}`  ",
        f"Wall time: {record.get('wallSeconds', '?')} s",
        "",
        what,
        "",
    ]


def json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2), "```"]


def record(name: str, result: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    return write_results(f"drill-{name}", result, markdown)
