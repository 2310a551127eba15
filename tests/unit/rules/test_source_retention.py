"""shared/rules/source_retention.py: which restore points the app created are deleted, the rules
it never breaks, and when a creation is refused before ARM is asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.model.ids import id_key
from shared.model.resources import RestorePointView
from shared.rules.source_retention import (
    MAX_RESTORE_POINTS_PER_VM,
    Refusal,
    SourceKeepReason,
    created_name,
    creation_refusal,
    plan_source_retention,
)

RPC = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg"
    "/providers/Microsoft.Compute/restorePointCollections/vm1-rpc"
)
NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def point(
    name: str, hours_ago: float, state: str | None = "Succeeded", copy_of: str | None = None
) -> RestorePointView:
    return RestorePointView(
        f"{RPC}/restorePoints/{name}", name, NOW - timedelta(hours=hours_ago), copy_of, state
    )


def app_point(hours_ago: int, state: str | None = "Succeeded") -> RestorePointView:
    return point(created_name(NOW - timedelta(hours=hours_ago)), hours_ago, state)


def keys(points: list[RestorePointView]) -> set[str]:
    return {id_key(p.id) for p in points}


def deleted_names(plan: object) -> list[str]:
    return sorted(d.restore_point_id.rsplit("/", 1)[-1] for d in plan.deletions)  # type: ignore[attr-defined]


def test_created_names_are_unique_per_slot_and_sortable() -> None:
    assert created_name(datetime(2026, 6, 10, 2, 0, 5, tzinfo=UTC)) == "rpcopy-20260610T020005Z"


def test_keep_last_keeps_exactly_the_newest_n_the_app_created() -> None:
    mine = [app_point(h) for h in (1, 2, 3, 4, 5)]
    theirs = [point("backup-vendor", 10), point("manual", 30)]
    plan = plan_source_retention(
        mine + theirs,
        created_by_app=keys(mine),
        copy_pending=set(),
        keep_last=2,
        max_age_days=None,
        now=NOW,
    )
    assert deleted_names(plan) == sorted(p.name for p in mine[2:])
    reasons = {k.restore_point_id.rsplit("/", 1)[-1]: k.reason for k in plan.kept}
    assert reasons["backup-vendor"] is SourceKeepReason.NOT_CREATED_BY_APP
    assert reasons["manual"] is SourceKeepReason.NOT_CREATED_BY_APP
    assert reasons[mine[0].name] is SourceKeepReason.WITHIN_KEEP_LAST


def test_max_age_alone_never_deletes_the_newest_usable_one() -> None:
    mine = [app_point(h) for h in (50, 60, 70)]  # all older than one day
    plan = plan_source_retention(
        mine, created_by_app=keys(mine), copy_pending=set(), keep_last=None, max_age_days=1, now=NOW
    )
    assert deleted_names(plan) == sorted(p.name for p in mine[1:])
    assert (mine[0].id, SourceKeepReason.NEWEST_USABLE) in {
        (k.restore_point_id, k.reason) for k in plan.kept
    }


def test_a_restore_point_a_copy_waits_on_is_kept() -> None:
    mine = [app_point(h) for h in (1, 2, 3)]
    plan = plan_source_retention(
        mine,
        created_by_app=keys(mine),
        copy_pending={id_key(mine[2].id)},
        keep_last=1,
        max_age_days=None,
        now=NOW,
    )
    assert deleted_names(plan) == [mine[1].name]
    assert (mine[2].id, SourceKeepReason.COPY_PENDING) in {
        (k.restore_point_id, k.reason) for k in plan.kept
    }


def test_the_prefix_alone_or_the_record_alone_is_not_proof_the_app_created_it() -> None:
    lookalike = app_point(5)  # our naming, but no creation record names it
    recorded_other = point("not-ours", 6)  # a record key, but not our naming
    mine = [app_point(1)]
    plan = plan_source_retention(
        [*mine, lookalike, recorded_other],
        created_by_app=keys(mine) | keys([recorded_other]),
        copy_pending=set(),
        keep_last=1,
        max_age_days=None,
        now=NOW,
    )
    assert plan.deletions == ()


def test_unfinished_and_untimed_restore_points_are_kept() -> None:
    creating = app_point(3, state="Creating")
    failed = app_point(4, state="Failed")
    untimed = RestorePointView(f"{RPC}/restorePoints/rpcopy-x", "rpcopy-x", None)
    mine = [app_point(1), app_point(2), creating, failed, untimed]
    plan = plan_source_retention(
        mine, created_by_app=keys(mine), copy_pending=set(), keep_last=1, max_age_days=None, now=NOW
    )
    assert deleted_names(plan) == [mine[1].name]
    reasons = {k.restore_point_id: k.reason for k in plan.kept}
    assert reasons[creating.id] is SourceKeepReason.NOT_READY
    assert reasons[failed.id] is SourceKeepReason.NOT_READY
    assert reasons[untimed.id] is SourceKeepReason.NO_CREATION_TIME


def test_no_retention_keeps_everything() -> None:
    mine = [app_point(h) for h in (1, 2, 3)]
    plan = plan_source_retention(
        mine,
        created_by_app=keys(mine),
        copy_pending=set(),
        keep_last=None,
        max_age_days=None,
        now=NOW,
    )
    assert plan.deletions == ()


@pytest.mark.parametrize(
    ("points", "refusal"),
    [
        ([point("a", 1), point("b", 0.1, state="Creating")], Refusal.CONCURRENT_CREATION),
        (
            [point(f"p{i}", i) for i in range(MAX_RESTORE_POINTS_PER_VM)],
            Refusal.RESTORE_POINT_LIMIT,
        ),
        ([point(f"p{i}", i) for i in range(MAX_RESTORE_POINTS_PER_VM - 1)], None),
        ([], None),
    ],
)
def test_creation_refusal(points: list[RestorePointView], refusal: Refusal | None) -> None:
    found = creation_refusal(points)
    assert (found[0] if found else None) is refusal


@settings(max_examples=300, deadline=None)
@given(
    spec=st.lists(
        st.tuples(
            st.integers(0, 24 * 60),  # hours ago
            st.booleans(),  # created by the app
            st.sampled_from(["Succeeded", "Succeeded", "Creating", "Failed"]),
            st.booleans(),  # a copy waits on it
        ),
        max_size=25,
        unique_by=lambda t: t[0],
    ),
    keep_last=st.one_of(st.none(), st.integers(1, 10)),
    max_age_days=st.one_of(st.none(), st.floats(0.5, 30)),
)
def test_retention_never_breaks_its_rules(
    spec: list[tuple[int, bool, str, bool]], keep_last: int | None, max_age_days: float | None
) -> None:
    points, mine, pending = [], set(), set()
    for hours, is_app, state, waited_on in spec:
        rp = (
            point(created_name(NOW - timedelta(hours=hours)), hours, state)
            if is_app
            else point(f"other-{hours}", hours, state)
        )
        points.append(rp)
        if is_app:
            mine.add(id_key(rp.id))
        if waited_on:
            pending.add(id_key(rp.id))
    plan = plan_source_retention(
        points,
        created_by_app=mine,
        copy_pending=pending,
        keep_last=keep_last,
        max_age_days=max_age_days,
        now=NOW,
    )
    deleted = {id_key(d.restore_point_id) for d in plan.deletions}
    assert deleted <= mine
    assert not deleted & pending
    usable = sorted(
        (p for p in points if p.provisioning_state == "Succeeded"),
        key=lambda p: p.created_at or NOW,
        reverse=True,
    )
    if usable:
        assert id_key(usable[0].id) not in deleted
        mine_usable = [p for p in usable if id_key(p.id) in mine]
        if mine_usable:
            assert id_key(mine_usable[0].id) not in deleted
    for rp in points:
        if id_key(rp.id) in deleted:
            assert rp.provisioning_state == "Succeeded"
            if max_age_days is not None:
                assert rp.created_at is not None
                assert rp.created_at <= NOW - timedelta(days=max_age_days)
    if keep_last is not None:
        ranked = [id_key(p.id) for p in usable if id_key(p.id) in mine]
        assert not deleted & set(ranked[:keep_last])
        if max_age_days is None:
            # keepLast alone: exactly what is beyond the N newest and not otherwise guarded.
            expected = set(ranked[keep_last:]) - pending
            assert deleted == expected
    assert len(plan.deletions) + len(plan.kept) == len(points)
