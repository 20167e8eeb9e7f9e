"""A subscriber to everything on a test broker: what the agent published, to assert on (and to prove absent)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.broker import MosquittoBroker

__all__ = ["Spy", "spy"]


class Spy:
    """Everything published on the broker, by topic (retained messages included)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="spy")
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.subscribe("#", qos=1)
        self._client.loop_start()

    def _on_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for t, p in self.messages if t == topic and p]

    def everything(self) -> bytes:
        with self._lock:
            return b"\n".join(t.encode() + b" " + p for t, p in self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def spy(broker: MosquittoBroker) -> Iterator[Spy]:
    s = Spy(broker)
    yield s
    s.close()
