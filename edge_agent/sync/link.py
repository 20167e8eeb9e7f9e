"""The MQTT connection: paho-mqtt 2.x driven by a supervisor on the asyncio loop.

Rules from the field (sync note §2):
- A fresh paho client per connection attempt, built with ``reconnect_on_failure=False``: paho's own
  reconnect has no jitter and resends its whole in-memory queue; our outbox is the queue.
- paho runs on the asyncio loop, not in a network thread (sync/paho_loop.py), and each publish is written to the
  socket inside :meth:`MqttLink.publish`: no thread hand-off, no wait for the GIL, in a scan's path.
- Callbacks are wrapped (an exception inside paho would break its read) and only hand the event to the loop's
  next turn, so the listener never runs inside paho's own call stack (``call_soon`` on the loop's thread, where
  paho runs: no self-pipe wake-up, two syscalls per PUBACK and message saved; ``call_soon_threadsafe`` elsewhere).
- ``publish`` only while connected and never beyond the window the pump keeps.
- TLS, when configured, is never downgraded: a TLS failure is a failed attempt, never a plaintext retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.backoff import FullJitterBackoff
from edge_agent.const import (
    BACKOFF_RESET_AFTER_S,
    CONNECT_TIMEOUT_S,
    DEFAULT_BACKOFF_BASE_S,
    DEFAULT_BACKOFF_CAP_S,
    RECEIVE_MAXIMUM_ABSENT,
    SESSION_EXPIRY_S,
)
from edge_agent.sync.link_reasons import Attempt, AttemptTrace, certificate_not_after, connect_failure, expired_note
from edge_agent.sync.paho_loop import PahoOnLoop, close_socket
from edge_agent.sync.publish_props import PackedPublishProperties, encode_publish_properties

log = logging.getLogger(__name__)


class LinkListener(Protocol):
    """What the link tells the rest of the agent; every call arrives on the event loop."""

    def link_up(self, receive_maximum: int, session_present: bool) -> None: ...
    def link_down(self, reason: str) -> None: ...
    def published(self, mid: int, ok: bool, reason: str) -> None: ...
    def message(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        """``correlation``: the MQTT 5 correlation data of a request (None on 3.1.1 or when absent)."""


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    delay_s: int


@dataclass(frozen=True)
class TlsSettings:
    ca_file: str
    cert_file: str | None = None
    key_file: str | None = None
    check_hostname: bool = True


@dataclass(frozen=True)
class LinkSettings:
    endpoints: Sequence[tuple[str, int]]
    client_id: str
    protocol: str = "5"
    keepalive_s: int = 30
    tls: TlsSettings | None = None
    username: str | None = None
    password: str | None = None
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S
    connect_timeout_s: float = CONNECT_TIMEOUT_S


@dataclass
class LinkCounters:
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    callback_errors: int = 0
    last_error: str = ""
    endpoint: str = ""
    state_since: float = field(default_factory=time.time)


class MqttLink:
    """One connection at a time to one of several endpoints, reconnected by ``run`` until cancelled.

    ``sleep`` waits out each reconnect delay (``asyncio.sleep``; a test passes its own to run the retry path
    without waiting). ``on_connect_failed`` hears, on the loop, why each attempt failed before the link was up,
    in plain words (sync/link_reasons.py); the listener's ``link_down`` is only for a link that was up."""

    def __init__(
        self,
        settings: LinkSettings,
        listener: LinkListener,
        will_factory: Callable[[], Will] | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_connect_failed: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.on_connect_failed = on_connect_failed
        self._trace = AttemptTrace()
        self.listener = listener
        self.will_factory = will_factory
        self.counters = LinkCounters()
        self._client: paho.Client | None = None
        self._connected = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._down: asyncio.Event | None = None
        self._up: asyncio.Future[tuple[int, bool]] | None = None
        self._driver: PahoOnLoop | None = None
        self._backoff = FullJitterBackoff(settings.backoff_base_s, settings.backoff_cap_s)

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def mqtt5(self) -> bool:
        return self.settings.protocol == "5"

    # --- supervisor ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, wait for the connection to end, back off with full jitter, try the next endpoint."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        index = 0
        try:
            while True:
                host, port = self.settings.endpoints[index % len(self.settings.endpoints)]
                started = time.monotonic()
                if await self._connect_once(host, port):
                    await self._wait_down()
                    if time.monotonic() - started >= BACKOFF_RESET_AFTER_S:
                        self._backoff.reset()
                else:
                    index += 1
                await self._teardown()
                delay = self._backoff.next_delay()
                log.info("mqtt: reconnecting in %.2fs", delay)
                await self.sleep(delay)
        finally:
            await self._teardown()

    def force_reconnect(self, reason: str) -> None:
        """Used by the pump when PUBACKs stop (congestion timeout): drop the socket, the supervisor reconnects."""
        log.warning("mqtt: forcing reconnect: %s", reason)
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
                client.loop_write()
        self._mark_down(f"forced: {reason}")

    async def _connect_once(self, host: str, port: int) -> bool:
        assert self._loop is not None
        loop = self._loop
        self._down = asyncio.Event()
        self._up = loop.create_future()
        self.counters.endpoint = f"{host}:{port}"
        self._trace = AttemptTrace()
        attempt = self._attempt(host, port)
        try:
            client = self._build_client()
            self._client = client
            props = None
            if self.mqtt5:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = SESSION_EXPIRY_S
            connect: Callable[[], Any] = lambda: client.connect(  # noqa: E731
                host,
                port,
                keepalive=self.settings.keepalive_s,
                clean_start=False if self.mqtt5 else paho.MQTT_CLEAN_START_FIRST_ONLY,
                properties=props,
            )
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that lands as the wait completes
            # (tests/unit/test_cancellation.py), and a stopping agent then waited on a live link for ever.
            async with asyncio.timeout(self.settings.connect_timeout_s):
                await loop.run_in_executor(None, connect)
            _disable_nagle(client)
            self._driver = PahoOnLoop(loop, client, self._guard)
            async with asyncio.timeout(self.settings.connect_timeout_s):
                receive_max, session_present = await self._up
        except (OSError, ssl.SSLError, TimeoutError, ValueError, ConnectionRefusedError) as exc:
            self.counters.connect_failures += 1
            self.counters.last_error = connect_failure(exc, self._trace, attempt)
            log.warning("mqtt: connect to %s:%s failed: %s", host, port, self.counters.last_error)
            if self.on_connect_failed is not None:
                self.on_connect_failed(self.counters.last_error)
            return False
        self._connected = True
        self.counters.connects += 1
        self.counters.state_since = time.time()
        log.info("mqtt: connected to %s:%s (receive maximum %s)", host, port, receive_max)
        self.listener.link_up(receive_max, session_present)
        return True

    def _attempt(self, host: str, port: int) -> Attempt:
        """What the failure words need; the client certificate's notAfter is checked before every attempt."""
        tls = self.settings.tls
        expired_at = None
        if tls is not None and tls.cert_file is not None:
            not_after = certificate_not_after(tls.cert_file)
            if not_after is not None and not_after.timestamp() < time.time():
                expired_at = not_after
                log.warning("mqtt: %s", expired_note(tls.cert_file, not_after))
        return Attempt(
            host,
            port,
            self.settings.protocol,
            tls is not None,
            tls.ca_file if tls else None,
            tls.cert_file if tls else None,
            self.settings.connect_timeout_s,
            expired_at,
            self.settings.username,
        )

    async def _wait_down(self) -> None:
        assert self._down is not None
        await self._down.wait()

    async def _teardown(self) -> None:
        client, self._client = self._client, None
        was_connected = self._connected
        self._connected = False
        if client is not None:
            if client.is_connected():
                with contextlib.suppress(Exception):
                    client.disconnect()  # queues DISCONNECT; paho closes the socket once it is written
                    client.loop_write()
            driver, self._driver = self._driver, None
            if driver is not None:
                driver.detach()
            else:  # the connect never finished: close whatever socket it left
                close_socket(client)
        if was_connected:
            self.counters.disconnects += 1
            self.counters.state_since = time.time()

    def _mark_down(self, reason: str) -> None:
        """On the loop: the connection is gone; tell the listener once, wake the supervisor."""
        if self._connected:
            self._connected = False
            self.counters.disconnects += 1  # counted here: _teardown then finds the link already down
            self.counters.state_since = time.time()
            self.counters.last_error = reason
            self.listener.link_down(reason)
        if self._up is not None and not self._up.done():
            self._up.set_exception(ConnectionRefusedError(reason))
        if self._down is not None:
            self._down.set()

    # --- publishing (loop thread only) --------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        retain: bool = False,
        user_properties: Sequence[tuple[str, str]] = (),
        expiry_s: int | None = None,
        correlation: bytes | None = None,
    ) -> int | None:
        """QoS 1 publish; returns the mid, or None when not connected (the caller keeps the data).
        ``correlation`` is echoed as MQTT 5 correlation data (an answer to a request); 3.1.1 has none."""
        client = self._client
        if client is None or not self._connected:
            return None
        props = None
        if self.mqtt5 and (user_properties or expiry_s or correlation):
            props = PackedPublishProperties(encode_publish_properties(user_properties, expiry_s, correlation))
        info = client.publish(topic, payload, qos=1, retain=retain, properties=props)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return None
        client.loop_write()  # on the wire now; what the socket does not take waits for the loop's writer
        return int(info.mid)

    def subscribe(self, topics: Sequence[str]) -> bool:
        client = self._client
        if client is None or not self._connected or not topics:
            return False
        rc, _ = client.subscribe([(t, 1) for t in topics])
        client.loop_write()
        return bool(rc == paho.MQTT_ERR_SUCCESS)

    def unsubscribe(self, topics: Sequence[str]) -> None:
        client = self._client
        if client is not None and self._connected and topics:
            client.unsubscribe(list(topics))
            client.loop_write()

    # --- paho client and its callbacks (on the loop) ------------------------------------------------------
    def _build_client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=paho.MQTTv5 if self.mqtt5 else paho.MQTTv311,
            clean_session=None if self.mqtt5 else False,
            reconnect_on_failure=False,
            manual_ack=True,  # a message's PUBACK is queued once its listener ran (_deliver)
        )
        client.suppress_exceptions = True
        client.enable_logger(logging.getLogger("paho"))
        apply_credentials(client, s)
        if self.will_factory is not None:
            will = self.will_factory()
            will_props = None
            if self.mqtt5:
                will_props = Properties(PacketTypes.WILLMESSAGE)
                will_props.WillDelayInterval = will.delay_s
            client.will_set(will.topic, will.payload, qos=1, retain=True, properties=will_props)
        client.on_connect = self._guard(self._on_connect)
        client.on_disconnect = self._guard(self._on_disconnect)
        client.on_publish = self._guard(self._on_publish)
        client.on_message = self._guard(self._on_message)
        client.on_log = self._guard(self._on_log)  # until CONNACK: a TLS alert is only in paho's log
        return client

    def _guard(self, callback: Callable[..., None]) -> Callable[..., None]:
        return exception_safe(callback, self.counters)

    def _to_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """On the loop's next turn, in order. paho reads on the loop's thread (paho_loop.py), where ``call_soon``
        queues it as ``call_soon_threadsafe`` does, without writing to the loop's self-pipe to wake a selector that
        is not waiting (and reading it back): a write and a read per PUBACK and per message."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            loop.call_soon(fn, *args)
        else:  # the executor's connect, or any other thread
            loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, client: paho.Client, _userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if client is not self._client:
            return
        if reason.is_failure:
            self._trace.refusal = (int(reason.value), str(reason))
            self._to_loop(self._mark_down, f"connect refused: {reason}")
            return
        receive_max = RECEIVE_MAXIMUM_ABSENT
        if props is not None and hasattr(props, "ReceiveMaximum"):
            receive_max = int(props.ReceiveMaximum)
        self._to_loop(self._resolve_up, receive_max, bool(flags.session_present))

    def _on_log(self, client: paho.Client, _userdata: Any, level: int, buf: str) -> None:
        if client is self._client and level == paho.MQTT_LOG_ERR and not self._trace.socket_error:
            self._trace.socket_error = buf

    def _resolve_up(self, receive_max: int, session_present: bool) -> None:
        if self._client is not None:
            self._client.on_log = None  # connected: no per-packet log formatting on the hot path
        if self._up is not None and not self._up.done():
            self._up.set_result((receive_max, session_present))

    def _on_disconnect(self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if client is self._client:
            self._to_loop(self._mark_down, f"disconnected: {reason}")

    def _on_publish(self, client: paho.Client, _userdata: Any, mid: int, reason: Any, _props: Any) -> None:
        if client is self._client:
            self._to_loop(self.listener.published, mid, not reason.is_failure, str(reason))

    def _on_message(self, client: paho.Client, _userdata: Any, msg: paho.MQTTMessage) -> None:
        if client is self._client:
            correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties is not None else None
            self._to_loop(self._deliver, client, msg.mid, msg.qos, msg.topic, bytes(msg.payload), correlation)

    def _deliver(
        self, client: paho.Client, mid: int, qos: int, topic: str, payload: bytes, correlation: bytes | None
    ) -> None:
        """The listener first, then the PUBACK: until then the broker's session keeps the message, so a device killed
        while it handles one (or before the listeners of the others read with it ran) gets it again. paho would
        queue the PUBACK as it reads, and the next write (this turn's write check, any listener's publish) sent it
        before the message was handled. Acked even if the listener raised: a bad message is not redelivered for
        ever; only on the connection it came on (a mid means nothing on the next one)."""
        try:
            self.listener.message(topic, payload, correlation)
        finally:
            if qos and client is self._client:
                client.ack(mid, qos)


def _disable_nagle(client: paho.Client) -> None:
    """paho has no option for it: with Nagle on, a small PUBLISH waits behind our own unacknowledged PUBACK
    for the peer's delayed ACK, and scan-to-applied latency clusters at 40 and 80 ms (docs/benchmarks.md)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):  # ssl.SSLSocket is one too
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def exception_safe(callback: Callable[..., None], counters: LinkCounters) -> Callable[..., None]:
    """Wraps a paho callback: an escaping exception would break paho's read or write half-way (with a network
    thread it ended that thread, ThingsBoard gateway #2086), so it is logged and counted instead."""

    def guarded(*args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            counters.callback_errors += 1
            log.exception("mqtt: callback %s failed", callback.__name__)

    return guarded


def apply_credentials(client: paho.Client, s: LinkSettings) -> None:
    """Username and password, and TLS that is never downgraded: the same for the daemon and `--check-fence`."""
    if s.username is not None:
        client.username_pw_set(s.username, s.password)
    if s.tls is not None:
        client.tls_set(
            ca_certs=s.tls.ca_file,
            certfile=s.tls.cert_file,
            keyfile=s.tls.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        client.tls_insecure_set(not s.tls.check_hostname)
