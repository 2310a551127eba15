"""Event Grid intake (against Azurite and the emulator) with policy target options: the job
carries the target subscription, encryption set, copied tags and the VM's lineage; a
create-in-target target takes no copy of a source restore point."""

from __future__ import annotations

import json
from pathlib import Path

from shared.jobs.auto_intake import on_restore_point_written
from shared.model.arm_events import read_event
from tests.conftest import MakeServices
from tests.support import seed_source

OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"
DES = (
    f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-keys/providers/Microsoft.Compute"
    "/diskEncryptionSets/des-westus"
)


def event(resource: str):
    data = {
        "operationName": "Microsoft.Compute/restorePointCollections/restorePoints/write",
        "resourceUri": resource,
        "status": "Succeeded",
    }
    return read_event("evt-1", "Microsoft.Resources.ResourceWriteSuccess", resource, data)


async def test_event_grid_jobs_carry_the_target_options(
    make_services: MakeServices, stack, tmp_path: Path
) -> None:
    source = seed_source(stack.arm_endpoint)
    policy = {
        "version": 1,
        "policies": [
            {
                "name": "p",
                "match": {"collectionIds": [source.collection_id]},
                "targets": [
                    {
                        "region": "westus",
                        "subscriptionId": OTHER_SUB,
                        "resourceGroup": "rg-dr",
                        "diskEncryptionSetId": DES,
                        "copyTags": True,
                    },
                    {"region": "centralus", "mode": "create-in-target", "rpoMinutes": 60},
                ],
            }
        ],
    }
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    services = await make_services(POLICY_FILE=str(tmp_path / "policy.json"))
    jobs = await on_restore_point_written(services, event(source.restore_point_id))
    assert [j.target_region for j in jobs] == ["westus"], "create-in-target takes no copies"
    [job] = jobs
    assert job.options.target_subscription_id == OTHER_SUB
    assert job.options.disk_encryption_set_id == DES
    assert job.options.copy_tags == "all"
    assert job.options.source_vm_id is not None
    assert job.options.source_vm_id.lower() == source.vm_id.lower()
