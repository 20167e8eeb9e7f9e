"""One light simulated device: a paho 3.1.1 client driven by the fleet's asyncio loop, no thread of its own.

It speaks the real contract with the project's own codec (`encode_ops_batch`, `AppliedEvent`, `SyncRequestEvent`)
and keeps the agent's outbox rules: ops are durable before they are sent, at most ``window`` PUBLISHes in flight,
a PUBACK marks ops sent and only the platform's applied watermark deletes them, everything unconfirmed goes again
after a reconnect or after T_ack, and reconnects wait a full-jitter delay (edge_agent/backoff.py), trying the same
node once and then the next one, like edge_agent/sync/link.py.

paho runs on the loop through its external-loop callbacks (on_socket_open / register_write, as aiomqtt does):
the loop reads and writes the socket, the fleet's tick calls ``loop_misc`` for keepalive, so every callback
already runs on the loop and touches device state directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.backoff import FullJitterBackoff
from edge_agent.const import BACKOFF_RESET_AFTER_S
from edge_agent.contract.base import utcnow
from edge_agent.contract.cart import (
    T_APPLIED,
    AppliedEvent,
    SyncRequest,
    SyncRequestEvent,
    encode_ops_batch,
)
from edge_agent.contract.codec import parse_event
from edge_agent.contract.topics import Topics
from simulators.fleet import const
from simulators.fleet.queue import QueuedOp

log = logging.getLogger("fleet")


@dataclass(frozen=True)
class DeviceSettings:
    window: int = const.DEFAULT_WINDOW
    batch_max_ops: int = const.DEFAULT_BATCH_MAX_OPS
    keepalive_s: int = const.DEFAULT_KEEPALIVE_S
    ack_timeout_s: float = const.DEFAULT_ACK_TIMEOUT_S
    connect_timeout_s: float = const.DEFAULT_CONNECT_TIMEOUT_S
    backoff_base_s: float = const.DEFAULT_BACKOFF_BASE_S
    backoff_cap_s: float = const.DEFAULT_BACKOFF_CAP_S


@dataclass
class DeviceCounters:
    created: int = 0
    confirmed: int = 0
    ops_published: int = 0
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    resent_after_timeout: int = 0
    rejected_downlinks: int = 0


@dataclass
class FleetEvents:
    """What every device reports to the fleet (on the loop): connect times, latencies, rows to delete."""

    connect_times: list[float] = field(default_factory=list)
    """time.monotonic() of every successful (re)connect."""
    latencies_s: list[float] = field(default_factory=list)
    """Creation to confirmation (the applied watermark) of every op."""
    deletes: list[tuple[str, int]] = field(default_factory=list)


class SimDevice:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        topics: Topics,
        epoch: str,
        endpoints: Sequence[tuple[str, int]],
        settings: DeviceSettings,
        events: FleetEvents,
        queued: Sequence[QueuedOp] = (),
    ) -> None:
        self.loop, self.topics, self.epoch = loop, topics, epoch
        self.device = topics.device
        self.endpoints = list(endpoints)
        self.settings, self.events = settings, events
        self.counters = DeviceCounters()
        self.source = f"urn:{topics.tenant}:{topics.store}:{self.device}"
        self._backoff = FullJitterBackoff(settings.backoff_base_s, settings.backoff_cap_s)
        self._index = 0
        self._bodies: dict[int, str] = {q.seq: q.body for q in queued}
        self._created: dict[int, float] = {q.seq: q.created_at for q in queued}
        self._pending: list[int] = sorted(self._bodies)
        self._inflight: dict[int, list[int]] = {}
        self._sent_at: dict[int, float] = {}
        self._hlc_max = 0
        self._client: paho.Client | None = None
        self._sock: socket.socket | None = None
        self._connected = False
        self._connected_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    # --- what the fleet sees --------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def unconfirmed(self) -> int:
        return len(self._bodies)

    @property
    def endpoint(self) -> tuple[str, int]:
        return self.endpoints[self._index % len(self.endpoints)]

    def enqueue(self, seq: int, body: str, hlc: int, created_at: float) -> None:
        """An op already committed to the durable queue; :meth:`flush` sends what was enqueued (one batch for a
        burst, as the agent's group commit does)."""
        self._bodies[seq] = body
        self._created[seq] = created_at
        self._pending.append(seq)  # seqs only grow, so the list stays sorted
        self._hlc_max = max(self._hlc_max, hlc)
        self.counters.created += 1

    def flush(self) -> None:
        self._pump()

    def start(self, delay: float = 0.0) -> None:
        self._timer = self.loop.call_later(delay, self._attempt)

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
            self._shutdown_socket()

    def tick(self, now: float) -> None:
        client = self._client
        if client is not None:
            client.loop_misc()  # keepalive PINGREQ, and a dead connection noticed
        expired = [s for s, at in self._sent_at.items() if now - at > self.settings.ack_timeout_s]
        if expired:
            for seq in expired:
                del self._sent_at[seq]
            self._pending = sorted({*self._pending, *expired})
            self.counters.resent_after_timeout += len(expired)
            self._pump()

    # --- connecting -----------------------------------------------------------------------------------------
    def _attempt(self) -> None:
        self._timer = None
        if self._stopped:
            return
        host, port = self.endpoint
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.device,
            protocol=paho.MQTTv311,
            clean_session=True,  # the queue, not a broker session, is the source of truth
            reconnect_on_failure=False,
        )
        client.suppress_exceptions = True
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = lambda c, _u, s: self.loop.add_writer(s, c.loop_write)
        client.on_socket_unregister_write = self._on_socket_unregister_write
        self._client = client
        try:
            client.connect(host, port, keepalive=self.settings.keepalive_s)
        except (OSError, ValueError) as exc:
            self._client = None
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        self._timer = self.loop.call_later(self.settings.connect_timeout_s, self._connect_timed_out, client)

    def _connect_timed_out(self, client: paho.Client) -> None:
        self._timer = None
        if client is self._client and not self._connected:
            self._shutdown_socket()  # paho reads EOF, calls on_disconnect, which schedules the next attempt

    def _failed(self, why: str) -> None:
        """An attempt that never got a CONNACK: the next endpoint, after a full-jitter delay."""
        self.counters.connect_failures += 1
        log.debug("fleet: %s could not connect to %s: %s", self.device, self.endpoint, why)
        self._index += 1
        self._schedule()

    def _schedule(self) -> None:
        if not self._stopped and self._timer is None:
            self._timer = self.loop.call_later(self._backoff.next_delay(), self._attempt)

    def _on_socket_open(self, client: paho.Client, _u: Any, sock: Any) -> None:
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
        self.loop.add_reader(sock, client.loop_read)

    def _on_socket_unregister_write(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self.loop.remove_writer(sock)

    def _on_socket_close(self, _c: paho.Client, _u: Any, sock: Any) -> None:
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)
        if sock is self._sock:
            self._sock = None

    def _shutdown_socket(self) -> None:
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if client is not self._client:
            return
        if reason.is_failure:
            self._shutdown_socket()
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._connected = True
        self._connected_at = time.monotonic()
        self.counters.connects += 1
        self.events.connect_times.append(self._connected_at)
        client.subscribe(self.topics.acks, qos=const.ACK_QOS)
        request = SyncRequestEvent(
            source=self.source,
            id=f"{self.device}:sync:{self.counters.connects}",
            time=utcnow(),
            data=SyncRequest(device=self.device, cart_ids=[self.cart_id]),
        )
        client.publish(self.topics.sync, request.model_dump_json().encode(), qos=1)
        # At once after a reconnect everything unconfirmed is pending again (the agent's link_up).
        self._inflight.clear()
        self._sent_at.clear()
        self._pending = sorted(self._bodies)
        self._pump()

    def _on_disconnect(self, client: paho.Client, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        if client is not self._client:
            return
        self._client = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._connected:
            self._failed("no CONNACK")
            return
        self._connected = False
        self.counters.disconnects += 1
        self._inflight.clear()
        if time.monotonic() - self._connected_at >= BACKOFF_RESET_AFTER_S:
            self._backoff.reset()
        self._schedule()  # the same node once more first: a dropped connection is not a dead node

    # --- ops up, watermarks down ----------------------------------------------------------------------------
    @property
    def cart_id(self) -> str:
        return f"{self.device}-basket"

    def _pump(self) -> None:
        client = self._client
        if client is None or not self._connected:
            return
        while self._pending and len(self._inflight) < self.settings.window:
            seqs = self._pending[: self.settings.batch_max_ops]
            del self._pending[: len(seqs)]
            payload = encode_ops_batch(
                self.source, self.device, self.epoch, seqs, [self._bodies[s] for s in seqs], self._hlc_max
            )
            info = client.publish(self.topics.ops, payload, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                self._pending = sorted({*self._pending, *seqs})
                return
            self._inflight[info.mid] = seqs
            self.counters.ops_published += len(seqs)

    def _on_publish(self, client: paho.Client, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        seqs = self._inflight.pop(mid, None)
        if client is not self._client or seqs is None:
            return
        live = [s for s in seqs if s in self._bodies]
        if reason.is_failure:
            self._pending = sorted({*self._pending, *live})
        else:
            now = time.monotonic()
            self._sent_at.update(dict.fromkeys(live, now))
        self._pump()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            watermark = parse_event(bytes(msg.payload), AppliedEvent, T_APPLIED).data
        except ValueError as exc:  # bad input: counted, logged, the device keeps running
            self.counters.rejected_downlinks += 1
            log.warning("fleet: %s rejected a downlink on %s: %s", self.device, msg.topic, exc)
            return
        covered: list[int] = []
        for wm in watermark.watermarks:
            if wm.epoch != self.epoch:
                continue
            above = set(wm.applied_above)
            covered += [s for s in self._bodies if s <= wm.applied_upto or s in above]
        if covered:
            self._confirm(covered)

    def _confirm(self, seqs: list[int]) -> None:
        now = time.time()
        gone = set(seqs)
        for seq in seqs:
            del self._bodies[seq]
            self._sent_at.pop(seq, None)
            self.events.latencies_s.append(now - self._created.pop(seq))
            self.events.deletes.append((self.device, seq))
        self._pending = [s for s in self._pending if s not in gone]
        self.counters.confirmed += len(seqs)
        self._pump()
