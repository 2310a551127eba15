"""The preflight for target options, against the emulator and Azurite: every policy disk
encryption set is read and must be in its target region; a target in another subscription is
checked in that subscription."""

from __future__ import annotations

import json
from pathlib import Path

from arm_emulator.control import EmulatorControl
from arm_emulator.scenarios import Scenario
from devstack.stack import Stack
from shared.http_api.handlers import preflight_report
from tests.conftest import MakeServices
from tests.support import SOURCE_GROUP, SUBSCRIPTION, seed_source

OTHER_SUB = "00000000-0000-0000-0000-0000000000cc"
KEYS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.Compute"
DES_WEST = f"{KEYS}/diskEncryptionSets/pf-des-westus"
DES_EAST = f"{KEYS}/diskEncryptionSets/pf-des-eastus"
DES_GONE = f"{KEYS}/diskEncryptionSets/pf-des-gone"


def policy(tmp_path: Path) -> str:
    targets = [
        {"region": "westus", "resourceGroup": "rg-dr", "diskEncryptionSetId": DES_WEST},
        {"region": "centralus", "resourceGroup": "rg-dr", "diskEncryptionSetId": DES_EAST},
        {
            "region": "northeurope",
            "subscriptionId": OTHER_SUB,
            "resourceGroup": "rg-dr-ne",
            "diskEncryptionSetId": DES_GONE,
        },
    ]
    document = {
        "version": 1,
        "policies": [
            {
                "name": "p",
                "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": SOURCE_GROUP},
                "targets": targets,
            }
        ],
    }
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    return str(path)


async def test_encryption_sets_and_other_subscriptions_in_the_preflight(
    make_services: MakeServices, stack: Stack, tmp_path: Path
) -> None:
    seed_source(stack.arm_endpoint)
    with EmulatorControl(stack.arm_endpoint) as control:
        control.seed(
            Scenario(SUBSCRIPTION)
            .encryption_set("pf-des-westus", "westus", rg="rg-keys")
            .encryption_set("pf-des-eastus", "eastus", rg="rg-keys")
            .resource_group("rg-dr-ne", "northeurope", subscription_id=OTHER_SUB)
        )
    services = await make_services(POLICY_FILE=policy(tmp_path))
    body = (await preflight_report(services)).body
    assert not body["passed"]
    checks = {(c["name"], c.get("scope")): c for c in body["checks"]}
    assert checks[("disk encryption set", DES_WEST)]["status"] == "pass"
    east = checks[("disk encryption set", DES_EAST)]
    assert east["status"] == "fail"
    assert "is in eastus, but its policy target is centralus" in east["detail"]
    assert "centralus" in east["fix"]
    gone = checks[("disk encryption set", DES_GONE)]
    assert gone["status"] == "fail"
    assert "does not exist" in gone["detail"]
    other = f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-dr-ne"
    assert checks[("target resource group", other)]["status"] == "pass"
    assert checks[("permissions (target)", other)]["status"] == "pass"
