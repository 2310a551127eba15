"""What the sweep copies for one pair: Azure's copy rules as a table of cases, plus properties.

The builders at the top are shared by test_retention.py and test_protection.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.model.job import JobRecord, JobState
from shared.model.message import Failure, Trigger
from shared.model.resources import RestorePointView, TargetCollectionView
from shared.rules.sweep_plan import (
    PairPlan,
    SkipReason,
    failed_sources,
    jobs_by_source,
    newest_copied,
    plan_pair,
)

SUB = "00000000-0000-0000-0000-0000000000aa"
RPCS = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/restorePointCollections"
SRC_RPC = f"{RPCS}/vm1-rpc"
TGT_RPC = (
    f"/subscriptions/{SUB}/resourceGroups/rg-dr/providers/Microsoft.Compute"
    "/restorePointCollections/vm1-rpc-westus"
)
OTHER_RPC = f"{RPCS}/vm2-rpc"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE = (
    Path(__file__).parents[2]
    / "fixtures/armspec/compute-2025-04-01/examples/restorePointExamples"
    / "RestorePointCollection_Get_WithContainedRestorePoints.json"
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def src(name: str) -> str:
    return f"{SRC_RPC}/restorePoints/{name}"


def tgt(name: str) -> str:
    return f"{TGT_RPC}/restorePoints/{name}"


def source_rp(
    name: str, minutes: float | None, *, copy_of: str | None = None, state: str = "Succeeded"
) -> RestorePointView:
    created = at(minutes) if minutes is not None else None
    return RestorePointView(src(name), name, created, copy_of, state)


def copy_rp(
    name: str, minutes: float | None, *, state: str | None = "Succeeded", source: str | None = None
) -> RestorePointView:
    """A copy in the target collection of source restore point `name` (under the same name)."""
    created = at(minutes) if minutes is not None else None
    return RestorePointView(tgt(name), name, created, source or src(name), state)


def target(
    *rps: RestorePointView,
    managed: bool = True,
    exists: bool = True,
    source: str | None = SRC_RPC,
) -> TargetCollectionView:
    return TargetCollectionView(TGT_RPC, exists, managed, source, tuple(rps))


def job(
    name: str,
    state: JobState,
    minutes: float | None = None,
    **changes: Any,
) -> JobRecord:
    """The pair's ledger job for source restore point `name` created at `minutes`."""
    started = state not in (JobState.QUEUED, JobState.WAITING, JobState.CREATING_TARGET)
    record = JobRecord(
        job_id=f"job-{name}",
        run=1,
        state=state,
        source_restore_point_id=src(name),
        source_collection_id=SRC_RPC,
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="vm1-rpc-westus",
        target_restore_point_name=name,
        trigger=Trigger.SWEEP,
        correlation_id="corr",
        requested_at=at(minutes or 0),
        updated_at=at(minutes or 0),
        target_collection_id=TGT_RPC,
        target_restore_point_id=tgt(name) if started else None,
        source_created_at=at(minutes) if minutes is not None else None,
    )
    return record.evolve(**changes)


def reasons(plan: PairPlan) -> dict[str, str]:
    """Restore point name -> "copy" or its skip code."""
    out = {c.source_restore_point_id.rsplit("/", 1)[-1]: "copy" for c in plan.copies}
    for s in plan.skipped:
        out[s.source_restore_point_id.rsplit("/", 1)[-1]] = s.reason.value
    return out


def planned(plan: PairPlan) -> list[str]:
    return [c.source_restore_point_id.rsplit("/", 1)[-1] for c in plan.copies]


# --------------------------------------------------------------------------------------------
# The rules, as a table


