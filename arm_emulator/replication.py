"""The cross-region replication model, computed lazily from the virtual clock.

A copy's LRO succeeding only means the copy was *initiated* [DOC]. Each disk then transfers its
bytes (full on the first copy into a target collection, changed bytes afterwards) at a configured
bandwidth. Progress is republished only every `progress_interval_seconds` (about 10 minutes in
Azure), so `completionPercent` moves in coarse steps and may jump 0 -> 100; a disk's success is
visible at the first publish tick after its transfer ends. Ticks are aligned to the copy's start
or, with `progress_phase: random`, offset by a seeded per-copy phase, optionally jittered (see
`Ticks`). A failed disk fails the whole restore point copy, with no details and no percentage;
an injected failure always takes effect, at the latest at the tick the disk would have finished
at. Copies still running `max_copy_seconds`
(14 days) after they started are terminated.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from .config import EmulatorConfig
from .store import DiskRestorePoint, RestorePoint

MIB = 1024 * 1024
GIB = 1024 * MIB

IN_PROGRESS = "inProgress"
SUCCEEDED = "succeeded"
FAILED = "failed"

# Only ReplicationState/succeeded is documented [DOC]. The in-progress and failed codes below are
# inferred by analogy with other Compute instance views (arm-contract §12.1): undocumented.
STATUS_SUCCEEDED = {
    "code": "ReplicationState/succeeded",
    "level": "Info",
    "displayStatus": "Succeeded",
}
STATUS_IN_PROGRESS = {  # inferred (undocumented)
    "code": "ReplicationState/inProgress",
    "level": "Info",
    "displayStatus": "In progress",
}
STATUS_FAILED = {  # inferred (undocumented)
    "code": "ReplicationState/failed",
    "level": "Error",
    "displayStatus": "Failed",
}
STATUS_BY_STATE = {
    SUCCEEDED: STATUS_SUCCEEDED,
    IN_PROGRESS: STATUS_IN_PROGRESS,
    FAILED: STATUS_FAILED,
}


def status(state: str, cfg: EmulatorConfig) -> dict[str, str]:
    """The InstanceViewStatus of a replication state; the undocumented in-progress and failed
    ones take the configured variant's code and level."""
    if state == SUCCEEDED:
        return STATUS_SUCCEEDED
    if state == IN_PROGRESS:
        code, level = cfg.replication_in_progress_code, cfg.replication_in_progress_level
    else:
        code, level = cfg.replication_failed_code, cfg.replication_failed_level
    default = STATUS_BY_STATE[state]
    if (code, level) == (default["code"], default["level"]):
        return default
    return {"code": code, "level": level, "displayStatus": default["displayStatus"]}


# Disk RP `replicationState` string (free-form in the spec; the example shows "Succeeded").
DISK_RP_STATE = {SUCCEEDED: "Succeeded", IN_PROGRESS: "InProgress", FAILED: "Failed"}


@dataclass(frozen=True, slots=True)
class DiskProgress:
    state: str
    percent: int | None  # None when failed: the service gives no last percentage


@dataclass(frozen=True, slots=True)
class ReplicationView:
    overall: str
    disks: tuple[DiskProgress, ...]
    signature: tuple[object, ...]  # changes exactly when the published view changes (for caching)


def transfer_seconds(num_bytes: int, cfg: EmulatorConfig) -> float:
    bandwidth = max(cfg.replication_bandwidth_mbps, 1e-9) * MIB
    return num_bytes / bandwidth


