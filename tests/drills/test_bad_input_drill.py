"""The bad-input drill, small: a few hundred generated inputs on every way in."""

from __future__ import annotations

import pytest

from drills.bad_input import BadInputOptions, run
from drills.generators import Gen, xml_safe
from tests.drills.support import explain

pytestmark = pytest.mark.slow


def test_bad_input_gets_no_5xx_no_crash_no_lost_message_no_secret_in_a_log() -> None:
    result = run(BadInputOptions(scale=0.1, seed=11))
    assert result["ok"], explain(result)
    assert result["inputs"] >= 200
    ways = result["inputsByWay"]
    assert all(ways.get(w) for w in ("POST /api/copies", "Event Grid", "queue messages")), ways


def test_queue_text_keeps_to_xml_valid_characters() -> None:
    """Azurite takes an XML-invalid character and then fails every read of the queue."""
    import random

    gen = Gen(random.Random(5))
    for _ in range(300):
        _, text = gen.queue_text({"jobId": "x", "stage": "poll"})
        assert text == xml_safe(text)
        assert "\r" not in text
