"""Benchmark: a simulated store hour — 40 devices' worth of workflows, 10x speed, one agent process per role.

Usage: python bench/bench_store_hour.py [--quick | --smoke] [--store-minutes M] [--speed X] [--devices-per-role N]
                                      [--kiosk-session-scans N]

Four agent processes (kiosk, shelf, associate handheld, fitting-room mirror), each carrying the workload of
``--devices-per-role`` devices (default 10, so 40 devices) replayed at ``--speed`` (default 10x) against one
Mosquitto and the central simulator (this process). Per device and store hour (assumed from the retail note's
workflows; they are round numbers, not measurements of a store):
- kiosk: 12 shopper sessions of 8 scans each (96 scans); by default they all go into one basket (the role process
  is one agent), which grows to 960 lines and which the platform snapshots after every scan; --kiosk-session-scans 8
  starts a new basket every 8 scans instead, as bench_latency.py does;
- shelf: 60 lookups;
- associate handheld: 6 totes of 5 lines, each parked and resumed once, then submitted;
- fitting-room mirror: 10 room sessions of 3 garments, one size request acknowledged and delivered each.

Each role process reports its CPU (user+system over wall time) and peak RSS (ru_maxrss). Sync lag is measured
at the platform for every op it applies: its apply time minus the op's creation time (the wall-clock part of
the op's HLC; same machine, same clock). The ceiling, measured in the same run, is the raw paho QoS 1 round trip
on the same broker. --smoke: one device per role for 6 store minutes at 100x (one tote, one room visit), to
prove the bench still runs.
Nothing here asserts a figure; it only prints.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _common as c  # also puts the repo on sys.path
import _cpu_quota as cpu_quota

from edge_agent.contract.cart import OpsBatch
from edge_agent.domain.hlc import wall_ms_of
from simulators.central import CentralPlatform

ROLES = ("kiosk", "shelf", "associate-handheld", "fitting-room-mirror")
CATALOG_ITEMS = 200
RAW_ROUND_TRIPS, SMOKE_ROUND_TRIPS = 500, 50
SMOKE_MINUTES, SMOKE_SPEED, SMOKE_DEVICES = 6.0, 100.0, 1


def gtin(i: int) -> str:
    from edge_agent.identifiers.gtin import gtin_check_digit

    body = f"0400638{i:06d}"
    return body + str(gtin_check_digit(body))


def catalog() -> list[dict[str, Any]]:
    now = datetime.datetime.now(datetime.UTC)
    return [
        {"gtin14": gtin(i), "name": f"Item {i}", "style": f"style-{i // 4}", "size": "SMLX"[i % 4],
         "price_minor": 999 + i, "currency": "EUR", "price_as_of": now, "stock": 10, "stock_as_of": now}
        for i in range(CATALOG_ITEMS)
    ]  # fmt: skip


def schedule(role: str, devices: int, store_s: float, seed: int) -> list[tuple[float, str, Any]]:
    """(store time s, action, argument) for ``devices`` devices of ``role`` over ``store_s`` store seconds."""
    rng = random.Random(seed)
    hours = store_s / 3600
    out: list[tuple[float, str, Any]] = []

    def spread(n: float, action: str, arg: Any = None) -> None:
        for _ in range(round(n * hours * devices)):
            out.append((rng.uniform(0, store_s), action, arg))

    if role == "kiosk":
        spread(96, "scan")
    elif role == "shelf":
        spread(60, "scan")
    elif role == "associate-handheld":
        spread(6, "tote")
    else:
        spread(10, "room")
    return sorted(out, key=lambda x: x[0])


class LagCentral(CentralPlatform):
    """The central simulator, recording per device how long each op took to be applied (``lags``).

    Overrides the ``committed`` hook: it runs once the transaction that applied those batches committed and their
    watermarks were published; each op's lag is now minus the wall-clock part of its HLC."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lags: dict[str, list[float]] = {}

    def committed(self, batches: Sequence[OpsBatch]) -> None:
        now_ms = time.time() * 1000
        for batch in batches:
            self.lags.setdefault(batch.device, []).extend((now_ms - wall_ms_of(op.hlc)) / 1000 for op in batch.ops)


