"""The ended baskets' retention schedule: due carts come oldest first, a cart the store must keep (its ops still
unconfirmed) steps behind the others instead of blocking them, in normal and early (storage budget) passes, without
losing its own retention; a purged or erased cart leaves the schedule."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge_agent.const import PURGES_PER_TICK
from edge_agent.domain.basket import AddItem
from edge_agent.domain.session import MergePolicy
from edge_agent.roles.sessions import SessionDesk
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


RETENTION_S = 3600.0
LEASE_BYTES = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _desk(store: DeviceStore, clock: Clock) -> SessionDesk:
    desk = SessionDesk(
        store,
        MergePolicy.SUM,
        None,
        idle_timeout_s=60.0,
        anonymous_retention_s=RETENTION_S,
        publish_state=lambda _m: None,
        follow_cart=lambda _c: None,
        record=store.record,
        now=clock,
    )
    desk.start("g-0")
    return desk


def _confirm_all(store: DeviceStore) -> None:
    store.mark_sent([r.seq for r in store.lease(1000, LEASE_BYTES)])
    store.confirm(store.epoch, store.highest_issued_seq())


def test_a_basket_refused_in_an_early_pass_keeps_its_retention(tmp_path: Path) -> None:
    store, clock = DeviceStore.open(tmp_path / "agent.db", "kiosk-01"), Clock()
    desk = _desk(store, clock)
    store.record([AddItem("g-0", A)])
    desk.end("idle", "g-1")  # anonymous: kept RETENTION_S, the shopper may come back
    assert desk.purge_due(early=True) == [], "unconfirmed: kept"
    _confirm_all(store)
    clock.t += 10.0  # pressure gone, retention far from over
    assert desk.purge_due() == [], "purged 10 s after the session ended, retention was an hour"


def test_early_passes_reach_a_confirmed_basket_behind_those_waiting_for_the_platform(tmp_path: Path) -> None:
    store, clock = DeviceStore.open(tmp_path / "agent.db", "kiosk-01"), Clock()
    desk = _desk(store, clock)
    for i in range(PURGES_PER_TICK):  # offline: these baskets' ops wait for the platform
        store.record([AddItem(f"g-{i}", A)])
        desk.end("idle", f"g-{i + 1}")
        clock.t += 1.0
    desk.end("idle", "g-last")  # g-{PURGES_PER_TICK}: nothing recorded, so nothing to wait for
    done = f"g-{PURGES_PER_TICK}"
    purged: list[str] = []
    for _ in range(3):  # three budget passes
        purged += desk.purge_due(early=True)
        clock.t += 1.0
    assert done in purged, "the waiting baskets were tried again ahead of it at every pass"
