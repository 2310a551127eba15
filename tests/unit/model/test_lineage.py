"""Lineage and target options in the pure layers: ids, tags (Azure's limits), the bodies the app
sends and reads, the ledger row, the job view, events and the create-in-target plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.arm import bodies
from shared.errors import InvalidResourceId
from shared.http_api.views import job_view
from shared.model.copy_options import CopyOptions
from shared.model.event_identity import EventIdentity
from shared.model.events import EventType, job_event
from shared.model.ids import DiskEncryptionSetId, parse_disk_id
from shared.model.job import JobRecord, JobState
from shared.model.keys import create_job_id, pair_key, partition_of
from shared.model.message import Trigger
from shared.model.tags import (
    MANAGED_TAG,
    MAX_TAG_VALUE,
    MAX_TAGS,
    SOURCE_COLLECTION_TAG,
    SOURCE_VM_TAG,
    copied_tags,
    read_lineage,
    tags_missing,
    target_collection_tags,
)
from shared.rules.creation_plan import plan_creation, slot_start
from shared.storage.ledger import JobFilter, from_entity, to_entity

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod/providers/Microsoft.Compute"
VM = f"{RG}/virtualMachines/vm1"
RPC = f"{RG}/restorePointCollections/vm1-rpc"
RP = f"{RPC}/restorePoints/rp1"
DES = f"{RG}/diskEncryptionSets/des-west"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


# -- ids ---------------------------------------------------------------------------------------


def test_disk_encryption_set_and_disk_ids_are_parsed_strictly() -> None:
    assert str(DiskEncryptionSetId.parse(DES)) == DES
    assert parse_disk_id(f"{RG}/disks/d1") == f"{RG}/disks/d1"
    for bad in (RPC, DES + "/", DES + "\n", f"{RG}/diskEncryptionSets/a/b", 5):
        with pytest.raises(InvalidResourceId):
            DiskEncryptionSetId.parse(bad)
    with pytest.raises(InvalidResourceId):
        parse_disk_id(DES)


def test_a_create_job_lives_in_its_vm_pairs_partition() -> None:
    job = create_job_id(VM, "westus", f"{RPC}-westus/restorePoints/rpcopy-1")
    assert partition_of(job) == partition_of(pair_key(VM, "westus"))
    assert job != create_job_id(VM, "westus", f"{RPC}-westus/restorePoints/rpcopy-2")
    assert job == create_job_id(VM.upper(), "WestUS", f"{RPC}-westus/restorePoints/RPCOPY-1")


# -- tags --------------------------------------------------------------------------------------


def test_lineage_tags_hold_ids_longer_than_a_tag_value() -> None:
    long_rpc = (
        f"/subscriptions/{SUB}/resourceGroups/{'g' * 90}/providers/Microsoft.Compute"
        f"/restorePointCollections/{'c' * 80}"
    )
    assert len(long_rpc) > MAX_TAG_VALUE
    tags = target_collection_tags(long_rpc, VM)
    assert all(len(v) <= MAX_TAG_VALUE for v in tags.values())
    assert read_lineage(tags, SOURCE_COLLECTION_TAG) == long_rpc
    assert read_lineage({k.upper(): v for k, v in tags.items()}, SOURCE_VM_TAG) == VM
    assert tags[MANAGED_TAG] == "true"
    assert read_lineage({}, SOURCE_VM_TAG) is None
    assert SOURCE_COLLECTION_TAG not in target_collection_tags(None, VM)


def test_copied_tags_never_take_the_apps_own_and_respect_the_limit() -> None:
    source = {"Env": "prod", "rpcopy-targets": "westus", "RPCOPY-MANAGED": "false", "n": 5}
    assert copied_tags(source, None) == {}
    assert copied_tags(source, "all") == {"Env": "prod"}
    assert copied_tags(source, ("env", "missing")) == {"Env": "prod"}
    many = {f"t{i:02}": "v" for i in range(MAX_TAGS)}
    copied = copied_tags(many, "all")
    everything = target_collection_tags(RPC, VM, copied)
    assert len(everything) <= MAX_TAGS
    assert list(copied) == sorted(copied)  # truncated by name, deterministically
    # The app's tags win over a copied one of the same name.
    assert target_collection_tags(RPC, VM, {MANAGED_TAG: "no"})[MANAGED_TAG] == "true"


def test_tags_missing_compares_names_case_insensitively() -> None:
    assert not tags_missing({"A": "1"}, {"a": "1", "b": "2"})
    assert tags_missing({"A": "1"}, {"a": "2"})
    assert tags_missing({"A": "1"}, {})


# -- bodies --------------------------------------------------------------------------------------


def source_rp_body(luns: list[object]) -> dict[str, object]:
    return {
        "properties": {
            "sourceMetadata": {
                "storageProfile": {
                    "osDisk": {"name": "os"},
                    "dataDisks": [{"lun": lun} for lun in luns],
                }
            }
        }
    }


def test_copy_body_names_the_encryption_set_for_every_source_disk() -> None:
    assert bodies.copy_body(RP) == {"properties": {"sourceRestorePoint": {"id": RP}}}
    disks = bodies.source_disks(source_rp_body([1, 0, True, "2"]))
    assert disks == (True, (0, 1))
    body = bodies.copy_body(RP, disk_encryption_set_id=DES, disks=disks)
    storage = body["properties"]["sourceMetadata"]["storageProfile"]
    encryption = {"diskEncryptionSet": {"id": DES}, "type": "EncryptionAtRestWithCustomerKey"}
    assert storage["osDisk"] == {"diskRestorePoint": {"encryption": encryption}}
    assert storage["dataDisks"] == [
        {"lun": 0, "diskRestorePoint": {"encryption": encryption}},
        {"lun": 1, "diskRestorePoint": {"encryption": encryption}},
    ]
    assert bodies.source_disks({"properties": "x"}) == (False, ())


def test_create_body_and_vm_sourced_collections() -> None:
    assert bodies.create_body() == {"properties": {}}
    disk = f"{RG}/disks/d1"
    assert bodies.create_body([disk]) == {"properties": {"excludeDisks": [{"id": disk}]}}
    local = {"id": RPC, "location": "eastus", "properties": {"source": {"id": VM}}}
    info = bodies.collection_info(local)
    assert (info.is_copy_target, info.source_vm_id) == (False, VM)
    # A collection whose VM is in another region is a create-in-target target: never a source.
    remote = {
        "id": RPC,
        "location": "westus",
        "properties": {"source": {"id": VM, "location": "eastus"}},
    }
    assert bodies.collection_info(remote).is_copy_target
    copy_target = {"id": RPC, "location": "westus", "properties": {"source": {"id": RPC}}}
    assert bodies.collection_info(copy_target).source_vm_id is None


# -- ledger, view, events -------------------------------------------------------------------------


def record(options: CopyOptions) -> JobRecord:
    return JobRecord(
        job_id="0123456789abcdef0123456789abcdef",
        run=1,
        state=JobState.SUCCEEDED,
        source_restore_point_id=RP,
        source_collection_id=RPC,
        source_region="eastus",
        target_region="westus",
        target_resource_group="rg-dr",
        target_collection_name="vm1-rpc-westus",
        target_restore_point_name="rp1",
        trigger=Trigger.SWEEP,
        correlation_id="c",
        requested_at=T0,
        updated_at=T0,
        options=options,
    )


def test_options_and_lineage_survive_the_ledger_row() -> None:
    options = CopyOptions(
        target_subscription_id="00000000-0000-0000-0000-0000000000bb",
        disk_encryption_set_id=DES,
        copy_tags=("env",),
        source_vm_id=VM,
    )
    entity = to_entity(record(options))
    assert entity["SourceVmKey"] == VM.lower()
    assert from_entity(entity).options == options
    # Rows written before these columns read as no options (and have no VM to filter on).
    plain = to_entity(record(CopyOptions()))
    assert "Options" not in plain
    assert "SourceVmKey" not in plain
    assert from_entity(plain).options == CopyOptions()


def test_source_vm_filter_is_case_insensitive() -> None:
    query, params = JobFilter(source_vm_id=VM.upper()).odata()
    assert query == "SourceVmKey eq @vm"
    assert params == {"vm": VM.lower()}


def test_view_and_events_carry_lineage() -> None:
    job = record(CopyOptions(source_vm_id=VM, disk_encryption_set_id=DES))
    view = job_view(job)
    assert view["sourceVmId"] == VM
    assert view["diskEncryptionSetId"] == DES
    assert view["sourceRestorePointId"] == RP
    data = job_event(EventType.SUCCEEDED, job, identity=EventIdentity(), time=T0)["data"]
    assert data["source"]["vmId"] == VM
    assert data["target"]["diskEncryptionSetId"] == DES
    created = job.evolve(options=CopyOptions(source_vm_id=VM, mode="create-in-target"))
    view = job_view(created)
    assert view["mode"] == "create-in-target"
    assert "sourceRestorePointId" not in view
    data = job_event(EventType.SUCCEEDED, created, identity=EventIdentity(), time=T0)["data"]
    assert data["source"] == {"vmId": VM, "region": "eastus"}


# -- create-in-target plan ------------------------------------------------------------------------


def created_job(state: JobState, age_minutes: float, now: datetime) -> JobRecord:
    return record(CopyOptions(mode="create-in-target", source_vm_id=VM)).evolve(
        state=state,
        source_created_at=now - timedelta(minutes=age_minutes),
        requested_at=now - timedelta(minutes=age_minutes),
    )


@pytest.mark.parametrize(
    ("jobs", "rpo", "due", "reason"),
    [
        ([], None, False, "no-rpo"),
        ([], 60, True, "due"),
        ([(JobState.SUCCEEDED, 10)], 60, False, "recent"),
        ([(JobState.SUCCEEDED, 31)], 60, True, "due"),
        ([(JobState.SUCCEEDED, 100), (JobState.REPLICATING, 1)], 60, False, "in-flight"),
        ([(JobState.RERUN_PENDING, 90)], 60, False, "in-flight"),
        ([(JobState.SUCCEEDED, 40), (JobState.FAILED, 5)], 60, True, "due"),
    ],
)
def test_plan_creation(jobs: list[tuple[JobState, float]], rpo: int | None, due: bool, reason: str):
    now = T0 + timedelta(hours=5, minutes=7)
    plan = plan_creation([created_job(s, a, now) for s, a in jobs], rpo_minutes=rpo, now=now)
    assert (plan.due, plan.reason) == (due, reason)
    if due:
        assert plan.slot_start == slot_start(now, 60)
        assert plan.to_api()["due"] is True


def test_slots_are_half_the_rpo_wide() -> None:
    assert slot_start(T0 + timedelta(minutes=29), 60) == T0
    assert slot_start(T0 + timedelta(minutes=30), 60) == T0 + timedelta(minutes=30)
    assert slot_start(T0 + timedelta(seconds=59), 1) == T0  # at least a minute
