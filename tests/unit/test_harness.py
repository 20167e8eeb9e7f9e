"""The test harness itself: a real Mosquitto and the TCP fault proxy, driven by raw paho-mqtt.

Fault tests elsewhere trust these pieces, so each fault is shown to have the effect it claims.
Absence is never checked by waiting "long enough": each test waits for a later event that
could only happen after the absent one (a marker message, a keepalive disconnect).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators import broker as broker_module
from tests.support.broker import MosquittoBroker
from tests.support.tcp_proxy import ProxyMode

if TYPE_CHECKING:
    # Only for annotations: importing the module here would stop pytest rewriting its asserts.
    from tests.support.fixtures import BrokerFactory, ProxyFactory

# Bounds every wait for a condition; generous because CI runners and Pis can be slow.
WAIT_S = 30.0
# Short enough that a black-holed link is noticed within seconds, as paho pings after 1 s idle.
FAST_KEEPALIVE_S = 1


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Probe:
    """A paho client that records connects, disconnects and messages for tests to wait on."""

    def __init__(self, client_id: str, *, clean_session: bool = True) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        # Reconnect quickly after a fault so the tests spend their time on the fault itself.
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.connects = 0
        self.disconnects = 0
        self.messages: list[tuple[str, bytes, bool]] = []
        self._subacks: set[int] = set()
        self._lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        with self._lock:
            self.connects += 1

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        with self._lock:
            self.disconnects += 1

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any) -> None:
        with self._lock:
            self._subacks.add(mid)

    def connect(self, host: str, port: int, *, keepalive: int = 60) -> None:
        self.client.connect(host, port, keepalive=keepalive)
        self.client.loop_start()
        wait_until(lambda: self.connects >= 1, "CONNACK")

    def subscribe(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        wait_until(lambda: mid in self._subacks, f"SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """QoS 1 publish, returning once the broker has acknowledged it."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=WAIT_S)
        assert info.is_published(), f"no PUBACK for {topic}"

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [payload for _, payload, _ in self.messages]

    def wait_for_payload(self, payload: bytes) -> None:
        wait_until(lambda: payload in self.payloads(), f"message {payload!r}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def probe(host: str, port: int, client_id: str, *, clean_session: bool = True, keepalive: int = 60) -> Iterator[Probe]:
    p = Probe(client_id, clean_session=clean_session)
    p.connect(host, port, keepalive=keepalive)
    try:
        yield p
    finally:
        p.close()


def _closed_by_peer(host: str, port: int) -> bool:
    """Connect and read: True if the peer closed or reset the connection before sending data.

    The RST may even arrive while connect() is still finishing, so both steps count.
    """
    try:
        with socket.create_connection((host, port), timeout=WAIT_S) as raw:
            return raw.recv(1) == b""
    except ConnectionResetError:
        return True


# -- broker -----------------------------------------------------------------------------------


def test_constructor_does_no_io(tmp_path: Path) -> None:
    MosquittoBroker(tmp_path / "unused", persistence=True)
    assert not (tmp_path / "unused").exists()


def test_missing_mosquitto_is_an_error_not_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(broker_module, "FALLBACK_MOSQUITTO", tmp_path / "no-such-mosquitto")
    with pytest.raises(RuntimeError, match="make test"):
        MosquittoBroker(tmp_path / "b").start()


def test_qos1_round_trip(broker: MosquittoBroker) -> None:
    with probe(broker.host, broker.port, "sub") as sub, probe(broker.host, broker.port, "pub") as pub:
        sub.subscribe("harness/rt")
        pub.publish("harness/rt", b"hello")
        sub.wait_for_payload(b"hello")
    assert "New client connected" in broker.log_text()


def test_kill_and_restart_keep_the_port_and_clients_reconnect(broker: MosquittoBroker) -> None:
    port = broker.port
    with probe(broker.host, port, "survivor") as client:
        broker.kill()
        assert not broker.running
        wait_until(lambda: client.disconnects >= 1, "disconnect after kill -9")
        broker.restart()
        assert broker.port == port
        # paho's own reconnect finds the broker again because the address did not change.
        wait_until(lambda: client.connects >= 2, "reconnect after restart")
        client.subscribe("harness/after-restart")
        client.publish("harness/after-restart", b"back")
        client.wait_for_payload(b"back")


@pytest.mark.parametrize("persistence", [True, False], ids=["persistence", "no-persistence"])
def test_retained_message_survives_kill_only_with_persistence(broker_factory: BrokerFactory, persistence: bool) -> None:
    b = broker_factory(persistence=persistence)
    retained = b"retained-payload-7f3a"
    with probe(b.host, b.port, "retainer") as pub:
        pub.publish("harness/retained", retained, retain=True)
    if persistence:
        # PUBACK can leave before the save; kill -9 only keeps what is on disk, so wait for it.
        wait_until(lambda: b.db_path.exists() and retained in b.db_path.read_bytes(), "persistence save")
    b.kill()
    b.restart()
    with probe(b.host, b.port, "reader") as sub:
        sub.subscribe("harness/#")
        # Retained messages are sent right after SUBACK, so once this later marker arrives a
        # surviving retained message would already have arrived too.
        sub.publish("harness/marker", b"marker")
        sub.wait_for_payload(b"marker")
        assert (retained in sub.payloads()) is persistence


# -- proxy ------------------------------------------------------------------------------------


def test_proxy_passes_mqtt_traffic_and_counts_bytes(broker: MosquittoBroker, proxy_factory: ProxyFactory) -> None:
    proxy = proxy_factory(broker)
    with probe(proxy.host, proxy.port, "via-proxy") as client:
        client.subscribe("harness/proxied")
        client.publish("harness/proxied", b"through")
        client.wait_for_payload(b"through")
    stats = proxy.stats()
    assert stats.bytes_to_upstream > 0
    assert stats.bytes_to_client > 0
    assert stats.bytes_dropped == 0


def test_black_hole_stops_delivery_until_healed(broker: MosquittoBroker, proxy_factory: ProxyFactory) -> None:
    """A dead uplink: nothing arrives, keepalive notices, and the session catches up after healing.

    A persistent session (clean_session=False) is what lets the broker redeliver the QoS 1
    message that vanished into the black hole once the client reconnects.
    """
    proxy = proxy_factory(broker)
    with (
        probe(proxy.host, proxy.port, "bh-sub", clean_session=False, keepalive=FAST_KEEPALIVE_S) as sub,
        probe(broker.host, broker.port, "bh-pub") as pub,
    ):
        sub.subscribe("harness/bh")
        pub.publish("harness/bh", b"before")
        sub.wait_for_payload(b"before")

        proxy.black_hole()
        pub.publish("harness/bh", b"during")
        # The client can only notice the dead link by a missing PINGRESP, so by the time it
        # disconnects, "during" has had every chance to arrive and must not have.
        wait_until(lambda: sub.disconnects >= 1, "keepalive disconnect while black-holed")
        assert b"during" not in sub.payloads()
        assert proxy.stats().bytes_dropped > 0

        proxy.pass_through()
        sub.wait_for_payload(b"during")
        assert proxy.mode is ProxyMode.PASS_THROUGH


def test_reset_all_disconnects_clients_which_then_reconnect(
    broker: MosquittoBroker, proxy_factory: ProxyFactory
) -> None:
    proxy = proxy_factory(broker)
    with probe(proxy.host, proxy.port, "reset-me") as client:
        proxy.reset_all()
        wait_until(lambda: client.disconnects >= 1, "on_disconnect after RST")
        wait_until(lambda: client.connects >= 2, "reconnect after RST")


def test_refuse_resets_new_connections_but_keeps_existing_ones(
    broker: MosquittoBroker, proxy_factory: ProxyFactory
) -> None:
    proxy = proxy_factory(broker)
    with probe(proxy.host, proxy.port, "existing") as client:
        client.subscribe("harness/refuse")
        proxy.refuse()
        assert _closed_by_peer(proxy.host, proxy.port)
        client.publish("harness/refuse", b"still-up")
        client.wait_for_payload(b"still-up")
        assert proxy.stats().refused_connections == 1

        proxy.pass_through()
        with probe(proxy.host, proxy.port, "newcomer"):
            pass


def test_delay_holds_bytes_until_healed(broker: MosquittoBroker, proxy_factory: ProxyFactory) -> None:
    proxy = proxy_factory(broker)
    with (
        probe(proxy.host, proxy.port, "slow-sub") as sub,
        probe(broker.host, broker.port, "fast-pub") as pub,
    ):
        sub.subscribe("harness/delay")
        # An hour: nothing can be forwarded before the test heals the link.
        proxy.delay(3600)
        pub.publish("harness/delay", b"late")
        wait_until(lambda: proxy.stats().queued_bytes > 0, "the PUBLISH to be held by the proxy")
        assert b"late" not in sub.payloads()

        proxy.pass_through()
        sub.wait_for_payload(b"late")
        assert proxy.stats().queued_bytes == 0
