"""The one way out to MQTT: every message the agent publishes is a CloudEvent built here, and every PUBLISH
mirrors its ``type`` and ``id`` as the MQTT 5 user properties ``ce_type`` and ``ce_id`` (3.1.1 carries the same
payload without them). The outbox pump hands over its pre-encoded op batches through :meth:`publish_encoded`.

The outlet also remembers the latest retained message of every topic (a view, the status, a clear not yet sent):
after a reconnect :meth:`republish_retained` sends again each one not already refreshed on the new connection. A
broker that restarted without persistence has forgotten them (Zigbee2MQTT users saw stale state for exactly this
reason, fleet note §0.2), and a view that changed while the uplink was down was never sent at all."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from edge_agent.contract.base import CloudEvent, utcnow
from edge_agent.sync.link import MqttLink

Tap = Callable[[str, bytes], None]
"""Sees every retained publish (topic, payload; empty for a clear) before the link: a local screen shows the same
view models, uplink or not."""


@dataclass(frozen=True)
class Outlet:
    link: MqttLink
    source: str
    device: str
    taps: list[Tap] = field(default_factory=list)
    _retained: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    """topic -> (payload, ce_type, ce_id) of the latest retained message; an empty payload is a pending clear."""
    _fresh: set[str] = field(default_factory=set)
    """Retained topics already published on the current connection."""

    def publish(
        self,
        topic: str,
        envelope: type[CloudEvent[Any]],
        data: BaseModel,
        *,
        event_id: str | None = None,
        retain: bool = False,
        subject: str | None = None,
        correlation: bytes | None = None,
    ) -> int | None:
        """QoS 1; the mid, or None while offline (the caller keeps what it must resend). ``correlation``: the MQTT 5
        correlation data of the request this answers."""
        event = self.event(envelope, data, event_id, subject)
        return self.publish_encoded(topic, encode(event), event.type, event.id, retain=retain, correlation=correlation)

    def event(
        self, envelope: type[CloudEvent[Any]], data: BaseModel, event_id: str | None = None, subject: str | None = None
    ) -> CloudEvent[Any]:
        """This device's CloudEvent around ``data`` (each envelope names its own type)."""
        fields: dict[str, Any] = {"source": self.source, "id": event_id or f"{self.device}:{uuid.uuid4()}"}
        return envelope(**fields, time=utcnow(), subject=subject, data=data)

    def publish_encoded(
        self,
        topic: str,
        payload: bytes,
        ce_type: str,
        ce_id: str,
        *,
        retain: bool = False,
        correlation: bytes | None = None,
    ) -> int | None:
        if retain:
            self._tap(topic, payload)
            self._retained[topic] = (payload, ce_type, ce_id)
        mid = self.link.publish(
            topic,
            payload,
            retain=retain,
            user_properties=(("ce_type", ce_type), ("ce_id", ce_id)),
            correlation=correlation,
        )
        if retain and mid is not None:
            self._fresh.add(topic)
        return mid

    def clear(self, topic: str) -> int | None:
        """Clear a retained message (an empty retained payload: no CloudEvent, nothing to mirror). A clear the
        broker has been handed is forgotten; one made while offline waits for :meth:`republish_retained`."""
        self._tap(topic, b"")
        mid = self.link.publish(topic, b"", retain=True)
        if mid is None:
            self._retained[topic] = (b"", "", "")
        else:
            self._retained.pop(topic, None)
        return mid

    def connection_started(self) -> None:
        """A new connection: nothing retained has been published on it yet."""
        self._fresh.clear()

    def republish_retained(self) -> int:
        """Send again every remembered retained message not yet refreshed on this connection; how many were sent."""
        sent = 0
        for topic, (payload, ce_type, ce_id) in list(self._retained.items()):
            if topic in self._fresh:
                continue
            if not payload:
                mid = self.clear(topic)
            else:
                props = (("ce_type", ce_type), ("ce_id", ce_id))
                mid = self.link.publish(topic, payload, retain=True, user_properties=props)
                if mid is not None:
                    self._fresh.add(topic)
            sent += mid is not None
        return sent

    def _tap(self, topic: str, payload: bytes) -> None:
        for tap in self.taps:
            tap(topic, payload)

    def will(self, envelope: type[CloudEvent[Any]], data: BaseModel, event_id: str) -> bytes:
        """The last will's payload, built like every other message (the broker publishes it, not us)."""
        return encode(self.event(envelope, data, event_id))


def encode(event: CloudEvent[Any]) -> bytes:
    """Nulls included: a required nullable field stays present on the wire."""
    return event.model_dump_json().encode()
