"""rpcopy_cli, the pure parts: where the app is (flags, environment, profiles), how the API's
answers are shown (progress lines, tables), problem+json turned into errors, and the commands'
exit codes when the app is never reached (Typer's CliRunner)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from rpcopy_cli import render
from rpcopy_cli.app import app
from rpcopy_cli.client import Api, ApiProblem, problem_from
from rpcopy_cli.config import ConfigProblem, Target, normalize_endpoint, resolve
from rpcopy_cli.progress import FollowTimeout, ProgressView, follow
from rpcopy_cli.session import EXIT_API, EXIT_USAGE

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _profiles(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "profiles.toml"
    path.write_text(text, encoding="utf-8")
    return {"RPCOPY_CONFIG": str(path)}


PROFILES = """
default = "local"
[profiles.local]
endpoint = "http://127.0.0.1:7071/"
key = "local-key"
[profiles.prod]
endpoint = "https://func-rpcopy.azurewebsites.net/api"
key = "prod-key"
"""


@pytest.mark.parametrize(
    ("flags", "env", "expected"),
    [
        # flags beat the environment, which beats the profile
        (
            {"endpoint": "https://a.example", "key": "k1"},
            {"RPCOPY_ENDPOINT": "https://b.example", "RPCOPY_KEY": "k2"},
            Target("https://a.example", "k1", "local"),
        ),
        (
            {},
            {"RPCOPY_ENDPOINT": "https://b.example/", "RPCOPY_KEY": "k2"},
            Target("https://b.example", "k2", "local"),
        ),
        ({}, {}, Target("http://127.0.0.1:7071", "local-key", "local")),
        (
            {"profile": "prod"},
            {},
            Target("https://func-rpcopy.azurewebsites.net", "prod-key", "prod"),
        ),
        (
            {},
            {"RPCOPY_PROFILE": "prod"},
            Target("https://func-rpcopy.azurewebsites.net", "prod-key", "prod"),
        ),
    ],
)
def test_where_the_app_is(
    tmp_path: Path, flags: dict[str, str], env: dict[str, str], expected: Target
) -> None:
    environment = {**_profiles(tmp_path, PROFILES), **env}
    found = resolve(
        endpoint=flags.get("endpoint"),
        key=flags.get("key"),
        profile=flags.get("profile"),
        env=environment,
    )
    assert found == expected


@pytest.mark.parametrize(
    ("flags", "text", "message"),
    [
        ({}, "", "--endpoint"),
        ({"profile": "staging"}, PROFILES, "no profile 'staging'"),
        ({}, "profiles = [", "not a valid TOML"),
        ({}, "profiles = 3", "[profiles.NAME]"),
        ({"endpoint": "ftp://x"}, "", "not an http(s) URL"),
        ({"endpoint": "https://x.example?code=abc"}, "", "no query"),
        # the key must not travel in the clear to another machine
        ({"endpoint": "http://app.example", "key": "k"}, "", "plain http"),
    ],
)
def test_where_the_app_is_refused(
    tmp_path: Path, flags: dict[str, str], text: str, message: str
) -> None:
    with pytest.raises(ConfigProblem, match=re.escape(message)):
        resolve(
            endpoint=flags.get("endpoint"),
            key=flags.get("key"),
            profile=flags.get("profile"),
            env=_profiles(tmp_path, text),
        )


def test_the_default_profiles_file_is_under_the_config_home(tmp_path: Path) -> None:
    home = tmp_path / "cfg"
    (home / "rpcopy").mkdir(parents=True)
    (home / "rpcopy" / "profiles.toml").write_text(PROFILES, encoding="utf-8")
    found = resolve(endpoint=None, key=None, profile=None, env={"XDG_CONFIG_HOME": str(home)})
    assert found.endpoint == "http://127.0.0.1:7071"


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("https://app.example/", "https://app.example"),
        ("https://app.example/api", "https://app.example"),
        ("http://localhost:7071/api/", "http://localhost:7071"),
    ],
)
def test_normalize_endpoint(raw: str, origin: str) -> None:
    assert normalize_endpoint(raw) == origin


def test_loopback_http_may_carry_the_key() -> None:
    for url in ("http://127.0.0.1:7071", "http://localhost:1", "http://[::1]:9"):
        assert resolve(endpoint=url, key="k", profile=None, env={}).key == "k"


# -- the API client ----------------------------------------------------------------------------


def _api(handler: Any, key: str | None = "secret") -> Api:
    return Api(Target("https://app.example", key), transport=httpx.MockTransport(handler))


def test_the_key_goes_in_a_header_never_in_the_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"value": []})

    with _api(handler) as api:
        api.get("/api/copies", state="failed")
    (request,) = seen
    assert request.headers["x-functions-key"] == "secret"
    assert "secret" not in str(request.url)
    assert request.url.params["state"] == "failed"


def test_problem_json_becomes_its_title_and_detail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "type": "about:blank",
            "title": "Invalid copy request",
            "status": 400,
            "detail": "targetRegion: is required",
            "errors": [{"field": "targetRegion", "message": "is required"}],
        }
        return httpx.Response(400, json=body, headers={"content-type": "application/problem+json"})

    with _api(handler) as api, pytest.raises(ApiProblem) as info:
        api.call("POST", "/api/copies", body={}, expect=(202,))
    problem = info.value
    assert (problem.status, problem.title) == (400, "Invalid copy request")
    assert problem.detail == "targetRegion: is required"
    assert problem.errors == [{"field": "targetRegion", "message": "is required"}]
    assert str(problem) == "Invalid copy request: targetRegion: is required"


def test_an_answer_that_is_not_problem_json_still_says_what_came() -> None:
    response = httpx.Response(
        401, text="", request=httpx.Request("GET", "https://app.example/api/copies")
    )
    problem = problem_from(response)
    assert problem.title == "HTTP 401 Unauthorized"
    assert "/api/copies" in problem.detail


def test_an_app_that_cannot_be_reached() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with _api(handler) as api, pytest.raises(ApiProblem, match="Cannot reach the app"):
        api.get("/api/protection")


# -- rendering -------------------------------------------------------------------------------


def _job(**changes: Any) -> dict[str, Any]:
    job = {
        "id": "a" * 32,
        "state": "Replicating",
        "run": 1,
        "targetRegion": "westus",
        "percentComplete": 42.5,
        "expectedFinish": (NOW + timedelta(minutes=4, seconds=10)).isoformat(),
        "disks": [
            {"name": f"vm1-osdisk_{GUID}", "percent": 40.0, "code": "ReplicationState/inProgress"},
            {"name": f"vm1-data_{GUID}", "percent": 45.0, "code": "ReplicationState/inProgress"},
        ],
    }
    return {**job, **changes}


def test_progress_lines_one_per_job_and_one_per_disk() -> None:
    rows = render.progress_lines(_job(), "westus", NOW)
    assert [key for key, _ in rows] == [
        f"{'a' * 32}:job",
        f"{'a' * 32}:vm1-osdisk",
        f"{'a' * 32}:vm1-data",
    ]
    head = rows[0][1]
    assert "Replicating" in head
    assert "42.5 % overall" in head
    assert "expected finish 12:04:10 UTC (in 4m 10s)" in head
    assert rows[1][1].endswith("[########............]  40 % copying")
    # disk names line up: the bars start in the same column
    assert rows[1][1].index("[") == rows[2][1].index("[")


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        (
            {
                "state": "WaitingForBudget",
                "nextAttemptAt": (NOW + timedelta(minutes=20)).isoformat(),
            },
            "copy-PUT budget spent; next attempt 12:20:00 UTC (in 20m 00s)",
        ),
        (
            {"state": "RerunPending", "nextRunAt": NOW.isoformat()},
            "run 2 starts 12:00:00 UTC (due)",
        ),
        ({"state": "Waiting", "detail": "waiting for job b"}, "waiting for job b"),
        ({"state": "Succeeded", "percentComplete": 100.0}, "100.0 % overall"),
    ],
)
def test_progress_says_what_the_job_waits_for(changes: dict[str, Any], text: str) -> None:
    head = render.progress_lines(_job(**changes), "westus", NOW)[0][1]
    assert text in head
    if changes["state"] == "Succeeded":
        assert "expected finish" not in head


def test_the_demo_may_name_disks_its_own_way() -> None:
    rows = render.progress_lines(_job(), "westus", NOW, lambda name: f"os     {name[:3]}")
    assert "os     vm1 [" in rows[1][1]


@pytest.mark.parametrize(
    ("job", "reason"),
    [
        (
            {
                "state": "Failed",
                "error": {"code": "ReplicationFailed", "message": "disk os", "stage": "poll"},
            },
            "ReplicationFailed: disk os (stage poll)",
        ),
        (
            {"state": "Cancelled", "detail": "cancelled in state Waiting"},
            "cancelled in state Waiting",
        ),
        ({"state": "Superseded"}, "the job ended Superseded"),
    ],
)
def test_outcome_reason(job: dict[str, Any], reason: str) -> None:
    assert render.outcome_reason(job) == reason


def _text(renderable: Any) -> str:
    console = Console(file=io.StringIO(), width=250, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_tables_show_what_matters() -> None:
    failed = _job(state="Failed", error={"code": "ReplicationFailed", "message": "lun 0"})
    assert "ReplicationFailed: lun 0" in _text(render.jobs_table([failed]))
    shown = _text(render.job_table(_job()))
    assert "disk vm1-osdisk" in shown
    assert "[########............]  40 % copying" in shown, "the bar is text, not Rich markup"
    runs = {"id": "a", "value": [{"run": 1, "state": "Cancelled", "detail": "by hand"}]}
    assert "by hand" in _text(render.runs_table(runs))
    pair = {
        "sourceCollectionId": "/x/rpc1",
        "targetRegion": "westus",
        "rpoState": "at-risk",
        "rpoMinutes": 60,
        "ageMinutes": 50.0,
        "inFlight": [{}],
        "reason": "copy waits",
    }
    protection = _text(render.protection_table({"pairs": [pair]}))
    assert "at-risk" in protection
    assert "50.0 m" in protection
    plan = {
        "pairs": [
            {
                "sourceCollectionId": "/x/rpc1",
                "targetRegion": "westus",
                "plan": {
                    "copies": [{"sourceRestorePointId": "/x/rp2", "reason": "missing"}],
                    "skipped": [
                        {
                            "sourceRestorePointId": "/x/rp1",
                            "reason": "in-flight",
                            "message": "copy job j is Replicating",
                        }
                    ],
                },
                "retention": {
                    "deletions": [{"targetRestorePointId": "/y/old", "reason": "keepLast"}]
                },
            }
        ]
    }
    shown = _text(render.plan_table(plan))
    assert "copy" in shown
    assert "skip: in-flight" in shown
    assert "delete" in shown
    report = {"passed": False, "checks": [{"name": "storage", "status": "failed", "fix": "x"}]}
    assert "preflight FAILED" in _text(render.preflight_table(report))
    drill = {
        "id": "d1",
        "state": "Succeeded",
        "pair": {"sourceCollectionId": "/x/rpc1", "targetRegion": "westus"},
        "disks": [{}, {}],
    }
    assert "rpc1 -> westus" in _text(render.drills_table([drill]))


# -- following jobs ------------------------------------------------------------------------


def test_follow_prints_only_changes_in_a_log_and_stops_when_every_job_ended() -> None:
    states = iter(
        [_job(), _job(), _job(percentComplete=90.0), _job(state="Succeeded", percentComplete=100.0)]
    )
    out = io.StringIO()
    view = ProgressView(Console(file=out, width=200))
    done = follow(
        lambda _: next(states),
        ["a" * 32],
        {"a" * 32: "westus"},
        view,
        timeout=None,
        sleep=lambda _: None,
    )
    assert done[0]["state"] == "Succeeded"
    lines = out.getvalue().splitlines()
    heads = [line for line in lines if "overall" in line]
    assert len(heads) == 3, "the repeated answer printed nothing"
    assert "Succeeded" in heads[-1]


def test_follow_gives_up_after_its_timeout() -> None:
    view = ProgressView(Console(file=io.StringIO()))
    with pytest.raises(FollowTimeout, match="Replicating"):
        follow(lambda _: _job(), ["a" * 32], {}, view, timeout=0.0, sleep=lambda _: None)


# -- the commands, before any HTTP --------------------------------------------------------


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("RPCOPY_ENDPOINT", "RPCOPY_KEY", "RPCOPY_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RPCOPY_CONFIG", str(tmp_path / "none.toml"))
    return CliRunner()


def test_every_command_says_where_it_needs_the_app(runner: CliRunner) -> None:
    for args in (
        ["list"],
        ["status", "x"],
        ["copy", "x", "--to", "westus"],
        ["protection"],
        ["plan"],
        ["preflight"],
        ["retry", "x"],
        ["cancel", "x"],
        ["runs", "x"],
        ["drills"],
        ["drills", "start", "--to", "westus"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == EXIT_USAGE, (args, result.output)
        assert "--endpoint" in result.output


def test_bad_options_are_usage_errors(runner: CliRunner) -> None:
    assert runner.invoke(app, ["list", "--output", "yaml"]).exit_code == 2
    assert runner.invoke(app, ["copy", "x"]).exit_code == 2  # --to is required
    assert runner.invoke(app, ["list", "--page-size", "0"]).exit_code == 2


def test_an_unreachable_app_is_an_api_error(runner: CliRunner) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    result = runner.invoke(app, ["list", "--endpoint", "http://127.0.0.1:9"])
    assert result.exit_code == EXIT_API
    assert "Cannot reach the app" in result.output


def test_on_a_terminal_the_progress_is_a_live_table_of_bars() -> None:
    states = iter([_job(), _job(state="Succeeded", percentComplete=100.0)])
    out = io.StringIO()
    view = ProgressView(Console(file=out, force_terminal=True, width=120, color_system=None))
    done = follow(
        lambda _: next(states),
        ["a" * 32],
        {"a" * 32: "westus"},
        view,
        timeout=None,
        sleep=lambda _: None,
    )
    assert done[0]["state"] == "Succeeded"
    drawn = out.getvalue()
    assert "vm1-osdisk" in drawn
    assert "━" in drawn  # Rich's progress bar
    assert "Succeeded" in drawn
    assert view.live is None, "the live display is stopped when the jobs end"


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        (httpx.Response(404), "This app has no restore drills"),  # the host: no such route
        (
            httpx.Response(404, json={"title": "Collection not found", "detail": "no rpc1"}),
            "Collection not found",  # the app's own 404 is passed on as it is
        ),
    ],
)
def test_drills_on_an_app_without_them(answer: httpx.Response, title: str) -> None:
    from rpcopy_cli.app import _drills_call
    from rpcopy_cli.session import Output, Session

    session = Session(_api(lambda request: answer), Output.TABLE, Console(), Console())
    with pytest.raises(ApiProblem) as info:
        _drills_call(session, "GET")
    assert info.value.title == title
    assert info.value.status == 404


def test_the_console_script_is_declared_and_resolves() -> None:
    """`make setup` installs the project (`pip install -e . --no-deps`): .venv/bin/rpcopy."""
    import importlib
    import tomllib

    project = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    module, _, name = project["project"]["scripts"]["rpcopy"].partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    assert project["tool"]["setuptools"]["packages"] == ["rpcopy_cli"]
    makefile = (Path(__file__).parents[3] / "Makefile").read_text()
    assert "pip install -q --disable-pip-version-check --no-deps -e ." in makefile


def test_list_sends_the_api_filters_and_follows_every_page(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import rpcopy_cli.session

    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if "cursor" in request.url.params:
            return httpx.Response(200, json={"value": [_job(id="b" * 32)]})
        return httpx.Response(200, json={"value": [_job()], "nextLink": "/api/copies?cursor=x"})

    real = rpcopy_cli.session.Api
    monkeypatch.setattr(
        rpcopy_cli.session,
        "Api",
        lambda target: real(target, transport=httpx.MockTransport(handler)),
    )
    result = runner.invoke(
        app,
        [
            "list",
            "--endpoint",
            "https://app.example",
            "--state",
            "failed",
            "--to",
            "westus",
            "--source-vm",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1",
            "--source-collection",
            "/x/rpc",
            "--all",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert [j["id"] for j in json.loads(result.stdout)["value"]] == ["a" * 32, "b" * 32]
    first = seen[0].params
    assert (first["state"], first["targetRegion"], first["sourceCollectionId"]) == (
        "failed",
        "westus",
        "/x/rpc",
    )
    assert first["sourceVmId"].endswith("/virtualMachines/vm1")
    assert seen[1].params["cursor"] == "x"
