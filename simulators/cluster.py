"""A real 3-node NATS cluster for the chain tests and benches: JetStream and MQTT 3.1.1 on every node, R3 streams.

Like `simulators/broker.py` for Mosquitto, each `NatsCluster` owns its directory: one config, log and JetStream
store per node, and one set of ports per node (client, routes, MQTT, HTTP monitoring) kept for the cluster's whole
life, so clients reconnect to "the same node" after `kill(i)` + `restart(i)`. Never the machine's standard ports.

NATS keeps MQTT sessions, QoS 1 messages and retained messages in JetStream streams (`$MQTT_sess`, `$MQTT_msgs`,
`$MQTT_rmsgs`, created on the first MQTT connect); `mqtt { stream_replicas }` makes them R3, so a node's death
loses none of them. The MQTT topic `a/b/c` is the NATS subject `a.b.c` (uplinks can be consumed natively by a
queue group or a JetStream consumer on `$MQTT_msgs`). "Ready" means what a client needs: a JetStream meta leader
on every node and a real paho 3.1.1 CONNECT accepted on every node's MQTT port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel, ValidationError

from simulators.broker import HOST, free_port
from simulators.processes import StartStop, launch_logged

__all__ = ["MqttEndpoint", "NatsCluster", "NodePorts", "find_nats_server", "mqtt_connects"]

FALLBACK_NATS = Path("/usr/sbin/nats-server")
CLUSTER_NAME = "edge-chain"
# A 3-node cluster elects a meta leader in ~2 s on an idle box; after a SIGKILL the survivors' MQTT needs new
# stream leaders (another few seconds, measured ~5 s on 2 loaded cores). Generous for a loaded CI runner.
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
POLL_INTERVAL_S = 0.1
PROBE_TIMEOUT_S = 5.0
HTTP_TIMEOUT_S = 2.0
# How long a launch retries while a port is still held (TIME_WAIT or a straggler) after kill(i).
REBIND_TIMEOUT_S = 10.0
LOG_TAIL_CHARS = 4_000
MQTT_KEEPALIVE_S = 10


def find_nats_server() -> Path:
    """Locate the server binary; tests fail loudly rather than skip without it (scripts/bootstrap.sh installs it)."""
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    if os.access(FALLBACK_NATS, os.X_OK):
        return FALLBACK_NATS
    raise RuntimeError("nats-server not found on PATH or at /usr/sbin/nats-server; run scripts/bootstrap.sh")


@dataclass(frozen=True, slots=True)
class NodePorts:
    client: int
    cluster: int
    mqtt: int
    http: int


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """One node's MQTT listener, shaped like a broker (host, port) so a fault proxy can stand in front of it."""

    host: str
    port: int


class _MetaCluster(BaseModel):
    leader: str = ""
    cluster_size: int = 0


class _Jsz(BaseModel):
    """The part of the monitoring endpoint's /jsz this simulator reads."""

    meta_cluster: _MetaCluster | None = None


class _StreamConfig(BaseModel):
    num_replicas: int = 1


class _StreamCluster(BaseModel):
    leader: str = ""


class _StreamDetail(BaseModel):
    name: str
    config: _StreamConfig
    cluster: _StreamCluster | None = None


class _AccountDetail(BaseModel):
    stream_detail: list[_StreamDetail] = []


class _JszStreams(BaseModel):
    account_details: list[_AccountDetail] = []


