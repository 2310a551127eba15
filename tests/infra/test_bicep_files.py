"""Every Bicep file parses, every file it loads or deploys exists, and `azd provision` only
ever deploys into the one resource group it creates (so `azd down` deletes nothing else)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.bicep import INFRA, REPO, bicep_files, parse

FILES = bicep_files()


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_the_expected_modules_exist() -> None:
    names = {str(p.relative_to(INFRA)) for p in FILES}
    expected = {
        "main.bicep",
        "identity.bicep",
        "monitoring.bicep",
        "alerts.bicep",
        "app/function.bicep",
        "app/storage.bicep",
        "rbac/role.bicep",
        "rbac/role-assignment-subscription.bicep",
        "rbac/role-assignment-resource-group.bicep",
        "rbac/storage-access.bicep",
        "rbac/monitoring-access.bicep",
        "access/main.bicep",
        "events/main.bicep",
        "events/subscription.bicep",
        "events/topic.bicep",
    }
    assert expected <= names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_parses(path: Path) -> None:
    tree = parse(path)
    assert tree.get("resources") or tree.get("modules"), f"{_rel(path)} declares nothing"


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_every_module_and_loaded_file_exists(path: Path) -> None:
    tree = parse(path)
    for name, module in (tree.get("modules") or {}).items():
        target = path.parent / module["detail"]["path"]
        assert target.is_file(), f"{_rel(path)}: module {name} -> {target} does not exist"
    for loaded in re.findall(r"load(?:Json|Text)Content\('([^']+)'\)", path.read_text()):
        assert (path.parent / loaded).is_file(), f"{_rel(path)} loads {loaded}: no such file"


def test_azd_provision_only_deploys_into_its_own_resource_group() -> None:
    """azd down deletes every resource group named in the provision deployment's resources.
    A role assignment on your resource group would name it, so main.bicep deploys its modules
    into the group it creates (rg) and nowhere else; other scopes belong to the hooks."""
    tree = parse(INFRA / "main.bicep")
    assert tree["globals"]["scope"]["value"] == "subscription"
    groups = [
        n for n, r in tree["resources"].items() if r["type"] == "Microsoft.Resources/resourceGroups"
    ]
    assert groups == ["rg"], f"main.bicep must create exactly one resource group, found {groups}"
    for name, module in tree["modules"].items():
        assert module["config"].get("scope") == "rg", (
            f"main.bicep module {name} is not scoped to rg"
        )
    text = (INFRA / "main.bicep").read_text()
    assert "resourceGroup(" not in text
    assert "subscription(" not in text.replace("subscription()", "")


def test_main_parameters_name_every_required_main_parameter() -> None:
    import json

    tree = parse(INFRA / "main.bicep")
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    required = {n for n, p in tree["parameters"].items() if "default" not in p}
    assert required <= set(values), f"main.parameters.json misses {sorted(required - set(values))}"
    assert set(values) <= set(tree["parameters"]), "main.parameters.json sets unknown parameters"
