"""shared/storage/{etag,pairs,budget,deletions}.py against Azurite: rows under ETag concurrency.

Real Table storage, because what these modules promise (no lost update, no double reservation
among concurrent writers) only Azure Storage's ETag answers can prove.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceModifiedError

from shared.errors import StoreConflict
from shared.rules.copy_rules import PairState
from shared.storage import etag
from shared.storage.pairs import PairRecord
from tests.conftest import MakeServices

SRC = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg"
    "/providers/Microsoft.Compute/restorePointCollections/rpc1"
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_new_pair_starts_empty_and_is_inserted(make_services: MakeServices) -> None:
    services = await make_services()
    seen: list[PairRecord] = []

    def claim(pair: PairRecord) -> PairRecord:
        seen.append(pair)
        return pair.evolve(state=PairState("job-1", T0, None))

    stored, changed = await services.pairs.update_pair(SRC, "westus", claim)
    assert changed
    assert seen[0].state == PairState()
    assert stored.state.active_job_id == "job-1"
    again, changed = await services.pairs.update_pair(SRC, "westus", lambda p: None)
    assert (changed, again.state.active_job_id, again.state.active_created_at) == (
        False,
        "job-1",
        T0,
    )


async def test_concurrent_pair_updates_lose_nothing(make_services: MakeServices) -> None:
    """Twenty writers each add their mark; ETag retries make every one of them stick."""
    services = await make_services()

    def add(mark: str):
        def mutate(pair: PairRecord) -> PairRecord:
            marks = set(filter(None, (pair.rpo_state or "").split(",")))
            return pair.evolve(rpo_state=",".join(sorted(marks | {mark})))

        return mutate

    await asyncio.gather(
        *(services.pairs.update_pair(SRC, "westus", add(f"m{i:02}")) for i in range(20))
    )
    stored, _ = await services.pairs.update_pair(SRC, "westus", lambda p: None)
    assert (stored.rpo_state or "").split(",") == [f"m{i:02}" for i in range(20)]


async def test_budget_gives_out_exactly_the_limit_to_concurrent_callers(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    target = SRC.replace("rpc1", "rpc1-westus")
    window = timedelta(hours=1)
    waits = await asyncio.gather(
        *(services.budget.reserve_copy_put(target, T0, 3, window) for _ in range(8))
    )
    assert sorted(waits)[:3] == [0.0, 0.0, 0.0]
    assert all(w == pytest.approx(3600.0) for w in sorted(waits)[3:])
    # Once the window has passed, slots free up again.
    later = await services.budget.reserve_copy_put(target, T0 + window, 3, window)
    assert later == 0.0


async def test_deletions_are_recorded(make_services: MakeServices) -> None:
    services = await make_services()
    rp = f"{SRC}-westus/restorePoints/rp1"
    await services.deletions.record_deletion(rp, f"{SRC}/restorePoints/rp1", "keep-last 2", T0)
    rows = [r async for r in services.deletions.table.query_entities("PartitionKey eq 'deletion'")]
    assert [(r["TargetRestorePointId"], r["Reason"], r["DeletedAt"]) for r in rows] == [
        (rp, "keep-last 2", T0.isoformat())
    ]


async def test_the_etag_loop_gives_up_with_a_store_conflict() -> None:
    """A writer that always loses its race ends in StoreConflict (the host retries the call)."""
    from azure.core.exceptions import ResourceModifiedError

    writes = 0

    async def read() -> tuple[int, str]:
        return 1, "etag"

    async def write(value: int, tag: str | None) -> None:
        nonlocal writes
        writes += 1
        raise ResourceModifiedError("lost the race")

    with pytest.raises(StoreConflict, match="too many concurrent updates"):
        await etag.update(read, write, lambda v: (v or 0) + 1, what="row x")
    assert writes == etag.MAX_ATTEMPTS


async def test_a_pair_read_as_missing_is_inserted_without_reading_again(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    empty = await services.pairs.get(SRC, "eastus2")
    assert empty.state == PairState()
    reads: list[int] = []
    original = services.pairs._read

    async def counting_read(*args: object) -> tuple[PairRecord, str | None]:
        reads.append(1)
        return await original(*args)  # type: ignore[arg-type]

    services.pairs._read = counting_read  # type: ignore[method-assign]
    _, changed = await services.pairs.update_pair(
        SRC,
        "eastus2",
        lambda p: p.evolve(verified_target_collection_id=SRC + "-eastus2"),
    )
    assert changed
    assert reads == []  # the insert went out on what get() found
    again = await services.pairs.get(SRC, "eastus2")
    assert again.verified_target_collection_id == SRC + "-eastus2"


async def test_a_pair_remembered_missing_but_inserted_meanwhile_is_read_and_kept(
    make_services: MakeServices,
) -> None:
    """Another instance inserted the row after this one found it missing: the insert fails on
    the existing row, which is then read and updated, losing neither write."""
    services = await make_services()
    empty = await services.pairs.get(SRC, "eastus2")
    # Another instance's insert, straight to the table (this process does not see it).
    theirs = empty.evolve(verified_target_collection_id=SRC + "-eastus2")
    await etag.write_entity(services.pairs.table, theirs.to_entity(), None)
    stored, changed = await services.pairs.update_pair(
        SRC, "eastus2", lambda p: p.evolve(state=PairState("job-1", T0, None))
    )
    assert changed
    assert stored.verified_target_collection_id == SRC + "-eastus2"
    assert stored.state.active_job_id == "job-1"


async def test_an_inserted_row_is_updated_with_the_etag_of_its_insert(
    make_services: MakeServices,
) -> None:
    """Inserts ask for no content back: the ETag header alone must guard the next write."""
    services = await make_services()
    table = services.pairs.table
    await services.pairs.ensure_table()
    row = {"PartitionKey": "t", "RowKey": "r1", "Value": 1}
    tag = await etag.write_entity(table, row, None)
    assert tag
    new_tag = await etag.write_entity(table, {**row, "Value": 2}, tag)
    assert new_tag
    assert new_tag != tag
    with pytest.raises(ResourceModifiedError):
        await etag.write_entity(table, {**row, "Value": 3}, tag)
