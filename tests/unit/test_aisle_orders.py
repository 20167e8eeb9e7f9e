"""The platform's endless-aisle rule (simulators/aisle_orders.py): a request is accepted only when the source the
shopper chose holds the line's quantity as last counted; every other case is a reasoned refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from edge_agent.contract.catalog import CatalogItem
from edge_agent.domain.ops import CartOp, OpKind
from simulators import aisle_orders

SHIRT = "05012345678900"
AS_OF = datetime(2026, 11, 23, 9, 0, tzinfo=UTC).isoformat()
ITEM = CatalogItem.model_validate(
    {
        "gtin14": SHIRT,
        "version": 1,
        "availability": {"online": {"qty": 5, "as_of": AS_OF}, "stores": [{"store": "s007", "qty": 2, "as_of": AS_OF}]},
    }
)


def request(value: str, key: str = f"aisle.{SHIRT}") -> CartOp:
    return CartOp(
        op_id="kiosk-01:00000000000000aa:7", uuid=uuid.uuid4(), device="kiosk-01", epoch="00000000000000aa", seq=7,
        cart_id="basket-1", kind=OpKind.ATTR_SET, hlc=1, key=key, value=value,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "qty", "item", "state", "reason"),
    [
        ("ship", 5, ITEM, "accepted", None),
        ("pickup@s007", 2, ITEM, "accepted", None),
        ("ship", 6, ITEM, "refused", "not_available"),
        ("pickup@s007", 3, ITEM, "refused", "not_available"),
        ("pickup@s999", 1, ITEM, "refused", "unknown_store"),
        ("pickup@s042", 1, ITEM, "refused", "same_store"),
        ("ship", 0, ITEM, "refused", "no_line"),
        ("ship", 1, None, "refused", "unknown_item"),
        ("ship", 1, CatalogItem(gtin14=SHIRT, version=1), "refused", "not_available"),
    ],
)
def test_the_platform_accepts_what_the_chosen_source_holds_and_refuses_the_rest_with_a_reason(
    value: str, qty: int, item: CatalogItem | None, state: str, reason: str | None
) -> None:
    answer = aisle_orders.decide(request(value), qty, item, "s042")
    assert answer is not None and (answer.state, answer.reason) == (state, reason)
    assert answer.request == "kiosk-01:00000000000000aa:7" and answer.fulfilment == value
    assert (answer.order_ref is not None) == (state == "accepted")


def test_only_order_requests_are_decided_and_an_unreadable_one_gets_no_answer() -> None:
    ops = [
        request("ship"),
        request("carry_out"),
        request("ship", key="tote.state"),
        request("ship", f"aisle.{SHIRT}.answer"),
    ]
    assert aisle_orders.requests(ops) == [ops[0]]
    assert aisle_orders.decide(request("teleport"), 1, ITEM, "s042") is None
