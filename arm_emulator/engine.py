"""The emulator core: resources, long-running operations and their completion on the clock.

HTTP-free: `arm_routes` parses requests and renders replies; this module decides. Every entry point
first calls `settle()`, which completes the LROs whose simulated end has passed (and emits their
events), so state read lazily from the clock is always consistent.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import errors, ids, replication, rules, versions
from .clock import VirtualClock, format_arm, parse_time
from .config import EmulatorConfig
from .errors import ArmError
from .events import (
    ACTION_FAILURE,
    ACTION_SUCCESS,
    DELETE_FAILURE,
    DELETE_SUCCESS,
    WRITE_FAILURE,
    WRITE_SUCCESS,
    EventBus,
    RequestContext,
    claims_from_token,
)
from .faults import FaultInjector
from .formatting import (
    disk_body,
    drp_body,
    rg_body,
    rp_body,
    rpc_body,
    snapshot_access_state,
    subscription_body,
    vm_body,
)
from .ratelimits import RateLimitCounters
from .requestlog import RequestLog
from .store import (
    Disk,
    DiskRestorePoint,
    Operation,
    ResourceGroup,
    RestorePoint,
    RestorePointCollection,
    Store,
    Subscription,
    VirtualMachine,
)

MODES = {"crashconsistent": "CrashConsistent"}
ALL_MODES = {"crashconsistent", "applicationconsistent", "filesystemconsistent"}


@dataclass(slots=True)
class ArmRequest:
    """What an ARM handler needs from the HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    base_url: str
    api_version: str
    context: RequestContext
    body: Any = None  # parsed JSON (None when empty)


