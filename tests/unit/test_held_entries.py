"""A plain scan's cart entry lives in its outbox row until the watermark confirms it (store/held.py, issue 14 bytes per
op): what every reader sees, what a confirm, a removal, a snapshot and a restart do with it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge_agent.const import HELD_ENTRIES_MAX
from edge_agent.domain.basket import AddItem, RemoveItem
from edge_agent.domain.cart import Entry
from edge_agent.store import readonly
from edge_agent.store.device import DeviceStore

A = "04006381333931"
B = "05012345678900"
CART = "kiosk-01-basket-1"


def filed(store: DeviceStore) -> int:
    """Rows in cart_entries: what the file holds beside the outbox rows."""
    return int(store.conn.execute("SELECT count(*) FROM cart_entries").fetchone()[0])


def ids(entries: list[Entry]) -> list[str]:
    return [e.entry_id for e in entries]


def record_entries(store: DeviceStore, *commands: AddItem | RemoveItem) -> list[Entry]:
    out = []
    for result in store.record(list(commands)):
        assert result.op is not None
        out.append(Entry(result.op.op_id, CART, str(result.op.sku), result.op.qty or 1, result.op.hlc, "kiosk-01"))
    return out


def test_a_plain_scan_writes_only_its_outbox_row_and_a_restart_rebuilds_its_entry(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    store.record([AddItem(CART, A)])
    store.record([AddItem(CART, B), AddItem(CART, A, 2)])
    assert filed(store) == 0, "nothing but the outbox rows was written"
    live = store.live_entries(CART)
    assert len(live) == 3 and store.quantities(CART) == {A: 3, B: 1}
    assert readonly.basket_quantities(db, CART) == {A: 3, B: 1}, "another process reads them from the outbox rows"
    assert readonly.entry_ids(db, "kiosk-01") == set(ids(live))
    store.conn.close()  # killed
    again = DeviceStore.open(db, "kiosk-01")
    assert again.live_entries(CART) == live and again.quantities(CART) == {A: 3, B: 1}
    assert [line.qty for line in again.lines(CART)] == [3, 1]
    again.close()


def test_a_confirm_files_the_entries_with_the_delete_of_their_rows(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    store.record([AddItem(CART, A), AddItem(CART, B), AddItem(CART, A)])
    live = store.live_entries(CART)
    assert store.confirm(store.epoch, 2) == 2
    store.settle_confirms()
    assert filed(store) == 2 and store.outbox_stats().total == 1
    assert store.live_entries(CART) == live, "confirmed or not, the basket is the same"
    store.conn.close()
    again = DeviceStore.open(db, "kiosk-01")
    assert again.live_entries(CART) == live, "each entry once: filed ones are not held again"
    assert readonly.basket_quantities(db, CART) == {A: 2, B: 1}
    again.close()


def test_a_removal_files_every_held_entry_first_and_a_collected_one_never_comes_back(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    a, b = record_entries(store, AddItem(CART, A), AddItem(CART, B))
    [removal] = store.record([RemoveItem(CART, A)])
    assert removal.op is not None and removal.op.observed == (a.entry_id,), "the removal observed the held entry"
    assert filed(store) == 2 and store.quantities(CART) == {B: 1}
    # The platform applied all three and says so in a snapshot, before its watermark: the removal is collected.
    assert store.merge_snapshot(CART, 1, [a, b], [a.entry_id], [], hlc_max=0)
    assert ids(store.all_entries(CART)) == [b.entry_id]
    store.conn.close()
    again = DeviceStore.open(db, "kiosk-01")
    assert ids(again.all_entries(CART)) == [b.entry_id], "the add's row is still unconfirmed, its entry stays gone"
    assert again.quantities(CART) == {B: 1}
    again.close()


def test_a_snapshot_that_lists_held_entries_leaves_each_entry_once(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    a, b = record_entries(store, AddItem(CART, A), AddItem(CART, B))
    assert store.merge_snapshot(CART, 1, [a], [], [], hlc_max=0)
    assert sorted(ids(store.all_entries(CART))) == sorted([a.entry_id, b.entry_id])
    assert store.quantities(CART) == {A: 1, B: 1}
    store.conn.close()
    again = DeviceStore.open(db, "kiosk-01")
    assert sorted(ids(again.all_entries(CART))) == sorted([a.entry_id, b.entry_id])
    again.close()


def test_past_the_bound_a_group_files_every_held_entry_in_bulk(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    group = HELD_ENTRIES_MAX // 4
    for _ in range(4):
        store.record([AddItem(CART, A)] * group)
    assert filed(store) == 0
    store.record([AddItem(CART, B)])
    assert filed(store) == HELD_ENTRIES_MAX + 1, "the held ones and the new one, in one transaction"
    store.record([AddItem(CART, B)])
    assert filed(store) == HELD_ENTRIES_MAX + 1, "held again from the next group on"
    store.conn.close()
    again = DeviceStore.open(db, "kiosk-01")
    assert again.quantities(CART) == {A: HELD_ENTRIES_MAX, B: 2}
    again.close()


def test_an_erasure_drops_the_held_entries_and_a_restart_does_not_bring_them_back(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    store.record([AddItem(CART, A), AddItem("other", B)])
    assert store.erase_cart(CART).ops == 1
    assert store.live_entries(CART) == [] and store.quantities("other") == {B: 1}
    store.conn.close()
    again = DeviceStore.open(db, "kiosk-01")
    assert again.live_entries(CART) == [] and again.quantities("other") == {B: 1}
    again.close()


def test_on_a_nearly_full_disk_after_an_outage_a_removal_and_a_checkout_still_go_through(tmp_path: Path) -> None:
    """What is held is filed before a removal, in its commit: few enough (HELD_ENTRIES_MAX) that a removal and a
    checkout fit in the room they took before scans held their entries (30 pages here: the removal tombstones 500
    entries), store/budget.py's promise. With 1024 held, the removal was refused storage_full."""
    from edge_agent.domain.basket import RequestCheckout

    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    for i in range(1000):  # an outage: nothing confirms
        store.record([AddItem(CART, A if i % 2 else B)])
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count={pages + 30}")  # the disk fills up
    [scan] = store.record([AddItem(CART, A)])
    assert scan.refused is None, "a scan still fits"
    [removal] = store.record([RemoveItem(CART, B)])
    assert removal.refused is None, removal.refused
    [checkout] = store.record([RequestCheckout(CART)])
    assert checkout.refused is None, checkout.refused


