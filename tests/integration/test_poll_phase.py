"""A copy through the local host while the emulator publishes at a per-copy random phase with
jitter (the `progress-phase-random` variant): the learned poll schedule sees it done."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from arm_emulator.control import EmulatorControl
from devstack.stack import Stack
from tests.integration.test_copy_pipeline import request_copy, wait_until_done
from tests.support import EventLog, seed_source


@pytest.fixture
def random_phase(stack: Stack) -> Iterator[None]:
    with EmulatorControl(stack.arm_endpoint) as control:
        control.apply_variant("progress-phase-random")
        try:
            yield
        finally:
            control.apply_variant("default")


@pytest.mark.usefixtures("random_phase")
def test_copies_spanning_several_publishes_complete_at_a_random_phase(
    api: httpx.Client, arm: httpx.Client, events: EventLog, stack: Stack
) -> None:
    # 40 GB per disk at 10 MiB/s: about 4,100 simulated seconds, 7 publishes, ~7 real seconds.
    sources = [seed_source(stack.arm_endpoint, data_disks=1, used_gb=40) for _ in range(3)]
    jobs = [request_copy(api, s.restore_point_id) for s in sources]
    for job in jobs:
        done = wait_until_done(api, job["id"], timeout=120)
        assert done["state"] == "Succeeded", done
        event = events.wait_for(job["id"], "com.example.rpcopy.copy.succeeded", timeout=30)
        timing = event["data"]["timing"]
        assert datetime.fromisoformat(timing["replicationDoneAt"]) >= datetime.fromisoformat(
            timing["startedAt"]
        )
        rp = arm.get(done["targetRestorePointId"], params={"$expand": "instanceView"}).json()
        for disk in rp["properties"]["instanceView"]["diskRestorePoints"]:
            assert disk["replicationStatus"]["status"]["code"] == "ReplicationState/succeeded"
