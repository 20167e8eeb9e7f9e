"""Workflow events on their way out: enveloped as CloudEvents, kept in SQLite, published while the link is up.

At least once, to the broker: a row goes on PUBACK (deleted with the store's next write: store/event_outbox.py),
is re-sent after a reconnect, and consumers dedupe by the CloudEvent ``id``. This path is for analytics and store
signals; the shopper's carts and totes go through the op outbox, which waits for the platform's confirmation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import JsonValue

from edge_agent.const import EVENTS_IN_FLIGHT
from edge_agent.contract.topics import Topics
from edge_agent.contract.workflow_event import T_WORKFLOW_PREFIX, WorkflowCloudEvent, WorkflowEventData
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.domain.workflows.taxonomy import analytics_names
from edge_agent.store.device import DeviceStore
from edge_agent.sync.outlet import Outlet


@dataclass(frozen=True, slots=True)
class EventContext:
    """Who and where: the device, and the shopper session the events belong to (pseudonym: "analytics")."""

    source: str
    store: str
    device: str
    session_id: str | None = None
    attribution_key: str | None = None
    profile: str | None = None
    profile_cart: str | None = None
    """The identified session's profile cart: kept beside the queued rows for erasure, never in the event."""


def envelope(event: WorkflowEvent, ctx: EventContext) -> WorkflowCloudEvent:
    ga4, segment = analytics_names(event.name)
    data = {k: _json(v) for k, v in event.data.items()}
    return WorkflowCloudEvent(
        type=f"{T_WORKFLOW_PREFIX}{event.name}.v1",
        source=ctx.source,
        id=f"{ctx.device}:{uuid.uuid4()}",
        time=datetime.fromtimestamp(event.at, UTC),
        subject=event.subject,
        data=WorkflowEventData(
            name=event.name,
            actor=event.actor,
            occurred_at=datetime.fromtimestamp(event.at, UTC),
            store=ctx.store,
            device=ctx.device,
            session_id=ctx.session_id,
            attribution_key=ctx.attribution_key,
            profile=ctx.profile,
            ga4=ga4,
            segment=segment,
            data=data,
        ),
    )


def _json(value: object) -> JsonValue:
    """Machine payloads hold scalars, tuples, lists and mappings; anything else travels as its text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    return str(value)


@dataclass
class EventPublisher:
    store: DeviceStore
    out: Outlet
    topics: Topics
    in_flight: dict[int, int] = field(default_factory=dict)
    """mid -> event_outbox row id, for rows handed to paho and not yet PUBACKed."""
    published_total: int = 0
    _backlog: bool = field(default=True, init=False)
    """False once a flush saw every row not yet PUBACKed in flight, until a row is queued, a publish fails or the
    link drops: a PUBACK then reads nothing from the table (one query per event saved on the scan's path)."""

    def queue(self, events: Iterable[WorkflowEvent], ctx: EventContext, *, synced: bool = True) -> None:
        """Kept, then handed to paho: straight from memory when nothing older waits (the usual case, a scan's
        event), else in order by :meth:`flush`."""
        heads = [envelope(e, ctx) for e in events]
        rows = [(head.data.name, head.model_dump_json(exclude_none=True)) for head in heads]
        if not rows:
            return
        clear = not self._backlog  # every older row is in flight already
        ids = self.store.queue_events(rows, profile_cart=ctx.profile_cart, synced=synced)
        self._backlog = True
        if not clear or not self.out.link.connected or len(self.in_flight) + len(ids) > EVENTS_IN_FLIGHT:
            self.flush()
            return
        for row_id, head, (_name, body) in zip(ids, heads, rows, strict=True):
            mid = self.out.publish_encoded(self.topics.events, body.encode(), head.type, head.id)
            if mid is None:
                return
            self.in_flight[mid] = row_id
        self._backlog = False

    def flush(self) -> None:
        """Hand pending rows to paho while the link is up, at most EVENTS_IN_FLIGHT at a time."""
        if not self._backlog or not self.out.link.connected:
            return
        room = EVENTS_IN_FLIGHT - len(self.in_flight)
        if room <= 0:
            return
        after = max(self.in_flight.values(), default=0)
        pending = self.store.pending_events(room, after_id=after)
        for row_id, body in pending:
            head = json.loads(body)  # stored as a CloudEvent: its type and id are mirrored like every message's
            mid = self.out.publish_encoded(self.topics.events, body.encode(), head["type"], head["id"])
            if mid is None:
                return
            self.in_flight[mid] = row_id
        if not after and len(pending) < room:  # the query saw every row from the first: all are in flight now
            self._backlog = False

    def published(self, mid: int, ok: bool) -> bool:
        """True when ``mid`` was one of ours; a PUBACK deletes the row, a failure leaves it for the next flush."""
        row_id = self.in_flight.pop(mid, None)
        if row_id is None:
            return False
        if ok:
            self.store.drop_events([row_id])
            self.published_total += 1
        else:
            self._backlog = True
        self.flush()
        return True

    def link_down(self) -> None:
        self.in_flight.clear()  # the rows stay; they go again after the reconnect
        self._backlog = True
