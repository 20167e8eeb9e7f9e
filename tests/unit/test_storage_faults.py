"""The store's fault handling on real files: what counts as corruption or a full disk, the quarantine at open, and
the storage budget's refusal (the agent-level behaviour is in tests/faults/test_storage_*.py)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from edge_agent.domain.basket import AddItem, RemoveItem
from edge_agent.store.device import DeviceStore
from edge_agent.store.faults import StorageCorrupt, StorageFull, is_corruption, is_full, marker_path
from edge_agent.store.quarantine import quarantined_from_meta
from edge_agent.wiring import build_agent
from simulators.broker import free_port
from tests.support.world import make_config


def test_a_file_that_is_not_a_database_is_moved_aside_unchanged_and_a_new_epoch_starts(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    garbage = os.urandom(8192)
    db.write_bytes(garbage)
    store = DeviceStore.open(db, "kiosk-01")
    try:
        found = quarantined_from_meta({"quarantine": store.meta("quarantine") or ""})
        assert found is not None and "not a database" in found.reason
        assert Path(found.path).read_bytes() == garbage and Path(found.path).name.startswith("agent.db.corrupt-")
        assert store.record([AddItem("c1", "04006381333931")])[0].op is not None
    finally:
        store.close()


def test_corruption_found_at_run_time_leaves_a_marker_and_the_next_open_quarantines(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    epoch = store.epoch
    store.faults.corrupted("DatabaseError: database disk image is malformed")
    store.close()
    assert marker_path(db).exists()
    again = DeviceStore.open(db, "kiosk-01")
    try:
        assert again.epoch != epoch and not marker_path(db).exists()
        assert "found corrupt at run time" in (again.meta("quarantine") or "")
    finally:
        again.close()


def test_sqlite_errors_are_classified_by_their_result_code_not_their_text() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT * FROM missing")
    except sqlite3.OperationalError as exc:
        assert not is_corruption(exc) and not is_full(exc)
    assert is_corruption(StorageCorrupt("x")) and is_full(StorageFull("x"))


def test_at_the_budget_scans_are_refused_but_a_removal_is_saved_and_nothing_is_evicted(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    try:
        saved = store.record([AddItem("c1", "04006381333931")])
        store.budget.max_bytes = 1  # already over: nothing can be collected (the agent sets a collector)
        results = store.record([AddItem("c1", "09780201379624"), RemoveItem("c1", "04006381333931")])
        refused = {type(r.command).__name__: r.refused.reason if r.refused else None for r in results}
        assert refused == {"AddItem": "storage_budget", "RemoveItem": None}
        assert store.outbox_stats().total == 2 and saved[0].op is not None
    finally:
        store.close()


def test_corruption_the_agent_meets_outside_the_stores_guard_still_leaves_the_marker(tmp_path: Path) -> None:
    """A read, a loop callback or a shutdown step that meets a corrupt page reaches the agent, not the store's guard:
    the marker must still be left, or the restart quarantines only where quick_check happens to see the damage."""
    config = make_config(tmp_path, free_port())
    agent = build_agent(config)
    db = config.database_path()
    epoch = agent.store.epoch
    try:
        agent.storage_failed("DatabaseError: database disk image is malformed")
        assert agent.storage_fault == "DatabaseError: database disk image is malformed"
    finally:
        agent.store.close()
    assert marker_path(db).exists()
    again = DeviceStore.open(db, config.device.id)
    try:
        assert again.epoch != epoch
        assert "found corrupt at run time" in (again.meta("quarantine") or "")
    finally:
        again.close()