def test_near_the_storage_budget_scans_file_their_entries_at_once(tmp_path: Path) -> None:
    """The budget counts live pages and a held entry has none: near it nothing is held, so what a removal will need
    is already counted while scans are still admitted."""
    from edge_agent.store.budget import used_bytes

    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.budget.max_bytes = used_bytes(store.conn)  # already at the budget's collect line
    before = filed(store)
    [scan] = store.record([AddItem(CART, A)])
    assert scan.refused is not None and scan.refused.reason == "storage_budget"
    store.budget.max_bytes = int(used_bytes(store.conn) / 0.95)  # room again, but near the line
    [scan] = store.record([AddItem(CART, A)])
    assert scan.refused is None and filed(store) == before + 1, "filed with its scan, not held"


def test_rows_an_earlier_agent_wrote_after_a_rollback_are_not_taken_for_held_entries(tmp_path: Path) -> None:
    """An earlier release knows no mark: it files every entry it records, and its removals tombstone them. Back on
    this release, its rows above the stale mark are filed or removed already, so none comes back as held."""
    import json
    import sqlite3

    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    [held] = record_entries(store, AddItem(CART, A))
    store.close()
    conn = sqlite3.connect(db, isolation_level=None)  # the earlier agent: add B (filed), then remove it
    (body,) = conn.execute("SELECT body FROM outbox WHERE seq = 1").fetchone()
    op = json.loads(body)
    op_b = {**op, "seq": 2, "op_id": op["op_id"][: -len(":1")] + ":2", "sku": B}
    with conn:
        conn.execute(
            "INSERT INTO outbox (seq, cart_id, kind, body, hlc, created_at) VALUES (2, ?, 'entry.add', ?, ?, 0)",
            (CART, json.dumps(op_b), op["hlc"] + 1),
        )
        conn.execute(
            "INSERT INTO cart_entries (entry_id, cart_id, sku, qty, hlc, origin_device) VALUES (?, ?, ?, 1, ?, ?)",
            (op_b["op_id"], CART, B, op["hlc"] + 1, "kiosk-01"),
        )
        conn.execute("INSERT INTO cart_tombstones (entry_id, cart_id) VALUES (?, ?)", (op_b["op_id"], CART))
    conn.close()
    again = DeviceStore.open(db, "kiosk-01")
    assert again.quantities(CART) == {A: 1}, "the removed line stays removed; the held one is still there"
    assert readonly.basket_quantities(db, CART) == {A: 1}
    assert ids(again.live_entries(CART)) == [held.entry_id]


def test_a_clean_stop_files_every_held_entry_so_an_earlier_release_reads_the_whole_basket(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    store = DeviceStore.open(db, "kiosk-01")
    live = record_entries(store, AddItem(CART, A), AddItem(CART, B))
    assert filed(store) == 0
    store.close()  # systemctl stop, before a rollback installs an earlier release
    earlier = sqlite3.connect(db)  # an earlier release reads cart_entries alone
    rows = earlier.execute("SELECT entry_id FROM cart_entries WHERE cart_id = ? ORDER BY entry_id", (CART,))
    assert [r[0] for r in rows] == sorted(ids(live))
    earlier.close()
    again = DeviceStore.open(db, "kiosk-01")
    assert again.live_entries(CART) == sorted(live, key=lambda e: (e.hlc, e.entry_id)) and filed(again) == 2
    assert again.quantities(CART) == {A: 1, B: 1}, "each entry once: filed, not held again"
    again.close()
