"""The daemon: readers -> domain -> store -> sync, and back in from sync to the store, on one asyncio loop.

Blocking readers run in threads and hand typed events to the loop; the loop is the only writer of the
database; the link's callbacks only hand events to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edge_agent import __version__, const
from edge_agent.catalog.lookup import LookupResult
from edge_agent.catalog.models import CatalogUpdate
from edge_agent.config import AgentConfig
from edge_agent.const import INGEST_GROUP_MAX, PRESENCE_BACKLOG_MAX, WILL_DELAY_S
from edge_agent.domain.basket import AddItem, BasketCommand, RequestCheckout
from edge_agent.domain.ops import OpKind
from edge_agent.domain.session import MergePolicy
from edge_agent.domain.workflows.assist import AssistTimers
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.identity.tokens import SCREEN_KEY_BYTES, TokenVerifier
from edge_agent.mirror import MirrorDesk
from edge_agent.picking.desk import PickDesk, handle_message
from edge_agent.picking.messages import T_PICK_COMMAND, PickCommandEvent, PickView, PickViewEvent
from edge_agent.picking.topics import orders_filter, pick_display
from edge_agent.presence import PresenceAggregator, PresenceReport
from edge_agent.readers.ble.events import BleEvent, ProximityTokenSeen, ZoneChanged
from edge_agent.readers.events import IdentityPresented, InputRejected, ProductScanned, ReaderEvent, ReaderHealth
from edge_agent.sessions import SessionDesk
from edge_agent.shelf import ShelfDesk
from edge_agent.store import carts
from edge_agent.store.db import StorageError
from edge_agent.store.device import DeviceStore
from edge_agent.sync.events import EventContext, EventPublisher
from edge_agent.sync.inbound import InboundRouter, Rejected, parse_event, peek_type
from edge_agent.sync.link import LinkSettings, MqttLink, TlsSettings, Will
from edge_agent.sync.messages import (
    T_ASSIST_REPLY,
    T_ERASED,
    T_MIRROR_COMMAND,
    T_PRESENCE,
    T_SESSION,
    T_SHELF_COMMAND,
    T_STATUS,
    T_SYNC_REQUEST,
    T_TOTE_COMMAND,
    AssistReplyEvent,
    AssistRequestEvent,
    AssistRequestMessage,
    CloudEvent,
    DeviceStatus,
    ErasureDone,
    ErasureDoneEvent,
    ErasureRequest,
    LookupEvent,
    MirrorCommandEvent,
    MirrorView,
    MirrorViewEvent,
    PresenceReportEvent,
    ReaderStatus,
    ShelfCommandEvent,
    StatusEvent,
    SyncRequest,
    SyncRequestEvent,
    ToteCommandEvent,
    ToteView,
    ToteViewEvent,
    source_urn,
    utcnow,
)
from edge_agent.sync.pump import OutboxPump, PumpSettings
from edge_agent.sync.topics import Topics
from edge_agent.systemd_notify import sd_notify, watchdog_interval_s
from edge_agent.totes import TOTE_CART_PREFIX, ToteDesk

log = logging.getLogger(__name__)

AgentEvent = ReaderEvent | BleEvent
ReaderRunner = Callable[[Callable[[ReaderEvent], None], threading.Event], None]
"""A blocking reader (nfcpy, cv2): runs in its own thread, hands events over thread-safely."""
AsyncReaderRunner = Callable[[Callable[[AgentEvent], None], asyncio.Event], Coroutine[Any, Any, None]]
"""An asyncio-native reader (bleak): a task on the agent's loop; it must not raise."""
"""A reader's blocking loop: it calls ``emit`` from its own thread until the event is set."""


