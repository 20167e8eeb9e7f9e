"""A full disk and the storage budget (issue 15), against real Mosquitto and real files.

A full disk is a size-limited tmpfs the test mounts as root, filled with a filler file: scans are refused
``storage_full`` (counted, on the kiosk's screen), the agent stays up, nothing committed is lost, and scans are
saved again once the filler is deleted, without a restart. The budget is a small ``storage.max_bytes``: scans until
refused ``storage_budget`` with every unconfirmed op kept, then room returns once the platform confirms and the
ended basket is purged.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import AgentConfig
from edge_agent.store import readonly
from simulators.broker import MosquittoBroker
from simulators.central import CentralPlatform
from tests.support.fixtures import Mount
from tests.support.wire import WireRecorder
from tests.support.world import InProcessAgent, make_config, wait_until

DISPLAY = "rt/v1/acme/st/s042/dv/kiosk-01/display"
SMALL_FS = "2m"
"""Room for the schema, a WAL and a few hundred scans; the filler takes the rest."""
BURST = 50
DISTINCT_ITEMS = 100
"""Scans repeat these items (each scan is still an op and an entry): a basket view holds at most 1,000 lines."""
BURSTS_MAX = 400
"""A bound on the scans tried before the store must have refused (2 MiB hold far fewer than 20,000)."""


def gtin(n: int) -> str:
    body = f"200{n:010d}"
    odd = sum(int(d) for d in body[-1::-2])
    even = sum(int(d) for d in body[-2::-2])
    return body + str((10 - (odd * 3 + even) % 10) % 10)


@pytest.fixture
def small_fs(tmpfs: Mount) -> Path:
    return tmpfs(SMALL_FS)


def fill(directory: Path) -> Path:
    """A filler file that takes every free byte (unbuffered writes, so the ENOSPC is seen here)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def refusal_on_screen(recorder: WireRecorder) -> str | None:
    views = recorder.on(DISPLAY)
    if not views:
        return None
    refused: dict[str, Any] | None = json.loads(views[-1].payload)["data"].get("refused")
    return None if refused is None else str(refused["reason"])


def storage_figures(agent: InProcessAgent) -> Any:
    assert agent.agent is not None and agent.agent.health is not None
    health = agent.agent.health
    return agent.call(lambda: health.figures.snapshot().health.storage)


def rejected(agent: InProcessAgent, key: str) -> int:
    assert agent.agent is not None
    status = agent.agent.status
    return int(agent.call(lambda: status.rejected[key]))


def scan_until_refused(agent: InProcessAgent, recorder: WireRecorder, reason: str, start: int = 0) -> int:
    """Bursts of scans until one is refused with ``reason``; returns the next unused number."""
    n = start
    for _ in range(BURSTS_MAX):
        before = agent.ops_created()
        agent.scan(*(gtin(i % DISTINCT_ITEMS) for i in range(n, n + BURST)))
        n += BURST
        wait_until(
            lambda b=before: agent.ops_created() == b + BURST or rejected(agent, f"basket:{reason}") > 0, 15, "a burst"
        )
        if rejected(agent, f"basket:{reason}"):
            return n
    raise AssertionError(f"never refused {reason} after {n} scans")


def test_a_full_disk_refuses_scans_with_a_reason_loses_nothing_and_resumes_when_space_returns(
    small_fs: Path, broker: MosquittoBroker, tmp_path: Path
) -> None:
    config = make_config(small_fs, broker.port)
    with WireRecorder(broker.host, broker.port) as recorder:
        agent = InProcessAgent(config).start()
        try:
            wait_until(lambda: agent.connected, 15, "connected")
            agent.scan(gtin(0), gtin(1), gtin(2))
            wait_until(lambda: agent.outbox_total() == 3, 10, "first scans saved")
            filler = fill(small_fs)
            n = scan_until_refused(agent, recorder, "storage_full", start=3)
            saved = readonly.entry_ids(agent.db_path, "kiosk-01")
            assert agent.outbox_total() == len(saved) >= 3, "every saved scan is still an unconfirmed op"
            wait_until(lambda: refusal_on_screen(recorder) == "storage_full", 10, "the refusal on the screen")
            assert storage_figures(agent).refusing == "storage_full"
            assert agent.connected and agent.error is None, "the agent stays up"

            filler.unlink()  # space returns: the next scan is saved, with no restart
            agent.scan(gtin(n))
            wait_until(lambda: agent.outbox_total() == len(saved) + 1, 10, "a scan saved once space returned")
            assert saved <= readonly.entry_ids(agent.db_path, "kiosk-01"), "nothing committed was lost"
            assert storage_figures(agent).refusing is None
        finally:
            agent.stop()


def budget_config(tmp_path: Path, port: int, max_bytes: int) -> AgentConfig:
    raw = make_config(tmp_path, port).model_dump(mode="json", exclude_none=True)
    raw["storage"]["max_bytes"] = max_bytes
    return AgentConfig.model_validate(raw)


def test_the_storage_budget_refuses_scans_keeps_every_unconfirmed_op_and_room_returns_after_confirmation_and_purge(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    budget = 1024 * 1024
    config = budget_config(tmp_path, broker.port, budget)
    with WireRecorder(broker.host, broker.port) as recorder:
        agent = InProcessAgent(config).start()  # no platform yet: nothing is confirmed
        try:
            wait_until(lambda: agent.connected, 15, "connected")
            n = scan_until_refused(agent, recorder, "storage_budget")
            saved = readonly.entry_ids(agent.db_path, "kiosk-01")
            assert agent.outbox_total() == len(saved) > 0, "at the budget every unconfirmed op is kept"
            wait_until(lambda: refusal_on_screen(recorder) == "storage_budget", 10, "the refusal on the screen")
            figures = storage_figures(agent)
            assert figures.refusing == "storage_budget" and figures.budget_bytes == budget
            assert (figures.used_bytes or 0) >= budget

            assert agent.agent is not None
            basket = agent.agent.basket
            agent.call(lambda: basket.end_session("explicit"))  # the basket ends: purged once confirmed
            agent.scan(gtin(n))
            wait_until(lambda: rejected(agent, "basket:storage_budget") > 1, 10, "still refused: nothing confirmed")
            assert agent.outbox_total() == len(saved), "nothing unconfirmed was evicted to make room"

            platform = CentralPlatform(tmp_path / "central.db", broker.host, broker.port).start()
            try:
                wait_until(lambda: agent.outbox_total() == 0, 30, "the platform confirmed every op")
                assert saved <= platform_entry_ids(tmp_path / "central.db"), "the platform has every saved scan"
                before = agent.ops_created()
                wait_until(lambda: scan_saved(agent, gtin(n + 1), before), 30, "room again after the purge")
                assert (storage_figures(agent).used_bytes or budget) < budget
            finally:
                platform.stop()
        finally:
            agent.stop()


def scan_saved(agent: InProcessAgent, code: str, before: int) -> bool:
    """One scan, saved? (Purged on the heartbeat: until then it is refused, and tried again.)"""
    agent.scan(code)
    try:
        wait_until(lambda: agent.ops_created() > before, 1.0, "saved")
    except AssertionError:
        return False
    return True


def platform_entry_ids(db: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {str(r[0]) for r in conn.execute("SELECT entry_id FROM cart_entries WHERE origin_device = 'kiosk-01'")}
