"""Pure decision: what a pair with a copy schedule copies now, what it skips, what waits.

Without a schedule every usable restore point is copied (the sweep plan, oldest first). With
one, the pair acts only at its slots (`shared.model.schedule.due_slot`): at a due slot the
newest usable restore point created at or before the slot, not copied yet, is copied and the
older candidates are skipped on purpose (`skipped-by-schedule`: recorded, never failed or
superseded). Candidates created after the slot, and every candidate while no slot is due, wait
for the next slot (`waiting-for-schedule`).

Choosing by "created at or before the slot" (rather than "newest when the sweep happens to run")
makes the choice the same on every host and however late the slot is acted on. A host that
plans after another host already requested the slot's copy sees that restore point as a job
(Waiting or running), not as a candidate: it counts as the slot's choice (`claimed`), so the
older candidates are skipped rather than copied behind it (a copy that could only end
Superseded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.model.schedule import Schedule, due_slot
from shared.model.times import iso
from shared.rules.sweep_plan import PairPlan, PlannedCopy, Skipped, SkipReason, order_key


@dataclass(frozen=True)
class ScheduledCopy:
    """The copy schedule's verdict for one pair at one moment."""

    schedule: Schedule
    slot: datetime | None  # the slot acted on now, or None when none is due
    next_slot: datetime
    copy: PlannedCopy | None
    skipped: tuple[PlannedCopy, ...]  # passed over at `slot` for `copy`
    waiting: tuple[PlannedCopy, ...]  # left for a later slot
    # The slot's choice when a job of it already exists (another host requested it first).
    claimed: str | None = None

    @property
    def chosen_id(self) -> str | None:
        """The source restore point the slot copies, requested now or already."""
        return self.copy.source_restore_point_id if self.copy else self.claimed

    def plan(self, base: PairPlan) -> PairPlan:
        """`base` as the schedule changes it: at most one copy, the rest skipped or waiting."""
        extra: list[Skipped] = []
        for item in self.skipped:
            extra.append(
                Skipped(
                    item.source_restore_point_id,
                    SkipReason.SKIPPED_BY_SCHEDULE,
                    skip_message(self.slot, self.chosen_id),
                    item.created_at,
                    item.retry_of_job_id,
                )
            )
        for item in self.waiting:
            extra.append(
                Skipped(
                    item.source_restore_point_id,
                    SkipReason.WAITING_FOR_SCHEDULE,
                    f"copy schedule {self.schedule.describe()}: waits for the slot at "
                    f"{iso(self.next_slot)}",
                    item.created_at,
                    item.retry_of_job_id,
                )
            )
        copies = (self.copy,) if self.copy else ()
        return PairPlan(copies, base.skipped + tuple(extra), base.newest_copied)

    def to_api(self) -> dict[str, Any]:
        body = {
            "schedule": self.schedule.describe(),
            "dueSlot": iso(self.slot),
            "nextSlot": iso(self.next_slot),
            "copy": self.chosen_id,
            "skippedBySchedule": [c.source_restore_point_id for c in self.skipped],
            "waitingForSchedule": [c.source_restore_point_id for c in self.waiting],
        }
        return {k: v for k, v in body.items() if v is not None}


def skip_message(slot: datetime | None, chosen_id: str | None) -> str:
    newer = chosen_id or "a newer restore point"
    return f"skipped by the copy schedule at the slot of {iso(slot)}: {newer} was copied instead"


def decide_scheduled_copy(
    plan: PairPlan, schedule: Schedule, *, now: datetime, last_fired: datetime | None
) -> ScheduledCopy:
    """What the schedule does with the plan's copies (oldest first) at `now`."""
    slot = due_slot(schedule, now, last_fired)
    next_slot = schedule.next_after(now)
    if slot is None:
        return ScheduledCopy(schedule, None, next_slot, None, (), plan.copies)
    eligible = [c for c in plan.copies if c.created_at <= slot]
    later = tuple(c for c in plan.copies if c.created_at > slot)
    claimed = _newest_pending(plan, slot)
    if claimed is not None and (
        not eligible
        or order_key(claimed.created_at, claimed.source_restore_point_id)
        > order_key(eligible[-1].created_at, eligible[-1].source_restore_point_id)
    ):
        cid = claimed.source_restore_point_id
        return ScheduledCopy(schedule, slot, next_slot, None, tuple(eligible), later, cid)
    if not eligible:
        return ScheduledCopy(schedule, slot, next_slot, None, (), later)
    # plan.copies is oldest first (ties by id), so the last eligible one is the newest.
    return ScheduledCopy(schedule, slot, next_slot, eligible[-1], tuple(eligible[:-1]), later)


# Plan entries whose restore point already has a live job: requested, not yet finished.
_PENDING = frozenset({SkipReason.WAITING, SkipReason.IN_FLIGHT, SkipReason.RERUN_PENDING})


def _newest_pending(plan: PairPlan, slot: datetime) -> Skipped | None:
    """The newest restore point created at or before `slot` whose copy is already requested."""
    pending = [
        s
        for s in plan.skipped
        if s.reason in _PENDING and s.created_at is not None and s.created_at <= slot
    ]
    return max(
        pending,
        key=lambda s: order_key(s.created_at, s.source_restore_point_id),
        default=None,
    )
