"""Pure decisions for scheduled restore point creation: may the app create one now, and which
of the source restore points it created does source retention delete.

Creation (arm-contract §11, "facts"): Azure keeps at most 500 restore points per VM and refuses
a second creation on a VM while one runs. The app sees the collection it creates into, so it
refuses early when that collection alone holds the limit or one of its restore points is still
being created; ARM's own refusal (other collections of the same VM) is handled by the caller.

Source retention, with the same reading as target retention (`shared.rules.retention`):
`keepLast` N keeps the N newest usable restore points the app created, `maxAgeDays` D keeps
those younger than D days, and a restore point is kept if EITHER rule keeps it. Whatever the
policy says, these are never deleted:

- a restore point the app did not create (`not-created-by-app`). "Created by the app" needs
  both the app's name prefix and a creation record of the app naming it: restore points carry no
  tags (arm-contract §2), and a name alone could be anyone's;
- the newest usable restore point of the collection, and the newest usable one the app created
  (`newest-usable`);
- one a copy is in flight from or waiting on, a copy schedule's next slot included
  (`copy-pending`);
- one that is not provisioned (`not-ready`) or has no creation time (`no-creation-time`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.model.ids import id_key
from shared.model.resources import RestorePointView
from shared.model.times import iso
from shared.rules.sweep_plan import order_key

MAX_RESTORE_POINTS_PER_VM = 500
# Restore points the app creates are named with this prefix and the slot's UTC time.
CREATED_NAME_PREFIX = "rpcopy-"


def created_name(slot: datetime) -> str:
    """The restore point name for a slot: unique per slot, sortable, within ARM's 80."""
    return f"{CREATED_NAME_PREFIX}{slot.strftime('%Y%m%dT%H%M%SZ')}"


class Refusal(StrEnum):
    # Azure: one creation at a time per VM. Retried a bounded number of times.
    CONCURRENT_CREATION = "ConcurrentCreation"
    # Azure: at most 500 restore points per VM. Not retried: retention must make room first.
    RESTORE_POINT_LIMIT = "RestorePointLimit"


def creation_refusal(points: Sequence[RestorePointView]) -> tuple[Refusal, str] | None:
    """Why a restore point cannot be created in this collection now (None: it can)."""
    creating = [rp for rp in points if (rp.provisioning_state or "").lower() == "creating"]
    if creating:
        return (
            Refusal.CONCURRENT_CREATION,
            f"restore point {creating[0].id} is still being created; Azure allows one "
            "creation at a time per VM",
        )
    if len(points) >= MAX_RESTORE_POINTS_PER_VM:
        return (
            Refusal.RESTORE_POINT_LIMIT,
            f"the collection holds {len(points)} restore points; Azure keeps at most "
            f"{MAX_RESTORE_POINTS_PER_VM} per VM (set a create retention, or delete some)",
        )
    return None


class SourceKeepReason(StrEnum):
    WITHIN_KEEP_LAST = "within-keep-last"
    YOUNGER_THAN_MAX_AGE = "younger-than-max-age"
    NEWEST_USABLE = "newest-usable"
    COPY_PENDING = "copy-pending"
    NOT_CREATED_BY_APP = "not-created-by-app"
    NOT_READY = "not-ready"
    NO_CREATION_TIME = "no-creation-time"
    NO_POLICY = "no-policy"


@dataclass(frozen=True)
class SourceDeletion:
    restore_point_id: str
    created_at: datetime
    reason: str

    def to_api(self) -> dict[str, Any]:
        return {
            "restorePointId": self.restore_point_id,
            "createdAt": iso(self.created_at),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SourceKept:
    restore_point_id: str
    reason: SourceKeepReason

    def to_api(self) -> dict[str, Any]:
        return {"restorePointId": self.restore_point_id, "reason": self.reason.value}


@dataclass(frozen=True)
class SourceRetentionPlan:
    deletions: tuple[SourceDeletion, ...]
    kept: tuple[SourceKept, ...]

    def to_api(self) -> dict[str, Any]:
        return {
            "deletions": [d.to_api() for d in self.deletions],
            "kept": [k.to_api() for k in self.kept],
        }


def _usable(rp: RestorePointView) -> bool:
    return (rp.provisioning_state or "succeeded").lower() == "succeeded"


def plan_source_retention(
    points: Sequence[RestorePointView],
    *,
    created_by_app: Collection[str],
    copy_pending: Collection[str],
    keep_last: int | None,
    max_age_days: float | None,
    now: datetime,
) -> SourceRetentionPlan:
    """Which source restore points to delete. `created_by_app` and `copy_pending` hold
    `id_key`s; `points` is the collection's listing (copies in it are never touched)."""
    unique: dict[str, RestorePointView] = {}
    for rp in points:
        unique.setdefault(id_key(rp.id), rp)
    ordered = sorted(unique.values(), key=lambda rp: order_key(rp.created_at, rp.id))
    newest_first = list(reversed(ordered))

    def is_app(rp: RestorePointView) -> bool:
        name = rp.id.rsplit("/", 1)[-1]
        return name.startswith(CREATED_NAME_PREFIX) and id_key(rp.id) in created_by_app

    timed_usable = [rp for rp in newest_first if _usable(rp) and rp.created_at is not None]
    guarded = {id_key(rp.id) for rp in timed_usable[:1]}
    guarded |= {id_key(rp.id) for rp in [r for r in timed_usable if is_app(r)][:1]}
    ranked = [id_key(rp.id) for rp in timed_usable if is_app(rp)]
    within_last = set(ranked[:keep_last]) if keep_last is not None else set()
    cutoff = now - timedelta(days=max_age_days) if max_age_days is not None else None

    deletions: list[SourceDeletion] = []
    kept: list[SourceKept] = []
    for rp in newest_first:
        key = id_key(rp.id)

        def keep(reason: SourceKeepReason, rp_id: str = rp.id) -> None:
            kept.append(SourceKept(rp_id, reason))

        if rp.source_restore_point_id is not None or not is_app(rp):
            keep(SourceKeepReason.NOT_CREATED_BY_APP)
        elif keep_last is None and max_age_days is None:
            keep(SourceKeepReason.NO_POLICY)
        elif not _usable(rp):
            keep(SourceKeepReason.NOT_READY)
        elif rp.created_at is None:
            keep(SourceKeepReason.NO_CREATION_TIME)
        elif key in copy_pending:
            keep(SourceKeepReason.COPY_PENDING)
        elif key in within_last:
            keep(SourceKeepReason.WITHIN_KEEP_LAST)
        elif cutoff is not None and rp.created_at > cutoff:
            keep(SourceKeepReason.YOUNGER_THAN_MAX_AGE)
        elif key in guarded:
            keep(SourceKeepReason.NEWEST_USABLE)
        else:
            rules = []
            if keep_last is not None:
                rules.append(f"not among the {keep_last} newest the app created")
            if max_age_days is not None:
                rules.append(f"older than {max_age_days:g} days")
            deletions.append(SourceDeletion(rp.id, rp.created_at, " and ".join(rules)))
    return SourceRetentionPlan(tuple(deletions), tuple(kept))
