"""``python -m simulators.central``: the central platform simulator on its own, or a read of its database
(``--dump`` the carts, ``--attribution`` the online orders with the in-store sessions they are credited to)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import time
from pathlib import Path

from edge_agent.store import readonly
from simulators import attribution
from simulators.central.core import CentralPlatform


def dump_carts(db_path: Path) -> dict[str, dict[str, int]]:
    """Read a central database without a broker (``--dump``)."""
    with readonly.read_only(db_path) as conn:
        ids = [r[0] for r in conn.execute("SELECT cart_id FROM cart_versions ORDER BY cart_id")]
    return {c: readonly.basket_quantities(db_path, c) for c in ids}


def freeze_startup_heap() -> None:
    """For a process that runs the simulator alone, once it started: what was built so far (modules, pydantic
    schemas, paho, the platform) moves out of the collector's reach, as the agent's does (edge_agent.agent). A
    full collection otherwise walks those long-lived objects every time, a pause of tens of milliseconds on the
    apply path, in every device's latency (docs/benchmarks.md, latency). Collected first, so startup garbage is
    freed rather than frozen. Not for a process that hosts the simulator among other things (a test)."""
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.central",
        description="The central platform, simulated: the reference for what a real platform must do with edge-agent "
        "ops.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    parser.add_argument("--db", type=Path, default=Path("var/central.db"))
    parser.add_argument("--dump", action="store_true", help="print the carts as JSON and exit")
    parser.add_argument(
        "--attribution", action="store_true", help="print online orders and the in-store sessions they owe to, as JSON"
    )
    parser.add_argument("--ca", help="TLS: the store CA certificate (with --cert/--key: mTLS as `platform`)")
    parser.add_argument("--cert", help="TLS: the platform's client certificate (scripts/store-pki.sh DIR platform)")
    parser.add_argument("--key", help="TLS: the platform's private key")
    args = parser.parse_args(argv)
    tls_args = (args.ca, args.cert, args.key)
    if any(tls_args) and not all(tls_args):
        parser.error("--ca, --cert and --key go together")
    if args.dump:
        print(json.dumps(dump_carts(args.db), indent=2, sort_keys=True))
        return 0
    if args.attribution:
        with readonly.read_only(args.db) as conn:
            print(attribution.report(conn).model_dump_json(indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s central %(levelname)s %(message)s")
    tls = (args.ca, args.cert, args.key) if all(tls_args) else None
    central = CentralPlatform(args.db, args.host, args.port, protocol=args.protocol, tls=tls).start()
    freeze_startup_heap()
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        central.stop()
    return 0
