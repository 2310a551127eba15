"""Named sets of config overrides for what Azure does not document, so a client can be tested
against every plausible reading instead of one guess (docs/emulator.md, "Variants").

    from arm_emulator.variants import ALL_VARIANT_SETS
    @pytest.mark.parametrize("variant", ALL_VARIANT_SETS, ids=lambda v: v.name)
    def test_app(variant): ... EmulatorConfig(**variant.overrides) ...  # or
    control.apply_variant(variant.name)                                  # a running emulator

`DEFAULT` (no overrides) is the emulator's first reading; every other set changes one
undocumented behaviour (the names say which), except the two combined sets at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import EmulatorConfig, camel


@dataclass(frozen=True)
class VariantSet:
    name: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)  # EmulatorConfig field names

    def config(self, **base: Any) -> EmulatorConfig:
        """An EmulatorConfig of `base` settings with this variant's overrides on top."""
        return EmulatorConfig(**{**base, **self.overrides})

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "overrides": {camel(k): v for k, v in self.overrides.items()},
        }


DEFAULT = VariantSet("default", "The emulator's first reading of every undocumented behaviour.")

ALL_VARIANT_SETS: tuple[VariantSet, ...] = (
    DEFAULT,
    VariantSet(
        "refusal-in-operation",
        "A copy-rule refusal (in flight, order, duplicate, copy-of-copy, excluded disks, ...) is "
        "accepted with 201 and its operation fails with the refusal's code and message.",
        {"copy_rule_refusal": "operation"},
    ),
    VariantSet(
        "replication-codes-pascal",
        "In-progress and failed replication codes in PascalCase: ReplicationState/InProgress, "
        "ReplicationState/Failed.",
        {
            "replication_in_progress_code": "ReplicationState/InProgress",
            "replication_failed_code": "ReplicationState/Failed",
        },
    ),
    VariantSet(
        "replication-warning-levels",
        "A running replication reports level Warning; a failed one Warning, not Error.",
        {"replication_in_progress_level": "Warning", "replication_failed_level": "Warning"},
    ),
    VariantSet(
        "failed-copy-provisioning-failed",
        "A copy whose replication failed shows provisioningState Failed (not Succeeded).",
        {"failed_copy_provisioning_state": "Failed"},
    ),
    VariantSet(
        "repeated-put-200",
        "A repeated PUT of an existing restore point with the same body answers 200.",
        {"repeated_restore_point_put": "200"},
    ),
    VariantSet(
        "repeated-put-409",
        "A repeated PUT of an existing restore point is refused with 409.",
        {"repeated_restore_point_put": "409"},
    ),
    VariantSet(
        "source-location-absent",
        "A restore point's sourceMetadata has no location (read-only, not promised by the "
        "spec): a client must find the region on the collection.",
        {"restore_point_source_location": "absent"},
    ),
    VariantSet(
        "throttle-body-bare",
        "The copy throttle's 429 body is bare ({code, message, details}), as the Compute "
        "throttling doc shows it.",
        {"throttle_body": "bare"},
    ),
    VariantSet(
        "cross-region-creation",
        "Restore points can be created directly in another region from a VM; no copy rules.",
        {"cross_region_creation": "allow"},
    ),
    VariantSet(
        "cross-region-creation-copy-rules",
        "Cross-region creation, with the copy PUT budget and one in flight per collection.",
        {"cross_region_creation": "copy-rules"},
    ),
    VariantSet(
        "copy-encryption-platform-key",
        "A copy PUT's per-disk disk encryption set is accepted unchecked and ignored: the copy "
        "is encrypted with platform-managed keys (the 2025 overview's reading).",
        {"copy_encryption": "platform-key"},
    ),
    VariantSet(
        "progress-phase-random",
        "Progress is published at a per-copy phase drawn from the seed (not every interval from "
        "the copy's start), each publish jittered by up to 20 s: what no client can know.",
        {"progress_phase": "random", "progress_jitter_seconds": 20.0},
    ),
    VariantSet(
        "restore-unreplicated-allowed",
        "A disk can be restored from a disk restore point whose copy has not replicated yet "
        "(the docs: Azure does not check; the caller must).",
        {"unreplicated_restore": "allow"},
    ),
    VariantSet(
        "strict",
        "Every refusal late, unfamiliar codes, failed copies marked Failed, repeats refused, "
        "bare 429s.",
        {
            "copy_rule_refusal": "operation",
            "replication_in_progress_code": "ReplicationState/InProgress",
            "replication_in_progress_level": "Warning",
            "replication_failed_code": "ReplicationState/Failed",
            "replication_failed_level": "Warning",
            "failed_copy_provisioning_state": "Failed",
            "repeated_restore_point_put": "409",
            "throttle_body": "bare",
            "cross_region_creation": "copy-rules",
        },
    ),
    VariantSet(
        "lenient",
        "Repeats answered 200, PascalCase codes at level Error, cross-region creation allowed.",
        {
            "repeated_restore_point_put": "200",
            "replication_in_progress_code": "ReplicationState/InProgress",
            "replication_failed_code": "ReplicationState/Failed",
            "cross_region_creation": "allow",
        },
    ),
)

BY_NAME: dict[str, VariantSet] = {v.name: v for v in ALL_VARIANT_SETS}


def variant_sets() -> list[VariantSet]:
    return list(ALL_VARIANT_SETS)


def get(name: str) -> VariantSet:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; known: {sorted(BY_NAME)}") from None


def reset_overrides() -> dict[str, Any]:
    """Every variant setting at its default (to undo a variant at runtime)."""
    defaults = EmulatorConfig()
    names = {k for v in ALL_VARIANT_SETS for k in v.overrides}
    return {name: getattr(defaults, name) for name in sorted(names)}
