"""shared/storage/schedules.py against Azurite: slot rows only move forward and a slot is
claimed once among concurrent hosts; creation records are claimed once and found again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from shared.storage.schedules import CreationRecord, CreationState, ScheduleKind
from tests.conftest import MakeServices

SRC = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg"
    "/providers/Microsoft.Compute/restorePointCollections/rpc1"
)
T0 = datetime(2026, 1, 1, 2, tzinfo=UTC)


async def test_a_slot_row_moves_forward_only_and_once_among_concurrent_writers(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    slots = services.slots
    assert slots is not None
    assert await slots.last_fired(ScheduleKind.COPY, "pair-1") is None
    results = await asyncio.gather(
        *(slots.advance(ScheduleKind.COPY, "pair-1", T0) for _ in range(8))
    )
    assert sorted(results) == [False] * 7 + [True]
    assert await slots.last_fired(ScheduleKind.COPY, "pair-1") == T0
    assert not await slots.advance(ScheduleKind.COPY, "pair-1", T0 - timedelta(hours=1))
    assert await slots.advance(ScheduleKind.COPY, "pair-1", T0 + timedelta(days=1))
    assert await slots.last_fired(ScheduleKind.COPY, "pair-1") == T0 + timedelta(days=1)
    # Kinds and keys are separate rows.
    assert await slots.last_fired(ScheduleKind.CREATE, "pair-1") is None


async def test_a_creation_is_claimed_once_and_updated_under_its_etag(
    make_services: MakeServices,
) -> None:
    services = await make_services()
    store = services.creations
    assert store is not None
    record = CreationRecord(
        collection_id=SRC,
        restore_point_name="rpcopy-20260101T020000Z",
        slot=T0,
        state=CreationState.PENDING,
        policy_name="p",
        requested_at=T0,
        updated_at=T0,
    )
    claims = await asyncio.gather(*(store.claim(record) for _ in range(4)))
    assert sorted(claims) == [False, False, False, True]
    assert await store.any_open()
    stored, changed = await store.update(
        SRC,
        record.restore_point_name,
        lambda r: r.evolve(state=CreationState.SUCCEEDED, attempts=1),
    )
    assert changed
    assert stored is not None
    assert stored.state is CreationState.SUCCEEDED
    # Succeeded but its copies not yet requested: still something to follow up.
    assert await store.any_open()
    await store.update(SRC, record.restore_point_name, lambda r: r.evolve(copies_requested=True))
    assert not await store.any_open()
    (found,) = await store.for_collection(SRC.upper())  # ids compare case-insensitively
    assert found == stored.evolve(copies_requested=True)
    assert found.restore_point_id == f"{SRC}/restorePoints/rpcopy-20260101T020000Z"
