"""A rogue client on the store broker: anonymous, publishing whatever it likes, once."""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.broker import MosquittoBroker

__all__ = ["event", "rogue_publish"]

PUBACK_WAIT_S = 5.0


def event(kind: str, data: dict[str, Any]) -> bytes:
    """A CloudEvent envelope around ``data``, as the contract frames every message."""
    envelope = {
        "specversion": "1.0",
        "type": kind,
        "source": "urn:rogue",
        "id": "rogue-1",
        "time": "2026-12-02T10:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }
    return json.dumps(envelope).encode()


def rogue_publish(broker: MosquittoBroker, topic: str, payload: bytes, *, retain: bool = False) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="rogue")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(PUBACK_WAIT_S)
    finally:
        client.disconnect()
        client.loop_stop()
