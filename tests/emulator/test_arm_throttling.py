"""ARM's subscription throttling: read / write / delete token buckets per subscription and ARM
region, remaining-token headers (global and older), 429 + Retry-After when a bucket is empty;
off by default (reported, never enforced)."""

from __future__ import annotations

import uuid

from .conftest import Arm, rp_path, rpc_path, standard_scenario

SMALL = {
    "arm_throttling": True,
    "arm_read_bucket": 3,
    "arm_read_refill": 1,
    "arm_write_bucket": 2,
    "arm_write_refill": 0.5,
    "arm_delete_bucket": 2,
    "arm_delete_refill": 0.5,
}


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def throttled_arm(make_arm, **config) -> tuple[Arm, FakeTime]:
    arm = await make_arm(standard_scenario(), **{**SMALL, **config})
    clock = FakeTime()
    arm.emu.ratelimits.clock = clock
    return arm, clock


async def test_off_by_default_reports_but_never_refuses(arm: Arm) -> None:
    remaining = []
    for _ in range(300):  # more than the 250-token read bucket
        r = await arm.get(rpc_path("rpc1"))
        assert r.status_code == 200
        remaining.append(int(r.headers["x-ms-ratelimit-remaining-subscription-reads"]))
        assert "x-ms-ratelimit-remaining-subscription-global-reads" not in r.headers
    assert remaining[0] == 249
    assert min(remaining) == 0


async def test_empty_read_bucket_answers_429_with_retry_after(make_arm) -> None:
    arm, clock = await throttled_arm(make_arm)
    for expected in (2, 1, 0):
        r = await arm.get(rpc_path("rpc1"))
        assert r.status_code == 200
        assert r.headers["x-ms-ratelimit-remaining-subscription-global-reads"] == str(expected)
        assert r.headers["x-ms-ratelimit-remaining-subscription-reads"] == str(expected)
    r = await arm.get(rp_path("rpc1", "rp1"))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    error = r.json()["error"]
    assert error["code"] == "SubscriptionRequestsThrottled"
    assert "'read' requests" in error["message"]
    assert r.headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "0"
    clock.now += 1  # one token back
    assert (await arm.get(rpc_path("rpc1"))).status_code == 200
    assert (await arm.get(rpc_path("rpc1"))).status_code == 429


async def test_a_throttled_write_is_not_processed_and_takes_no_token(make_arm) -> None:
    arm, clock = await throttled_arm(make_arm)
    assert (await arm.put(rp_path("rpc1", "a"), {})).status_code == 201
    # Refused by the resource provider (a create is running) - still a processed write.
    assert (await arm.put(rp_path("rpc1", "b"), {})).status_code == 409
    r = await arm.put(rp_path("rpc1", "c"), {})
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"  # 0.5 tokens per second
    assert "x-ms-ratelimit-remaining-subscription-global-writes" in r.headers
    assert (await arm.get(rp_path("rpc1", "c"))).status_code == 404  # never created
    # Retrying before tokens are back is refused again and does not drain the bucket further.
    assert (await arm.put(rp_path("rpc1", "c"), {})).status_code == 429
    clock.now += 2
    await arm.advance(40)
    assert (await arm.put(rp_path("rpc1", "c"), {})).status_code == 201


async def test_reads_writes_and_deletes_have_their_own_buckets(make_arm) -> None:
    arm, _ = await throttled_arm(make_arm)
    for _ in range(2):
        await arm.patch(rpc_path("rpc1"), {"tags": {"a": "b"}})
    assert (await arm.patch(rpc_path("rpc1"), {"tags": {}})).status_code == 429
    assert (await arm.get(rpc_path("rpc1"))).status_code == 200
    r = await arm.delete(rp_path("rpc1", "rp1"))
    assert r.status_code == 202
    assert r.headers["x-ms-ratelimit-remaining-subscription-global-deletes"] == "1"


async def test_buckets_are_per_subscription_and_region(make_arm) -> None:
    arm, _ = await throttled_arm(make_arm)
    for _ in range(3):
        await arm.get(rpc_path("rpc1"))
    assert (await arm.get(rpc_path("rpc1"))).status_code == 429
    other = str(uuid.uuid4())
    r = await arm.get(f"/subscriptions/{other}", api="2022-12-01")  # its own, full bucket
    assert (r.status_code, r.json()["error"]["code"]) == (404, "SubscriptionNotFound")
    await arm.ctl.update_config(armRegion="WESTEUROPE")  # another ARM region's bucket
    assert (await arm.get(rpc_path("rpc1"))).status_code == 200


async def test_the_control_plane_is_never_throttled(make_arm) -> None:
    arm, _ = await throttled_arm(make_arm, arm_read_bucket=1)
    for _ in range(10):
        await arm.ctl.health()
    assert (await arm.get(rpc_path("rpc1"))).status_code == 200


async def test_throttling_can_be_switched_at_runtime(arm: Arm) -> None:
    config = await arm.ctl.update_config(armThrottling=True, armReadBucket=1, armReadRefill=0.001)
    assert config["armThrottling"] is True
    arm.emu.ratelimits.clear()
    assert (await arm.get(rpc_path("rpc1"))).status_code == 200
    assert (await arm.get(rpc_path("rpc1"))).status_code == 429
    await arm.ctl.update_config(armThrottling=False)
    assert (await arm.get(rpc_path("rpc1"))).status_code == 200
