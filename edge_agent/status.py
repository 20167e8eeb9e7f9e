"""What the device says about itself: the retained status (and last will) for store IT, and the status rows that
`edge-agent status` reads from the database. Counters of what was rejected and saved live here too."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field

from edge_agent import __version__
from edge_agent.const import WILL_DELAY_S
from edge_agent.contract.device import DeviceStatus, ReaderStatus, StatusEvent
from edge_agent.readers.events import ReaderHealth
from edge_agent.store.device import DeviceStore
from edge_agent.sync.inbound import InboundRouter
from edge_agent.sync.link import Will
from edge_agent.sync.outlet import Outlet
from edge_agent.sync.pump import OutboxPump

log = logging.getLogger(__name__)

READER_DETAIL_MAX = 300
"""ReaderStatus.detail's bound in the contract."""


@dataclass
class StatusReporter:
    store: DeviceStore
    out: Outlet
    topic: str
    router: InboundRouter
    pump: OutboxPump
    rejected: Counter[str] = field(default_factory=Counter)
    """Reader and basket refusals by ``source:reason`` (inbound messages are the router's)."""
    reader_health: dict[str, str] = field(default_factory=dict)
    reader_details: dict[str, str] = field(default_factory=dict)
    scans_saved: int = 0
    session: int = 0
    """Sparkplug-style session number, bumped per connection attempt: consumers keep the highest."""

    def reader(self, event: ReaderHealth) -> bool:
        """Kept for `edge-agent status`; True when it changed (then it is published for store IT)."""
        changed = (self.reader_health.get(event.reader), self.reader_details.get(event.reader)) != (
            event.state,
            event.detail,
        )
        self.reader_health[event.reader] = event.state
        self.reader_details[event.reader] = event.detail
        log.info("reader %s: %s %s", event.reader, event.state, event.detail)
        return changed

    def will(self) -> Will:
        """Built at each connection attempt: a new session number, so a late will cannot win over a rebirth."""
        self.session = self.store.bump_mqtt_session()
        data = self._status("offline")
        payload = self.out.will(StatusEvent, data, self._event_id("offline"))
        return Will(self.topic, payload, WILL_DELAY_S)

    def publish(self, state: str) -> int | None:
        return self.out.publish(
            self.topic, StatusEvent, self._status(state), event_id=self._event_id(state), retain=True
        )

    def write(self, link_state: str, detail: str = "") -> None:
        """What `edge-agent status` shows; written on state changes and by the heartbeat (no fsync needed)."""
        link = self.out.link
        if link_state == "offline" and not detail:
            detail = link.counters.last_error  # the heartbeat keeps the last reason the link gave
        counters = {
            "scans_saved": self.scans_saved,
            "rejected": dict(self.rejected),
            "inbound_rejected": dict(self.router.rejected),
            "pump": vars(self.pump.counters),
            "link": {k: v for k, v in vars(link.counters).items() if k != "last_error"},
            "readers": self.reader_health,
        }
        self.store.set_meta(
            {
                "link_state": link_state,
                "link_detail": detail,
                "link_endpoint": link.counters.endpoint,
                "status_at": f"{time.time():.3f}",
                "agent_pid": str(os.getpid()),
                "counters": json.dumps(counters),
                **self.store.outbox_meta(),  # the outbox's sent rows, which only memory holds (store/outbox.py)
            },
            durable=False,
        )

    def _event_id(self, state: str) -> str:
        return f"{self.out.device}:status:{self.session}:{state}"

    def _status(self, state: str) -> DeviceStatus:
        stats = self.store.outbox_stats()
        age = None if stats.oldest_created_at is None else round(time.time() - stats.oldest_created_at, 3)
        readers = {
            name: ReaderStatus(state=health, detail=self.reader_details.get(name, "")[:READER_DETAIL_MAX])  # type: ignore[arg-type]
            for name, health in self.reader_health.items()
        }
        return DeviceStatus(
            device=self.out.device,
            state=state,  # type: ignore[arg-type]
            session=self.session,
            agent_version=__version__,
            pending_ops=stats.total,
            oldest_pending_age_s=age,
            readers=readers or None,
        )
