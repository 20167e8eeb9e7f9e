"""The platform's attribution rules on a real platform database (simulators/attribution.py): every session that
merged into a profile cart or whose basket was claimed into it is credited, within the window; a claim finds its
session's key through the kiosk's own events, even when they arrive after the order; erasure forgets the cart's
attributions; an event published under another device's topic is refused."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.contract.codec import Rejected
from edge_agent.domain.const import HLC_COUNTER_BITS
from edge_agent.domain.ops import CartOp, OpKind
from edge_agent.domain.session import ATTRIBUTION_ATTR, MergePolicy, Session
from edge_agent.domain.workflows import kiosk
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.store.db import connect, migrate, transaction
from edge_agent.store.schema import PLATFORM_MIGRATIONS
from edge_agent.sync.events import EventContext, envelope
from simulators import attribution

SHOES, SOCKS, HAT = "09506000134352", "04006381333931", "08710398502131"
PROFILE = "profile-shopper-9"
DAY_MS = 24 * 3600 * 1000
NOW_MS = 1_800_000_000_000


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = connect(tmp_path / "central.db")
    migrate(db, PLATFORM_MIGRATIONS)
    db.execute("INSERT INTO device_homes VALUES ('kiosk-01', 'acme', 's042'), ('kiosk-02', 'acme', 's042')")
    yield db
    db.close()


def kiosk_session(guest: str) -> Session:
    return Session(uuid.uuid4().hex, guest, NOW_MS / 1000, MergePolicy.SUM, last_activity=NOW_MS / 1000)


def publish(conn: sqlite3.Connection, device: str, s: Session, *events: WorkflowEvent) -> None:
    ctx = EventContext(f"urn:acme:store:s042:device:{device}", "s042", device, s.session_id, s.attribution_key)
    with transaction(conn):
        for event in events:
            attribution.record_event(conn, "s042", device, envelope(event, ctx))


def merge_op(device: str, key: str, at_ms: int) -> CartOp:
    epoch = "0" * 16
    return CartOp(op_id=f"{device}:{epoch}:1", uuid=uuid.uuid4(), device=device, epoch=epoch, seq=1, cart_id=PROFILE,
                  kind=OpKind.ATTR_SET, hlc=at_ms << HLC_COUNTER_BITS, key=ATTRIBUTION_ATTR, value=key)  # fmt: skip


def test_every_session_that_merged_or_was_claimed_into_the_cart_is_credited_with_its_lines(
    conn: sqlite3.Connection,
) -> None:
    merged, claimed = kiosk_session("kiosk-01-a"), kiosk_session("kiosk-02-b")
    t = NOW_MS / 1000
    publish(conn, "kiosk-01", merged, *kiosk.opened(merged, "scan", t), kiosk.line_added(merged, SHOES, 2, t))
    with transaction(conn):
        attribution.note_merges(conn, "s042", [merge_op("kiosk-01", merged.attribution_key, NOW_MS - DAY_MS)])
        conn.execute("INSERT INTO basket_claims VALUES ('kiosk-02-b', 'c1', 'kiosk-02', ?, ?)", (PROFILE, NOW_MS))
        assert attribution.record_order(conn, "order-1", PROFILE, {SHOES: 1, SOCKS: 1, HAT: 1}, NOW_MS) == 2
        assert attribution.record_order(conn, "order-1", PROFILE, {SHOES: 1}, NOW_MS) == 0, "once per order"

    # The claimed session's events arrive after the order (its kiosk was offline): the report finds them then.
    (order,) = attribution.report(conn).orders
    assert [(c.via, c.attribution_key, c.device) for c in order.sessions] == [
        ("merge", merged.attribution_key, "kiosk-01"),
        ("claim", None, "kiosk-02"),
    ]
    assert order.sessions[0].lines_from_session == {SHOES: 1}, "at most what was ordered"
    publish(conn, "kiosk-02", claimed, *kiosk.opened(claimed, "scan", t), kiosk.line_added(claimed, SOCKS, 1, t),
            kiosk.line_added(claimed, HAT, 1, t), *kiosk.line_changes(claimed, {HAT: 1}, {}, t),
            kiosk.taken_to_phone(claimed, 1, t))  # fmt: skip
    late = attribution.report(conn).orders[0].sessions[1]
    assert (late.attribution_key, late.session_id, late.store) == (claimed.attribution_key, claimed.session_id, "s042")
    assert late.lines_from_session == {SOCKS: 1}, "the hat was removed at the kiosk: not the session's"


def test_a_merge_older_than_the_window_is_not_credited(conn: sqlite3.Connection) -> None:
    old = NOW_MS - attribution.ATTRIBUTION_WINDOW_S * 1000 - 1
    with transaction(conn):
        attribution.note_merges(conn, "s042", [merge_op("kiosk-01", "k" * 32, old)])
        assert attribution.record_order(conn, "order-2", PROFILE, {SHOES: 1}, NOW_MS) == 0
    assert attribution.report(conn).orders[0].sessions == []


def test_erasure_forgets_the_carts_merges_orders_and_attributions(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        attribution.note_merges(conn, "s042", [merge_op("kiosk-01", "k" * 32, NOW_MS)])
        attribution.record_order(conn, "order-3", PROFILE, {SHOES: 1}, NOW_MS)
        attribution.forget_profile(conn, PROFILE)
    assert attribution.report(conn).orders == []
    assert conn.execute("SELECT count(*) FROM cart_merges").fetchone()[0] == 0


def test_an_event_under_another_devices_topic_is_refused_and_a_redelivery_is_kept_once(
    conn: sqlite3.Connection,
) -> None:
    s = kiosk_session("kiosk-01-a")
    ctx = EventContext("urn:acme:store:s042:device:kiosk-01", "s042", "kiosk-01", s.session_id, s.attribution_key)
    event = envelope(kiosk.line_added(s, SHOES, 1, NOW_MS / 1000), ctx)
    with pytest.raises(Rejected) as refused:
        attribution.record_event(conn, "s042", "kiosk-02", event)
    assert refused.value.reason == "impersonation"
    assert attribution.record_event(conn, "s042", "kiosk-01", event) is True
    assert attribution.record_event(conn, "s042", "kiosk-01", event) is False
    parsed = attribution.parse_workflow_event(event.model_dump_json().encode())
    assert parsed.data.name == "cart.line_added"
    with pytest.raises(Rejected) as not_workflow:
        attribution.parse_workflow_event(b'{"specversion": "1.0", "type": "com.edgeagent.cart.ops.v1"}')
    assert not_workflow.value.reason == "unexpected_type"
