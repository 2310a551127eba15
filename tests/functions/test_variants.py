"""The copy pipeline under every reading of what Azure does not document.

The emulator offers each plausible behaviour as a named variant (arm_emulator/variants.py:
refusals at the PUT or in the operation, replication codes and levels, a failed copy's
provisioningState, repeated PUTs, 429 bodies, cross-region creation). Under each of them, with
the app unchanged: a copy succeeds, a replication failure is followed by a run that succeeds,
a copy that keeps failing ends after the run limit with exactly one terminal event, and two
restore points of one collection are copied one at a time, oldest first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from arm_emulator.control import EmulatorControl
from arm_emulator.variants import ALL_VARIANT_SETS, VariantSet
from devstack.stack import Stack
from shared.model.job import JobState
from tests.conftest import MakeServices
from tests.functions.test_stage_failures import events, run_job, start
from tests.support import seed_source

pytestmark = pytest.mark.slow


@pytest.fixture(params=ALL_VARIANT_SETS, ids=lambda v: v.name)
def variant(request: pytest.FixtureRequest, stack: Stack) -> Iterator[VariantSet]:
    chosen: VariantSet = request.param
    with EmulatorControl(stack.arm_endpoint) as control:
        control.apply_variant(chosen.name)
        try:
            yield chosen
        finally:
            control.apply_variant("default")
            control.clear_faults()


def terminal_events(found: list[dict]) -> list[str]:
    kinds = ("succeeded", "failed", "superseded")
    return [e["type"].rsplit(".", 1)[-1] for e in found if e["type"].endswith(kinds)]


async def test_copies_reruns_and_run_limits_under_every_variant(
    make_services: MakeServices, stack: Stack, variant: VariantSet
) -> None:
    services = await make_services(RERUN_MAX_RUNS="2")
    plain = seed_source(stack.arm_endpoint, data_disks=0)
    flaky = seed_source(stack.arm_endpoint, data_disks=0)
    broken = seed_source(stack.arm_endpoint, data_disks=0)
    # Two restore points of one collection: the copy rules make them one at a time, in order.
    pair = seed_source(stack.arm_endpoint, data_disks=0, restore_points=2)
    with EmulatorControl(stack.arm_endpoint) as control:
        for source, times in ((flaky, 1), (broken, None)):
            control.add_fault(
                operation="RestorePoints_Create",
                kind="replication_failure",
                os=True,
                match={"pathContains": source.vm_id.rsplit("/", 1)[-1]},
                **({"times": times} if times else {}),
            )
    jobs = [await start(services, s.restore_point_id) for s in (plain, flaky, broken)]
    jobs += [await start(services, rp) for rp in pair.restore_point_ids]
    waiting = await services.ledger.get(jobs[-1])
    assert waiting is not None
    assert waiting.state is JobState.WAITING, "the newer restore point waits for the older"
    done = await asyncio.gather(*(run_job(services, stack, j, timeout=90) for j in jobs))

    ok, rerun, failed, older, newer = done
    assert (older.state, newer.state) == (JobState.SUCCEEDED, JobState.SUCCEEDED), variant.name
    assert older.started_at is not None
    assert newer.started_at is not None
    assert older.finished_at is not None
    assert newer.started_at >= older.finished_at  # one copy in flight per pair
    assert (ok.state, ok.run) == (JobState.SUCCEEDED, 1), variant.name
    assert (rerun.state, rerun.run) == (JobState.SUCCEEDED, 2), variant.name
    assert (failed.state, failed.run) == (JobState.FAILED, 2), variant.name
    assert failed.failure is not None
    assert failed.failure.code == "ReplicationFailed", failed.failure
    for job in done:
        assert len(terminal_events(events(services, stack, job.job_id))) == 1, job.job_id
