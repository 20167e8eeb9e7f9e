"""CentralPlatform: the simulated platform's apply path (what arrived together in one transaction, PUBACK after
COMMIT) and its down messages (watermarks, coalesced snapshots, sync answers, catalog). The calls the tests and
benches make as the online shop and the back office are in back_office.py, the reads in inspection.py. See
simulators/central/__init__.py for what it guarantees."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
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
from edge_agent.contract.codec import Rejected, parse_event
from edge_agent.contract.device import T_ERASED, ErasureDoneEvent
from edge_agent.contract.topics import parse_device_topic
from edge_agent.contract.workflow_event import WorkflowCloudEvent
from edge_agent.domain.basket import SetAttribute
from edge_agent.domain.cart import quantities
from edge_agent.domain.fulfilment import answer_key, requested_gtin
from edge_agent.domain.hlc import HybridClock
from edge_agent.domain.ops import CartOp
from edge_agent.store import carts
from edge_agent.store.checkpoint import Checkpointer
from edge_agent.store.db import bookkeeping_transaction, connect, migrate, transaction
from edge_agent.store.device import wall_clock_ms
from edge_agent.store.schema import PLATFORM_MIGRATIONS
from simulators import aisle_orders, attribution, offers
from simulators.central import connection
from simulators.central.back_office import BackOffice
from simulators.central.catalog import CatalogDesk
from simulators.central.const import APPLY_GROUP_MAX, SNAPSHOT_FLUSH_S, SOURCE, STOP_WAIT_S
from simulators.central.inbox import Inbox
from simulators.central.inspection import Inspection
from simulators.central.stats import CentralStats
from simulators.central.web_channel import WebChannel
from simulators.platform import apply as rules
from simulators.platform import events
from simulators.platform.sqlite_store import SqliteStore

log = logging.getLogger("central")


class CentralPlatform(BackOffice, Inspection):
    """The apply path and the down messages here; the back office's calls (simulators/central/back_office.py) and
    the reads tests make (simulators/central/inspection.py) are its mixins, on the same connection and lock."""

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
