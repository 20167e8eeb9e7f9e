"""The device store: PRAGMAs asserted, ops durable on COMMIT, the outbox's lease/ack port."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.domain.basket import AddItem, RemoveItem
from edge_agent.domain.cart import Effects, Entry, quantities
from edge_agent.store import carts
from edge_agent.store.db import StorageError, connect
from edge_agent.store.device import DeviceStore

A, B = "04006381333931", "05012345678900"


@pytest.fixture
def store(tmp_path: Path) -> DeviceStore:
    return DeviceStore.open(tmp_path / "agent.db", "kiosk-01")


def test_the_database_runs_in_wal_mode_with_full_sync(store: DeviceStore) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_database_that_cannot_do_wal_is_refused(tmp_path: Path) -> None:
    # An in-memory database cannot use WAL: the same check catches a filesystem that cannot.
    with pytest.raises(StorageError, match="journal_mode"):
        from edge_agent.store.db import assert_pragmas

        assert_pragmas(sqlite3.connect(":memory:"))


def test_a_saved_op_is_in_the_file_for_any_other_connection_once_record_returns(
    store: DeviceStore, tmp_path: Path
) -> None:
    [result] = store.record([AddItem("c", A)])
    assert result.op is not None
    other = connect(tmp_path / "agent.db", read_only=True)
    assert other.execute("SELECT body FROM outbox").fetchone()[0].find(result.op.op_id) >= 0


def test_a_database_belongs_to_one_device(tmp_path: Path) -> None:
    DeviceStore.open(tmp_path / "agent.db", "kiosk-01").close()
    with pytest.raises(StorageError, match="belongs to device 'kiosk-01'"):
        DeviceStore.open(tmp_path / "agent.db", "kiosk-02")


def test_seq_is_never_reused_after_the_newest_rows_are_confirmed_and_the_agent_restarts(
    tmp_path: Path,
) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.record([AddItem("c", A), AddItem("c", A)])
    assert store.confirm(store.epoch, 2) == 2
    store.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    [result] = store.record([AddItem("c", B)])
    assert result.op is not None and result.op.seq == 3


def test_lease_takes_pending_rows_in_seq_order_and_never_hands_out_a_leased_row_again(
    store: DeviceStore,
) -> None:
    store.record([AddItem("c", A) for _ in range(5)])
    first = store.lease(3, 1 << 20)
    second = store.lease(3, 1 << 20)
    assert [r.seq for r in first] == [1, 2, 3]
    assert [r.seq for r in second] == [4, 5]
    assert store.lease(3, 1 << 20) == []


def test_a_lease_after_one_that_took_everything_sees_each_row_recorded_released_or_expired_since(
    store: DeviceStore,
) -> None:
    store.record([AddItem("c", A) for _ in range(2)])
    assert [r.seq for r in store.lease(10, 1 << 20)] == [1, 2] and store.lease(10, 1 << 20) == []
    store.record([AddItem("c", A)])
    assert [r.seq for r in store.lease(10, 1 << 20)] == [3] and store.lease(10, 1 << 20) == []
    store.release([2])
    assert [r.seq for r in store.lease(10, 1 << 20)] == [2]
    store.mark_sent([1, 2, 3])
    assert store.expire_sent(sent_before=float("inf")) == 3
    assert [r.seq for r in store.lease(10, 1 << 20)] == [1, 2, 3]
    store.release()
    assert [r.seq for r in store.lease(1, 1 << 20)] == [1] and [r.seq for r in store.lease(10, 1 << 20)] == [2, 3]


def test_a_puback_marks_sent_but_only_the_watermark_deletes(store: DeviceStore) -> None:
    store.record([AddItem("c", A) for _ in range(3)])
    rows = store.lease(10, 1 << 20)
    store.mark_sent([r.seq for r in rows])
    assert store.outbox_stats().sent == 3 and store.outbox_stats().total == 3
    assert store.confirm("ffffffffffffffff", 3) == 0  # another epoch's watermark is not ours
    assert store.confirm(store.epoch, 1, [3]) == 2
    assert [r.seq for r in store.lease(10, 1 << 20)] == []  # seq 2 is sent, not pending
    assert store.expire_sent(sent_before=float("inf")) == 1  # T_ack passed: back to pending
    assert [r.seq for r in store.lease(10, 1 << 20)] == [2]


def test_release_returns_rows_to_pending_and_a_restart_releases_everything(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.record([AddItem("c", A) for _ in range(4)])
    rows = store.lease(2, 1 << 20)
    store.release([rows[0].seq])
    store.mark_sent([rows[1].seq])
    store.lease(10, 1 << 20)
    store.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    assert store.outbox_stats().pending == 4


def test_lease_respects_the_byte_budget_but_always_makes_progress(store: DeviceStore) -> None:
    store.record([AddItem("c", A) for _ in range(3)])
    assert len(store.lease(10, 1)) == 1


def test_a_remove_in_the_same_group_commit_sees_the_add_before_it(store: DeviceStore) -> None:
    results = store.record([AddItem("c", A), RemoveItem("c", A)])
    assert results[1].op is not None and results[1].op.observed == (results[0].op.op_id,)  # type: ignore[union-attr]
    assert store.lines("c") == []


def test_a_refused_command_is_reported_and_does_not_stop_the_rest_of_the_group(store: DeviceStore) -> None:
    results = store.record([RemoveItem("c", B), AddItem("c", A)])
    assert results[0].refused is not None and results[0].refused.reason == "not_in_basket"
    assert results[1].op is not None


def test_the_hlc_survives_a_restart_with_a_clock_that_went_back_to_1970(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01", wall_ms=lambda: 1_795_000_000_000)
    [before] = store.record([AddItem("c", A)])
    store.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01", wall_ms=lambda: 0)
    [after] = store.record([AddItem("c", A)])
    assert after.op is not None and before.op is not None and after.op.hlc > before.op.hlc


def test_bookkeeping_leaves_the_connection_at_full_sync_for_the_next_op(store: DeviceStore) -> None:
    store.record([AddItem("c", A)])
    store.mark_sent([r.seq for r in store.lease(10, 1 << 20)])
    store.confirm(store.epoch, 1)
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again for record()


def test_retention_purge_waits_for_confirmation_but_an_erasure_drops_unsent_edits_too(store: DeviceStore) -> None:
    store.record([AddItem("profile-ada", "04006381333931"), AddItem("profile-ada", "05012345678900")])
    store.record([AddItem("guest-1", "04006381333931")])
    assert store.purge_cart("profile-ada") is False, "retention never loses an op the shopper saw saved"
    assert store.erase_cart("profile-ada").ops == 2
    assert "profile-ada" not in store.cart_ids() and store.lines("profile-ada") == []
    leftovers = [
        (table, n)
        for table in ("cart_entries", "cart_tombstones", "cart_attrs", "cart_seals", "carts", "outbox")
        if (n := store.conn.execute(f"SELECT count(*) FROM {table} WHERE cart_id = 'profile-ada'").fetchone()[0])
    ]
    assert leftovers == []
    assert store.lines("guest-1")[0].qty == 1, "other carts are untouched"


def test_a_database_migrated_by_sqlite_utils_runs_no_migration_again(tmp_path: Path) -> None:
    from edge_agent.store.db import migrate
    from edge_agent.store.schema import DEVICE_MIGRATIONS

    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    # Exactly the table sqlite-utils' Table.create({"name": str, "applied_at": str}, pk="name") made.
    conn.execute("CREATE TABLE [_migrations] (\n   [name] TEXT PRIMARY KEY,\n   [applied_at] TEXT\n)")
    first = DEVICE_MIGRATIONS[:3]
    for name, step in first:
        step(conn)
        conn.execute("INSERT INTO _migrations(name, applied_at) VALUES (?, datetime('now'))", (name,))
    assert migrate(conn, DEVICE_MIGRATIONS) == [name for name, _ in DEVICE_MIGRATIONS[3:]]
    assert migrate(conn, DEVICE_MIGRATIONS) == []


def test_a_row_put_back_to_pending_below_the_lease_cursor_is_leased_again_first(store: DeviceStore) -> None:
    store.record([AddItem("c", A) for _ in range(6)])
    assert [r.seq for r in store.lease(4, 1 << 20)] == [1, 2, 3, 4]
    store.release([2])
    store.record([AddItem("c", A)])
    assert [r.seq for r in store.lease(3, 1 << 20)] == [2, 5, 6]
    store.mark_sent([1, 2, 3, 4, 5, 6])
    assert [r.seq for r in store.lease(10, 1 << 20)] == [7]
    assert store.expire_sent(sent_before=float("inf")) == 6
    assert [r.seq for r in store.lease(10, 1 << 20)] == [1, 2, 3, 4, 5, 6]
    store.release()
    assert [r.seq for r in store.lease(2, 1 << 20)] == [1, 2]


def test_a_new_op_touches_no_index_of_the_outbox_state(store: DeviceStore) -> None:
    """Write amplification: the file holds an op's row, not its lease/sent state (bench/bench_write_amp.py)."""
    indexes = [r[1] for r in store.conn.execute("SELECT * FROM sqlite_master WHERE tbl_name = 'outbox'")]
    assert indexes == ["outbox"], "the outbox is its table alone, keyed by seq"
    columns = {r[1] for r in store.conn.execute("PRAGMA table_info(outbox)")}
    assert not columns & {"state", "attempts", "last_sent_at"}


