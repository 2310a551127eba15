"""Restore drills (not the resilience drills of `drills/`): a proof that a usable copy restores.

A restore drill takes the newest usable copy of a (source collection, target region) pair,
creates a managed disk from each of its disk restore points in a drill resource group, checks
each disk, reads the first MiB of each disk restore point through a read SAS, and deletes the
disks. One `DrillRecord` per drill, kept in the rules table (shared/storage/drills.py).

Drill ids sort newest first: 12 hex digits of (2^48 - 1 - epoch milliseconds), then 20 hex
digits of a hash, so a Table query of the partition reads the newest drills first.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from shared.errors import InvalidMessage, SettingsError
from shared.model.event_identity import EventIdentity
from shared.model.events import EventType, cloud_event
from shared.model.json_input import InvalidJson, load_json
from shared.model.message import queue_text
from shared.model.times import iso

DRILL_ID = re.compile(r"^[0-9a-f]{32}$")
# The tag every drill disk carries (value: the drill id); the sweep removes what it finds.
DRILL_TAG = "rpcopy-drill"
# How much of each disk restore point a drill reads through its SAS.
READ_BYTES = 1024 * 1024
_MAX_MS = (1 << 48) - 1


@dataclass(frozen=True)
class DrillSettings:
    """The app settings of restore drills (parsed in shared/settings.py): how often a drill
    looks at disks still being created (DRILL_POLL_SECONDS), and when a drill that made no
    progress is cleaned up and failed (DRILL_TIMEOUT_SECONDS)."""

    poll_seconds: float = 15.0
    timeout_seconds: float = 3600.0

    def __post_init__(self) -> None:
        # settings.py reads the numbers; the bounds that make a drill work are checked here.
        if self.poll_seconds < 0.01:
            raise SettingsError("setting DRILL_POLL_SECONDS must be at least 0.01")
        if self.timeout_seconds < 1:
            raise SettingsError("setting DRILL_TIMEOUT_SECONDS must be at least 1")


class DrillState(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class DrillPhase(StrEnum):
    """What the next drill message does: create the disks, wait for them, read the SAS,
    clean up (always the last phase, also after a failure), done."""

    CREATE = "create"
    WAIT = "wait"
    READ = "read"
    CLEANUP = "cleanup"
    DONE = "done"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class DrillPair(_Model):
    source_collection_id: str
    target_region: str
    target_collection_id: str | None = None
    policy: str | None = None


class DrillFailure(_Model):
    code: str
    message: str
    phase: DrillPhase | None = None


class DrillDisk(_Model):
    """One disk of a drill: restored from one disk restore point, checked, deleted."""

    name: str
    disk_id: str
    disk_restore_point_id: str
    source_disk_size_gb: int | None = None
    created: bool = False
    verified: bool = False
    cleaned: bool = False
    # beginGetAccess was called and endGetAccess not yet: cleanup must revoke it.
    access_open: bool = False
    create_requested_at: AwareDatetime | None = None
    created_at: AwareDatetime | None = None
    verified_at: AwareDatetime | None = None
    cleaned_at: AwareDatetime | None = None
    create_seconds: float | None = None
    verify_seconds: float | None = None
    clean_seconds: float | None = None
    bytes_read: int | None = None
    sha256: str | None = None
    problem: str | None = None


class OutboxItem(_Model):
    queue: str
    text: str
    delay: float = 0.0


class DrillRecord(_Model):
    id: str
    state: DrillState
    phase: DrillPhase
    pair: DrillPair
    trigger: str  # http | schedule
    subscription_id: str
    resource_group: str
    started_at: AwareDatetime
    updated_at: AwareDatetime
    restore_point_id: str | None = None
    source_restore_point_id: str | None = None
    copy_job_id: str | None = None
    finished_at: AwareDatetime | None = None
    reason: DrillFailure | None = None
    disks: tuple[DrillDisk, ...] = ()
    # The guard of the drill's queue messages, as a copy job's step is (see drill_runner).
    step: int = 0
    waits: int = 0
    outbox: tuple[OutboxItem, ...] = ()
    outbox_sent: bool = True

    @property
    def terminal(self) -> bool:
        return self.state is not DrillState.RUNNING

    def evolve(self, **changes: Any) -> DrillRecord:
        return self.model_copy(update=changes)

    def with_disk(self, index: int, **changes: Any) -> DrillRecord:
        disks = list(self.disks)
        disks[index] = disks[index].model_copy(update=changes)
        return self.evolve(disks=tuple(disks))


def new_drill_id(now: datetime, salt: str) -> str:
    inverted = _MAX_MS - int(now.timestamp() * 1000)
    return f"{inverted:012x}" + hashlib.sha256(salt.encode()).hexdigest()[:20]


def drill_disk_name(drill_id: str, index: int) -> str:
    return f"rpcopy-drill-{drill_id}-{index}"


def drill_view(record: DrillRecord) -> dict[str, Any]:
    """`GET /api/drills[/{id}]`: the record without its delivery bookkeeping."""
    body = _plain(
        record.model_dump(by_alias=True, exclude={"outbox", "outbox_sent", "step", "waits"})
    )
    body["location"] = f"/api/drills/{record.id}"
    return body


def _plain(value: Any) -> Any:
    """JSON values, with times written the one way the app writes them (`iso`)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- the drill queue's message ----------------------------------------------------------------


