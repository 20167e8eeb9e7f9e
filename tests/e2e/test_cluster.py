"""The chain's broker: a real 3-node NATS cluster (simulators/cluster.py), spoken to with real paho over MQTT 3.1.1."""

from __future__ import annotations

import threading

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from simulators.cluster import NatsCluster
from tests.support.world import wait_until

TOPIC = "rt/v1/t1/st/s1/dv/d-1/ops"
FILTER = "rt/v1/+/st/+/dv/+/ops"
MQTT_STREAMS = {"$MQTT_sess", "$MQTT_msgs", "$MQTT_rmsgs"}


class Client:
    """A paho 3.1.1 client that records what it receives and which QoS 1 publishes were acknowledged."""

    def __init__(self, name: str, port: int, subscribe: str | None = None) -> None:
        self.received: list[bytes] = []
        self.acked: set[int] = set()
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self.paho = paho.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=paho.MQTTv311)
        self.paho.on_connect = lambda c, _u, _f, _r, _p: self._connected(c, subscribe)
        self.paho.on_message = lambda _c, _u, m: self._record(bytes(m.payload))
        self.paho.on_publish = lambda _c, _u, mid, _r, _p: self._ack(mid)
        self.paho.connect("127.0.0.1", port, keepalive=10)
        self.paho.loop_start()

    def _connected(self, client: paho.Client, subscribe: str | None) -> None:
        if subscribe is None:
            self.connected.set()
        else:
            client.subscribe(subscribe, qos=1)
            client.on_subscribe = lambda *_a: self.connected.set()

    def _record(self, payload: bytes) -> None:
        with self._lock:
            self.received.append(bytes(payload))

    def _ack(self, mid: int) -> None:
        with self._lock:
            self.acked.add(mid)

    def publish(self, payloads: list[bytes]) -> set[int]:
        return {self.paho.publish(TOPIC, p, qos=1).mid for p in payloads}

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


def test_a_qos1_publish_on_one_node_reaches_a_subscriber_on_another_and_survives_a_node_kill(
    cluster: NatsCluster,
) -> None:
    (_, port_a), (_, port_b), (_, port_c) = cluster.mqtt_endpoints
    sub = Client("sub-b", port_b, subscribe=FILTER)
    pub = Client("pub-a", port_a)
    try:
        wait_until(lambda: sub.connected.is_set() and pub.connected.is_set(), what="both clients connected")
        first = [f"before-{i}".encode() for i in range(20)]
        mids = pub.publish(first)
        wait_until(lambda: mids <= pub.acked, what="every QoS 1 publish acknowledged by node A")
        wait_until(lambda: sorted(sub.received) == sorted(first), what="node B's subscriber got all 20")

        assert cluster.stream_replicas().items() >= {name: 3 for name in MQTT_STREAMS}.items()

        cluster.kill(0)  # node A: the publisher's node and maybe a stream leader
        cluster.wait_ready()
        survivors = {cluster.node_name(1), cluster.node_name(2)}
        wait_until(
            lambda: {cluster.stream_leaders().get(name) for name in MQTT_STREAMS} <= survivors,
            timeout=60,
            what="every MQTT stream led by a surviving node",
        )
        pub.close()
        pub = Client("pub-c", port_c)
        wait_until(lambda: pub.connected.is_set(), what="a publisher connected to node C")
        after = [f"after-{i}".encode() for i in range(20)]
        mids = pub.publish(after)
        wait_until(lambda: mids <= pub.acked, timeout=60, what="every publish acknowledged by node C")
        wait_until(lambda: set(after) <= set(sub.received), timeout=60, what="node B's subscriber got all 20 more")

        cluster.restart(0)
        assert cluster.meta_leader() != ""
    finally:
        sub.close()
        pub.close()


def test_the_cluster_gives_its_endpoints_and_urls_on_private_ports(cluster: NatsCluster) -> None:
    ports = [p for node in cluster.ports for p in (node.client, node.cluster, node.mqtt, node.http)]
    assert len(set(ports)) == 12
    assert not {1883, 4222, 6222, 8222} & set(ports)
    assert cluster.nats_urls == [f"nats://127.0.0.1:{node.client}" for node in cluster.ports]
    assert [port for _, port in cluster.mqtt_endpoints] == [node.mqtt for node in cluster.ports]
