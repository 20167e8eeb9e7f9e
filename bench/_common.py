"""Shared pieces of the sync benches: raw paho ceilings, a central simulator process, markdown output.

Not a bench itself (``make bench`` runs only ``bench/bench_*.py``). Every ceiling here is measured against
the same Mosquitto the bench's own figure uses, in the same run, so the ratio survives a busy machine.
Run directly (``python bench/_common.py [--smoke]``) it checks its own pieces: both raw ceilings on a fresh
Mosquitto and the central simulator as a process, printed as a table (``make test`` runs it with --smoke).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run from a checkout without installing

import _cpu_quota as cpu_quota  # noqa: E402
import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge_agent import const  # noqa: E402
from edge_agent.config import AgentConfig  # noqa: E402
from edge_agent.contract.cart import OpsBatch  # noqa: E402
from edge_agent.store.device import DeviceStore, Recorded  # noqa: E402
from simulators.central import CentralPlatform  # noqa: E402
from tests.support.world import InProcessAgent, make_config  # noqa: E402

# The agent's paho logger has no handler in a bench: keep teardown chatter ("Client is not connected") quiet.
logging.getLogger("paho").setLevel(logging.CRITICAL)

BROKER_NODELAY_OPTION = "set_tcp_nodelay true"
"""mosquitto.conf(5): disable Nagle on the broker's client sockets (off by default in Mosquitto 2.0)."""

RAW_PAYLOAD_BYTES = 300
"""The size the sync note's raw paho figures use (sync note §2), close to one op's JSON."""
CONNECT_WAIT_S = 10.0
PUBACK_WAIT_S = 300.0
RAW_OUTSTANDING = 20_000
"""Most messages handed to paho and not yet PUBACKed (paho's mids are 16-bit: see raw_publish_rate)."""
"""Bounded waits only (a stuck run ends with an error, never hangs); far above any expected figure."""


