"""Restore drill records: one row per drill in the rules table (partition `drill`).

The row holds the whole record as JSON (`Body`) plus the columns queries filter on (`PairKey`,
`State`). Drill ids sort newest first (shared/model/drills.py), so reading the partition in key
order reads the newest drills first. Every change goes through the one ETag loop.

One drill runs per pair: a claim row per pair (partition `drill-claim`) names the pair's current
drill, and only an ETag-guarded write takes it over, so of two requests at the same moment one
starts the drill and the other answers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

from shared.errors import StoreConflict
from shared.model.drills import DrillRecord, DrillState
from shared.model.keys import pair_key
from shared.storage import etag
from shared.storage.etag import TableStore

PARTITION = "drill"
CLAIMS = "drill-claim"
# A claim whose drill row is not there yet: the claimer is between its two writes (wait for
# it), or crashed between them once the claim is this old (take the claim over). The grace is
# half of what one `start` can wait (MAX_ATTEMPTS waits), so a waiter takes a crashed claim over
# instead of giving up; a claimer's two writes are milliseconds apart.
_CLAIM_WAIT_SECONDS = 0.2
CLAIM_GRACE = timedelta(seconds=etag.MAX_ATTEMPTS * _CLAIM_WAIT_SECONDS / 2)


def _claimer_on_its_way(claim: dict[str, Any] | None, now: datetime) -> bool:
    """Is the claim young enough that its drill row may still be on its way?"""
    claimed_at = None if claim is None else claim.get("ClaimedAt")
    return isinstance(claimed_at, datetime) and now - claimed_at < CLAIM_GRACE


def to_entity(record: DrillRecord) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": record.id,
        "PairKey": pair_key(record.pair.source_collection_id, record.pair.target_region),
        "State": record.state.value,
        "Body": record.model_dump_json(by_alias=True),
    }


def from_entity(entity: dict[str, Any]) -> DrillRecord:
    return DrillRecord.model_validate_json(entity["Body"])


class DrillStore(TableStore):
    async def create(self, record: DrillRecord) -> tuple[DrillRecord, bool]:
        """Insert; (the stored record, False) when a drill with this id exists already."""
        await self.ensure_table()
        try:
            await self.table.create_entity(to_entity(record))
        except ResourceExistsError:
            existing = await self.get(record.id)
            assert existing is not None
            return existing, False
        return record, True

    async def start(
        self, record: DrillRecord, clock: Callable[[], datetime]
    ) -> tuple[DrillRecord, bool]:
        """Create the drill unless one runs for its pair: (the pair's running drill, False),
        or (the record, True) once this call holds the pair's claim and created it. A drill id
        made again (a scheduled slot's) answers the drill made under it the first time."""
        await self.ensure_table()
        key = pair_key(record.pair.source_collection_id, record.pair.target_region)
        for _ in range(etag.MAX_ATTEMPTS):
            claim, tag = await etag.read_entity(self.table, CLAIMS, key)
            claimed = None if claim is None else str(claim.get("DrillId"))
            if claimed is not None and claimed != record.id:
                current = await self.get(claimed)
                if current is not None and current.state is DrillState.RUNNING:
                    return current, False
                if current is None and _claimer_on_its_way(claim, clock()):
                    await asyncio.sleep(_CLAIM_WAIT_SECONDS)
                    continue
            if claimed != record.id:
                row = {"PartitionKey": CLAIMS, "RowKey": key, "DrillId": record.id}
                row["ClaimedAt"] = clock()
                try:
                    await etag.write_entity(self.table, row, tag)
                except (ResourceExistsError, ResourceModifiedError):
                    continue  # another request claimed the pair first: see what it started
            return await self.create(record)
        raise StoreConflict(f"the drill claim of pair {key} kept changing")

    async def get(self, drill_id: str) -> DrillRecord | None:
        await self.ensure_table()
        entity, _ = await etag.read_entity(self.table, PARTITION, drill_id)
        return None if entity is None else from_entity(entity)

    async def update(
        self, drill_id: str, decide: Callable[[DrillRecord], DrillRecord | None]
    ) -> tuple[DrillRecord | None, bool]:
        await self.ensure_table()

        async def read() -> tuple[DrillRecord | None, str | None]:
            entity, tag = await etag.read_entity(self.table, PARTITION, drill_id)
            return (None if entity is None else from_entity(entity)), tag

        async def write(record: DrillRecord, tag: str | None) -> None:
            await etag.write_entity(self.table, to_entity(record), tag)

        def guarded(current: DrillRecord | None) -> DrillRecord | None:
            return None if current is None else decide(current)

        return await etag.update(read, write, guarded, what=f"drill {drill_id}")

    async def list(
        self,
        *,
        limit: int = 50,
        state: DrillState | None = None,
        source_collection_id: str | None = None,
        target_region: str | None = None,
    ) -> list[DrillRecord]:
        """Newest first; filtered by state and/or pair (both parts of the pair, or neither)."""
        await self.ensure_table()
        query = "PartitionKey eq @pk"
        params: dict[str, Any] = {"pk": PARTITION}
        if state is not None:
            query += " and State eq @state"
            params["state"] = state.value
        if source_collection_id is not None and target_region is not None:
            query += " and PairKey eq @pair"
            params["pair"] = pair_key(source_collection_id, target_region)
        found: list[DrillRecord] = []
        async for entity in self.table.query_entities(
            query, parameters=params, results_per_page=min(limit, 1000)
        ):
            found.append(from_entity(entity))
            if len(found) >= limit:
                break
        return found
