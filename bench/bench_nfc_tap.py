"""Benchmark: tap-to-central latency of an NFC product tag, through nfcpy's udp driver and the real agent.

Usage: python bench/bench_nfc_tap.py [--quick | --smoke] [--taps N]

Each tap presents an emulated NTAG213 (simulators/nfc_tags.py) to the agent's NFC reader on nfcpy's udp
driver; the next tap goes in only once the central simulator has applied the previous op and the tag has
been taken away. Measured from the moment the card is handed to the emulator:
- agent: tap -> applied (the central's transaction for the op committed),
- ceiling: tap -> NDEF octets in hand, for a bare nfcpy ``connect(rdwr=...)`` loop reading the same tags
  from the same emulator with the same poll interval, in the same run.
Both include nfcpy's poll cadence (the reader senses every ``interval`` s while no tag is present), which
dominates on the udp driver as it does on a real PN533; the ratio shows what the agent adds on top:
classification, the identifier pipeline, the durable commit, MQTT and the platform's apply.
--smoke: two taps each after the warm-up, to prove the bench still runs.
Nothing here asserts a time; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path
import nfc

from edge_agent.config import AgentConfig
from simulators.nfc_tags import TagEmulator, product_tag
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent

DEVICE = "kiosk-01"
POLL_INTERVAL_S = 0.1
"""The agent reader's rdwr interval (edge_agent/readers/nfc/reader.py); the raw loop uses the same."""
WARMUP_TAPS = 3
SMOKE_TAPS = 2
WAIT_S = 30.0
RAW_TAP_WAIT_S = 10.0
RAW_TAP_ATTEMPTS = 3
"""The bare nfcpy loop, under load, now and then misses a tap (nfcpy's presence check against the emulator's
removal); the ceiling is a read's latency, so a missed tap is tapped again (and said), not a failed bench."""
SKUS = ("04006381333931", "05012345678900", "05901234123457", "08710398502131", "07612345678900")

logging.getLogger("nfc").setLevel(logging.WARNING)


def uid(i: int) -> bytes:
    """A distinct UID per tap, so the reader's tap gate never takes two taps for one held tag."""
    return bytes([0x04]) + i.to_bytes(6, "big")


def raw_tap_latencies(n: int) -> list[float]:
    """The ceiling: tap -> NDEF read by a bare nfcpy loop (no agent, no MQTT, no SQLite)."""
    tags = TagEmulator.on_free_port().start()
    read_at: list[float] = []
    stop = threading.Event()

    def on_connect(tag: Any) -> bool:
        if tag.ndef is not None:
            bytes(tag.ndef.octets)
            read_at.append(time.perf_counter())
        return True

    def reader() -> None:
        with nfc.ContactlessFrontend(tags.path) as clf:
            while not stop.is_set():
                clf.connect(
                    rdwr={"targets": ["106A"], "on-connect": on_connect, "interval": POLL_INTERVAL_S},
                    terminate=stop.is_set,
                )

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    started: list[float] = []
    try:
        for i in range(WARMUP_TAPS + n):
            for _attempt in range(RAW_TAP_ATTEMPTS):
                at = time.perf_counter()
                tags.tap(product_tag(SKUS[i % len(SKUS)], "type2", uid=uid(i)))
                if tags.wait_idle(RAW_TAP_WAIT_S) and len(read_at) == len(started) + 1:
                    started.append(at)
                    break
                del read_at[len(started) :]  # a late read of the missed tap must not pair with the next one
                print(f"raw tap {i}: not read by the bare nfcpy loop, tapped again", file=sys.stderr)
            else:
                raise RuntimeError(f"raw tap {i} was never read in {RAW_TAP_ATTEMPTS} attempts")
    finally:
        stop.set()
        thread.join(10)
        tags.stop()
    w = WARMUP_TAPS
    return [b - a for a, b in zip(started[w:], read_at[w:], strict=True)]


def agent_tap_latencies(workdir: Path, broker: MosquittoBroker, n: int) -> tuple[list[float], dict[str, Any]]:
    tags = TagEmulator.on_free_port().start()
    raw: dict[str, Any] = c.production_config(workdir, broker.port, DEVICE).model_dump(mode="json", exclude_none=True)
    raw["readers"] = {"nfc": {"path": tags.path, "tag_types": ["type2"], "repeat_s": 0.5}}
    config = AgentConfig.model_validate(raw)
    central = c.TimedCentral(workdir / "central.db", broker.host, broker.port).start()
    agent = InProcessAgent(config).start()
    started: list[float] = []
    try:
        deadline = time.monotonic() + WAIT_S
        while not agent.connected:
            if time.monotonic() > deadline:
                raise RuntimeError("agent never connected")
            time.sleep(0.01)
        for i in range(WARMUP_TAPS + n):
            started.append(time.perf_counter())
            tags.tap(product_tag(SKUS[i % len(SKUS)], "type2", uid=uid(i)))
            central.wait_applied(i + 1, WAIT_S)
            if not tags.wait_idle(WAIT_S):
                raise RuntimeError(f"tap {i}: the tag was never taken away")
        assert agent.agent is not None
        rejected = dict(agent.agent.status.rejected)
    finally:
        agent.stop()
        central.stop()
        tags.stop()
    w = WARMUP_TAPS
    applied = [b - a for a, b in zip(started[w:], central.applied_at[w:], strict=True)]
    return applied, {"rejected": rejected}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 taps each")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_TAPS} taps each")
    parser.add_argument("--taps", type=int, default=None, help=f"default 100; --quick 20; --smoke {SMOKE_TAPS}")
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    cpu_quota.from_args(args)
    n = args.taps or (SMOKE_TAPS if args.smoke else 20 if args.quick else 100)

    workdir = Path(tempfile.mkdtemp(prefix="bench-nfc-"))
    print(f"# NFC tap -> platform latency: {n} sequential taps of an emulated NTAG213 (nfcpy udp driver)\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, nfcpy {nfc.__version__}, {c.mosquitto_version()}\n")
    broker = MosquittoBroker(workdir / "broker")
    broker.start()
    cpu_quota.exempt(broker.pid)  # the store's network, not the device
    try:
        ceiling = raw_tap_latencies(n)
        applied, info = agent_tap_latencies(workdir, broker, n)
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        c.md_table(
            ["path", "taps", "p50 ms", "p99 ms", "max ms", "mean ms"],
            [
                ["agent: tap -> applied by the platform", len(applied), *c.fmt_ms(applied, 1)],
                [
                    "raw nfcpy: tap -> NDEF read (same emulator, same poll interval)",
                    len(ceiling),
                    *c.fmt_ms(ceiling, 1),
                ],
            ],
        )
    )
    print()
    a50, a99 = c.summary_ms(applied)[:2]
    r50, r99 = c.summary_ms(ceiling)[:2]
    print(
        c.md_table(
            ["figure", "agent", "raw nfcpy read", "ratio"],
            [
                ["tap -> applied p50 ms", f"{a50:.1f}", f"{r50:.1f}", c.ratio(a50, r50)],
                ["tap -> applied p99 ms", f"{a99:.1f}", f"{r99:.1f}", c.ratio(a99, r99)],
            ],
        )
    )
    print(
        f"\nPoll interval {POLL_INTERVAL_S} s in both; {WARMUP_TAPS} warm-up taps not counted; "
        f"reader rejects {info['rejected']}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