@dataclass
class Agent:
    config: AgentConfig
    store: DeviceStore
    topics: Topics
    readers: dict[str, ReaderRunner] = field(default_factory=dict)
    verifier: TokenVerifier | None = None
    async_readers: dict[str, AsyncReaderRunner] = field(default_factory=dict)
    presence: PresenceAggregator | None = None
    screen_key: bytes = b""
    """The device's screen key (build_agent reads it): a UI confirm of a merge must prove it runs on the device."""
    """Aggregates BLE zone changes into presence reports; None on devices without a BLE reader."""
    """Checks shoppers' credentials; None when the device identifies nobody (no [identity] in config)."""
    rejected: Counter[str] = field(default_factory=Counter)
    reader_health: dict[str, str] = field(default_factory=dict)
    reader_details: dict[str, str] = field(default_factory=dict)
    last_lookup: LookupResult | None = None
    """What the screen shows now (shelf role); also published, retained, on dv/{device}/display."""
    presence_backlog: deque[PresenceReport] = field(default_factory=lambda: deque(maxlen=PRESENCE_BACKLOG_MAX))
    scans_saved: int = 0
    mqtt_password: str | None = None
    """Read from mqtt.password_file by build_agent (never in a constructor)."""
    link: MqttLink = field(init=False)
    pump: OutboxPump = field(init=False)
    router: InboundRouter = field(init=False)
    sessions: SessionDesk = field(init=False)
    events: EventPublisher = field(init=False)
    shelf: ShelfDesk | None = field(init=False)
    totes: ToteDesk | None = field(init=False)
    """The handheld role's digital totes; None on other roles."""
    last_tote_view: ToteView | None = None
    picks: PickDesk | None = field(init=False)
    """The handheld role's click-and-collect picking; None on other roles."""
    last_pick_view: PickView | None = None
    mirror: MirrorDesk | None = field(init=False)
    """The fitting-room mirror's desk (garments, assist requests); None on other roles."""
    last_mirror_view: MirrorView | None = None
    """The shelf role's desk (lookups, stock signals, price reports); None on other roles."""
    _queue: asyncio.Queue[AgentEvent] = field(init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _session: int = field(default=0, init=False)
    _subscribed_carts: set[str] = field(default_factory=set, init=False)
    _last_progress: float = field(default_factory=time.monotonic, init=False)
    _offline_mid: int | None = field(default=None, init=False)
    _offline_acked: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        self.source = source_urn(cfg.device.tenant, cfg.device.store, cfg.device.id)
        self.link = MqttLink(
            link_settings(cfg, self.mqtt_password), self, self._will, on_connect_failed=self.connect_failed
        )
        self.pump = OutboxPump(
            self.store,
            self.link,
            self.topics,
            self.source,
            PumpSettings(
                cfg.mqtt.window, cfg.mqtt.batch_max_ops, cfg.mqtt.ack_timeout_s, cfg.mqtt.congestion_timeout_s
            ),
        )
        self.router = InboundRouter(
            self.store, self.topics, self.pump.applied, self._cart_changed, self._erase, self._catalog_updated
        )
        self.events = EventPublisher(self.store, self.link, self.topics)
        self.shelf = ShelfDesk(self.store, self._emit_workflow) if cfg.device.role == "shelf" else None
        self.totes = (
            ToteDesk(self.store, cfg.device.id, self.verifier, self._record, self._emit_workflow, self._show_tote)
            if cfg.device.role == "associate-handheld"
            else None
        )
        self.picks = (
            PickDesk(
                self.store,
                cfg.device.id,
                self._record,
                self._emit_workflow,
                self._show_pick,
                timers=cfg.picking.timers(),
                short_reasons=cfg.picking.short_reasons,
            )
            if cfg.device.role == "associate-handheld"
            else None
        )
        self.mirror = (
            MirrorDesk(
                self.store,
                cfg.device.id,
                self.verifier,
                self._emit_room_events,
                self._show_mirror,
                self._publish_assist_request,
                lambda: self.link.connected,
                AssistTimers(cfg.assist.ack_s, cfg.assist.delivery_s, cfg.assist.max_level),
                cfg.session.idle_timeout_s,
            )
            if cfg.device.role == "fitting-room-mirror"
            else None
        )
        self.sessions = SessionDesk(
            self.store,
            self.source,
            MergePolicy(cfg.identity.merge_policy if cfg.identity else "sum"),
            self.verifier,
            cfg.session.idle_timeout_s,
            cfg.session.anonymous_retention_s,
            self._publish_session,
            self._ensure_cart_subscribed,
            self._record,
            screen_key=self.screen_key,
        )
        self.sessions.start(self._current_cart())
        self._queue = asyncio.Queue()

    @property
    def cart_id(self) -> str:
        """Where a scan goes now: the session's guest basket, or the profile cart once merged."""
        return self.sessions.active_cart

    # --- lifecycle ----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        stop = stop or asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(sig, stop.set)
        reader_stop = threading.Event()
        threads = [
            threading.Thread(
                target=runner, args=(self._emit_threadsafe, reader_stop), name=f"reader-{name}", daemon=True
            )
            for name, runner in self.readers.items()
        ]
        for t in threads:
            t.start()
        async_stop = asyncio.Event()
        reader_tasks = [
            asyncio.create_task(runner(self.submit, async_stop), name=f"reader-{name}")
            for name, runner in self.async_readers.items()
        ]
        tasks = [
            asyncio.create_task(c, name=n)
            for n, c in (
                ("link", self.link.run()),
                ("pump", self.pump.run()),
                ("ingest", self._ingest()),
                ("heartbeat", self._heartbeat()),
                ("workflow-clock", self._workflow_clock()),
            )
        ]
        self._write_status("starting")
        if self.totes is not None:
            self.totes.restore()  # the active tote as the last durable transaction left it
        if self.picks is not None:
            self.picks.restore()  # pick orders and progress, as their last durable transactions left them
        sd_notify("READY=1")
        log.info("agent %s running: device %s, basket %s", __version__, self.config.device.id, self.cart_id)
        try:
            done_waiter = asyncio.create_task(stop.wait())
            finished, _ = await asyncio.wait([done_waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                if task is not done_waiter and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            sd_notify("STOPPING=1")
            reader_stop.set()
            async_stop.set()
            if reader_tasks:
                await asyncio.wait(reader_tasks, timeout=const.READER_STOP_WAIT_S)
            await self._say_offline()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._drain_queue()
            self._write_status("stopped")
            for t in threads:
                t.join(timeout=5)

    # --- reader events ------------------------------------------------------------------------------------
    def _emit_threadsafe(self, event: ReaderEvent) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._queue.put_nowait, event)

    def submit(self, event: AgentEvent) -> None:
        """For events produced on the loop itself (tests, UI)."""
        self._queue.put_nowait(event)

    async def _ingest(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < INGEST_GROUP_MAX and not self._queue.empty():
                group.append(self._queue.get_nowait())
            self._handle_group(group)

    async def _drain_queue(self) -> None:
        group = []
        while not self._queue.empty():
            group.append(self._queue.get_nowait())
        if group:
            self._handle_group(group)

    def _handle_group(self, group: list[AgentEvent]) -> None:
        commands: list[BasketCommand] = []
        for event in group:
            if isinstance(event, ProductScanned) and self.config.device.role == "shelf":
                self._show_lookup(event)  # at a shelf, a scan asks "what is this, what does it cost"
            elif isinstance(event, ProductScanned) and self.picks is not None and self._picked(commands, event):
                commands = []  # a pick in progress takes the scan (scan-to-confirm)
            elif isinstance(event, ProductScanned) and self.mirror is not None:
                self.mirror.garment_tapped(event.key)  # a hang tag tapped on the mirror
            elif isinstance(event, ProductScanned) and self.totes is not None and self.totes.tote is not None:
                self._record(commands)
                commands = []
                self.totes.scanned(event.key)  # on a handheld with an open tote, a scan is a tote line
            elif isinstance(event, ProductScanned):
                commands.append(AddItem(self.cart_id, event.key.gtin14, serial=event.key.serial))
                self.sessions.touch()
            elif isinstance(event, IdentityPresented):
                self._record(commands)  # scans made before the tap belong in the preview
                commands = []
                if self.mirror is not None:
                    self.mirror.identity(event)
                elif self.totes is None or not self.totes.identity(event):
                    self.sessions.present(event)
            elif isinstance(event, InputRejected):
                self.rejected[f"{event.reader}:{event.reason}"] += 1
                log.warning("reader %s rejected input: %s: %s", event.reader, event.reason, event.detail)
                self.store.record_reject(event.reader, event.reason, event.detail)
            elif isinstance(event, ReaderHealth):
                self._reader_health(event)
            elif isinstance(event, ZoneChanged):
                if self.presence is not None:
                    self.presence.observe(event)
            elif isinstance(event, ProximityTokenSeen):
                self.sessions.app_nearby()
        self._record(commands)
        self._last_progress = time.monotonic()

    def _reader_health(self, event: ReaderHealth) -> None:
        """Kept for `edge-agent status`, and a change is published on the status topic for store IT."""
        changed = (self.reader_health.get(event.reader), self.reader_details.get(event.reader)) != (
            event.state,
            event.detail,
        )
        self.reader_health[event.reader] = event.state
        self.reader_details[event.reader] = event.detail
        log.info("reader %s: %s %s", event.reader, event.state, event.detail)
        if changed and self.link.connected:
            self._publish_status("online")

    def _show_lookup(self, event: ProductScanned) -> None:
        """Price, stock and other sizes from the catalog cache, each with its as-of time, flagged when offline."""
        assert self.shelf is not None
        result = self.shelf.scanned(event.key, online=self.link.connected, now=time.time())
        self.last_lookup = result
        self._show(LookupEvent, result)

    def _catalog_updated(self, update: CatalogUpdate) -> None:
        if self.shelf is not None:
            self.shelf.catalog_updated(update, time.time())

    def _emit_workflow(self, events: list[WorkflowEvent], profile: str | None = None) -> None:
        """Workflow events leave with this device's and the current session's context (profile only with consent)."""
        s = self.sessions.session
        identity = s.identity
        if profile is None and identity is not None and "profile" in identity.consent:
            profile = identity.pseudonym
        ctx = EventContext(
            source=self.source,
            store=self.config.device.store,
            device=self.config.device.id,
            session_id=s.session_id,
            attribution_key=s.attribution_key,
            profile=profile,
        )
        self.events.queue(events, ctx)

    def _emit_room_events(self, events: list[WorkflowEvent]) -> None:
        """A fitting room's events carry its own session's profile (set only by a consented identification)."""
        self._emit_workflow(events, self.mirror.room.profile if self.mirror is not None else None)

    def _ui_message(self, payload: bytes) -> None:
        """The device's UI topic: session commands, a shelf's price-label reports, a handheld's tote actions."""
        kind = peek_type(payload)
        try:
            if kind == T_SHELF_COMMAND and self.shelf is not None:
                shelf_cmd = parse_event(payload, ShelfCommandEvent, T_SHELF_COMMAND).data
                actor = shelf_cmd.associate or "shopper"
                self.shelf.report_price(shelf_cmd.gtin14, shelf_cmd.shelf_price_minor, actor, time.time())
            elif kind == T_TOTE_COMMAND and self.totes is not None:
                self.totes.command(parse_event(payload, ToteCommandEvent, T_TOTE_COMMAND).data)
            elif kind == T_PICK_COMMAND and self.picks is not None:
                self.picks.command(parse_event(payload, PickCommandEvent, T_PICK_COMMAND).data)
            elif kind == T_MIRROR_COMMAND and self.mirror is not None:
                self.mirror.command(parse_event(payload, MirrorCommandEvent, T_MIRROR_COMMAND).data)
            else:
                self.sessions.command(payload)
        except Rejected as rej:
            self.router.reject(self.topics.ui, rej)

    def _picked(self, pending: list[BasketCommand], event: ProductScanned) -> bool:
        """Offer a handheld's scan to the pick in progress; earlier scans of the group are recorded first."""
        assert self.picks is not None
        if self.picks.active is None:
            return False
        self._record(pending)
        pending.clear()  # recorded: the caller's group must not record them again
        return self.picks.scanned(event.key)

    def _show(self, envelope: Callable[..., CloudEvent[Any]], view: BaseModel, topic: str | None = None) -> None:
        """A view for the device's own screen, retained so a UI that (re)connects shows the current state."""
        event = envelope(
            source=self.source, id=f"{self.config.device.id}:view:{uuid.uuid4()}", time=utcnow(), data=view
        )
        self.link.publish(
            topic or self.topics.display, event.model_dump_json(exclude_none=True).encode(), retain=True,
            user_properties=(("ce_type", event.type),),
        )  # fmt: skip

    def _show_pick(self, view: PickView) -> None:
        self.last_pick_view = view
        self._show(PickViewEvent, view, pick_display(self.topics))  # its own topic: a tote view may be on display

    def _show_mirror(self, view: MirrorView) -> None:
        self.last_mirror_view = view
        self._show(MirrorViewEvent, view)

    def _publish_assist_request(self, request_id: str, message: AssistRequestMessage | None) -> None:
        """Retained per request so a handheld that comes online later still lists it; cleared once closed."""
        payload = b""
        if message is not None:
            event = AssistRequestEvent(
                source=self.source, id=f"{request_id}:{message.state}:{message.level}", time=utcnow(), data=message
            )
            payload = event.model_dump_json(exclude_none=True).encode()
        self.link.publish(self.topics.assist_request(request_id), payload, retain=True)

    def _assist_reply(self, payload: bytes) -> None:
        if self.mirror is None:
            return
        try:
            self.mirror.reply(parse_event(payload, AssistReplyEvent, T_ASSIST_REPLY).data)
        except Rejected as rej:
            self.router.reject(self.topics.assist_replies, rej)

    async def _workflow_clock(self) -> None:
        """Assist SLAs and other workflow timers, evaluated every second on the loop."""
        while True:
            await asyncio.sleep(const.WORKFLOW_TICK_S)
            if self.mirror is not None:
                self.mirror.tick()
            if self.picks is not None:
                self.picks.tick(time.time())

    def _show_tote(self, view: ToteView) -> None:
        self.last_tote_view = view
        self._show(ToteViewEvent, view)

    def _publish_presence(self) -> None:
        """Finished buckets join the backlog; the backlog goes out while the link is up (aggregates only)."""
        if self.presence is not None:
            self.presence_backlog.extend(self.presence.flush(time.time()))
        while self.presence_backlog and self.link.connected:
            report = self.presence_backlog[0]
            event = PresenceReportEvent(
                source=self.source,
                id=f"{self.config.device.id}:presence:{int(report.bucket_start.timestamp())}",
                time=utcnow(),
                data=report,
            )
            payload = event.model_dump_json().encode()
            if self.link.publish(self.topics.presence, payload, user_properties=(("ce_type", T_PRESENCE),)) is None:
                return
            self.presence_backlog.popleft()

    def _record(self, commands: list[BasketCommand], meta: dict[str, str] | None = None) -> None:
        if not commands and not meta:
            return
        results = self.store.record(commands, meta)  # durable when this returns
        for r in results:
            if r.refused is not None:
                self.rejected[f"basket:{r.refused.reason}"] += 1
                log.warning("basket refused %s: %s", type(r.command).__name__, r.refused)
        saved = [r.op for r in results if r.op is not None]
        self.scans_saved += sum(1 for op in saved if op.kind is OpKind.ADD)
        for op in saved:
            log.info("saved %s %s x%s in basket %s (%s)", op.kind.value, op.sku or "", op.qty, op.cart_id, op.op_id)
            self._ensure_cart_subscribed(op.cart_id)
        self.pump.wake()

    # --- shopper session (kiosk UI and tests call these on the loop) ----------------------------------------
    def confirm_merge(self, preview_id: str | None = None) -> None:
        self.sessions.confirm(preview_id)

    def decline_merge(self) -> None:
        self.sessions.decline()

    def end_session(self, reason: str = "explicit") -> None:
        self.sessions.end(reason, self._new_cart())

    def _publish_session(self, payload: bytes) -> None:
        self.link.publish(self.topics.session, payload, retain=True, user_properties=(("ce_type", T_SESSION),))

    def checkout(self) -> None:
        """The shopper asks to pay (from the kiosk UI): a durable op; the platform seals the basket."""
        self.store.record([RequestCheckout(self.cart_id)])
        self.pump.wake()

    def _cart_changed(self, cart_id: str) -> None:
        """A snapshot arrived. When the platform sealed the current basket, new scans go to a fresh one."""
        seal = self.store.seal_of(cart_id)
        if cart_id == self.cart_id and seal is not None:
            log.info("basket %s became order %s; starting a new basket", cart_id, seal.order_id)
            self.sessions.end("checkout", self._new_cart())
            self._ensure_cart_subscribed(self.cart_id)
            return
        if self.totes is not None and cart_id.startswith(TOTE_CART_PREFIX):
            attrs = {a.key: a.value for a in carts.attrs(self.store.conn, cart_id)}
            self.totes.platform_attributes(cart_id, attrs)
        self.sessions.cart_changed(cart_id)

    def _erase(self, request: ErasureRequest) -> None:
        """The platform's erasure request: end the shopper's session here, then forget the carts, unsent
        edits included, and say so. Carts this device never held are answered too (with nothing erased)."""
        held_ids = set(self.store.cart_ids())
        own = sorted(c for c in request.carts if c in held_ids and not self.store.is_profile_cart(c))
        if own:  # a guest basket, a tote or a pick cart is this device's, never a shopper's profile: refused
            self.router.reject(
                self.topics.erasure, Rejected("not_a_profile_cart", f"erasure {request.request_id} named {own[:5]}")
            )
        carts = set(request.carts) - set(own)
        identity = self.sessions.session.identity
        session_ended = identity is not None and identity.profile_cart in carts
        if session_ended:
            self.sessions.end("erased", self._new_cart())
        held = carts & held_ids
        dropped = sum(self.store.erase_cart(cart_id) for cart_id in sorted(held))
        self.sessions.forget(carts)
        self._subscribed_carts -= carts
        log.info("erasure %s: forgot %d cart(s), dropped %d unsent op(s)", request.request_id, len(held), dropped)
        done = ErasureDone(
            request_id=request.request_id,
            device=self.config.device.id,
            carts=sorted(held),
            ops_dropped=dropped,
            session_ended=session_ended,
        )
        event = ErasureDoneEvent(
            source=self.source, id=f"{self.config.device.id}:erased:{request.request_id}", time=utcnow(), data=done
        )
        self.link.publish(
            self.topics.erased, event.model_dump_json().encode(), user_properties=(("ce_type", T_ERASED),)
        )

    # --- LinkListener ---------------------------------------------------------------------------------------
    def link_up(self, receive_maximum: int, session_present: bool) -> None:
        self._subscribed_carts.clear()
        self.link.subscribe([self.topics.acks, self.topics.ui, self.topics.erasure, self.topics.catalog])
        if self.mirror is not None:
            self.link.subscribe([self.topics.assist_replies])
        if self.picks is not None:
            self.link.subscribe([orders_filter(self.topics)])  # plain, not shared: every handheld sees the queue
        for cart_id in self.store.cart_ids():
            self._ensure_cart_subscribed(cart_id)
        self._publish_status("online")
        self._publish_sync_request()
        self.sessions.publish()
        self.pump.link_up(receive_maximum)
        self.events.flush()
        self._write_status("online")

    def link_down(self, reason: str) -> None:
        log.warning("mqtt link down: %s", reason)
        self.pump.link_down()
        self.events.link_down()
        self._write_status("offline", reason)

    def connect_failed(self, reason: str) -> None:
        """An attempt failed (the link logged it): `edge-agent status` shows the broker's reason."""
        self._write_status("offline", reason)

    def published(self, mid: int, ok: bool, reason: str) -> None:
        if mid == self._offline_mid:
            self._offline_acked.set()
            return
        if self.events.published(mid, ok):
            return
        self.pump.published(mid, ok, reason)

    def message(self, topic: str, payload: bytes) -> None:
        try:
            self._route(topic, payload)
        except (ValueError, OverflowError) as exc:  # a figure the models let through but storage cannot hold
            self.router.reject(topic, Rejected("invalid_value", f"{type(exc).__name__}: {str(exc)[:200]}"))

    def _route(self, topic: str, payload: bytes) -> None:
        if self.picks is not None and topic != self.topics.ui:
            try:
                if handle_message(self.picks, self.topics, topic, payload):
                    return
            except Rejected as rej:
                self.router.reject(topic, rej)
                return
        if topic == self.topics.ui:
            self._ui_message(payload)
        elif topic == self.topics.assist_replies:
            self._assist_reply(payload)
        else:
            self.router.handle(topic, payload)

    # --- internals ----------------------------------------------------------------------------------------
    def _ensure_cart_subscribed(self, cart_id: str) -> None:
        if cart_id not in self._subscribed_carts and self.link.subscribe([self.topics.cart_state(cart_id)]):
            self._subscribed_carts.add(cart_id)

    def _will(self) -> Will:
        self._session = self.store.bump_mqtt_session()
        event = self._status_event("offline")
        return Will(self.topics.status, event.model_dump_json(exclude_none=True).encode(), WILL_DELAY_S)

    def _status_event(self, state: str) -> StatusEvent:
        stats = self.store.outbox_stats()
        age = None if stats.oldest_created_at is None else round(time.time() - stats.oldest_created_at, 3)
        data = DeviceStatus(
            device=self.config.device.id,
            state=state,  # type: ignore[arg-type]
            session=self._session,
            agent_version=__version__,
            pending_ops=stats.total,
            oldest_pending_age_s=age,
            readers={
                name: ReaderStatus(state=state, detail=self.reader_details.get(name, "")[:300])  # type: ignore[arg-type]
                for name, state in self.reader_health.items()
            }
            or None,
        )
        return StatusEvent(
            source=self.source,
            id=f"{self.config.device.id}:status:{self._session}:{state}",
            time=utcnow(),
            data=data,
        )

    async def _say_offline(self) -> None:
        """A clean DISCONNECT suppresses the will, so a stopping agent says "offline" itself (bounded wait)."""
        if not self.link.connected:
            return
        self._offline_mid = self._publish_status("offline")
        if self._offline_mid is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._offline_acked.wait(), const.SHUTDOWN_PUBACK_WAIT_S)

    def _publish_status(self, state: str) -> int | None:
        event = self._status_event(state)
        return self.link.publish(
            self.topics.status,
            event.model_dump_json(exclude_none=True).encode(),
            retain=True,
            user_properties=(("ce_type", T_STATUS), ("ce_id", event.id)),
        )

    def _publish_sync_request(self) -> None:
        event = SyncRequestEvent(
            source=self.source,
            id=f"{self.config.device.id}:sync:{uuid.uuid4()}",
            time=utcnow(),
            data=SyncRequest(
                device=self.config.device.id,
                cart_ids=self.store.cart_ids()[-1000:],
                catalog_version=self.store.catalog_version(),
            ),
        )
        self.link.publish(
            self.topics.sync,
            event.model_dump_json().encode(),
            user_properties=(("ce_type", T_SYNC_REQUEST), ("ce_id", event.id)),
        )

    def _current_cart(self) -> str:
        stored = self.store.meta("current_cart")
        cart_id = stored or self.config.basket.cart_id or self._fresh_cart_id()
        if self.store.seal_of(cart_id) is not None:  # sealed while the agent was down
            return self._new_cart()
        if stored is None:
            self.store.set_meta({"current_cart": cart_id})
        self.store.open_cart(cart_id)
        return cart_id

    def _fresh_cart_id(self) -> str:
        return f"{self.config.device.id}-{uuid.uuid4().hex[:12]}"

    def _new_cart(self) -> str:
        cart_id = self._fresh_cart_id()
        self.store.set_meta({"current_cart": cart_id})
        self.store.open_cart(cart_id)
        return cart_id

    def _write_status(self, link_state: str, detail: str = "") -> None:
        """What `edge-agent status` shows; written on state changes and by the heartbeat (no fsync needed)."""
        if link_state == "offline" and not detail:
            detail = self.link.counters.last_error  # the heartbeat keeps the last reason the link gave
        self.store.set_meta(
            {
                "link_state": link_state,
                "link_detail": detail,
                "link_endpoint": self.link.counters.endpoint,
                "status_at": f"{time.time():.3f}",
                "agent_pid": str(os.getpid()),
                "counters": json.dumps(
                    {
                        "scans_saved": self.scans_saved,
                        "rejected": dict(self.rejected),
                        "inbound_rejected": dict(self.router.rejected),
                        "pump": vars(self.pump.counters),
                        "link": {k: v for k, v in vars(self.link.counters).items() if k != "last_error"},
                        "readers": self.reader_health,
                    }
                ),
            },
            durable=False,
        )

    def _session_housekeeping(self) -> None:
        """Idle sessions end (only if they hold something: an empty kiosk needs no new session every 15 min)."""
        s = self.sessions.session
        if self.sessions.idle() and (s.identity is not None or self.store.quantities(s.guest_cart)):
            self.end_session("timeout")
        self.sessions.purge_due()
        self.sessions.invitation_expired()

    async def _heartbeat(self) -> None:
        interval = watchdog_interval_s()
        period = min(interval, 5.0) if interval else 5.0
        while True:
            await asyncio.sleep(period)
            self._write_status("online" if self.link.connected else "offline")
            self._session_housekeeping()
            self._publish_presence()
            self.events.flush()
            # The store and loop made progress (this coroutine ran after a commit): feed the watchdog.
            sd_notify("WATCHDOG=1")


class KeyFileError(ValueError):
    """An identity key or password file that cannot be used; reported like a configuration error (key, file,
    allowed)."""


def identity_verifier(cfg: AgentConfig) -> TokenVerifier | None:
    """Reads the platform's signing keys (current first); None when the device identifies nobody."""
    if cfg.identity is None:
        return None
    keys: list[bytes] = []
    for path in cfg.identity.key_files:
        try:
            keys.append(bytes.fromhex(path.read_text(encoding="ascii").strip()))
        except OSError as exc:
            raise KeyFileError(f"identity.key_files: {path}: cannot be read ({exc.strerror or exc})") from None
        except ValueError:
            raise KeyFileError(f"identity.key_files: {path}: not a key; allowed: the key as hex digits") from None
    return TokenVerifier(tuple(keys))


def read_password(cfg: AgentConfig) -> str | None:
    """The broker password, from mqtt.password_file (its first line); None without one."""
    path = cfg.mqtt.password_file
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise KeyFileError(f"mqtt.password_file: {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"mqtt.password_file: {path}: not UTF-8 text; allowed: the password on one line") from None
    if not lines:
        raise KeyFileError(f"mqtt.password_file: {path}: is empty; allowed: the password on one line")
    return lines[0].strip()


def link_settings(cfg: AgentConfig, password: str | None) -> LinkSettings:
    m = cfg.mqtt
    tls = None
    if m.tls is not None:
        tls = TlsSettings(
            str(m.tls.ca_file),
            str(m.tls.cert_file) if m.tls.cert_file else None,
            str(m.tls.key_file) if m.tls.key_file else None,
            m.tls.server_hostname_check,
        )
    return LinkSettings(
        endpoints=[(e.host, e.port) for e in m.endpoints],
        client_id=m.client_id or f"edge-agent-{cfg.device.id}",
        protocol=m.protocol,
        keepalive_s=m.keepalive_s,
        tls=tls,
        username=m.username,
        password=password,
        backoff_base_s=m.backoff_base_s,
        backoff_cap_s=m.backoff_cap_s,
        connect_timeout_s=m.connect_timeout_s,
    )


def build_agent(config: AgentConfig, readers: dict[str, ReaderRunner] | None = None) -> Agent:
    """Opens the database (I/O lives here, not in constructors) and wires the agent."""
    verifier = identity_verifier(config)  # before the database opens: a bad key file leaves nothing open
    password = read_password(config)
    store = DeviceStore.open(config.database_path(), config.device.id, max_clock_ahead_s=config.mqtt.max_clock_ahead_s)
    topics = Topics(config.device.tenant, config.device.store, config.device.id)
    ble = config.readers.ble if readers is None else None
    return Agent(
        config,
        store,
        topics,
        readers if readers is not None else default_readers(config),
        verifier,
        mqtt_password=password,
        async_readers=default_async_readers(config) if readers is None else {},
        presence=PresenceAggregator(ble.analytics) if ble is not None and ble.enabled else None,
        screen_key=load_screen_key(config.screen_key_path()),
    )


def load_screen_key(path: Path) -> bytes:
    """The device's screen key, made on first start (0600, random); a screen on the device reads it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(f"{path}: cannot create the screen key ({exc.strerror or exc})") from None
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(SCREEN_KEY_BYTES) + "\n")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as exc:
        raise StorageError(f"{path}: not a usable screen key ({exc}); remove it and a new one is made") from None
    if len(key) < SCREEN_KEY_BYTES:
        raise StorageError(f"{path}: screen key shorter than {SCREEN_KEY_BYTES} bytes; remove it")
    return key


def default_async_readers(config: AgentConfig) -> dict[str, AsyncReaderRunner]:
    ble = config.readers.ble
    if ble is None or not ble.enabled:
        return {}
    from edge_agent.readers.ble.reader import BleReader

    def run_ble(emit: Callable[[AgentEvent], None], stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        return BleReader(ble, emit).run(stop)

    return {"ble": run_ble}


def default_readers(config: AgentConfig) -> dict[str, ReaderRunner]:
    readers: dict[str, ReaderRunner] = {}
    barcode = config.readers.barcode
    if barcode is not None and barcode.enabled:
        from biip.rcn import RcnRegion

        from edge_agent.readers.barcode.decoders import make_decoder
        from edge_agent.readers.barcode.frames import VideoCaptureSource
        from edge_agent.readers.barcode.reader import BarcodeReader, ScanGate

        source = barcode.source
        if isinstance(source, str) and not source.startswith("/dev/") and not Path(source).is_absolute():
            source = str(Path(source))
        decoder = make_decoder(barcode.decoder, barcode.formats)

        def run_barcode(emit: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
            reader = BarcodeReader(
                lambda: VideoCaptureSource(source, pace=barcode.pace),
                decoder,
                emit,
                ScanGate(barcode.debounce_s, barcode.confirm_frames, barcode.confirm_window),
                barcode.every_nth_frame,
                rcn_region=RcnRegion(config.identifiers.rcn_region) if config.identifiers.rcn_region else None,
            )
            reader.run(stop)

        readers["barcode"] = run_barcode
    nfc = config.readers.nfc
    if nfc is not None and nfc.enabled:
        from edge_agent.readers.nfc.reader import NfcReader

        def run_nfc(emit: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
            NfcReader(nfc.path, emit, tag_types=nfc.tag_types, repeat_s=nfc.repeat_s).run(stop)

        readers["nfc"] = run_nfc
    return readers
