"""Pure decision: what a target restore point's instance view says about the copy.

`provisioningState: Succeeded` on a copy only means the copy was *initiated*; the data is usable
only when every disk restore point in the instance view reports `ReplicationState/succeeded` at
100 %. Only that code is documented. Anything else is read the safe way: an Error level or a
failed/canceled code is a failure, any other code is still running (the poll stage's deadline
bounds how long "still running" can last).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.model.message import DiskProgress, Failure, Stage
from shared.model.resources import InstanceView

SUCCEEDED_CODE = "replicationstate/succeeded"
_FAILED_SUFFIXES = ("/failed", "/canceled", "/cancelled", "/terminated")


class CopyStatus(StrEnum):
    INITIATING = "initiating"  # the copy PUT's long-running operation is still running
    REPLICATING = "replicating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class ReplicationView:
    status: CopyStatus
    percent: float | None
    disks: tuple[DiskProgress, ...]
    failure: Failure | None = None
    provisioning_state: str | None = None


def _is_failed(code: object, level: object) -> bool:
    # statuses[] entries are read raw: anything that is not a string says nothing.
    if isinstance(level, str) and level.lower() == "error":
        return True
    return isinstance(code, str) and code.lower().endswith(_FAILED_SUFFIXES)


def _is_succeeded(disk: DiskProgress) -> bool:
    return (disk.code or "").lower() == SUCCEEDED_CODE and disk.percent == 100.0


def assess(view: InstanceView) -> ReplicationView:
    """Classify a copy from its instance view (read by `shared.arm.bodies.instance_view`)."""
    state, disks, statuses = view.provisioning_state, view.disks, view.statuses

    failed = [d for d in disks if _is_failed(d.code, d.level)]
    failed_status = [s for s in statuses if _is_failed(s.code, s.level)]
    failed_state = state is not None and state.lower() in ("failed", "canceled")
    # A failed disk says more than the state: Azure may mark a failed copy's provisioningState
    # Failed or leave it Succeeded (undocumented; the emulator offers both).
    if failed_state and not failed:
        failure = Failure(
            code="CopyOperationFailed",
            message=f"the copy's provisioningState is {state} and Azure gave no reason; a failed "
            "copy cannot be resumed: request the copy again to start a new one",
            stage=Stage.POLL,
        )
        return ReplicationView(CopyStatus.FAILED, None, disks, failure, state)
    # A resource without provisioningState counts as Succeeded (ARM RPC); anything else runs.
    if not failed_state and state is not None and state.lower() != "succeeded":
        return ReplicationView(CopyStatus.INITIATING, None, disks, None, state)

    if failed or failed_status:
        names = ", ".join(d.name or d.id or "?" for d in failed) or "the restore point"
        failure = Failure(
            code="ReplicationFailed",
            # Azure gives no detail for a failed disk copy; say what we know and what to do.
            message=(
                f"replication failed for {names}; Azure reports no detail and a failed copy "
                "cannot be resumed: request the copy again to start a new one"
            ),
            stage=Stage.POLL,
        )
        return ReplicationView(CopyStatus.FAILED, _mean(disks), disks, failure, state)

    statuses_ok = all((s.code or "").lower() == SUCCEEDED_CODE for s in statuses)
    if disks and all(_is_succeeded(d) for d in disks) and statuses_ok:
        return ReplicationView(CopyStatus.SUCCEEDED, 100.0, disks, None, state)
    return ReplicationView(CopyStatus.REPLICATING, _mean(disks), disks, None, state)


def _mean(disks: Sequence[DiskProgress]) -> float | None:
    known = [d.percent for d in disks if d.percent is not None]
    if not disks:
        return None
    # A disk that reports no percentage yet counts as 0 so the mean never overstates progress.
    return round(sum(known) / len(disks), 2) if known else 0.0


def slowest_percent(view: ReplicationView) -> float | None:
    """The lowest disk percentage: the disk that ends last (a copy's disks start together);
    None while any disk reports none."""
    percents = [d.percent for d in view.disks]
    if not percents or any(p is None for p in percents):
        return None
    return min(p for p in percents if p is not None)


def fastest_running(view: ReplicationView) -> tuple[int, float] | None:
    """(index, percent) of the disk furthest along that has not finished: it moves at more
    publishes than the slowest, so it shows Azure's publish rhythm sooner."""
    running = [
        (d.percent, i)
        for i, d in enumerate(view.disks)
        if d.percent is not None and d.percent < 100 and not _is_succeeded(d)
    ]
    if not running:
        return None
    percent, index = max(running)
    return index, percent
