"""The kiosk's basket view, built from the store: stale prices are flagged, the latest refusal and the checkout
ride along as codes, and a till code is an in-store EAN-13 a till can scan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_agent.contract.catalog import CatalogItem, CatalogUpdate
from edge_agent.contract.device import BasketRefusal, CheckoutView
from edge_agent.domain.basket import AddItem
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.roles.basket import till_code
from edge_agent.roles.basket_view import basket_view, prices_stale
from edge_agent.screen.const import PRICES_STALE_AFTER_S
from edge_agent.store.device import DeviceStore

SOCKS = "04006381333931"
CART = "kiosk-01-basket"
PRICED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> DeviceStore:
    store = DeviceStore.open(tmp_path / "agent.db", "kiosk-01")
    store.open_cart(CART)
    item = CatalogItem(gtin14=SOCKS, version=1, name="Wool socks", price_minor=899, currency="EUR",
                       price_as_of=PRICED_AT)  # fmt: skip
    store.apply_catalog(CatalogUpdate(version=1, items=[item]))
    store.record([AddItem(CART, SOCKS)])
    return store


def test_prices_are_stale_only_once_the_oldest_is_older_than_the_screen_trusts() -> None:
    priced = PRICED_AT.timestamp()
    assert prices_stale(PRICED_AT, priced + PRICES_STALE_AFTER_S) is False
    assert prices_stale(PRICED_AT, priced + PRICES_STALE_AFTER_S + 1) is True
    assert prices_stale(None, priced + 10 * PRICES_STALE_AFTER_S) is False, "no cached price: each line says so"


def test_the_view_flags_stale_prices_and_carries_the_refusal_and_the_checkout(store: DeviceStore) -> None:
    fresh = basket_view(store, CART, now=PRICED_AT.timestamp() + 60)
    assert (fresh.items, fresh.total_minor, fresh.prices_stale) == (1, 899, False)
    assert fresh.refused is None and fresh.checkout is None
    refusal = BasketRefusal(reason="bad_check_digit", at=PRICED_AT, source="barcode")
    checkout = CheckoutView(state="pay_at_till", till_code=till_code(42))
    later = PRICED_AT.timestamp() + PRICES_STALE_AFTER_S + 60
    view = basket_view(store, CART, now=later, refused=refusal, checkout=checkout)
    assert view.prices_stale is True
    assert view.refused == refusal and view.checkout == checkout


def test_a_till_code_is_an_in_store_ean13_with_a_valid_check_digit() -> None:
    for number in (0, 42, 10**11 - 1):
        code = till_code(number)
        assert len(code) == 13 and code.startswith("2")
        assert normalise_gtin(code) == "0" + code, "a scanner accepts it: the check digit is right"
    assert till_code(42) != till_code(43)
