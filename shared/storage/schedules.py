"""The rows behind schedules, on the rules table: the last slot each (pair or collection,
schedule) acted on, and one record per restore point the app creates.

Slot rows only move forward (ETag-guarded), so two hosts that act on the same slot leave one
record of it and a slot is never acted on twice. A creation record is inserted *before* its
restore point is created: the insert is the claim (a second host loses with a conflict), and
its row is the proof that the app created that restore point, which is all source retention
will ever delete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from azure.core.exceptions import ResourceExistsError

from shared.model.keys import collection_key
from shared.model.times import from_iso, iso
from shared.storage import etag
from shared.storage.etag import TableStore

SLOT_PARTITION = "schedule-slot"
CREATION_PARTITION_PREFIX = "creation-"


class ScheduleKind(StrEnum):
    COPY = "copy"
    CREATE = "create"
    # The schedule timer's own last tick that did work (only to skip idle ticks cheaply).
    TIMER = "timer"


class SlotStore(TableStore):
    """The last slot acted on per (kind, key): a pair key for copies, a collection key for
    creation."""

    async def last_fired(self, kind: ScheduleKind, key: str) -> datetime | None:
        await self.ensure_table()
        entity, _ = await etag.read_entity(self.table, SLOT_PARTITION, f"{kind.value}-{key}")
        return from_iso(entity.get("LastSlot")) if entity else None

    async def advance(self, kind: ScheduleKind, key: str, slot: datetime) -> bool:
        """Record `slot` as acted on unless a later (or the same) one already is."""
        await self.ensure_table()
        row = f"{kind.value}-{key}"

        async def read() -> tuple[dict[str, Any] | None, str | None]:
            return await etag.read_entity(self.table, SLOT_PARTITION, row)

        def decide(current: dict[str, Any] | None) -> dict[str, Any] | None:
            last = from_iso(current.get("LastSlot")) if current else None
            if last is not None and last >= slot:
                return None
            return {"PartitionKey": SLOT_PARTITION, "RowKey": row, "LastSlot": iso(slot)}

        async def write(entity: dict[str, Any], tag: str | None) -> None:
            await etag.write_entity(self.table, entity, tag)

        _, changed = await etag.update(read, write, decide, what=f"schedule slot {row}")
        return changed


class CreationState(StrEnum):
    # Claimed for a slot; the PUT has not been accepted yet (or is being retried).
    PENDING = "Pending"
    CREATING = "Creating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    # Deleted by source retention.
    DELETED = "Deleted"

    @property
    def open(self) -> bool:
        return self in (CreationState.PENDING, CreationState.CREATING)


@dataclass(frozen=True)
class CreationRecord:
    """A restore point the app creates (or tried to) at one slot of a collection's schedule."""

    collection_id: str
    restore_point_name: str
    slot: datetime
    state: CreationState
    policy_name: str
    requested_at: datetime
    updated_at: datetime
    attempts: int = 0
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    code: str | None = None
    reason: str | None = None
    copies_requested: bool = False

    @property
    def restore_point_id(self) -> str:
        return f"{self.collection_id}/restorePoints/{self.restore_point_name}"

    def evolve(self, **changes: Any) -> CreationRecord:
        return replace(self, **changes)

    def to_entity(self) -> dict[str, Any]:
        entity = {
            "PartitionKey": CREATION_PARTITION_PREFIX + collection_key(self.collection_id),
            "RowKey": self.restore_point_name,
            "CollectionId": self.collection_id,
            "Slot": iso(self.slot),
            "State": self.state.value,
            "PolicyName": self.policy_name,
            "RequestedAt": iso(self.requested_at),
            "UpdatedAt": iso(self.updated_at),
            "Attempts": self.attempts,
            "NextAttemptAt": iso(self.next_attempt_at),
            "CreatedAt": iso(self.created_at),
            "Code": self.code,
            "Reason": self.reason,
            "CopiesRequested": self.copies_requested,
        }
        return {k: v for k, v in entity.items() if v is not None}

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> CreationRecord:
        def when(name: str) -> datetime:
            value = from_iso(entity.get(name))
            assert value is not None, name
            return value

        return cls(
            collection_id=str(entity["CollectionId"]),
            restore_point_name=str(entity["RowKey"]),
            slot=when("Slot"),
            state=CreationState(entity["State"]),
            policy_name=str(entity.get("PolicyName", "")),
            requested_at=when("RequestedAt"),
            updated_at=when("UpdatedAt"),
            attempts=int(entity.get("Attempts", 0)),
            next_attempt_at=from_iso(entity.get("NextAttemptAt")),
            created_at=from_iso(entity.get("CreatedAt")),
            code=entity.get("Code"),
            reason=entity.get("Reason"),
            copies_requested=bool(entity.get("CopiesRequested", False)),
        )

    def to_api(self) -> dict[str, Any]:
        body = {
            "restorePointId": self.restore_point_id,
            "slot": iso(self.slot),
            "state": self.state.value,
            "policy": self.policy_name,
            "attempts": self.attempts,
            "nextAttemptAt": iso(self.next_attempt_at),
            "createdAt": iso(self.created_at),
            "code": self.code,
            "reason": self.reason,
            "updatedAt": iso(self.updated_at),
        }
        return {k: v for k, v in body.items() if v is not None}


class CreationStore(TableStore):
    async def claim(self, record: CreationRecord) -> bool:
        """Insert the record; False when another host (or an earlier run) has this slot."""
        await self.ensure_table()
        try:
            await self.table.create_entity(record.to_entity())
        except ResourceExistsError:
            return False
        return True

    async def update(
        self,
        collection_id: str,
        name: str,
        mutate: Callable[[CreationRecord], CreationRecord | None],
    ) -> tuple[CreationRecord | None, bool]:
        await self.ensure_table()
        partition = CREATION_PARTITION_PREFIX + collection_key(collection_id)

        async def read() -> tuple[CreationRecord | None, str | None]:
            entity, tag = await etag.read_entity(self.table, partition, name)
            return (CreationRecord.from_entity(entity) if entity else None), tag

        async def write(record: CreationRecord, tag: str | None) -> None:
            await etag.write_entity(self.table, record.to_entity(), tag)

        return await etag.update(
            read,
            write,
            lambda current: mutate(current) if current is not None else None,
            what=f"creation record {name}",
        )

    async def for_collection(self, collection_id: str) -> list[CreationRecord]:
        await self.ensure_table()
        partition = CREATION_PARTITION_PREFIX + collection_key(collection_id)
        return [
            CreationRecord.from_entity(dict(e))
            async for e in self.table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": partition}
            )
        ]

    async def any_open(self) -> bool:
        """Is any creation still to follow up (open, or succeeded without its copies)?"""
        await self.ensure_table()
        query = (
            "PartitionKey ge @lo and PartitionKey lt @hi and (State eq 'Pending' or "
            "State eq 'Creating' or (State eq 'Succeeded' and CopiesRequested eq false))"
        )
        params = {"lo": CREATION_PARTITION_PREFIX, "hi": CREATION_PARTITION_PREFIX[:-1] + "."}
        async for _ in self.table.query_entities(query, parameters=params, results_per_page=1):
            return True
        return False