CASES: list[tuple[str, list[RestorePointView], TargetCollectionView, list[JobRecord], dict]] = [
    ("empty source collection", [], target(), [], {}),
    (
        "all new into a missing target, oldest first",
        [source_rp("c", 20), source_rp("a", 0), source_rp("b", 10)],
        target(exists=False, managed=False, source=None),
        [],
        {"a": "copy", "b": "copy", "c": "copy"},
    ),
    (
        "a copy in the source is never copied",
        [source_rp("a", 0, copy_of="/elsewhere/rp"), source_rp("b", 10)],
        target(),
        [],
        {"a": "is-a-copy", "b": "copy"},
    ),
    (
        "already in the target, matched case-insensitively",
        [source_rp("a", 0), source_rp("b", 10)],
        target(copy_rp("a", 0, source=src("a").upper())),
        [],
        {"a": "already-copied", "b": "copy"},
    ),
    (
        # A failed copy in the target is not a copy: the pair would silently fall behind.
        "a failed copy in the target is re-run (the ledger says it failed)",
        [source_rp("a", 0)],
        target(copy_rp("a", 0, state="Succeeded")),
        [job("a", JobState.FAILED, 0, runs_failed=1)],
        {"a": "copy"},
    ),
    (
        "a copy whose provisioning failed is not copied, even with no job",
        [source_rp("a", 0), source_rp("b", 10)],
        target(copy_rp("a", 0, state="Failed")),
        [],
        {"a": "copy", "b": "copy"},
    ),
    (
        "a failed copy fixes no order: an older restore point stays copyable",
        [source_rp("a", 0), source_rp("b", 10)],
        target(copy_rp("b", 10, state="Succeeded")),
        [job("b", JobState.FAILED, 10, runs_failed=1)],
        {"a": "copy", "b": "copy"},
    ),
    (
        "a re-run waiting for its turn is in flight, never copied twice",
        [source_rp("a", 0)],
        target(copy_rp("a", 0, state="Succeeded")),
        [job("a", JobState.RERUN_PENDING, 0, runs_failed=1)],
        {"a": "rerun-pending"},
    ),
    (
        "older than a copied restore point: superseded",
        [source_rp("a", 0), source_rp("b", 10), source_rp("c", 20), source_rp("d", 30)],
        target(copy_rp("c", 20)),
        [],
        {"a": "superseded", "b": "superseded", "c": "already-copied", "d": "copy"},
    ),
    (
        "in flight: left to its job; older ones superseded, newer planned",
        [source_rp("a", 0), source_rp("b", 10), source_rp("c", 20)],
        target(),
        [job("b", JobState.REPLICATING, 10)],
        {"a": "superseded", "b": "in-flight", "c": "copy"},
    ),
    *[
        (
            f"every running state is in flight: {state.value}",
            [source_rp("a", 0), source_rp("b", 10)],
            target(),
            [job("b", state, 10)],
            {"a": "superseded", "b": "in-flight"},
        )
        for state in (
            JobState.QUEUED,
            JobState.CREATING_TARGET,
            JobState.STARTING,
            JobState.REPLICATING,
        )
    ],
    (
        "a waiting job does not move the creation-order mark",
        [source_rp("a", 0), source_rp("b", 10), source_rp("c", 20)],
        target(),
        [job("b", JobState.WAITING, 10)],
        {"a": "copy", "b": "waiting", "c": "copy"},
    ),
    (
        "waiting behind an in-flight one",
        [source_rp("a", 0), source_rp("b", 10), source_rp("c", 20), source_rp("d", 30)],
        target(copy_rp("b", 10, state="Succeeded")),
        [job("b", JobState.REPLICATING, 10), job("c", JobState.WAITING, 20)],
        {"a": "superseded", "b": "already-copied", "c": "waiting", "d": "copy"},
    ),
    (
        "succeeded but gone from the target (retention): never copied again",
        [source_rp("a", 0), source_rp("b", 10), source_rp("c", 20)],
        target(),
        [job("b", JobState.SUCCEEDED, 10)],
        {"a": "superseded", "b": "already-copied", "c": "copy"},
    ),
    (
        "a superseded job stays superseded",
        [source_rp("a", 0), source_rp("b", 10)],
        target(),
        [job("a", JobState.SUPERSEDED, 0)],
        {"a": "superseded", "b": "copy"},
    ),
    (
        "failed fewer times than the limit: planned again",
        [source_rp("a", 0), source_rp("b", 10)],
        target(),
        [job("a", JobState.FAILED, 0, runs_failed=2)],
        {"a": "copy", "b": "copy"},
    ),
    (
        "failed as often as the limit: not retried",
        [source_rp("a", 0), source_rp("b", 10)],
        target(),
        [job("a", JobState.FAILED, 0, runs_failed=3)],
        {"a": "failed-too-often", "b": "copy"},
    ),
    (
        "failed and older than a copy: superseded wins",
        [source_rp("a", 0), source_rp("b", 10)],
        target(copy_rp("b", 10)),
        [job("a", JobState.FAILED, 0, runs_failed=1)],
        {"a": "superseded", "b": "already-copied"},
    ),
    (
        "a failed job does not move the creation-order mark",
        [source_rp("a", 0), source_rp("b", 10)],
        target(),
        [job("b", JobState.FAILED, 10, runs_failed=3)],
        {"a": "copy", "b": "failed-too-often"},
    ),
    (
        "no creation time: skipped, never blocks the others",
        [source_rp("a", None), source_rp("b", 10)],
        target(),
        [],
        {"a": "no-creation-time", "b": "copy"},
    ),
    (
        "equal creation time is not older",
        [source_rp("a", 10), source_rp("b", 10)],
        target(copy_rp("a", 10)),
        [],
        {"a": "already-copied", "b": "copy"},
    ),
    (
        "not provisioned yet",
        [source_rp("a", 0, state="Creating"), source_rp("b", 10, state="Failed")],
        target(),
        [],
        {"a": "not-ready", "b": "not-ready"},
    ),
    (
        "a copy whose source was deleted still sets the mark (by its own timeCreated)",
        [source_rp("a", 0), source_rp("c", 20)],
        target(copy_rp("b", 10)),
        [],
        {"a": "superseded", "c": "copy"},
    ),
    (
        "a job without source time takes it from the listing",
        [source_rp("a", 0), source_rp("b", 10)],
        target(),
        [job("b", JobState.STARTING, None)],
        {"a": "superseded", "b": "in-flight"},
    ),
    (
        "a succeeded job of a source since deleted still sets the mark",
        [source_rp("a", 0), source_rp("c", 20)],
        target(),
        [job("b", JobState.SUCCEEDED, 10)],
        {"a": "superseded", "c": "copy"},
    ),
    (
        "a target collection of another source plans nothing",
        [source_rp("a", 0), source_rp("b", 10)],
        target(source=OTHER_RPC),
        [],
        {"a": "target-conflict", "b": "target-conflict"},
    ),
    (
        "an existing collection that is no copy target plans nothing",
        [source_rp("a", 0)],
        target(source=None),
        [],
        {"a": "target-conflict"},
    ),
]


