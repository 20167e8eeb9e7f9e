"""Hybrid logical clock: orders display and breaks LWW ties; never decides cart membership.

A Pi without an RTC may boot at 1970 or at a stale fake-hwclock time, so the clock keeps the largest
value it has seen (persisted with every op) and only ever moves forward.
"""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.domain.const import CLOCK_FLOOR_MS, HLC_COUNTER_BITS, MAX_WIRE_INT

_COUNTER_MASK = (1 << HLC_COUNTER_BITS) - 1


def pack(wall_ms: int, counter: int) -> int:
    return (wall_ms << HLC_COUNTER_BITS) | counter


def wall_ms_of(hlc: int) -> int:
    return hlc >> HLC_COUNTER_BITS


def wall_synchronised(wall_ms: int) -> bool:
    """A wall clock before this release was built has not been set (a Pi without RTC boots at 1970)."""
    return wall_ms >= CLOCK_FLOOR_MS


def stored_clock_problem(stored: int, wall_ms: int, max_ahead_ms: int) -> str | None:
    """Why a persisted clock value cannot be kept, or None. A value too large for SQLite, or one far ahead of a
    synchronised wall clock, was pushed in by a message; an unsynchronised wall clock cannot judge, so a valid
    stored value is kept then (it is the best time the device knows)."""
    if not 0 <= stored <= MAX_WIRE_INT:
        return f"stored clock {stored} is outside 0..2**63-1"
    ahead = wall_ms_of(stored) - wall_ms
    if wall_synchronised(wall_ms) and ahead > max_ahead_ms:
        return f"stored clock is {ahead} ms ahead of the wall clock (allowed {max_ahead_ms} ms)"
    return None


class HybridClock:
    """Kulkarni/Demirbas HLC packed as one int: 48-bit ms, 16-bit counter.

    ``max_ahead_ms`` is the maximum-offset rule for remote values (:meth:`admits`): None admits any valid value
    (the platform, which flags and clamps suspect clocks itself)."""

    def __init__(self, wall_ms: Callable[[], int], last: int = 0, max_ahead_ms: int | None = None) -> None:
        self._wall_ms = wall_ms
        self._last = last
        self.max_ahead_ms = max_ahead_ms

    @property
    def last(self) -> int:
        return self._last

    def now(self) -> int:
        """Timestamp a local event."""
        wall = self._wall_ms()
        last_wall, counter = wall_ms_of(self._last), self._last & _COUNTER_MASK
        self._last = pack(wall, 0) if wall > last_wall else self._bump(last_wall, counter)
        return self._last

    def admits(self, remote: int) -> bool:
        """May this remote value move the clock? Not beyond ``max_ahead_ms`` past the wall clock, or, while the
        wall clock is unsynchronised, past the best time known (the release floor or the clock's own value)."""
        if not 0 <= remote <= MAX_WIRE_INT:
            return False
        if self.max_ahead_ms is None:
            return True
        wall = self._wall_ms()
        reference = wall if wall_synchronised(wall) else max(CLOCK_FLOOR_MS, wall_ms_of(self._last))
        return wall_ms_of(remote) <= reference + self.max_ahead_ms

    def observe_remote(self, remote: int) -> bool:
        """Observe a remote value only if :meth:`admits` it; returns whether it was adopted."""
        if not self.admits(remote):
            return False
        self.observe(remote)
        return True

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
