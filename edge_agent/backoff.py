"""Full-jitter exponential backoff, the one retry delay of the agent: the MQTT link, the NFC reader's reopen
and the BLE scanner's recovery all use it.

A neutral module (no I/O, no imports from ``sync`` or ``readers``), so readers can use it without depending
on the sync layer (data flows reader -> domain -> store -> sync).

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a fleet that lost the same broker or
the same bluetoothd does not retry in lock-step. The exponent is capped (:data:`~edge_agent.const.
BACKOFF_MAX_EXPONENT`), so the delay computation never overflows however long a failure lasts: an uncapped
``base * 2**attempt`` raises OverflowError after ~1,000 attempts (a reader left unplugged for some hours).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from edge_agent.const import BACKOFF_MAX_EXPONENT


def full_jitter_ceiling(base_s: float, cap_s: float, attempt: int) -> float:
    """min(cap, base * 2**attempt), with the exponent capped: finite for every attempt >= 0."""
    return min(cap_s, base_s * 2.0 ** min(max(attempt, 0), BACKOFF_MAX_EXPONENT))


@dataclass
class FullJitterBackoff:
    """``next_delay()`` is uniform(0, min(cap, base * 2**attempt)), then counts the attempt; ``reset()`` after
    a success. The first delay after a reset is at most ``base_s``."""

    base_s: float
    cap_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = full_jitter_ceiling(self.base_s, self.cap_s, self.attempt)
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
