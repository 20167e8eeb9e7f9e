"""`edge-agent status --check-fence`: does the store broker stop this device from writing platform-only topics?

A device that could publish on its own `acks` topic could confirm ops the platform never applied, and any
client on the store network that can do that can rewrite this device's baskets. The check connects as the
device (same endpoints, TLS and credentials, but the client id `<client_id>-fence-check`, so the daemon's
session is untouched), subscribes to `dv/{device}/acks` and publishes one harmless probe there: QoS 1, not
retained, zero-length, the cleared-retained marker the agent ignores. A retained empty publish would erase the
platform's real ack; the check never sends one.

- refused (an MQTT 5 PUBACK failure, or the probe never comes back): the fence holds;
- accepted (the probe comes back): the broker has no ACL;
- unreachable: no endpoint took the connection (the reason, in the link's words).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.sync.link import LinkSettings, apply_credentials
from edge_agent.sync.link_reasons import Attempt, AttemptTrace, connect_failure

__all__ = ["FENCE_CLIENT_SUFFIX", "PROBE_WAIT_S", "FenceVerdict", "check_fence"]

FENCE_CLIENT_SUFFIX = "-fence-check"
PROBE_WAIT_S = 3.0
"""How long the probe may take to come back (a local broker delivers it in milliseconds)."""
PROBE_PROPERTY = "edge-agent-fence-probe"

Outcome = Literal["refused", "accepted", "unreachable"]

REFUSED = "the broker refuses platform-only topics from this device"
ACCEPTED = (
    "the broker has no ACL: any client on the store network can rewrite this device's baskets; "
    "see README 'Fence the store broker'"
)


@dataclass(frozen=True)
class FenceVerdict:
    outcome: Outcome
    detail: str
    endpoint: str
    client_id: str
    topic: str

    @property
    def exit_code(self) -> int:
        return {"refused": 0, "accepted": 1, "unreachable": 3}[self.outcome]

    def as_dict(self) -> dict[str, Any]:
        """`status --check-fence --json`: the outcome is under "fence"."""
        out = asdict(self)
        return {"fence": out.pop("outcome"), **out, "exit_code": self.exit_code}


class _Probe:
    """One fence-check connection: paho's thread fills these in, the caller waits on the events."""

    def __init__(self, settings: LinkSettings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.mqtt5 = settings.protocol == "5"
        self.nonce = secrets.token_hex(8)
        self.trace = AttemptTrace()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.published = threading.Event()
        self.echoed = threading.Event()
        self.down = threading.Event()
        self.suback: list[Any] = []
        self.puback: Any = None
        self.mid: int | None = None
        self.client = self._client()

    def _client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id + FENCE_CLIENT_SUFFIX,
            protocol=paho.MQTTv5 if self.mqtt5 else paho.MQTTv311,
            clean_session=None if self.mqtt5 else True,
            reconnect_on_failure=False,
        )
        client.connect_timeout = s.connect_timeout_s
        apply_credentials(client, s)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_: self.down.set()
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_log = self._on_log
        return client

    def _on_log(self, _c: Any, _u: Any, level: int, buf: str) -> None:
        if level == paho.MQTT_LOG_ERR and not self.trace.socket_error:
            self.trace.socket_error = buf

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self.trace.refusal = (int(reason.value), str(reason))
            self.down.set()
        else:
            self.connected.set()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[Any], _props: Any) -> None:
        self.suback = list(reasons)
        self.subscribed.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _props: Any) -> None:
        if mid == self.mid:
            self.puback = reason
            self.published.set()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        if msg.topic != self.topic or msg.retain or msg.payload:
            return  # the platform's retained ack, or a live one: never the probe
        if self.mqtt5:
            props = getattr(msg, "properties", None)
            if (PROBE_PROPERTY, self.nonce) not in (getattr(props, "UserProperty", None) or []):
                return
        self.echoed.set()

    def publish_probe(self) -> None:
        props = None
        if self.mqtt5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.UserProperty = [(PROBE_PROPERTY, self.nonce)]
            props.MessageExpiryInterval = int(PROBE_WAIT_S) + 1  # gone before anyone offline could read it
        info = self.client.publish(self.topic, b"", qos=1, retain=False, properties=props)
        self.mid = int(info.mid)


def _wait(event: threading.Event, down: threading.Event, timeout: float) -> bool:
    """True once `event` is set; False when the connection went down or the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if event.wait(0.02):
            return True
        if down.is_set():
            return event.is_set()
    return event.is_set()


def check_fence(settings: LinkSettings, topic: str, *, probe_wait_s: float = PROBE_WAIT_S) -> FenceVerdict:
    """Bounded: per endpoint at most about 2x connect_timeout_s plus 2x probe_wait_s."""
    client_id = settings.client_id + FENCE_CLIENT_SUFFIX
    failures: list[str] = []
    for host, port in settings.endpoints:
        endpoint = f"{host}:{port}"
        named = f"{endpoint}: " if len(settings.endpoints) > 1 else ""
        probe = _Probe(settings, topic)
        tls = settings.tls
        attempt = Attempt(
            host,
            port,
            settings.protocol,
            tls is not None,
            tls.ca_file if tls else None,
            tls.cert_file if tls else None,
            settings.connect_timeout_s,
            username=settings.username,
        )
        try:
            probe.client.connect(host, port, keepalive=max(5, int(settings.connect_timeout_s) * 2))
        except (OSError, ValueError) as exc:
            failures.append(named + connect_failure(exc, probe.trace, attempt))
            continue
        probe.client.loop_start()
        try:
            if not _wait(probe.connected, probe.down, settings.connect_timeout_s):
                gone = ConnectionRefusedError("disconnected before CONNACK")
                timeout = TimeoutError() if not probe.down.is_set() else gone
                failures.append(named + connect_failure(timeout, probe.trace, attempt))
                continue
            verdict = _probe(probe, endpoint, client_id, probe_wait_s)
            if verdict is not None:
                return verdict
            failures.append(f"{endpoint}: the connection dropped during the check")
        finally:
            if probe.client.is_connected():
                probe.client.disconnect()
            probe.client.loop_stop()
    return FenceVerdict("unreachable", "; ".join(failures), "", client_id, topic)


def _probe(probe: _Probe, endpoint: str, client_id: str, wait_s: float) -> FenceVerdict | None:
    topic = probe.topic

    def verdict(outcome: Outcome, detail: str) -> FenceVerdict:
        return FenceVerdict(outcome, detail, endpoint, client_id, topic)

    probe.client.subscribe(topic, qos=1)
    if not _wait(probe.subscribed, probe.down, wait_s):
        return None
    refused = [r for r in probe.suback if r.is_failure]
    if refused:
        return verdict(
            "unreachable",
            f"the broker refuses this device's subscription to its own {topic} ({refused[0]}): "
            "the agent could never hear the platform's confirmations; fix the broker's ACL",
        )
    probe.publish_probe()
    _wait(probe.published, probe.down, wait_s)
    puback = probe.puback
    if puback is not None and puback.is_failure:
        return verdict("refused", f"{REFUSED} (PUBACK 0x{int(puback.value):02X} {puback} on {topic})")
    if _wait(probe.echoed, probe.down, wait_s):
        return verdict("accepted", f"{ACCEPTED} (a probe published on {topic} came back)")
    if probe.down.is_set():  # some brokers drop a client that publishes where it may not
        return verdict("refused", f"{REFUSED} (the broker closed the connection on the probe to {topic})")
    return verdict("refused", f"{REFUSED} (a probe published on {topic} never came back within {wait_s:g}s)")
