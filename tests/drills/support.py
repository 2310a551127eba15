"""Helpers of the small drill tests."""

from __future__ import annotations

from typing import Any


def explain(result: dict[str, Any]) -> str:
    """What broke, in the drill's own words (the assertion message)."""
    counts = result["violationCounts"].items()
    lines = [f"{check}: {count}" for check, count in counts if count]
    for check, items in result["violations"].items():
        lines += [f"  {check}: {item}" for item in items[:5]]
    return "\n".join(lines)
