"""What the app knows of Azure resources, read from ARM bodies by `shared.arm.bodies`.

Data only: the rules and policies decide on these values and never see an ARM body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.model.ids import CollectionId, id_key
from shared.model.message import DiskProgress


@dataclass(frozen=True)
class CollectionInfo:
    """What policy matching needs to know about a source collection."""

    id: CollectionId
    region: str
    tags: Mapping[str, str] = field(default_factory=dict)
    # True when properties.source.id names another collection: a cross-region copy target,
    # which is never a source (Azure refuses copy-of-copy).
    is_copy_target: bool = False
    # properties.source.id when it names a VM: the lineage every copy records.
    source_vm_id: str | None = None


@dataclass(frozen=True)
class RestorePointView:
    """One restore point as listed by `GET {collection}?$expand=restorePoints`."""

    id: str
    name: str
    created_at: datetime | None
    # properties.sourceRestorePoint.id: set means this restore point is a cross-region copy.
    source_restore_point_id: str | None = None
    provisioning_state: str | None = None

    @property
    def is_copy(self) -> bool:
        return self.source_restore_point_id is not None


@dataclass(frozen=True)
class TargetCollectionView:
    """The target restore point collection of a pair, as far as the decisions need it."""

    id: str
    exists: bool
    # Carries the tag rpcopy-managed=true: the app created it, so retention may delete in it.
    managed: bool
    # properties.source.id: the source collection this one is the copy target of.
    source_collection_id: str | None
    restore_points: tuple[RestorePointView, ...] = ()

    @classmethod
    def missing(cls, collection_id: str) -> TargetCollectionView:
        """The target collection does not exist yet (the ensure-target stage creates it)."""
        return cls(collection_id, exists=False, managed=False, source_collection_id=None)

    def copies_by_source(self) -> dict[str, RestorePointView]:
        """Copies in this collection keyed by their source restore point id (`id_key`)."""
        return {
            id_key(rp.source_restore_point_id): rp
            for rp in self.restore_points
            if rp.source_restore_point_id is not None
        }


@dataclass(frozen=True)
class StatusEntry:
    """One `instanceView.statuses[]` entry; a value that is not a string is None."""

    code: str | None
    level: str | None


@dataclass(frozen=True)
class InstanceView:
    """A target restore point read with `$expand=instanceView`."""

    provisioning_state: str | None
    disks: tuple[DiskProgress, ...] = ()
    statuses: tuple[StatusEntry, ...] = ()