def test_leasing_and_a_puback_write_nothing_to_the_file(store: DeviceStore) -> None:
    """They are reset at every start anyway: everything unconfirmed is sent again after a restart."""
    store.record([AddItem("c", A) for _ in range(3)])
    before = store.conn.total_changes
    store.mark_sent([r.seq for r in store.lease(10, 1 << 20)])
    assert store.conn.total_changes == before
    assert store.outbox_stats().sent == 3


def test_the_hlc_and_seq_survive_a_restart_after_every_op_was_confirmed(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01", wall_ms=lambda: 1_795_000_000_000)
    [before] = store.record([AddItem("c", A)])
    store.record([AddItem("c", A)])
    assert store.confirm(store.epoch, 1) == 1 and store.confirm(store.epoch, 2) == 1
    store.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01", wall_ms=lambda: 0)
    [after] = store.record([AddItem("c", A)])
    assert after.op is not None and before.op is not None
    assert after.op.seq == 3 and after.op.hlc > before.op.hlc + 1


def test_an_erasure_drops_the_unsent_events_queued_under_the_profile_cart_and_no_others(store: DeviceStore) -> None:
    store.queue_events([("cart.line_added", '{"shopper": "ada"}')] * 2, profile_cart="profile-ada")
    store.queue_events([("cart.line_added", '{"shopper": "bo"}')], profile_cart="profile-bo")
    store.queue_events([("shelf.price_checked", "{}")])
    assert store.erase_cart("profile-ada").events == 2
    assert [body for _id, body in store.pending_events(10)] == ['{"shopper": "bo"}', "{}"]
    assert store.erase_cart("profile-ada").events == 0, "nothing left to drop"


def test_an_erasure_of_the_newest_ops_never_lets_their_seqs_be_issued_again(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.record([AddItem("guest-1", A), AddItem("profile-ada", A), AddItem("profile-ada", B)])
    store.lease(10, 1 << 20)
    assert store.erase_cart("profile-ada").ops == 2
    assert store.pending_count() == 0 and store.outbox_stats().total == 1
    store.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    [result] = store.record([AddItem("guest-1", B)])
    assert result.op is not None and result.op.seq == 4


def test_a_seq_is_never_reused_after_the_newest_rows_are_confirmed_and_deleted(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.record([AddItem("c", A) for _ in range(3)])
    assert store.confirm(store.epoch, 3) == 3
    store.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    [result] = store.record([AddItem("c", A)])
    assert result.op is not None and result.op.seq == 4
    assert store.highest_issued_seq() == 4


def test_a_database_from_before_the_seq_moved_to_meta_keeps_its_rows_and_its_high_water_mark(tmp_path: Path) -> None:
    from edge_agent.store.db import migrate, transaction
    from edge_agent.store.readonly import ops_created
    from edge_agent.store.schema import DEVICE_MIGRATIONS

    conn = connect(tmp_path / "agent.db")
    migrate(conn, DEVICE_MIGRATIONS[:7])  # up to 0007: outbox with AUTOINCREMENT and outbox_by_state
    with transaction(conn):
        meta = {"device_id": "kiosk-01", "epoch": "0123456789abcdef", "hlc": "0", "mqtt_session": "0"}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.executemany(
            "INSERT INTO outbox (cart_id, kind, body, hlc, created_at) VALUES ('c', 'entry.add', ?, 1, 0)",
            [(f"body-{i}",) for i in range(1, 6)],
        )
        conn.execute("DELETE FROM outbox WHERE seq > 3")  # AUTOINCREMENT still remembers 5
    conn.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    assert [r.body for r in store.lease(10, 1 << 20)] == ["body-1", "body-2", "body-3"]
    [result] = store.record([AddItem("c", A)])
    assert result.op is not None and result.op.seq == 6
    store.close()
    assert ops_created(tmp_path / "agent.db") == 6


def test_once_every_op_is_confirmed_the_outbox_shows_none_and_the_cart_may_be_purged(store: DeviceStore) -> None:
    store.record([AddItem("c", A), AddItem("c", B)])
    store.mark_sent([r.seq for r in store.lease(10, 1 << 20)])
    assert store.confirm(store.epoch, 2) == 2
    assert store.outbox_stats().total == 0 and store.pending_count() == 0 and store.lease(10, 1 << 20) == []
    assert store.confirm(store.epoch, 2) == 0, "confirming again deletes nothing"
    assert store.purge_cart("c") is True
    [result] = store.record([AddItem("d", A)])
    assert result.op is not None and [r.seq for r in store.lease(10, 1 << 20)] == [3]
    assert store.confirm(store.epoch, 1, [3]) == 1 and store.outbox_stats().total == 0


def test_a_database_from_before_0011_keeps_its_baskets_and_unconfirmed_ops(tmp_path: Path) -> None:
    from edge_agent.store.db import migrate, transaction
    from edge_agent.store.schema import DEVICE_MIGRATIONS

    conn = connect(tmp_path / "agent.db")
    migrate(conn, [m for m in DEVICE_MIGRATIONS if m[0] < "0011"])
    with transaction(conn):
        meta = {"device_id": "kiosk-01", "epoch": "0123456789abcdef", "hlc": "7", "mqtt_session": "0"}
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        conn.execute("INSERT INTO carts (cart_id, opened_at) VALUES ('c', 0)")
        conn.execute(
            "INSERT INTO cart_entries VALUES ('kiosk-01:0123456789abcdef:1', 'c', ?, 2, 7, 'kiosk-01', NULL)", (A,)
        )
        conn.execute(
            "INSERT INTO outbox (seq, cart_id, kind, body, hlc, created_at, state) "
            "VALUES (1, 'c', 'entry.add', 'b', 7, 0, 'sent')"
        )
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'hlc.seq'")
    conn.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    assert store.quantities("c") == {A: 2}
    assert [r.body for r in store.lease(10, 1 << 20)] == ["b"], "what was sent before the restart goes again"
    indexes = [r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'cart_entries'")]
    assert indexes == ["cart_entries"], "entries are keyed by cart: no second index to write at every add"


entries = st.lists(
    st.tuples(
        st.sampled_from(["04006381333931", "05012345678900", "09501101530003"]),
        st.integers(min_value=1, max_value=5),
        st.none() | st.sampled_from(["S1", "S2", "S3"]),
        st.booleans(),
        st.integers(min_value=100, max_value=102),
    ),
    max_size=30,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=entries)
def test_the_stores_quantities_are_the_domains_rule_over_its_live_entries(
    tmp_path: Path, rows: list[tuple[str, int, str | None, bool, int]]
) -> None:
    store = DeviceStore.open(tmp_path / f"q{abs(hash(tuple(rows)))}.db", "kiosk-01")
    try:
        effects = [
            Entry(f"web:e:{i}", "c", sku, qty, hlc, "web", serial) for i, (sku, qty, serial, _, hlc) in enumerate(rows)
        ]
        with store.conn:
            carts.apply_effects(store.conn, (Effects("c", tuple(effects)),))
            store.conn.executemany(
                "INSERT INTO cart_tombstones (entry_id, cart_id) VALUES (?, 'c')",
                [(e.entry_id,) for e, (*_, removed, _hlc) in zip(effects, rows, strict=True) if removed],
            )
        assert store.quantities("c") == quantities(store.live_entries("c"))
        assert list(store.quantities("c")) == list(quantities(store.live_entries("c"))), "in the same order"
    finally:
        store.close()


def test_another_process_sees_a_device_database_as_initialised_only_once_it_is_migrated(tmp_path: Path) -> None:
    """The file exists from the agent's first connect, before its tables: a reader waiting on it must not read early."""
    from edge_agent.store.readonly import initialised

    path = tmp_path / "device.db"
    assert not initialised(path)
    connect(path).close()  # what a reader sees between the agent's connect and its migrations
    assert path.exists() and not initialised(path)
    DeviceStore.open(path, "kiosk-01").close()
    assert initialised(path)
