"""CentralPlatform: the simulated platform's apply path (what arrived together in one transaction, PUBACK after
COMMIT), its down messages (watermarks, coalesced snapshots, catalog) and the calls the tests and benches make as
the online shop and the platform's back office (online edits, claims, online orders, erasure). See
simulators/central/__init__.py for what it guarantees."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from edge_agent.contract.cart import (
    T_OPS,
    T_SYNC_REQUEST,
    AppliedWatermark,
    CartSnapshot,
    OpsBatch,
    OpsBatchEvent,
    SyncRequestEvent,
)
from edge_agent.contract.claim import BasketClaimed
from edge_agent.contract.codec import Rejected, parse_event
from edge_agent.contract.device import T_ERASED, ErasureDoneEvent
from edge_agent.contract.topics import parse_device_topic
from edge_agent.contract.workflow_event import WorkflowCloudEvent
from edge_agent.domain.basket import AddItem, BasketCommand, Refused, RequestCheckout, SetAttribute
from edge_agent.domain.cart import Seal, quantities
from edge_agent.domain.fulfilment import answer_key, requested_gtin
from edge_agent.domain.hlc import HybridClock
from edge_agent.domain.ops import CartOp
from edge_agent.identity.claim_token import ClaimRefused
from edge_agent.identity.tokens import Claims, credential_fingerprint, sign_token, signature_of
from edge_agent.store import carts
from edge_agent.store.checkpoint import Checkpointer
from edge_agent.store.db import bookkeeping_transaction, connect, migrate, transaction
from edge_agent.store.device import wall_clock_ms
from edge_agent.store.schema import PLATFORM_MIGRATIONS
from simulators import aisle_orders, attribution, basket_claims, offers
from simulators import cart_authority as authority
from simulators.central import connection, messages
from simulators.central.catalog import CatalogDesk
from simulators.central.const import APPLY_GROUP_MAX, SNAPSHOT_FLUSH_S, SOURCE, STOP_WAIT_S, WEB_DEVICE
from simulators.central.inbox import Inbox
from simulators.central.stats import CentralStats
from simulators.central.web_channel import WebChannel
from simulators.platform import apply as rules
from simulators.platform import events
from simulators.platform.sqlite_store import SqliteStore

log = logging.getLogger("central")


class CentralPlatform:
    identity_keys: tuple[bytes, ...] = ()
    """Legacy: the platform's HMAC identity keys (current first): EA1 devices' merge grants verify under them. EA2
    devices' fingerprint grants need none, only credentials issued by :meth:`issue_credential`; without either no
    device may write a shopper's profile cart (its ops are held)."""

    def __init__(
        self,
        db_path: Path | str,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        protocol: str = "5",
        client_id: str = "central-sim",
        shared: bool = True,
        session_expiry_s: int = 3600,
        tls: tuple[str, str, str] | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.tls = tls  # (ca, cert, key): mTLS as the `platform` identity on a fenced store broker
        self.host, self.port, self.protocol = host, port, protocol
        self.client_id = client_id
        self.shared = shared and protocol == "5"
        self.session_expiry_s = session_expiry_s
        self.stats = CentralStats()
        self._lock = threading.RLock()
        self._dirty: set[str] = set()
        self._stop = threading.Event()
        self._conn: Any = None
        self._client: paho.Client | None = None
        self._flusher: threading.Thread | None = None
        self._checkpoints: Checkpointer | None = None
        self._web: WebChannel | None = None
        self._inbox = Inbox(self.handle_many, self._ack, APPLY_GROUP_MAX)
        self._clock = HybridClock(wall_clock_ms)
        self.connected = threading.Event()
        self.offers = offers.OfferDesk(lambda topic, payload, retain: self._publish(topic, payload, retain))
        """Consent changes made at devices, offers per consented session, offers applied at checkout."""
        self.catalog = CatalogDesk(lambda topic, payload, retain: self._publish(topic, payload, retain))
        """Each store's catalog, stamped with versions; what a device missed sent again on its sync request."""

    @property
    def _port(self) -> SqliteStore:
        """The apply rules' storage port over this simulator's one SQLite connection (simulators/platform)."""
        return SqliteStore(self._conn)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> CentralPlatform:
        self._conn = connect(self.db_path)
        migrate(self._conn, PLATFORM_MIGRATIONS)
        # As on the device: no apply transaction checkpoints the WAL itself (a stall in every device's latency).
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoints = Checkpointer(self.db_path)
        self._checkpoints.start()
        self._web = WebChannel.open(self._conn, self._clock)
        client = connection.make_client(self.client_id, self.protocol, self.tls)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self._client = client
        self._inbox.start()
        self.come_online(timeout)
        self._flusher = threading.Thread(target=self._flush_loop, name="central-flush", daemon=True)
        self._flusher.start()
        return self

    def come_online(self, timeout: float = 10.0) -> None:
        assert self._client is not None
        connection.connect(self._client, self.host, self.port, self.protocol, self.session_expiry_s)
        if not self.connected.wait(timeout):
            raise RuntimeError(f"central simulator could not connect to {self.host}:{self.port}")

    def go_offline(self) -> None:
        """The platform goes away; its broker session (and queue) stays."""
        assert self._client is not None
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()
        self._inbox.new_connection()

    def stop(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(5)
        self._inbox.stop(STOP_WAIT_S)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._checkpoints is not None:
            self._checkpoints.stop()
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> CentralPlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- MQTT ---------------------------------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            return
        client.subscribe(connection.subscriptions(self.shared))
        self._inbox.new_connection()
        self.connected.set()

    def _on_disconnect(self, *_a: Any) -> None:
        self._inbox.new_connection()
        self.connected.clear()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        self._inbox.put(msg.topic, bytes(msg.payload), msg.mid, msg.qos)  # applied on the inbox's thread

    @property
    def acknowledged(self) -> int:
        """Messages acknowledged so far: a PUBACK goes after the COMMIT that applied the message (inbox.py)."""
        return self._inbox.acknowledged

    def _ack(self, mid: int, qos: int) -> None:
        if self._client is not None:
            self._client.ack(mid, qos)

    def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> list[bool]:
        """Messages in arrival order; per message, whether it may be acknowledged (False: it failed and was rolled
        back, for the broker to redeliver). A run of ops batches and workflow events shares ONE transaction, so
        what arrived together costs one fsync, each message in a savepoint of its own so a poison one rolls back
        alone; watermarks are published after the COMMIT, once per device. A sync request or an erasure notice
        waits for the run before it to commit: a sync answer never precedes an op applied before it."""
        oks = [True] * len(messages)
        run: list[tuple[int, tuple[str, str, str, str], bytes]] = []
        for i, (topic, payload) in enumerate(messages):
            parsed = parse_device_topic(topic)
            if parsed is None:
                self.stats.rejected["unknown_topic"] += 1
            elif parsed[3] in ("ops", "events"):
                run.append((i, parsed, payload))
            else:
                self._apply_run(run, oks)
                run = []
                with self._rejecting(parsed[3], parsed[2]):
                    self._handle_other(parsed, payload)
        self._apply_run(run, oks)
        return oks

    def _handle_other(self, parsed: tuple[str, str, str, str], payload: bytes) -> None:
        tenant, store, device, leaf = parsed
        if leaf == "sync":
            self._answer_sync(tenant, store, device, parse_event(payload, SyncRequestEvent, T_SYNC_REQUEST))
        elif leaf == "erased":
            self.stats.erasures_done.append(parse_event(payload, ErasureDoneEvent, T_ERASED).data)

    @contextlib.contextmanager
    def _rejecting(self, leaf: str, device: str) -> Iterator[None]:
        """Poison messages are acknowledged (else redelivered forever) and counted."""
        try:
            yield
        except (ValueError, OverflowError) as exc:
            self._reject(leaf, device, exc)

    def _reject(self, leaf: str, device: str, exc: ValueError | OverflowError) -> None:
        rej = exc if isinstance(exc, Rejected) else Rejected("invalid_value", f"{type(exc).__name__}: {exc}")
        self.stats.rejected[rej.reason] += 1
        log.warning("central: rejected %s from %s: %s", leaf, device, rej)

    # --- applying ops -------------------------------------------------------------------------------------
    def _apply_run(self, run: list[tuple[int, tuple[str, str, str, str], bytes]], oks: list[bool]) -> None:
        """Ops batches and workflow events in one transaction: FULL when it holds an op, else with bookkeeping
        durability (an event alone takes no fsync of its own, as before). Counted and published after COMMIT."""
        work: list[tuple[int, tuple[str, str, str, str], OpsBatch | WorkflowCloudEvent]] = []
        for i, parsed, payload in run:  # parsed before the lock is taken
            with self._rejecting(parsed[3], parsed[2]):
                if parsed[3] == "ops":
                    work.append((i, parsed, parse_event(payload, OpsBatchEvent, T_OPS).data))
                else:
                    work.append((i, parsed, attribution.parse_workflow_event(payload)))
        if not work:
            return
        durable = any(isinstance(w, OpsBatch) for _i, _p, w in work)
        done: list[tuple[tuple[str, str, str, str], OpsBatch, rules.Applied]] = []
        new_events = 0
        alone = len(work) == 1  # no savepoint: a failure rolls the whole transaction back
        try:
            with self._lock, (transaction if durable else bookkeeping_transaction)(self._conn):
                for i, parsed, item in work:
                    tenant, store, device, _leaf = parsed
                    if not alone:
                        self._conn.execute("SAVEPOINT message")
                    try:
                        if isinstance(item, OpsBatch):
                            done.append((parsed, item, self._apply_batch(tenant, store, device, item)))
                        else:
                            new_events += attribution.record_event(self._conn, store, device, item)
                    except Exception as exc:
                        if alone:
                            raise
                        self._conn.execute("ROLLBACK TO message")
                        self._conn.execute("RELEASE message")
                        self._failed(i, parsed, exc, oks)
                        continue
                    if not alone:
                        self._conn.execute("RELEASE message")
        except Exception as exc:
            if not alone:
                raise  # the COMMIT failed: nothing is acknowledged, the broker redelivers
            self._failed(work[0][0], work[0][1], exc, oks)
            return
        self.stats.transactions += 1
        self.stats.events_recorded += new_events
        for _parsed, batch, applied in done:
            self.stats.count_batch(applied, len(batch.ops))
        for tenant, store, device in dict.fromkeys(p[:3] for p, _b, _a in done):
            self._publish_watermark(tenant, store, device)
        with self._lock:
            for _p, _b, applied in done:
                self._dirty |= applied.touched
        self.committed([batch for _p, batch, _a in done])

    def _failed(self, i: int, parsed: tuple[str, str, str, str], exc: Exception, oks: list[bool]) -> None:
        """A message rolled back: poison is counted and acknowledged; anything else is left for redelivery."""
        leaf, device = parsed[3], parsed[2]
        if isinstance(exc, ValueError | OverflowError):
            self._reject(leaf, device, exc)
            return
        oks[i] = False
        log.error("central: failed on %s from %s; not acknowledged, redelivered later", leaf, device, exc_info=exc)

    def committed(self, batches: Sequence[OpsBatch]) -> None:
        """Called once the transaction that applied ``batches`` committed and their watermarks were published:
        nothing here; the benches override it to time the apply path."""

    def _apply_batch(self, tenant: str, store: str, device: str, batch: OpsBatch) -> rules.Applied:
        """One device batch, in the caller's transaction."""
        applied = rules.apply_batch(
            self._port, self.identity_keys, tenant, store, device, batch, join=self._join_claimed
        )
        conn = self._conn
        self.offers.observe(tenant, store, applied.new_ops, lambda c: {a.key: a.value for a in carts.attrs(conn, c)})
        attribution.note_merges(conn, store, applied.new_ops)
        for op in aisle_orders.requests(applied.new_ops):
            self._decide_aisle_order(op, tenant, store)
        self._clock.observe(batch.hlc_max)
        return applied

    def _decide_aisle_order(self, op: CartOp, tenant: str, store: str) -> None:
        """In the same transaction: the answer to an endless-aisle order request (simulators/aisle_orders.py)."""
        gtin14 = requested_gtin(op.key or "") or ""
        item = self.catalog.item(tenant, store, gtin14)
        qty = quantities(carts.live_entries(self._conn, op.cart_id)).get(gtin14, 0)
        answer = aisle_orders.decide(op, qty, item, store)
        if answer is None:
            self.stats.rejected["bad_aisle_request"] += 1
            return
        self.stats.aisle_orders[answer.state] += 1
        self._web_op(SetAttribute(op.cart_id, answer_key(gtin14), answer.model_dump_json(exclude_none=True)))

    def watermark(self, device: str) -> AppliedWatermark:
        with self._lock:
            return rules.watermark_of(self._port, device, self._clock.now())

    def _publish_watermark(self, tenant: str, store: str, device: str, answers: str | None = None) -> None:
        topic, payload = events.watermark_message(tenant, store, self.watermark(device), SOURCE, answers)
        self._publish(topic, payload, retain=True)

    # --- snapshots, sync answers, catalog ------------------------------------------------------------------
    def _cart_home(self, cart_id: str) -> tuple[str, str] | None:
        return self._port.cart_home(cart_id)

    def snapshot(self, cart_id: str) -> CartSnapshot:
        with self._lock:
            return rules.snapshot_of(self._port, cart_id, self._clock.now())

    def publish_snapshot(self, cart_id: str) -> None:
        with self._lock:
            home = self._cart_home(cart_id)
        if home is None:
            return
        topic, payload = events.snapshot_message(*home, self.snapshot(cart_id), SOURCE)
        self._publish(topic, payload, retain=True)
        self.stats.snapshots_published += 1

    def _answer_sync(self, tenant: str, store: str, device: str, event: SyncRequestEvent) -> None:
        self._publish_watermark(tenant, store, device, answers=event.id)
        with self._lock:
            erased = self._port.erased_among(event.data.cart_ids) if event.data.cart_ids else set()
            known = [c for c in event.data.cart_ids if c not in erased and self._cart_home(c) is not None]
        for topic, payload in events.erasure_replays(tenant, store, erased, SOURCE):
            self._publish(topic, payload)  # it was away when the erasure went out, or its session expired
        self.stats.erasures_replayed += len(erased)
        for cart_id in known:
            self.publish_snapshot(cart_id)
        self.catalog.send_since(tenant, store, event.data.catalog_version)

    def publish_catalog(self, tenant: str, store: str, items: list[dict[str, Any]]) -> int:
        """New or changed items (fields of CatalogItem without ``version``): stamped, kept, published."""
        return self.catalog.publish(tenant, store, items)

    def change_item(self, tenant: str, store: str, gtin14: str, **changes: Any) -> int:
        """A price or stock change (pass ``price_minor``/``stock`` with their ``*_as_of``)."""
        return self.catalog.change_item(tenant, store, gtin14, **changes)

    # --- online edits (simulators/central/web_channel.py) --------------------------------------------------
    def online_edit(self, command: BasketCommand) -> str:
        """A shopper edits the cart online: an op from the web channel, applied like any device's op."""
        with self._lock, transaction(self._conn):
            op = self._web_op(command)
        self.publish_snapshot(op.cart_id)
        return op.op_id

    def _web_op(self, command: BasketCommand) -> CartOp:
        """One op of the web channel, applied in the caller's transaction."""
        assert self._web is not None, "start() first"
        return self._web.op(self._conn, command)

    # --- take my basket to my phone (simulators/basket_claims.py) -----------------------------------------
    def claim(self, token: str, profile_cart: str) -> BasketClaimed:
        """What the online shop's backend does when the signed-in shopper, on the page a kiosk's claim link
        opened, taps "take it" (never on the link's load): verify, join the guest basket into ``profile_cart``,
        tell the kiosk. ClaimRefused (counted in ``stats.claims_refused``) when the link is not honoured."""
        now = time.time()
        try:
            with self._lock, transaction(self._conn):
                admitted = basket_claims.admit(self._conn, self.identity_keys, token, profile_cart, now)
                self._join_claimed({admitted.cart})
                units = basket_claims.joined_units(self._conn, admitted.cart)
        except ClaimRefused as refused:
            self.stats.claims_refused[refused.reason] += 1
            log.warning("central: claim refused: %s", refused)
            raise
        self.stats.claims += 1
        self.publish_snapshot(profile_cart)
        claimed = BasketClaimed(
            cart=admitted.cart, claim_id=admitted.claim_id, claimed_at=datetime.fromtimestamp(now, UTC), units=units
        )
        self._publish(*messages.claimed_message(admitted, claimed))
        return claimed

    # --- attribution of later online orders (simulators/attribution.py) ------------------------------------
    def place_online_order(self, profile_cart: str) -> str:
        """The shopper checks out their profile cart online: the platform seals it as an order (the same seal a
        till checkout makes) and credits the in-store sessions that joined it. Returns the order id."""
        now_ms = wall_clock_ms()
        with self._lock, transaction(self._conn):
            op = self._web_op(RequestCheckout(profile_cart, actor="web"))
            decided = rules.Applied(WEB_DEVICE)
            rules.decide_checkout_of(self._port, op, decided)
            seal = carts.seal_of(self._conn, profile_cart)
            assert seal is not None  # decided in this very transaction
            ordered = [e for e in carts.live_entries(self._conn, profile_cart) if e.entry_id in set(seal.entry_ids)]
            if not ordered:
                raise Refused("empty_cart", f"{profile_cart} holds nothing to order")
            credited = attribution.record_order(self._conn, seal.order_id, profile_cart, quantities(ordered), now_ms)
        self.stats.online_orders += 1
        self.stats.orders_sealed += decided.sealed
        self.stats.checkout_already_sealed += decided.already_sealed
        log.info(
            "central: online order %s from %s credits %d in-store session(s)", seal.order_id, profile_cart, credited
        )
        self.publish_snapshot(profile_cart)
        return seal.order_id

    def attribution_report(self) -> attribution.AttributionReport:
        with self._lock:
            return attribution.report(self._conn)

    def _join_claimed(self, cart_ids: set[str]) -> set[str]:
        """In the caller's transaction: the units of claimed guest carts not yet in their profile carts, added
        from the web channel. Returns the profile carts that changed."""
        changed = set()
        for cart_id in basket_claims.claimed_among(self._conn, cart_ids):
            for command in basket_claims.due(self._conn, cart_id):
                changed.add(self._web_op(command).cart_id)
        return changed

    def trust_identity_keys(self, *keys: bytes) -> None:
        """Legacy (EA1): the HMAC keys the platform signs shopper credentials with (the ones it gave the devices);
        merge grants from legacy devices verify under them."""
        self.identity_keys = tuple(keys)

    def issue_credential(self, seed: bytes, claims: Claims) -> str:
        """The platform issues an EA2 credential (app code or card) signed with its Ed25519 private key, and records
        its fingerprint for the profile cart: a fingerprint grant from a device that saw it lets that device write
        the cart. The credential itself is returned to the shopper's app and kept nowhere here."""
        token = sign_token(seed, claims)
        with self._lock, transaction(self._conn):
            self._port.record_issued(claims.cart, credential_fingerprint(signature_of(token)))
        return token

    def held_ops(self, device: str | None = None) -> int:
        """Ops kept but never applied because their device may not write the cart."""
        with self._lock:
            return authority.held_count(self._conn, device)

    def open_profile_cart(self, cart_id: str, tenant: str, store: str) -> None:
        """A shopper's online cart, homed at a store so its snapshots reach that store's devices."""
        with self._lock, transaction(self._conn):
            self._conn.execute("INSERT OR IGNORE INTO cart_versions VALUES (?, 1, ?, ?)", (cart_id, tenant, store))
            authority.open_profile(self._conn, cart_id)

    def erase_shopper(self, cart_id: str, tenant: str, store: str, request_id: str) -> None:
        """Right to be forgotten: drop the cart here, clear its retained snapshot, and ask the store's devices
        to forget their copies. Ops for it that are still in flight are acknowledged and never applied."""
        with self._lock, transaction(self._conn):
            self._port.erase_shopper(cart_id)  # marked: the apply rules drop its in-flight ops from here on
            basket_claims.forget_profile(self._conn, cart_id)
            self.offers.forget(cart_id)
            attribution.forget_profile(self._conn, cart_id)
            self._dirty.discard(cart_id)
        (cleared, empty), request = events.erasure_messages(tenant, store, request_id, cart_id, SOURCE)
        self._publish(cleared, empty, retain=True)
        self._publish(*request)

    def add_online(self, cart_id: str, sku: str, qty: int = 1) -> str:
        return self.online_edit(AddItem(cart_id, sku, qty, actor="web"))

    def _flush_loop(self) -> None:
        while not self._stop.wait(SNAPSHOT_FLUSH_S):
            with self._lock:
                dirty, self._dirty = self._dirty, set()
            for cart_id in sorted(dirty):
                try:
                    self.publish_snapshot(cart_id)
                except Exception:
                    log.exception("central: snapshot of %s failed", cart_id)

    def _publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        if self._client is not None:
            self._client.publish(topic, payload, qos=1, retain=retain)

    # --- inspection ---------------------------------------------------------------------------------------
    def seal(self, cart_id: str) -> Seal | None:
        with self._lock:
            return carts.seal_of(self._conn, cart_id)

    def pay_tote(self, tote_id: str, order_id: str) -> str:
        """The shopper paid for a tote at the till or by link: the platform records the order on the tote cart."""
        return self.online_edit(SetAttribute(tote_id, "tote.order_id", order_id, actor="platform"))

    def cart_attrs(self, cart_id: str) -> dict[str, str | None]:
        """A cart's LWW attributes (a tote's state, associate and customer)."""
        with self._lock:
            return {a.key: a.value for a in carts.attrs(self._conn, cart_id)}

    def cart(self, cart_id: str) -> dict[str, int]:
        with self._lock:
            return quantities(carts.live_entries(self._conn, cart_id))

    def carts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            ids = [r[0] for r in self._conn.execute("SELECT cart_id FROM cart_versions ORDER BY cart_id")]
        return {c: self.cart(c) for c in ids}

    def applied_op_ids(self, device: str) -> set[str]:
        """Every op id of this device the platform has recorded as applied (deduped per op)."""
        with self._lock:
            rows = self._conn.execute("SELECT device, epoch, seq FROM applied_ops WHERE device = ?", (device,))
            return {f"{d}:{e}:{s}" for d, e, s in rows}

    def applied_count(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                return int(self._conn.execute("SELECT count(*) FROM applied_ops").fetchone()[0])
            return int(self._conn.execute("SELECT count(*) FROM applied_ops WHERE device = ?", (device,)).fetchone()[0])
