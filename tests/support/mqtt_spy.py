"""A subscriber to everything on a test broker: what the agent published, to assert on (and to prove absent).

The spy is the wire recorder (:mod:`tests.support.wire`, one paho subscriber for every test) seen as topics and
JSON payloads; it starts once the broker has granted its subscription, so nothing published after is missed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.broker import MosquittoBroker
from tests.support.wire import WireRecorder

__all__ = ["Spy", "spy"]


class Spy:
    """Everything published on the broker, by topic (retained messages included)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.recorder = WireRecorder(broker.host, broker.port, client_id="spy").start()

    @property
    def messages(self) -> list[tuple[str, bytes]]:
        """(topic, payload) in arrival order (a copy)."""
        return [(m.topic, m.payload) for m in self.recorder.messages()]

    def on(self, topic: str) -> list[dict[str, Any]]:
        """The JSON payloads published on one topic (retained clears left out)."""
        return [json.loads(m.payload) for m in self.recorder.on(topic) if m.payload]

    def everything(self) -> bytes:
        return b"\n".join(t.encode() + b" " + p for t, p in self.messages)

    def close(self) -> None:
        self.recorder.close()


@pytest.fixture
def spy(broker: MosquittoBroker) -> Iterator[Spy]:
    s = Spy(broker)
    yield s
    s.close()
