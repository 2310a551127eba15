"""Long-running operations: starting them, completing them on the simulated clock, their headers
and the operation status resource (`Operations_Get`).

An operation ends at a fixed simulated time. `settle()` completes every operation whose end has
passed, applies its effect (one entry of `COMPLETIONS` per kind) and emits its Event Grid event;
every request settles first, so state read from the clock is always consistent.
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from . import errors, ids, lookups, versions
from .clock import VirtualClock, format_arm
from .config import EmulatorConfig
from .events import (
    ACTION_FAILURE,
    ACTION_SUCCESS,
    DELETE_FAILURE,
    DELETE_SUCCESS,
    WRITE_FAILURE,
    WRITE_SUCCESS,
    EventBus,
    RequestContext,
)
from .faults import FaultInjector
from .formatting import disk_body, operation_body
from .rp_bodies import rp_body
from .store import Operation, RestorePoint, Store
from .wire import ArmRequest, Reply

INTERNAL_ERROR = (
    "InternalOperationError",
    "An internal error occurred while processing the operation.",
)
RP_CREATE_ERROR = (
    "VMRestorePointInternalError",
    "An internal error occurred while creating the restore point. Please retry.",
)
WRITE = (WRITE_SUCCESS, WRITE_FAILURE)
DELETE = (DELETE_SUCCESS, DELETE_FAILURE)
ACTION = (ACTION_SUCCESS, ACTION_FAILURE)


@dataclass(frozen=True, slots=True)
class Completion:
    """What ending an operation of one kind does."""

    operation_id: str  # the ARM operation that starts it (what faults match)
    events: tuple[str, str]  # (success, failure) event types
    operation: str  # the event's operationName
    http_request: bool  # events carry httpRequest only for updates, deletes and actions
    # Applies the outcome; False when the resource is gone (then no event is sent).
    apply: Callable[[Scheduler, Operation, bool], bool]
    error: tuple[str, str] = INTERNAL_ERROR  # the default error of an injected lro_failure


def _rp_created(s: Scheduler, op: Operation, failed: bool) -> bool:
    rp = s.store.rps.get(ids.key(op.resource_id))
    if rp is None:
        return False
    rp.provisioning_state = "Failed" if failed else "Succeeded"
    if failed:
        rp.replication_start = None
    rp.touch()
    return True


def _rp_deleted(s: Scheduler, op: Operation, failed: bool) -> bool:
    rp = s.store.rps.get(ids.key(op.resource_id))
    if rp is None:
        return False
    if failed:
        rp.provisioning_state = op.detail.get("previous", "Succeeded")
        rp.delete_operation = None
        rp.touch()
    else:
        s.store.remove_rp(rp)
    return True


def _rpc_deleted(s: Scheduler, op: Operation, failed: bool) -> bool:
    rpc = s.store.rpcs.get(ids.key(op.resource_id))
    if rpc is None:
        return False
    if failed:
        rpc.provisioning_state = "Succeeded"
        rpc.delete_operation = None
    else:
        s.store.remove_rpc(rpc)
    return True


def _access_granted(s: Scheduler, op: Operation, failed: bool) -> bool:
    found = s.store.drps.get(ids.key(op.resource_id))
    if found is not None:
        _, drp = found
        drp.access_pending = False
        if not failed:
            if drp.access_sas is None or drp.access_until is None or drp.access_until < op.end:
                drp.access_sas = s.sas_url(
                    op.detail["duration"], op.end, op.detail.get("base_url", ""), drp.id
                )
            drp.access_until = op.end + op.detail["duration"]
            op.output = {"accessSAS": drp.access_sas}
    return True  # the action happened (and is reported) even if the restore point went away


def _access_revoked(s: Scheduler, op: Operation, failed: bool) -> bool:
    found = s.store.drps.get(ids.key(op.resource_id))
    if found is not None and not failed:
        _, drp = found
        drp.access_sas = None
        drp.access_until = None
    return True


def _disk_created(s: Scheduler, op: Operation, failed: bool) -> bool:
    disk = s.store.disks.get(ids.key(op.resource_id))
    if disk is None:
        return False
    disk.provisioning_state = "Failed" if failed else "Succeeded"
    disk.version += 1
    if not failed:
        op.output = disk_body(disk)  # the final status carries the disk [WIRE]
    return True


def _disk_deleted(s: Scheduler, op: Operation, failed: bool) -> bool:
    disk = s.store.disks.get(ids.key(op.resource_id))
    if disk is None:
        return False
    if failed:
        disk.provisioning_state = "Succeeded"
    else:
        s.store.disks.pop(ids.key(op.resource_id), None)
    return True


COMPLETIONS: dict[str, Completion] = {
    "rp_create": Completion(
        "RestorePoints_Create", WRITE, f"{ids.RP_TYPE}/write", False, _rp_created, RP_CREATE_ERROR
    ),
    "rp_delete": Completion(
        "RestorePoints_Delete", DELETE, f"{ids.RP_TYPE}/delete", True, _rp_deleted
    ),
    "rpc_delete": Completion(
        "RestorePointCollections_Delete", DELETE, f"{ids.RPC_TYPE}/delete", True, _rpc_deleted
    ),
    "grant_access": Completion(
        "DiskRestorePoint_GrantAccess",
        ACTION,
        f"{ids.DRP_TYPE}/beginGetAccess/action",
        True,
        _access_granted,
    ),
    "revoke_access": Completion(
        "DiskRestorePoint_RevokeAccess",
        ACTION,
        f"{ids.DRP_TYPE}/endGetAccess/action",
        True,
        _access_revoked,
    ),
    "disk_create": Completion(
        "Disks_CreateOrUpdate", WRITE, f"{ids.DISK_TYPE}/write", False, _disk_created
    ),
    "disk_delete": Completion(
        "Disks_Delete", DELETE, f"{ids.DISK_TYPE}/delete", True, _disk_deleted
    ),
}


class Scheduler:
    """The operations in flight, ordered by their simulated end."""

    def __init__(
        self,
        config: EmulatorConfig,
        clock: VirtualClock,
        store: Store,
        faults: FaultInjector,
        events: EventBus,
        new_guid: Callable[[], str],
        wake: Callable[[], None],
    ) -> None:
        self.config = config
        self.clock = clock
        self.store = store
        self.faults = faults
        self.events = events
        self.new_guid = new_guid
        self._wake = wake
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0

    def clear(self) -> None:
        self._heap.clear()

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def start(
        self,
        kind: str,
        resource_id: str,
        *,
        subscription: str,
        region: str,
        duration: float,
        api_version: str,
        context: RequestContext | None,
        fail_with: dict[str, str] | None = None,
    ) -> Operation:
        """Start an operation of `kind` (a key of COMPLETIONS) that ends `duration` simulated
        seconds from now; an `lro_failure` fault on its ARM operation makes it end Failed, and
        so does `fail_with` (an error decided when it was accepted)."""
        op = self._new(kind, resource_id, subscription, region, duration, api_version, context)
        op.fail_with = fail_with
        method = context.method if context else "PUT"
        completion = COMPLETIONS[kind]
        lro_failure = frozenset({"lro_failure"})
        fired = []
        if fail_with is None:
            fired = self.faults.fire(
                completion.operation_id, method, resource_id, lro_failure, exclusive=lro_failure
            )
        if fired:
            code, message = completion.error
            op.fail_with = {
                "code": fired[0].params.get("code", code),
                "message": fired[0].params.get("message", message),
            }
        self._seq += 1
        heapq.heappush(self._heap, (op.end, self._seq, op.id.lower()))
        self._wake()
        return op

    def start_rp_create(
        self,
        rp: RestorePoint,
        duration: float,
        api_version: str,
        context: RequestContext | None,
        fail_with: dict[str, str] | None = None,
    ) -> Operation:
        """Store a new restore point and start its create operation."""
        op = self.start(
            "rp_create",
            rp.id,
            subscription=rp.collection.subscription,
            region=rp.collection.location,
            duration=duration,
            api_version=api_version,
            context=context,
            fail_with=fail_with,
        )
        rp.operation = op
        self.store.add_rp(rp)
        return op

    def record_done(
        self, kind: str, resource_id: str, *, subscription: str, region: str
    ) -> Operation:
        """An operation that already succeeded (a seeded resource's create): no effect, no
        event, but its status URL answers."""
        op = self._new(
            kind, resource_id, subscription, region, 0.0, versions.APP_COMPUTE_VERSION, None
        )
        op.status, op.end_time = "Succeeded", op.end
        return op

    def _new(
        self,
        kind: str,
        resource_id: str,
        subscription: str,
        region: str,
        duration: float,
        api_version: str,
        context: RequestContext | None,
    ) -> Operation:
        now = self.clock.now()
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
        self.store.operations[op.id.lower()] = op
        return op

    def settle(self) -> None:
        now = self.clock.now()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, op_key = heapq.heappop(heap)
            op = self.store.operations.get(op_key)
            if op is not None and not op.done:
                self._complete(op)

    def _complete(self, op: Operation) -> None:
        failed = op.fail_with is not None
        op.end_time = op.end
        op.status = "Failed" if failed else "Succeeded"
        if failed:
            op.error = dict(op.fail_with or {})
        completion = COMPLETIONS[op.kind]
        if not completion.apply(self, op, failed):
            return
        self.events.emit(
            event_type=completion.events[1 if failed else 0],
            subscription_id=op.subscription,
            resource_id=op.resource_id,
            operation=completion.operation,
            status="Failed" if failed else "Succeeded",
            context=op.context,
            sim_time=op.end,
            include_http_request=completion.http_request,
        )

    def headers(
        self,
        op: Operation,
        base_url: str,
        *,
        async_op: bool = True,
        location: bool = True,
        retry_after: bool = True,
    ) -> dict[str, str]:
        segment = "DiskOperations" if op.kind in ("disk_create", "disk_delete") else "operations"
        path = ids.operation_path(op.subscription, op.region, op.id, segment)
        url = f"{base_url}{path}?p={op.p}&api-version={op.api_version}"
        headers: dict[str, str] = {}
        if async_op:
            headers["Azure-AsyncOperation"] = url
        if location:
            headers["Location"] = url + "&monitor=true"
        if retry_after:
            headers["Retry-After"] = str(self.clock.retry_after(op.end - self.clock.now()))
        return headers

    def sas_url(self, duration: float, start: float, base_url: str, drp_id: str) -> str:
        """A read SAS served by the emulator itself (`/_sas/...`, see sas.py): its host is the
        emulator's, never an ARM path, and it carries a signature like a blob SAS does."""
        token = uuid.UUID(self.new_guid()).hex
        signature = uuid.UUID(self.new_guid()).hex
        self.store.sas_tokens[token] = (drp_id, signature)
        start_s = format_arm(start)[:19] + "Z"
        end_s = format_arm(start + duration)[:19] + "Z"
        return (
            f"{base_url}/_sas/{token}/abcd?sv=2018-03-28&sr=b"
            f"&si={self.new_guid()}&sig={signature}&st={start_s}&se={end_s}&sp=r"
        )

    # ---- Operations_Get ------------------------------------------------------------------------

    def status(self, route: ids.Route, req: ArmRequest) -> Reply:
        assert route.name is not None
        assert route.location is not None
        lookups.require_subscription(self.store, route.subscription)
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
                "Retry-After": str(self.clock.retry_after(op.end - self.clock.now())),
            }
            return Reply(202, None, headers)
        if op.status == "Failed":
            return Reply(op.error_status, {"error": op.error or {}})
        if op.kind in ("grant_access", "disk_create") and op.output is not None:
            return Reply(200, op.output)
        if op.kind == "rp_create":
            rp = self.store.rps.get(ids.key(op.resource_id))
            if rp is not None:
                body = rp_body(rp, self.clock.now(), self.config, api_version=op.api_version)
                return Reply(200, body)
        if op.kind == "disk_create":
            disk = self.store.disks.get(ids.key(op.resource_id))
            if disk is not None:
                return Reply(200, disk_body(disk))
        return Reply(200)
