"""`make demo` and `make run` as a user runs them: a subprocess, its output, its exit code, and
nothing left running afterwards."""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from devstack.processes import REPO_ROOT

pytestmark = pytest.mark.slow

DEMO_TIMEOUT = 180  # the demo takes about a minute; a 2-core CI machine may be slower
READY_TIMEOUT = 90


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _printed_pids(output: str) -> dict[str, int]:
    """The `name  pid N` lines both commands print for every process they start."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^\s+(\S+)\s+pid (\d+)$", output, re.M)}


@contextlib.contextmanager
def devstack(*args: str) -> Iterator[subprocess.Popen[str]]:
    """`python -m devstack ...`; whatever happens in the test, it and its children end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    children: list[psutil.Process] = []
    try:
        yield proc
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            children = psutil.Process(proc.pid).children(recursive=True)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for child in children:  # only if the command failed to stop them itself
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def test_demo_copies_manually_and_through_event_grid_then_stops_everything(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "demo"
    with devstack("demo", "--workdir", str(workdir)) as proc:
        try:
            output, _ = proc.communicate(timeout=DEMO_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            output, _ = proc.communicate(timeout=30)
            pytest.fail(f"the demo took longer than {DEMO_TIMEOUT} s:\n{output}")
    assert proc.returncode == 0, output

    # Part 1: the manual copy's completion event, in full.
    part1, _, part2 = output.partition("== Part 2")
    assert "<- 202 Accepted   Location: /api/copies/" in part1
    assert '"type": "com.example.rpcopy.copy.succeeded"' in part1
    assert '"trigger": "http"' in part1
    assert part1.count('"code": "ReplicationState/succeeded"') == 3, "one per disk"
    # Part 2: two copies nobody asked for by hand, one per policy region, both completed.
    assert part2.count('"type": "com.example.rpcopy.copy.succeeded"') == 2, output
    assert part2.count('"trigger": "eventgrid"') == 2
    assert re.search(r'"region": "westus"', part2)
    assert re.search(r'"region": "northeurope"', part2)
    assert "GET /api/protection" in part2
    # Part 3: a restore drill of the copy, its disks created, verified and removed.
    part3 = output.partition("== Part 3")[2]
    assert "POST /api/drills" in part3
    assert "Drill Succeeded; disks of this drill left in the emulator: 0" in part3
    assert "drill.succeeded" in part3
    assert re.search(
        r"restore drill .* 3 disks created, 3 verified .* 3 removed; Succeeded", output
    )
    assert "Done in" in output

    pids = _printed_pids(output)
    assert set(pids) == {"azurite", "arm-emulator", "function-host-0"}, output
    assert all(_gone(pid) for pid in pids.values()), pids
    assert {p.name for p in workdir.glob("*.log")} >= {"azurite.log", "emulator.log", "host-0.log"}


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Stdout up to and including the line that starts with `marker` (or fail, with what came)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line.startswith(marker):
            return "".join(seen)
    pytest.fail(f"no line starting {marker!r} within {timeout:.0f} s:\n{''.join(seen)}")


def test_run_serves_the_printed_urls_until_sigint_then_stops_every_child(
    tmp_path: Path,
) -> None:
    with devstack("run", "--workdir", str(tmp_path / "run")) as proc:
        output = _read_until(proc, "Ready.", READY_TIMEOUT)
        host = re.search(r"function host 0\s+(http://\S+)", output)
        key = re.search(r"function key\s+(\S+)", output)
        emulator = re.search(r"emulator control\s+(http://\S+)", output)
        assert host, output
        assert key, output
        assert emulator, output

        response = httpx.get(
            f"{host[1]}/api/copies", headers={"x-functions-key": key[1]}, timeout=30
        )
        assert response.status_code == 200, response.text
        assert response.json()["value"] == []
        assert httpx.get(f"{emulator[1]}health", timeout=30).json()["status"] == "ok"

        pids = _printed_pids(output)
        assert set(pids) == {"azurite", "arm-emulator", "function-host-0"}, output
        children = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        assert set(pids.values()) <= children

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    assert all(_gone(pid) for pid in pids.values()), pids
