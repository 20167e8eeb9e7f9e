"""The daemon: readers -> role or basket -> store -> sync, and back in from sync through one route table.

One asyncio loop. Blocking readers run in threads and hand typed events to it; the loop is the only writer of
the database; the link's callbacks only hand events to the loop. The agent composes; what a device does is its
role's (edge_agent/roles/), what a shopper's basket does is the basket's, and the wiring is edge_agent/wiring.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from edge_agent import __version__, const
from edge_agent.config import AgentConfig
from edge_agent.const import INGEST_GROUP_MAX
from edge_agent.contract.base import source_urn
from edge_agent.contract.cart import AppliedWatermark
from edge_agent.contract.codec import Rejected
from edge_agent.contract.topics import Topics
from edge_agent.domain.basket import BasketCommand
from edge_agent.domain.consent import linked_profile
from edge_agent.domain.ops import OpKind
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.fleet.device_requests import TemporaryLogLevel, register_device_requests
from edge_agent.fleet.rates import ReaderActivity
from edge_agent.fleet.requests import RequestDesk
from edge_agent.identity.tokens import TokenVerifier
from edge_agent.readers.events import IdentityPresented, InputRejected, ProductScanned, ReaderEvent, ReaderHealth
from edge_agent.roles.base import Ports
from edge_agent.roles.basket import ShopperBasket
from edge_agent.roles.registry import role_class
from edge_agent.status import StatusReporter
from edge_agent.store.checkpoint import Checkpointer
from edge_agent.store.db import StorageError
from edge_agent.store.device import DeviceStore
from edge_agent.store.faults import StorageFull, is_corruption
from edge_agent.sync.events import EventContext, EventPublisher
from edge_agent.sync.inbound import InboundRouter
from edge_agent.sync.link import LinkSettings, MqttLink
from edge_agent.sync.outlet import Outlet
from edge_agent.sync.pump import OutboxPump, PumpSettings
from edge_agent.systemd_notify import sd_notify, watchdog_interval_s

if TYPE_CHECKING:  # BLE's events and presence: imported by the BLE reader and wiring, on devices that have one
    from edge_agent.readers.ble.events import BleEvent
    from edge_agent.sync.presence import PresencePublisher

log = logging.getLogger(__name__)

AgentEvent: TypeAlias = "ReaderEvent | BleEvent"
StopFor = Literal["restart", "reconfigure"]
ReaderRunner = Callable[[Callable[[ReaderEvent], None], threading.Event], None]
"""A blocking reader (nfcpy, cv2): runs in its own thread and calls ``emit`` until the event is set."""
AsyncReaderRunner = Callable[[Callable[[AgentEvent], None], asyncio.Event], Coroutine[Any, Any, None]]
"""An asyncio-native reader (bleak): a task on the agent's loop; it must not raise."""


def freeze_startup_heap() -> None:
    """Moves everything built so far (modules, pydantic schemas, the services) out of the collector's reach.

    A full collection otherwise walks those hundreds of thousands of long-lived objects every time, a pause on
    the loop thread that lands on whichever scan is being saved (docs/benchmarks.md, latency). Collected first,
    so startup garbage is freed rather than frozen; ``run`` unfreezes on the way out (a test process builds many
    agents and must get their cycles back)."""
    gc.collect()
    gc.freeze()


