"""The ARM fault-mix drill, small: the same copies fault-free and under every kind of fault."""

from __future__ import annotations

import pytest

from drills.arm_faults import FaultOptions, run
from tests.drills.support import explain

pytestmark = pytest.mark.slow


def test_every_copy_ends_succeeded_or_failed_with_a_reason_under_faults() -> None:
    result = run(FaultOptions(policy_vms=1, manual_vms=2, created=1, rate_scale=1.5, seed=3))
    assert result["ok"], explain(result)
    faulty = result["runs"]["faults"]
    fired = {name for name, rule in faulty["faultsFired"].items() if rule["fired"]}
    assert len(fired) >= 4, f"too few kinds of fault fired to mean much: {fired}"
    comparison = result["armCallsPerCopyComparison"]["total"]
    assert comparison["faultFree"]
    assert comparison["withFaults"]
