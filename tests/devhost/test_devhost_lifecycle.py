"""Admin API, startup failures and clean shutdown of devhost processes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from devstack.processes import REPO_ROOT, Azurite, wait_until
from tests.devhost.devhost_support import (
    FUNCTION_KEY,
    MASTER_KEY,
    SAMPLE_APP,
    DevhostProcess,
    ResultCollector,
    base_env,
    get,
    post,
    start_devhost,
    token,
)


def test_status_reports_running(devhost: DevhostProcess) -> None:
    response = get(devhost.url("/admin/host/status"))
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "Running"
    assert "work_sync" in body["functions"]


def test_admin_invoke_queue_function(devhost: DevhostProcess, results: ResultCollector) -> None:
    body = f"admin {token()}"
    response = post(
        devhost.url("/admin/functions/work_async"),
        json={"input": body},
        headers={"x-functions-key": MASTER_KEY},
    )
    assert response.status_code == 202
    results.wait_for(
        lambda r: r.get("fn") == "work_async" and r.get("body") == body, what="admin-invoked run"
    )


def test_admin_invoke_timer_function(
    devhost: DevhostProcess, timer_results: ResultCollector
) -> None:
    pid = devhost.process.pid
    before = len(
        timer_results.wait_for(
            lambda r: r.get("fn") == "on_startup" and r.get("pid") == pid, what="startup run"
        )
    )
    response = post(
        devhost.url("/admin/functions/on_startup"), json={}, params={"code": MASTER_KEY}
    )
    assert response.status_code == 202
    timer_results.wait_for(
        lambda r: r.get("fn") == "on_startup" and r.get("pid") == pid,
        count=before + 1,
        what="the admin-invoked timer run",
    )


@pytest.mark.parametrize("key", [None, FUNCTION_KEY, "wrong"])
def test_admin_invoke_needs_the_master_key(devhost: DevhostProcess, key: str | None) -> None:
    headers = {"x-functions-key": key} if key else {}
    response = post(
        devhost.url("/admin/functions/work_async"), json={"input": "x"}, headers=headers
    )
    assert response.status_code == 401


def test_admin_invoke_unknown_function_is_404(devhost: DevhostProcess) -> None:
    response = post(
        devhost.url("/admin/functions/nope"), json={}, headers={"x-functions-key": MASTER_KEY}
    )
    assert response.status_code == 404


def _run_devhost_expecting_failure(
    env: dict[str, str], port: int = 0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devhost", "--app-dir", str(SAMPLE_APP), "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_startup_fails_clearly_on_a_missing_setting(azurite: Azurite) -> None:
    import os

    env = {**os.environ, **base_env(azurite.connection_string)}
    del env["TICK_SCHEDULE"]
    result = _run_devhost_expecting_failure(env)
    assert result.returncode == 2
    assert "'%TICK_SCHEDULE%' does not resolve to a value" in result.stderr
    assert "function 'tick'" in result.stderr


def test_startup_fails_clearly_on_a_missing_connection(azurite: Azurite) -> None:
    import os

    env = {**os.environ, **base_env(azurite.connection_string)}
    del env["AzureWebJobsStorage"]
    result = _run_devhost_expecting_failure(env)
    assert result.returncode == 2
    assert "'AzureWebJobsStorage' is not set" in result.stderr


def test_startup_fails_clearly_on_a_busy_port(azurite: Azurite) -> None:
    import os

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, **base_env(azurite.connection_string)}
        result = _run_devhost_expecting_failure(env, port)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_sigterm_lets_in_flight_work_finish_and_exits_0(azurite: Azurite, tmp_path: Path) -> None:
    host = start_devhost(base_env(azurite.connection_string), tmp_path / "term.log")
    try:
        outcome: dict[str, httpx.Response] = {}

        def call_slow() -> None:
            outcome["response"] = httpx.get(
                host.url("/api/slow"), params={"seconds": "1.5"}, timeout=10
            )

        caller = threading.Thread(target=call_slow)
        caller.start()
        host.wait_log("Executing 'Functions.slow'")
        assert host.process.popen is not None
        host.process.popen.send_signal(signal.SIGTERM)
        caller.join(timeout=10)
        assert outcome["response"].status_code == 200
        assert outcome["response"].text == "slow done"
        wait_until(lambda: not host.process.running(), timeout=10, what="devhost to exit")
        assert host.process.popen.returncode == 0
        assert "Host stopped" in host.log_text()
    finally:
        host.stop()
