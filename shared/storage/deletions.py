"""The audit trail of retention: one row per target copy it deleted (the event says it too)."""

from __future__ import annotations

from datetime import datetime

from shared.model.keys import collection_key
from shared.model.times import iso
from shared.storage.etag import TableStore

PARTITION = "deletion"


class DeletionLog(TableStore):
    async def record_deletion(
        self,
        target_restore_point_id: str,
        source_restore_point_id: str | None,
        reason: str,
        deleted_at: datetime,
    ) -> None:
        """Keep a row per copy retention deleted (the audit trail behind the event)."""
        await self.ensure_table()
        await self.table.upsert_entity(
            {
                "PartitionKey": PARTITION,
                "RowKey": collection_key(target_restore_point_id),
                "TargetRestorePointId": target_restore_point_id,
                "SourceRestorePointId": source_restore_point_id or "",
                "Reason": reason,
                "DeletedAt": iso(deleted_at),
            }
        )