# --- output -------------------------------------------------------------------------------------------------
def process_write_bytes() -> int | None:
    """What this process sent to storage so far (/proc/self/io ``write_bytes``: the WAL, the checkpoints); None
    where the file is unreadable."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(ours: float, raw: float) -> str:
    return f"{ours / raw:.2f}x" if raw else "n/a"


def machine_line() -> str:
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load average n/a"
    return (
        f"{os.cpu_count()} CPUs {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, paho-mqtt {version('paho-mqtt')}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, {load}"
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(samples_s: Sequence[float]) -> tuple[float, float, float, float]:
    """(p50, p99, max, mean) in milliseconds."""
    ms = [s * 1000 for s in samples_s]
    return percentile(ms, 50), percentile(ms, 99), max(ms), statistics.fmean(ms)


def fmt_ms(samples_s: Sequence[float], digits: int = 2) -> list[str]:
    """p50, p99, max and mean of seconds, as milliseconds for a table row."""
    return [f"{v:.{digits}f}" for v in summary_ms(samples_s)]


def mosquitto_version() -> str:
    from tests.support.broker import find_mosquitto

    try:
        out = subprocess.run([str(find_mosquitto()), "-h"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "Mosquitto (version unknown)"
    first = out.splitlines()[0] if out else ""
    return first.replace("mosquitto version", "Mosquitto").strip() or "Mosquitto (version unknown)"


# --- raw paho ceilings ----------------------------------------------------------------------------------
def _client(client_id: str, protocol: int = paho.MQTTv5) -> paho.Client:
    return paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)


def _connect(client: paho.Client, host: str, port: int) -> None:
    up = threading.Event()
    client.on_connect = lambda *_a: up.set()
    client.connect(host, port, keepalive=30)
    client.loop_start()
    if not up.wait(CONNECT_WAIT_S):
        raise RuntimeError(f"raw paho client could not connect to {host}:{port}")


@dataclass(frozen=True)
class RawPublish:
    messages: int
    payload_bytes: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def raw_publish_rate(
    host: str, port: int, n: int, payload_bytes: int = RAW_PAYLOAD_BYTES, protocol: int = paho.MQTTv5
) -> RawPublish:
    """One paho client, loop_start, publish all n at QoS 1, wait for every PUBACK (counted in on_publish).

    paho's own in-flight window (20) applies; never wait_for_publish per message. At most RAW_OUTSTANDING
    messages are handed to paho and not yet acknowledged: paho keys its queue by the 16-bit MQTT packet id,
    so with more than 65,535 queued, new messages silently overwrite old ones (100,000 published at once
    gave 65,605 PUBACKs and no error). The cap still keeps paho's queue thousands deep, so it never idles.
    ``protocol``: paho.MQTTv311 for a broker without MQTT 5 (NATS).
    """
    client = _client(f"bench-raw-pub-{uuid.uuid4().hex[:8]}", protocol)
    _connect(client, host, port)
    acked = 0
    progress = threading.Condition()

    def on_publish(*_a: Any) -> None:
        nonlocal acked
        with progress:
            acked += 1
            progress.notify_all()

    client.on_publish = on_publish
    payload = b"x" * payload_bytes
    topic = f"bench/raw/{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    for i in range(n):
        if i - acked >= RAW_OUTSTANDING:
            with progress:
                if not progress.wait_for(lambda i=i: i - acked < RAW_OUTSTANDING, PUBACK_WAIT_S):
                    raise RuntimeError(f"raw publish: stuck at {acked}/{n} PUBACKs")
        client.publish(topic, payload, qos=1)
    with progress:
        if not progress.wait_for(lambda: acked >= n, PUBACK_WAIT_S):
            raise RuntimeError(f"raw publish: only {acked}/{n} PUBACKs after {PUBACK_WAIT_S}s")
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return RawPublish(n, payload_bytes, elapsed)


def raw_round_trips(host: str, port: int, n: int, payload_bytes: int = RAW_PAYLOAD_BYTES) -> list[float]:
    """Sequential QoS 1 publish from one client to another client's QoS 1 subscription: seconds to on_message."""
    sub = _client(f"bench-raw-sub-{uuid.uuid4().hex[:8]}")
    pub = _client(f"bench-raw-pub-{uuid.uuid4().hex[:8]}")
    topic = f"bench/rtt/{uuid.uuid4().hex[:8]}"
    arrived = threading.Event()
    arrived_at = 0.0
    subscribed = threading.Event()

    def on_message(*_a: Any) -> None:
        nonlocal arrived_at
        arrived_at = time.perf_counter()
        arrived.set()

    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    _connect(sub, host, port)
    sub.subscribe(topic, qos=1)
    if not subscribed.wait(CONNECT_WAIT_S):
        raise RuntimeError("raw round trip: no SUBACK")
    _connect(pub, host, port)
    payload = b"x" * payload_bytes
    samples = []
    try:
        for _ in range(n):
            arrived.clear()
            start = time.perf_counter()
            pub.publish(topic, payload, qos=1)
            if not arrived.wait(CONNECT_WAIT_S):
                raise RuntimeError("raw round trip: a message never arrived")
            samples.append(arrived_at - start)
    finally:
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()
    return samples


