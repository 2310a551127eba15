"""Emulator settings: one dataclass, loadable from JSON or a dict (camelCase or snake_case)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001"
DEFAULT_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


LEVELS = frozenset({"Info", "Warning", "Error"})
# The settings that take one of a few values (the variants; see variants.py).
CHOICES: dict[str, frozenset[str]] = {
    "copy_rule_refusal": frozenset({"put", "operation"}),
    "replication_in_progress_level": LEVELS,
    "replication_failed_level": LEVELS,
    "failed_copy_provisioning_state": frozenset({"Succeeded", "Failed"}),
    "repeated_restore_point_put": frozenset({"201", "200", "409"}),
    "throttle_body": frozenset({"wrapped", "bare"}),
    "cross_region_creation": frozenset({"refuse", "allow", "copy-rules"}),
    "copy_encryption": frozenset({"honour", "platform-key"}),
    "progress_phase": frozenset({"aligned", "random"}),
    "restore_point_source_location": frozenset({"present", "absent"}),
    # A disk restored from a disk restore point whose copy has not replicated: the docs say
    # Azure does not check (the caller must); "refuse" makes a caller that forgets fail loudly.
    "unreplicated_restore": frozenset({"refuse", "allow"}),
}


@dataclass
class EmulatorConfig:
    """Every knob of the emulator. Durations are SIMULATED seconds unless the name says `real`."""

    # Virtual clock: simulated seconds per real second (0 = frozen; only /_emulator/clock/advance
    # moves it). `start_time` is an ISO timestamp; default: the real UTC time at start.
    time_scale: float = 1.0
    start_time: str | None = None
    seed: int = 0
    # Strict auth: when set, only `Authorization: Bearer <token>` with this token is accepted.
    token: str | None = None
    # The actions each bearer token holds, as `GET .../Microsoft.Authorization/permissions`
    # answers them ("*" for any token not listed). The same set at every scope.
    permissions: dict[str, list[str]] = field(default_factory=lambda: {"*": ["*"]})
    default_subscription_id: str = DEFAULT_SUBSCRIPTION_ID
    tenant_id: str = DEFAULT_TENANT_ID
    # ARM region stamped into x-ms-routing-request-id.
    arm_region: str = "EASTUS"
    # Overrides the base URL used in Location / Azure-AsyncOperation / nextLink (default: the
    # scheme+host+port the client used).
    public_base_url: str | None = None
    pretty_json: bool = True  # Compute pretty-prints with CRLF and 2-space indentation [WIRE]
    page_size: int = 50
    # The newest spec (2025-11-01) declares Location + Retry-After on the RP PUT; the real service
    # (2023-07-01) sent only Azure-AsyncOperation. Off = behave like the wire recording.
    rp_put_location_header: bool = False
    # LRO durations (simulated seconds). Recorded: copy ~6 s, a local (application- or
    # file-system-consistent) create ~35 s, a crash-consistent create ~3 minutes.
    copy_lro_seconds: float = 6.0
    local_create_seconds: float = 35.0
    crash_consistent_create_seconds: float = 180.0
    delete_seconds: float = 10.0
    grant_access_seconds: float = 2.0
    revoke_access_seconds: float = 2.0
    disk_create_seconds: float = 10.0
    disk_delete_seconds: float = 5.0
    # Replication model.
    replication_bandwidth_mbps: float = 10.0  # MiB/s per disk
    progress_interval_seconds: float = 600.0  # completionPercent is republished this often
    # When the publishes fall: "aligned" = every interval from the copy's start (the first
    # reading, which no client can count on); "random" = a per-copy phase drawn from `seed`.
    # Jitter moves each publish by up to +/- this many seconds (seeded; below half an interval).
    progress_phase: str = "aligned"
    progress_jitter_seconds: float = 0.0
    max_copy_seconds: float = 14 * 24 * 3600.0  # copies still running after this are terminated
    default_changed_fraction: float = 0.05  # changed bytes per RP when the caller gives none
    # Copy rules and limits.
    copy_puts_per_hour: int = 3  # per target RPC, sliding window in simulated time
    copy_throttle_window_seconds: float = 3600.0
    max_restore_points_per_vm: int = 500
    ultra_app_consistent_supported: bool = (
        True  # newest docs: Ultra/PremiumV2 ok unless crash-consistent
    )
    instant_access_hydration_seconds: float = (
        0.0  # time a new RP stays in snapshotAccessState InstantAccess
    )
    # Variants for what Azure does not document (docs/emulator.md, `variants.py`); the defaults
    # are the emulator's first reading. A copy-rule refusal: "put" = 400/409 at the PUT,
    # "operation" = 201 and the copy's operation fails with the refusal's error.
    copy_rule_refusal: str = "put"
    # Replication status codes while running and after a failure (only the succeeded one is
    # documented), and a failed copy's provisioningState: "Succeeded" (it only meant
    # "initiated") or "Failed".
    replication_in_progress_code: str = "ReplicationState/inProgress"
    replication_in_progress_level: str = "Info"
    replication_failed_code: str = "ReplicationState/failed"
    replication_failed_level: str = "Error"
    failed_copy_provisioning_state: str = "Succeeded"
    # A repeated PUT of an existing restore point with the same body: "201" (the spec's only
    # status), "200", or "409" (refused).
    repeated_restore_point_put: str = "201"
    # sourceMetadata.location of a restore point: "present" (as on the wire) or "absent" (the
    # field is read-only and the spec does not promise it).
    restore_point_source_location: str = "present"
    # The Compute 429 body: "wrapped" in {"error": ...} (ARM's canonical shape) or "bare" (as
    # the Compute throttling doc shows it).
    throttle_body: str = "wrapped"
    # Cross-region creation (a collection in another region whose source is a VM, arm-contract
    # §14): "refuse" (400), "allow" (no copy rules), "copy-rules" (one in flight per collection
    # and the copy PUT budget apply).
    cross_region_creation: str = "refuse"
    # A copy PUT naming a disk encryption set per disk (`sourceMetadata.storageProfile...
    # diskRestorePoint.encryption`, writable in the spec, undocumented on copies, arm-contract
    # §10): "honour" (the set must exist and be in the target region; the copy is encrypted with
    # it) or "platform-key" (accepted unchecked, copied as PMK, as the 2025 overview says).
    copy_encryption: str = "honour"
    unreplicated_restore: str = "refuse"
    # ARM's subscription throttling (token buckets per subscription and ARM region, REAL time,
    # capacity and refill per second [DOC §6]). Off: the remaining tokens are reported, nothing is
    # refused. On: an empty bucket answers 429 SubscriptionRequestsThrottled + Retry-After.
    arm_throttling: bool = False
    arm_read_bucket: float = 250.0
    arm_read_refill: float = 25.0
    arm_write_bucket: float = 200.0
    arm_write_refill: float = 10.0
    arm_delete_bucket: float = 200.0
    arm_delete_refill: float = 10.0
    # Event Grid delivery (REAL seconds).
    webhook_timeout_real_seconds: float = 5.0
    webhook_retry_delays_real_seconds: list[float] = field(
        default_factory=lambda: [0.2, 0.5, 1.0, 2.0, 4.0]
    )
    request_log_limit: int = 20000
    # Applied at start and after /_emulator/reset.
    faults: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    seed_scenario: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"config {camel(name)} must be one of {sorted(allowed)}, not {value!r}"
                )
        if not 0 <= self.progress_jitter_seconds < self.progress_interval_seconds / 2:
            raise ValueError(
                "config progressJitterSeconds must be at least 0 and below half of "
                "progressIntervalSeconds (publishes stay in order)"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = _field_name(key)
            if name is None:
                raise ValueError(f"unknown emulator config key {key!r}")
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> EmulatorConfig:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def update(self, data: dict[str, Any]) -> None:
        """Change runtime knobs in place (used by PATCH /_emulator/config); all or nothing."""
        changes: dict[str, Any] = {}
        for key, value in data.items():
            name = _field_name(key)
            if name is None or name in {"faults", "webhooks", "seed_scenario", "seed"}:
                raise ValueError(f"config key {key!r} cannot be changed at runtime")
            changes[name] = value
        before = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            self.validate()
        except ValueError:
            for name, value in before.items():
                setattr(self, name, value)
            raise

    def to_dict(self) -> dict[str, Any]:
        return {camel(f.name): getattr(self, f.name) for f in fields(self)}


def _field_name(key: str) -> str | None:
    """Accept snake_case and camelCase spellings alike (`timeScale`, `time_scale`)."""
    wanted = key.replace("_", "").replace("-", "").lower()
    for f in fields(EmulatorConfig):
        if f.name.replace("_", "") == wanted:
            return f.name
    return None


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
