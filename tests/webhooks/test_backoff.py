"""The retry schedule: first retries within seconds, then growing; 12 attempts over about
three days; jitter within a tenth either way."""

from __future__ import annotations

import pytest

from keyplane.webhooks.backoff import ATTEMPTS, next_delay


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (1, 3.0),
        (2, 9.0),
        (3, 27.0),
        (4, 81.0),
        (6, 729.0),
        (9, 19_683.0),
        (11, 177_147.0),
    ],
)
def test_each_delay_is_three_times_the_last(attempts: int, delay: float) -> None:
    assert next_delay(attempts, 3.0, 0.5) == pytest.approx(delay)


@pytest.mark.parametrize(("jitter", "factor"), [(0.0, 0.9), (0.5, 1.0), (0.999_999, 1.1)])
def test_jitter_moves_a_delay_by_a_tenth_at_most(jitter: float, factor: float) -> None:
    assert next_delay(4, 3.0, jitter) == pytest.approx(81.0 * factor, rel=1e-5)


def test_twelve_attempts_span_about_three_days_then_it_fails() -> None:
    delays = [next_delay(attempt, 3.0, 0.5) for attempt in range(1, ATTEMPTS)]
    assert ATTEMPTS >= 12
    assert all(delay is not None for delay in delays)
    total = sum(delay for delay in delays if delay is not None)
    assert 2.5 * 86_400 < total < 3.5 * 86_400
    assert next_delay(ATTEMPTS, 3.0, 0.5) is None
    assert next_delay(ATTEMPTS + 1, 3.0, 0.5) is None