def run_role(
    role: str,
    port: int,
    workdir: str,
    devices: int,
    store_s: float,
    speed: float,
    quota: float | None,
    session_scans: int,
    out: Any,
) -> None:
    """One agent process for a whole role: replay its devices' workload, report CPU, RSS and sync lag.
    ``quota``: this process alone on core 0 at that % of it (--cpu-quota: each role is a device of its own).
    ``session_scans``: the kiosk starts a new basket after that many scans (0: one basket for the whole run)."""
    limit = cpu_quota.enter(quota).describe() if quota is not None else None
    from edge_agent.config import AgentConfig
    from edge_agent.contract.workflow import AssistReply, MirrorCommand, ToteCommand
    from edge_agent.identifiers.product_key import parse_code
    from edge_agent.readers.events import ProductScanned
    from tests.support.world import InProcessAgent

    raw: dict[str, Any] = c.production_config(Path(workdir), port, f"{role}-bench").model_dump(
        mode="json", exclude_none=True
    )
    raw["device"]["role"] = role
    agent = InProcessAgent(AgentConfig.model_validate(raw)).start()
    while not agent.connected:
        time.sleep(0.05)
    inner = agent.agent
    assert inner is not None
    rng = random.Random(7)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    done = 0

    def scan(code: str) -> None:
        agent.call(lambda: inner.submit(ProductScanned(parse_code(code), "]E0", "bench", time.time())))

    def tote(command: ToteCommand) -> None:
        assert inner.role.totes is not None
        desk = inner.role.totes
        agent.call(lambda: desk.command(command))

    def tote_visit(who: str, items: list[str]) -> None:
        """An associate builds a tote, parks it while the shopper tries something on, resumes and submits."""
        tote(ToteCommand(action="open", associate=who))
        for code in items:
            scan(code)
        tote(ToteCommand(action="park", associate=who))
        assert inner.role.totes is not None
        parked = agent.call(inner.role.totes.parked)
        tote(ToteCommand(action="resume", associate=who, tote_id=parked[-1]))
        tote(ToteCommand(action="submit", associate=who))

    def room_visit(wanted: str, garments: list[str]) -> None:
        """A shopper taps three garments, asks for another size; an associate acknowledges and delivers it."""
        assert inner.role.desk is not None
        mirror = inner.role.desk
        for code in garments:
            scan(code)
        ask = MirrorCommand(action="request_assist", type="size", target_gtin=wanted)
        agent.call(lambda: mirror.command(ask))
        for rid in agent.call(lambda: list(mirror.requests)):
            for act in ("acknowledge", "delivered"):
                reply = AssistReply(request_id=rid, action=act, associate="emp-001")  # type: ignore[arg-type]
                agent.call(lambda reply=reply: mirror.reply(reply))  # type: ignore[misc]
        agent.call(lambda: mirror.command(MirrorCommand(action="vacate")))

    for at, action, _arg in schedule(role, devices, store_s, seed=ROLES.index(role)):
        delay = start + at / speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        item = gtin(rng.randrange(CATALOG_ITEMS))
        if action == "scan":
            scan(item)
            if role == "kiosk" and session_scans and (done + 1) % session_scans == 0:
                agent.call(inner.basket.end_session)  # the shopper leaves: the next one gets a fresh basket
        elif action == "tote":
            tote_visit(f"emp-{rng.randrange(100):03d}", [gtin(rng.randrange(CATALOG_ITEMS)) for _ in range(5)])
        elif action == "room":
            room_visit(item, [gtin(rng.randrange(CATALOG_ITEMS)) for _ in range(3)])
        done += 1
    # Let the last ops drain, as a store hour would continue into the next.
    deadline = time.monotonic() + 30
    while agent.outbox_total() and time.monotonic() < deadline:
        time.sleep(0.05)
    wall = time.monotonic() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out.put(
        {
            "role": role,
            "actions": done,
            "ops": agent.ops_created(),
            "events_published": inner.events.published_total,
            "cpu_pct": 100 * cpu_s / wall,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "undrained": agent.outbox_total(),
            "quota": limit,
        }
    )
    agent.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 store minutes (36 s at 10x)")
    parser.add_argument("--smoke", action="store_true", help="1 device per role, 6 store minutes at 100x")
    parser.add_argument("--store-minutes", type=float, default=None, help="default 60; --quick 6")
    parser.add_argument("--speed", type=float, default=None, help=f"default 10; --smoke {SMOKE_SPEED:g}")
    parser.add_argument("--devices-per-role", type=int, default=None, help=f"default 10; --smoke {SMOKE_DEVICES}")
    parser.add_argument("--kiosk-session-scans", type=int, default=0,
                        help="the kiosk starts a new basket every N scans (default 0: one for the run)")  # fmt: skip
    cpu_quota.add_argument(parser)
    args = parser.parse_args(argv)
    minutes = args.store_minutes or (SMOKE_MINUTES if args.smoke else 6.0 if args.quick else 60.0)
    args.speed = args.speed or (SMOKE_SPEED if args.smoke else 10.0)
    args.devices_per_role = args.devices_per_role or (SMOKE_DEVICES if args.smoke else 10)

    from tests.support.broker import MosquittoBroker

    workdir = Path(tempfile.mkdtemp(prefix="bench-store-hour-"))
    devices = args.devices_per_role * len(ROLES)
    print(f"# A simulated store: {devices} devices, {minutes:g} store minutes at {args.speed:g}x\n")
    if args.kiosk_session_scans:
        print(f"The kiosk starts a new basket every {args.kiosk_session_scans} scans.\n")
    print(f"{datetime.date.today()}, {c.machine_line()}, {c.mosquitto_version()}\n")
    if args.cpu_quota is not None:
        print(f"Each role process under a CPU quota of {args.cpu_quota:g}% of core 0, in a cgroup of its own")
        print("(bench/_cpu_quota.py); Mosquitto and the central simulator (this process) run at full speed.\n")
    broker = MosquittoBroker(workdir / "broker", listener_options=[c.BROKER_NODELAY_OPTION])
    broker.start()
    results = []
    try:
        rtt = c.raw_round_trips(broker.host, broker.port, SMOKE_ROUND_TRIPS if args.smoke else RAW_ROUND_TRIPS)
        central = LagCentral(workdir / "central.db", broker.host, broker.port)
        lags = central.lags
        central.start()
        central.publish_catalog("acme", "s042", catalog())
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        procs = []
        for role in ROLES:
            role_dir = workdir / role
            role_dir.mkdir()
            args_ = (role, broker.port, str(role_dir), args.devices_per_role, minutes * 60, args.speed,
                     args.cpu_quota, args.kiosk_session_scans, queue)  # fmt: skip
            procs.append(ctx.Process(target=run_role, args=args_))
        for p in procs:
            p.start()
        for _ in procs:
            results.append(queue.get(timeout=minutes * 60 / args.speed + 300))
        for p in procs:
            p.join(60)
        central.stop()
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    rtt_p50 = c.summary_ms(rtt)[0]
    for r in results:
        applied = lags.get(f"{r['role']}-bench", [])
        r["lag_p50_ms"], r["lag_p99_ms"] = (c.summary_ms(applied)[:2]) if applied else (0.0, 0.0)
        r["applied"] = len(applied)
    rtt_p99 = c.summary_ms(rtt)[1]
    rows = [
        [
            r["role"], r["actions"], r["ops"], r["events_published"], f"{r['cpu_pct']:.1f} %", f"{r['rss_mb']:.1f}",
            r["applied"], f"{r['lag_p50_ms']:.2f}", f"{r['lag_p99_ms']:.2f}",
            c.ratio(r["lag_p99_ms"], rtt_p99) if r["applied"] else "no ops", r["undrained"],
        ]
        for r in sorted(results, key=lambda r: ROLES.index(r["role"]))
    ]  # fmt: skip
    headers = [f"role ({args.devices_per_role} devices)", "actions", "ops", "events", "CPU of one core", "peak RSS MB",
               "ops applied", "sync lag p50 ms", "sync lag p99 ms", "p99 vs raw RTT p99", "unconfirmed"]  # fmt: skip
    print(c.md_table(headers, rows))
    print(f"\nRaw paho QoS 1 round trip on the same broker: p50 {rtt_p50:.2f} ms, p99 {rtt_p99:.2f} ms.")
    st = central.stats
    print(f"Central simulator: {st.batches} ops batches and {st.events_recorded} workflow events in {st.transactions} "
          f"transactions; {st.snapshots_published} snapshots published.")  # fmt: skip
    for r in results:
        if r["quota"]:
            print(f"{r['role']}: {r['quota']}.")
    print("Sync lag: op created on the device -> applied by the platform, for every op (shelf and mirror send")
    print("workflow events only, which go the at-least-once event path, not the op path).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
