"""Bad input gets a clear reason, is counted, and changes nothing; the agent keeps running and syncing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import ConfigError, load_config
from edge_agent.contract.topics import Topics
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.readers.barcode.decoders import Symbol
from edge_agent.readers.barcode.reader import symbol_to_event
from edge_agent.readers.events import InputRejected
from simulators.camera import DEMO_CODES, corrupt_video, write_scan_video
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.broker import MosquittoBroker
from tests.support.world import make_config, wait_until

REPO = Path(__file__).resolve().parents[2]
TOPICS = Topics("acme", "s042", "kiosk-01")
CART = "kiosk-01-basket"
EVENT = {
    "specversion": "1.0",
    "type": "com.edgeagent.cart.applied.v1",
    "source": "urn:x",
    "id": "1",
    "time": "2026-11-23T10:00:00Z",
    "datacontenttype": "application/json",
}


def _publish(broker: MosquittoBroker, topic: str, payload: bytes) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="hostile")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_TO_DEVICE = [
    ("not_json", TOPICS.acks, b"\xff\xfe not json"),
    ("not_an_event", TOPICS.acks, b"[1, 2, 3]"),
    ("not_json", TOPICS.acks, _nested(100_000)),
    ("too_large", TOPICS.acks, b"{" + b" " * (1024 * 1024 + 10) + b"}"),
    ("unsupported_version", TOPICS.acks, json.dumps({**EVENT, "specversion": "0.3"}).encode()),
    ("unexpected_type", TOPICS.acks, json.dumps({**EVENT, "type": "com.edgeagent.cart.applied.v9"}).encode()),
    (
        "schema",
        TOPICS.acks,
        json.dumps(
            {
                **EVENT,
                "data": {
                    "device": "kiosk-01",
                    "hlc": 1,
                    "watermarks": [{"epoch": "zz", "applied_upto": "all of them"}],
                },
            }
        ).encode(),
    ),
    (
        "schema",
        TOPICS.cart_state(CART),
        json.dumps(
            {
                **EVENT,
                "type": "com.edgeagent.cart.snapshot.v1",
                "data": {
                    "cart_id": CART,
                    "version": 99,
                    "hlc_max": 1,
                    "tombstones": [],
                    "entries": [{"entry_id": "x", "sku": "123", "qty": -5, "hlc": 1, "origin_device": "web"}],
                },
            }
        ).encode(),
    ),
]


def test_hostile_inbound_payloads_are_rejected_with_reasons_and_change_nothing(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    gtin = normalise_gtin(DEMO_CODES[0])
    agent.scan(gtin)
    converge(agent, central, {gtin: 1})
    for _, topic, payload in HOSTILE_TO_DEVICE:
        _publish(broker, topic, payload)
    expected = {}
    for reason, _, _ in HOSTILE_TO_DEVICE:
        expected[reason] = expected.get(reason, 0) + 1
    assert agent.agent is not None
    router = agent.agent.router
    wait_until(
        lambda: dict(router.rejected) == expected,
        15,
        "every hostile payload rejected",
        details=lambda: dict(router.rejected),
    )
    # Still running, still syncing, basket untouched by any of it.
    assert agent.connected
    agent.scan(gtin)
    converge(agent, central, {gtin: 2})
    reasons = [r[0] for r in agent.agent.store.conn.execute("SELECT reason FROM rejects WHERE source = 'mqtt'")]
    assert sorted(reasons) == sorted(r for r, _, _ in HOSTILE_TO_DEVICE)


def test_the_platform_rejects_malformed_and_forged_batches_and_keeps_applying(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    ops_topic = TOPICS.ops
    _publish(broker, ops_topic, b"garbage")
    _publish(
        broker,
        ops_topic,
        json.dumps(
            {
                **EVENT,
                "type": "com.edgeagent.cart.ops.v1",
                "data": {"device": "kiosk-01", "epoch": "00000000000000aa", "hlc_max": 1, "ops": []},
            }
        ).encode(),
    )
    forged = {
        **EVENT,
        "type": "com.edgeagent.cart.ops.v1",
        "data": {
            "device": "other-dev",
            "epoch": "00000000000000aa",
            "hlc_max": 1,
            "ops": [
                {
                    "op_id": "other-dev:00000000000000aa:1",
                    "uuid": "8c1d6a4e-6d0b-4f6e-9a57-1f0b7e0c2d11",
                    "device": "other-dev",
                    "epoch": "00000000000000aa",
                    "seq": 1,
                    "cart_id": CART,
                    "kind": "entry.add",
                    "hlc": 1,
                    "sku": "04006381333931",
                    "qty": 1,
                }
            ],
        },
    }
    _publish(broker, ops_topic, json.dumps(forged).encode())  # other-dev's ops under kiosk-01's topic
    wait_until(
        lambda: sum(central.stats.rejected.values()) == 3,
        10,
        "central rejections",
        details=lambda: central.stats.rejected,
    )
    assert central.stats.rejected == {"not_json": 1, "schema": 1, "impersonation": 1}
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    gtin = normalise_gtin(DEMO_CODES[1])
    agent.scan(gtin)
    converge(agent, central, {gtin: 1})


def test_a_wrong_check_digit_is_rejected_with_a_reason_never_added() -> None:
    event = symbol_to_event(Symbol("4006381333932", "]C0"), 0.0)
    assert isinstance(event, InputRejected)
    assert event.reason == "bad_check_digit"
    assert "4006381333932" in event.detail


def test_a_code128_label_with_a_bad_check_digit_is_counted_and_the_rest_still_syncs(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    good = DEMO_CODES[2]
    # 14 digits are printed as Code 128 (EAN-13 itself cannot even encode a bad check digit): a
    # home-made shelf label with a typo, which is what a store actually meets.
    video = write_scan_video(
        tmp_path / "bad.avi", [("04006381333932", 8), (None, 8), (good, 8), (None, 8)], fps=15, seed=5
    )
    agent = agent_factory(make_config(tmp_path, broker.port, video=video, cart_id=CART))
    assert agent.agent is not None
    wait_until(lambda: agent.agent.status.reader_health.get("barcode") == "stopped", 30, "end of video")  # type: ignore[union-attr]
    converge(agent, central, {normalise_gtin(good): 1})
    assert agent.agent.status.rejected.get("barcode:bad_check_digit", 0) >= 1


def test_a_corrupt_and_truncated_video_ends_the_reader_cleanly_and_the_agent_keeps_syncing(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    clean = write_scan_video(tmp_path / "clean.avi", [(DEMO_CODES[0], 10), (None, 10), (DEMO_CODES[1], 10)], seed=2)
    broken = corrupt_video(clean, tmp_path / "broken.avi", garbage_frames=[1, 2, 3, 12], keep_fraction=0.6)
    agent = agent_factory(make_config(tmp_path, broker.port, video=broken, cart_id=CART))
    assert agent.agent is not None
    wait_until(lambda: agent.agent.status.reader_health.get("barcode") == "stopped", 30, "reader stopped")  # type: ignore[union-attr]
    gtin = normalise_gtin(DEMO_CODES[3])
    agent.scan(gtin)
    wait_until(lambda: agent.basket().get(gtin) == 1 and agent.outbox_total() == 0, 15, "sync after a broken camera")


BROKEN_CONFIGS = [
    ("[device\nid = 1", "not valid TOML", None),
    (
        '[device]\nid = "Kiosk 1"\ntenant = "acme"\nstore = "s1"\nrole = "kiosk"\n[mqtt]\nendpoints = [{host = "b"}]\n',
        "device.id",
        "must match",
    ),
    (
        '[device]\nid = "k1"\ntenant = "acme"\nstore = "s1"\nrole = "till"\n[mqtt]\nendpoints = [{host = "b"}]\n',
        "device.role",
        "'kiosk', 'associate-handheld', 'fitting-room-mirror' or 'shelf'",
    ),
    (
        '[device]\nid = "k1"\ntenant = "acme"\nstore = "s1"\nrole = "kiosk"\n[mqtt]\n'
        'endpoints = [{host = "b", port = 70000}]\n',
        "mqtt.endpoints.0.port",
        "65535",
    ),
    (
        '[device]\nid = "k1"\ntenant = "acme"\nstore = "s1"\nrole = "kiosk"\n[mqtt]\nendpoints = []\n',
        "mqtt.endpoints",
        "at least 1",
    ),
    (
        '[device]\nid = "k1"\ntenant = "acme"\nstore = "s1"\nrole = "kiosk"\n[mqtt]\n'
        'endpoints = [{host = "b"}]\nwindw = 5\n',
        "mqtt.windw",
        "unknown key",
    ),
    ('[device]\nid = "k1"\ntenant = "acme"\nstore = "s1"\nrole = "kiosk"\n', "mqtt", "Field required"),
    (
        '[device]\nid = "k1"\ntenant = "acme"\nstore = "s1"\nrole = "kiosk"\n[mqtt]\nendpoints = [{host = "b"}]\n'
        '[readers.barcode]\nsource = 0\ndecoder = "quagga"\n',
        "readers.barcode.decoder",
        "'zxing' or 'pyzbar'",
    ),
]


@pytest.mark.parametrize(("text", "key", "allowed"), BROKEN_CONFIGS)
def test_a_broken_config_names_the_file_the_key_and_what_is_allowed(
    tmp_path: Path, text: str, key: str, allowed: str | None
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert str(path) in message and key in message
    if allowed:
        assert allowed in message


def test_edge_agent_refuses_to_start_on_a_broken_config_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN_CONFIGS[3][0])
    result = subprocess.run(
        [sys.executable, "-m", "edge_agent", "run", "--config", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "mqtt.endpoints.0.port" in result.stderr and str(path) in result.stderr


def test_every_shipped_device_config_is_valid() -> None:
    configs = sorted((REPO / "device_config").glob("*.toml"))
    assert configs, "device_config/ holds one config per role"
    for path in configs:
        load_config(path)


def test_no_shipped_device_config_holds_a_key_that_signs_credentials() -> None:
    """A stolen SD card must not mint a shopper's credential: every role that identifies shoppers ships with the
    platform's public keys, and a kiosk that shows claim links with its own claim key."""
    configs = {path.stem: load_config(path) for path in (REPO / "device_config").glob("*.toml")}
    identifying = {role for role, config in configs.items() if config.identity is not None}
    assert identifying == {"kiosk", "associate-handheld", "fitting-room-mirror"}
    for role in identifying:
        identity = configs[role].identity
        assert identity is not None and identity.public_key_files and not identity.key_files, role
    claim = configs["kiosk"].claim
    assert claim is not None and claim.key_file is not None
