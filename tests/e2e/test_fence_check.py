"""`edge-agent status --check-fence`: a self-test of the store broker's fence against a real Mosquitto.

An anonymous default Mosquitto has no ACL, so the probe on the device's own acks topic comes back: exit 1, in
plain words. The shipped fence (deploy/mosquitto/, FencedBroker) refuses it: exit 0. The probe never erases
the platform's retained ack and never disturbs the running daemon.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from simulators.broker import FencedBroker, MosquittoBroker
from tests.e2e.test_spine import AgentFactory
from tests.support.fence import StorePki, make_store_pki
from tests.support.tls_pki import make_pki
from tests.support.world import REPO, make_config, wait_until, write_config

ACKS = "rt/v1/acme/st/s042/dv/kiosk-01/acks"
NO_ACL = (
    "the broker has no ACL: any client on the store network can rewrite this device's baskets; "
    "see README 'Fence the store broker'"
)


@pytest.fixture(scope="module")
def store_pki(tmp_path_factory: pytest.TempPathFactory) -> StorePki:
    return make_store_pki(tmp_path_factory.mktemp("store-pki"), ("kiosk-01",))


def _check_fence(config_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_agent", "status", "--config", str(config_path), "--check-fence", *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _retained(broker: MosquittoBroker, topic: str) -> bytes:
    """What a fresh subscriber gets as the retained message on `topic` (b"" when there is none)."""
    got: list[bytes] = []
    done = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="retained-reader")

    def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        if msg.retain:
            got.append(bytes(msg.payload))
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *_: threading.Timer(1.0, done.set).start()  # nothing retained: SUBACK, silence
    client.connect(broker.host, broker.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        done.wait(10)
    finally:
        client.loop_stop()
        client.disconnect()
    return got[0] if got else b""


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_an_anonymous_mosquitto_is_reported_as_having_no_acl(
    tmp_path: Path, broker: MosquittoBroker, protocol: str
) -> None:
    path = write_config(make_config(tmp_path, broker.port, protocol=protocol), tmp_path / "kiosk.toml")
    result = _check_fence(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert NO_ACL in result.stdout and "as edge-agent-kiosk-01-fence-check" in result.stdout

    report = json.loads(_check_fence(path, "--json").stdout)
    assert report["fence"] == "accepted" and report["exit_code"] == 1 and report["topic"] == ACKS
    assert report["client_id"] == "edge-agent-kiosk-01-fence-check"


@pytest.mark.parametrize(
    ("protocol", "how"),
    [("5", "(PUBACK 0x87 Not authorized on "), ("3.1.1", "never came back within 3s")],  # 3.1.1 has no PUBACK codes
)
def test_the_shipped_fence_refuses_the_probe(tmp_path: Path, store_pki: StorePki, protocol: str, how: str) -> None:
    with FencedBroker(tmp_path / "fenced", store_pki.root) as fenced:
        tls = store_pki.device("kiosk-01").as_agent_tls()
        config = make_config(tmp_path, fenced.port, protocol=protocol, tls=tls)
        result = _check_fence(write_config(config, tmp_path / "kiosk.toml"), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["fence"] == "refused" and report["endpoint"] == f"127.0.0.1:{fenced.port}"
    assert (
        report["detail"].startswith("the broker refuses platform-only topics from this device")
        and how in (report["detail"])
    )


def test_the_probe_leaves_the_retained_ack_and_the_running_daemon_alone(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory
) -> None:
    ack = b'{"the platform": "retained ack"}'
    publisher = paho.Client(CallbackAPIVersion.VERSION2, client_id="platform-stand-in")
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    publisher.publish(ACKS, ack, qos=1, retain=True).wait_for_publish(10)
    publisher.loop_stop()
    publisher.disconnect()
    config = make_config(tmp_path, broker.port)
    agent = agent_factory(config)
    wait_until(lambda: agent.connected, 20, "the daemon connected")
    assert agent.agent is not None

    router = agent.agent.router
    wait_until(
        lambda: router.rejected["unsupported_version"] == 1, 10, "the stand-in's ack rejected (not a CloudEvent)"
    )

    assert _check_fence(write_config(config, tmp_path / "kiosk.toml")).returncode == 1

    assert _retained(broker, ACKS) == ack, "a probe must never be a retained (erasing) publish"
    assert agent.connected and agent.agent.link.counters.connects == 1, "the daemon's session was not taken over"
    # The probe came back to the check, so Mosquitto had queued it to the daemon too: a marker sent now
    # reaches the daemon after it.
    marker = paho.Client(CallbackAPIVersion.VERSION2, client_id="marker")
    marker.connect(broker.host, broker.port)
    marker.loop_start()
    marker.publish(ACKS, b"marker", qos=1).wait_for_publish(10)
    marker.loop_stop()
    marker.disconnect()
    wait_until(lambda: router.rejected["not_json"] == 1, 10, "the marker rejected", details=lambda: router.rejected)
    assert dict(router.rejected) == {"unsupported_version": 1, "not_json": 1}, "the zero-length probe was ignored"


def test_an_unreachable_broker_exits_3_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        result = _check_fence(write_config(make_config(tmp_path, port), tmp_path / "kiosk.toml"), "--json")
    assert result.returncode == 3
    report = json.loads(result.stdout)
    assert report["fence"] == "unreachable" and "broker unreachable" in report["detail"]


def test_a_tls_refusal_is_unreachable_in_the_links_words(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    with MosquittoBroker(tmp_path / "tls", listener_options=pki.broker_options("server-other")) as tls_broker:
        config = make_config(tmp_path, tls_broker.port, tls=pki.agent_tls())
        result = _check_fence(write_config(config, tmp_path / "kiosk.toml"))
    assert result.returncode == 3 and "broker certificate not trusted" in result.stdout
