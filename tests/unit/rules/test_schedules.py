"""shared/rules/schedules.py: a copy schedule copies only the newest usable restore point at a
due slot, records the older ones as skipped, and leaves newer ones for the next slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.model.job import JobRecord, JobState
from shared.model.message import Trigger
from shared.model.resources import RestorePointView, TargetCollectionView
from shared.model.schedule import Schedule
from shared.rules.protection import RpoState, pair_status
from shared.rules.protection import to_api as protection_to_api
from shared.rules.schedules import decide_scheduled_copy
from shared.rules.sweep_plan import PairPlan, PlannedCopy, Skipped, SkipReason, plan_pair

RPC = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg"
    "/providers/Microsoft.Compute/restorePointCollections/vm1-rpc"
)
DAILY = Schedule.parse(cron="0 0 2 * * *")
SLOT = datetime(2026, 6, 10, 2, tzinfo=UTC)


def rp(name: str, created: datetime) -> PlannedCopy:
    return PlannedCopy(f"{RPC}/restorePoints/{name}", created, "not in the target yet")


def plan_of(*copies: PlannedCopy) -> PairPlan:
    return PairPlan(tuple(copies), ())


def names(items: tuple[PlannedCopy, ...]) -> list[str]:
    return [c.source_restore_point_id.rsplit("/", 1)[-1] for c in items]


def westus_job(
    job_id: str, state: JobState, source_id: str, at: datetime, **changes: object
) -> JobRecord:
    """A job of the test pair (RPC -> westus) for `source_id`, written at `at`."""
    record = JobRecord(
        job_id=job_id,
        run=1,
        state=state,
        source_restore_point_id=source_id,
        source_collection_id=RPC,
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg",
        target_collection_name="vm1-rpc-westus",
        target_restore_point_name=source_id.rsplit("/", 1)[-1],
        trigger=Trigger.SCHEDULE,
        correlation_id="c",
        requested_at=at,
        updated_at=at,
    )
    return record.evolve(**changes) if changes else record


def source_points(copies: list[PlannedCopy]) -> list[RestorePointView]:
    return [
        RestorePointView(c.source_restore_point_id, c.source_restore_point_id, c.created_at)
        for c in copies
    ]


HOURLY = [rp(f"rp{h:02}", SLOT - timedelta(hours=6 - h)) for h in range(6)]  # 20:00 .. 01:00


def test_at_a_due_slot_only_the_newest_is_copied_and_the_rest_are_skipped() -> None:
    decision = decide_scheduled_copy(
        plan_of(*HOURLY), DAILY, now=SLOT + timedelta(seconds=30), last_fired=SLOT - timedelta(1)
    )
    assert decision.slot == SLOT
    assert decision.copy is not None
    assert names((decision.copy,)) == ["rp05"]
    assert names(decision.skipped) == ["rp00", "rp01", "rp02", "rp03", "rp04"]
    assert decision.waiting == ()
    assert decision.next_slot == SLOT + timedelta(days=1)
    plan = decision.plan(plan_of(*HOURLY))
    assert names(plan.copies) == ["rp05"]
    assert {s.reason for s in plan.skipped} == {SkipReason.SKIPPED_BY_SCHEDULE}
    assert (
        "skipped by the copy schedule at the slot of 2026-06-10T02:00:00" in plan.skipped[0].message
    )


def test_between_slots_everything_waits_for_the_next_slot() -> None:
    decision = decide_scheduled_copy(
        plan_of(*HOURLY), DAILY, now=SLOT + timedelta(hours=3), last_fired=SLOT
    )
    assert decision.slot is None
    assert decision.copy is None
    assert decision.skipped == ()
    assert names(decision.waiting) == names(tuple(HOURLY))
    plan = decision.plan(plan_of(*HOURLY))
    assert plan.copies == ()
    assert {s.reason for s in plan.skipped} == {SkipReason.WAITING_FOR_SCHEDULE}
    assert "waits for the slot at 2026-06-11T02:00:00" in plan.skipped[0].message


def test_a_restore_point_made_after_the_slot_waits_even_when_the_slot_is_acted_on_late() -> None:
    late = rp("late", SLOT + timedelta(minutes=10))
    decision = decide_scheduled_copy(
        plan_of(*HOURLY, late), DAILY, now=SLOT + timedelta(minutes=20), last_fired=None
    )
    assert decision.copy == HOURLY[-1]
    assert names(decision.waiting) == ["late"]


@pytest.mark.parametrize(
    "reason", [SkipReason.WAITING, SkipReason.IN_FLIGHT, SkipReason.RERUN_PENDING]
)
def test_a_slot_whose_copy_another_host_already_requested_skips_the_older_candidates(
    reason: SkipReason,
) -> None:
    # Host A requested rp05 for the slot; host B plans while rp05's job is not finished: it
    # must not pick rp04 (a copy that could only end Superseded behind rp05).
    *older, newest = HOURLY
    requested = Skipped(newest.source_restore_point_id, reason, "job exists", newest.created_at)
    plan = PairPlan(tuple(older), (requested,))
    decision = decide_scheduled_copy(
        plan, DAILY, now=SLOT + timedelta(seconds=30), last_fired=SLOT - timedelta(1)
    )
    assert decision.copy is None
    assert decision.claimed == newest.source_restore_point_id
    assert decision.chosen_id == newest.source_restore_point_id
    assert names(decision.skipped) == names(tuple(older))
    planned = decision.plan(plan)
    assert planned.copies == ()
    assert all(newest.source_restore_point_id in s.message for s in planned.skipped[1:])


def test_a_pending_copy_older_than_the_candidates_does_not_claim_the_slot() -> None:
    # The previous slot's copy still running does not stop this slot's newer choice.
    first, *rest = HOURLY
    running = Skipped(first.source_restore_point_id, SkipReason.IN_FLIGHT, "", first.created_at)
    decision = decide_scheduled_copy(
        PairPlan(tuple(rest), (running,)), DAILY, now=SLOT, last_fired=SLOT - timedelta(1)
    )
    assert decision.claimed is None
    assert decision.copy == HOURLY[-1]


def test_a_pending_copy_made_after_the_slot_does_not_claim_it() -> None:
    manual = Skipped(f"{RPC}/restorePoints/later", SkipReason.WAITING, "", SLOT + timedelta(1))
    decision = decide_scheduled_copy(
        PairPlan(tuple(HOURLY), (manual,)), DAILY, now=SLOT + timedelta(hours=1), last_fired=None
    )
    assert decision.copy == HOURLY[-1]


def test_two_hosts_at_one_slot_choose_the_same_copy_whatever_the_first_one_did() -> None:
    points = source_points(HOURLY)
    target = TargetCollectionView.missing(RPC + "-westus")
    now = SLOT + timedelta(seconds=5)
    first = decide_scheduled_copy(
        plan_pair(points, target, [], max_failed_runs=3), DAILY, now=now, last_fired=None
    )
    assert first.copy is not None
    for state in (JobState.WAITING, JobState.QUEUED, JobState.REPLICATING):
        job = westus_job(
            "j5",
            state,
            first.copy.source_restore_point_id,
            now,
            source_created_at=first.copy.created_at,
        )
        second = decide_scheduled_copy(
            plan_pair(points, target, [job], max_failed_runs=3), DAILY, now=now, last_fired=None
        )
        assert second.copy is None, state
        assert second.chosen_id == first.copy.source_restore_point_id
        # What the second host records as skipped is a subset of what the first one does.
        assert set(names(second.skipped)) <= set(names(first.skipped))


def test_a_due_slot_with_nothing_to_copy_copies_nothing() -> None:
    decision = decide_scheduled_copy(plan_of(), DAILY, now=SLOT, last_fired=None)
    assert decision.slot == SLOT
    assert decision.copy is None
    assert decision.skipped == ()


def test_skipped_jobs_stay_skipped_in_the_sweep_plan_and_fix_no_order() -> None:
    points = source_points(HOURLY[:2])
    skipped = westus_job(
        "j0",
        JobState.SKIPPED_BY_SCHEDULE,
        points[0].id,
        SLOT,
        detail="skipped by the copy schedule",
    )
    plan = plan_pair(
        points, TargetCollectionView.missing(RPC + "-westus"), [skipped], max_failed_runs=3
    )
    assert [(s.reason, s.job_id) for s in plan.skipped] == [(SkipReason.SKIPPED_BY_SCHEDULE, "j0")]
    assert names(plan.copies) == ["rp01"]
    assert plan.newest_copied is None


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(-72 * 60, 72 * 60), max_size=15, unique=True),
    now_offset=st.integers(0, 72 * 60),
    last_offset=st.one_of(st.none(), st.integers(-96 * 60, 72 * 60)),
)
def test_every_candidate_is_copied_skipped_or_waiting_exactly_once(
    offsets: list[int], now_offset: int, last_offset: int | None
) -> None:
    copies = sorted(
        (rp(f"rp{i}", SLOT + timedelta(minutes=m)) for i, m in enumerate(offsets)),
        key=lambda c: c.created_at,
    )
    now = SLOT + timedelta(minutes=now_offset)
    last = SLOT + timedelta(minutes=last_offset) if last_offset is not None else None
    decision = decide_scheduled_copy(plan_of(*copies), DAILY, now=now, last_fired=last)
    chosen = (decision.copy,) if decision.copy else ()
    assert sorted(names(chosen + decision.skipped + decision.waiting)) == sorted(
        names(tuple(copies))
    )
    if decision.slot is None:
        assert chosen == ()
        assert decision.skipped == ()
        return
    assert decision.slot <= now
    assert last is None or decision.slot > last
    for item in decision.skipped:
        assert decision.copy is not None
        assert item.created_at <= decision.copy.created_at
    if decision.copy is not None:
        assert decision.copy.created_at <= decision.slot
        # The copy is the newest restore point created at or before the slot.
        assert all(
            c.created_at <= decision.copy.created_at
            for c in copies
            if c.created_at <= decision.slot
        )
    assert all(c.created_at > decision.slot for c in decision.waiting)


def succeeded_copy(created: datetime) -> JobRecord:
    return westus_job(
        "j1", JobState.SUCCEEDED, f"{RPC}/restorePoints/rp", created, source_created_at=created
    )


@pytest.mark.parametrize(
    ("next_slot_hours", "expected"),
    [
        (1, RpoState.OK),  # the next copy starts well before the deadline
        (30, RpoState.AT_RISK),  # the deadline (copy + 26 h) comes before the next slot
        (None, RpoState.OK),  # no schedule: as before
    ],
)
def test_the_rpo_judgement_knows_the_next_scheduled_copy(
    next_slot_hours: int | None, expected: RpoState
) -> None:
    now = SLOT + timedelta(hours=1)
    status = pair_status(
        [succeeded_copy(SLOT)],
        rpo_minutes=26 * 60,
        now=now,
        copy_schedule=DAILY.describe() if next_slot_hours else None,
        next_copy_slot=now + timedelta(hours=next_slot_hours) if next_slot_hours else None,
    )
    assert status.rpo_state is expected
    body = protection_to_api(status)
    if next_slot_hours:
        assert body["copySchedule"] == "0 0 2 * * * (UTC)"
        assert body["nextCopyAt"].startswith("2026-06-")
    else:
        assert "copySchedule" not in body
    if expected is RpoState.AT_RISK:
        assert "the next scheduled copy" in status.reason
