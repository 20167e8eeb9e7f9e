"""Everything published on a test broker as an MQTT 5 subscriber receives it: topic, payload, the retain flag as
the publisher set it, and the user properties that ride beside the payload (the spy keeps topic and payload only).

Subscribed to ``#`` with retain-as-published, so a live retained publish (a view, a retained clear) is recorded with
``retain=True`` instead of the flag a broker clears on forwarding to an existing subscription.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

__all__ = ["WireMessage", "WireRecorder"]


@dataclass(frozen=True, slots=True)
class WireMessage:
    topic: str
    payload: bytes
    retain: bool
    user_properties: tuple[tuple[str, str], ...]

    def user_property(self, name: str) -> list[str]:
        """Every value of one user property, in the order sent (MQTT 5 allows a name more than once)."""
        return [v for k, v in self.user_properties if k == name]


class WireRecorder:
    """A paho MQTT 5 client subscribed to everything; ``start`` returns once the broker granted the subscription."""

    def __init__(self, host: str, port: int, client_id: str = "wire-recorder") -> None:
        self.host, self.port = host, port
        self._messages: list[WireMessage] = []
        self._lock = threading.Lock()
        self._granted = threading.Event()
        self._refused: list[str] = []
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def start(self, timeout: float = 10.0) -> WireRecorder:
        self._client.connect(self.host, self.port)
        self._client.loop_start()
        if not self._granted.wait(timeout) or self._refused:
            self.close()
            raise RuntimeError(f"the recorder's subscription to # was not granted: {self._refused or 'no SUBACK'}")
        return self

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> WireRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def messages(self) -> list[WireMessage]:
        """What has arrived so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._messages)

    def on(self, topic: str) -> list[WireMessage]:
        return [m for m in self.messages() if m.topic == topic]

    def _on_connect(self, client: paho.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            self._refused.append(f"CONNACK {reason}")
            self._granted.set()
            return
        client.subscribe("#", options=SubscribeOptions(qos=1, retainAsPublished=True))

    def _on_subscribe(self, _c: paho.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object) -> None:
        self._refused.extend(f"SUBACK {r}" for r in reasons if r.is_failure)
        self._granted.set()

    def _on_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        props: Any = message.properties
        pairs = getattr(props, "UserProperty", None) or []
        recorded = WireMessage(
            topic=message.topic,
            payload=bytes(message.payload),
            retain=bool(message.retain),
            user_properties=tuple((str(k), str(v)) for k, v in pairs),
        )
        with self._lock:
            self._messages.append(recorded)
