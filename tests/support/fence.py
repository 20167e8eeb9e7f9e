"""The store broker's fence for tests: a PKI made by scripts/store-pki.sh, and MQTT clients that present
one of its identities (or none, or a stranger's) to a FencedBroker and record exactly what the broker answers."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.world import REPO, wait_until

__all__ = ["FenceClient", "Identity", "StorePki", "make_store_pki", "store_pki"]

STORE_PKI = REPO / "scripts" / "store-pki.sh"
WAIT_S = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    """A client certificate and its key (or neither: a client that presents no certificate)."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def as_tls(self) -> tuple[str, str, str]:
        assert self.cert is not None and self.key is not None
        return str(self.ca), str(self.cert), str(self.key)

    def as_agent_tls(self) -> dict[str, str]:
        """make_config(..., tls=...): the agent's [mqtt.tls]."""
        ca, cert, key = self.as_tls()
        return {"ca_file": ca, "cert_file": cert, "key_file": key}


@dataclass(frozen=True)
class StorePki:
    """What scripts/store-pki.sh wrote into `root` (broker files are copied by FencedBroker)."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.crt"

    @property
    def platform(self) -> Identity:
        return Identity(self.ca, self.root / "platform.crt", self.root / "platform.key")

    def device(self, device_id: str) -> Identity:
        return Identity(self.ca, self.root / "devices" / f"{device_id}.crt", self.root / "devices" / f"{device_id}.key")


def store_pki(root: Path, *args: str) -> str:
    """Run scripts/store-pki.sh non-interactively; its output (what it wrote) on success."""
    done = subprocess.run(
        ["bash", str(STORE_PKI), str(root), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"store-pki.sh {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def make_store_pki(
    root: Path, devices: tuple[str, ...], hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> StorePki:
    store_pki(root, "ca")
    store_pki(root, "broker", *hosts)
    for device_id in devices:
        store_pki(root, "device", device_id)
    store_pki(root, "platform")
    return StorePki(root)


@dataclass
class _Seen:
    connack: ReasonCode | None = None
    refused: str | None = None  # why the connection ended before a CONNACK (TLS alert, reset, ...)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)


class FenceClient:
    """A paho client (MQTT 5 or 3.1.1) that waits for the broker's answer to each packet and keeps it."""

    def __init__(self, host: str, port: int, identity: Identity | None, *, protocol: str = "5", name: str) -> None:
        self.host, self.port, self.protocol = host, port, protocol
        self._lock = threading.Lock()
        self._seen = _Seen()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fence-{name}",
            protocol=paho.MQTTv5 if protocol == "5" else paho.MQTTv311,
        )
        if identity is not None:
            self._client.tls_set(
                ca_certs=str(identity.ca),
                certfile=None if identity.cert is None else str(identity.cert),
                keyfile=None if identity.key is None else str(identity.key),
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    # --- connecting -------------------------------------------------------------------------------------
    def connect(self, username: str | None = None) -> str:
        """'connected', or why not: the broker's CONNACK reason, or the TLS/socket error that ended it."""
        if username is not None:
            self._client.username_pw_set(username)
        try:
            self._client.connect(self.host, self.port, keepalive=10)
        except OSError as exc:  # ssl.SSLError too: the handshake failed inside connect() (TLS 1.2 alerts early)
            return f"refused: {type(exc).__name__}: {exc}"
        self._client.loop_start()
        wait_until(
            lambda: self._seen.connack is not None or self._seen.refused is not None,
            WAIT_S,
            "the broker to answer CONNECT or close the connection",
        )
        if self._seen.connack is not None and not self._seen.connack.is_failure:
            return "connected"
        return f"refused: {self._seen.connack or self._seen.refused}"

    def connect_or_fail(self, username: str | None = None) -> FenceClient:
        outcome = self.connect(username)
        assert outcome == "connected", outcome
        return self

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # --- packets ------------------------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> ReasonCode:
        """QoS 1; the PUBACK's reason code (MQTT 3.1.1 has none: paho reports Success for every PUBACK)."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        wait_until(lambda: self._ack(self._seen.pubacks, info.mid) is not None, WAIT_S, f"PUBACK for {topic}")
        code = self._ack(self._seen.pubacks, info.mid)
        assert code is not None
        return code

    def subscribe(self, topic_filter: str) -> list[ReasonCode]:
        result, mid = self._client.subscribe(topic_filter, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS, result
        assert mid is not None
        wait_until(lambda: self._ack(self._seen.subacks, mid) is not None, WAIT_S, f"SUBACK for {topic_filter}")
        codes = self._ack(self._seen.subacks, mid)
        assert codes is not None
        return codes

    def received(self, predicate: Callable[[str], bool] = lambda _t: True) -> list[tuple[str, bytes]]:
        with self._lock:
            return [(t, p) for t, p in self._seen.messages if predicate(t)]

    def wait_for(self, topic: str, payload: bytes, what: str) -> None:
        wait_until(lambda: (topic, payload) in self.received(), WAIT_S, what)

    def _ack(self, table: dict[int, T], mid: int) -> T | None:
        with self._lock:
            return table.get(mid)

    # --- callbacks (paho's thread) ------------------------------------------------------------------------
    def _on_connect(self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        with self._lock:
            self._seen.connack = reason
        if reason.is_failure:
            self._client.disconnect()

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        with self._lock:
            self._seen.refused = self._seen.refused or "connection failed"

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        with self._lock:
            if self._seen.connack is None:
                self._seen.refused = f"closed before CONNACK: {reason}"

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._lock:
            self._seen.pubacks[mid] = reason

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        with self._lock:
            self._seen.subacks[mid] = list(reasons)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self._seen.messages.append((message.topic, bytes(message.payload)))
