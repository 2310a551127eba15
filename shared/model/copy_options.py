"""What a copy job carries beyond "this restore point to that region": where the target lives
(another subscription), how its disks are encrypted there, which tags it takes from the source
collection, and the lineage Azure does not keep (the source VM).

One value, carried unchanged by the ledger row and every stage message (`options`), so a new
option touches this module and its readers only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# "all": every tag of the source collection; a tuple: those names; None: no tags copied.
CopyTags = Literal["all"] | tuple[str, ...] | None

# "copy": a cross-region copy of a source restore point (the default). "create-in-target": a
# restore point created directly in the target region from the VM (arm-contract §14); the
# target collection's source is the VM, and there is no source restore point.
COPY = "copy"
CREATE_IN_TARGET = "create-in-target"
Mode = Literal["copy", "create-in-target"]


class CopyOptions(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    # None: the source's own subscription.
    target_subscription_id: str | None = None
    # A disk encryption set in the target region, sent for every disk of the copy.
    disk_encryption_set_id: str | None = None
    copy_tags: CopyTags = None
    # Lineage: the source collection's `properties.source.id` when it is a VM (read at intake).
    source_vm_id: str | None = None
    mode: Mode = COPY
    # create-in-target only: managed disk ids left out of the restore point (`excludeDisks`).
    exclude_disks: tuple[str, ...] = ()

    @property
    def creates_in_target(self) -> bool:
        return self.mode == CREATE_IN_TARGET

    def target_subscription(self, source_subscription_id: str) -> str:
        return self.target_subscription_id or source_subscription_id

    @property
    def is_default(self) -> bool:
        return self == NO_OPTIONS


NO_OPTIONS = CopyOptions()
