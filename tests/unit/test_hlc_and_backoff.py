"""Clocks order display only and never go backwards; reconnects spread out."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.backoff import FullJitterBackoff
from edge_agent.domain.hlc import HybridClock, wall_ms_of


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2**47)), max_size=200))
def test_the_hlc_is_strictly_monotonic_whatever_the_wall_clock_and_remote_stamps_do(
    steps: list[tuple[bool, int]],
) -> None:
    wall = [0]
    clock = HybridClock(lambda: wall[0])
    last = -1
    for is_remote, value in steps:
        if is_remote:
            stamp = clock.observe(value << 16)
            assert stamp > value << 16
        else:
            wall[0] = value
            stamp = clock.now()
        assert stamp > last
        last = stamp


def test_the_hlc_follows_the_wall_clock_when_it_is_sane() -> None:
    clock = HybridClock(lambda: 1_795_000_000_000)
    assert wall_ms_of(clock.now()) == 1_795_000_000_000


def test_full_jitter_backoff_stays_under_its_growing_ceiling_and_the_cap() -> None:
    backoff = FullJitterBackoff(1.0, 120.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(12)]
    for attempt, delay in enumerate(delays):
        assert 0 <= delay <= min(120.0, 2**attempt)
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_a_fleet_reconnecting_after_the_same_outage_does_not_reconnect_in_lock_step() -> None:
    fleet = [FullJitterBackoff(1.0, 120.0, random.Random(seed)) for seed in range(100)]
    for device in fleet:
        for _ in range(5):
            device.next_delay()
    sixth = sorted(device.next_delay() for device in fleet)
    assert sixth[-1] - sixth[0] > 16  # spread over most of the 0..32 s window, not one instant
