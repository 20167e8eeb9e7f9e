"""`make demo`: the agent on simulated hardware against a private broker and the central simulator.

It plays a camera video of retail barcodes into a kiosk agent, shows the store basket and the central
cart side by side, adds an item "online" at the central and shows it arrive in the store basket, and exits
non-zero if the two carts differ at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.store import inspect
from simulators.broker import MosquittoBroker
from simulators.camera import DEMO_CODES, demo_script, write_scan_video
from simulators.central import CentralPlatform

REPO = Path(__file__).resolve().parents[1]
ONLINE_ITEM = normalise_gtin("8710398502131")
"""What the shopper adds on the website during the demo (one of the demo products, a second unit)."""


def _store_view(db: Path, cart_id: str) -> tuple[dict[str, int], int, str]:
    if not db.exists():
        return {}, 0, "starting"
    try:
        with inspect.read_only(db) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'link_state'").fetchone()
        return inspect.basket_quantities(db, cart_id), inspect.outbox_stats(db).total, row[0] if row else "starting"
    except sqlite3.Error:  # the agent is still creating its schema
        return {}, 0, "starting"


def _render(
    elapsed: float, store: dict[str, int], central: dict[str, int], unconfirmed: int, link: str, note: str
) -> str:
    skus = sorted(set(store) | set(central))
    lines = [
        f"\n t={elapsed:5.1f}s   link={link:<8} unconfirmed ops={unconfirmed:<4} {note}",
        "   GTIN-14           store basket   central cart",
    ]
    for sku in skus:
        mark = "" if store.get(sku) == central.get(sku) else "   <- syncing"
        lines.append(f"   {sku}   {store.get(sku, 0):>12}   {central.get(sku, 0):>12}{mark}")
    if not skus:
        lines.append("   (empty)")
    return "\n".join(lines)


def _config_for(workdir: Path, port: int, video: Path) -> Path:
    """device_config/kiosk.toml with the private broker's port and the demo's video and state paths."""
    text = (REPO / "device_config" / "kiosk.toml").read_text()
    text = re.sub(
        r'endpoints = \[\{ host = "127\.0\.0\.1", port = \d+ \}\]',
        f'endpoints = [{{ host = "127.0.0.1", port = {port} }}]',
        text,
    )
    text = text.replace('source = "var/demo/kiosk-scans.avi"', f'source = "{video}"')
    text = text.replace('path = "kiosk-01.db"', f'path = "{workdir / "kiosk-01.db"}"')
    text = text.replace("keepalive_s = 30", "keepalive_s = 5\nbackoff_base_s = 0.2\nbackoff_cap_s = 5")
    text = text.replace("debounce_s = 2.0", "debounce_s = 1.0")
    out = workdir / "kiosk.toml"
    out.write_text(text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=40.0, help="give up after this many seconds")
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "demo")
    parser.add_argument("--quiet", action="store_true", help="print only the final result")
    args = parser.parse_args(argv)

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    video = write_scan_video(args.workdir / "kiosk-scans.avi", demo_script(DEMO_CODES[:4], hold=12, gap=20), seed=11)
    expected_scans = {normalise_gtin(c): 1 for c in DEMO_CODES[:4]}
    cart_id = "kiosk-01-demo"

    with MosquittoBroker(args.workdir / "broker") as broker:
        central = CentralPlatform(args.workdir / "central.db", broker.host, broker.port).start()
        config = _config_for(args.workdir, broker.port, video)
        with config.open("a") as f:
            f.write(f'\n[basket]\ncart_id = "{cart_id}"\n')
        log = (args.workdir / "agent.log").open("wb")
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        print(f"demo: broker 127.0.0.1:{broker.port}, agent pid {agent.pid} (log {args.workdir / 'agent.log'})")
        start, online_done, result = time.monotonic(), False, 1
        db = args.workdir / "kiosk-01.db"
        try:
            while (elapsed := time.monotonic() - start) < args.duration:
                if agent.poll() is not None:
                    print(f"demo: the agent exited with {agent.returncode}; see {args.workdir / 'agent.log'}")
                    break
                store, unconfirmed, link = _store_view(db, cart_id)
                central_cart = central.cart(cart_id)
                note = ""
                if not online_done and store == central_cart and store.get(normalise_gtin(DEMO_CODES[1])):
                    central.add_online(cart_id, ONLINE_ITEM, 1)
                    online_done = True
                    note = f"<- shopper adds {ONLINE_ITEM} online"
                if not args.quiet:
                    print(_render(elapsed, store, central_cart, unconfirmed, link, note), flush=True)
                want = dict(expected_scans)
                want[ONLINE_ITEM] = want.get(ONLINE_ITEM, 0) + 1
                if online_done and unconfirmed == 0 and store == central_cart == want:
                    result = 0
                    break
                time.sleep(1.0)
        finally:
            agent.terminate()
            agent.wait(15)
            log.close()
            central.stop()
        store, unconfirmed, _ = _store_view(db, cart_id)
        final_central = inspect.basket_quantities(args.workdir / "central.db", cart_id)
        print(_render(time.monotonic() - start, store, final_central, unconfirmed, "stopped", "final"))
        if result == 0 and store == final_central:
            print("\ndemo: OK -- the store basket and the central cart converged, the online edit arrived in store.")
            return 0
        print("\ndemo: FAILED -- the carts differ (or did not converge in time); see the agent log above.")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
