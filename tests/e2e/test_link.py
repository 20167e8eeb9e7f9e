"""The MQTT link's promises: endpoints tried in turn, TLS with client certificates and no plaintext
fallback, a retained status with a last will, the broker's Receive Maximum honoured, callbacks that
cannot kill the network thread."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.sync.link import LinkSettings, MqttLink, exception_safe
from simulators.broker import MosquittoBroker
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.fixtures import BrokerFactory
from tests.support.tls_pki import Pki, make_pki
from tests.support.world import AgentProcess, make_config, wait_until

GTINS = [normalise_gtin(c) for c in DEMO_CODES]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dead_first_endpoint_is_skipped_for_the_next_one(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    config = make_config(tmp_path, broker.port)
    config.mqtt.endpoints.insert(0, config.mqtt.endpoints[0].model_copy(update={"port": _closed_port()}))
    agent = agent_factory(config)
    agent.scan(GTINS[0])
    converge(agent, central, {GTINS[0]: 1})
    assert agent.agent is not None and agent.agent.link.counters.endpoint == f"127.0.0.1:{broker.port}"


def test_the_window_never_exceeds_the_brokers_receive_maximum(
    tmp_path: Path, broker_factory: BrokerFactory, agent_factory: AgentFactory
) -> None:
    small = broker_factory(max_inflight=2)  # Mosquitto announces it as Receive Maximum 2
    central = CentralPlatform(tmp_path / "c.db", small.host, small.port).start()
    try:
        agent = agent_factory(make_config(tmp_path, small.port, window=20, batch_max_ops=1))
        wait_until(lambda: agent.connected, 10, "connected")
        agent.scan(*(GTINS * 40))
        converge(agent, central, dict.fromkeys(GTINS, 40), timeout=60)
        assert agent.agent is not None
        assert agent.agent.pump.counters.max_inflight_seen == 2
    finally:
        central.stop()


def test_the_retained_status_goes_offline_by_last_will_when_the_agent_is_killed(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    seen: list[dict[str, object]] = []
    got = threading.Condition()

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        with got:
            seen.append(json.loads(msg.payload)["data"])
            got.notify_all()

    watcher = paho.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_message = on_message
    watcher.connect(broker.host, broker.port)
    watcher.subscribe("rt/v1/acme/st/s042/dv/kiosk-01/status", qos=1)
    watcher.loop_start()
    # MQTT 3.1.1 has no will delay, so the will is published as soon as the broker sees the socket die.
    proc = AgentProcess(make_config(tmp_path, broker.port, protocol="3.1.1"), tmp_path).start()
    try:
        wait_until(lambda: any(s["state"] == "online" for s in seen), 20, "online status", details=lambda: seen)
        proc.kill()
        wait_until(lambda: seen[-1]["state"] == "offline", 20, "offline by last will", details=lambda: seen)
        online = next(s for s in seen if s["state"] == "online")
        assert seen[-1]["session"] == online["session"], "the will carries the session it belongs to"
    finally:
        proc.stop()
        watcher.loop_stop()
        watcher.disconnect()


def test_a_clean_stop_leaves_the_retained_status_offline(tmp_path: Path, broker: MosquittoBroker) -> None:
    """A normal DISCONNECT suppresses the will, so the agent must say it itself before it goes."""
    proc = AgentProcess(make_config(tmp_path, broker.port), tmp_path).start()
    wait_until(lambda: "mqtt: connected" in proc.log_text(), 20, "agent connected", details=proc.log_text)
    assert proc.stop() == 0
    retained: list[dict[str, object]] = []
    reader = paho.Client(CallbackAPIVersion.VERSION2, client_id="late-reader")
    reader.on_message = lambda _c, _u, msg: retained.append(json.loads(msg.payload)["data"])
    reader.connect(broker.host, broker.port)
    reader.subscribe("rt/v1/acme/st/s042/dv/kiosk-01/status", qos=1)
    reader.loop_start()
    try:
        wait_until(lambda: bool(retained), 10, "the retained status")
        assert retained[-1]["state"] == "offline"
    finally:
        reader.loop_stop()
        reader.disconnect()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """The store PKI every TLS test uses: a CA, a broker certificate for 127.0.0.1, a client certificate."""
    return make_pki(tmp_path / "pki")


def test_tls_with_a_client_certificate_carries_ops_and_a_plaintext_broker_is_never_used_instead(
    tmp_path: Path, pki: Pki, broker: MosquittoBroker, agent_factory: AgentFactory
) -> None:
    tls_broker = MosquittoBroker(
        tmp_path / "tls-broker",
        listener_options=pki.broker_options(),
    )
    tls_broker.start()
    watcher = paho.Client(CallbackAPIVersion.VERSION2, client_id="tls-watcher")
    try:
        batches: list[bytes] = []
        watcher.tls_set(ca_certs=str(pki.pem("ca")), certfile=str(pki.pem("client")), keyfile=str(pki.key("client")))
        watcher.on_message = lambda _c, _u, msg: batches.append(msg.payload)
        watcher.connect(tls_broker.host, tls_broker.port)
        watcher.subscribe("rt/v1/acme/st/s042/dv/kiosk-01/ops", qos=1)
        watcher.loop_start()
        tls = pki.agent_tls()
        # The plaintext broker is listed first: a TLS client must fail there, never fall back to plaintext.
        config = make_config(tmp_path, broker.port, tls=tls)
        config.mqtt.endpoints.append(config.mqtt.endpoints[0].model_copy(update={"port": tls_broker.port}))
        agent = agent_factory(config)
        wait_until(lambda: agent.connected, 20, "connected over TLS")
        agent.scan(GTINS[0])
        wait_until(lambda: any(GTINS[0].encode() in b for b in batches), 10, "the op batch seen over TLS")
        assert agent.agent is not None
        assert agent.agent.link.counters.endpoint == f"127.0.0.1:{tls_broker.port}"
        assert agent.agent.link.counters.connect_failures >= 1
        assert "edge-agent-kiosk-01" not in broker.log_text(), "the agent talked MQTT in plaintext"
    finally:
        watcher.loop_stop()
        watcher.disconnect()
        tls_broker.stop()


def test_an_exception_in_a_callback_is_counted_and_does_not_escape_to_paho() -> None:
    class Exploding:
        def link_up(self, receive_maximum: int, session_present: bool) -> None: ...
        def link_down(self, reason: str) -> None: ...
        def published(self, mid: int, ok: bool, reason: str) -> None: ...
        def message(self, topic: str, payload: bytes, correlation: bytes | None = None) -> None: ...

    link = MqttLink(LinkSettings(endpoints=[("127.0.0.1", 1)], client_id="x"), Exploding())

    def boom(*_: object) -> None:
        raise RuntimeError("a bug in a callback")

    guarded = exception_safe(boom, link.counters)  # how the link wraps every paho callback
    guarded(None, None, None)
    assert link.counters.callback_errors == 1
