"""Fault injection: deterministic (seeded) per-operation faults.

A rule (JSON):

    {"operation": "RestorePoints_Create" | "*",
     "kind": "http" | "delay" | "drop" | "lro_failure" | "replication_failure",
     # kind parameters
     "status": 429, "code": "...", "message": "...", "retryAfter": 5,   # http
     "body": {...},                  # http: replaces the body (e.g. a 200 with a bogus payload)
     "seconds": 2.5,                                                     # delay (REAL seconds)
     "phase": "before" | "after",                                        # drop (default before)
     "code"/"message",                                                   # lro_failure error
     "disk": "datadisk1" | "lun": 0 | "os": true, "failAfterSeconds": 900,  # replication_failure
     # when it fires (at most one of these; default: every matching request)
     "rate": 0.25 | "times": 2 | "nth": [1, 3],
     "match": {"pathContains": "...", "method": "PUT"}}

`nth` counts matching requests from 1. `rate` draws from a per-rule RNG seeded with (seed, rule
id), so the same seed and request sequence always fire the same faults.

A rule counts as `fired` only when it takes effect. Of the rules of one exclusive group that match
one request (`http` and `drop`: the request gets one answer; `lro_failure`: an operation fails
once), only the first, in the order the rules were added, fires; the others count the request as
matched, not fired (a `times` rule stays armed for the next one). A `replication_failure` rule
whose disk selector names no disk of the copy does not match that copy at all.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OPERATIONS: frozenset[str] = frozenset(
    {
        "RestorePointCollections_CreateOrUpdate",
        "RestorePointCollections_Get",
        "RestorePointCollections_List",
        "RestorePointCollections_ListAll",
        "RestorePointCollections_Update",
        "RestorePointCollections_Delete",
        "RestorePoints_Create",
        "RestorePoints_Get",
        "RestorePoints_Delete",
        "DiskRestorePoint_Get",
        "DiskRestorePoint_ListByRestorePoint",
        "DiskRestorePoint_GrantAccess",
        "DiskRestorePoint_RevokeAccess",
        "Disks_CreateOrUpdate",
        "Disks_Get",
        "DiskEncryptionSets_Get",
        "Disks_Delete",
        "Disks_ListByResourceGroup",
        # Not ARM: a read of a disk restore point's SAS URL (the emulator's /_sas/ blob route).
        "Sas_Read",
        "VirtualMachines_Get",
        "ResourceGroups_CreateOrUpdate",
        "ResourceGroups_Get",
        "Subscriptions_Get",
        "Operations_Get",
    }
)
KINDS = frozenset({"http", "delay", "drop", "lro_failure", "replication_failure"})
# Kinds that decide a request's one answer: at most one of them fires per request.
ANSWER_KINDS = frozenset({"http", "drop"})
# Operations that start an LRO (where lro_failure can apply).
LRO_OPERATIONS = frozenset(
    {
        "RestorePoints_Create",
        "RestorePoints_Delete",
        "RestorePointCollections_Delete",
        "DiskRestorePoint_GrantAccess",
        "DiskRestorePoint_RevokeAccess",
        "Disks_CreateOrUpdate",
        "Disks_Delete",
    }
)

DEFAULT_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    429: (
        "SubscriptionRequestsThrottled",
        "Number of requests for subscription exceeded the limit. Please try again after the "
        "time given in the Retry-After header.",
    ),
    500: (
        "InternalServerError",
        "Encountered internal server error. Diagnostic information: timestamp "
        "'{time}', subscription id '{sub}', tracking id '{tracking}', request correlation id "
        "'{correlation}'.",
    ),
    502: ("BadGateway", "The gateway did not receive a response from 'Microsoft.Compute'."),
    503: (
        "ServiceUnavailable",
        "The server (leased) is currently unable to handle the request due to a temporary "
        "overloading or maintenance of the server. Please retry later.",
    ),
    504: (
        "GatewayTimeout",
        "The gateway did not receive a response from 'Microsoft.Compute' "
        "within the specified time period.",
    ),
}


class FaultError(ValueError):
    """A fault rule that is malformed."""


@dataclass(slots=True)
class FaultRule:
    id: str
    operation: str
    kind: str
    params: dict[str, Any]
    rate: float | None = None
    times: int | None = None
    nth: frozenset[int] | None = None
    path_contains: str | None = None
    method: str | None = None
    matched: int = 0
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "operation": self.operation, "kind": self.kind}
        out.update(self.params)
        if self.rate is not None:
            out["rate"] = self.rate
        if self.times is not None:
            out["times"] = self.times
        if self.nth is not None:
            out["nth"] = sorted(self.nth)
        match: dict[str, str] = {}
        if self.path_contains is not None:
            match["pathContains"] = self.path_contains
        if self.method is not None:
            match["method"] = self.method
        if match:
            out["match"] = match
        out["matched"] = self.matched
        out["fired"] = self.fired
        out["exhausted"] = self.times is not None and self.fired >= self.times
        return out


_PARAMS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "http": {
        "status": int,
        "code": str,
        "message": str,
        "retryAfter": (int, float),
        "body": (dict, list, str, int, float),
    },
    "delay": {"seconds": (int, float)},
    "drop": {"phase": str},
    "lro_failure": {"code": str, "message": str},
    "replication_failure": {
        "disk": str,
        "lun": int,
        "os": bool,
        "failAfterSeconds": (int, float),
    },
}


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def clear(self) -> None:
        self.rules.clear()

    def add(self, spec: dict[str, Any]) -> FaultRule:
        rule = self.parse(spec)
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def parse(self, spec: dict[str, Any]) -> FaultRule:
        if not isinstance(spec, dict):
            raise FaultError("a fault rule must be a JSON object")
        allowed = {"id", "operation", "kind", "rate", "times", "nth", "match"}
        operation = spec.get("operation")
        kind = spec.get("kind")
        if operation != "*" and operation not in OPERATIONS:
            raise FaultError(
                f"unknown operation {operation!r}; use '*' or one of {sorted(OPERATIONS)}"
            )
        if kind not in KINDS:
            raise FaultError(f"unknown kind {kind!r}; use one of {sorted(KINDS)}")
        params: dict[str, Any] = {}
        for name, typ in _PARAMS[kind].items():
            allowed.add(name)
            if name in spec:
                value = spec[name]
                if isinstance(value, bool) and typ is not bool:
                    raise FaultError(f"{name} must be a number or string, not a boolean")
                if not isinstance(value, typ):
                    raise FaultError(f"{name} has the wrong type")
                params[name] = value
        unknown = set(spec) - allowed
        if unknown:
            raise FaultError(f"unknown field(s) for kind {kind!r}: {sorted(unknown)}")
        if kind == "http":
            status = params.get("status")
            if status is None or not 200 <= status <= 599:
                raise FaultError("kind 'http' needs a 'status' between 200 and 599")
        if kind == "delay" and not 0 <= params.get("seconds", -1) <= 300:
            raise FaultError("kind 'delay' needs 'seconds' between 0 and 300 (real seconds)")
        if kind == "drop" and params.get("phase", "before") not in ("before", "after"):
            raise FaultError("drop 'phase' is 'before' (request not processed) or 'after'")
        if kind == "lro_failure" and operation != "*" and operation not in LRO_OPERATIONS:
            raise FaultError(f"lro_failure applies to LRO operations: {sorted(LRO_OPERATIONS)}")
        if kind == "replication_failure":
            if operation not in ("RestorePoints_Create", "*"):
                raise FaultError("replication_failure applies to RestorePoints_Create")
            if sum(k in params for k in ("disk", "lun", "os")) > 1:
                raise FaultError("give at most one of 'disk', 'lun' or 'os'")
        selectors = [k for k in ("rate", "times", "nth") if k in spec]
        if len(selectors) > 1:
            raise FaultError("give at most one of 'rate', 'times' or 'nth'")
        rate = spec.get("rate")
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1
        ):
            raise FaultError("'rate' must be a number between 0 and 1")
        times = spec.get("times")
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 0
        ):
            raise FaultError("'times' must be a non-negative integer")
        nth_raw = spec.get("nth")
        nth: frozenset[int] | None = None
        if nth_raw is not None:
            if not isinstance(nth_raw, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in nth_raw
            ):
                raise FaultError("'nth' must be a list of integers >= 1")
            nth = frozenset(nth_raw)
        match = spec.get("match") or {}
        if not isinstance(match, dict) or set(match) - {"pathContains", "method"}:
            raise FaultError("'match' may contain 'pathContains' and 'method'")
        rule_id = str(spec.get("id") or f"fault-{next(self._ids)}")
        if any(r.id == rule_id for r in self.rules):
            raise FaultError(f"a fault with id {rule_id!r} already exists")
        return FaultRule(
            id=rule_id,
            operation=operation,
            kind=kind,
            params=params,
            rate=float(rate) if rate is not None else None,
            times=times,
            nth=nth,
            path_contains=match.get("pathContains"),
            method=match.get("method", "").upper() or None,
            rng=random.Random(f"{self.seed}:{rule_id}"),
        )

    def fire(
        self,
        operation: str,
        method: str,
        path: str,
        kinds: frozenset[str],
        *,
        exclusive: frozenset[str] = frozenset(),
        applies: Callable[[FaultRule], bool] | None = None,
    ) -> list[FaultRule]:
        """Rules of `kinds` that fire for this request (their counters advance).

        At most one rule of the kinds in `exclusive` fires (the first); `applies` can refuse a
        rule that matches the request but has nothing to act on (then it is not matched)."""
        if not self.rules:
            return []
        fired: list[FaultRule] = []
        exclusive_fired = False
        low_path = path.lower()
        for rule in self.rules:
            if rule.kind not in kinds:
                continue
            if rule.operation != "*" and rule.operation != operation:
                continue
            if rule.method is not None and rule.method != method:
                continue
            if rule.path_contains is not None and rule.path_contains.lower() not in low_path:
                continue
            if applies is not None and not applies(rule):
                continue
            rule.matched += 1
            if exclusive_fired and rule.kind in exclusive:
                continue  # pre-empted: this request already got its one effect of the group
            if rule.nth is not None:
                hit = rule.matched in rule.nth
            elif rule.times is not None:
                hit = rule.fired < rule.times
            elif rule.rate is not None:
                hit = rule.rng.random() < rule.rate
            else:
                hit = True
            if hit:
                rule.fired += 1
                fired.append(rule)
                exclusive_fired = exclusive_fired or rule.kind in exclusive
        return fired
