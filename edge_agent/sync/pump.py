"""The outbox pump: the only caller of publish for ops, never beyond its window.

pending -lease-> leased -PUBACK-> sent -applied watermark-> deleted; a failed PUBACK, a disconnect or an
expired T_ack puts rows back to pending (sync note §6). A PUBACK is one hop, never delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from edge_agent.const import (
    BATCH_MAX_BYTES,
    MAX_UNCONFIRMED_OPS,
    PUMP_TICK_S,
    SYNC_REQUEST_MAX_CARTS,
    SYNC_RETRY_CAP_S,
    SYNC_RETRY_FIRST_S,
)
from edge_agent.contract.cart import T_OPS, AppliedWatermark, SyncRequest, SyncRequestEvent, encode_ops_batch
from edge_agent.contract.topics import Topics
from edge_agent.store.device import DeviceStore
from edge_agent.sync.outlet import Outlet

log = logging.getLogger(__name__)


@dataclass
class PumpSettings:
    window: int
    batch_max_ops: int
    ack_timeout_s: float
    congestion_timeout_s: float


@dataclass
class PumpCounters:
    batches_published: int = 0
    ops_published: int = 0
    puback_failures: int = 0
    ops_confirmed: int = 0
    ack_timeouts: int = 0
    congestion_reconnects: int = 0
    max_inflight_seen: int = 0
    sync_requests: int = 0
    sync_answers: int = 0
    resent_after_sync: int = 0
    """Ops sent before an answered sync request and not covered by its watermark: sent again at once."""


@dataclass
class _InFlight:
    seqs: list[int]
    sent_at: float


@dataclass
class OutboxPump:
    store: DeviceStore
    out: Outlet
    topics: Topics
    source: str
    settings: PumpSettings
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    counters: PumpCounters = field(default_factory=PumpCounters)
    on_confirmed: Callable[[int], None] | None = None
    max_unconfirmed_ops: int = MAX_UNCONFIRMED_OPS
    _window: int = 0
    _inflight: dict[int, _InFlight] = field(default_factory=dict)
    _inflight_ops: int = 0
    _awaiting_confirmation: int = 0
    _last_housekeeping: float = 0.0
    _sync_asked: dict[str, float] = field(default_factory=dict)
    """Unanswered sync requests of this connection: event id -> wall time sent."""
    _sync_next_at: float = 0.0
    _sync_retry_s: float = SYNC_RETRY_FIRST_S
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _maybe_pending: bool = True
    """False once a lease came back empty, until something may have made rows pending again (a commit, a release,
    an expiry, the tick): a PUBACK or a watermark then wakes the pump without an empty lease transaction."""

    def wake(self) -> None:
        self._wake.set()

    def _wake_if_pending(self) -> None:
        """A PUBACK or a watermark made room in the window or under the cap: worth a wake-up only if rows may be
        pending. Otherwise :meth:`run` would find ``_maybe_pending`` false and lease nothing; its housekeeping comes
        with the tick either way. Two task wake-ups per scan saved on the loop."""
        if self._maybe_pending:
            self._wake.set()

    def send_now(self) -> None:
        """Ops just committed go on the wire in this loop turn: a wake-up resumes :meth:`run` only three turns
        later (the event, ``wait_for``'s inner task, then ``run``), behind whatever the commit scheduled first
        (the screen feed, the scan's events). Same window and cap as :meth:`run`; it never sends an uncommitted
        op, since only committed rows can be leased."""
        self._maybe_pending = True
        self._fill_window()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PUMP_TICK_S):  # not wait_for: see tests/unit/test_cancellation.py
                    await self._wake.wait()
            self._wake.clear()
            if self.monotonic() - self._last_housekeeping >= PUMP_TICK_S:  # on the tick, not on every wake-up
                self._last_housekeeping = self.monotonic()
                self._maybe_pending = True  # whatever else made rows pending is leased within a tick
                self._housekeeping()
            self._fill_window()

    # --- link events (on the loop) ------------------------------------------------------------------------
    def link_up(self, receive_maximum: int) -> None:
        """At once after a reconnect, everything unconfirmed goes back to pending and is sent again."""
        self._forget_flights()
        self._window = max(1, min(self.settings.window, receive_maximum))
        self.store.release()
        self._maybe_pending = True
        self.wake()

    def link_down(self) -> None:
        self._forget_flights()
        self.store.release()
        self._maybe_pending = True
        self._sync_asked.clear()

    def _forget_flights(self) -> None:
        """Everything unconfirmed is pending again (released in the store), so nothing is in flight."""
        self._inflight.clear()
        self._inflight_ops = 0
        self._awaiting_confirmation = 0

    def published(self, mid: int, ok: bool, reason: str) -> None:
        flight = self._inflight.pop(mid, None)
        if flight is None:
            return
        self._inflight_ops -= len(flight.seqs)
        if ok:
            self.store.mark_sent(flight.seqs)
            self._awaiting_confirmation += len(flight.seqs)
        else:  # e.g. 0x87 not authorized, 0x97 quota exceeded: not sent
            self.counters.puback_failures += 1
            log.warning("sync: broker refused ops batch (%s); will retry", reason)
            self.store.release(flight.seqs)
            self._maybe_pending = True
        self._wake_if_pending()

    def applied(self, watermark: AppliedWatermark) -> int:
        deleted = 0
        for wm in watermark.watermarks:
            deleted += self.store.confirm(wm.epoch, wm.applied_upto, wm.applied_above)
        self.store.clock.observe_remote(watermark.hlc)  # the router counted a value too far ahead
        asked_at = self._sync_asked.get(watermark.answers or "")
        if asked_at is not None:
            self._sync_answered(asked_at)
        if deleted:
            self._awaiting_confirmation = max(0, self._awaiting_confirmation - deleted)
            self._wake_if_pending()  # room under the unconfirmed cap
            self.counters.ops_confirmed += deleted
            if self.on_confirmed is not None:
                self.on_confirmed(deleted)
        return deleted

    def sync_request(self) -> None:
        """After each connect the device asks for snapshots, watermarks and catalog changes instead of trusting
        retained delivery (a broker that restarted without persistence has none), and asks again, at doubling
        intervals, until the platform answers (:meth:`_sync_due`)."""
        self._sync_retry_s = SYNC_RETRY_FIRST_S
        self._ask_sync()

    def _ask_sync(self) -> None:
        device = self.store.device_id
        data = SyncRequest(
            device=device,
            cart_ids=self.store.cart_ids()[-SYNC_REQUEST_MAX_CARTS:],
            catalog_version=self.store.catalog_version(),
        )
        event_id = f"{device}:sync:{uuid.uuid4()}"
        if self.out.publish(self.topics.sync, SyncRequestEvent, data, event_id=event_id) is not None:
            self._sync_asked[event_id] = self.wall()
            self.counters.sync_requests += 1
        self._sync_next_at = self.monotonic() + self._sync_retry_s
        self._sync_retry_s = min(SYNC_RETRY_CAP_S, self._sync_retry_s * 2)

    def _sync_due(self) -> None:
        if self._sync_asked and self.out.link.connected and self.monotonic() >= self._sync_next_at:
            self._ask_sync()

    def _sync_answered(self, asked_at: float) -> None:
        """The platform was there when it answered: what was sent before the request and is still unconfirmed
        reached nobody (or is in the platform's queue: resends are deduplicated per op), so it goes again now."""
        self._sync_asked.clear()
        self.counters.sync_answers += 1
        resend = self.store.expire_sent(asked_at)
        if resend:
            self._awaiting_confirmation = max(0, self._awaiting_confirmation - resend)
            self.counters.resent_after_sync += resend
            log.info("sync: the platform answered; sending %d unconfirmed ops again at once", resend)
            self._maybe_pending = True
            self.wake()

    # --- internals ----------------------------------------------------------------------------------------
    def _fill_window(self) -> None:
        while (
            self.out.link.connected
            and len(self._inflight) < self._window
            and self._inflight_ops + self._awaiting_confirmation < self.max_unconfirmed_ops
        ):
            if not self._maybe_pending:
                return
            rows = self.store.lease(self.settings.batch_max_ops, BATCH_MAX_BYTES)
            if not rows:
                self._maybe_pending = False
                return
            seqs = [r.seq for r in rows]
            payload = encode_ops_batch(
                self.source,
                self.store.device_id,
                self.store.epoch,
                seqs,
                [r.body for r in rows],
                self.store.clock.last,
            )
            event_id = f"{self.store.device_id}:{self.store.epoch}:{seqs[0]}-{seqs[-1]}"
            mid = self.out.publish_encoded(self.topics.ops, payload, T_OPS, event_id)
            if mid is None:
                self.store.release(seqs)
                self._maybe_pending = True
                return
            # Registered before the loop yields, so an early on_publish always finds it.
            self._inflight[mid] = _InFlight(seqs, self.monotonic())
            self._inflight_ops += len(seqs)
            self.counters.batches_published += 1
            self.counters.ops_published += len(seqs)
            self.counters.max_inflight_seen = max(self.counters.max_inflight_seen, len(self._inflight))

    def _housekeeping(self) -> None:
        self._sync_due()
        self.store.settle_confirms()  # what was confirmed leaves the file within a tick even if nothing is written
        expired = self.store.expire_sent(self.wall() - self.settings.ack_timeout_s)
        if expired:
            self._awaiting_confirmation = max(0, self._awaiting_confirmation - expired)
            self.counters.ack_timeouts += expired
            log.info("sync: %d ops unconfirmed after %.0fs, sending again", expired, self.settings.ack_timeout_s)
        if self._inflight and self.out.link.connected:
            oldest = min(f.sent_at for f in self._inflight.values())
            if self.monotonic() - oldest > self.settings.congestion_timeout_s:
                self.counters.congestion_reconnects += 1
                self.out.link.force_reconnect(f"no PUBACK for {self.settings.congestion_timeout_s:.0f}s")
