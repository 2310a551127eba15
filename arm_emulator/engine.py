"""The emulator: shared state (`core.Core`) plus its lifecycle - reset to the configured start
state, and a background ticker that completes operations on time and delivers events.

HTTP-free: `arm_routes` maps ARM requests to the handler modules, `control_routes` serves
`/_emulator`. Every entry point first calls `settle()`, which completes the LROs whose simulated
end has passed (and emits their events), so state read lazily from the clock is consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from . import ids, replication
from .clock import format_arm
from .config import EmulatorConfig
from .core import Core
from .events import RequestContext, claims_from_token
from .rp_bodies import snapshot_access_state
from .seeding import apply_seed
from .store import RestorePointCollection


class Emulator(Core):
    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__(config)
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reset()

    # ---- lifecycle -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the start state: config seed, faults and webhooks re-applied; clock kept."""
        self.clear_state()
        for spec in self.config.faults:
            self.faults.add(spec)
        for spec in self.config.webhooks:
            self.events.subscribe(spec)
        if self.config.seed_scenario:
            apply_seed(self, self.config.seed_scenario)

    def ensure_background(self) -> None:
        """Start the ticker that completes LROs on time (lazily: needs a running loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._ticker is None or self._ticker.done():
            self._loop = loop
            self._wake = asyncio.Event()
            self._ticker = loop.create_task(self._tick())
        self.events.flush()

    async def _tick(self) -> None:
        while True:
            self.settle()
            self.events.flush()
            wait = 1.0
            due = self.ops.next_due()
            if due is not None:
                wait = min(wait, max(0.005, self.clock.real_seconds(due - self.now())))
            assert self._wake is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def aclose(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self.events.aclose()

    # ---- control-plane helpers -----------------------------------------------------------------

    def control_context(self) -> RequestContext:
        """The identity used for restore points made through the control plane (a schedule)."""
        claims, oid = claims_from_token("arm-emulator-backup-schedule", self.config.tenant_id)
        return RequestContext(
            method="PUT",
            url="",
            correlation_id=self.new_guid(),
            client_request_id=None,
            client_ip="127.0.0.1",
            claims=claims,
            principal_id=oid,
        )

    def find_rpc(self, ref: str) -> RestorePointCollection | None:
        return self.store.rpcs.get(ids.key(ref))

    def snapshot_state(self) -> dict[str, Any]:
        now = self.now()
        out: list[dict[str, Any]] = []
        for rpc in sorted(self.store.rpcs.values(), key=lambda r: r.seq):
            points = []
            for rp in rpc.restore_points.values():
                entry: dict[str, Any] = {
                    "id": rp.id,
                    "provisioningState": rp.provisioning_state,
                    "timeCreated": format_arm(rp.time_created),
                }
                if rp.replicates:
                    view = replication.view(rp, now, self.config)
                    entry["replication"] = view.overall
                    entry["disks"] = [
                        {
                            "name": d.name,
                            "bytesToCopy": d.bytes_to_copy,
                            "seconds": d.duration,
                            "state": p.state,
                            "percent": p.percent,
                        }
                        for d, p in zip(rp.disks, view.disks, strict=True)
                    ]
                else:
                    entry["snapshotAccessState"] = snapshot_access_state(rp, now)
                points.append(entry)
            out.append(
                {
                    "id": rpc.id,
                    "location": rpc.location,
                    "source": rpc.source_id,
                    "restorePoints": points,
                }
            )
        return {
            "virtualMachines": [vm.id for vm in self.store.vms.values()],
            "restorePointCollections": out,
        }
