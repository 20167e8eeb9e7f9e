"""The platform's in-store → online attribution (retail note §6): which kiosk sessions an online order owes to.

A kiosk session carries an opaque ``attribution_key`` on every workflow event. It reaches a shopper's profile cart
in one of two ways, both the platform's own records, so neither needs the shopper's profile on any event:

- **merge confirmed**: the merge's ops write the key into the profile cart (``attribution_key`` attribute); the
  platform notes every such write as it applies it (:func:`note_merges`), so several sessions can credit one cart;
- **basket claimed** (take it to my phone): the platform's claim names the guest basket
  (simulators/basket_claims.py), and the kiosk's ``kiosk.session.started`` / ``cart.handoff`` events name that
  basket, which gives the session's key. Events may arrive after the order (a kiosk offline for a while): the claim
  is credited when the order is placed, its key and lines are looked up when the report is read.

An online order placed from a profile cart (:func:`record_order`) credits every session that touched the cart within
:data:`ATTRIBUTION_WINDOW_S`; the report lists, per order, each session's key, device, store, and the lines of the
order that came from it (the session's net ``cart.line_added`` / ``cart.line_removed``, at most the ordered qty).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, Literal

from pydantic import BaseModel, Field

from edge_agent.contract.codec import Rejected, parse_event
from edge_agent.contract.workflow_event import T_WORKFLOW_PREFIX, WorkflowCloudEvent
from edge_agent.domain.hlc import wall_ms_of
from edge_agent.domain.ops import CartOp, OpKind
from edge_agent.domain.session import ATTRIBUTION_ATTR
from edge_agent.domain.workflows import kiosk

ATTRIBUTION_WINDOW_S: Final = 30 * 24 * 3600
"""A session is credited for orders placed within 30 days of its merge or claim: GA4's default lookback for
acquisition attribution, and shorter than the 90-day life of a profile cart at commercetools (retail note §2)."""

NAMING_THE_BASKET: Final = (kiosk.SESSION_STARTED, kiosk.CART_HANDOFF)
"""The kiosk events whose ``data.cart`` is the session's guest basket."""


class SessionCredit(BaseModel):
    """One in-store session an order is attributed to."""

    via: Literal["merge", "claim"]
    attribution_key: str | None = Field(description="none while the kiosk's events have not arrived yet")
    session_id: str | None = None
    device: str
    store: str
    touched_at: datetime = Field(description="when the session's basket joined the profile cart")
    lines_from_session: dict[str, int] = Field(description="gtin14 → units of the order that came from the session")


class AttributedOrder(BaseModel):
    order_id: str
    placed_at: datetime
    lines: dict[str, int]
    sessions: list[SessionCredit]


class AttributionReport(BaseModel):
    """What ``python -m simulators.central --attribution`` prints."""

    orders: list[AttributedOrder]


def parse_workflow_event(payload: bytes) -> WorkflowCloudEvent:
    """A device's workflow event, whichever of the taxonomy's types it has; Rejected with its reason otherwise."""
    try:
        kind = json.loads(payload).get("type", "")
    except (ValueError, AttributeError, RecursionError):
        kind = ""
    if not isinstance(kind, str) or not kind.startswith(T_WORKFLOW_PREFIX):
        kind = f"{T_WORKFLOW_PREFIX}<name>.v1"  # parse_event refuses it with its own reason (not_json, type, ...)
    return parse_event(payload, WorkflowCloudEvent, kind)


def record_event(conn: sqlite3.Connection, store: str, device: str, event: WorkflowCloudEvent) -> bool:
    """In the caller's transaction: keep the event (deduped by its CloudEvent id); False for a redelivery.
    The shopper's profile, when the event carries it, is not kept: attribution never needs it."""
    data = event.data
    if data.device != device or data.store != store:
        raise Rejected("impersonation", f"an event of {data.store}/{data.device} published under {store}/{device}")
    cur = conn.execute(
        "INSERT OR IGNORE INTO session_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.id,
            data.name,
            store,
            device,
            data.session_id,
            data.attribution_key,
            json.dumps(data.data, sort_keys=True),
            int(data.occurred_at.timestamp() * 1000),
        ),
    )
    return bool(cur.rowcount)


def note_merges(conn: sqlite3.Connection, store: str, ops: Iterable[CartOp]) -> None:
    """In the apply transaction: the merges among these newly applied ops (their attribution key written into
    a cart), so every session that merged into a profile cart is credited, not only the last one."""
    for op in ops:
        if op.kind is OpKind.ATTR_SET and op.key == ATTRIBUTION_ATTR and op.value:
            conn.execute(
                "INSERT OR IGNORE INTO cart_merges VALUES (?, ?, ?, ?, ?)",
                (op.cart_id, op.value, op.device, store, wall_ms_of(op.hlc)),
            )