# --- the central simulator in its own process -------------------------------------------------------------
@contextlib.contextmanager
def central_process(db_path: Path, host: str, port: int, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m simulators.central`` as a separate process (its own GIL, as a real platform would be).

    Ready once it has answered a sync request of a probe device, which proves its subscriptions are live.
    """
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulators.central", "--host", host, "--port", str(port), "--db", str(db_path)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        cpu_quota.exempt(proc.pid)  # the platform is not the device: outside any --cpu-quota
        _wait_central_ready(host, port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_central_ready(host: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    from edge_agent.contract.base import source_urn, utcnow
    from edge_agent.contract.cart import SyncRequest, SyncRequestEvent
    from edge_agent.contract.topics import Topics

    device = f"probe-{uuid.uuid4().hex[:8]}"
    topics = Topics("acme", "s042", device)
    got = threading.Event()
    client = _client(f"bench-probe-{device}")
    client.on_message = lambda *_a: got.set()
    _connect(client, host, port)
    client.subscribe(topics.acks, qos=1)
    try:
        deadline = time.monotonic() + 30
        while not got.is_set():
            if proc.poll() is not None:
                raise RuntimeError(f"central simulator exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("central simulator never answered the probe's sync request")
            event = SyncRequestEvent(
                source=source_urn("acme", "s042", device),
                id=f"{device}:sync:{uuid.uuid4()}",
                time=utcnow(),
                data=SyncRequest(device=device, cart_ids=[]),
            )
            client.publish(topics.sync, event.model_dump_json().encode(), qos=1)
            got.wait(0.5)
    finally:
        client.disconnect()
        client.loop_stop()


def production_config(workdir: Path, port: int, device: str, **mqtt: Any) -> AgentConfig:
    """The tests' config builder, with the production keepalive and timeouts (the tests shorten them)."""
    return make_config(
        workdir,
        port,
        device=device,
        keepalive_s=const.DEFAULT_KEEPALIVE_S,
        ack_timeout_s=const.DEFAULT_ACK_TIMEOUT_S,
        congestion_timeout_s=const.DEFAULT_CONGESTION_TIMEOUT_S,
        **mqtt,
    )


class TimedCentral(CentralPlatform):
    """The platform simulator, stamping perf_counter() once a batch's transaction has committed.

    Overrides the ``committed`` hook (on the simulator's apply thread, once the transaction that applied these
    batches committed and their watermarks were published): one stamp per op, applied or duplicate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.applied_at: list[float] = []
        self.changed = threading.Condition()

    def committed(self, batches: Sequence[OpsBatch]) -> None:
        now = time.perf_counter()
        with self.changed:
            self.applied_at.extend(now for batch in batches for _ in batch.ops)
            self.changed.notify_all()

    def wait_applied(self, count: int, timeout: float) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.applied_at) >= count, timeout):
                raise RuntimeError(f"central applied {len(self.applied_at)}/{count} ops after {timeout}s")
            return self.applied_at[count - 1]


# --- self-check ---------------------------------------------------------------------------------------------
SELF_CHECK_MESSAGES, SMOKE_MESSAGES = 2000, 50


def wait_connected(agent: InProcessAgent, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not agent.connected:
        if time.monotonic() > deadline:
            raise RuntimeError("agent never connected")
        time.sleep(0.01)


@dataclass
class CommitTimes:
    """When each op became durable: DeviceStore.record returned (perf_counter, and the wall clock beside it), and
    when that record call began (``began``: a scan that waited for the loop is told from a slow commit)."""

    perf: list[float]
    wall: list[float]
    began: list[float] = field(default_factory=list)


def time_commits(agent: InProcessAgent) -> CommitTimes:
    """Wrap the agent's store.record to timestamp each recorded op. An instance attribute shadows the public
    method; it is set on the loop, so no scan is mid-flight."""
    assert agent.agent is not None
    store: DeviceStore = agent.agent.store
    original_record = store.record
    times = CommitTimes([], [])

    def timed_record(*args: Any, **kwargs: Any) -> list[Recorded]:  # whatever record's signature is
        began = time.perf_counter()
        result = original_record(*args, **kwargs)
        now, wall = time.perf_counter(), time.time()
        times.began.extend(began for _ in result)
        times.perf.extend(now for _ in result)
        times.wall.extend(wall for _ in result)
        return result

    agent.call(lambda: setattr(store, "record", timed_record))
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="self-check of the shared bench pieces: raw ceilings, central")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_MESSAGES} messages per ceiling (seconds)")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    n = SMOKE_MESSAGES if args.smoke else SELF_CHECK_MESSAGES
    from tests.support.broker import MosquittoBroker

    workdir = Path(tempfile.mkdtemp(prefix="bench-common-"))
    print(f"# Shared bench pieces: raw paho ceilings ({n:,} messages) and the central simulator process\n")
    print(f"{machine_line()}, {mosquitto_version()}\n")
    broker = MosquittoBroker(workdir / "broker")
    broker.start()
    cpu_quota.exempt(broker.pid)
    try:
        publish = raw_publish_rate(broker.host, broker.port, n)
        round_trips = raw_round_trips(broker.host, broker.port, n)
        started = time.perf_counter()
        with central_process(workdir / "central.db", broker.host, broker.port, workdir / "central.log"):
            central_ready_s = time.perf_counter() - started
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        md_table(
            ["piece", "figure"],
            [
                ["raw_publish_rate", f"{publish.rate:,.0f} msg/s ({publish.messages:,} x {publish.payload_bytes} B)"],
                ["raw_round_trips p50 / p99 / max / mean ms", " / ".join(fmt_ms(round_trips))],
                ["central_process ready (answered a sync request)", f"{central_ready_s:.2f} s"],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
