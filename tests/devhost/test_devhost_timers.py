"""Timer triggers in a running devhost: NCRONTAB from a %SETTING%, runOnStartup."""

from __future__ import annotations

import itertools

from tests.devhost.devhost_support import DevhostProcess, ResultCollector


def test_every_second_schedule_from_setting_fires_repeatedly(
    devhost: DevhostProcess, timer_results: ResultCollector
) -> None:
    pid = devhost.process.pid
    ticks = timer_results.wait_for(
        lambda r: r.get("fn") == "tick" and r.get("pid") == pid,
        count=3,
        timeout=8,
        what="three ticks of '%TICK_SCHEDULE%' = '*/1 * * * * *'",
    )
    times = sorted(t["at"] for t in ticks)
    # One invocation per second, not a burst.
    assert all(later - earlier > 0.5 for earlier, later in itertools.pairwise(times))
    assert "timerTrigger '*/1 * * * * *'" in devhost.log_text()  # resolved in the summary


def test_run_on_startup_fires_once_with_a_timer_request(
    devhost: DevhostProcess, timer_results: ResultCollector
) -> None:
    pid = devhost.process.pid
    report = timer_results.wait_for(
        lambda r: r.get("fn") == "on_startup" and r.get("pid") == pid,
        what="the runOnStartup invocation of on_startup",
    )[0]
    assert report["kind"] == "TimerRequest"
    assert report["past_due"] is False
    # Its schedule is yearly: the only timer-fired run is the startup one (admin runs aside).
    assert devhost.log_text().count("Reason='Timer fired at startup (runOnStartup)'") == 1
