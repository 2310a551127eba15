"""The ARM outage drill, small: 30 seconds without ARM (the 5-minute one is recorded only)."""

from __future__ import annotations

import pytest

from drills.outage import OutageOptions, run
from tests.drills.support import explain

pytestmark = pytest.mark.slow


def test_every_copy_finishes_after_a_30_second_outage() -> None:
    result = run(
        OutageOptions(durations=[30.0], profile="fast", policy_vms=1, manual_vms=1, seeded=1)
    )
    assert result["ok"], explain(result)
    (outage,) = result["runs"]
    assert outage["outageSeconds"] >= 30
    assert any(k.startswith("503") for k in outage["httpDuringOutage"]), outage["httpDuringOutage"]
