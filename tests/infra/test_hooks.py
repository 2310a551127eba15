"""The azd hooks, run with a fake `az` (tests/infra/fake_az.py): what they deploy, and that
predown removes exactly what the hook deployments list -- never a resource group that is not
tagged as this environment's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import INFRA, REPO

HOOKS = INFRA / "hooks"
SUB = "00000000-0000-0000-0000-0000000000aa"
OTHER = "00000000-0000-0000-0000-0000000000bb"
OURS = f"/subscriptions/{SUB}/resourceGroups/rg-dr1/providers"
ENV = {
    "AZURE_ENV_NAME": "dr1",
    "AZURE_SUBSCRIPTION_ID": SUB,
    "AZURE_LOCATION": "westeurope",
    "RPCOPY_APP_PRINCIPAL_ID": "99999999-0000-0000-0000-000000000001",
    "RPCOPY_PROTECTED_SCOPES": f"{SUB},/subscriptions/{OTHER}/resourcegroups/rg-prod",
    "RPCOPY_TARGET_SCOPES": f"/subscriptions/{OTHER}/resourcegroups/rg-dr",
    "RPCOPY_FUNCTION_APP_ID": f"{OURS}/Microsoft.Web/sites/func-rpcopy-x",
    "RPCOPY_EVENTS_IDENTITY_ID": (
        f"{OURS}/Microsoft.ManagedIdentity/userAssignedIdentities/id-rpcopy-events-x"
    ),
    "RPCOPY_STORAGE_ACCOUNT_ID": f"{OURS}/Microsoft.Storage/storageAccounts/strpcopyx",
    "RPCOPY_DEAD_LETTER_CONTAINER": "eventgrid-deadletter",
    "RPCOPY_HOOK_RETRY_SECONDS": "0",
}


class FakeAz:
    def __init__(self, tmp_path: Path) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        az = self.bin / "az"
        fake = str(Path(__file__).with_name("fake_az.py"))
        az.write_text(
            f"#!{sys.executable}\nimport runpy\nrunpy.run_path({fake!r}, run_name='__main__')\n"
        )
        az.chmod(0o755)
        self.log = tmp_path / "az.log"
        self.state_path = tmp_path / "az.json"
        self.state({})

    def state(self, state: dict[str, Any]) -> None:
        self.state_path.write_text(json.dumps(state))

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def run(self, hook: str, **env: str) -> subprocess.CompletedProcess[str]:
        full = {
            "PATH": f"{self.bin}{os.pathsep}/usr/bin:/bin",
            "FAKE_AZ_LOG": str(self.log),
            "FAKE_AZ_STATE": str(self.state_path),
            **ENV,
            **env,
        }
        full = {k: v for k, v in full.items() if v is not None and v != "<unset>"}
        return subprocess.run(
            ["sh", str(HOOKS / hook)],
            cwd=REPO,
            env=full,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def az(tmp_path: Path) -> FakeAz:
    return FakeAz(tmp_path)


def _params(call: list[str]) -> dict[str, str]:
    start = call.index("--parameters") + 1
    params = {}
    for item in call[start:]:
        if item.startswith("--"):
            break
        key, _, value = item.partition("=")
        params[key] = value
    return params


def test_azure_yaml_runs_the_hooks(infra_python: Path) -> None:
    proc = subprocess.run(
        [
            str(infra_python),
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ],
        input=(REPO / "azure.yaml").read_text(),
        capture_output=True,
        text=True,
        check=True,
    )
    project = json.loads(proc.stdout)
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert project["services"]["api"] == {"project": ".", "language": "python", "host": "function"}
    for hook in ("postprovision", "postdeploy", "predown"):
        run = project["hooks"][hook]["posix"]
        assert run["shell"] == "sh"
        assert run["run"] == f"./infra/hooks/{hook}.sh"
        assert (REPO / run["run"]).is_file()
        assert run["continueOnError"] is False


def test_postprovision_deploys_the_role_with_the_scopes(az: FakeAz) -> None:
    proc = az.run("postprovision.sh")
    assert proc.returncode == 0, proc.stderr
    (call,) = az.calls()
    assert call[:3] == ["deployment", "sub", "create"]
    assert call[call.index("--template-file") + 1] == str(INFRA / "access" / "main.bicep")
    assert call[call.index("--name") + 1] == "rpcopy-access-dr1"
    assert call[call.index("--subscription") + 1] == SUB
    assert _params(call) == {
        "environmentName": "dr1",
        "principalId": ENV["RPCOPY_APP_PRINCIPAL_ID"],
        "protectedScopes": ENV["RPCOPY_PROTECTED_SCOPES"],
        "targetScopes": ENV["RPCOPY_TARGET_SCOPES"],
    }


def test_postprovision_says_what_is_missing(az: FakeAz) -> None:
    proc = az.run("postprovision.sh", RPCOPY_PROTECTED_SCOPES="")
    assert proc.returncode == 1
    assert "RPCOPY_PROTECTED_SCOPES is not set" in proc.stderr
    assert az.calls() == []


def test_postprovision_failure_names_the_permissions(az: FakeAz) -> None:
    az.state({"create_failures": 1})
    proc = az.run("postprovision.sh")
    assert proc.returncode == 1
    assert "Owner or User Access Administrator" in proc.stderr


def test_postdeploy_deploys_event_grid_and_retries_while_the_app_indexes(az: FakeAz) -> None:
    az.state({"create_failures": 2})
    proc = az.run("postdeploy.sh")
    assert proc.returncode == 0, proc.stderr
    calls = az.calls()
    assert len(calls) == 3
    call = calls[-1]
    assert call[call.index("--template-file") + 1] == str(INFRA / "events" / "main.bicep")
    assert call[call.index("--name") + 1] == "rpcopy-events-dr1"
    assert _params(call) == {
        "environmentName": "dr1",
        "location": "westeurope",
        "protectedScopes": ENV["RPCOPY_PROTECTED_SCOPES"],
        "functionAppId": ENV["RPCOPY_FUNCTION_APP_ID"],
        "eventsIdentityId": ENV["RPCOPY_EVENTS_IDENTITY_ID"],
        "deadLetterStorageAccountId": ENV["RPCOPY_STORAGE_ACCOUNT_ID"],
        "deadLetterContainerName": "eventgrid-deadletter",
    }


def test_postdeploy_gives_up_after_its_attempts(az: FakeAz) -> None:
    az.state({"create_failures": 10})
    proc = az.run("postdeploy.sh", RPCOPY_HOOK_ATTEMPTS="3")
    assert proc.returncode == 1
    assert len(az.calls()) == 3
    assert "failed 3 times" in proc.stderr


def test_hook_parameters_are_the_template_parameters() -> None:
    from tests.infra.bicep import parse

    for hook, template in (
        ("postprovision.sh", "access/main.bicep"),
        ("postdeploy.sh", "events/main.bicep"),
    ):
        text = (HOOKS / hook).read_text()
        params = set(parse(INFRA / template)["parameters"])
        passed = {
            line.strip().split("=")[0]
            for line in text.splitlines()
            if '="$' in line and "--" not in line
        }
        required = {
            n for n, p in parse(INFRA / template)["parameters"].items() if "default" not in p
        }
        assert passed <= params, f"{hook} passes unknown parameters {sorted(passed - params)}"
        assert required <= passed, f"{hook} misses {sorted(required - passed)}"


EVENTS_RG = f"/subscriptions/{OTHER}/resourceGroups/rg-dr1-rpcopy-events"
FOREIGN_RG = f"/subscriptions/{SUB}/resourceGroups/rg-dr1-rpcopy-events"
AUTH = "providers/Microsoft.Authorization"
ROLE_GUID = "1234abcd-0000-0000-0000-000000000000"
ROLE = f"/subscriptions/{SUB}/{AUTH}/roleDefinitions/{ROLE_GUID}"
ON_SUB = f"/subscriptions/{SUB}/{AUTH}/roleAssignments/aaaa"
ON_RG = f"/subscriptions/{OTHER}/resourceGroups/rg-prod/{AUTH}/roleAssignments/bbbb"


def test_predown_removes_exactly_what_the_hooks_deployed(az: FakeAz) -> None:
    az.state(
        {
            "deployments": {
                "rpcopy-events-dr1": {"resourceGroupIds": [EVENTS_RG, FOREIGN_RG]},
                "rpcopy-access-dr1": {
                    "roleDefinitionId": ROLE,
                    "subscriptionRoleAssignmentIds": [ON_SUB],
                    "resourceGroupRoleAssignmentIds": [ON_RG],
                },
            },
            "groups": {
                f"{OTHER}/rg-dr1-rpcopy-events": {"rpcopy-owner": "dr1"},
                # Same name, but someone else's group now: never deleted.
                f"{SUB}/rg-dr1-rpcopy-events": {"rpcopy-owner": "someone-else"},
            },
        }
    )
    proc = az.run("predown.sh")
    assert proc.returncode == 0, proc.stderr
    changes = [c for c in az.calls() if "delete" in c]
    assert changes == [
        [
            "group",
            "delete",
            "--subscription",
            OTHER,
            "--name",
            "rg-dr1-rpcopy-events",
            "--yes",
            "--only-show-errors",
        ],
        [
            "deployment",
            "sub",
            "delete",
            "--subscription",
            SUB,
            "--name",
            "rpcopy-events-dr1",
            "--only-show-errors",
        ],
        ["role", "assignment", "delete", "--ids", ON_SUB, "--only-show-errors"],
        ["role", "assignment", "delete", "--ids", ON_RG, "--only-show-errors"],
        [
            "role",
            "definition",
            "delete",
            "--name",
            ROLE_GUID,
            "--scope",
            f"/subscriptions/{SUB}",
            "--only-show-errors",
        ],
        [
            "deployment",
            "sub",
            "delete",
            "--subscription",
            SUB,
            "--name",
            "rpcopy-access-dr1",
            "--only-show-errors",
        ],
    ]
    assert "not deleting " + FOREIGN_RG in proc.stderr


def test_predown_with_nothing_deployed_deletes_nothing(az: FakeAz) -> None:
    proc = az.run("predown.sh")
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in az.calls() if "delete" in c]


def test_predown_stops_azd_down_when_az_cannot_tell(az: FakeAz) -> None:
    """Not logged in: predown fails, so azd down does not go on to orphan the role and topics."""
    az.state({"broken": True})
    proc = az.run("predown.sh")
    assert proc.returncode == 1
    assert "could not list the subscription deployments" in proc.stderr
