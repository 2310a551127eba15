"""`python -m arm_emulator` as a real process: start time, time scale, config file, and dropped
connections over a real socket (no HTTP response at all, not a 500)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from arm_emulator.control import EmulatorControl
from devstack.processes import ManagedProcess, free_port, python_module_process, wait_until

from .conftest import API, AUTH, rp_path, rpc_path, standard_scenario


class Server:
    def __init__(self, proc: ManagedProcess, port: int, startup: float) -> None:
        self.proc = proc
        self.port = port
        self.startup = startup
        self.base = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("emulator")
    config = workdir / "config.json"
    config.write_text(
        json.dumps(
            {
                "seedScenario": standard_scenario(3).to_dict(),
                "faults": [{"operation": "VirtualMachines_Get", "kind": "http", "status": 503}],
            }
        )
    )
    port = free_port()
    args = [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--time-scale",
        "600",
        "--seed",
        "5",
        "--config",
        str(config),
    ]
    proc = python_module_process("arm-emulator", "arm_emulator", args, log_path=workdir / "emu.log")
    started = time.monotonic()
    proc.start()
    try:
        proc.wait_http_ok(f"http://127.0.0.1:{port}/_emulator/health", timeout=15)
        startup = time.monotonic() - started
        yield Server(proc, port, startup)
    finally:
        proc.stop()
    assert not proc.running()


def test_starts_fast_and_answers(server: Server) -> None:
    assert server.startup < 2.0, f"startup took {server.startup:.2f}s"
    r = httpx.get(f"{server.base}{rp_path('rpc1', 'rp1')}?api-version={API}", headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "server" not in r.headers


def test_config_file_faults_and_seed(server: Server) -> None:
    vm = rpc_path("rpc1").replace("restorePointCollections/rpc1", "virtualMachines/vm1")
    vm = vm.replace("Microsoft.Compute/", "Microsoft.Compute/")
    r = httpx.get(f"{server.base}{vm}?api-version={API}", headers=AUTH)
    assert r.status_code == 503


def test_time_scale_completes_lros_without_clock_calls(server: Server) -> None:
    with EmulatorControl(server.base) as ctl:
        assert ctl.clock()["timeScale"] == 600
        body = {"location": "westus", "properties": {"source": {"id": rpc_path("rpc1")}}}
        r = httpx.put(
            f"{server.base}{rpc_path('rpc1-dr')}?api-version={API}", json=body, headers=AUTH
        )
        assert r.status_code in (200, 201)
        copy = {"properties": {"sourceRestorePoint": {"id": rp_path("rpc1", "rp1")}}}
        r = httpx.put(
            f"{server.base}{rp_path('rpc1-dr', 'c1')}?api-version={API}", json=copy, headers=AUTH
        )
        assert r.status_code == 201, r.text
        op = r.headers["azure-asyncoperation"]
        assert op.startswith(server.base)  # built from the base URL the client used

        def succeeded() -> bool:
            return httpx.get(op, headers=AUTH).json()["status"] == "Succeeded"

        wait_until(succeeded, timeout=5, what="the copy LRO to succeed at time scale 600")


def _raw_get(port: int, path: str) -> bytes:
    request = (
        f"GET {path}?api-version={API} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Authorization: Bearer x\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks += data
        except ConnectionResetError:
            pass
        return chunks


def test_dropped_connection_sends_no_http_response(server: Server) -> None:
    with EmulatorControl(server.base) as ctl:
        ctl.add_fault(operation="RestorePoints_Get", kind="drop", times=1, id="drop-get")
        assert _raw_get(server.port, rp_path("rpc1", "rp2")) == b""  # not even a status line
        ctl.add_fault(operation="RestorePoints_Get", kind="drop", times=1, id="drop-get-2")
        with pytest.raises(httpx.TransportError):  # nor does an HTTP client get one
            httpx.get(f"{server.base}{rp_path('rpc1', 'rp2')}?api-version={API}", headers=AUTH)
        ok = httpx.get(f"{server.base}{rp_path('rpc1', 'rp2')}?api-version={API}", headers=AUTH)
        assert ok.status_code == 200  # the server survived
        log = ctl.requests("RestorePoints_Get")
        assert [e["status"] for e in log[-3:]] == [None, None, 200]
        ctl.clear_faults()


def test_drop_after_processing_loses_only_the_response(server: Server) -> None:
    with EmulatorControl(server.base) as ctl:
        ctl.add_fault(operation="RestorePoints_Create", kind="drop", phase="after", times=1)
        with pytest.raises(httpx.TransportError):
            httpx.put(
                f"{server.base}{rp_path('rpc1', 'lost')}?api-version={API}", json={}, headers=AUTH
            )
        r = httpx.get(f"{server.base}{rp_path('rpc1', 'lost')}?api-version={API}", headers=AUTH)
        assert r.status_code == 200  # the PUT was processed; only its answer was lost
        ctl.clear_faults()


def test_cli_rejects_bad_config(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text('{"noSuchKey": 1}')
    done = subprocess.run(
        [sys.executable, "-m", "arm_emulator", "--config", str(bad), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2
    assert "noSuchKey" in done.stderr
