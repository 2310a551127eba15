"""The rows behind the copy rules: one per (source collection, target region) pair, holding the
copy in flight, the newest copied restore point and the RPO state last announced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from shared.model.keys import pair_key
from shared.model.times import from_iso, iso
from shared.rules.copy_rules import PairState
from shared.storage import etag
from shared.storage.etag import TableStore

PARTITION = "pair"


@dataclass(frozen=True)
class PairRecord:
    key: str
    source_collection_id: str
    target_region: str
    state: PairState
    # RPO tracking for the protection view: last state seen by the sweep and the copy it
    # was judged on, so each breach is announced once.
    rpo_state: str | None = None
    rpo_breach_announced_for: str | None = None

    def evolve(self, **changes: Any) -> PairRecord:
        return replace(self, **changes)

    def to_entity(self) -> dict[str, Any]:
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": self.key,
            "SourceCollectionId": self.source_collection_id,
            "SourceCollectionKey": self.source_collection_id.lower(),
            "TargetRegion": self.target_region,
            "ActiveJobId": self.state.active_job_id,
            "ActiveCreatedAt": iso(self.state.active_created_at),
            "Watermark": iso(self.state.watermark),
            "RpoState": self.rpo_state,
            "RpoBreachAnnouncedFor": self.rpo_breach_announced_for,
        }
        return {k: v for k, v in entity.items() if v is not None}

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> PairRecord:
        return cls(
            key=entity["RowKey"],
            source_collection_id=entity["SourceCollectionId"],
            target_region=entity["TargetRegion"],
            state=PairState(
                entity.get("ActiveJobId"),
                from_iso(entity.get("ActiveCreatedAt")),
                from_iso(entity.get("Watermark")),
            ),
            rpo_state=entity.get("RpoState"),
            rpo_breach_announced_for=entity.get("RpoBreachAnnouncedFor"),
        )


class PairStore(TableStore):
    async def _read(
        self, source_collection_id: str, target_region: str
    ) -> tuple[PairRecord, str | None]:
        await self.ensure_table()
        key = pair_key(source_collection_id, target_region)
        entity, tag = await etag.read_entity(self.table, PARTITION, key)
        if entity is None:
            return PairRecord(key, source_collection_id, target_region, PairState()), None
        return PairRecord.from_entity(entity), tag

    async def update_pair(
        self,
        source_collection_id: str,
        target_region: str,
        mutate: Callable[[PairRecord], PairRecord | None],
    ) -> tuple[PairRecord, bool]:
        """Read-modify-write under ETag (a new pair starts empty and is inserted)."""

        async def write(record: PairRecord, tag: str | None) -> None:
            await etag.write_entity(self.table, record.to_entity(), tag)

        stored, changed = await etag.update(
            lambda: self._read(source_collection_id, target_region),
            write,
            lambda current: mutate(current) if current is not None else None,
            what=f"pair {source_collection_id} -> {target_region}",
        )
        assert stored is not None  # _read never returns None
        return stored, changed
