"""The domain's invariants, each with the reason it has its value."""

from __future__ import annotations

EPOCH_BITS = 64
"""A random 64-bit epoch is created with each database, so a recreated database never reuses a seq (sync note §3.4)."""

MAX_LINE_QTY = 999
"""Largest quantity one op may carry: a scan burst or a typo must not order a pallet from a kiosk."""

MAX_OBSERVED_IDS = 10_000
"""Bound on the entry ids a remove/clear may name; a hostile payload must not allocate without limit."""

HLC_COUNTER_BITS = 16
"""48-bit wall milliseconds + 16-bit logical counter packed in one int (Kulkarni et al. 2014)."""

HLC_SUSPECT_AHEAD_MS = 5 * 60 * 1000
"""The platform flags an HLC more than 5 min ahead of its own clock as clock_suspect (sync note §3.4)."""

MAX_WIRE_INT = 2**63 - 1
"""SQLite stores INTEGER as a signed 64-bit value: a larger figure would raise OverflowError on insert. Seqs,
watermarks, HLCs and versions are bounded by it in the contract models, so a hostile figure is a schema reject."""

CLOCK_FLOOR_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z, before this release was built: a wall clock earlier than this is not synchronised (a
Pi without RTC boots at 1970), so the maximum-offset rule measures against this floor instead of the wall."""
