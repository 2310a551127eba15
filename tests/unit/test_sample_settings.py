"""local.settings.sample.json stays complete: every setting the app reads is in it, and its
values are valid (the app starts on them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _sample() -> dict[str, str]:
    return json.loads((REPO / "local.settings.sample.json").read_text())["Values"]


def test_every_setting_the_app_reads_is_in_the_sample() -> None:
    source = (REPO / "shared" / "settings.py").read_text()
    read = set(re.findall(r'env, "([A-Z][A-Z0-9_]+)"', source)) | {"STORAGE_CONNECTION"}
    missing = sorted(read - set(_sample()))
    assert not missing, f"add these to local.settings.sample.json: {missing}"


def test_the_sample_values_are_valid() -> None:
    settings = Settings.from_env(_sample())
    assert settings.arm.credential == "static"
    assert settings.arm.endpoint.startswith("http://127.0.0.1")
    assert settings.http_auth_level == "function"


def test_a_relative_policy_file_is_found_from_the_app_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In Azure the worker's current directory is not guaranteed to be the app root."""
    from shared.services import load_policies

    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"POLICY_FILE": "tests/fixtures/policies/valid-full.json"})
    assert not load_policies(settings).is_empty
