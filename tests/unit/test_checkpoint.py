"""The WAL checkpoint thread: PASSIVE while the device writes, TRUNCATE once idle, its own connection throughout."""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.domain.basket import AddItem
from edge_agent.store.checkpoint import Checkpointer
from edge_agent.store.device import DeviceStore

A = "04006381333931"
DEADLINE_S = 30.0  # a wait for a state, never a timed assertion


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_without_autocheckpoint_the_thread_copies_the_wal_in_and_truncates_it_when_idle(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.autocheckpoint(0)
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    wal = tmp_path / "agent.db-wal"
    checkpoints = Checkpointer(store.path, interval_s=0.01, idle_s=0.05)
    checkpoints.start()
    try:
        for _ in range(50):
            store.record([AddItem("c", A)])
        _wait_for(lambda: checkpoints.counters.truncated >= 1, "the idle WAL was truncated")
        assert checkpoints.counters.passive >= 1
        assert wal.stat().st_size == 0
        store.record([AddItem("c", A)])  # the writer carries on after a truncation
        _wait_for(lambda: checkpoints.counters.truncated >= 2, "truncated again after the next write")
    finally:
        checkpoints.stop()
        store.close()
    reopened = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    assert reopened.quantities("c") == {A: 51}


def test_the_store_knows_its_file(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    assert store.path == tmp_path / "agent.db"
    store.close()
