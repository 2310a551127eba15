"""The preflight against the ARM emulator and Azurite: all checks pass for a permitted identity,
and a lacking one is told each missing action on each scope; a missing target resource group
and unknown regions are named; the command line says the same and exits non-zero."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from arm_emulator.control import EmulatorControl
from devstack.stack import EMULATOR_TOKEN, FAST_APP_SETTINGS, Stack
from shared.arm.operations import CREATE_OPERATIONS, TARGET_OPERATIONS, actions_for
from shared.http_api.handlers import preflight_report
from tests.conftest import MakeServices
from tests.support import SOURCE_GROUP, SUBSCRIPTION, TARGET_GROUP, seed_source

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator(stack: Stack) -> Iterator[EmulatorControl]:
    with EmulatorControl(stack.arm_endpoint) as control:
        yield control
        control.update_config(permissions={"*": ["*"]})


def policy_file(tmp_path: Path, target_group: str = TARGET_GROUP) -> str:
    path = tmp_path / "policy.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "policies": [
                    {
                        "name": "prod",
                        "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": SOURCE_GROUP},
                        "targets": [{"region": "westus", "resourceGroup": target_group}],
                    }
                ],
            }
        )
    )
    return str(path)


def by_name(body: dict) -> dict[tuple[str, str | None], dict]:
    return {(c["name"], c.get("scope")): c for c in body["checks"]}


SOURCE_SCOPE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{SOURCE_GROUP}"
TARGET_SCOPE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{TARGET_GROUP}"


async def test_everything_passes_for_a_permitted_identity(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl, tmp_path: Path
) -> None:
    seed_source(stack.arm_endpoint)  # creates the source and target resource groups
    services = await make_services(POLICY_FILE=policy_file(tmp_path))
    response = await preflight_report(services)
    assert response.status == 200
    body = response.body
    assert body["passed"], body
    checks = by_name(body)
    assert checks[("permissions (source)", SOURCE_SCOPE)]["status"] == "pass"
    assert checks[("permissions (target)", TARGET_SCOPE)]["status"] == "pass"
    assert checks[("target resource group", TARGET_SCOPE)]["status"] == "pass"
    assert {name for name, _ in checks} >= {"token", "policy regions", "storage"}


async def test_each_missing_action_is_named_on_its_scope(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl, tmp_path: Path
) -> None:
    seed_source(stack.arm_endpoint)
    # The identity may read restore points and collections, and nothing else.
    emulator.update_config(permissions={EMULATOR_TOKEN: ["*/read"]})
    services = await make_services(POLICY_FILE=policy_file(tmp_path))
    body = (await preflight_report(services)).body
    assert not body["passed"]
    checks = by_name(body)
    assert checks[("permissions (source)", SOURCE_SCOPE)]["status"] == "pass"
    target = checks[("permissions (target)", TARGET_SCOPE)]
    assert target["status"] == "fail"
    lacking = [a for a in actions_for(TARGET_OPERATIONS) if not a.endswith("/read")]
    for action in lacking:
        assert action in target["detail"]
    assert f"missing {len(lacking)} of" in target["detail"]
    assert "assign the rpcopy role" in target["fix"]


async def test_a_missing_target_group_and_the_cli(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl, tmp_path: Path
) -> None:
    seed_source(stack.arm_endpoint)
    policy = policy_file(tmp_path, target_group="rg-does-not-exist")
    services = await make_services(POLICY_FILE=policy)
    body = (await preflight_report(services)).body
    missing = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-does-not-exist"
    group = by_name(body)[("target resource group", missing)]
    assert group["status"] == "fail"
    assert "does not exist" in group["detail"]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUE_", "RERUN_", "LEDGER"))}
    env.update({**stack.app_settings(), **FAST_APP_SETTINGS, "POLICY_FILE": policy})
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.ops"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"FAIL  target resource group [{missing}]: does not exist" in done.stdout
    assert "PASS  token" in done.stdout
    assert EMULATOR_TOKEN not in done.stdout + done.stderr


async def test_a_create_section_needs_write_and_delete_on_its_source_scope(
    make_services: MakeServices, stack: Stack, emulator: EmulatorControl, tmp_path: Path
) -> None:
    seed_source(stack.arm_endpoint)
    path = tmp_path / "create-policy.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "policies": [
                    {
                        "name": "create-hourly",
                        "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": SOURCE_GROUP},
                        "targets": [{"region": "westus", "resourceGroup": TARGET_GROUP}],
                        "create": {"schedule": {"intervalMinutes": 60}},
                    }
                ],
            }
        )
    )
    emulator.update_config(permissions={EMULATOR_TOKEN: ["*/read"]})
    services = await make_services(POLICY_FILE=str(path))
    checks = by_name((await preflight_report(services)).body)
    assert checks[("permissions (source)", SOURCE_SCOPE)]["status"] == "pass"
    creation = checks[("permissions (creation)", SOURCE_SCOPE)]
    assert creation["status"] == "fail"
    for action in actions_for(CREATE_OPERATIONS):
        assert action.endswith("/read") or action in creation["detail"]
    emulator.update_config(permissions={"*": ["*"]})
    checks = by_name((await preflight_report(services)).body)
    assert checks[("permissions (creation)", SOURCE_SCOPE)]["status"] == "pass"
