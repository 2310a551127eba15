"""Part 3 of `make demo`: a restore drill of the copy Part 2 made (a separate step, so the demo's
other parts and its progress rendering stay as they are).

`POST /api/drills` for the pair, then `GET /api/drills/{id}` until it is done, one line per disk
as it is created, verified (the first MiB read through a SAS) and removed; then the event, and
the emulator's own disk list to show nothing was left behind.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Protocol

import httpx

from arm_emulator.control import EmulatorControl
from devstack.console import Console


class _Events(Protocol):
    def poll(self) -> list[dict[str, Any]]: ...


class Demo(Protocol):
    """What Part 3 uses of devstack.demo.Demo (a Protocol: no import circle)."""

    console: Console
    api: httpx.Client
    control: EmulatorControl
    events: _Events
    collection_id: str

    def get(self, path: str, **params: str) -> Any: ...


DRILL_REGION = "westus"
DRILL_TIMEOUT = 90.0


class DrillFailed(RuntimeError):
    pass


def _disk_line(disk: dict[str, Any]) -> str:
    steps = [
        ("created", disk.get("createSeconds")),
        ("verified", disk.get("verifySeconds")),
        ("removed", disk.get("cleanSeconds")),
    ]
    done = [disk["created"], disk["verified"], disk["cleaned"]]
    parts = [
        f"{name} ({seconds:.1f} s)" if ok and seconds is not None else (name if ok else "...")
        for (name, seconds), ok in zip(steps, done, strict=True)
    ]
    # The disk restore point is named {source disk}_{guid}: the source disk's name says enough.
    source = disk["diskRestorePointId"].rsplit("/", 1)[-1].rsplit("_", 1)[0]
    read = f", {disk['bytesRead'] // 1024} KiB read" if disk.get("bytesRead") else ""
    index = disk["name"].rsplit("-", 1)[-1]
    return f"  disk {index} from {source:<20} " + " -> ".join(parts) + read


def part3(demo: Demo) -> dict[str, Any]:
    c = demo.console
    c.heading("Part 3: a restore drill of the newest copy")
    body = {"sourceCollectionId": demo.collection_id, "targetRegion": DRILL_REGION}
    c.line("POST /api/drills")
    c.json(body, indent=4)
    response = demo.api.post("/api/drills", json=body)
    if response.status_code not in (200, 202):
        raise DrillFailed(f"POST /api/drills answered {response.status_code}: {response.text}")
    drill = response.json()
    location = response.headers["Location"]
    c.line(f"<- {response.status_code}   Location: {location}")
    c.line(f"Restoring {drill['restorePointId'].rsplit('/', 1)[-1]} in {DRILL_REGION}, disks in")
    c.line(f"  {drill['resourceGroup']} (tagged rpcopy-drill={drill['id']}):")
    shown: dict[str, str] = {}  # each disk's line, printed again only when it changes
    deadline = time.monotonic() + DRILL_TIMEOUT
    while True:
        drill = demo.get(location)
        for disk in drill["disks"]:
            line = _disk_line(disk)
            if shown.get(disk["name"]) != line:
                shown[disk["name"]] = line
                c.line(line)
        if drill["state"] != "Running":
            break
        if time.monotonic() > deadline:
            raise DrillFailed(f"the drill {drill['id']} did not finish in {DRILL_TIMEOUT:.0f} s")
        time.sleep(0.5)
    if drill["state"] != "Succeeded":
        raise DrillFailed(f"the drill {drill['id']} failed: {drill.get('reason')}")
    left = [d for d in demo.control.disks() if d["tags"].get("rpcopy-drill") == drill["id"]]
    c.line(f"Drill {drill['state']}; disks of this drill left in the emulator: {len(left)}")
    if left:
        raise DrillFailed(f"the drill left disks behind: {[d['name'] for d in left]}")
    event = _event(demo, drill["id"])
    c.line(f"Event from the 'copy-events' queue: {event['type']} (id {event['id']}),")
    subject = event["subject"].rsplit("/", 1)[-1]
    c.line(f"  data.disks: {len(event['data']['disks'])}, subject {subject}")
    pairs = demo.get("/api/protection")["pairs"]
    for pair in pairs:
        if pair["sourceCollectionId"].lower() == demo.collection_id.lower():
            c.line(f"  /api/protection {pair['targetRegion']:<12} drill: {pair['drill']['status']}")
    return drill


def _event(demo: Demo, drill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for event in demo.events.poll():
            if event.get("data", {}).get("drillId") == drill_id:
                return event
        time.sleep(0.5)
    raise DrillFailed(f"no drill event for {drill_id} within 30 s")


def summary_line(drill: dict[str, Any]) -> str:
    disks = drill["disks"]
    verified = sum(1 for d in disks if d["verified"])
    removed = sum(1 for d in disks if d["cleaned"])
    took = ""
    if drill.get("finishedAt") and drill.get("startedAt"):
        seconds = (
            datetime.fromisoformat(drill["finishedAt"]) - datetime.fromisoformat(drill["startedAt"])
        ).total_seconds()
        took = f" in {seconds:.0f} s"
    return (
        f"restore drill        {drill['restorePointId'].rsplit('/', 1)[-1]} in "
        f"{drill['pair']['targetRegion']}: {len(disks)} disks created, {verified} verified "
        f"(1 MiB read through a SAS each), {removed} removed; {drill['state']}{took}"
    )
