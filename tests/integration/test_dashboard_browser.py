"""The status page in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven
by Selenium) against the local stack: the key is asked for and sent as a header, a copy's
per-disk progress moves on the page until it is done, and nothing but the app is ever reached
(the browser resolves no other host). A screenshot is kept in test-artifacts/.

Without Chromium this FAILS, saying how to install it (`make browser`): it never skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import FAST_APP_SETTINGS, Stack, StackOptions, running_stack
from tests.support import SOURCE_GROUP, SUBSCRIPTION, TARGET_GROUP, TARGET_REGION, seed_source
from tests.support import wait_for as wait_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("RPCOPY_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RPCOPY_CHROMEDRIVER", "/usr/bin/chromedriver")
HOW_TO_INSTALL = (
    "the status page test needs Chromium and its driver from Debian: run `make browser` "
    "(as root: apt-get install -y --no-install-recommends chromium chromium-driver), or point "
    "RPCOPY_CHROMIUM / RPCOPY_CHROMEDRIVER at them"
)
RPO_MINUTES = 60
# Real time (so ages mean what they say); a 20 GB disk replicates in about 15 s, progress
# published every second: the page can be seen moving.
EMULATOR_CONFIG = {
    "progressIntervalSeconds": 1,
    "replicationBandwidthMbps": 1400,
    "copyLroSeconds": 0.3,
    "localCreateSeconds": 0.3,
    "deleteSeconds": 0.3,
}
POLICY = {
    "version": 1,
    "policies": [
        {
            "name": "dashboard",
            "match": {"subscriptionId": SUBSCRIPTION, "resourceGroup": SOURCE_GROUP},
            "targets": [
                {"region": TARGET_REGION, "resourceGroup": TARGET_GROUP, "rpoMinutes": RPO_MINUTES}
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def page_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = Path(tmp_path_factory.mktemp("dashboard-stack"))
    (workdir / "policy.json").write_text(json.dumps(POLICY))
    (workdir / "emulator.json").write_text(json.dumps(EMULATOR_CONFIG))
    settings = {
        **FAST_APP_SETTINGS,
        "POLICY_FILE": str(workdir / "policy.json"),
        "SWEEP_SCHEDULE": "0 0 0 1 1 *",  # this test requests its copy itself
    }
    options = StackOptions(
        time_scale=1.0,
        app_settings=settings,
        emulator_config=workdir / "emulator.json",
        workdir=workdir,
    )
    with running_stack(options) as stack:
        # The subscription exists in the emulator once something is in it.
        seed_source(stack.arm_endpoint, data_disks=0)
        yield stack


def _require_chromium() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() or shutil.which(p))]
    if missing:
        pytest.fail(f"not found: {', '.join(missing)}; {HOW_TO_INSTALL}", pytrace=False)
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("selenium is not installed: make setup (requirements-dev.txt)", pytrace=False)


@pytest.fixture
def browser() -> Iterator[Callable[[], Any]]:
    """Starts Chromium when the test asks (so a missing browser FAILS the test itself)."""
    started: list[tuple[Any, str]] = []

    def launch() -> Any:
        _require_chromium()
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        profile = tempfile.mkdtemp(prefix="rpcopy-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1300,1500",
            f"--user-data-dir={profile}",
            # No host but loopback resolves: a page that needed the internet would break here.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        started.append((driver, profile))
        return driver

    yield launch
    for driver, profile in started:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# The page redraws itself every second: read the DOM in one script run (the page's own script
# cannot run in between), never through element handles that a redraw makes stale.
def _text(driver: Any, css: str) -> str:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map((e) => e.textContent).join(' ');",
        css,
    )


def _count(driver: Any, css: str) -> int:
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length;", css)


def _attr(driver: Any, css: str, name: str) -> str | None:
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1]);",
        css,
        name,
    )


def _disk_percents(driver: Any, job_id: str) -> list[int]:
    text = _text(driver, f'#inflight tr[data-job-id="{job_id}"] .disk')
    return [int(p) for p in re.findall(r"(\d+) %", text)]


def test_the_shell_needs_no_key_and_its_data_does(page_stack: Stack) -> None:
    with httpx.Client(base_url=page_stack.host_url, timeout=30) as anonymous:
        page = anonymous.get("/api/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert anonymous.get("/api/dashboard/data").status_code == 401
        assert anonymous.get("/api/openapi.json").status_code == 401
        keyed = {"x-functions-key": page_stack.options.function_key}
        data = anonymous.get("/api/dashboard/data", headers=keyed)
        assert data.status_code == 200, data.text


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """A line in pytest's own output, shown even when the test passes."""
    with capsys.disabled():
        print(f"\n{line}")


