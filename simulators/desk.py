"""The platform's side of the request/response contract, as a store-IT desk or a platform service would speak it:
publish ``dv/{device}/request/<name>`` and wait for the answer on ``dv/{device}/response/<name>``, matched by the
MQTT 5 correlation data (and, on 3.1.1, by the ``id`` in the payload).

    python -m simulators.desk --port 1883 --tenant acme --store s042 --device kiosk-01 health
    python -m simulators.desk ... log_level --params '{"level": "DEBUG", "for_s": 300}'
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.contract.codec import Rejected, parse_event
from edge_agent.contract.requests import (
    T_RESPONSE,
    DeviceRequest,
    DeviceRequestEvent,
    DeviceResponse,
    DeviceResponseEvent,
)
from edge_agent.contract.topics import Topics
from simulators.platform.events import platform_event

DEFAULT_TIMEOUT_S = 30.0
"""A doctor run on a slow card takes seconds; anything past this is a device that is not there."""


class NoAnswer(TimeoutError):
    """The device did not answer in time (offline, or not subscribed yet)."""


class Desk:
    """One MQTT client asking devices; answers are matched to their question, others are ignored."""

    def __init__(self, host: str, port: int, *, protocol: str = "5", client_id: str | None = None) -> None:
        self.mqtt5 = protocol == "5"
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"desk-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv5 if self.mqtt5 else paho.MQTTv311,
        )
        self._client.on_message = self._on_message
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[tuple[DeviceResponse, bytes | None]]]] = {}
        self._subscribed: set[str] = set()

    def start(self) -> Desk:
        self._client.connect(self.host, self.port)
        self._client.loop_start()
        return self

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Desk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ask(
        self,
        topics: Topics,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        payload: bytes | None = None,
    ) -> tuple[DeviceResponse, bytes | None]:
        """The device's answer and the correlation data it carried (None on 3.1.1). ``payload`` sends raw bytes
        instead of a well-formed request (what a broken caller would send); then the answer is matched by topic."""
        request_id = uuid.uuid4().hex
        done: tuple[threading.Event, list[tuple[DeviceResponse, bytes | None]]] = (threading.Event(), [])
        key = request_id if payload is None else f"topic:{topics.response(name)}"
        with self._lock:
            self._waiting[key] = done
        self._subscribe(topics.response(name))
        body = payload if payload is not None else self._request(topics, request_id, params or {})
        props = None
        if self.mqtt5:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = request_id.encode()
        self._client.publish(topics.request(name), body, qos=1, properties=props).wait_for_publish(timeout)
        try:
            if not done[0].wait(timeout):
                raise NoAnswer(f"{topics.device} did not answer {name} within {timeout:.0f}s")
            return done[1][0]
        finally:
            with self._lock:
                self._waiting.pop(key, None)

    def _request(self, topics: Topics, request_id: str, params: dict[str, Any]) -> bytes:
        data = DeviceRequest(id=request_id, params=params)
        event = platform_event(DeviceRequestEvent, topics.tenant, "desk", f"request:{request_id}", data)
        return event.model_dump_json().encode()

    def _subscribe(self, topic: str) -> None:
        if topic in self._subscribed:
            return
        granted = threading.Event()
        self._client.on_subscribe = lambda *_a: granted.set()
        self._client.subscribe(topic, qos=1)
        granted.wait(10)
        self._subscribed.add(topic)

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        try:
            response = parse_event(bytes(msg.payload), DeviceResponseEvent, T_RESPONSE).data
        except Rejected:
            return
        correlation = getattr(msg.properties, "CorrelationData", None) if msg.properties is not None else None
        with self._lock:
            waiter = self._waiting.get(response.id or "") or self._waiting.get(f"topic:{msg.topic}")
        if waiter is not None and not waiter[1]:
            waiter[1].append((response, correlation))
            waiter[0].set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--params", default="{}", help="the request's params as JSON")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    parser.add_argument("name", help="health, doctor, config/get, config/set, restart, log_level")
    args = parser.parse_args(argv)
    with Desk(args.host, args.port, protocol=args.protocol) as desk:
        try:
            response, _ = desk.ask(
                Topics(args.tenant, args.store, args.device), args.name, json.loads(args.params), timeout=args.timeout
            )
        except NoAnswer as exc:
            print(exc, file=sys.stderr)
            return 2
    print(response.model_dump_json(indent=2))
    return 0 if response.status == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
