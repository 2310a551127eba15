"""tests/infra: offline checks of the Azure deployment (azure.yaml, infra/, docs/deploy.md).

checkov runs once per session from its own venv (it cannot share the dev venv: it needs
packaging<24, pytest needs >=24). `make setup` installs it from requirements-infra.txt into
.venv-infra, or into $RPCOPY_INFRA_VENV.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import REPO


def infra_venv() -> Path:
    configured = os.environ.get("RPCOPY_INFRA_VENV", "").strip()
    venv = Path(configured) if configured else REPO / ".venv-infra"
    return venv if venv.is_absolute() else REPO / venv


def infra_tool(name: str) -> Path:
    path = infra_venv() / "bin" / name
    if not path.exists():
        pytest.fail(
            f"{path} not found: the infra tools live in their own venv. Run `make setup` "
            f"(it installs requirements-infra.txt into {infra_venv()}), or point "
            "RPCOPY_INFRA_VENV at a venv that has them.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    """checkov over infra/ (framework bicep), once per session, as its JSON report."""
    checkov = infra_tool("checkov")
    proc = subprocess.run(
        [str(checkov), "--config-file", "infra/.checkov.yaml", "-d", "infra", "-o", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Exit 1 means failed checks; the tests report them. Anything else is checkov failing.
    assert proc.returncode in (0, 1), f"checkov exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    bicep = [r for r in reports if r.get("check_type") == "bicep"]
    assert len(bicep) == 1, (
        f"expected one bicep report, got {[r.get('check_type') for r in reports]}"
    )
    return bicep[0]


@pytest.fixture(scope="session")
def infra_python() -> Path:
    """The infra venv's Python (it has PyYAML, which the dev venv does not)."""
    return infra_tool("python")


@pytest.fixture(scope="session")
def deployed_functions() -> dict[str, list[dict[str, Any]]]:
    """function_app.py indexed under the deployed app settings: function name -> its raw
    bindings (what the host reads). get_functions() may run only once per app object, so this
    imports a fresh function_app and puts the previous module and os.environ back afterwards."""
    from tests.infra.deployed import deployed_settings

    previous = sys.modules.pop("function_app", None)
    with pytest.MonkeyPatch.context() as patch:
        for key in [
            k for k in os.environ if k in deployed_settings() or k.startswith("AzureWebJobs")
        ]:
            patch.delenv(key)
        for key, value in deployed_settings().items():
            patch.setenv(key, str(value))
        # Index the app without starting the Azure Monitor exporter: nothing leaves this machine.
        patch.setenv("OTEL_SDK_DISABLED", "true")
        try:
            module = importlib.import_module("function_app")
            return {
                f.get_function_name(): [json.loads(raw) for raw in f.get_raw_bindings()]
                for f in module.app.get_functions()
            }
        finally:
            sys.modules.pop("function_app", None)
            if previous is not None:
                sys.modules["function_app"] = previous
