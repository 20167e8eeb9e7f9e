"""Presence reports on their way out: finished buckets wait in a bounded backlog while the uplink is down."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edge_agent.const import PRESENCE_BACKLOG_MAX
from edge_agent.contract.device import PresenceReportEvent
from edge_agent.contract.presence import PresenceReport
from edge_agent.presence import PresenceAggregator
from edge_agent.sync.outlet import Outlet


@dataclass
class PresencePublisher:
    out: Outlet
    topic: str
    aggregator: PresenceAggregator
    backlog: deque[PresenceReport] = field(default_factory=lambda: deque(maxlen=PRESENCE_BACKLOG_MAX))
    """Aggregates only, never raw sightings; the oldest are dropped after a day (analytics, never a basket)."""

    def flush(self, now: float) -> None:
        self.backlog.extend(self.aggregator.flush(now))
        while self.backlog and self.out.link.connected:
            report = self.backlog[0]
            event_id = f"{self.out.device}:presence:{int(report.bucket_start.timestamp())}"
            if self.out.publish(self.topic, PresenceReportEvent, report, event_id=event_id) is None:
                return
            self.backlog.popleft()
