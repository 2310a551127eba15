"""Pure decisions of restore drills: is a pair's restore tested, is a drill due, does a restored
disk check out, which copy a drill proves.

`drill status` of a pair (`GET /api/protection`, field `drill`):

- ``failed``: the newest finished drill failed (and no drill succeeded after it);
- ``passed``: the newest successful drill finished within the policy's drill interval (or, with
  no interval, there is one at all) and no newer drill failed;
- ``untested``: no successful drill within the interval (or none at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.model.drills import DrillRecord, DrillState
from shared.model.job import JobRecord
from shared.model.times import iso
from shared.rules.protection import newest_usable

GIB = 1024**3


class DrillStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    UNTESTED = "untested"


@dataclass(frozen=True)
class PairDrillStatus:
    status: DrillStatus
    last_succeeded_at: datetime | None
    last_drill_id: str | None

    def to_api(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "lastSucceededAt": iso(self.last_succeeded_at),
            "lastDrillId": self.last_drill_id,
        }


def _finished(drill: DrillRecord) -> datetime:
    return drill.finished_at or drill.updated_at


def drill_status(
    drills: Sequence[DrillRecord], *, interval_seconds: float | None, now: datetime
) -> PairDrillStatus:
    """The pair's drill status from its drills (any order)."""
    newest = max(drills, key=lambda d: (d.started_at, d.id), default=None)
    finished = [d for d in drills if d.terminal]
    succeeded = [d for d in finished if d.state is DrillState.SUCCEEDED]
    last_ok = max(succeeded, key=_finished, default=None)
    last_done = max(finished, key=_finished, default=None)
    ok_at = _finished(last_ok) if last_ok else None
    if last_done is not None and last_done.state is DrillState.FAILED:
        status = DrillStatus.FAILED
    elif ok_at is not None and (
        interval_seconds is None or now - ok_at <= timedelta(seconds=interval_seconds)
    ):
        status = DrillStatus.PASSED
    else:
        status = DrillStatus.UNTESTED
    return PairDrillStatus(status, ok_at, newest.id if newest else None)


def drill_due(drills: Sequence[DrillRecord], *, interval_seconds: float, now: datetime) -> bool:
    """A scheduled drill is due when none runs and none started within the interval."""
    if any(not d.terminal for d in drills):
        return False
    newest = max((d.started_at for d in drills), default=None)
    return newest is None or now - newest >= timedelta(seconds=interval_seconds)


def schedule_slot(now: datetime, interval_seconds: float) -> datetime:
    """The start of the interval `now` is in: one scheduled drill id per pair and slot, so two
    sweeps that both find a drill due start the same drill."""
    start = (now.timestamp() // interval_seconds) * interval_seconds
    return datetime.fromtimestamp(start, tz=now.tzinfo)


def drill_copy(jobs: Sequence[JobRecord]) -> JobRecord | None:
    """The copy a drill proves: the pair's newest usable copy that names its target."""
    usable = [j for j in jobs if j.target_restore_point_id]
    return newest_usable(usable)


def disk_problems(
    *,
    provisioning_state: str | None,
    location: str,
    size_gb: int | None,
    source_resource_id: str | None,
    expected_region: str,
    expected_size_gb: int | None,
    expected_source: str,
) -> list[str]:
    """What is wrong with a restored disk (empty: it checks out)."""
    problems: list[str] = []
    if (provisioning_state or "").lower() != "succeeded":
        problems.append(f"provisioningState is {provisioning_state!r}, not 'Succeeded'")
    if location != expected_region:
        problems.append(f"the disk is in {location!r}, not the target region {expected_region!r}")
    if expected_size_gb is not None and size_gb != expected_size_gb:
        problems.append(f"the disk is {size_gb} GB, the source disk {expected_size_gb} GB")
    if (source_resource_id or "").lower() != expected_source.lower():
        problems.append("the disk was not restored from the drill's disk restore point")
    return problems


def is_leftover(
    drill: DrillRecord | None, *, disk_created_at: datetime | None, now: datetime, bound: float
) -> bool:
    """A drill disk the sweep removes: its drill is finished or unknown, or it is older than
    the bound (a drill that ran that long is stuck; its record is failed separately)."""
    if drill is None or drill.terminal:
        return True
    started = disk_created_at or drill.started_at
    return now - started > timedelta(seconds=bound)