@dataclass(slots=True)
class Reply:
    status: int
    body: Any = None  # dict/list to serialise, bytes already serialised, or None
    headers: dict[str, str] = field(default_factory=dict)


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        start = parse_time(config.start_time) if config.start_time else None
        self.clock = VirtualClock(config.time_scale, start)
        self.faults = FaultInjector(config.seed)
        self.events = EventBus(
            config.tenant_id,
            list(config.webhook_retry_delays_real_seconds),
            config.webhook_timeout_real_seconds,
        )
        self.requests = RequestLog(config.request_log_limit)
        self.ratelimits = RateLimitCounters()
        self._rng = random.Random(f"guids:{config.seed}")
        self._heap: list[tuple[float, int, str]] = []
        self._heap_seq = 0
        self._wake: asyncio.Event | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.body_cache: dict[tuple[Any, ...], bytes] = {}
        self.store = Store()
        self.reset()

    # ---- lifecycle -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the start state: config seed, faults and webhooks re-applied; clock kept."""
        from .seeding import apply_seed  # local import: seeding builds on this module

        self.store = Store()
        self._heap.clear()
        self.body_cache.clear()
        self.faults.clear()
        self.events.subscriptions.clear()
        self.events.clear_log()
        self.requests.clear()
        self.ratelimits.clear()
        self._ensure_subscription(self.config.default_subscription_id)
        for spec in self.config.faults:
            self.faults.add(spec)
        for spec in self.config.webhooks:
            self.events.subscribe(spec)
        if self.config.seed_scenario:
            apply_seed(self, self.config.seed_scenario)

    def new_guid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def now(self) -> float:
        return self.clock.now()

    def ensure_background(self) -> None:
        """Start the ticker that completes LROs on time (lazily: needs a running loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._ticker is None or self._ticker.done():
            self._loop = loop
            self._wake = asyncio.Event()
            self._ticker = loop.create_task(self._tick())
        self.events.flush()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _tick(self) -> None:
        while True:
            self.settle()
            self.events.flush()
            wait = 1.0
            if self._heap:
                wait = min(wait, max(0.005, self.clock.real_seconds(self._heap[0][0] - self.now())))
            assert self._wake is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def aclose(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self.events.aclose()

    # ---- operations and settling ---------------------------------------------------------------

    def _start_operation(
        self,
        *,
        kind: str,
        subscription: str,
        region: str,
        resource_id: str,
        duration: float,
        api_version: str,
        context: RequestContext | None,
        operation_name: str,
        inject_faults: bool = True,
    ) -> Operation:
        now = self.now()
        op = Operation(
            id=self.new_guid(),
            p=self.new_guid(),
            subscription=subscription,
            region=region,
            kind=kind,
            resource_id=resource_id,
            start=now,
            end=now + max(0.0, duration),
            api_version=api_version,
            context=context,
        )
        failures = []
        if inject_faults:
            failures = self.faults.fire(
                operation_name,
                context.method if context else "PUT",
                resource_id,
                frozenset({"lro_failure"}),
            )
        if failures:
            rule = failures[0]
            op.fail_with = {
                "code": rule.params.get("code", _default_lro_error(kind)[0]),
                "message": rule.params.get("message", _default_lro_error(kind)[1]),
            }
        self.store.operations[op.id.lower()] = op
        self._heap_seq += 1
        heapq.heappush(self._heap, (op.end, self._heap_seq, op.id.lower()))
        self.wake()
        return op

    def settle(self) -> None:
        now = self.now()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, op_key = heapq.heappop(heap)
            op = self.store.operations.get(op_key)
            if op is not None and not op.done:
                self._complete(op)

    def _complete(self, op: Operation) -> None:
        failed = op.fail_with is not None
        op.end_time = op.end
        if failed:
            op.status = "Failed"
            op.error = dict(op.fail_with or {})
        else:
            op.status = "Succeeded"
        handler = getattr(self, f"_complete_{op.kind}")
        handler(op, failed)

    def _complete_rp_create(self, op: Operation, failed: bool) -> None:
        entry = self.store.rps.get(ids.key(op.resource_id))
        if entry is None:
            return
        entry.provisioning_state = "Failed" if failed else "Succeeded"
        if failed:
            entry.replication_start = None
        entry.touch()
        self._emit(
            WRITE_FAILURE if failed else WRITE_SUCCESS,
            op,
            f"{ids.RP_TYPE}/write",
            include_http_request=False,
        )

    def _complete_rp_delete(self, op: Operation, failed: bool) -> None:
        rp = self.store.rps.get(ids.key(op.resource_id))
        if rp is None:
            return
        if failed:
            rp.provisioning_state = op.detail.get("previous", "Succeeded")
            rp.delete_operation = None
            rp.touch()
        else:
            self.store.remove_rp(rp)
        self._emit(
            DELETE_FAILURE if failed else DELETE_SUCCESS,
            op,
            f"{ids.RP_TYPE}/delete",
            include_http_request=True,
        )

    def _complete_rpc_delete(self, op: Operation, failed: bool) -> None:
        rpc = self.store.rpcs.get(ids.key(op.resource_id))
        if rpc is None:
            return
        if failed:
            rpc.provisioning_state = "Succeeded"
            rpc.delete_operation = None
        else:
            self.store.remove_rpc(rpc)
        self._emit(
            DELETE_FAILURE if failed else DELETE_SUCCESS,
            op,
            f"{ids.RPC_TYPE}/delete",
            include_http_request=True,
        )

    def _complete_grant_access(self, op: Operation, failed: bool) -> None:
        found = self.store.drps.get(ids.key(op.resource_id))
        if found is not None:
            _, drp = found
            drp.access_pending = False
            if not failed:
                if drp.access_sas is None or drp.access_until is None or drp.access_until < op.end:
                    drp.access_sas = self._sas_url(op.detail["duration"], op.end)
                drp.access_until = op.end + op.detail["duration"]
                op.output = {"accessSAS": drp.access_sas}
        self._emit(
            ACTION_FAILURE if failed else ACTION_SUCCESS,
            op,
            f"{ids.DRP_TYPE}/beginGetAccess/action",
            include_http_request=True,
        )

    def _complete_revoke_access(self, op: Operation, failed: bool) -> None:
        found = self.store.drps.get(ids.key(op.resource_id))
        if found is not None and not failed:
            _, drp = found
            drp.access_sas = None
            drp.access_until = None
        self._emit(
            ACTION_FAILURE if failed else ACTION_SUCCESS,
            op,
            f"{ids.DRP_TYPE}/endGetAccess/action",
            include_http_request=True,
        )

    def _complete_disk_create(self, op: Operation, failed: bool) -> None:
        disk = self.store.disks.get(ids.key(op.resource_id))
        if disk is None:
            return
        disk.provisioning_state = "Failed" if failed else "Succeeded"
        disk.version += 1
        self._emit(
            WRITE_FAILURE if failed else WRITE_SUCCESS,
            op,
            f"{ids.DISK_TYPE}/write",
            include_http_request=False,
        )

    def _emit(
        self, event_type: str, op: Operation, operation: str, *, include_http_request: bool
    ) -> None:
        self.events.emit(
            event_type=event_type,
            subscription_id=op.subscription,
            resource_id=op.detail.get("subject", op.resource_id),
            operation=operation,
            status="Failed" if op.status == "Failed" else "Succeeded",
            context=op.context,
            sim_time=op.end,
            include_http_request=include_http_request,
        )

    def _sas_url(self, duration: float, start: float) -> str:
        account = f"md-{uuid.UUID(self.new_guid()).hex[:12]}"
        container = uuid.UUID(self.new_guid()).hex[:12]
        signature = uuid.UUID(self.new_guid()).hex
        start_s = format_arm(start)[:19] + "Z"
        end_s = format_arm(start + duration)[:19] + "Z"
        return (
            f"https://{account}.z1.blob.storage.azure.net/{container}/abcd?sv=2018-03-28&sr=b"
            f"&si={self.new_guid()}&sig={signature}&st={start_s}&se={end_s}&sp=r"
        )

    def lro_headers(
        self,
        op: Operation,
        base_url: str,
        *,
        async_op: bool = True,
        location: bool = True,
        retry_after: bool = True,
    ) -> dict[str, str]:
        path = ids.operation_path(op.subscription, op.region, op.id)
        url = f"{base_url}{path}?p={op.p}&api-version={op.api_version}"
        headers: dict[str, str] = {}
        if async_op:
            headers["Azure-AsyncOperation"] = url
        if location:
            headers["Location"] = url + "&monitor=true"
        if retry_after:
            headers["Retry-After"] = str(self.clock.retry_after(op.end - self.now()))
        return headers

    # ---- lookups -------------------------------------------------------------------------------

    def _ensure_subscription(self, sub_id: str, tenant: str | None = None) -> Subscription:
        sub = self.store.subscriptions.get(sub_id.lower())
        if sub is None:
            sub = Subscription(sub_id, tenant or self.config.tenant_id, f"Emulated {sub_id[:8]}")
            self.store.subscriptions[sub_id.lower()] = sub
        return sub

    def require_subscription(self, sub_id: str) -> Subscription:
        if not ids.GUID_RE.match(sub_id):
            raise errors.invalid_subscription(sub_id)
        sub = self.store.subscriptions.get(sub_id.lower())
        if sub is None:
            raise errors.subscription_not_found(sub_id)
        return sub

    def require_rg(self, sub_id: str, rg: str) -> ResourceGroup:
        self.require_subscription(sub_id)
        group = self.store.groups.get(ids.key(ids.rg_id(sub_id, rg)))
        if group is None:
            raise errors.resource_group_not_found(rg)
        return group

    def _rpc(self, route: ids.Route, *, as_parent: bool) -> RestorePointCollection:
        assert route.resource_group is not None
        assert route.name is not None
        self.require_rg(route.subscription, route.resource_group)
        rpc = self.store.rpcs.get(
            ids.key(ids.rpc_id(route.subscription, route.resource_group, route.name))
        )
        if rpc is None:
            if as_parent:
                raise errors.parent_not_found(ids.RPC_TYPE, route.name)
            raise errors.resource_not_found(ids.RPC_TYPE, route.name, route.resource_group)
        return rpc

    def _rp(self, route: ids.Route, *, as_parent: bool) -> RestorePoint:
        rpc = self._rpc(route, as_parent=True)
        assert route.rp is not None
        rp = rpc.restore_points.get(route.rp.lower())
        if rp is None:
            if as_parent:
                raise errors.parent_not_found(ids.RP_TYPE, f"{rpc.name}/{route.rp}")
            raise errors.resource_not_found(
                ids.RP_TYPE, f"{rpc.name}/{route.rp}", route.resource_group or ""
            )
        return rp

    def _drp(self, route: ids.Route) -> tuple[RestorePoint, DiskRestorePoint]:
        rp = self._rp(route, as_parent=True)
        assert route.drp is not None
        wanted = route.drp.lower()
        for drp in rp.disks:
            if drp.name.lower() == wanted:
                return rp, drp
        raise errors.resource_not_found(
            ids.DRP_TYPE, f"{rp.collection.name}/{rp.name}/{route.drp}", route.resource_group or ""
        )

    # ---- subscriptions and resource groups -----------------------------------------------------

    def get_subscription(self, route: ids.Route) -> Reply:
        return Reply(200, subscription_body(self.require_subscription(route.subscription)))

    def put_rg(self, route: ids.Route, req: ArmRequest) -> Reply:
        self.require_subscription(route.subscription)
        body = _object(req.body, "parameters")
        location = _location(body, ids.RG_TYPE)
        tags = _tags(body)
        assert route.resource_group is not None
        key = ids.key(ids.rg_id(route.subscription, route.resource_group))
        existing = self.store.groups.get(key)
        if existing is not None:
            if existing.location != location:
                raise ArmError(
                    409,
                    "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{location}'. The Resource group already "
                    f"exists in location '{existing.location}'.",
                )
            existing.tags = tags
            self._emit_now(
                WRITE_SUCCESS,
                existing.id,
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                req,
                True,
            )
            return Reply(200, rg_body(existing))
        group = ResourceGroup(
            ids.rg_id(route.subscription, route.resource_group),
            route.subscription,
            route.resource_group,
            location,
            tags,
            self.store.next_seq(),
        )
        self.store.groups[key] = group
        self._emit_now(
            WRITE_SUCCESS,
            group.id,
            "Microsoft.Resources/subscriptions/resourceGroups/write",
            req,
            False,
        )
        return Reply(201, rg_body(group))

    def get_rg(self, route: ids.Route) -> Reply:
        assert route.resource_group is not None
        return Reply(200, rg_body(self.require_rg(route.subscription, route.resource_group)))

    def _emit_now(
        self,
        event_type: str,
        resource_id: str,
        operation: str,
        req: ArmRequest | None,
        update: bool,
    ) -> None:
        self.events.emit(
            event_type=event_type,
            subscription_id=resource_id.split("/")[2],
            resource_id=resource_id,
            operation=operation,
            status="Succeeded",
            context=req.context if req else None,
            sim_time=self.now(),
            include_http_request=update,
        )

    # ---- virtual machines and disks ------------------------------------------------------------

    def get_vm(self, route: ids.Route) -> Reply:
        assert route.resource_group is not None
        assert route.name is not None
        self.require_rg(route.subscription, route.resource_group)
        vm = self.store.vms.get(
            ids.key(ids.vm_id(route.subscription, route.resource_group, route.name))
        )
        if vm is None:
            raise errors.resource_not_found(ids.VM_TYPE, route.name, route.resource_group)
        return Reply(200, vm_body(vm))

    def get_disk(self, route: ids.Route) -> Reply:
        assert route.resource_group is not None
        assert route.name is not None
        self.require_rg(route.subscription, route.resource_group)
        disk = self.store.disks.get(
            ids.key(ids.disk_id(route.subscription, route.resource_group, route.name))
        )
        if disk is None:
            raise errors.resource_not_found(ids.DISK_TYPE, route.name, route.resource_group)
        return Reply(200, disk_body(disk))

    def put_disk(self, route: ids.Route, req: ArmRequest) -> Reply:
        """Create a managed disk from a disk restore point (createOption Restore) or empty."""
        assert route.resource_group is not None
        assert route.name is not None
        self.require_rg(route.subscription, route.resource_group)
        body = _object(req.body, "disk")
        location = _location(body, ids.DISK_TYPE)
        tags = _tags(body)
        props = _object(body.get("properties"), "disk.properties", required=True)
        creation = _object(props.get("creationData"), "disk.properties.creationData", required=True)
        option = _string(creation.get("createOption"), "disk.properties.creationData.createOption")
        if option is None:
            raise errors.missing_parameter("disk.properties.creationData.createOption")
        sku_obj = _object(body.get("sku"), "disk.sku")
        sku = _string(sku_obj.get("name"), "disk.sku.name") if sku_obj else None
        size = props.get("diskSizeGB")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            raise errors.invalid_content(
                "Error converting value to type 'System.Int32'. Path 'properties.diskSizeGB'"
            )
        disk_key = ids.key(ids.disk_id(route.subscription, route.resource_group, route.name))
        existing = self.store.disks.get(disk_key)
        source_drp: tuple[RestorePoint, DiskRestorePoint] | None = None
        source_id: str | None = None
        if option.lower() == "restore":
            source_id = _string(
                creation.get("sourceResourceId"), "disk.properties.creationData.sourceResourceId"
            )
            if not source_id:
                raise errors.missing_parameter("disk.properties.creationData.sourceResourceId")
            parsed = ids.parse_resource_id(source_id)
            if parsed is None or parsed.kind != "drp":
                raise errors.invalid_linked_id(
                    source_id, "properties.creationData.sourceResourceId"
                )
            source_drp = self.store.drps.get(ids.key(source_id))
            if source_drp is None:
                raise errors.referenced_not_found(
                    source_id, "properties.creationData.sourceResourceId"
                )
            rp, drp = source_drp
            if rp.collection.location != location:
                # undocumented: chosen code
                raise errors.invalid_parameter(
                    f"The disk restore point '{source_id}' is in region "
                    f"'{rp.collection.location}'; a disk restored from it must be created in "
                    f"the same region, not '{location}'.",
                    target="location",
                )
            source_id = drp.id
        elif option.lower() == "empty":
            if size is None:
                raise errors.missing_parameter("disk.properties.diskSizeGB")
        else:
            raise errors.invalid_parameter(
                f"createOption '{option}' is not supported by the emulator; use 'Restore' (from a "
                "disk restore point) or 'Empty'.",
                target="properties.creationData.createOption",
            )
        if existing is not None:
            same = (existing.create_option.lower() == option.lower()) and (
                (existing.source_resource_id or "").lower() == (source_id or "").lower()
            )
            if existing.managed_by:
                raise rules.not_allowed(
                    409,
                    f"Disk '{existing.name}' is attached to '{existing.managed_by}' and cannot be "
                    "replaced.",
                )
            if not same:
                raise errors.property_change_not_allowed("creationData")
            existing.tags = tags if tags is not None else existing.tags
            return Reply(200, disk_body(existing))
        now = self.now()
        if source_drp is not None:
            _, drp = source_drp
            disk = Disk(
                id=ids.disk_id(route.subscription, route.resource_group, route.name),
                subscription=route.subscription,
                resource_group=route.resource_group,
                name=route.name,
                location=location,
                size_gb=max(size or 0, drp.size_gb),
                used_bytes=drp.used_bytes,
                sku=sku or drp.sku,
                os_type=drp.os_type,
                hyper_v_generation=drp.hyper_v_generation,
                unique_id=self.new_guid(),
                time_created=now,
                seq=self.store.next_seq(),
                create_option="Restore",
                source_resource_id=source_id,
                source_unique_id=drp.source_unique_id,
                provisioning_state="Updating",
                tags=tags,
                logical_sector_size=drp.logical_sector_size,
            )
        else:
            disk = Disk(
                id=ids.disk_id(route.subscription, route.resource_group, route.name),
                subscription=route.subscription,
                resource_group=route.resource_group,
                name=route.name,
                location=location,
                size_gb=int(size or 0),
                used_bytes=0,
                sku=sku or "Standard_LRS",
                os_type=None,
                hyper_v_generation="V1",
                unique_id=self.new_guid(),
                time_created=now,
                seq=self.store.next_seq(),
                provisioning_state="Updating",
                tags=tags,
            )
        self.store.disks[disk_key] = disk
        op = self._start_operation(
            kind="disk_create",
            subscription=route.subscription,
            region=location,
            resource_id=disk.id,
            duration=self.config.disk_create_seconds,
            api_version=req.api_version,
            context=req.context,
            operation_name="Disks_CreateOrUpdate",
        )
        return Reply(202, disk_body(disk), self.lro_headers(op, req.base_url))

    # ---- restore point collections -------------------------------------------------------------

    def put_rpc(self, route: ids.Route, req: ArmRequest) -> Reply:
        assert route.resource_group is not None
        assert route.name is not None
        self.require_rg(route.subscription, route.resource_group)
        body = _object(req.body, "restorePointCollection")
        location = _location(body, ids.RPC_TYPE)
        tags = _tags(body)
        props = _object(body.get("properties"), "restorePointCollection.properties")
        source = _object(props.get("source"), "restorePointCollection.properties.source")
        source_id = _string(source.get("id"), "restorePointCollection.properties.source.id")
        instant = props.get("instantAccess")
        if instant is not None and not isinstance(instant, bool):
            raise errors.invalid_content(
                "Could not convert to boolean. Path 'properties.instantAccess'"
            )
        if not versions.at_least(req.api_version, versions.INSTANT_ACCESS_MIN_VERSION):
            instant = None  # not part of older api-versions: ignored
        key = ids.key(ids.rpc_id(route.subscription, route.resource_group, route.name))
        existing = self.store.rpcs.get(key)
        if existing is not None:
            return self._update_rpc(existing, req, location, tags, source_id, instant)
        if not source_id:
            raise errors.missing_parameter("restorePointCollection.properties.source")
        parsed = ids.parse_resource_id(source_id)
        if parsed is None or parsed.kind not in ("vm", "rpc"):
            raise errors.invalid_linked_id(source_id, "properties.source.id")
        if parsed.kind == "vm":
            vm = self.store.vms.get(ids.key(source_id))
            if vm is None:
                raise errors.referenced_not_found(source_id, "properties.source.id")
            if vm.location != location:
                # undocumented: chosen code ("location must be the VM's region" [DOC])
                raise errors.invalid_parameter(
                    f"The restore point collection must be in the region of its source virtual "
                    f"machine '{vm.location}', not '{location}'.",
                    target="location",
                )
            stored_source, source_location, kind = vm.id, vm.location, "vm"
        else:
            src = self.store.rpcs.get(ids.key(source_id))
            if src is None:
                raise errors.referenced_not_found(source_id, "properties.source.id")
            if src.location == location:
                raise rules.not_allowed(
                    400,
                    "A restore point collection for cross-region copy must be in a different "
                    f"region than its source collection ('{src.location}'); same-region copy is "
                    "not supported.",
                    target="location",
                )
            if src.source_kind != "vm":
                raise rules.not_allowed(
                    400,
                    f"Source collection '{src.id}' is itself a cross-region copy target; "
                    "copy-of-copy is not supported.",
                    target="properties.source.id",
                )
            stored_source, source_location, kind = src.id, src.location, "rpc"
        rpc = RestorePointCollection(
            id=ids.rpc_id(route.subscription, route.resource_group, route.name),
            subscription=route.subscription,
            resource_group=route.resource_group,
            name=route.name,
            location=location,
            tags=tags,
            source_id=stored_source,
            source_kind=kind,
            source_location=source_location,
            rpc_guid=self.new_guid(),
            seq=self.store.next_seq(),
            instant_access=instant,
        )
        self.store.rpcs[key] = rpc
        self._emit_now(WRITE_SUCCESS, rpc.id, f"{ids.RPC_TYPE}/write", req, False)
        return Reply(201, rpc_body(rpc), self._rpc_ratelimit_headers())

    def _update_rpc(
        self,
        rpc: RestorePointCollection,
        req: ArmRequest,
        location: str,
        tags: dict[str, str] | None,
        source_id: str | None,
        instant: bool | None,
    ) -> Reply:
        if rpc.provisioning_state == "Deleting":
            raise rules.not_allowed(409, f"Restore point collection '{rpc.name}' is being deleted.")
        if location != rpc.location:
            raise errors.invalid_resource_location(
                rpc.name, rpc.location, location, rpc.resource_group
            )
        self._check_immutable(rpc, source_id, instant)
        rpc.tags = tags
        rpc.version += 1
        self._emit_now(WRITE_SUCCESS, rpc.id, f"{ids.RPC_TYPE}/write", req, True)
        return Reply(200, rpc_body(rpc), self._rpc_ratelimit_headers())

    @staticmethod
    def _check_immutable(
        rpc: RestorePointCollection, source_id: str | None, instant: bool | None
    ) -> None:
        # "Updating a restore point collection can change only tags" [SPEC text].
        if source_id is not None and ids.key(source_id) != rpc.source_key:
            raise errors.property_change_not_allowed("properties.source.id")
        if instant is not None and instant != bool(rpc.instant_access):
            raise errors.property_change_not_allowed("properties.instantAccess")

    def _rpc_ratelimit_headers(self) -> dict[str, str]:
        return {
            "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/"
            "PutRestorePointCollectionResource;14,"
            "Microsoft.Compute/PutRestorePointCollectionSubscriptionMaximum;149"
        }

    def patch_rpc(self, route: ids.Route, req: ArmRequest) -> Reply:
        rpc = self._rpc(route, as_parent=False)
        body = _object(req.body, "restorePointCollection")
        props = _object(body.get("properties"), "restorePointCollection.properties")
        source = _object(props.get("source"), "restorePointCollection.properties.source")
        source_id = _string(source.get("id"), "restorePointCollection.properties.source.id")
        instant = props.get("instantAccess")
        if instant is not None and not isinstance(instant, bool):
            raise errors.invalid_content(
                "Could not convert to boolean. Path 'properties.instantAccess'"
            )
        if "location" in body:
            location = _location(body, ids.RPC_TYPE)
            if location != rpc.location:
                raise errors.property_change_not_allowed("location")
        if rpc.provisioning_state == "Deleting":
            raise rules.not_allowed(409, f"Restore point collection '{rpc.name}' is being deleted.")
        self._check_immutable(rpc, source_id, instant)
        if "tags" in body:
            rpc.tags = _tags(body)
        rpc.version += 1
        self._emit_now(WRITE_SUCCESS, rpc.id, f"{ids.RPC_TYPE}/write", req, True)
        return Reply(200, rpc_body(rpc))

    def get_rpc(self, route: ids.Route, req: ArmRequest) -> Reply:
        rpc = self._rpc(route, as_parent=False)
        expand = req.query.get("$expand")
        if expand is not None and expand.lower() != "restorepoints":
            raise errors.invalid_parameter(
                f"The value '{expand}' of parameter '$expand' is not valid. Allowed values are "
                "'restorePoints'.",
                target="$expand",
            )
        return Reply(
            200,
            rpc_body(
                rpc,
                expand_rps=expand is not None,
                now=self.now(),
                cfg=self.config,
                api_version=req.api_version,
            ),
        )

    def list_rpcs(self, route: ids.Route, req: ArmRequest) -> Reply:
        if route.kind == "rpc_list":
            assert route.resource_group is not None
            group = self.require_rg(route.subscription, route.resource_group)
            prefix = group.id.lower() + "/"
            items = [r for r in self.store.rpcs.values() if r.id.lower().startswith(prefix)]
        else:
            self.require_subscription(route.subscription)
            prefix = f"/subscriptions/{route.subscription}/".lower()
            items = [r for r in self.store.rpcs.values() if r.id.lower().startswith(prefix)]
        items.sort(key=lambda r: r.seq)
        after = 0
        token = req.query.get("$skiptoken")
        if token is not None:
            if not token.isdigit():
                # undocumented: chosen code
                raise errors.invalid_parameter(
                    f"The provided $skiptoken '{token}' is invalid.", target="$skiptoken"
                )
            after = int(token)
        page_size = max(1, int(self.config.page_size))
        page = [r for r in items if r.seq > after][: page_size + 1]
        body: dict[str, Any] = {"value": [rpc_body(r) for r in page[:page_size]]}
        if len(page) > page_size:
            body["nextLink"] = (
                f"{req.base_url}{req.path}?api-version={req.api_version}"
                f"&$skiptoken={page[page_size - 1].seq}"
            )
        return Reply(200, body)

    def delete_rpc(self, route: ids.Route, req: ArmRequest) -> Reply:
        assert route.resource_group is not None
        assert route.name is not None
        self.require_rg(route.subscription, route.resource_group)
        rpc = self.store.rpcs.get(
            ids.key(ids.rpc_id(route.subscription, route.resource_group, route.name))
        )
        if rpc is None:
            return Reply(204)  # ARM DELETE is idempotent
        if rpc.delete_operation is not None and not rpc.delete_operation.done:
            return Reply(202, None, self.lro_headers(rpc.delete_operation, req.base_url))
        for rp in rpc.restore_points.values():
            self._check_deletable(rp)
        rpc.provisioning_state = "Deleting"
        rpc.version += 1
        op = self._start_operation(
            kind="rpc_delete",
            subscription=rpc.subscription,
            region=rpc.location,
            resource_id=rpc.id,
            duration=self.config.delete_seconds,
            api_version=req.api_version,
            context=req.context,
            operation_name="RestorePointCollections_Delete",
        )
        rpc.delete_operation = op
        return Reply(202, None, self.lro_headers(op, req.base_url))

    def _check_deletable(self, rp: RestorePoint) -> None:
        now = self.now()
        for drp in rp.disks:
            if drp.access_pending or (drp.access_until is not None and drp.access_until > now):
                raise ArmError(
                    409,
                    "DiskRestorePointUsedByCustomer",
                    f"Disk restore point '{drp.name}' of restore point '{rp.name}' is currently "
                    "being used through an active SAS. Call endGetAccess on the disk restore "
                    "point before deleting the restore point.",
                )
        if rp.provisioning_state == "Creating":
            raise rules.not_allowed(
                409,
                f"Restore point '{rp.name}' is still being created; retry the delete after the "
                "create operation completes.",
            )

    # ---- restore points ------------------------------------------------------------------------

    def put_rp(self, route: ids.Route, req: ArmRequest) -> Reply:
        rpc = self._rpc(route, as_parent=True)
        assert route.rp is not None
        body = _object(req.body, "restorePoint")
        props = _object(body.get("properties"), "restorePoint.properties")
        source_ref = _object(
            props.get("sourceRestorePoint"), "restorePoint.properties.sourceRestorePoint"
        )
        source_id = _string(source_ref.get("id"), "restorePoint.properties.sourceRestorePoint.id")
        excluded = _exclude_disks(props)
        mode_raw = _string(props.get("consistencyMode"), "restorePoint.properties.consistencyMode")
        minutes = props.get("instantAccessDurationMinutes")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            raise errors.invalid_content(
                "Could not convert to integer. Path 'properties.instantAccessDurationMinutes'"
            )
        inputs = rules.canonical_inputs(props)
        existing = rpc.restore_points.get(route.rp.lower())
        if existing is not None:
            return self._re_put_rp(existing, inputs, req)
        if rpc.provisioning_state == "Deleting":
            raise rules.not_allowed(409, f"Restore point collection '{rpc.name}' is being deleted.")
        if source_id is not None:
            if not versions.at_least(req.api_version, versions.COPY_MIN_VERSION):
                raise errors.copy_needs_newer_api()
            if excluded:
                raise rules.not_allowed(
                    400,
                    "Disks cannot be excluded while copying a restore point; exclude them when "
                    "the source restore point is created.",
                    target="properties.excludeDisks",
                )
            rp, op = self._create_copy(rpc, route.rp, source_id, inputs, req)
        else:
            rp, op = self.create_local_rp(
                rpc,
                route.rp,
                excluded=excluded,
                mode_raw=mode_raw,
                minutes=minutes,
                inputs=inputs,
                api_version=req.api_version,
                context=req.context,
            )
        headers = self.lro_headers(
            op,
            req.base_url,
            location=self.config.rp_put_location_header,
            retry_after=self.config.rp_put_location_header,
        )
        headers["Azure-AsyncNotification"] = "Enabled"
        headers.update(self._rp_ratelimit_headers(rpc, rp))
        return Reply(
            201, rp_body(rp, self.now(), self.config, api_version=req.api_version), headers
        )

    def _rp_ratelimit_headers(
        self, rpc: RestorePointCollection, rp: RestorePoint
    ) -> dict[str, str]:
        remaining = rules.remaining_copy_puts(rpc, self.now(), self.config) if rp.is_copy else 5
        return {
            "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/"
            f"PutRestorePointResource;{remaining},"
            "Microsoft.Compute/PutRestorePointSubscriptionMaximum;149"
        }

    def _re_put_rp(self, rp: RestorePoint, inputs: tuple[Any, ...], req: ArmRequest) -> Reply:
        """ARM PUTs are idempotent: the same body again returns the current state (201, the only
        status the spec allows for RestorePoints_Create) with the original operation's URL."""
        if rp.provisioning_state == "Deleting":
            raise rules.not_allowed(409, f"Restore point '{rp.name}' is being deleted.")
        if inputs != rp.inputs:
            # undocumented: chosen code; the message is the spec's text.
            raise ArmError(
                409,
                "OperationNotAllowed",
                "Updating properties of an existing restore point is not allowed",
            )
        headers: dict[str, str] = {}
        if rp.operation is not None:
            headers = self.lro_headers(
                rp.operation,
                req.base_url,
                location=self.config.rp_put_location_header,
                retry_after=False,
            )
            headers["Azure-AsyncNotification"] = "Enabled"
        return Reply(
            201, rp_body(rp, self.now(), self.config, api_version=req.api_version), headers
        )

    def create_local_rp(
        self,
        rpc: RestorePointCollection,
        name: str,
        *,
        excluded: list[str],
        mode_raw: str | None,
        minutes: int | None,
        inputs: tuple[Any, ...],
        api_version: str,
        context: RequestContext | None,
        changed: dict[str, int] | None = None,
        changed_fraction: float | None = None,
        hydration_seconds: float | None = None,
    ) -> tuple[RestorePoint, Operation]:
        """A restore point of the collection's source VM (the ARM PUT and the control plane)."""
        rules.check_local_target(rpc)
        vm = self.store.vms.get(rpc.source_key)
        if vm is None:
            raise errors.referenced_not_found(rpc.source_id, "properties.source.id")
        mode = _consistency_mode(vm, mode_raw, api_version)
        if minutes is not None and not 60 <= minutes <= 300:
            raise errors.invalid_parameter(
                "instantAccessDurationMinutes must be between 60 and 300.",
                target="properties.instantAccessDurationMinutes",
            )
        attached = vm.attached()
        by_key = {att.disk.id.lower(): att for att in attached}
        for disk_ref in excluded:
            if disk_ref.lower() not in by_key:
                raise errors.invalid_parameter(
                    f"Disk '{disk_ref}' in excludeDisks is not attached to virtual machine "
                    f"'{vm.name}'.",
                    target="properties.excludeDisks",
                )
        excluded_keys = {d.lower() for d in excluded}
        included = [att for att in attached if att.disk.id.lower() not in excluded_keys]
        rules.check_local_create(self.store, self.config, rpc, vm, included, mode)
        now = self.now()
        rp = self._snapshot(
            vm,
            rpc,
            name,
            now,
            mode,
            excluded,
            included,
            minutes,
            inputs,
            changed,
            changed_fraction,
            hydration_seconds,
        )
        op = self._start_operation(
            kind="rp_create",
            subscription=rpc.subscription,
            region=rpc.location,
            resource_id=rp.id,
            duration=self.config.local_create_seconds,
            api_version=api_version,
            context=context,
            operation_name="RestorePoints_Create",
        )
        rp.operation = op
        self.store.add_rp(rp)
        return rp, op

    def _snapshot(
        self,
        vm: VirtualMachine,
        rpc: RestorePointCollection,
        name: str,
        now: float,
        mode: str,
        excluded: list[str],
        included: list[Any],
        minutes: int | None,
        inputs: tuple[Any, ...],
        changed: dict[str, int] | None,
        changed_fraction: float | None,
        hydration_seconds: float | None,
        provisioning_state: str = "Creating",
    ) -> RestorePoint:
        """Record the VM's disks as of now: sizes, used bytes and the changed-bytes counters."""
        first = vm.rp_count == 0
        fraction = (
            self.config.default_changed_fraction if changed_fraction is None else changed_fraction
        )
        for att in vm.attached():
            key = att.disk.id.lower()
            if first:
                delta = att.disk.used_bytes
            elif changed is not None and key in changed:
                delta = changed[key]
            else:
                delta = round(att.disk.used_bytes * fraction)
            vm.changed_cum[key] = vm.changed_cum.get(key, 0) + max(0, int(delta))
        vm.rp_count += 1
        rp_id = ids.rp_id(rpc.id, name)
        disks = [
            DiskRestorePoint(
                id=ids.drp_id(rp_id, f"{att.disk.name}_{self.new_guid()}"),
                name="",
                disk_id=att.disk.id,
                disk_name=att.disk.name,
                lun=att.lun,
                os_type=att.disk.os_type if att.lun is None else None,
                size_gb=att.disk.size_gb,
                used_bytes=att.disk.used_bytes,
                sku=att.disk.sku,
                caching=att.caching,
                write_accelerator=att.write_accelerator,
                cum_changed=vm.changed_cum[att.disk.id.lower()],
                time_created=now,
                family_id=self.new_guid(),
                source_unique_id=att.disk.unique_id,
                hyper_v_generation=vm.hyper_v_generation,
                logical_sector_size=att.disk.logical_sector_size,
            )
            for att in included
        ]
        for drp in disks:
            drp.name = drp.id.rsplit("/", 1)[1]
        hydration = (
            self.config.instant_access_hydration_seconds
            if hydration_seconds is None
            else hydration_seconds
        )
        if minutes is None and rpc.instant_access:
            minutes = 300  # docs: default 300 minutes when instant access is on
        rp = RestorePoint(
            id=rp_id,
            name=name,
            collection=rpc,
            time_created=now,
            seq=self.store.next_seq(),
            consistency_mode=mode,
            exclude_disks=list(excluded),
            instant_access_minutes=minutes,
            provisioning_state=provisioning_state,
            metadata_base=vm.metadata_base,
            disks=disks,
            vm_key=vm.id.lower(),
            inputs=inputs,
            hydrated_at=now + (hydration if rpc.instant_access or hydration_seconds else 0.0),
        )
        return rp

    def _create_copy(
        self,
        target: RestorePointCollection,
        name: str,
        source_id: str,
        inputs: tuple[Any, ...],
        req: ArmRequest,
    ) -> tuple[RestorePoint, Operation]:
        parsed = ids.parse_resource_id(source_id)
        if parsed is None or parsed.kind != "rp":
            raise errors.invalid_linked_id(source_id, "properties.sourceRestorePoint.id")
        source = self.store.rps.get(ids.key(source_id))
        if source is None:
            raise errors.referenced_not_found(source_id, "properties.sourceRestorePoint.id")
        now = self.now()
        # Throttling sits in front of the copy rules; only PUTs that start a copy are counted.
        rules.copy_throttle(target, now, self.config, self.clock)
        rules.check_copy(self.store, self.config, now, target, source)
        rp, op = self.start_copy(
            target, name, source, inputs, req.api_version, req.context, req.method
        )
        target.copy_put_times.append(now)
        return rp, op

    def start_copy(
        self,
        target: RestorePointCollection,
        name: str,
        source: RestorePoint,
        inputs: tuple[Any, ...],
        api_version: str,
        context: RequestContext | None,
        method: str = "PUT",
        *,
        inject_faults: bool = True,
    ) -> tuple[RestorePoint, Operation]:
        now = self.now()
        to_copy = rules.incremental_bytes(self.store, target, source, now, self.config)
        rp_id = ids.rp_id(target.id, name)
        disks: list[DiskRestorePoint] = []
        for src in source.disks:
            drp_name = f"{src.disk_name}_{self.new_guid()}"
            nbytes = to_copy[src.id.lower()]
            disks.append(
                DiskRestorePoint(
                    id=ids.drp_id(rp_id, drp_name),
                    name=drp_name,
                    disk_id=src.disk_id,
                    disk_name=src.disk_name,
                    lun=src.lun,
                    os_type=src.os_type,
                    size_gb=src.size_gb,
                    used_bytes=src.used_bytes,
                    sku=src.sku,
                    caching=src.caching,
                    write_accelerator=src.write_accelerator,
                    cum_changed=src.cum_changed,
                    time_created=now,
                    family_id=src.family_id,
                    source_unique_id=src.source_unique_id,
                    hyper_v_generation=src.hyper_v_generation,
                    logical_sector_size=src.logical_sector_size,
                    source_drp_id=src.id,
                    source_location=source.collection.location,
                    bytes_to_copy=nbytes,
                    duration=replication.transfer_seconds(nbytes, self.config),
                )
            )
        rp = RestorePoint(
            id=rp_id,
            name=name,
            collection=target,
            time_created=source.time_created,  # the source's creation time [WIRE], §12.5
            seq=self.store.next_seq(),
            consistency_mode=source.consistency_mode,
            exclude_disks=[],
            instant_access_minutes=None,
            provisioning_state="Creating",
            metadata_base=source.metadata_base,
            disks=disks,
            vm_key=source.vm_key,
            inputs=inputs,
            source_rp_id=source.id,
            source_rpc_key=source.collection.id.lower(),
        )
        if inject_faults:
            for rule in self.faults.fire(
                "RestorePoints_Create", method, rp_id, frozenset({"replication_failure"})
            ):
                self._inject_replication_failure(rp, rule.params)
        op = self._start_operation(
            kind="rp_create",
            subscription=target.subscription,
            region=target.location,
            resource_id=rp.id,
            duration=self.config.copy_lro_seconds,
            api_version=api_version,
            context=context,
            operation_name="RestorePoints_Create",
            inject_faults=inject_faults,
        )
        rp.operation = op
        rp.replication_start = op.end
        self.store.add_rp(rp)
        return rp, op

    @staticmethod
    def _inject_replication_failure(rp: RestorePoint, params: dict[str, Any]) -> None:
        targets = rp.disks
        if "disk" in params:
            targets = [d for d in rp.disks if d.disk_name.lower() == str(params["disk"]).lower()]
        elif "lun" in params:
            targets = [d for d in rp.disks if d.lun == params["lun"]]
        elif params.get("os"):
            targets = [d for d in rp.disks if d.lun is None]
        else:
            targets = rp.disks[:1]
        for drp in targets:
            after = params.get("failAfterSeconds")
            drp.fail_after = float(after) if after is not None else drp.duration / 2

    def get_rp(self, route: ids.Route, req: ArmRequest) -> Reply:
        rp = self._rp(route, as_parent=False)
        expand = req.query.get("$expand")
        if expand is not None and expand.lower() != "instanceview":
            raise errors.invalid_parameter(
                f"The value '{expand}' of parameter '$expand' is not valid. Allowed values are "
                "'instanceView'.",
                target="$expand",
            )
        now = self.now()
        iv = expand is not None
        # The body depends on the api-version only at these two thresholds.
        api_bucket = (req.api_version >= "2025-04-01", req.api_version >= "2025-11-01")
        sig = _signature(rp, now, self.config)
        cache_key = (rp.id, rp.version, rp.provisioning_state, iv, api_bucket, sig)
        cached = self.body_cache.get(cache_key)
        if cached is None:
            body = rp_body(
                rp, now, self.config, expand_instance_view=iv, api_version=req.api_version
            )
            from .formatting import dumps

            cached = dumps(body, self.config.pretty_json)
            if len(self.body_cache) > 20000:
                self.body_cache.clear()
            self.body_cache[cache_key] = cached
        return Reply(200, cached)

    def delete_rp(self, route: ids.Route, req: ArmRequest) -> Reply:
        rpc = self._rpc(route, as_parent=True)
        assert route.rp is not None
        rp = rpc.restore_points.get(route.rp.lower())
        if rp is None:
            return Reply(204)
        if rp.delete_operation is not None and not rp.delete_operation.done:
            return Reply(202, None, self.lro_headers(rp.delete_operation, req.base_url))
        self._check_deletable(rp)
        op = self._start_operation(
            kind="rp_delete",
            subscription=rpc.subscription,
            region=rpc.location,
            resource_id=rp.id,
            duration=self.config.delete_seconds,
            api_version=req.api_version,
            context=req.context,
            operation_name="RestorePoints_Delete",
        )
        op.detail["previous"] = rp.provisioning_state
        rp.provisioning_state = "Deleting"
        rp.delete_operation = op
        rp.touch()
        return Reply(202, None, self.lro_headers(op, req.base_url))

    # ---- disk restore points -------------------------------------------------------------------

    def get_drp(self, route: ids.Route) -> Reply:
        rp, drp = self._drp(route)
        return Reply(200, drp_body(rp, drp, self.now(), self.config))

    def list_drps(self, route: ids.Route) -> Reply:
        rp = self._rp(route, as_parent=True)
        now = self.now()
        return Reply(200, {"value": [drp_body(rp, d, now, self.config) for d in rp.disks]})

    def drp_action(self, route: ids.Route, req: ArmRequest) -> Reply:
        rp, drp = self._drp(route)
        if route.action == "beginGetAccess":
            return self._grant_access(rp, drp, req)
        op = self._start_operation(
            kind="revoke_access",
            subscription=route.subscription,
            region=rp.collection.location,
            resource_id=drp.id,
            duration=self.config.revoke_access_seconds,
            api_version=req.api_version,
            context=req.context,
            operation_name="DiskRestorePoint_RevokeAccess",
        )
        return Reply(202, None, self.lro_headers(op, req.base_url, retry_after=False))

    def _grant_access(self, rp: RestorePoint, drp: DiskRestorePoint, req: ArmRequest) -> Reply:
        body = _object(req.body, "grantAccessData", required=True)
        access = _string(body.get("access"), "grantAccessData.access")
        if access is None:
            raise errors.missing_parameter("grantAccessData.access")
        duration = body.get("durationInSeconds")
        if duration is None:
            raise errors.missing_parameter("grantAccessData.durationInSeconds")
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise errors.invalid_content("Could not convert to integer. Path 'durationInSeconds'")
        if access.lower() not in ("none", "read", "write"):
            raise errors.invalid_parameter(
                f"The value '{access}' of parameter 'grantAccessData.access' is not valid. "
                "Allowed values are 'None', 'Read', 'Write'.",
                target="grantAccessData.access",
            )
        if access.lower() != "read" or duration <= 0:
            # undocumented: chosen code
            raise errors.invalid_parameter(
                "A disk restore point can only be exported with 'Read' access for a positive "
                "durationInSeconds.",
                target="grantAccessData",
            )
        now = self.now()
        ready = rp.provisioning_state == "Succeeded" and (
            not rp.is_copy
            or replication.view(rp, now, self.config).disks[rp.disks.index(drp)].state
            == replication.SUCCEEDED
        )
        if not ready:
            # undocumented: chosen code
            raise rules.not_allowed(
                409,
                f"Disk restore point '{drp.name}' is not ready for export: its restore point is "
                f"'{rp.provisioning_state}' or its replication has not succeeded.",
            )
        op = self._start_operation(
            kind="grant_access",
            subscription=rp.collection.subscription,
            region=rp.collection.location,
            resource_id=drp.id,
            duration=self.config.grant_access_seconds,
            api_version=req.api_version,
            context=req.context,
            operation_name="DiskRestorePoint_GrantAccess",
        )
        op.detail["duration"] = float(duration)
        drp.access_pending = True
        return Reply(202, None, self.lro_headers(op, req.base_url, retry_after=False))

    # ---- operation status ----------------------------------------------------------------------

    def get_operation(self, route: ids.Route, req: ArmRequest) -> Reply:
        from .formatting import operation_body

        assert route.name is not None
        assert route.location is not None
        self.require_subscription(route.subscription)
        op = self.store.operations.get(route.name.lower())
        if (
            op is None
            or op.subscription.lower() != route.subscription.lower()
            or op.region.lower() != route.location.lower()
        ):
            raise errors.operation_not_found(route.name)
        if req.query.get("monitor", "").lower() != "true":
            # Azure-AsyncOperation: always 200 with the status resource [RPC].
            return Reply(200, operation_body(op))
        # Location (monitor) semantics: 202 while running, then the final result.
        if not op.done:
            headers = {
                "Location": f"{req.base_url}{req.path}?p={op.p}&monitor=true"
                f"&api-version={op.api_version}",
                "Retry-After": str(self.clock.retry_after(op.end - self.now())),
            }
            return Reply(202, None, headers)
        if op.status == "Failed":
            error = op.error or {}
            return Reply(op.error_status, {"error": error})
        if op.kind == "grant_access":
            return Reply(200, op.output)
        if op.kind == "rp_create":
            rp = self.store.rps.get(ids.key(op.resource_id))
            if rp is not None:
                return Reply(200, rp_body(rp, self.now(), self.config, api_version=op.api_version))
        if op.kind == "disk_create":
            disk = self.store.disks.get(ids.key(op.resource_id))
            if disk is not None:
                return Reply(200, disk_body(disk))
        return Reply(200)

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
                if rp.is_copy:
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


