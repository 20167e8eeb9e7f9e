"""The catalog cache: updates apply per item by version, so order and duplicates never matter; lookups
carry their as-of times and say when they were made offline."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from biip.rcn import RcnRegion
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.contract.catalog import CatalogItem, CatalogUpdate
from edge_agent.identifiers.product_key import parse_code
from edge_agent.store.catalog import get_item
from edge_agent.store.device import DeviceStore
from edge_agent.store.lookup import lookup
from tests.support.fuzz import fuzz

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SHIRT_M, SHIRT_L, SHIRT_S = "05012345678900", "05901234123457", "08710398502131"


def item(gtin14: str, version: int, **fields: object) -> CatalogItem:
    return CatalogItem.model_validate({"gtin14": gtin14, "version": version, **fields})


def fresh_store(tmp_path: Path) -> DeviceStore:
    return DeviceStore.open(tmp_path / "device.db", "shelf-01")


def test_an_older_or_repeated_update_never_rolls_an_item_back(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    new = CatalogUpdate(version=2, items=[item(SHIRT_M, 2, name="Shirt", price_minor=2999, currency="EUR")])
    old = CatalogUpdate(version=1, items=[item(SHIRT_M, 1, name="Shirt", price_minor=3499, currency="EUR")])
    assert store.apply_catalog(new) == 1
    assert store.apply_catalog(old) == 0 and store.apply_catalog(new) == 0
    cached = get_item(store.conn, SHIRT_M)
    assert cached is not None and cached.price_minor == 2999
    assert store.catalog_version() == 2


def test_a_removed_item_stays_removed_against_an_older_update(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    store.apply_catalog(CatalogUpdate(version=3, removed=[SHIRT_M]))
    store.apply_catalog(CatalogUpdate(version=2, items=[item(SHIRT_M, 2, name="Shirt")]))
    assert get_item(store.conn, SHIRT_M) is None
    store.apply_catalog(CatalogUpdate(version=4, items=[item(SHIRT_M, 4, name="Shirt again")]))
    assert get_item(store.conn, SHIRT_M) is not None


@fuzz(60)
@given(
    versions=st.lists(
        st.tuples(st.sampled_from([SHIRT_M, SHIRT_L]), st.integers(1, 20), st.booleans()), min_size=1, max_size=12
    ),
    order=st.randoms(use_true_random=False),
)
def test_property_any_delivery_order_ends_at_the_newest_version_of_every_item(
    tmp_path_factory: object, versions: list[tuple[str, int, bool]], order: object
) -> None:
    updates = [
        CatalogUpdate(version=v, removed=[g]) if removed else CatalogUpdate(version=v, items=[item(g, v, name=f"v{v}")])
        for g, v, removed in versions
    ]
    finals = []
    for shuffle in (False, True):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            store = fresh_store(Path(tmp))
            batch = list(updates)
            if shuffle:
                order.shuffle(batch)  # type: ignore[attr-defined]
            for u in batch + batch:  # and every update delivered twice
                store.apply_catalog(u)
            finals.append({g: get_item(store.conn, g) for g in (SHIRT_M, SHIRT_L)})
            store.close()
    assert finals[0] == finals[1]


def test_a_lookup_shows_price_and_stock_with_their_as_of_times_and_the_other_sizes(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    common = {"name": "Oxford shirt", "style": "oxford-blue", "colour": "blue", "currency": "EUR", "price_as_of": T0}
    store.apply_catalog(
        CatalogUpdate(
            version=1,
            items=[
                item(SHIRT_M, 1, size="M", price_minor=3999, stock=4, stock_as_of=T0, **common),
                item(SHIRT_L, 1, size="L", price_minor=3999, stock=0, stock_as_of=T0, **common),
                item(SHIRT_S, 1, size="S", price_minor=3999, stock=2, stock_as_of=T0, **common),
            ],
        )
    )
    result = lookup(store.conn, parse_code("5012345678900"), online=False)
    assert result.found and result.price_minor == 3999 and result.price_as_of == T0 and result.stock_as_of == T0
    assert result.offline is True, "a lookup made offline says so"
    assert {(v.size, v.stock) for v in result.variants} == {("L", 0), ("S", 2)}


def test_a_variable_measure_label_looks_up_its_base_item_and_shows_the_printed_price(tmp_path: Path) -> None:
    store = fresh_store(tmp_path)
    key = parse_code("2302148012340", "]E0", rcn_region=RcnRegion.SWEDEN)  # Swedish scale label, price embedded
    store.apply_catalog(CatalogUpdate(version=1, items=[item(key.gtin14, 1, name="Cheese, by weight")]))
    result = lookup(store.conn, key, online=True)
    assert result.found and result.name == "Cheese, by weight" and result.offline is False
    assert result.measure is not None and result.measure.kind == key.measure.kind.value  # type: ignore[union-attr]
    assert result.measure.value == key.measure.value and isinstance(result.measure.value, Decimal)  # type: ignore[union-attr]


def test_an_unknown_item_is_a_reasoned_not_found(tmp_path: Path) -> None:
    result = lookup(fresh_store(tmp_path).conn, parse_code("4006381333931"), online=True)
    assert not result.found and result.reason == "not_in_catalog"
