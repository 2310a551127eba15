"""Publish ticks at a per-copy phase (`progressPhase: random`) and jitter, both seeded."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import cast

import pytest

from arm_emulator import replication
from arm_emulator.config import EmulatorConfig
from arm_emulator.scenarios import DiskSpec, Scenario
from arm_emulator.store import RestorePoint

from .conftest import SUB, Arm

INTERVAL = 600.0


@dataclass
class _Disk:
    duration: float
    fail_after: float | None = None


@dataclass
class _Copy:
    """The attributes of a restore point the replication model reads."""

    id: str
    disks: list[_Disk] = field(default_factory=lambda: [_Disk(20 * INTERVAL)])
    replication_start: float = 100.0
    provisioning_state: str = "Succeeded"
    forced_replication: str | None = None


def ticks(copy_id: str, **config: object) -> replication.Ticks:
    rp = cast(RestorePoint, _Copy(copy_id))
    return replication.Ticks(rp, 100.0, EmulatorConfig(**config))  # type: ignore[arg-type]


def publishes(t: replication.Ticks, count: int = 12) -> list[float]:
    return [t.at(k) for k in range(1, count + 1)]


def test_aligned_ticks_are_every_interval_from_the_start() -> None:
    assert publishes(ticks("a"), 3) == [700.0, 1300.0, 1900.0]


def test_random_phase_is_per_copy_and_seeded() -> None:
    one = {c: publishes(ticks(c, seed=1, progress_phase="random")) for c in "abcdef"}
    again = {c: publishes(ticks(c, seed=1, progress_phase="random")) for c in "abcdef"}
    other = {c: publishes(ticks(c, seed=2, progress_phase="random")) for c in "abcdef"}
    assert one == again  # the same seed, the same phases
    assert one != other
    firsts = {round(p[0] - 100.0, 6) for p in one.values()}
    assert len(firsts) == 6  # each copy its own phase
    for times in one.values():
        assert 100.0 < times[0] <= 100.0 + INTERVAL  # the first publish within an interval
        gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
        assert gaps == {INTERVAL}  # without jitter, exactly every interval


def test_jitter_moves_each_publish_within_its_bound_and_is_seeded() -> None:
    plain = publishes(ticks("a", seed=3, progress_phase="random"), 40)
    moved = publishes(ticks("a", seed=3, progress_phase="random", progress_jitter_seconds=60), 40)
    assert moved == publishes(
        ticks("a", seed=3, progress_phase="random", progress_jitter_seconds=60), 40
    )
    offsets = [m - p for m, p in zip(moved, plain, strict=True)]
    assert all(-60.0 <= o <= 60.0 for o in offsets)
    assert len({round(o, 3) for o in offsets}) > 30  # each publish its own move
    assert moved == sorted(moved)  # still in order


@pytest.mark.parametrize("jitter", [0.0, 45.0, 299.0])
def test_index_and_at_or_after_agree_with_the_publish_times(jitter: float) -> None:
    t = ticks("z", seed=5, progress_phase="random", progress_jitter_seconds=jitter)
    times = publishes(t, 30)
    assert t.index(100.0) == 0
    for k, moment in enumerate(times, start=1):
        assert t.index(moment) == k
        assert t.index(moment - 1e-3) == k - 1
        assert t.at_or_after(moment) == moment
        assert t.at_or_after(moment - 1e-3) == moment
        assert t.at_or_after(moment + 1e-3) == times[k] if k < len(times) else True


@pytest.mark.parametrize(
    "config",
    [
        {"progress_phase": "sometimes"},
        {"progress_jitter_seconds": -1.0},
        {"progress_jitter_seconds": 300.0},  # half the interval: publishes could swap
        {"progress_interval_seconds": 60.0, "progress_jitter_seconds": 30.0},
    ],
)
def test_bad_phase_settings_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="progress"):
        EmulatorConfig(**config)  # type: ignore[arg-type]


def _one_disk() -> Scenario:
    s = Scenario(SUB).vm("vm1", os_disk=DiskSpec(size_gb=128, used_gb=60))  # 6144 s at 10 MiB/s
    return s.collection("rpc1", vm="vm1").restore_point("rp1", "rpc1")


async def _changes(arm: Arm, seconds: float, step: float) -> list[tuple[float, object]]:
    """(simulated seconds after the copy's LRO, percent) at every change seen every `step`."""
    await arm.target_rpc()
    assert (await arm.copy("rp1")).status_code == 201
    await arm.advance(6)  # the copy LRO: replication starts now
    seen: list[tuple[float, object]] = []
    elapsed = 0.0
    while elapsed <= seconds:
        iv = await arm.instance_view("rpc1-dr", "rp1-copy")
        status = iv["diskRestorePoints"][0]["replicationStatus"]
        value = (status["status"]["code"], status.get("completionPercent"))
        if not seen or seen[-1][1] != value:
            seen.append((elapsed, value))
        await arm.advance(step)
        elapsed += step
    return seen


async def test_random_phase_over_http_is_seeded_and_keeps_the_interval(make_arm) -> None:
    runs = []
    for seed in (11, 11, 12):
        arm = await make_arm(_one_disk(), seed=seed, progress_phase="random")
        runs.append(await _changes(arm, 7200, 10))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    for run in runs:
        changes = [t for t, _ in run[1:]]
        assert changes, run
        assert changes[0] <= INTERVAL
        gaps = [b - a for a, b in itertools.pairwise(changes)]
        assert all(abs(g - INTERVAL) <= 10 for g in gaps), gaps  # sampled every 10 s
        assert run[-1][1] == ("ReplicationState/succeeded", 100)
