"""Time values: one way to write a timestamp, one way to read it back, and ARM's own format."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any


def iso(value: datetime | None) -> str | None:
    """The ISO 8601 text of `value` (None stays None); what every row, event and view writes."""
    return value.isoformat() if value is not None else None


def from_iso(value: Any) -> datetime | None:
    """Read back what `iso` wrote (a datetime passes through; anything empty is None)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def utc(value: datetime | None) -> datetime | None:
    """`value` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_arm_time(value: Any) -> datetime | None:
    """ARM timestamps ("2023-10-20T03:43:09.9156474+00:00": 7 fractional digits)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Python < 3.12 parses at most 6 fractional digits.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
