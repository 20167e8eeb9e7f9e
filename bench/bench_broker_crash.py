"""Benchmark: time to drain after a broker crash with its persistence file (issue 15, "faster recovery").

Usage: python bench/bench_broker_crash.py [--smoke] [--rounds N] [--ops N]

Each round: a Mosquitto with persistence on a free port, the central simulator (an MQTT 5 shared subscription) and
the real agent (InProcessAgent, default ack_timeout_s). N scans are applied; the broker is SIGKILLed; N more scans
are saved offline; the broker restarts from its persistence file. Mosquitto 2.0.11 restores the sessions but not
the platform's $share subscription until the platform reconnects, so what the device sends at once reaches nobody.
Measured from the restart: the platform back (its reconnect: the ceiling, nothing can drain before it) and every
op applied (the device's outbox empty). Before the agent asked again for an unanswered sync request, the drain
waited out ack_timeout_s (60 s by default). Nothing asserts a time; it only prints.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import _common as c
import _cpu_quota as cpu_quota  # also puts the repo on sys.path

from edge_agent import const
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent, make_config, wait_until

SKUS = tuple("0" + code for code in DEMO_CODES)
DRAIN_TIMEOUT_S = 300.0
POLL_S = 0.01


def one_round(workdir: Path, ops: int) -> tuple[float, float]:
    """(seconds until the platform was back, seconds until every op was applied), both from the broker restart."""
    with MosquittoBroker(workdir / "broker", persistence=True) as broker:
        central = CentralPlatform(workdir / "central.db", broker.host, broker.port).start()
        config = make_config(workdir, broker.port, ack_timeout_s=const.DEFAULT_ACK_TIMEOUT_S)
        agent = InProcessAgent(config).start()
        try:
            wait_until(lambda: agent.connected, 20, "agent connected")
            agent.scan(*(SKUS[i % len(SKUS)] for i in range(ops)))
            wait_until(lambda: central.applied_count(config.device.id) == ops, 60, "first half applied")
            broker.kill()
            agent.scan(*(SKUS[i % len(SKUS)] for i in range(ops)))
            wait_until(lambda: agent.ops_created() == 2 * ops, 20, "second half saved offline")
            central.connected.clear()
            broker.restart()
            start = time.monotonic()
            back = drained = None
            while drained is None and time.monotonic() - start < DRAIN_TIMEOUT_S:
                now = time.monotonic() - start
                if back is None and central.connected.is_set():
                    back = now
                if central.applied_count(config.device.id) == 2 * ops and agent.outbox_total() == 0:
                    drained = now
                time.sleep(POLL_S)
            assert back is not None and drained is not None, "did not drain"
            return back, drained
        finally:
            agent.stop()
            central.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="one round of a few ops")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=200)
    cpu_quota.add_argument(parser)
    args = parser.parse_args()
    cpu_quota.from_args(args)
    rounds, ops = (1, 20) if args.smoke else (args.rounds, args.ops)
    results = []
    for n in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
            results.append(one_round(Path(tmp), ops))
        print(f"round {n + 1}: platform back {results[-1][0]:.2f} s, drained {results[-1][1]:.2f} s")
    back = statistics.median(r[0] for r in results)
    drained = statistics.median(r[1] for r in results)
    print(c.machine_line())
    print(
        c.md_table(
            ["figure (median of rounds, from the broker restart)", "value"],
            [
                ["platform back (the ceiling: nothing drains before it)", f"{back:.2f} s"],
                ["every op applied", f"{drained:.2f} s"],
                ["drained / platform back", f"{drained / back:.2f}x" if back else "-"],
                ["before this change: the drain waited out ack_timeout_s", f"{const.DEFAULT_ACK_TIMEOUT_S:.0f} s"],
            ],
        )
    )


if __name__ == "__main__":
    main()
