"""shared/sweep/ against Azurite and the ARM emulator: the plan, the real sweep and a second
sweep that finds nothing new, for a collection protected by its own tags."""

from __future__ import annotations

from datetime import datetime

from arm_emulator.control import EmulatorControl
from shared.model.job import JobState
from shared.model.keys import pair_key
from shared.model.times import parse_arm_time
from shared.sweep.reconcile import sweep
from shared.sweep.report import PairReport, SweepReport
from shared.sweep.status import protection
from tests.conftest import MakeServices
from tests.support import SUBSCRIPTION, TARGET_REGION, arm_call_counts, seed_source


def emulator_now(url: str) -> datetime:
    with EmulatorControl(url) as control:
        now = parse_arm_time(control.clock()["now"])
    assert now is not None
    return now


def ours(report: SweepReport, collection_id: str) -> PairReport:
    (pair,) = [p for p in report.pairs if p.source_collection_id.lower() == collection_id.lower()]
    return pair


async def test_plan_then_sweep_then_nothing_new(make_services: MakeServices, stack) -> None:
    source = seed_source(
        stack.arm_endpoint, restore_points=3, tags={"rpcopy-targets": f"{TARGET_REGION}:rg-dr"}
    )
    services = await make_services(SWEEP_SUBSCRIPTIONS=SUBSCRIPTION)

    plan = ours(await sweep(services, dry_run=True), source.collection_id)
    assert plan.plan is not None
    assert [c.source_restore_point_id for c in plan.plan.copies] == list(source.restore_point_ids)
    assert plan.requested == []
    key = pair_key(source.collection_id, TARGET_REGION)
    assert await services.ledger.for_pair(key) == []  # a dry run writes nothing

    done = ours(await sweep(services, dry_run=False), source.collection_id)
    assert len(done.requested) == 3
    states = {job.source_restore_point_id: job.state for job in await services.ledger.for_pair(key)}
    # One copy in flight per pair, the oldest first; the others wait their turn.
    assert states == {
        source.restore_point_ids[0]: JobState.QUEUED,
        source.restore_point_ids[1]: JobState.WAITING,
        source.restore_point_ids[2]: JobState.WAITING,
    }

    before = arm_call_counts(stack.arm_endpoint)
    again = ours(await sweep(services, dry_run=False), source.collection_id)
    assert again.requested == []
    assert again.plan is not None
    assert again.plan.copies == ()
    calls = {
        op: n - before.get(op, 0)
        for op, n in arm_call_counts(stack.arm_endpoint).items()
        if n != before.get(op, 0)
    }
    # Reads grow with the collections, not the restore points: no per-restore-point GETs.
    assert "RestorePoints_Get" not in calls


async def test_an_uncopied_restore_point_older_than_the_rpo_is_a_breach(
    make_services: MakeServices, stack
) -> None:
    source = seed_source(
        stack.arm_endpoint,
        tags={"rpcopy-targets": f"{TARGET_REGION}:rg-dr", "rpcopy-rpo-minutes": "30"},
    )
    services = await make_services(SWEEP_SUBSCRIPTIONS=SUBSCRIPTION)
    # The emulator's clock runs faster than real time: judge ages on its clock.
    services.clock = lambda: emulator_now(stack.arm_endpoint)
    # The status page reads only the ledger: with no job yet it cannot date the exposure.
    body = await protection(services)
    (pair,) = [
        p for p in body["pairs"] if p["sourceCollectionId"].lower() == source.collection_id.lower()
    ]
    assert (pair["targetRegion"], pair["rpoMinutes"], pair["rpoState"]) == (
        TARGET_REGION,
        30,
        "at-risk",
    )
    # The sweep lists the restore points: the one-hour-old restore point is past the objective.
    planned = ours(await sweep(services, dry_run=True), source.collection_id)
    assert planned.status is not None
    assert planned.status.rpo_state == "breached"
