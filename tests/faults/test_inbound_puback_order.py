"""A message the platform sent is PUBACKed only after its listener ran: a device killed while it handles one
message gets that one (and every later one read with it) again from its persistent session.

Several PUBLISHes read in one ``loop_read`` (paho reads as many packets as it has messages in flight) must not
have their PUBACKs written before their listeners: the broker would drop them from the session, and a kill -9
then loses them (an erasure request, a watermark). The crash is a write shutdown of the device's socket from
inside the listener: what the kernel already took still reaches the broker, as after a kill -9, nothing more.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.sync.link import LinkSettings, MqttLink
from simulators.broker import MosquittoBroker

CLIENT_ID = "dv-puback-order"
TOPIC_IN = "t/in"


class _Listener:
    def __init__(self, answer_first: bool) -> None:
        self.answer_first = answer_first
        """Message 1's handling publishes (an answer, a scan's op), which writes what paho has queued."""
        self.link: MqttLink | None = None
        self.sockets: list[socket.socket] = []
        """Every TCP socket opened since the test started; the device's link opens the first."""
        self.up = asyncio.Event()
        self.probe = asyncio.Event()
        self.crashed = asyncio.Event()
        self.heard: list[bytes] = []

    def link_up(self, receive_maximum: int, session_present: bool) -> None:
        self.up.set()

    def link_down(self, reason: str) -> None:
        pass

    def published(self, mid: int, ok: bool, reason: str) -> None:
        pass

    def message(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        if payload == b"probe":
            self.probe.set()
            return
        if self.crashed.is_set():
            return
        self.heard.append(payload)
        if payload == b"1" and self.answer_first:
            assert self.link is not None and self.link.publish("t/answer", b"a") is not None
        if payload == b"2":  # the device dies while it handles message 2
            self.sockets[0].shutdown(socket.SHUT_WR)
            self.crashed.set()


def _publisher(broker: MosquittoBroker) -> paho.Client:
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="platform", protocol=paho.MQTTv5)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    return pub


def _redelivered(broker: MosquittoBroker) -> list[bytes]:
    """The device's session taken over after the crash: what the broker still holds for it (unPUBACKed)."""
    got: list[bytes] = []
    done = threading.Event()

    def on_message(_c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        if msg.payload == b"end":
            done.set()
        elif msg.payload != b"probe":
            got.append(bytes(msg.payload))

    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 600
    heir = paho.Client(CallbackAPIVersion.VERSION2, client_id=CLIENT_ID, protocol=paho.MQTTv5)
    heir.on_message = on_message
    heir.connect(broker.host, broker.port, clean_start=False, properties=props)
    heir.loop_start()
    pub = _publisher(broker)
    pub.publish(TOPIC_IN, b"end", qos=1).wait_for_publish()  # queued behind whatever the session holds
    assert done.wait(30), "the session's messages never came"
    heir.loop_stop()
    pub.loop_stop()
    return got


@pytest.mark.parametrize("answer_first", [False, True], ids=["quiet", "message-1-publishes"])
def test_messages_read_together_are_pubacked_only_after_their_listeners(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, answer_first: bool
) -> None:
    listener = _Listener(answer_first)
    connect = socket.create_connection

    def recorded(*args: Any, **kwargs: Any) -> socket.socket:
        sock = connect(*args, **kwargs)
        listener.sockets.append(sock)
        return sock

    monkeypatch.setattr(socket, "create_connection", recorded)

    async def device() -> list[bytes]:
        link = MqttLink(LinkSettings([(broker.host, broker.port)], CLIENT_ID), listener)
        listener.link = link
        run = asyncio.create_task(link.run())
        await listener.up.wait()
        assert link.subscribe([TOPIC_IN])
        pub = _publisher(broker)
        try:
            while not listener.probe.is_set():  # the subscription is granted once a probe comes through
                pub.publish(TOPIC_IN, b"probe", qos=1).wait_for_publish()
                await asyncio.sleep(0.05)
            # The loop is held while the platform's three messages reach the device's socket; then the device
            # publishes ops of its own, so paho's next read takes several packets at once.
            for n in (b"1", b"2", b"3"):
                pub.publish(TOPIC_IN, n, qos=1).wait_for_publish()
            for _ in range(5):
                assert link.publish("t/out", b"op") is not None
            await listener.crashed.wait()
        finally:
            pub.loop_stop()
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
        return listener.heard

    heard = asyncio.run(device())
    assert heard == [b"1", b"2"]
    again = _redelivered(broker)
    assert b"2" in again and b"3" in again, f"handled up to 2 before the crash, the session gave back {again}"
