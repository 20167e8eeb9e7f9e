"""The platform's click-and-collect side, simulated next to a running :class:`simulators.central.CentralPlatform`.

It publishes pick orders (retained, one topic per order), arbitrates claims, answers substitution proposals and
marks staged orders ready for pickup (the platform notifies the customer). It reads the picks only from the
central database (``CentralPlatform.snapshot``), i.e. from ops the platform has *applied*, never from what a
device merely published; so an outage, a resend or a duplicate changes nothing here.

- **Claims, first come:** a handheld's accept is the ``pick.claim`` attribute (``"{device}:{associate}"``) of
  the ``pick-{order_id}`` cart. The first claim this simulator sees applied is recorded (``INSERT OR IGNORE`` in
  its own SQLite file) and published, retained, on ``picking/orders/{order_id}/claim``; the decision never
  changes. Two claims applied between two polls (50 ms) resolve to the attribute's LWW winner. A real platform
  would decide inside the ingest transaction that applies the claim op.
- **A loser's ops are dropped:** only the winning device's entries and attributes count (:meth:`picked`).
- **Substitutions:** a ``pick.line.{line_id}.substitute`` proposal by the winner is approved or rejected (by
  ``approve``) and all decisions so far are republished, retained, on ``.../decisions``.
- **Ready for pickup:** ``pick.state = staged`` from the winner -> the order, version + 1, status
  ``ready_for_pickup`` (notified via sms).
- **Pickup:** an order published with a ``pickup_code`` carries only its ``pickup_code_hash`` (the code is the
  customer's; this simulator keeps only the hash). ``pick.state = handed_over`` from the winner -> status
  ``closed``; :meth:`no_show` is the hold window passing (the platform's policy) while the order still waits.

It uses its own paho client (not the central's), so the central simulator needs no change.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract.base import utcnow
from edge_agent.contract.cart import CartSnapshot
from edge_agent.contract.picking import (
    ClaimDecision,
    ClaimDecisionEvent,
    PickOrderEvent,
    PickOrderLine,
    PickOrderMessage,
    SubstitutionDecision,
    SubstitutionDecisions,
    SubstitutionDecisionsEvent,
    pickup_code_hash,
)
from edge_agent.contract.topics import Topics, claim_topic, decisions_topic, order_topic
from edge_agent.roles.picking import CLAIM_ATTR, STATE_ATTR, pick_cart
from simulators.central import CentralPlatform

log = logging.getLogger("pick-platform")

POLL_S = 0.05
Approve = bool | Callable[[str, str, str], bool]
"""Approve every substitution, reject every one, or decide per (order_id, line_id, to_gtin)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (order_id TEXT PRIMARY KEY, device TEXT NOT NULL, associate TEXT NOT NULL,
                                   decided_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (order_id TEXT NOT NULL, line_id TEXT NOT NULL, to_gtin TEXT NOT NULL,
                                      approved INTEGER NOT NULL, PRIMARY KEY (order_id, line_id, to_gtin));
"""


class PickPlatform:
    def __init__(
        self,
        central: CentralPlatform,
        tenant: str,
        store: str,
        *,
        approve: Approve = True,
        db_path: Path | str | None = None,
        client_id: str = "pick-platform-sim",
    ) -> None:
        self.central = central
        self.topics = Topics(tenant, store, "-")
        self.source = f"urn:{tenant}:platform:pick-sim"
        self.approve = approve
        self.db_path = Path(db_path) if db_path else central.db_path.with_name("picking.db")
        self.client_id = client_id
        self.connected = threading.Event()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._conn: sqlite3.Connection | None = None
        self._client: paho.Client | None = None
        self._poller: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> PickPlatform:
        self._conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        self._conn.executescript(_SCHEMA)
        mqtt5 = self.central.protocol == "5"
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311
        )
        client.suppress_exceptions = True
        client.on_connect = lambda *a: self.connected.set()
        client.on_disconnect = lambda *a: self.connected.clear()
        client.reconnect_delay_set(1, 2)
        client.connect(self.central.host, self.central.port, keepalive=10)
        client.loop_start()
        self._client = client
        if not self.connected.wait(timeout):
            raise RuntimeError("pick platform could not connect")
        self._poller = threading.Thread(target=self._poll_loop, name="pick-platform", daemon=True)
        self._poller.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> PickPlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what a test or operator does -----------------------------------------------------------------------
    def publish_order(
        self,
        order_id: str,
        lines: Sequence[tuple[str, str, int]],
        *,
        deadline: datetime | None = None,
        pickup_code: str | None = None,
    ) -> PickOrderMessage:
        """Route an order to the store: (line_id, gtin14, qty) lines; every handheld sees it as ASSIGNED. The
        customer's ``pickup_code`` (told to them, not to the store) is published only as its hash."""
        msg = PickOrderMessage(
            order_id=order_id,
            lines=[PickOrderLine(line_id=i, gtin14=g, qty=q) for i, g, q in lines],
            assigned_at=datetime.now(UTC),
            deadline=deadline,
            pickup_code_hash=None if pickup_code is None else pickup_code_hash(pickup_code),
        )
        self._save_and_publish(msg)
        return msg

    def withdraw(self, order_id: str) -> None:
        """Reroute or cancel: handhelds forget the order."""
        order = self.order(order_id)
        if order is not None:
            self._save_and_publish(order.model_copy(update={"status": "withdrawn", "version": order.version + 1}))

    def no_show(self, order_id: str) -> None:
        """The hold window passed before the customer came: the order, version + 1, status ``no_show``."""
        order = self.order(order_id)
        if order is not None and order.status == "ready_for_pickup":
            self._save_and_publish(order.model_copy(update={"status": "no_show", "version": order.version + 1}))

    def clear(self, order_id: str) -> None:
        """Done with the order: its retained messages go (handhelds that hear it forget the order)."""
        for topic in (order_topic(self.topics, order_id), claim_topic(self.topics, order_id)):
            self._publish(topic, b"")
        self._publish(decisions_topic(self.topics, order_id), b"")

    # --- inspection -----------------------------------------------------------------------------------------
    def order(self, order_id: str) -> PickOrderMessage | None:
        row = self._db().execute("SELECT body FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else PickOrderMessage.model_validate_json(row[0])

    def claim(self, order_id: str) -> ClaimDecision | None:
        row = self._db().execute("SELECT device, associate FROM claims WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else ClaimDecision(order_id=order_id, device=row[0], associate=row[1])

    def decisions(self, order_id: str) -> list[SubstitutionDecision]:
        rows = self._db().execute(
            "SELECT line_id, to_gtin, approved FROM decisions WHERE order_id = ? ORDER BY rowid", (order_id,)
        )
        return [SubstitutionDecision(line_id=r[0], to_gtin=r[1], approved=bool(r[2])) for r in rows]

    def picked(self, order_id: str) -> dict[str, int]:
        """The pick as the platform counts it: the winning device's units only (a loser's are dropped)."""
        claim = self.claim(order_id)
        if claim is None:
            return {}
        out: dict[str, int] = {}
        for e in self.central.snapshot(pick_cart(order_id)).entries:
            if e.origin_device == claim.device:
                out[e.sku] = out.get(e.sku, 0) + e.qty
        return out

    def attrs(self, order_id: str) -> dict[str, str | None]:
        """The pick cart's attributes as written by the winning device."""
        claim = self.claim(order_id)
        snap = self.central.snapshot(pick_cart(order_id))
        return {a.key: a.value for a in snap.attrs if claim is not None and a.device == claim.device}

    # --- the loop -------------------------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.wait(POLL_S):
            rows = self._db().execute("SELECT order_id FROM orders").fetchall()
            for (order_id,) in rows:
                try:
                    self._step(order_id)
                except Exception:
                    log.exception("pick platform: order %s", order_id)

    def _step(self, order_id: str) -> None:
        order = self.order(order_id)
        if order is not None and order.status == "ready_for_pickup":
            self._close_handed_over(order)
        if order is None or order.status != "open":
            return
        snap: CartSnapshot = self.central.snapshot(pick_cart(order_id))
        attrs = {a.key: a for a in snap.attrs}
        claim = self.claim(order_id)
        if claim is None:
            proposed = attrs.get(CLAIM_ATTR)
            if proposed is None or not proposed.value or ":" not in proposed.value:
                return
            device, associate = proposed.value.split(":", 1)
            with self._lock:
                self._db().execute(
                    "INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?)", (order_id, device, associate, time.time())
                )
            claim = self.claim(order_id)
            assert claim is not None
            log.info("pick platform: order %s claimed by %s on %s", order_id, claim.associate, claim.device)
            self._publish_claim(claim)
        mine = {k: a for k, a in attrs.items() if a.device == claim.device}
        self._answer_substitutions(order_id, mine)
        state = mine.get(STATE_ATTR)
        if state is not None and state.value == "staged":
            ready = order.model_copy(
                update={"status": "ready_for_pickup", "notified_via": "sms", "version": order.version + 1}
            )
            self._save_and_publish(ready)

    def _close_handed_over(self, order: PickOrderMessage) -> None:
        """The winner's applied ``pick.state = handed_over``: the fulfilment is closed."""
        claim = self.claim(order.order_id)
        snap = self.central.snapshot(pick_cart(order.order_id))
        state = next((a for a in snap.attrs if a.key == STATE_ATTR), None)
        if claim is not None and state is not None and state.device == claim.device and state.value == "handed_over":
            self._save_and_publish(order.model_copy(update={"status": "closed", "version": order.version + 1}))

    def _answer_substitutions(self, order_id: str, attrs: dict[str, Any]) -> None:
        decided = {(d.line_id, d.to_gtin) for d in self.decisions(order_id)}
        new = False
        for key, attr in attrs.items():
            parts = key.split(".")
            if len(parts) != 4 or parts[:2] != ["pick", "line"] or parts[3] != "substitute" or not attr.value:
                continue
            line_id, to_gtin = parts[2], attr.value
            if (line_id, to_gtin) in decided:
                continue
            ok = self.approve(order_id, line_id, to_gtin) if callable(self.approve) else self.approve
            with self._lock:
                self._db().execute(
                    "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?)", (order_id, line_id, to_gtin, int(ok))
                )
            new = True
        if new:
            data = SubstitutionDecisions(order_id=order_id, decisions=self.decisions(order_id))
            event = SubstitutionDecisionsEvent(
                source=self.source, id=f"decisions:{order_id}:{len(data.decisions)}", time=utcnow(), data=data
            )
            self._publish(decisions_topic(self.topics, order_id), event.model_dump_json().encode())

    # --- internals ------------------------------------------------------------------------------------------
    def _save_and_publish(self, msg: PickOrderMessage) -> None:
        with self._lock:
            self._db().execute("INSERT OR REPLACE INTO orders VALUES (?, ?)", (msg.order_id, msg.model_dump_json()))
        event = PickOrderEvent(
            source=self.source, id=f"order:{msg.order_id}:{msg.version}", time=utcnow(), subject=msg.order_id, data=msg
        )
        self._publish(order_topic(self.topics, msg.order_id), event.model_dump_json(exclude_none=True).encode())

    def _publish_claim(self, claim: ClaimDecision) -> None:
        event = ClaimDecisionEvent(
            source=self.source, id=f"claim:{claim.order_id}", time=utcnow(), subject=claim.order_id, data=claim
        )
        self._publish(claim_topic(self.topics, claim.order_id), event.model_dump_json().encode())

    def _publish(self, topic: str, payload: bytes) -> None:
        assert self._client is not None
        self._client.publish(topic, payload, qos=1, retain=True)

    def _db(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn


__all__ = ["PickPlatform"]