@dataclass
class Agent:
    config: AgentConfig
    store: DeviceStore
    topics: Topics
    link_settings: LinkSettings
    readers: dict[str, ReaderRunner] = field(default_factory=dict)
    async_readers: dict[str, AsyncReaderRunner] = field(default_factory=dict)
    verifier: TokenVerifier | None = None
    """Checks shoppers' credentials; None when the device identifies nobody (no [identity] in config)."""
    presence: PresencePublisher | None = None
    """Aggregated BLE presence on its way out; None on devices without a BLE reader."""
    screen_key: bytes = b""
    """The device's screen key: a UI confirm of a merge must prove it runs on the device."""
    claim_key: bytes | None = None
    """The device's claim-link key from ``[claim] key_file`` (devices with public identity keys)."""
    services: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    """More tasks on the loop (the local screen server); each must not raise."""
    screen: Any = None
    """The local screen server (edge_agent/screen/server.py) when [screen] is configured."""
    health: Any = None
    """The health message's publisher (edge_agent/fleet/health.py) unless [health] enabled = false."""
    metrics: Any = None
    """The metrics listener (edge_agent/fleet/metrics.py) when [metrics] listen is set."""
    activity: ReaderActivity = field(default_factory=ReaderActivity)
    """Reads per reader, for the health message's rates and the metrics (edge_agent/fleet/)."""
    on_link_up: list[Callable[[], object]] = field(default_factory=list)
    """Called after each (re)connect once subscriptions and retained state are out (the health message)."""
    checkpoints: Checkpointer | None = None
    """The WAL checkpoint thread while ``run`` runs (store/checkpoint.py)."""
    _queue: asyncio.Queue[AgentEvent] = field(default_factory=asyncio.Queue, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _subscribed_carts: set[str] = field(default_factory=set, init=False)
    _offline_mid: int | None = field(default=None, init=False)
    _offline_acked: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _stop: asyncio.Event | None = field(default=None, init=False)
    stop_for: StopFor | None = field(default=None, init=False)
    """Why the platform stopped the agent, for `edge-agent run` to act on (None: stopped as by SIGTERM)."""
    storage_fault: str | None = field(default=None, init=False)
    """Set when the database turned out corrupt: the agent stops and `edge-agent run` exits with the storage exit
    code, so systemd's restart quarantines the file at open (store/quarantine.py)."""
    """Set by the platform's ``restart`` request: ``edge-agent run`` then exits for systemd to start it again."""

    def __post_init__(self) -> None:
        cfg, m = self.config, self.config.mqtt
        self.link = MqttLink(
            self.link_settings, self, lambda: self.status.will(), on_connect_failed=self.connect_failed
        )
        self.out = Outlet(self.link, source_urn(cfg.device.tenant, cfg.device.store, cfg.device.id), cfg.device.id)
        settings = PumpSettings(m.window, m.batch_max_ops, m.ack_timeout_s, m.congestion_timeout_s)
        self.pump = OutboxPump(self.store, self.out, self.topics, self.out.source, settings)
        self.router = InboundRouter(self.store, self.topics, self._applied, self._cart_changed)
        self.events = EventPublisher(self.store, self.out, self.topics)
        self.status = StatusReporter(self.store, self.out, self.topics.status, self.router, self.pump)
        ports = Ports(
            cfg, self.store, self.topics, self.verifier, self.out, self._record, self._emit_workflow,
            lambda: self.link.connected, self._follow_cart, self.router.reject, time.time, claim_key=self.claim_key,
        )  # fmt: skip
        self.basket = ShopperBasket(ports, self.screen_key)
        self.role = role_class(cfg.device.role)(dataclasses.replace(ports, shopper=self.basket))
        self.router.on_erasure = self.basket.erase
        self.router.on_catalog += [self.role.catalog_updated, lambda _update: self.basket.show_basket()]
        self.router.add([*self.role.routes(), *self.basket.routes()])
        self.requests = RequestDesk(self.topics, self.out, cfg.device.id)
        self.log_level = TemporaryLogLevel()
        register_device_requests(self.requests, cfg, self.log_level, lambda: self.stop("restart"))
        self.store.faults.on_corrupt = self.storage_failed
        self.store.budget.max_bytes = cfg.storage.max_bytes
        self.store.budget.collect = self.basket.collect

    @property
    def cart_id(self) -> str:
        return self.basket.cart_id

    # --- lifecycle ----------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(self._loop_exception)
        stop = self._stop = stop or asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(sig, stop.set)
        self.basket.start()
        self.basket.screen_feed.attach(self._loop)
        self.checkpoints = checkpoints = Checkpointer(self.store.path)
        self.store.autocheckpoint(0)
        checkpoints.start()
        reader_stop, async_stop = threading.Event(), asyncio.Event()
        threads = [
            threading.Thread(target=run, args=(self._emit_threadsafe, reader_stop), name=f"reader-{n}", daemon=True)
            for n, run in self.readers.items()
        ]
        for t in threads:
            t.start()
        reader_tasks = [asyncio.create_task(run(self.submit, async_stop)) for run in self.async_readers.values()]
        loops = [self.link.run(), self.pump.run(), self._ingest(), self._heartbeat(), self._workflow_clock()]
        loops += [service() for service in self.services]
        tasks = [asyncio.create_task(c) for c in loops]
        self.status.write("starting")
        self.role.restore()
        freeze_startup_heap()
        sd_notify("READY=1")
        log.info("agent %s running: device %s, basket %s", __version__, self.config.device.id, self.cart_id)
        try:
            done_waiter = asyncio.create_task(stop.wait())
            finished, _ = await asyncio.wait([done_waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                exc = task.exception() if task is not done_waiter else None
                if exc is not None and is_corruption(exc):
                    self.storage_failed(f"{type(exc).__name__}: {exc}")
                elif exc is not None:
                    raise exc
        finally:
            # A reconfigure boots again in this process (cli re-executes it): systemd hears a reload, whose READY=1
            # the next boot sends, not a stop (after STOPPING=1 it would wait for the exit and kill the new boot).
            sd_notify("RELOADING=1" if self.stop_for == "reconfigure" else "STOPPING=1")
            reader_stop.set()
            async_stop.set()
            if reader_tasks:
                await asyncio.wait(reader_tasks, timeout=const.READER_STOP_WAIT_S)
            if self.storage_fault is None:
                with self._corruption_stops():
                    self.basket.screen_feed.flush()  # the last basket view due goes out before the link does
                    await self._say_offline()
            self.basket.screen_feed.detach()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            checkpoints.stop()
            if self.storage_fault is None:  # a corrupt file is left as it is for the quarantine
                with self._corruption_stops():
                    self._drain_queue()
                    self.store.file_held()  # a rollback to an earlier release reads every line (store/held.py)
                    self.store.autocheckpoint(const.SQLITE_WAL_AUTOCHECKPOINT_PAGES)
                    self.status.write("stopped")
            self.log_level.restore()
            for t in threads:
                t.join(timeout=const.READER_JOIN_S)
            gc.unfreeze()

    def stop(self, reason: StopFor) -> None:
        """Stop as SIGTERM would, saying why: ``restart`` (the platform asked; `edge-agent run` exits for systemd to
        start it again) or ``reconfigure`` (boot again at once in this process with the config the slots name now:
        a pushed config to try, or the good one after a revert)."""
        self.stop_for = reason
        if self._stop is not None:
            self._stop.set()

    def storage_failed(self, reason: str) -> None:
        """The database is corrupt: stop now, nothing more is written to it. Found outside the store's guard (a read,
        a loop callback, a shutdown step), the store still logs it and leaves the marker, so the next open
        quarantines the file even where its quick_check would pass (store/faults.py)."""
        self.store.faults.corrupted(reason)  # once; it calls back here (on_corrupt) the first time
        if self.storage_fault is None:
            self.storage_fault = reason
        if self._stop is not None:
            self._stop.set()

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """A callback on the loop (an inbound message, a PUBACK) that met a corrupt database stops the agent;
        anything else is asyncio's to log, as before."""
        exc = context.get("exception")
        if isinstance(exc, BaseException) and is_corruption(exc):
            self.storage_failed(f"{type(exc).__name__}: {exc}")
        loop.default_exception_handler(context)

    @contextlib.contextmanager
    def _corruption_stops(self) -> Iterator[None]:
        """Around the shutdown steps that touch the database (skipped once it is known corrupt)."""
        try:
            yield
        except (sqlite3.DatabaseError, StorageError) as exc:
            if not is_corruption(exc):
                raise
            self.storage_failed(f"{type(exc).__name__}: {exc}")

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
            with self._survive_full_disk("reader events"):
                self._handle_group(group)

    @contextlib.contextmanager
    def _survive_full_disk(self, what: str) -> Iterator[None]:
        """Scans on a full disk come back refused from the store (the shopper sees why); a workflow's other write
        that finds no room is logged and dropped with its event, and the loop carries on to the next one."""
        try:
            yield
        except StorageFull as exc:
            self.status.rejected["storage:storage_full"] += 1
            log.error("storage full: %s not saved: %s", what, exc)

    def _drain_queue(self) -> None:
        group = []
        while not self._queue.empty():
            group.append(self._queue.get_nowait())
        if group:
            self._handle_group(group)

    def _handle_group(self, group: list[AgentEvent]) -> None:
        """The role takes what it wants; scans it leaves are basket lines, recorded in one transaction."""
        pending: list[BasketCommand] = []

        def flush() -> None:
            self._record(pending)
            pending.clear()

        for event in group:
            if isinstance(event, ProductScanned | IdentityPresented):
                self.activity.seen(event.reader)
            if isinstance(event, ProductScanned):
                if not self.role.scanned(event.key, flush):
                    pending.append(self.basket.scanned(event.key))
            elif isinstance(event, IdentityPresented):
                flush()  # scans made before the tap belong in the preview
                if not self.role.identity(event):
                    self.basket.identity(event)
            elif isinstance(event, InputRejected):
                self.status.rejected[f"{event.reader}:{event.reason}"] += 1
                log.warning("reader %s rejected input: %s: %s", event.reader, event.reason, event.detail)
                self.store.record_reject(event.reader, event.reason, event.detail)
                self.basket.input_rejected(event.reader, event.reason)
            elif isinstance(event, ReaderHealth):
                if self.status.reader(event) and self.link.connected:
                    self.status.publish("online")
            else:
                self._ble_event(event)
        flush()

    def _ble_event(self, event: AgentEvent) -> None:
        """Only a BLE reader, which has loaded readers/ble/events.py, makes the events left over here."""
        from edge_agent.readers.ble.events import ProximityTokenSeen, ZoneChanged

        if isinstance(event, ZoneChanged):
            if event.role == "app" and event.exited:
                self.basket.app_left(event.previous)
            if self.presence is not None:
                self.presence.aggregator.observe(event)
        elif isinstance(event, ProximityTokenSeen):
            self.basket.app_nearby()

    def _record(self, commands: Sequence[BasketCommand], meta: Mapping[str, str] | None = None) -> None:
        if not commands and not meta:
            return
        results = self.store.record(commands, meta)  # durable when this returns
        self.pump.send_now()  # the op leaves before anything else the scan costs (log, screen, events)
        for r in results:
            if r.refused is not None:
                self.status.rejected[f"basket:{r.refused.reason}"] += 1
                log.warning("basket refused %s: %s", type(r.command).__name__, r.refused)
                self.basket.refused(r.refused.reason, r.command.cart_id)
        saved = [r.op for r in results if r.op is not None]
        self.status.scans_saved += sum(1 for op in saved if op.kind is OpKind.ADD)
        for op in saved:
            log.info("saved %s %s x%s in basket %s (%s)", op.kind.value, op.sku or "", op.qty, op.cart_id, op.op_id)
            self._follow_cart(op.cart_id)
        self._show_saved({op.cart_id for op in saved})
        self._emit_soon(self.basket.recorded(results))

    def _emit_workflow(self, events: list[WorkflowEvent], profile: str | None = None) -> None:
        """Workflow events leave with this device's and the current session's context (none: nothing to build; a
        scan's session touch asks with none once the session is announced)."""
        if events:
            self.events.queue(events, self._event_context(profile))

    def _event_context(self, profile: str | None = None) -> EventContext:
        """The one place the session's shopper is named (``profile``): only with their "analytics" consent, which is
        what links a session to a profile (domain/consent.py); a role that passes a profile gates it the same way."""
        s = self.basket.sessions.session
        if profile is None and s.identity is not None:
            profile = linked_profile(s.identity.pseudonym, s.identity.consent)
        device = self.config.device
        owner = s.identity.profile_cart if s.identity is not None else None
        return EventContext(self.out.source, device.store, device.id, s.session_id, s.attribution_key, profile, owner)

    def _emit_soon(self, events: list[WorkflowEvent]) -> None:
        """A scan's line events, in the session's context as of now, written on the loop's next turn: the pump
        (woken first) sends the scan's op before the event row is written. The row takes no fsync of its own (the
        next scan's FULL commit syncs it): a scan costs one fsync, as before it had events."""
        if not events:
            return
        ctx, loop = self._event_context(), self._loop
        if loop is None or loop.is_closed():
            self.events.queue(events, ctx, synced=False)
        else:
            loop.call_soon(functools.partial(self.events.queue, events, ctx, synced=False))

    def _applied(self, watermark: AppliedWatermark) -> None:
        """The platform's watermark frees the outbox; the screen then stops showing what it confirmed as waiting."""
        self.pump.applied(watermark)
        self.basket.ops_confirmed()

    def _cart_changed(self, cart_id: str) -> None:
        self.basket.cart_changed(cart_id)
        self.role.cart_changed(cart_id)

    # --- LinkListener ---------------------------------------------------------------------------------------
    def link_up(self, receive_maximum: int, session_present: bool) -> None:
        self._subscribed_carts.clear()
        self.out.connection_started()
        t = self.topics
        self.link.subscribe(
            [t.acks, t.ui, t.erasure, t.catalog, t.requests, *self.role.subscriptions(), *self.basket.subscriptions()]
        )
        for cart_id in self.store.cart_ids():
            self._follow_cart(cart_id)
        self.status.publish("online")
        self.pump.sync_request()
        self.basket.publish()
        self.pump.link_up(receive_maximum)
        self.events.flush()
        self.out.republish_retained()  # the role's views, and any view or clear made while offline
        self.status.write("online")
        for hook in self.on_link_up:
            hook()

    def link_down(self, reason: str) -> None:
        log.warning("mqtt link down: %s", reason)
        self.pump.link_down()
        self.events.link_down()
        self.status.write("offline", reason)

    def connect_failed(self, reason: str) -> None:
        """An attempt failed (the link logged it): `edge-agent status` shows the broker's reason."""
        self.status.write("offline", reason)

    def published(self, mid: int, ok: bool, reason: str) -> None:
        if mid == self._offline_mid:
            self._offline_acked.set()
        elif not self.events.published(mid, ok):
            self.pump.published(mid, ok, reason)

    def message(self, topic: str, payload: bytes, correlation: bytes | None = None) -> None:
        if self.requests.accepts(topic):
            self.requests.handle(topic, payload, correlation)
            return
        try:
            self.router.handle(topic, payload)
        except (ValueError, OverflowError) as exc:  # a figure the models let through but storage cannot hold
            self.router.reject(topic, Rejected("invalid_value", f"{type(exc).__name__}: {str(exc)[:200]}"))

    # --- internals ----------------------------------------------------------------------------------------
    def _show_saved(self, cart_ids: set[str]) -> None:
        """The screen hears of saved scans after the pump has sent them (the uplink's latency does not wait for a
        view): the basket's screen feed builds it on a later loop turn, once per burst (edge_agent/coalesce.py)."""
        if cart_ids:
            self.basket.saved(cart_ids)

    def _follow_cart(self, cart_id: str) -> None:
        if cart_id not in self._subscribed_carts and self.link.subscribe([self.topics.cart_state(cart_id)]):
            self._subscribed_carts.add(cart_id)

    def _unfollow_gone_carts(self) -> None:
        """Carts purged or erased from this device stop being followed: without this every basket a kiosk ever
        held stayed subscribed (in this set, in paho and at the broker) until the next reconnect."""
        if not self._subscribed_carts:
            return
        gone = self._subscribed_carts - set(self.store.cart_ids())
        if gone:
            self.link.unsubscribe([self.topics.cart_state(cart_id) for cart_id in sorted(gone)])
            self._subscribed_carts -= gone

    async def _say_offline(self) -> None:
        """A clean DISCONNECT suppresses the will, so a stopping agent says "offline" itself (bounded wait)."""
        if not self.link.connected:
            return
        self._offline_mid = self.status.publish("offline")
        if self._offline_mid is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(const.SHUTDOWN_PUBACK_WAIT_S):
                    await self._offline_acked.wait()

    async def _heartbeat(self) -> None:
        interval = watchdog_interval_s()
        period = min(interval, const.HEARTBEAT_S) if interval else const.HEARTBEAT_S
        while True:
            await asyncio.sleep(period)
            self.status.write("online" if self.link.connected else "offline")
            with self._survive_full_disk("housekeeping"):
                self.basket.housekeeping()
            self._unfollow_gone_carts()
            if self.presence is not None:
                self.presence.flush(time.time())
            self.events.flush()
            # The store and loop made progress (this coroutine ran after a commit): feed the watchdog.
            sd_notify("WATCHDOG=1")

    async def _workflow_clock(self) -> None:
        """Assist SLAs, pick timers and other workflow timers, evaluated every second on the loop."""
        while True:
            await asyncio.sleep(const.WORKFLOW_TICK_S)
            self.role.tick(time.time())
