"""The ended baskets' retention schedule: due carts come oldest first, a cart the store must keep (its ops still
unconfirmed) steps behind the others instead of blocking them, and a purged or erased cart leaves the schedule."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge_agent.domain.basket import AddItem
from edge_agent.store.device import DeviceStore

A = "04006381333931"


@pytest.fixture
def store(tmp_path: Path) -> DeviceStore:
    return DeviceStore.open(tmp_path / "agent.db", "kiosk-01")


def test_due_carts_come_oldest_first_and_the_active_cart_is_never_among_them(store: DeviceStore) -> None:
    store.schedule_purges({"g-a": 10.0, "g-b": 5.0, "g-c": 20.0})
    assert store.purges_due(15.0, 8) == ["g-b", "g-a"]
    assert store.purges_due(15.0, 8, skip="g-b") == ["g-a"]
    assert store.purges_due(None, 8) == ["g-b", "g-a", "g-c"], "near the budget: every scheduled cart"
    assert store.purges_due(15.0, 1) == ["g-b"], "bounded per call"


def test_a_cart_scheduled_again_takes_the_latest_sessions_time(store: DeviceStore) -> None:
    store.schedule_purges({"profile-ada": 5.0})
    store.schedule_purges({"profile-ada": 500.0})  # the shopper came back and gave "profile" this time
    assert store.purges_due(100.0, 8) == []


def test_carts_that_must_wait_step_behind_the_others_instead_of_blocking_them(store: DeviceStore) -> None:
    store.record([AddItem("g-unsent", A)])  # unconfirmed: the purge must refuse it
    store.schedule_purges({"g-unsent": 1.0, "g-done": 2.0})
    [first] = store.purges_due(10.0, 1)
    assert first == "g-unsent" and store.purge_cart(first) is False
    store.postpone_purges([first], 10.0)
    assert store.purges_due(10.0, 1) == ["g-done"]


def test_a_purged_or_erased_cart_leaves_the_schedule(store: DeviceStore) -> None:
    store.schedule_purges({"g-1": 1.0, "profile-ada": 1.0})
    assert store.purge_cart("g-1")
    store.erase_cart("profile-ada")
    assert store.purges_due(None, 8) == []


def test_the_schedule_kept_in_meta_by_earlier_versions_is_carried_over(tmp_path: Path) -> None:
    DeviceStore.open(tmp_path / "agent.db", "kiosk-01").close()
    conn = sqlite3.connect(tmp_path / "agent.db", isolation_level=None)  # the file as 0012 left it
    conn.execute("DROP TABLE purge_schedule")
    conn.execute("DELETE FROM _migrations WHERE name = '0013_purge_schedule'")
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('purge_due', ?)", (json.dumps({"g-old": 3.0}),))
    conn.close()
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    assert store.purges_due(5.0, 8) == ["g-old"]
    assert store.meta("purge_due") is None
