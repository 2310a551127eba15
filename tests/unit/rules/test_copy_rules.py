"""Azure's copy rules as pure decisions: admission, release, ordering, the PUT budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.model.keys import collection_key, pair_key
from shared.rules.copy_rules import Admission, PairState, admit, budget_wait, order_waiting, release

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("pair", "job", "created", "expected"),
    [
        (PairState(), "j1", at(0), Admission.ADMIT),
        (PairState(), "j1", None, Admission.ADMIT),
        (PairState("j1", at(0)), "j1", at(0), Admission.ADMIT),  # re-admission is idempotent
        (PairState("j1", at(0)), "j2", at(10), Admission.WAIT),  # newer waits its turn
        (PairState("j1", at(10)), "j2", at(0), Admission.SUPERSEDE),  # older than in flight
        (PairState(None, None, at(10)), "j2", at(0), Admission.SUPERSEDE),  # older than copied
        (PairState(None, None, at(10)), "j2", at(10), Admission.ADMIT),  # equal is not older
        (PairState(None, None, at(10)), "j2", at(20), Admission.ADMIT),
        (PairState("j1", at(5), at(10)), "j2", at(7), Admission.SUPERSEDE),
        (PairState("j1", at(5), at(1)), "j2", None, Admission.WAIT),  # unknown time: wait
    ],
)
def test_admission(
    pair: PairState, job: str, created: datetime | None, expected: Admission
) -> None:
    decision = admit(pair, job, created)
    assert decision.admission is expected
    assert decision.reason


def test_supersede_reason_says_why() -> None:
    decision = admit(PairState(None, None, at(10)), "j2", at(0))
    assert "creation order" in decision.reason


@pytest.mark.parametrize(
    ("pair", "job", "created", "succeeded", "expected"),
    [
        (PairState("j1", at(5)), "j1", at(5), True, PairState(None, None, at(5))),
        (PairState("j1", at(5)), "j1", at(5), False, PairState(None, None, None)),
        (PairState("j1", at(5), at(9)), "j1", at(5), True, PairState(None, None, at(9))),
        # A job that did not hold the pair frees nothing (but a success still counts).
        (PairState("j9", at(7)), "j1", at(5), True, PairState("j9", at(7), at(5))),
        (PairState("j9", at(7)), "j1", at(5), False, PairState("j9", at(7), None)),
    ],
)
def test_release(
    pair: PairState, job: str, created: datetime, succeeded: bool, expected: PairState
) -> None:
    assert release(pair, job, created, succeeded) == expected


def test_waiting_jobs_are_ordered_by_creation_then_id() -> None:
    waiting = [("c", at(3)), ("a", None), ("b", at(1)), ("d", at(1))]
    assert order_waiting(waiting) == ["b", "d", "c", "a"]


@pytest.mark.parametrize(
    ("puts", "now", "expected_wait", "kept"),
    [
        ([], at(0), 0.0, 0),
        ([at(0), at(10)], at(20), 0.0, 2),
        ([at(0), at(10), at(20)], at(30), 30 * 60.0, 3),  # the 4th waits for the 1st to age out
        ([at(0), at(10), at(20)], at(60), 0.0, 2),  # the 1st aged out exactly at 60 minutes
        ([at(-120), at(10), at(20)], at(30), 0.0, 2),
    ],
)
def test_copy_put_budget(
    puts: list[datetime], now: datetime, expected_wait: float, kept: int
) -> None:
    wait, recent = budget_wait(puts, now, 3, timedelta(hours=1))
    assert wait == pytest.approx(expected_wait)
    assert len(recent) == kept


def test_keys_ignore_id_casing() -> None:
    rpc = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/restorePointCollections/C"
    assert pair_key(rpc, "westus") == pair_key(rpc.lower(), "westus")
    assert pair_key(rpc, "westus") != pair_key(rpc, "eastus")
    assert collection_key(rpc) == collection_key(rpc.upper())


def test_a_job_id_starts_with_its_pair_partition() -> None:
    """The ledger keeps a pair's jobs in one partition: job ids must carry the pair prefix."""
    from shared.model.ids import RestorePointId
    from shared.model.keys import job_id_for
    from shared.storage.ledger import partition_of

    rpc = (
        "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/RG"
        "/providers/Microsoft.Compute/restorePointCollections/C"
    )
    for name in ("rp1", "rp2", "RP3"):
        rp = RestorePointId.parse(f"{rpc}/restorePoints/{name}")
        for region in ("westus", "northeurope"):
            job = job_id_for(rp, region)
            assert len(job) == 32
            assert partition_of(job) == partition_of(pair_key(rpc, region))
    assert job_id_for(RestorePointId.parse(f"{rpc}/restorePoints/a"), "westus") != job_id_for(
        RestorePointId.parse(f"{rpc}/restorePoints/b"), "westus"
    )
