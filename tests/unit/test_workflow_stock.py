"""Shelf stock signal and price mismatches (retail note §1.5)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.workflows import stock as S
from edge_agent.domain.workflows.stock import StockSignal, StockState, price_mismatch
from edge_agent.identifiers.gtin import gtin_check_digit
from tests.support.fuzz import fuzz


def gtin(n: int) -> str:
    body = f"{n:013d}"
    return body + str(gtin_check_digit(body))


SOAP = gtin(55)


def names_along(counts: list[int], low_at: int = 2) -> list[str | None]:
    signal, names = StockSignal(SOAP, low_at), []
    for n, count in enumerate(counts):
        out = signal.observe(count, method="rfid", now=n)
        assert out.refused is None
        signal = out.state
        names.append(out.events[0].name if out.events else None)
    return names


def test_stock_goes_low_then_out_then_replenished_then_ok_with_one_event_per_change() -> None:
    assert names_along([9, 2, 1, 0, 0, 8, 9]) == [None, "stock.low", None, "stock.out", None, "stock.replenished", None]


def test_a_low_shelf_restocked_above_the_threshold_is_replenished_once() -> None:
    assert names_along([1, 5, 6, 1]) == ["stock.low", "stock.replenished", None, "stock.low"]


def test_a_partial_restock_of_an_empty_shelf_is_still_low() -> None:
    assert names_along([0, 1, 3]) == ["stock.out", "stock.low", "stock.replenished"]


def test_the_low_threshold_is_configuration() -> None:
    assert names_along([5, 4], low_at=5) == ["stock.low", None]


def test_events_carry_the_gtin_method_and_count() -> None:
    out = StockSignal(SOAP).observe(0, method="scan", now=7, actor="assoc-ann")
    (event,) = out.events
    assert (event.subject, event.actor, event.at) == (SOAP, "assoc-ann", 7)
    assert event.data == {"gtin14": SOAP, "method": "scan", "count": 0, "previous": "ok"}


def test_impossible_counts_and_unknown_methods_are_refused() -> None:
    signal = StockSignal(SOAP)
    for out, reason in (
        (signal.observe(-1, method="rfid", now=0), "bad_count"),
        (signal.observe(1, method="psychic", now=0), "unknown_method"),
    ):
        assert out.refused is not None and out.refused.reason == reason and out.state is signal and not out.events


def test_a_signal_is_configured_for_a_valid_gtin_and_threshold() -> None:
    with pytest.raises(ValueError):
        StockSignal("123")
    with pytest.raises(ValueError):
        StockSignal(SOAP, low_at=-1)


def test_a_price_mismatch_is_reported_and_matching_prices_are_refused() -> None:
    out = price_mismatch(SOAP, Decimal("2.49"), Decimal("2.99"), now=3)
    (event,) = out.events
    assert event.name == "price.mismatch" and event.data == {
        "gtin14": SOAP,
        "shelf_price": "2.49",
        "system_price": "2.99",
    }
    same = price_mismatch(SOAP, Decimal("2.99"), Decimal("2.990"), now=3)
    assert same.refused is not None and same.refused.reason == "prices_match" and not same.events
    for gtin14, shelf, system, reason in (
        (SOAP, "-1", "2", "bad_price"),
        (SOAP, "NaN", "2", "bad_price"),
        ("12", "1", "2", "bad_gtin"),
    ):
        out = price_mismatch(gtin14, Decimal(shelf), Decimal(system), now=3)
        assert out.refused is not None and out.refused.reason == reason and out.refused.detail and not out.events


@fuzz(200)
@given(
    low_at=st.integers(0, 5),
    steps=st.lists(st.tuples(st.integers(-2, 10), st.sampled_from(["rfid", "scan", "associate", "x"])), max_size=40),
)
def test_the_state_always_follows_the_count_and_events_only_mark_changes(
    low_at: int, steps: list[tuple[int, str]]
) -> None:
    signal = StockSignal(SOAP, low_at)
    for now, (count, method) in enumerate(steps):
        before = signal
        out = signal.observe(count, method=method, now=now)
        if out.refused is not None:
            assert out.refused.reason in S.REFUSAL_REASONS and out.refused.detail
            assert out.state is before and not out.events
            continue
        signal = out.state
        assert signal.state in set(StockState) and signal.count == count
        if count == 0:
            assert signal.state is StockState.OUT
        elif count <= low_at:
            assert signal.state is StockState.LOW
        else:
            assert signal.state in (StockState.OK, StockState.REPLENISHED)
            assert (signal.state is StockState.REPLENISHED) == (before.state in (StockState.LOW, StockState.OUT))
        expected = [] if signal.state in (before.state, StockState.OK) else [f"stock.{signal.state.value}"]
        assert [e.name for e in out.events] == expected
        assert all(e.name in S.EVENT_NAMES for e in out.events)


@fuzz(200)
@given(shelf=st.decimals(0, 100, places=2), system=st.decimals(0, 100, places=2))
def test_a_price_mismatch_is_an_event_exactly_when_the_prices_differ(shelf: Decimal, system: Decimal) -> None:
    out = price_mismatch(SOAP, shelf, system, now=0)
    assert (out.refused is None) == (shelf != system)
    assert len(out.events) == (0 if out.refused else 1)
