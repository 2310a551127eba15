"""The `rpcopy` command line as an operator runs it: each command a subprocess against the local
stack (Azurite + the ARM emulator + the local host), judged by its exit code and its output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from arm_emulator.control import EmulatorControl
from devstack.processes import REPO_ROOT
from devstack.stack import Stack
from tests.support import TARGET_GROUP, TARGET_REGION, seed_source

pytestmark = pytest.mark.slow

WAIT_TIMEOUT = 150  # seconds the command itself may wait for a copy (--timeout)


def rpcopy_command() -> list[str]:
    """The console script `make setup` installs next to the interpreter, else the package."""
    script = Path(sys.executable).with_name("rpcopy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rpcopy_cli"]


@pytest.fixture(scope="module")
def cli_env(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No RPCOPY_* of the caller's, no profile of the caller's: only what a test gives."""
    home = tmp_path_factory.mktemp("cli-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPCOPY_")}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "COLUMNS": "200"})
    env.update({"RPCOPY_ENDPOINT": stack.host_url, "RPCOPY_KEY": stack.options.function_key})
    return env


def rpcopy(
    env: dict[str, str], *args: str, timeout: float = WAIT_TIMEOUT + 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*rpcopy_command(), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    try:
        return json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"not JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


def vm_of(source: Any) -> str:
    return source.vm_id.rsplit("/", 1)[-1]


def test_copy_wait_shows_live_per_disk_progress_and_exits_0_when_usable(
    cli_env: dict[str, str], stack: Stack
) -> None:
    source = seed_source(stack.arm_endpoint, data_disks=2, used_gb=60)
    result = rpcopy(
        cli_env,
        "copy", source.restore_point_id, "--to", TARGET_REGION, "--resource-group", TARGET_GROUP,
        "--wait", "--interval", "0.5", "--timeout", str(WAIT_TIMEOUT),
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "requested (Queued)" in out
    # Log mode (stdout is a pipe): a timeline of changed lines, one per disk with its bar.
    disk_line = re.compile(r"s\] westus +(\S+) +\[[#.]{20}\] +\d+ % ")
    disk_lines = [line for line in out.splitlines() if disk_line.search(line)]
    disks = {m[1] for line in disk_lines if (m := disk_line.search(line))}
    assert len(disks) == 3, out  # the OS disk and two data disks
    assert any("100 % succeeded" in line for line in disk_lines), out
    assert any("expected finish" in line or "Replicating" in line for line in out.splitlines())
    assert f"Copy usable in {TARGET_REGION}: /subscriptions/" in out


def test_copy_wait_exits_non_zero_with_the_reason_when_the_copy_fails(
    cli_env: dict[str, str], stack: Stack, emulator: EmulatorControl
) -> None:
    source = seed_source(stack.arm_endpoint, data_disks=1)
    # Every run's replication fails (the stack allows two runs, then the job fails for good).
    emulator.add_fault(
        operation="RestorePoints_Create",
        kind="replication_failure",
        lun=0,
        match={"pathContains": vm_of(source)},
    )
    result = rpcopy(
        cli_env,
        "copy", source.restore_point_id, "--to", TARGET_REGION,
        "--wait", "--interval", "0.5", "--timeout", str(WAIT_TIMEOUT), "--output", "json",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    job = as_json(result)  # stdout is the final job; progress went to stderr
    assert job["state"] == "Failed"
    assert job["run"] == 2
    assert "not usable: ReplicationFailed" in result.stderr
    assert "RerunPending" in result.stderr, "the re-run was shown while waiting"

    # The job's runs, each with its own outcome.
    runs = as_json(rpcopy(cli_env, "runs", job["id"], "-o", "json"))["value"]
    assert [(r["run"], r["state"]) for r in runs] == [(1, "Failed"), (2, "Failed")]
    table = rpcopy(cli_env, "runs", job["id"])
    assert table.returncode == 0
    assert "ReplicationFailed" in table.stdout

    # Retry after the fault is gone: a third run, followed to a usable copy.
    emulator.clear_faults()
    retried = rpcopy(
        cli_env, "retry", job["id"], "--wait", "--interval", "0.5", "--timeout", str(WAIT_TIMEOUT)
    )
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "Copy usable in" in retried.stdout
    status = as_json(rpcopy(cli_env, "status", job["id"], "--output", "json"))
    assert (status["state"], status["run"]) == ("Succeeded", 3)


def test_status_list_and_watch(cli_env: dict[str, str], stack: Stack) -> None:
    source = seed_source(stack.arm_endpoint, data_disks=0, restore_points=2)
    older, newer = source.restore_point_ids
    first = as_json(rpcopy(cli_env, "copy", older, "--to", "northeurope", "-o", "json"))
    second = as_json(rpcopy(cli_env, "copy", newer, "--to", "northeurope", "-o", "json"))
    assert first["state"] in ("Queued", "CreatingTarget", "Starting", "Replicating")

    shown = rpcopy(cli_env, "status", first["id"])
    assert shown.returncode == 0
    assert first["id"] in shown.stdout
    assert "northeurope" in shown.stdout

    watched = rpcopy(cli_env, "status", second["id"], "--watch", "--interval", "0.5")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "Copy usable in northeurope" in watched.stdout

    listed = as_json(
        rpcopy(
            cli_env,
            "list",
            "--source-collection",
            source.collection_id,
            "--state",
            "SUCCEEDED",
            "--to",
            "NorthEurope",
            "-o",
            "json",
        )
    )
    assert [j["id"] for j in listed["value"]] == [second["id"], first["id"]], "newest first"
    table = rpcopy(cli_env, "list", "--source-collection", source.collection_id)
    assert table.returncode == 0
    assert second["id"] in table.stdout
    assert "Succeeded" in table.stdout


def test_cancel_a_waiting_copy(cli_env: dict[str, str], stack: Stack) -> None:
    # The newer restore point waits behind the older one's copy (one copy per pair at a time),
    # so the cancel always finds it in flight.
    source = seed_source(stack.arm_endpoint, data_disks=1, used_gb=100, restore_points=2)
    older, newer = source.restore_point_ids
    rpcopy(cli_env, "copy", older, "--to", "westeurope", "-o", "json")
    waiting = as_json(rpcopy(cli_env, "copy", newer, "--to", "westeurope", "-o", "json"))
    assert waiting["state"] == "Waiting"
    cancelled = rpcopy(cli_env, "cancel", waiting["id"])
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    assert "Cancelled" in cancelled.stdout
    job = as_json(rpcopy(cli_env, "cancel", waiting["id"], "-o", "json"))  # idempotent
    assert job["state"] == "Cancelled"
    assert job["copy"] == {"status": "none"}
    # A copy that is over cannot be cancelled: the problem's title and detail, exit 3.
    done = as_json(rpcopy(cli_env, "copy", older, "--to", "westeurope", "-o", "json"))
    rpcopy(cli_env, "status", done["id"], "--watch", "--interval", "0.5")
    refused = rpcopy(cli_env, "cancel", done["id"])
    assert refused.returncode == 3
    assert "Error (HTTP 409): Copy job already ended" in refused.stderr
    assert "only a job that has not ended can be cancelled" in refused.stderr


def test_protection_plan_and_preflight(cli_env: dict[str, str]) -> None:
    protection = rpcopy(cli_env, "protection", "-o", "json")
    assert protection.returncode == 0, protection.stderr
    assert "pairs" in as_json(protection)
    assert rpcopy(cli_env, "protection").returncode == 0

    plan = rpcopy(cli_env, "plan", "--output", "json")
    assert plan.returncode == 0, plan.stderr
    assert as_json(plan)["dryRun"] is True
    assert rpcopy(cli_env, "plan").returncode == 0

    preflight = rpcopy(cli_env, "preflight", "-o", "json")
    report = as_json(preflight)
    assert preflight.returncode == (0 if report["passed"] else 1)
    table = rpcopy(cli_env, "preflight")
    assert table.returncode == preflight.returncode
    assert "storage" in table.stdout.lower()


def test_drills_against_this_app(cli_env: dict[str, str]) -> None:
    """Restore drills come with a newer app: an app without them says so, clearly."""
    result = rpcopy(cli_env, "drills", "-o", "json")
    if result.returncode == 0:
        assert isinstance(as_json(result)["drills"], list)
    else:
        assert result.returncode == 3, result.stderr
        assert "This app has no restore drills" in result.stderr
        assert as_json(result)["status"] == 404


def test_errors_are_the_problem_title_and_detail_with_a_non_zero_exit(
    cli_env: dict[str, str], stack: Stack, tmp_path: Path
) -> None:
    missing = rpcopy(cli_env, "status", "0" * 32)
    assert missing.returncode == 3
    assert "Error (HTTP 404): Copy job not found" in missing.stderr
    assert f"no copy job has id {'0' * 32}" in missing.stderr

    bad = rpcopy(cli_env, "copy", "/subscriptions/x/rp", "--to", "atlantis", "-o", "json")
    assert bad.returncode == 3
    assert "Invalid copy request" in bad.stderr
    assert "- sourceRestorePointId:" in bad.stderr
    assert as_json(bad)["status"] == 400

    wrong_key = rpcopy({**cli_env, "RPCOPY_KEY": "not-the-key"}, "list")
    assert wrong_key.returncode == 3
    assert "HTTP 401" in wrong_key.stderr

    nowhere = {k: v for k, v in cli_env.items() if k != "RPCOPY_ENDPOINT"}
    unset = rpcopy(nowhere, "list")
    assert unset.returncode == 2
    assert "--endpoint" in unset.stderr

    # A profile instead of the environment.
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        f'default = "local"\n[profiles.local]\nendpoint = "{stack.host_url}/api"\n'
        f'key = "{stack.options.function_key}"\n',
        encoding="utf-8",
    )
    bare = {k: v for k, v in nowhere.items() if k != "RPCOPY_KEY"}
    by_profile = rpcopy({**bare, "RPCOPY_CONFIG": str(profiles)}, "list", "-o", "json")
    assert by_profile.returncode == 0, by_profile.stderr
    assert "value" in as_json(by_profile)
    unknown = rpcopy({**bare, "RPCOPY_CONFIG": str(profiles)}, "list", "--profile", "prod")
    assert unknown.returncode == 2
    assert "no profile 'prod'" in unknown.stderr
