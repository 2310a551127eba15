"""The crash drill, small: hosts killed at random moments while copies are in flight."""

from __future__ import annotations

import pytest

from drills.crash import CrashOptions, run
from tests.drills.support import explain

pytestmark = pytest.mark.slow


def test_nothing_is_lost_or_doubled_when_hosts_are_killed() -> None:
    result = run(
        CrashOptions(policy_vms=2, manual_vms=1, seeded=1, created=1, failing_vms=2, seed=7)
    )
    assert result["ok"], explain(result)
    assert result["kills"] >= result["jobs"] > 0
    assert result["restarts"] == result["kills"]
    triggers = result["triggers"]
    assert triggers.get("http"), triggers
    # Event Grid reached the hosts; a restore point created mid-drill is requested by whichever
    # way in comes first (Event Grid or the sweep: one job id), and keeps that one's trigger.
    assert result["eventGrid"]["deliveries"].get("delivered"), result["eventGrid"]
    assert triggers.get("eventgrid") or triggers.get("sweep"), triggers
    assert result["armCalls"]["injectedFaultsFired"], "some runs failed and re-ran"


def test_the_host_shim_shortens_the_queue_lock_devhost_uses() -> None:
    """The crash drill relies on devhost reading its receive lock from this module attribute;
    if devhost renames it, this fails instead of the drill silently waiting 10 minutes."""
    from devhost import queue_listener
    from drills.host_shim import LOCK_SETTING, apply_lock_setting

    before = queue_listener.LOCK_SECONDS
    try:
        assert apply_lock_setting({LOCK_SETTING: "12"}) == 12
        assert queue_listener.LOCK_SECONDS == 12
        with pytest.raises(SystemExit):
            apply_lock_setting({LOCK_SETTING: "1"})
    finally:
        queue_listener.LOCK_SECONDS = before
