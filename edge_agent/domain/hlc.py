"""Hybrid logical clock: orders display and breaks LWW ties; never decides cart membership.

A Pi without an RTC may boot at 1970 or at a stale fake-hwclock time, so the clock keeps the largest
value it has seen (persisted with every op) and only ever moves forward.
"""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.const import HLC_COUNTER_BITS

_COUNTER_MASK = (1 << HLC_COUNTER_BITS) - 1


def pack(wall_ms: int, counter: int) -> int:
    return (wall_ms << HLC_COUNTER_BITS) | counter


def wall_ms_of(hlc: int) -> int:
    return hlc >> HLC_COUNTER_BITS


class HybridClock:
    """Kulkarni/Demirbas HLC packed as one int: 48-bit ms, 16-bit counter."""

    def __init__(self, wall_ms: Callable[[], int], last: int = 0) -> None:
        self._wall_ms = wall_ms
        self._last = last

    @property
    def last(self) -> int:
        return self._last

    def now(self) -> int:
        """Timestamp a local event."""
        wall = self._wall_ms()
        last_wall, counter = wall_ms_of(self._last), self._last & _COUNTER_MASK
        self._last = pack(wall, 0) if wall > last_wall else self._bump(last_wall, counter)
        return self._last

    def observe(self, remote: int) -> int:
        """Merge a timestamp received from another replica, so later local events sort after it."""
        wall = self._wall_ms()
        last_wall, last_c = wall_ms_of(self._last), self._last & _COUNTER_MASK
        rem_wall, rem_c = wall_ms_of(remote), remote & _COUNTER_MASK
        top = max(wall, last_wall, rem_wall)
        if top == last_wall == rem_wall:
            self._last = self._bump(top, max(last_c, rem_c))
        elif top == last_wall:
            self._last = self._bump(top, last_c)
        elif top == rem_wall:
            self._last = self._bump(top, rem_c)
        else:
            self._last = pack(top, 0)
        return self._last

    @staticmethod
    def _bump(wall: int, counter: int) -> int:
        # Counter overflow borrows a millisecond: still monotonic, still unique per replica.
        return pack(wall + 1, 0) if counter >= _COUNTER_MASK else pack(wall, counter + 1)
