"""Tag names the app writes on the resources it creates, and the tags of a target collection.

Azure's limits (tag-resources doc): at most 50 tags per resource, names up to 512 characters,
values up to 256. Restore points are proxy resources (no `tags` in the spec), so a copy's own
lineage lives in the ledger and in its `sourceRestorePoint.id`; the target collection carries the
lineage that outlives the source restore point: the source VM and the source collection.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.model.copy_options import CopyTags

# On every target collection the app creates; retention deletes only inside those.
MANAGED_TAG = "rpcopy-managed"

# -- lineage and copied tags (target collections) -------------------------------------------

MAX_TAGS = 50
MAX_TAG_VALUE = 256
# The source VM (the source collection's `properties.source.id`) and the source collection.
SOURCE_VM_TAG = "rpcopy-source-vm"
SOURCE_COLLECTION_TAG = "rpcopy-source-collection"
# A resource id can be longer than a tag value (a 90-character resource group and an 80-character
# name give ~270 characters): the rest goes to "<tag>-2". Two parts hold any ARM id.
_CONTINUATION = "-2"
# Tags the app writes: at most 1 + 2 + 2. Copied tags get the rest of the 50.
APP_TAG_ROOM = 5
COPY_TAG_ROOM = MAX_TAGS - APP_TAG_ROOM
# Copied tags never overwrite, or pose as, the app's own: every `rpcopy-` name is skipped.
APP_TAG_PREFIX = "rpcopy-"


def _split(name: str, value: str) -> dict[str, str]:
    if len(value) <= MAX_TAG_VALUE:
        return {name: value}
    return {name: value[:MAX_TAG_VALUE], name + _CONTINUATION: value[MAX_TAG_VALUE:]}


def lineage_tags(source_collection_id: str | None, source_vm_id: str | None) -> dict[str, str]:
    """The source collection (none for create-in-target: the VM is the source) and the VM."""
    tags = _split(SOURCE_COLLECTION_TAG, source_collection_id) if source_collection_id else {}
    if source_vm_id:
        tags.update(_split(SOURCE_VM_TAG, source_vm_id))
    return tags


def read_lineage(tags: Mapping[str, object], name: str) -> str | None:
    """A lineage id as written by `lineage_tags` (tag names are case-insensitive)."""
    lowered = {str(k).lower(): v for k, v in tags.items()}
    first = lowered.get(name)
    if not isinstance(first, str) or not first:
        return None
    rest = lowered.get(name + _CONTINUATION)
    return first + rest if isinstance(rest, str) else first


def copied_tags(source_tags: Mapping[str, object], wanted: CopyTags) -> dict[str, str]:
    """The source collection's tags to copy: none, "all" or the listed names (matched
    case-insensitively, as Azure does), never an `rpcopy-` tag, at most COPY_TAG_ROOM of them
    (by name: a source with 50 tags loses the last ones in name order, see docs/policies.md)."""
    by_name = {
        str(name).lower(): (str(name), value)
        for name, value in source_tags.items()
        if isinstance(value, str) and not str(name).lower().startswith(APP_TAG_PREFIX)
    }
    if wanted is None:
        return {}
    if wanted == "all":
        keys = sorted(by_name)
    else:
        keys = [w.lower() for w in wanted if w.lower() in by_name]
    return dict(by_name[key] for key in keys[:COPY_TAG_ROOM])


def target_collection_tags(
    source_collection_id: str | None,
    source_vm_id: str | None,
    copied: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every tag of a target collection: the copied ones, then the app's (which win)."""
    tags = dict(copied or {})
    tags.update(lineage_tags(source_collection_id, source_vm_id))
    tags[MANAGED_TAG] = "true"
    return tags


def tags_missing(wanted: Mapping[str, str], present: Mapping[str, object]) -> bool:
    """Does `present` lack any of `wanted` (names case-insensitive, values exact)?"""
    lowered = {str(k).lower(): v for k, v in present.items()}
    return any(lowered.get(name.lower()) != value for name, value in wanted.items())
