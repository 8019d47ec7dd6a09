"""Back-off, quiet hours and digests, without a database."""

from __future__ import annotations

import random
from datetime import time, timedelta

from services.notifier.delivery import DeliveryPolicy, digest_message
from services.notifier.messages import OutgoingMessage
from services.notifier.settings import QuietHours


def test_backoff_grows_exponentially_with_full_jitter_and_is_capped() -> None:
    policy = DeliveryPolicy()
    rng = random.Random(1)
    for attempt in range(1, 12):
        ceiling = min(policy.max_backoff, policy.first_backoff * 2 ** (attempt - 1))
        samples = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(timedelta(0) <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # jitter spreads over the whole window
    assert policy.backoff(30, rng) <= policy.max_backoff


def test_quiet_hours_may_span_midnight() -> None:
    night = QuietHours(start=time(22, 0), end=time(8, 0))
    assert night.contains(time(23, 30))
    assert night.contains(time(7, 59))
    assert not night.contains(time(8, 0))
    assert not night.contains(time(21, 59))
    lunch = QuietHours(start=time(12, 0), end=time(13, 30))
    assert lunch.contains(time(12, 0))
    assert not lunch.contains(time(13, 30))


def test_a_digest_lists_every_held_message_with_its_link() -> None:
    held = [
        OutgoingMessage(
            title=f"通知 {i}", markdown="m", text="t", html=f"<b>{i}</b>", link=f"https://x/{i}"
        )
        for i in range(3)
    ]
    digest = digest_message("免打扰期间的通知", held)
    assert digest.title.endswith("(3)")
    for i in range(3):
        assert f"https://x/{i}" in digest.markdown
        assert f"<b>{i}</b>" in digest.html
