"""Retention: which copies a target collection loses, as a table of cases, plus properties."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.model.job import JobRecord, JobState
from shared.model.resources import RestorePointView, TargetCollectionView
from shared.rules.retention import KeepReason, RetentionPlan, plan_retention
from tests.unit.rules.test_sweep_plan import T0, copy_rp, job, src, target, tgt

DAY = 24 * 60  # minutes
NOW = T0 + timedelta(days=30)


def days_ago(days: float) -> float:
    """`minutes` argument of the builders for a recovery point `days` old at NOW."""
    return (NOW - T0).total_seconds() / 60 - days * DAY


def usable(name: str, age_days: float) -> tuple[RestorePointView, JobRecord]:
    minutes = days_ago(age_days)
    return copy_rp(name, minutes), job(name, JobState.SUCCEEDED, minutes)


def collection(
    *copies: tuple[RestorePointView, JobRecord | None], managed: bool = True
) -> tuple[TargetCollectionView, list[JobRecord]]:
    rps = [rp for rp, _ in copies]
    jobs = [j for _, j in copies if j is not None]
    return target(*rps, managed=managed), jobs


def outcome(plan: RetentionPlan) -> dict[str, str]:
    """Copy name -> "delete" or its keep reason."""
    out = {d.target_restore_point_id.rsplit("/", 1)[-1]: "delete" for d in plan.deletions}
    for k in plan.kept:
        out[k.target_restore_point_id.rsplit("/", 1)[-1]] = k.reason.value
    return out


FIVE = [usable("a", 10), usable("b", 5), usable("c", 3), usable("d", 2), usable("e", 1)]

CASES = [
    ("keepLast only", FIVE, 2, None, {"a": "delete", "b": "delete", "c": "delete"}),
    ("keepLast larger than the collection", FIVE, 9, None, {}),
    ("maxAgeDays only", FIVE, None, 4, {"a": "delete", "b": "delete"}),
    (
        "maxAgeDays only, everything old: the newest usable copy stays",
        [usable("a", 10), usable("b", 8)],
        None,
        4,
        {"a": "delete", "b": "newest-usable"},
    ),
    (
        "both: kept if either rule keeps it (maxAgeDays keeps more)",
        FIVE,
        2,
        4,
        {"a": "delete", "b": "delete", "c": "younger-than-max-age"},
    ),
    (
        "both: kept if either rule keeps it (keepLast keeps more)",
        FIVE,
        4,
        1.5,
        {"a": "delete", "b": "within-keep-last", "c": "within-keep-last"},
    ),
    (
        "an age of exactly maxAgeDays is not younger",
        [usable("a", 4), usable("b", 1)],
        None,
        4,
        {"a": "delete", "b": "younger-than-max-age"},
    ),
    (
        "fractional days",
        [usable("a", 0.6), usable("b", 0.4), usable("c", 0.1)],
        None,
        0.5,
        {"a": "delete"},
    ),
    (
        "a replicating copy is never deleted and does not count for keepLast",
        [
            usable("a", 10),
            usable("b", 9),
            (copy_rp("c", days_ago(8)), job("c", JobState.REPLICATING, days_ago(8))),
        ],
        1,
        None,
        {"a": "delete", "b": "within-keep-last", "c": "replicating"},
    ),
    (
        "failed, superseded or jobless copies are left for a human",
        [
            usable("a", 10),
            usable("b", 9),
            (copy_rp("c", days_ago(20)), job("c", JobState.FAILED, days_ago(20))),
            (copy_rp("d", days_ago(20)), job("d", JobState.SUPERSEDED, days_ago(20))),
            (copy_rp("e", days_ago(20)), None),
        ],
        1,
        None,
        {
            "a": "delete",
            "b": "within-keep-last",
            "c": "unknown-state",
            "d": "unknown-state",
            "e": "unknown-state",
        },
    ),
    (
        "a succeeded job but a copy that is not provisioned: unknown",
        [
            usable("a", 10),
            (copy_rp("b", days_ago(20), state="Failed"), job("b", JobState.SUCCEEDED, 0)),
        ],
        1,
        None,
        {"a": "within-keep-last", "b": "unknown-state"},
    ),
    (
        "a copy Azure is already deleting",
        [
            usable("a", 10),
            (copy_rp("b", days_ago(20), state="Deleting"), job("b", JobState.SUCCEEDED, 0)),
        ],
        1,
        None,
        {"a": "within-keep-last", "b": "deleting"},
    ),
    (
        "no provisioningState counts as Succeeded (ARM RPC)",
        [usable("a", 10), (copy_rp("b", days_ago(1), state=None), job("b", JobState.SUCCEEDED))],
        1,
        None,
        {"a": "delete", "b": "within-keep-last"},
    ),
    (
        "a restore point that is not a copy is never touched",
        [usable("a", 10), (RestorePointView(tgt("local"), "local", T0), None)],
        None,
        1,
        {"a": "newest-usable", "local": "not-a-copy"},
    ),
    (
        "no creation time anywhere: kept, never ranked",
        [usable("a", 10), usable("b", 9), (copy_rp("c", None), job("c", JobState.SUCCEEDED))],
        1,
        None,
        {"a": "delete", "b": "within-keep-last", "c": "no-creation-time"},
    ),
    (
        "creation time from the job when the copy has none",
        [
            usable("a", 10),
            (copy_rp("b", None), job("b", JobState.SUCCEEDED, days_ago(12))),
        ],
        1,
        None,
        {"a": "within-keep-last", "b": "delete"},
    ),
    ("an empty collection", [], 1, 1, {}),
]


@pytest.mark.parametrize(
    ("copies", "keep_last", "max_age", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_plan_retention(
    copies: list[tuple[RestorePointView, JobRecord | None]],
    keep_last: int | None,
    max_age: float | None,
    expected: dict[str, str],
) -> None:
    tgt_view, jobs = collection(*copies)
    plan = plan_retention(tgt_view, jobs, keep_last=keep_last, max_age_days=max_age, now=NOW)
    result = outcome(plan)
    # Cases list what is deleted or kept for a special reason; the rest is kept by a rule.
    assert {k: v for k, v in result.items() if k in expected} == expected
    assert len(result) == len(copies)
    rule = {"within-keep-last", "younger-than-max-age"}
    assert all(v in rule for k, v in result.items() if k not in expected)


@pytest.mark.parametrize(
    ("managed", "keep_last", "max_age", "reason"),
    [
        (False, 1, 1.0, KeepReason.NOT_MANAGED),
        (False, None, None, KeepReason.NOT_MANAGED),
        (True, None, None, KeepReason.NO_POLICY),
    ],
)
def test_nothing_deleted_without_policy_or_ownership(
    managed: bool, keep_last: int | None, max_age: float | None, reason: KeepReason
) -> None:
    tgt_view, jobs = collection(*FIVE, managed=managed)
    plan = plan_retention(tgt_view, jobs, keep_last=keep_last, max_age_days=max_age, now=NOW)
    assert plan.deletions == ()
    assert {k.reason for k in plan.kept} == {reason}
    assert len(plan.kept) == 5


def test_missing_collection_plans_nothing() -> None:
    plan = plan_retention(
        TargetCollectionView.missing(tgt("x")), [], keep_last=1, max_age_days=1, now=NOW
    )
    assert plan == RetentionPlan((), ())


def test_deletions_are_oldest_first_with_reasons() -> None:
    tgt_view, jobs = collection(*reversed(FIVE))
    plan = plan_retention(tgt_view, jobs, keep_last=2, max_age_days=4, now=NOW)
    assert [d.target_restore_point_id for d in plan.deletions] == [tgt("a"), tgt("b")]
    first = plan.deletions[0]
    assert first.source_restore_point_id == src("a")
    assert first.job_id == "job-a"
    assert first.created_at == T0 + timedelta(minutes=days_ago(10))
    assert "beyond the newest 2 usable copies and older than 4 days" in first.reason


def test_jobs_match_case_insensitively_and_by_source_as_fallback() -> None:
    a_rp, a_job = usable("a", 10)
    b_rp, b_job = usable("b", 9)
    c_rp, c_job = usable("c", 1)
    jobs = [
        a_job.evolve(target_restore_point_id=tgt("a").upper()),
        # No target id recorded: matched by its source restore point.
        b_job.evolve(target_restore_point_id=None),
        c_job,
    ]
    plan = plan_retention(target(a_rp, b_rp, c_rp), jobs, keep_last=1, max_age_days=None, now=NOW)
    assert outcome(plan) == {"a": "delete", "b": "delete", "c": "within-keep-last"}


def test_equal_times_rank_by_id() -> None:
    same = days_ago(10)
    copies = [(copy_rp(n, same), job(n, JobState.SUCCEEDED, same)) for n in ("b", "a", "c")]
    tgt_view, jobs = collection(*copies)
    plan = plan_retention(tgt_view, jobs, keep_last=1, max_age_days=None, now=NOW)
    # Ranked newest first, ties by id descending: "c" is the one kept.
    assert outcome(plan) == {"a": "delete", "b": "delete", "c": "within-keep-last"}
    again = plan_retention(
        target(*reversed([rp for rp, _ in copies])), jobs, keep_last=1, max_age_days=None, now=NOW
    )
    assert again == plan


def test_naive_now_is_utc() -> None:
    tgt_view, jobs = collection(*FIVE)
    aware = plan_retention(tgt_view, jobs, keep_last=None, max_age_days=4, now=NOW)
    naive = plan_retention(
        tgt_view, jobs, keep_last=None, max_age_days=4, now=NOW.replace(tzinfo=None)
    )
    assert naive == aware


def test_to_api() -> None:
    tgt_view, jobs = collection(*FIVE)
    body = plan_retention(tgt_view, jobs, keep_last=4, max_age_days=None, now=NOW).to_api()
    assert json.loads(json.dumps(body)) == body
    assert body["deletions"][0]["targetRestorePointId"] == tgt("a")
    assert {k["reason"] for k in body["kept"]} == {"within-keep-last"}


# --------------------------------------------------------------------------------------------
# Properties

_STATES = list(JobState)


_COPY = st.tuples(
    st.one_of(st.none(), st.integers(0, 20)),  # age in days
    st.sampled_from([None, *_STATES, JobState.SUCCEEDED, JobState.SUCCEEDED]),  # job state
    st.sampled_from(["Succeeded", "Succeeded", None, "Deleting", "Failed"]),  # provisioning
)


def _collection(
    specs: list[tuple[int | None, JobState | None, str | None]],
) -> tuple[TargetCollectionView, list[JobRecord]]:
    copies: list[tuple[RestorePointView, JobRecord | None]] = []
    for i, (age, state, rp_state) in enumerate(specs):
        minutes = days_ago(age) if age is not None else None
        rp = copy_rp(f"rp{i}", minutes, state=rp_state)
        copies.append((rp, job(f"rp{i}", state, minutes) if state is not None else None))
    return collection(*copies)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(_COPY, max_size=8).map(_collection),
    st.one_of(st.none(), st.integers(1, 5)),
    st.one_of(st.none(), st.floats(0.5, 15)),
)
def test_retention_properties(
    case: tuple[TargetCollectionView, list[JobRecord]],
    keep_last: int | None,
    max_age: float | None,
) -> None:
    tgt_view, jobs = case
    plan = plan_retention(tgt_view, jobs, keep_last=keep_last, max_age_days=max_age, now=NOW)
    ids = [d.target_restore_point_id for d in plan.deletions] + [
        k.target_restore_point_id for k in plan.kept
    ]
    assert sorted(ids) == sorted(rp.id for rp in tgt_view.restore_points)
    if keep_last is None and max_age is None:
        assert plan.deletions == ()
    by_target = {j.target_restore_point_id: j for j in jobs}
    rps = {rp.id: rp for rp in tgt_view.restore_points}
    usable = sorted(
        (
            (rps[rp_id].created_at, rp_id)
            for rp_id, j in by_target.items()
            if j.state is JobState.SUCCEEDED
            and rps[rp_id].provisioning_state in ("Succeeded", None)
            and rps[rp_id].created_at is not None
        ),
        reverse=True,
    )
    deleted = {d.target_restore_point_id for d in plan.deletions}
    # Only usable copies are deleted; never the newest one; never one a rule keeps.
    for d in plan.deletions:
        assert by_target[d.target_restore_point_id].state is JobState.SUCCEEDED
        assert rps[d.target_restore_point_id].provisioning_state in ("Succeeded", None)
        if max_age is not None:
            assert NOW - d.created_at >= timedelta(days=max_age)
    if usable:
        assert usable[0][1] not in deleted
        if keep_last is not None:
            assert not deleted & {rp_id for _, rp_id in usable[:keep_last]}
    keys = [(d.created_at, d.target_restore_point_id) for d in plan.deletions]
    assert keys == sorted(keys)
