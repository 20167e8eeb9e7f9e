"""The central simulator's one MQTT client: a persistent session (ops published while the platform is away are
queued by the broker, up to its limits -- beyond them they are dropped, which the devices' ack timeouts repair),
manual acks (PUBACK only after the transaction committed), optional mTLS as the ``platform`` identity."""

from __future__ import annotations

import socket
import ssl

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.contract.topics import (
    PLATFORM_ERASED_FILTER,
    PLATFORM_EVENTS_FILTER,
    PLATFORM_OPS_FILTER,
    PLATFORM_SYNC_FILTER,
    SHARED_INGEST_GROUP,
)
from simulators.central.const import KEEPALIVE_S, RECONNECT_DELAY_S


def make_client(client_id: str, protocol: str, tls: tuple[str, str, str] | None) -> paho.Client:
    """The client, not yet connected; ``tls`` is (ca, cert, key)."""
    mqtt5 = protocol == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311,
        clean_session=None if mqtt5 else False,
    )
    client.manual_ack_set(True)
    if tls is not None:
        ca, cert, key = tls
        client.tls_set(
            ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT
        )
    client.suppress_exceptions = True
    client.reconnect_delay_set(*RECONNECT_DELAY_S)
    return client


def connect(client: paho.Client, host: str, port: int, protocol: str, session_expiry_s: int) -> None:
    """Connect (resuming the broker session) and start paho's network thread."""
    if protocol == "5":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        client.connect(host, port, keepalive=KEEPALIVE_S, clean_start=False, properties=props)
    else:  # 3.1.1: clean_session=False was set on the client
        client.connect(host, port, keepalive=KEEPALIVE_S)
    sock = client.socket()
    if isinstance(sock, socket.socket):  # see edge_agent.sync.link._disable_nagle
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.loop_start()


def subscriptions(shared: bool) -> list[tuple[str, int]]:
    """Every device's ops, sync requests and events (shared among instances when ``shared``), and erasure
    confirmations (every instance hears them)."""
    prefix = f"$share/{SHARED_INGEST_GROUP}/" if shared else ""
    return [
        (prefix + PLATFORM_OPS_FILTER, 1),
        (prefix + PLATFORM_SYNC_FILTER, 1),
        (PLATFORM_ERASED_FILTER, 1),
        (prefix + PLATFORM_EVENTS_FILTER, 1),
    ]
