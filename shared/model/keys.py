"""Deterministic keys: job ids, pair keys and the ledger partition, derived from ARM ids.

The same (source restore point, target region) is the same job on every intake path, and a
pair's jobs share one Table partition (the first half of the job id is the pair's key prefix),
so per-pair queries are partition queries and a job can still be read by its id alone.
"""

from __future__ import annotations

import hashlib

from shared.model.ids import RestorePointId
from shared.model.regions import normalize_region


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pair_key(source_collection_id: str, target_region: str) -> str:
    """The (source collection, target region) pair: ARM ids compare case-insensitively."""
    return _digest(f"{source_collection_id.lower()}|{target_region}")[:32]


def collection_key(collection_id: str) -> str:
    return _digest(collection_id.lower())[:32]


def job_id_for(source: RestorePointId, target_region: str) -> str:
    region = normalize_region(target_region)
    return (
        pair_key(str(source.collection), region)[:16]
        + _digest(f"{source.normalized}|{region}")[:16]
    )


def partition_of(job_id_or_pair_key: str) -> str:
    """A job's ledger partition: the first half of its id, i.e. its pair key's prefix."""
    return job_id_or_pair_key[:16]


def create_job_id(vm_id: str, target_region: str, target_restore_point_id: str) -> str:
    """A restore point created in the target region from a VM (no source restore point): the
    pair is (VM, region), the job the restore point it creates (its name is deterministic)."""
    region = normalize_region(target_region)
    return (
        pair_key(vm_id, region)[:16]
        + _digest(f"create|{target_restore_point_id.lower()}|{region}")[:16]
    )
