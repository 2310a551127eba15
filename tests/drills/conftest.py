"""The small versions of the reliability drills (`python -m drills NAME` runs the full ones and
records their results). Each starts its own stack on free loopback ports and stops it by PID;
none writes to benchmarks/results/."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/drills/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
