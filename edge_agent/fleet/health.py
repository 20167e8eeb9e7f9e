"""The health message (contract/health.py) and the loop that keeps every fleet figure current.

The loop samples reader totals and CPU time every RATE_SAMPLE_S and, every ``[health] interval_s``, sends the
health message and rewrites the metrics textfile. The agent also sends one at once after every (re)connect, so a
dashboard sees a device that came back without waiting for its next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_agent.const import CERT_EXPIRY_WARN_DAYS, RATE_SAMPLE_S
from edge_agent.contract.health import HealthEvent
from edge_agent.fleet.figures import FigureSource
from edge_agent.sync.outlet import Outlet

log = logging.getLogger(__name__)

__all__ = ["FleetLoop", "HealthPublisher"]


@dataclass
class HealthPublisher:
    figures: FigureSource
    out: Outlet
    topic: str
    sent: int = 0

    def publish(self) -> int | None:
        """QoS 1, not retained; None while offline (a health message is of its moment: none is kept for later)."""
        health = self.figures.snapshot().health
        days = health.client_cert_days_left
        if days is not None and days < CERT_EXPIRY_WARN_DAYS:
            log.warning("health: the client certificate expires in %.1f days: reissue it", days)
        mid = self.out.publish(self.topic, HealthEvent, health)
        if mid is not None:
            self.sent += 1
        return mid


@dataclass
class FleetLoop:
    """One task on the agent's loop: samples for rates, and on each interval everything that reports them."""

    figures: FigureSource
    interval_s: float
    on_interval: list[Callable[[], object]] = field(default_factory=list)

    async def run(self) -> None:
        """Reports once at start (the textfile exists as soon as the agent runs; a health message sent before the
        first connect is simply not sent), then every interval; samples in between."""
        self.figures.sample()
        self._report()
        clock = self.figures.clock
        due = clock() + self.interval_s
        while True:
            await asyncio.sleep(max(0.0, min(RATE_SAMPLE_S, due - clock())))
            self.figures.sample()
            if clock() >= due:
                due += self.interval_s * (int((clock() - due) // self.interval_s) + 1)
                self._report()

    def _report(self) -> None:
        for report in self.on_interval:
            try:
                report()
            except Exception:  # one failing output (a full disk for the textfile) must not stop the others
                log.exception("fleet: reporting failed")