def encode_drill_message(drill_id: str, step: int) -> str:
    """The message text (the queue client base64-encodes it on the wire)."""
    return json.dumps({"version": 1, "drillId": drill_id, "step": step}, separators=(",", ":"))


def decode_drill_message(raw: str | bytes) -> tuple[str, int]:
    """(drill id, step); InvalidMessage (with the drill id where one is readable) otherwise."""
    text = queue_text(raw)
    try:
        document = load_json(text, what="message")
    except InvalidJson as exc:
        raise InvalidMessage(f"drill message is not JSON ({exc})", raw=text) from None
    drill_id = document.get("drillId") if isinstance(document, dict) else None
    step = document.get("step") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("version") != 1
        or not isinstance(drill_id, str)
        or not DRILL_ID.fullmatch(drill_id)
        or isinstance(step, bool)
        or not isinstance(step, int)
        or step < 0
        or set(document) - {"version", "drillId", "step"}
    ):
        raise InvalidMessage(
            "a drill message is {version: 1, drillId: <32 hex>, step: <int >= 0>}", raw=text
        )
    return drill_id, step


def drill_id_of(raw: str | bytes) -> str | None:
    """The drill id in a message that may not be valid otherwise (poison handling)."""
    try:
        document = json.loads(queue_text(raw))
    except (ValueError, InvalidMessage, ValidationError):
        return None
    value = document.get("drillId") if isinstance(document, dict) else None
    return value if isinstance(value, str) and DRILL_ID.fullmatch(value) else None


# -- events -------------------------------------------------------------------------------------


def drill_event(record: DrillRecord, *, identity: EventIdentity, time: datetime) -> dict[str, Any]:
    """`drill.succeeded` / `drill.failed` (schemas/events/drill.*.json). Subject: the source
    restore point whose copy was drilled (the README's subject rule)."""
    succeeded = record.state is DrillState.SUCCEEDED
    view = drill_view(record)
    data = {
        "drillId": record.id,
        "state": record.state.value,
        "pair": view["pair"],
        "restorePointId": record.restore_point_id,
        "sourceRestorePointId": record.source_restore_point_id,
        "startedAt": iso(record.started_at),
        "finishedAt": iso(record.finished_at),
        "disks": view["disks"],
    }
    if record.reason is not None:
        data["reason"] = view["reason"]
    return cloud_event(
        EventType.DRILL_SUCCEEDED if succeeded else EventType.DRILL_FAILED,
        identity=identity,
        subject=record.source_restore_point_id or record.pair.source_collection_id,
        time=time,
        data=data,
        id_parts=(record.id,),
    )
