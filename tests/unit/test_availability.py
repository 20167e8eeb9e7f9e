"""Availability beyond the store (endless aisle): per source, the newest count wins, so catalog updates that
arrive reordered, repeated or stale never roll an item's availability back and every device ends the same."""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.contract.aisle import Availability
from edge_agent.contract.catalog import CatalogItem, CatalogUpdate
from edge_agent.identifiers.product_key import parse_code
from edge_agent.store.availability import availability_of
from edge_agent.store.device import DeviceStore
from edge_agent.store.lookup import lookup
from tests.support.fuzz import fuzz

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SHIRT = "05012345678900"
SOURCES = ["online", "s001", "s007"]


def update(version: int, counts: dict[str, tuple[int, int]]) -> CatalogUpdate:
    """A catalog update stamping SHIRT at ``version`` with {source: (qty, minutes after T0)}."""
    raw: dict[str, object] = {"stores": []}
    for source, (qty, minutes) in counts.items():
        count = {"qty": qty, "as_of": (T0 + timedelta(minutes=minutes)).isoformat()}
        if source == "online":
            raw["online"] = count
        else:
            raw["stores"].append({**count, "store": source})  # type: ignore[attr-defined]
    item = CatalogItem(gtin14=SHIRT, version=version, name="Shirt", availability=Availability.model_validate(raw))
    return CatalogUpdate(version=version, items=[item])


def final_availability(updates: list[CatalogUpdate]) -> Availability | None:
    with tempfile.TemporaryDirectory() as tmp:
        store = DeviceStore.open(Path(tmp) / "device.db", "kiosk-01")
        try:
            for u in updates:
                store.apply_catalog(u)
            return availability_of(store.conn, SHIRT)
        finally:
            store.close()


def test_a_newer_count_replaces_an_older_one_and_never_the_reverse(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "device.db", "kiosk-01")
    store.apply_catalog(update(1, {"online": (5, 10), "s007": (2, 10)}))
    store.apply_catalog(update(2, {"online": (4, 20)}))
    store.apply_catalog(update(3, {"online": (9, 5), "s007": (0, 30)}))  # a newer version, an older online count
    got = availability_of(store.conn, SHIRT)
    assert got is not None and got.online is not None
    assert (got.online.qty, got.online.as_of) == (4, T0 + timedelta(minutes=20)), "the 09:20 count stays"
    assert [(s.store, s.qty) for s in got.stores] == [("s007", 0)], "s007's newer count (none left) wins"


def test_following_the_item_version_instead_would_depend_on_arrival_order() -> None:
    """Why availability ignores the item's version: v2 carries an older count than v1 (a slower feed)."""
    v1, v2 = update(1, {"online": (3, 20)}), update(2, {"online": (8, 10)})
    assert final_availability([v1, v2]) == final_availability([v2, v1])
    got = final_availability([v2, v1])
    assert got is not None and got.online is not None and got.online.qty == 3


def test_a_lookup_shows_availability_elsewhere_with_its_as_of_times(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "device.db", "shelf-01")
    store.apply_catalog(update(1, {"online": (5, 10), "s007": (2, 15)}))
    result = lookup(store.conn, parse_code(SHIRT), online=False)
    assert result.availability is not None and result.availability.online is not None
    assert result.availability.online.qty == 5 and result.availability.stores[0].store == "s007"
    assert result.offline, "figures from the cache while the uplink is down are labelled"


@fuzz(200)
@given(
    versions=st.lists(
        st.tuples(
            st.integers(1, 6),
            st.dictionaries(st.sampled_from(SOURCES), st.tuples(st.integers(0, 9), st.integers(0, 5)), max_size=3),
        ),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_reordered_or_repeated_updates_converge_to_the_newest_count_per_source(
    versions: list[tuple[int, dict[str, tuple[int, int]]]], seed: int
) -> None:
    updates = [update(v, counts) for v, counts in versions]
    shuffled = list(updates)
    random.Random(seed).shuffle(shuffled)
    in_order = final_availability(updates)
    assert final_availability(shuffled + updates[: len(updates) // 2]) == in_order
    newest: dict[str, tuple[int, int]] = {}
    for _, counts in versions:
        for source, (qty, minutes) in counts.items():
            newest[source] = max(newest.get(source, (-1, -1)), (minutes, qty))
    got = {} if in_order is None else {s.store: (s.qty, s.as_of) for s in in_order.stores}
    if in_order is not None and in_order.online is not None:
        got["online"] = (in_order.online.qty, in_order.online.as_of)
    assert got == {s: (q, T0 + timedelta(minutes=m)) for s, (m, q) in newest.items()}