def _unit(cfg: EmulatorConfig, rp: RestorePoint, salt: object) -> float:
    """A number in [0, 1) fixed by the seed, the copy and `salt` (stable across processes)."""
    digest = hashlib.blake2b(f"{cfg.seed}:{rp.id}:{salt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Ticks:
    """A copy's publish times: `start + offset + (k - 1) * interval (+ jitter)` for k = 1, 2, ...

    "aligned" puts the offset at one interval (tick k at `start + k * interval`); "random" draws
    it per copy from the seed, so no client can count on knowing it. Jitter moves each publish by
    up to +/- `progress_jitter_seconds` (seeded per copy and tick; validated below half an interval,
    so publishes stay in order) and never to or before the start.
    """

    def __init__(self, rp: RestorePoint, start: float, cfg: EmulatorConfig) -> None:
        self.rp, self.start, self.cfg = rp, start, cfg
        self.interval = max(cfg.progress_interval_seconds, 1e-6)
        unit = _unit(cfg, rp, "phase") if cfg.progress_phase == "random" else 0.0
        self.offset = self.interval * (1.0 - unit)  # in (0, interval]
        self.jitter = min(max(cfg.progress_jitter_seconds, 0.0), 0.49 * self.interval)

    def at(self, k: int) -> float:
        """The time of publish k (k >= 1)."""
        nominal = self.start + self.offset + (k - 1) * self.interval
        if not self.jitter:
            return nominal
        moved = nominal + self.jitter * (2 * _unit(self.cfg, self.rp, k) - 1)
        return max(moved, self.start + 1e-3)

    def _near(self, moment: float) -> int:
        return math.floor((moment - self.start - self.offset) / self.interval + 1e-9) + 1

    def index(self, now: float) -> int:
        """How many publishes happened by `now` (0 = none yet)."""
        k = max(self._near(now), 0)
        while k >= 1 and self.at(k) > now + 1e-9:
            k -= 1
        while self.at(k + 1) <= now + 1e-9:
            k += 1
        return k

    def at_or_after(self, moment: float) -> float:
        """The first publish at or after `moment`."""
        k = max(self._near(moment), 1)
        while k > 1 and self.at(k - 1) >= moment - 1e-9:
            k -= 1
        while self.at(k) < moment - 1e-9:
            k += 1
        return self.at(k)


def view(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> ReplicationView:
    """The published replication state of a copied restore point at simulated time `now`."""
    n = len(rp.disks)
    if rp.forced_replication is not None:
        state = rp.forced_replication
        disk = DiskProgress(state, 100 if state == SUCCEEDED else None)
        return ReplicationView(state, (disk,) * n, ("forced", state))
    if rp.provisioning_state == "Failed" or rp.replication_start is None:
        # The copy LRO failed: nothing was replicated.
        failed = DiskProgress(FAILED, None)
        return ReplicationView(FAILED, (failed,) * n, ("lro-failed",))
    start = rp.replication_start
    if now < start:
        pending = DiskProgress(IN_PROGRESS, 0)
        return ReplicationView(IN_PROGRESS, (pending,) * n, ("pending",))

    ticks = Ticks(rp, start, cfg)
    cap = start + cfg.max_copy_seconds
    completions = [ticks.at_or_after(start + d.duration) for d in rp.disks]
    failure_at = _failure_time(rp.disks, completions, ticks, cap)

    if failure_at is not None and now >= failure_at:
        # A disk with an injected failure never succeeds; the others that finished in time did.
        disks = tuple(
            DiskProgress(SUCCEEDED, 100)
            if d.fail_after is None and done <= failure_at
            else DiskProgress(FAILED, None)
            for d, done in zip(rp.disks, completions, strict=True)
        )
        return ReplicationView(FAILED, disks, ("failed",))

    elapsed_ticks = ticks.index(now)
    published = ticks.at(elapsed_ticks) if elapsed_ticks else start
    progress: list[DiskProgress] = []
    for disk, done in zip(rp.disks, completions, strict=True):
        if now >= done:
            progress.append(DiskProgress(SUCCEEDED, 100))
        else:
            progress.append(DiskProgress(IN_PROGRESS, _percent(disk, published - start)))
    overall = SUCCEEDED if all(p.state == SUCCEEDED for p in progress) else IN_PROGRESS
    last_tick = max(completions) if overall == SUCCEEDED else None
    signature = ("done",) if last_tick is not None else ("tick", elapsed_ticks)
    return ReplicationView(overall, tuple(progress), signature)


def _percent(disk: DiskRestorePoint, elapsed: float) -> int:
    if elapsed <= 0 or disk.duration <= 0:
        return 0
    return min(99, math.floor(100 * elapsed / disk.duration))


def _failure_time(
    disks: list[DiskRestorePoint],
    completions: list[float],
    ticks: Ticks,
    cap: float,
) -> float | None:
    candidates: list[float] = []
    for disk, done in zip(disks, completions, strict=True):
        if disk.fail_after is not None:
            # An injected failure always bites: a disk that would finish first (a short copy,
            # within one progress interval) fails at the tick it would have finished at.
            candidates.append(min(ticks.at_or_after(ticks.start + disk.fail_after), done))
        if done > cap:
            candidates.append(cap)  # terminated after the maximum copy time
    return min(candidates) if candidates else None


def provisioning_state(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> str:
    """A restore point's provisioningState as rendered: a replicating restore point whose
    replication failed keeps Succeeded ("initiated"), or shows Failed in that variant."""
    state = rp.provisioning_state
    if (
        state == "Succeeded"
        and cfg.failed_copy_provisioning_state == "Failed"
        and rp.replicates
        and view(rp, now, cfg).overall == FAILED
    ):
        return "Failed"
    return state


def finished(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> bool:
    """True once the copy succeeded or failed (no longer 'in flight' for the copy rules)."""
    if rp.operation is not None and not rp.operation.done:
        return False
    return view(rp, now, cfg).overall != IN_PROGRESS


def succeeded(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> bool:
    return rp.provisioning_state == "Succeeded" and view(rp, now, cfg).overall == SUCCEEDED