def record_order(conn: sqlite3.Connection, order_id: str, profile_cart: str, lines: dict[str, int], now_ms: int) -> int:
    """In the order's transaction: the order and the sessions it credits (merges and claims into its cart within
    the window); how many. A second call for the same order changes nothing."""
    if conn.execute("SELECT 1 FROM online_orders WHERE order_id = ?", (order_id,)).fetchone():
        return 0
    conn.execute("INSERT INTO online_orders VALUES (?, ?, ?, ?)", (order_id, profile_cart, now_ms, json.dumps(lines)))
    since = now_ms - ATTRIBUTION_WINDOW_S * 1000
    merges = conn.execute(
        "SELECT attribution_key, device, store, merged_ms FROM cart_merges WHERE profile_cart = ? AND merged_ms >= ?",
        (profile_cart, since),
    ).fetchall()
    claims = conn.execute(
        "SELECT c.cart_id, c.device, h.store, c.claimed_ms FROM basket_claims c "
        "JOIN device_homes h ON h.device = c.device WHERE c.profile_cart = ? AND c.claimed_ms >= ?",
        (profile_cart, since),
    ).fetchall()
    rows = [("merge", *m) for m in merges] + [("claim", *c) for c in claims]
    conn.executemany(
        "INSERT OR IGNORE INTO order_attributions VALUES (?, ?, ?, ?, ?, ?)", [(order_id, *r) for r in rows]
    )
    return len(rows)


def forget_profile(conn: sqlite3.Connection, profile_cart: str) -> None:
    """Erasure: the merges into a forgotten profile cart, and its orders' attributions, go."""
    orders = "SELECT order_id FROM online_orders WHERE profile_cart = ?"
    conn.execute(f"DELETE FROM order_attributions WHERE order_id IN ({orders})", (profile_cart,))
    conn.execute("DELETE FROM online_orders WHERE profile_cart = ?", (profile_cart,))
    conn.execute("DELETE FROM cart_merges WHERE profile_cart = ?", (profile_cart,))


def report(conn: sqlite3.Connection) -> AttributionReport:
    """Every online order with the sessions it is attributed to (read-only; works on a copy in use)."""
    orders = []
    rows = conn.execute("SELECT order_id, placed_ms, lines FROM online_orders ORDER BY placed_ms, order_id")
    for order_id, placed_ms, lines_json in rows.fetchall():
        lines: dict[str, int] = json.loads(lines_json)
        credits = conn.execute(
            "SELECT via, ref, device, store, touched_ms FROM order_attributions WHERE order_id = ? "
            "ORDER BY touched_ms, ref",
            (order_id,),
        ).fetchall()
        sessions = [
            _credit(conn, via, ref, device, store, touched_ms, lines) for via, ref, device, store, touched_ms in credits
        ]
        orders.append(AttributedOrder(order_id=order_id, placed_at=_at(placed_ms), lines=lines, sessions=sessions))
    return AttributionReport(orders=orders)


def _credit(
    conn: sqlite3.Connection, via: str, ref: str, device: str, store: str, touched_ms: int, ordered: dict[str, int]
) -> SessionCredit:
    key = ref if via == "merge" else _key_of_basket(conn, device, ref)
    session_id, net = None, Counter[str]()
    if key is not None:
        events = conn.execute(
            "SELECT name, session_id, data FROM session_events WHERE attribution_key = ? ORDER BY occurred_ms",
            (key,),
        ).fetchall()
        for name, sid, data_json in events:
            session_id = session_id or sid
            data = json.loads(data_json)
            if name in (kiosk.LINE_ADDED, kiosk.LINE_REMOVED):
                net[data["gtin14"]] += data["qty"] if name == kiosk.LINE_ADDED else -data["qty"]
    from_session = {g: min(q, ordered[g]) for g, q in sorted(net.items()) if q > 0 and g in ordered}
    return SessionCredit(
        via=via,  # type: ignore[arg-type]
        attribution_key=key,
        session_id=session_id,
        device=device,
        store=store,
        touched_at=_at(touched_ms),
        lines_from_session=from_session,
    )


def _key_of_basket(conn: sqlite3.Connection, device: str, guest_cart: str) -> str | None:
    marks = ",".join("?" * len(NAMING_THE_BASKET))
    row = conn.execute(
        f"SELECT attribution_key FROM session_events WHERE device = ? AND name IN ({marks}) "
        "AND json_extract(data, '$.cart') = ? AND attribution_key IS NOT NULL "
        "ORDER BY name = ? DESC, occurred_ms DESC LIMIT 1",  # the hand-off names the very session claimed
        (device, *NAMING_THE_BASKET, guest_cart, kiosk.CART_HANDOFF),
    ).fetchone()
    return None if row is None else str(row[0])


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
