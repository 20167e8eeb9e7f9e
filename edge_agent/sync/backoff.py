"""Full-jitter exponential backoff: a fleet that lost the same broker does not reconnect in lock-step."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class FullJitterBackoff:
    base_s: float
    cap_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """uniform(0, min(cap, base * 2**attempt)), then count the attempt."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.attempt, 32))
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
