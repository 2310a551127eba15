"""shared/rules/reruns.py: which failed runs are followed by another, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.model.message import Failure
from shared.rules.reruns import RETRYABLE_CODES, backoff, is_retryable, plan_rerun
from shared.settings import RerunPolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RerunPolicy(max_runs=4, window_seconds=48 * 3600, backoff_seconds=600)


def failure(code: str, transient: bool = False) -> Failure:
    return Failure(code=code, message="m", retryable=True if transient else None)


@pytest.mark.parametrize(
    ("code", "transient", "retryable"),
    [
        ("CopyOperationFailed", False, True),
        ("ReplicationFailed", False, True),
        ("CopyTimedOut", False, True),
        ("TargetRestorePointMissing", False, True),
        ("StageFailedRepeatedly", False, True),
        ("ServiceUnavailable", True, True),  # ARM trouble that outlasted the stage's attempts
        ("TooManyRequests", True, True),
        ("SourceRestorePointNotFound", False, False),
        ("CopyOfCopy", False, False),
        ("SameRegion", False, False),
        ("TargetCollectionConflict", False, False),
        ("TargetRestorePointConflict", False, False),
        ("InvalidMessage", False, False),
        ("JobNotFound", False, False),
        ("AuthorizationFailed", False, False),
        ("BadRequest", False, False),
    ],
)
def test_which_failures_are_retried(code: str, transient: bool, retryable: bool) -> None:
    assert is_retryable(failure(code, transient)) is retryable


def test_the_backoff_doubles_and_is_capped() -> None:
    policy = RerunPolicy(backoff_seconds=600, max_backoff_seconds=3000)
    assert [backoff(policy, n) for n in range(5)] == [600, 1200, 2400, 3000, 3000]


@pytest.mark.parametrize(
    ("run", "reruns", "elapsed_hours", "expected"),
    [
        (1, 0, 0, (2, 600)),
        (2, 1, 1, (3, 1200)),
        (3, 2, 2, (4, 2400)),
        (4, 3, 3, None),  # the fourth run was the last
        (2, 1, 47.9, None),  # the next run would start after the 48-hour window
    ],
)
def test_plan_rerun(
    run: int, reruns: int, elapsed_hours: float, expected: tuple[int, float] | None
) -> None:
    now = T0 + timedelta(hours=elapsed_hours)
    plan = plan_rerun(
        failure("ReplicationFailed"),
        run=run,
        reruns_so_far=reruns,
        requested_at=T0,
        now=now,
        policy=POLICY,
    )
    if expected is None:
        assert plan is None
    else:
        assert plan is not None
        assert (plan.run, plan.delay_seconds) == expected
        assert plan.at == now + timedelta(seconds=expected[1])


def test_a_permanent_failure_never_reruns() -> None:
    plan = plan_rerun(
        failure("CopyOfCopy"), run=1, reruns_so_far=0, requested_at=T0, now=T0, policy=POLICY
    )
    assert plan is None


@given(
    code=st.sampled_from(sorted(RETRYABLE_CODES)),
    reruns=st.integers(min_value=0, max_value=50),
    elapsed=st.floats(min_value=0, max_value=10 * 24 * 3600),
    max_runs=st.integers(min_value=1, max_value=10),
)
def test_bounded_in_count_and_time(code: str, reruns: int, elapsed: float, max_runs: int) -> None:
    """Whatever happened before, a planned run is within the run limit and the window."""
    policy = RerunPolicy(max_runs=max_runs, window_seconds=48 * 3600, backoff_seconds=600)
    now = T0 + timedelta(seconds=elapsed)
    plan = plan_rerun(
        failure(code), run=reruns + 1, reruns_so_far=reruns, requested_at=T0, now=now, policy=policy
    )
    if plan is not None:
        assert plan.run <= max_runs
        assert (plan.at - T0).total_seconds() <= policy.window_seconds
        assert plan.at > now
