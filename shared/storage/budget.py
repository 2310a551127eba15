"""The copy-PUT budget of each target collection (Azure: 3 copy PUTs per hour per target
collection), kept as the times of the recent PUTs in one row per collection."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from shared.model.keys import collection_key
from shared.rules.copy_rules import budget_wait
from shared.storage import etag
from shared.storage.etag import TableStore

PARTITION = "budget"


class CopyBudget(TableStore):
    async def _read(self, key: str) -> tuple[list[datetime] | None, str | None]:
        entity, tag = await etag.read_entity(self.table, PARTITION, key)
        if entity is None:
            return None, None
        return [datetime.fromisoformat(t) for t in json.loads(entity.get("PutTimes", "[]"))], tag

    async def reserve_copy_put(
        self, target_collection_id: str, now: datetime, limit: int, window: timedelta
    ) -> float:
        """Take one copy-PUT slot of the target collection, or say how long to wait for one."""
        await self.ensure_table()
        key = collection_key(target_collection_id)

        def take(times: list[datetime] | None) -> list[datetime] | None:
            wait, recent = budget_wait(times or [], now, limit, window)
            return None if wait > 0 else [*recent, now]

        async def write(times: list[datetime], tag: str | None) -> None:
            row = {
                "PartitionKey": PARTITION,
                "RowKey": key,
                "TargetCollectionId": target_collection_id,
                "PutTimes": json.dumps([t.isoformat() for t in times]),
            }
            await etag.write_entity(self.table, row, tag)

        stored, taken = await etag.update(
            lambda: self._read(key), write, take, what=f"copy budget of {target_collection_id}"
        )
        if taken:
            return 0.0
        wait, _ = budget_wait(stored or [], now, limit, window)
        return wait
