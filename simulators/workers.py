"""The platform as horizontally scaled workers: ``python -m simulators.workers --nats URLS --dsn DSN --name w1``.

Each process is one :class:`simulators.platform.worker.PlatformWorker`; start as many as you like over one
PostgreSQL database and one NATS (cluster): JetStream's durable consumer shares the uplinks between them. It prints
``ready <name>`` once it consumes, and its counters as JSON when stopped (SIGTERM, SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal

from simulators.platform.worker import PlatformWorker


async def serve(worker: PlatformWorker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(worker.run(stop))
    ready = asyncio.create_task(worker.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if worker.ready.is_set():
        print(f"ready {worker.name}", flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.workers", description=__doc__.split("\n")[0])
    parser.add_argument("--nats", required=True, help="comma-separated NATS URLs (every node of the cluster)")
    parser.add_argument("--dsn", required=True, help="the PostgreSQL database every worker shares")
    parser.add_argument("--name", required=True, help="this worker's name (its counters' key)")
    parser.add_argument("--replicas", type=int, default=3, help="replicas of the uplink stream (1 on a single node)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.name} %(levelname)s %(message)s")
    worker = PlatformWorker(args.nats.split(","), args.dsn, args.name, replicas=args.replicas)
    asyncio.run(serve(worker))
    print(json.dumps(dataclasses.asdict(worker.stats)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