def test_the_page_shows_a_copy_moving_to_done(
    page_stack: Stack, browser: Callable[[], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    driver = browser()
    from selenium.webdriver.common.by import By

    key = page_stack.options.function_key
    # Made a minute ago: well within the RPO once copied.
    source = seed_source(page_stack.arm_endpoint, data_disks=1, used_gb=20, spacing_seconds=60)
    pair = f'#protection tr[data-pair="{source.collection_id}|{TARGET_REGION}"]'
    chart = f'#chart svg[data-pair="{source.collection_id}|{TARGET_REGION}"]'
    api = httpx.Client(base_url=page_stack.host_url, headers={"x-functions-key": key}, timeout=30)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    try:
        driver.get(f"{page_stack.host_url}/api/dashboard?refresh=1")
        form = wait_until(
            lambda: driver.find_element(By.ID, "keyform").is_displayed(),
            timeout=20,
            what="the key form",
        )
        assert form
        # A wrong key is refused, and the page asks again.
        driver.find_element(By.ID, "key").send_keys("not-the-key")
        driver.find_element(By.CSS_SELECTOR, "#keyform button").click()
        wait_until(lambda: "refused" in _text(driver, "#keyerror"), timeout=20, what="the refusal")
        driver.find_element(By.ID, "key").send_keys(key)
        driver.find_element(By.CSS_SELECTOR, "#keyform button").click()
        wait_until(lambda: _count(driver, pair), timeout=30, what="the pair's row")
        assert _attr(driver, pair, "data-rpo-state") == "at-risk", "no usable copy yet"

        response = api.post(
            "/api/copies",
            json={"sourceRestorePointId": source.restore_point_id, "targetRegion": TARGET_REGION},
        )
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]

        # Per-disk progress on the page, somewhere strictly between 0 and 100 %.
        seen: list[list[int]] = []

        def moving() -> bool:
            percents = _disk_percents(driver, job_id)
            if percents:
                seen.append(percents)
            return any(0 < p < 100 for p in percents)

        wait_until(moving, timeout=90, what=f"per-disk progress of {job_id} on the page")
        assert {len(percents) for percents in seen} == {2}, "an OS disk and one data disk"
        driver.save_screenshot(str(ARTIFACTS / "dashboard-in-flight.png"))

        # Then done: out of the copies in flight, in the finished list as Succeeded.
        def done() -> int:
            moving()  # the percentages seen on the way
            return _count(driver, f'#finished tr[data-job-id="{job_id}"][data-state="Succeeded"]')

        wait_until(
            done,
            timeout=120,
            what=f"{job_id} to show as Succeeded",
        )
        assert _count(driver, f'#inflight tr[data-job-id="{job_id}"]') == 0
        # The pair is protected now, and the chart draws its copy age under the RPO line.
        wait_until(
            lambda: _count(driver, f'{pair}[data-rpo-state="ok"]'),
            timeout=30,
            what="the pair to be ok",
        )
        assert _count(driver, f"{chart} path.age") == 1
        assert _count(driver, f"{chart} line.rpo") == 1
        assert job_id not in _text(driver, "#failures tbody")
        progress = sorted({p for percents in seen for p in percents})
        _report(capsys, f"per-disk percentages seen on the page: {progress}")
    finally:
        driver.save_screenshot(str(shot))
        _report(capsys, f"status page screenshot: {shot}")
        api.close()

    # The key never reached a URL: not the page's, not any the host logged.
    assert key not in driver.current_url
    for log in page_stack.workdir.rglob("*.log"):
        assert key not in log.read_text(errors="replace"), f"the key is in {log}"
    # The CSP let the page's own script and style run, and nothing was blocked or failed.
    console = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    refused = [m for m in console if "not-the-key" not in m and "401" not in m]
    assert refused == [], refused
