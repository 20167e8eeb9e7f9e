"""A kill -9 campaign: the agent is killed at random moments while it scans, restarted, killed again.
CI runs a short campaign; `pytest --soak` runs a long one. Either way: every op the agent reported as saved
reaches the platform, none is applied twice, and the two carts end equal."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from simulators.camera import write_scan_video
from simulators.central import CentralPlatform
from tests.faults.test_faults import BURST_CODES, _applied_op_ids, _ean13
from tests.support.broker import MosquittoBroker
from tests.support.world import AgentProcess, basket_of, make_config, outbox_total, wait_until, write_config


def _campaign(tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, cycles: int, seed: int) -> None:
    rng = random.Random(seed)
    codes = [_ean13(c) for c in BURST_CODES]
    video = write_scan_video(tmp_path / "burst.avi", [(c, 4) for c in codes], fps=30, seed=seed)
    scanning = make_config(tmp_path, broker.port, video=video)
    proc = AgentProcess(scanning, tmp_path)
    saved: set[str] = set()
    try:
        for cycle in range(cycles):
            proc.start()
            if cycle == cycles - 1 and not saved:
                # On a loaded machine every earlier kill may have come before the first scan: the last one then
                # comes after a scan was saved, so the campaign always has something that must not be lost.
                wait_until(lambda: bool(proc.saved_op_ids()), 60, "a scan saved before the last kill")
            time.sleep(rng.uniform(0.3, 2.5))  # somewhere in startup, the burst, the drain or idle
            proc.kill()
            saved |= proc.saved_op_ids()
        # Heal: restart without the camera and let it drain.
        proc.config = make_config(tmp_path, broker.port)
        proc.config_path = write_config(proc.config, tmp_path / "kiosk-01.toml")
        proc.start()
        cart = scanning.basket.cart_id or ""
        db = scanning.database_path()
        wait_until(
            lambda: outbox_total(db) == 0 and central.cart(cart) == basket_of(db, cart),
            90,
            "drain after the campaign",
            details=lambda: (outbox_total(db), len(central.cart(cart))),
        )
    finally:
        proc.stop()
    applied = _applied_op_ids(central, "kiosk-01")
    assert saved, "the campaign never got a scan saved: it tested nothing"
    assert saved <= applied, f"lost {len(saved - applied)} saved ops, e.g. {sorted(saved - applied)[:3]}"
    assert sum(central.cart(cart).values()) == len(applied)  # every applied add counted once


def test_a_short_kill_campaign_loses_nothing(tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform) -> None:
    _campaign(tmp_path, broker, central, cycles=3, seed=1)


@pytest.mark.soak
def test_a_long_kill_campaign_loses_nothing(tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform) -> None:
    _campaign(tmp_path, broker, central, cycles=40, seed=2)