class NatsCluster(StartStop):
    """`nodes` nats-server processes routed to each other; node i is `n{i}` with its own directory and ports."""

    def __init__(self, base_dir: Path, nodes: int = 3, *, stream_replicas: int | None = None) -> None:
        # No I/O here, so clusters can be declared in fixtures and started only when needed.
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self._dir = Path(base_dir)
        self._n = nodes
        self._replicas = stream_replicas if stream_replicas is not None else nodes
        self._ports: list[NodePorts] = []
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * nodes

    # -- properties -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._n

    @property
    def host(self) -> str:
        return HOST

    @property
    def ports(self) -> list[NodePorts]:
        if not self._ports:
            raise RuntimeError("the cluster has no ports until start() is called")
        return list(self._ports)

    @property
    def mqtt_endpoints(self) -> list[tuple[str, int]]:
        """(host, port) of every node's MQTT listener, in node order: an agent's `[[mqtt.endpoints]]`."""
        return [(HOST, p.mqtt) for p in self.ports]

    def mqtt_endpoint(self, i: int) -> MqttEndpoint:
        return MqttEndpoint(HOST, self.ports[i].mqtt)

    @property
    def nats_urls(self) -> list[str]:
        """nats:// URL of every node's client listener, for NATS and JetStream clients (the platform's workers)."""
        return [f"nats://{HOST}:{p.client}" for p in self.ports]

    def node_name(self, i: int) -> str:
        return f"n{i}"

    def node_dir(self, i: int) -> Path:
        return self._dir / self.node_name(i)

    def running(self, i: int) -> bool:
        proc = self._procs[i]
        return proc is not None and proc.poll() is None

    def pid(self, i: int) -> int | None:
        proc = self._procs[i]
        return proc.pid if proc is not None and proc.poll() is None else None

    def log_text(self, i: int) -> str:
        """Node i's whole log across restarts, including startup errors."""
        try:
            return (self.node_dir(i) / "nats.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout: float = READY_TIMEOUT_S) -> Self:
        """Start every node (on fresh free ports the first time) and wait until the cluster is ready."""
        binary = find_nats_server()
        if any(self.running(i) for i in range(self._n)):
            raise RuntimeError("cluster already running")
        deadline = time.monotonic() + REBIND_TIMEOUT_S
        while True:
            fresh = not self._ports
            if fresh:
                # Until the cluster has run once nobody depends on the numbers: on a lost race, pick others.
                self._ports = [NodePorts(free_port(), free_port(), free_port(), free_port()) for _ in range(self._n)]
            taken = [i for i in range(self._n) if not self._launch(binary, i)]
            if not taken:
                break
            self._kill_all()
            if not fresh and time.monotonic() > deadline:
                self._raise(taken[0], "could not bind its ports")
            if not fresh:
                time.sleep(POLL_INTERVAL_S * 5)
            else:
                self._ports = []
        self.wait_ready(timeout=timeout)
        return self

    def stop(self) -> None:
        """Graceful stop of every node (SIGTERM lets JetStream flush its stores)."""
        for i in range(self._n):
            self._signal(i, signal.SIGTERM)
        for i in range(self._n):
            self._reap(i)

    def stop_node(self, i: int) -> None:
        self._signal(i, signal.SIGTERM)
        self._reap(i)

    def kill(self, i: int) -> None:
        """Crash node i: SIGKILL, whatever it had not written is gone; its clients see their TCP reset."""
        self._signal(i, signal.SIGKILL)
        self._reap(i)

    def restart(self, i: int, timeout: float = READY_TIMEOUT_S) -> None:
        """Start node i again on its own ports and store (after kill(i) or stop_node(i)) and wait until ready."""
        if self.running(i):
            self.stop_node(i)
        binary = find_nats_server()
        deadline = time.monotonic() + REBIND_TIMEOUT_S
        while not self._launch(binary, i):
            if time.monotonic() > deadline:
                self._raise(i, "could not bind its ports")
            time.sleep(POLL_INTERVAL_S * 5)
        self.wait_ready(timeout=timeout)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until every running node sees a JetStream meta leader and accepts an MQTT 3.1.1 CONNECT."""
        deadline = time.monotonic() + timeout
        for i in range(self._n):
            if not self.running(i):
                continue
            while not self._meta_leader(i):
                self._check_alive(i)
                if time.monotonic() > deadline:
                    self._raise(i, f"has no JetStream meta leader after {timeout:g}s")
                time.sleep(POLL_INTERVAL_S)
            while not mqtt_connects(HOST, self._ports[i].mqtt):
                self._check_alive(i)
                if time.monotonic() > deadline:
                    self._raise(i, f"refuses MQTT 3.1.1 CONNECTs after {timeout:g}s")
                time.sleep(POLL_INTERVAL_S)

    def meta_leader(self) -> str:
        """The JetStream meta leader's server name as the first running node sees it ("" if none)."""
        for i in range(self._n):
            if self.running(i):
                return self._meta_leader(i)
        return ""

    def stream_replicas(self) -> dict[str, int]:
        """Replica count of every JetStream stream (e.g. `$MQTT_msgs`), as the first running node reports it."""
        return {s.name: s.config.num_replicas for s in self._streams()}

    def stream_leaders(self) -> dict[str, str]:
        """Each stream's leader (a node name, "" while none): a killed leader stalls its stream until an election."""
        return {s.name: s.cluster.leader if s.cluster else "" for s in self._streams()}

    def _streams(self) -> list[_StreamDetail]:
        for i in range(self._n):
            if self.running(i):
                raw = self._http(i, "/jsz?streams=true&config=true")
                if raw is None:
                    continue
                detail = _JszStreams.model_validate_json(raw)
                return [s for a in detail.account_details for s in a.stream_detail]
        return []

    # -- internals --------------------------------------------------------------------------

    def _conf(self, i: int) -> str:
        me = self._ports[i]
        store = self.node_dir(i) / "jetstream"
        routes = ", ".join(f"nats-route://{HOST}:{p.cluster}" for j, p in enumerate(self._ports) if j != i)
        # JSON strings are valid NATS config strings, and quote paths safely.
        lines = [
            f"server_name: {self.node_name(i)}",
            f"listen: {HOST}:{me.client}",
            f"http: {HOST}:{me.http}",
            # The default global account gets JetStream, which NATS' MQTT needs for sessions and QoS 1.
            f"jetstream {{ store_dir: {json.dumps(str(store))} }}",
            f"mqtt {{ listen: {HOST}:{me.mqtt}, stream_replicas: {self._replicas} }}",
        ]
        if self._n > 1:
            lines.append(f"cluster {{ name: {CLUSTER_NAME}, listen: {HOST}:{me.cluster}, routes: [{routes}] }}")
        return "\n".join(lines) + "\n"

    def _launch(self, binary: Path, i: int) -> bool:
        """Run node i; True once its client port accepts TCP, False if one of its ports was taken."""
        node_dir = self.node_dir(i)
        node_dir.mkdir(parents=True, exist_ok=True)
        conf = node_dir / "nats.conf"
        conf.write_text(self._conf(i))
        launched = launch_logged(
            [str(binary), "-c", str(conf)],
            cwd=node_dir,
            log_path=node_dir / "nats.log",
            ready=lambda: self._http(i, "/varz") is not None,
            timeout=READY_TIMEOUT_S,
            poll_s=POLL_INTERVAL_S,
            fail=lambda what: self._raise(i, what),
        )
        self._procs[i] = launched
        return launched is not None

    def _meta_leader(self, i: int) -> str:
        raw = self._http(i, "/jsz")
        if raw is None:
            return ""
        try:
            meta = _Jsz.model_validate_json(raw).meta_cluster
        except ValidationError:
            return ""
        if meta is None:
            return self.node_name(i) if self._n == 1 else ""  # a single node has no meta cluster
        return meta.leader

    def _http(self, i: int, path: str) -> bytes | None:
        url = f"http://{HOST}:{self._ports[i].http}{path}"
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:
                body: bytes = resp.read()
                return body
        except OSError:
            return None

    def _signal(self, i: int, sig: signal.Signals) -> None:
        proc = self._procs[i]
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def _reap(self, i: int) -> None:
        proc, self._procs[i] = self._procs[i], None
        if proc is None:
            return
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"nats node {self.node_name(i)} ignored its stop signal; killed it") from None

    def _kill_all(self) -> None:
        for i in range(self._n):
            self.kill(i)

    def _check_alive(self, i: int) -> None:
        if not self.running(i):
            self._raise(i, "died")

    def _raise(self, i: int, what: str) -> NoReturn:
        tail = self.log_text(i)[-LOG_TAIL_CHARS:]
        raise RuntimeError(f"nats node {self.node_name(i)} ({self.node_dir(i)}) {what}; log tail:\n{tail}")


def mqtt_connects(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """One real MQTT 3.1.1 CONNECT with a clean session: True on CONNACK rc 0 (NATS answers only once its MQTT
    streams have leaders), False on refusal, reset or timeout."""
    accepted = threading.Event()
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:12]}", protocol=paho.MQTTv311
    )

    def on_connect(_c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if not getattr(reason, "is_failure", True):
            accepted.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=MQTT_KEEPALIVE_S)
    except OSError:
        return False
    client.loop_start()
    try:
        return accepted.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
