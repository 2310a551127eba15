"""docs/deploy.md matches the files: every parameter and its environment variable, every file
it names, every infra file, every checkov skip, the role's actions and the alert rules."""

from __future__ import annotations

import json
import re

from tests.infra.bicep import INFRA, REPO, bicep_files, load_json, parse

DOC = (REPO / "docs" / "deploy.md").read_text()


def test_every_parameter_and_its_variable_is_documented() -> None:
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for name, value in params.items():
        (variable,) = re.findall(r"\$\{(\w+)", value["value"])
        row = f"| `{variable}` | `{name}` |"
        assert row in DOC, f"docs/deploy.md has no row {row!r}"
        default = re.findall(r"=([^}]*)\}", value["value"])
        if default and default[0]:
            assert f"| `{variable}` | `{name}` | {default[0]} |" in DOC or (
                f"| `{variable}` | `{name}` | `{default[0]}` |" in DOC
            ), f"docs/deploy.md gives another default for {variable} than {default[0]!r}"
    for name in parse(INFRA / "main.bicep")["parameters"]:
        assert f"`{name}`" in DOC, f"main.bicep parameter {name} is not in docs/deploy.md"


def test_every_file_named_exists_and_every_infra_file_is_named() -> None:
    named = set(re.findall(r"`((?:infra/|azure\.yaml)[^`\s]*)`", DOC))
    for path in named:
        if "*" in path:
            assert list(REPO.glob(path)), f"docs/deploy.md names {path}: matches nothing"
        else:
            assert (REPO / path).exists(), f"docs/deploy.md names {path}: no such file"
    for path in [*bicep_files(), *INFRA.glob("hooks/*.sh")]:
        rel = str(path.relative_to(REPO))
        assert rel in named, f"docs/deploy.md does not mention {rel}"


def test_every_checkov_skip_is_documented() -> None:
    for path in bicep_files():
        for check in re.findall(r"//checkov:skip=(CKV_[A-Z0-9_]+):", path.read_text()):
            assert f"| `{check}` |" in DOC, f"{check} (skipped in {path.name}) is not in the table"
    documented = set(re.findall(r"^\| `(CKV_[A-Z0-9_]+)` \|", DOC, re.MULTILINE))
    skipped = {
        c for p in bicep_files() for c in re.findall(r"//checkov:skip=(CKV_\w+):", p.read_text())
    }
    assert documented == skipped, f"documented but not skipped: {sorted(documented - skipped)}"


def test_role_actions_are_listed() -> None:
    listed = re.findall(r"^- `(Microsoft\.[^`]+)`$", DOC, re.MULTILINE)
    assert listed == load_json("rbac/role-actions.json")


def test_alert_rules_and_queries_are_listed() -> None:
    for rule in parse(INFRA / "alerts.bicep")["variables"]["rules"]["value"]:
        assert f"*{rule['displayName']}* (severity {rule['severity']})" in DOC, rule["displayName"]


def test_queues_and_tables_are_the_ones_created() -> None:
    settings = load_json("app/settings.json")
    stage_queues = [k for k in settings if k.startswith("QUEUE_")]
    for key in [*stage_queues, "EVENTS_QUEUE", "LEDGER_TABLE", "RULES_TABLE"]:
        assert f"`{settings[key]}`" in DOC
