"""A confirm deletes its rows with the next write (issue 14, bytes per op): what readers see, and what a crash keeps."""

from __future__ import annotations

from pathlib import Path

from edge_agent.domain.basket import AddItem
from edge_agent.store import readonly
from edge_agent.store.device import DeviceStore

A = "04006381333931"
LEASE_BYTES = 1 << 20


def _file_total(path: Path) -> int:
    return readonly.outbox_stats(path).total


def test_a_confirmed_row_is_gone_for_this_store_at_once_and_from_the_file_with_the_next_write(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    [first, second] = store.record([AddItem("c", A), AddItem("c", A)])
    assert first.op is not None and second.op is not None
    store.mark_sent([r.seq for r in store.lease(10, LEASE_BYTES)])
    assert store.confirm(store.epoch, 1) == 1
    assert store.outbox_stats().total == 1 and not store.unconfirmed(first.op.op_id)
    assert store.unconfirmed(second.op.op_id)
    assert _file_total(db) == 2, "the delete waits for the next write"
    store.release()
    assert [r.seq for r in store.lease(10, LEASE_BYTES)] == [2], "a confirmed row is never sent again"
    store.record([AddItem("c", A)])
    assert _file_total(db) == 2, "the next op's transaction deleted the confirmed row and added its own"
    assert store.confirm(store.epoch, 0, [3]) == 1
    store.settle_confirms()  # the pump's tick, when nothing else is written
    assert _file_total(db) == 1
    store.close()


def test_a_crash_before_the_delete_only_sends_the_confirmed_rows_again(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    store.record([AddItem("c", A), AddItem("c", A)])
    assert store.confirm(store.epoch, 2) == 2 and store.lease(10, LEASE_BYTES) == []
    store.conn.close()  # killed: close() would have settled them
    again = DeviceStore.open(db, "kiosk-01")
    assert [r.seq for r in again.lease(10, LEASE_BYTES)] == [1, 2], "nothing lost: resent, the platform dedups"
    [result] = again.record([AddItem("c", A)])
    assert result.op is not None and result.op.seq == 3, "no seq is issued twice"
    again.close()


def test_a_confirm_of_the_newest_op_keeps_its_high_water_marks_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    [result] = store.record([AddItem("c", A)])
    assert result.op is not None
    assert store.confirm(store.epoch, 1) == 1
    store.close()
    assert _file_total(db) == 0
    again = DeviceStore.open(db, "kiosk-01")
    [later] = again.record([AddItem("c", A)])
    assert later.op is not None and later.op.seq == 2 and later.op.hlc > result.op.hlc
    again.close()


def test_a_watermark_counts_only_the_ops_it_newly_confirms(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.record([AddItem("c", A) for _ in range(6)])
    assert store.confirm(store.epoch, 2) == 2
    assert store.confirm(store.epoch, 2) == 0 and store.confirm(store.epoch, 1) == 0, "a repeat or an older one"
    assert store.confirm(store.epoch, 2, [5]) == 1
    assert store.confirm(store.epoch, 4) == 2, "3 and 4; 5 was confirmed already"
    store.record([AddItem("c", A)])  # the deletes settle with it
    assert store.confirm(store.epoch, 6) == 1 and store.confirm(store.epoch, 7, [9]) == 1
    assert store.confirm("another-epoch", 7) == 0
    store.close()