@pytest.mark.parametrize(
    ("source", "tgt_view", "jobs", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_plan_pair(
    source: list[RestorePointView],
    tgt_view: TargetCollectionView,
    jobs: list[JobRecord],
    expected: dict[str, str],
) -> None:
    plan = plan_pair(source, tgt_view, jobs, max_failed_runs=3, source_collection_id=SRC_RPC)
    assert reasons(plan) == expected
    assert all(s.message for s in plan.skipped)
    assert all(c.reason for c in plan.copies)


def test_plan_is_oldest_first_with_ties_by_id() -> None:
    rps = [source_rp("c", 10), source_rp("b", 10), source_rp("a", 20), source_rp("d", 0)]
    plan = plan_pair(rps, target(), [], max_failed_runs=3)
    assert planned(plan) == ["d", "b", "c", "a"]
    assert [c.created_at for c in plan.copies] == [at(0), at(10), at(10), at(20)]


def test_retry_names_the_failed_job() -> None:
    plan = plan_pair(
        [source_rp("a", 0)],
        target(),
        [job("a", JobState.FAILED, 0, runs_failed=1)],
        max_failed_runs=2,
    )
    (copy,) = plan.copies
    assert copy.retry_of_job_id == "job-a"
    assert "1 of 2" in copy.reason


def test_failed_too_often_says_why() -> None:
    failed = job(
        "a",
        JobState.FAILED,
        0,
        runs_failed=2,
        failure=Failure(code="ReplicationFailed", message="disk copy failed"),
    )
    plan = plan_pair([source_rp("a", 0)], target(), [failed], max_failed_runs=2)
    (skip,) = plan.skipped
    assert skip.reason is SkipReason.FAILED_TOO_OFTEN
    assert skip.code == "failed-too-often"
    assert skip.job_id == "job-a"
    assert "ReplicationFailed" in skip.message
    assert "2 times" in skip.message


def test_target_conflict_only_checked_with_the_source_id() -> None:
    # Without the source collection id the plan cannot tell; the ensure-target stage will.
    plan = plan_pair([source_rp("a", 0)], target(source=OTHER_RPC), [], max_failed_runs=3)
    assert planned(plan) == ["a"]
    # The source id is compared case-insensitively.
    plan = plan_pair(
        [source_rp("a", 0)], target(), [], max_failed_runs=3, source_collection_id=SRC_RPC.upper()
    )
    assert planned(plan) == ["a"]


def test_duplicate_listing_items_are_planned_once() -> None:
    rps = [source_rp("a", 0), source_rp("a", 0), RestorePointView(src("A"), "A", at(0))]
    plan = plan_pair(rps, target(), [], max_failed_runs=3)
    assert len(plan.copies) == 1


def test_superseded_message_names_the_mark() -> None:
    plan = plan_pair([source_rp("a", 0)], target(copy_rp("b", 10)), [], max_failed_runs=3)
    assert plan.newest_copied == at(10)
    (skip,) = plan.skipped
    assert "creation order" in skip.message
    assert at(10).isoformat() in skip.message


def test_newest_copied_ignores_waiting_failed_and_superseded() -> None:
    jobs = [
        job("a", JobState.WAITING, 50),
        job("b", JobState.FAILED, 40),
        job("c", JobState.SUPERSEDED, 30),
        job("d", JobState.QUEUED, 5),
    ]
    assert newest_copied([], target(), jobs) == at(5)
    assert newest_copied([], target(copy_rp("x", None)), []) is None


def test_jobs_by_source_prefers_the_job_that_says_most() -> None:
    failed = job("a", JobState.FAILED, 0, updated_at=at(99))
    running = job("a", JobState.REPLICATING, 0)
    succeeded = job("a", JobState.SUCCEEDED, 0)
    newer_failed = job(
        "a", JobState.FAILED, 0, updated_at=at(100), source_restore_point_id=src("A")
    )
    assert jobs_by_source([failed, running, succeeded])[src("a").lower()] is running
    assert jobs_by_source([failed, succeeded])[src("a").lower()] is succeeded
    assert jobs_by_source([failed, newer_failed])[src("a").lower()] is newer_failed


def test_plan_to_api() -> None:
    plan = plan_pair(
        [source_rp("a", 0), source_rp("b", 10)], target(copy_rp("a", 0)), [], max_failed_runs=3
    )
    body = plan.to_api()
    assert json.loads(json.dumps(body)) == body
    assert body["copies"] == [
        {
            "sourceRestorePointId": src("b"),
            "createdAt": at(10).isoformat(),
            "reason": "not in the target yet",
        }
    ]
    assert body["skipped"][0]["reason"] == "already-copied"
    assert body["newestCopiedCreatedAt"] == at(0).isoformat()


def test_non_utc_inputs_compare_correctly() -> None:
    # A job written with another offset (or naive, as UTC) still orders against ARM times.
    plus2 = timezone(timedelta(hours=2))
    jobs = [job("b", JobState.REPLICATING, None, source_created_at=at(10).astimezone(plus2))]
    plan = plan_pair([source_rp("a", 0), source_rp("c", 20)], target(), jobs, max_failed_runs=3)
    assert reasons(plan) == {"a": "superseded", "c": "copy"}
    naive = [job("b", JobState.REPLICATING, None, source_created_at=at(10).replace(tzinfo=None))]
    plan = plan_pair([source_rp("a", 0), source_rp("c", 20)], target(), naive, max_failed_runs=3)
    assert reasons(plan) == {"a": "superseded", "c": "copy"}


# --------------------------------------------------------------------------------------------
# Properties

_STATES = list(JobState)


_MINUTES = st.one_of(st.none(), st.integers(0, 6).map(lambda m: m * 10))
_SPEC = st.tuples(
    _MINUTES,  # source creation time
    st.booleans(),  # listed in the source (False: deleted there after it was copied)
    st.booleans(),  # is itself a copy
    st.booleans(),  # present in the target
    st.sampled_from([None, *_STATES]),  # ledger job state
    st.integers(0, 4),  # runs failed
)


def _pair(
    specs: list[tuple[int | None, bool, bool, bool, JobState | None, int]],
) -> tuple[list[RestorePointView], TargetCollectionView, list[JobRecord]]:
    source, copies, jobs = [], [], []
    for i, (minutes, listed, is_copy, copied, state, runs) in enumerate(specs):
        name = f"rp{i}"
        if listed:
            source.append(source_rp(name, minutes, copy_of=src("x") if is_copy else None))
        if copied:
            copies.append(copy_rp(name, minutes))
        if state is not None:
            jobs.append(job(name, state, minutes, runs_failed=runs))
    return source, target(*copies), jobs


@settings(max_examples=100, deadline=None)
@given(st.lists(_SPEC, max_size=8).map(_pair))
def test_plan_properties(
    case: tuple[Sequence[RestorePointView], TargetCollectionView, list[JobRecord]],
) -> None:
    source, tgt_view, jobs = case
    plan = plan_pair(source, tgt_view, jobs, max_failed_runs=3)
    # Every source restore point is accounted for exactly once.
    seen = [c.source_restore_point_id for c in plan.copies] + [
        s.source_restore_point_id for s in plan.skipped
    ]
    assert sorted(seen) == sorted(rp.id for rp in source)
    # Oldest first, ties by id.
    keys = [(c.created_at, c.source_restore_point_id.lower()) for c in plan.copies]
    assert keys == sorted(keys)
    # Never older than anything already copied or being copied (creation order).
    mark = newest_copied(source, tgt_view, jobs)
    assert mark is None or all(c.created_at >= mark for c in plan.copies)
    # A failed copy in the target is not a copy (it is deleted before its re-run).
    failed = failed_sources(tgt_view, jobs)
    copied = {
        rp.source_restore_point_id.lower()
        for rp in tgt_view.restore_points
        if rp.is_copy and rp.source_restore_point_id.lower() not in failed
    }
    for s in plan.skipped:
        if s.reason is SkipReason.ALREADY_COPIED:
            # Never report a failed copy as copied.
            assert s.source_restore_point_id.lower() not in failed
    by_source = jobs_by_source(jobs)
    by_id = {rp.id: rp for rp in source}
    for c in plan.copies:
        assert not by_id[c.source_restore_point_id].is_copy
        assert c.source_restore_point_id.lower() not in copied
        existing = by_source.get(c.source_restore_point_id.lower())
        # Only a restore point with no job, or a job that failed fewer times than allowed.
        assert existing is None or (existing.state is JobState.FAILED and existing.runs_failed < 3)
