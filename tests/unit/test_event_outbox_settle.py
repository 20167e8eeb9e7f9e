"""A PUBACKed workflow event leaves the file with the next write (issue 14, CPU per scan): what readers see, what a
crash keeps, and what the publisher hands to the broker again."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from edge_agent.contract.topics import Topics
from edge_agent.domain.basket import AddItem
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.store.device import DeviceStore
from edge_agent.sync.events import EventContext, EventPublisher
from edge_agent.sync.outlet import Outlet

A = "04006381333931"


def _rows_in_file(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM event_outbox").fetchone()[0])
    finally:
        conn.close()


def _event(n: int) -> tuple[str, str]:
    return "shelf.price_checked", f'{{"type": "com.edgeagent.workflow.shelf.price_checked.v1", "id": "e{n}"}}'


def test_a_pubacked_event_is_gone_for_this_store_at_once_and_from_the_file_with_the_next_write(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    store.queue_events([_event(1), _event(2)])
    [(first, _), (second, _)] = store.pending_events(10)
    store.drop_events([first])
    assert [row_id for row_id, _ in store.pending_events(10)] == [second]
    assert store.pending_events(1) == store.pending_events(10), "the limit counts only rows still to send"
    assert store.event_backlog() == 1
    assert _rows_in_file(db) == 2, "the delete waits for the next write"
    store.record([AddItem("c", A)])
    assert _rows_in_file(db) == 1, "the scan's transaction deleted it"
    store.drop_events([second])
    store.settle_confirms()  # the pump's tick, when nothing else is written
    assert _rows_in_file(db) == 0 and store.event_backlog() == 0
    store.close()


def test_a_crash_before_the_delete_only_sends_the_pubacked_event_again(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    store.queue_events([_event(1)])
    [(row_id, body)] = store.pending_events(10)
    store.drop_events([row_id])
    store.conn.close()  # killed: close() would have settled it
    again = DeviceStore.open(db, "kiosk-01")
    assert again.pending_events(10) == [(row_id, body)], "at least once: sent again, consumers dedupe by id"
    again.close()


def test_an_erasure_counts_only_the_events_it_kept_from_the_broker(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.queue_events([_event(1), _event(2)], profile_cart="profile-ada")
    [(sent, _), _unsent] = store.pending_events(10)
    store.drop_events([sent])
    assert store.erase_cart("profile-ada").events == 1
    assert store.pending_events(10) == []
    store.close()


@dataclass
class _Link:
    connected: bool = True


@dataclass
class _Broker:
    """The outlet's side the publisher uses: the link's state and each PUBLISH handed over (mid, ce_id)."""

    link: _Link = field(default_factory=_Link)
    handed: list[tuple[int, str]] = field(default_factory=list)

    def publish_encoded(self, _topic: str, _payload: bytes, _ce_type: str, ce_id: str, **_kw: Any) -> int | None:
        if not self.link.connected:
            return None
        self.handed.append((len(self.handed) + 1, ce_id))
        return len(self.handed)


def test_the_publisher_hands_over_each_event_until_the_broker_acknowledged_it(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    broker = _Broker()
    events = EventPublisher(store, cast(Outlet, broker), Topics("t", "s", "kiosk-01"))
    store.queue_events([_event(1), _event(2)])
    events.flush()
    assert [ce_id for _mid, ce_id in broker.handed] == ["e1", "e2"]
    [(mid1, _), (mid2, _)] = broker.handed
    assert events.published(mid1, ok=True)
    assert events.published(mid2, ok=False), "refused by the broker: handed over again"
    assert [ce_id for _mid, ce_id in broker.handed[2:]] == ["e2"]
    events.flush()
    assert len(broker.handed) == 3, "nothing else is waiting"
    broker.link.connected = False
    events.link_down()
    broker.link.connected = True
    events.flush()
    assert [ce_id for _mid, ce_id in broker.handed[3:]] == ["e2"], "after a reconnect, what was not acknowledged"
    assert events.published(4, ok=True) and not events.published(4, ok=True)
    events.flush()
    assert len(broker.handed) == 4 and store.pending_events(10) == []
    store.close()


def test_a_queued_event_goes_out_after_every_older_one_still_waiting(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    broker = _Broker()
    events = EventPublisher(store, cast(Outlet, broker), Topics("t", "s", "kiosk-01"))
    ctx = EventContext("urn:t:store:s:device:kiosk-01", "s", "kiosk-01")

    def scan(n: int) -> WorkflowEvent:
        return WorkflowEvent("cart.line_added", "session-1", "shopper", 1_796_000_000.0, {"qty": n})

    def sent_qty() -> list[int]:
        return [json.loads(body)["data"]["data"]["qty"] for _id, body in store.pending_events(10)]

    events.queue([scan(1)], ctx)
    [(mid1, id1)] = broker.handed
    assert events.published(mid1, ok=False), "refused: it waits"
    broker.link.connected = False
    events.queue([scan(2)], ctx)  # offline: kept only
    broker.link.connected = True
    events.queue([scan(3)], ctx)
    assert [ce_id for _mid, ce_id in broker.handed[1:]] == [id1, *[h for _m, h in broker.handed[2:]]]
    assert len(broker.handed) == 4 and sent_qty() == [1, 2, 3], "the oldest first, each once"
    for mid, _ce_id in broker.handed[1:]:
        assert events.published(mid, ok=True)
    events.queue([scan(4)], ctx)
    assert len(broker.handed) == 5 and sent_qty() == [4]
    store.close()