def _signature(rp: RestorePoint, now: float, cfg: EmulatorConfig) -> object:
    from .formatting import instance_view_signature

    return instance_view_signature(rp, now, cfg)


def _default_lro_error(kind: str) -> tuple[str, str]:
    if kind == "rp_create":
        return (
            "VMRestorePointInternalError",
            "An internal error occurred while creating the restore point. Please retry.",
        )
    return ("InternalOperationError", "An internal error occurred while processing the operation.")


# ---- body parsing helpers (ARM-style errors for wrong shapes) ----------------------------------


def _object(value: Any, path: str, *, required: bool = False) -> dict[str, Any]:
    if value is None:
        if required:
            raise errors.missing_parameter(path)
        return {}
    if not isinstance(value, dict):
        raise errors.invalid_content(
            f"Error converting value to type 'object'. Path '{path.split('.', 1)[-1]}'"
        )
    return value


def _string(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.invalid_content(
            f"Error converting value {value!r} to type 'System.String'. Path "
            f"'{path.split('.', 1)[-1]}'"
        )
    return value


def _location(body: dict[str, Any], resource_type: str) -> str:
    raw = body.get("location")
    if raw is None or raw == "":
        raise errors.location_required()
    if not isinstance(raw, str):
        raise errors.invalid_content(
            "Error converting value to type 'System.String'. Path 'location'"
        )
    location = ids.normalize_region(raw)
    if location is None:
        raise errors.location_not_available(raw, resource_type)
    return location


def _tags(body: dict[str, Any]) -> dict[str, str] | None:
    tags = body.get("tags")
    if tags is None:
        return None
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise errors.invalid_content(
            "Error converting value to type 'System.Collections.Generic.Dictionary`2[System.String,"
            "System.String]'. Path 'tags'"
        )
    if len(tags) > 50:
        raise errors.invalid_parameter("A resource can have at most 50 tags.", target="tags")
    return dict(tags)


def _exclude_disks(props: dict[str, Any]) -> list[str]:
    raw = props.get("excludeDisks")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise errors.invalid_content(
            "Error converting value to type 'List`1'. Path 'properties.excludeDisks'"
        )
    out: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise errors.invalid_content(
                "Error converting value to type 'ApiEntityReference'. Path "
                f"'properties.excludeDisks[{i}]'"
            )
        value = item["id"]
        parsed = ids.parse_resource_id(value)
        if parsed is None or parsed.kind != "disk":
            raise errors.invalid_linked_id(value, f"properties.excludeDisks[{i}].id")
        out.append(value)
    return out


def _consistency_mode(vm: VirtualMachine, raw: str | None, api_version: str) -> str:
    if raw is None:
        # The default is application-consistent: Linux reports FileSystemConsistent [WIRE].
        return "FileSystemConsistent" if vm.os_type == "Linux" else "ApplicationConsistent"
    low = raw.lower()
    if low not in ALL_MODES:
        raise errors.invalid_parameter(
            f"The value '{raw}' of parameter 'consistencyMode' is not valid. Allowed values are "
            "'CrashConsistent', 'FileSystemConsistent', 'ApplicationConsistent'.",
            target="properties.consistencyMode",
        )
    if low not in MODES:
        # "Only CrashConsistent is accepted as an input" [SPEC]; omit it for the default.
        raise errors.invalid_parameter(
            f"consistencyMode '{raw}' cannot be requested: only 'CrashConsistent' is accepted as "
            "input; omit consistencyMode for an application-consistent restore point.",
            target="properties.consistencyMode",
        )
    if not versions.at_least(api_version, versions.CRASH_CONSISTENT_MIN_VERSION):
        raise errors.invalid_parameter(
            "consistencyMode 'CrashConsistent' requires api-version '2021-07-01' or newer.",
            target="properties.consistencyMode",
        )
    return MODES[low]
