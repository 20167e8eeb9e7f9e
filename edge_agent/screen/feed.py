"""The latest view per topic, for the local screen: a tap on the outlet's retained publishes (session, display,
picking), kept in memory and fanned out to the open live streams. The same bytes the retained MQTT topics carry,
so a local page and a remote screen render one contract, whether the uplink is up or not."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from edge_agent.screen.const import SCREEN_SSE_QUEUE_MAX

log = logging.getLogger(__name__)

VIEW_TOPICS = ("session", "display", "picking", "claim")
"""The retained view topics under the device's own dv/{device}/ that a screen renders (claim: the kiosk's "take my
basket to my phone" link, edge_agent/roles/claim.py)."""

Update = tuple[int, str, dict[str, Any]]
"""(sequence number, SSE event name, JSON body)."""


@dataclass
class ScreenFeed:
    device_prefix: str
    """``rt/v1/{tenant}/st/{store}/dv/{device}/``: only this device's own views."""
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    online: bool = False
    seq: int = 0
    _streams: set[asyncio.Queue[Update | None]] = field(default_factory=set)

    def observe(self, topic: str, payload: bytes) -> None:
        """The outlet's tap: a retained publish (empty payload: a clear)."""
        if not topic.startswith(self.device_prefix):
            return
        name = topic[len(self.device_prefix) :]
        if name not in VIEW_TOPICS:
            return
        if not payload:
            self.views.pop(name, None)
            self._broadcast("view", {"topic": name, "type": None, "data": None})
            return
        event = json.loads(payload)  # the outlet built it from a validated model
        body = {"topic": name, "type": event.get("type"), "data": event.get("data")}
        self.views[name] = body
        self._broadcast("view", body)

    def set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            self._broadcast("link", {"online": online})

    def snapshot(self) -> list[Update]:
        """What a stream that (re)connects gets first: the link and every current view."""
        first: list[Update] = [(self.seq, "link", {"online": self.online})]
        return first + [(self.seq, "view", body) for body in self.views.values()]

    def open(self) -> asyncio.Queue[Update | None]:
        queue: asyncio.Queue[Update | None] = asyncio.Queue(SCREEN_SSE_QUEUE_MAX)
        self._streams.add(queue)
        return queue

    def close(self, queue: asyncio.Queue[Update | None]) -> None:
        self._streams.discard(queue)

    @property
    def streams(self) -> int:
        return len(self._streams)

    def close_all(self) -> None:
        for queue in list(self._streams):
            self._end(queue)

    def _broadcast(self, name: str, body: dict[str, Any]) -> None:
        self.seq += 1
        for queue in list(self._streams):
            try:
                queue.put_nowait((self.seq, name, body))
            except asyncio.QueueFull:
                log.warning("screen: a live stream fell %d updates behind; dropped (it reconnects)", queue.maxsize)
                self._end(queue)

    def _end(self, queue: asyncio.Queue[Update | None]) -> None:
        self._streams.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)
