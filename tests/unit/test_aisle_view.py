"""An ordered line's state on a device (edge_agent/roles/aisle.py): requested until the platform's answer to *that*
request arrives, labelled offline while the request is still in the outbox; an answer to an earlier request, or
an unreadable one, never confirms the line."""

from __future__ import annotations

from pathlib import Path

from edge_agent.contract.aisle import AisleAnswer
from edge_agent.domain.basket import AddItem, SetAttribute
from edge_agent.domain.cart import AttrWrite
from edge_agent.domain.fulfilment import answer_key, request_key
from edge_agent.roles.aisle import bad_answers, order_line, order_views
from edge_agent.store.device import DeviceStore

SHIRT = "05012345678900"
CART = "basket-1"


def platform_answers(store: DeviceStore, request_op: str, fulfilment: str, version: int, **answer: str) -> None:
    """The platform's snapshot carrying its answer (written by the platform's own device, ``web``)."""
    value = AisleAnswer(request=request_op, fulfilment=fulfilment, **answer).model_dump_json(exclude_none=True)  # type: ignore[arg-type]
    write = AttrWrite(answer_key(SHIRT), value, 10**15 + version, "web", f"web:00000000000000aa:{version}")
    assert store.merge_snapshot(CART, version, [], [], [write], 10**15)


def ask(store: DeviceStore, fulfilment: str) -> str:
    recorded = store.record(order_line(store, CART, SHIRT, 1, fulfilment, add=False))
    op = recorded[-1].op
    assert op is not None and op.key == request_key(SHIRT)
    return op.op_id


def test_a_line_is_requested_and_offline_until_the_platform_answers_that_request(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "device.db", "kiosk-01")
    store.open_cart(CART)
    first = ask(store, "ship")
    assert store.quantities(CART) == {SHIRT: 1}, "ordering a line the basket lacks adds it"
    view = order_views(store, CART)[SHIRT]
    assert (view.state, view.offline, view.fulfilment) == ("requested", True, "ship")

    store.confirm(store.epoch, store.highest_issued_seq())  # the platform has the ops: no longer offline
    assert order_views(store, CART)[SHIRT].offline is False
    platform_answers(store, first, "ship", 2, state="accepted", order_ref="ea-1")
    view = order_views(store, CART)[SHIRT]
    assert (view.state, view.order_ref) == ("confirmed", "ea-1")

    ask(store, "pickup@s007")  # the shopper changes their mind: the old answer is not this request's
    view = order_views(store, CART)[SHIRT]
    assert (view.state, view.fulfilment) == ("requested", "pickup@s007")
    assert store.quantities(CART) == {SHIRT: 1}, "the line is ordered as it is, not added again"


def test_a_refusal_carries_its_reason_and_carry_out_is_no_order(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "device.db", "kiosk-01")
    store.open_cart(CART)
    request = ask(store, "pickup@s007")
    platform_answers(store, request, "pickup@s007", 2, state="refused", reason="not_available")
    view = order_views(store, CART)[SHIRT]
    assert (view.state, view.reason) == ("refused", "not_available")
    store.record([SetAttribute(CART, request_key(SHIRT), "carry_out")])
    assert order_views(store, CART) == {}


def test_an_unreadable_answer_is_named_for_counting_and_confirms_nothing(tmp_path: Path) -> None:
    store = DeviceStore.open(tmp_path / "device.db", "kiosk-01")
    store.open_cart(CART)
    store.record([AddItem(CART, SHIRT)])
    ask(store, "ship")
    bogus = AttrWrite(answer_key(SHIRT), '{"state": "accepted"}', 10**15, "web", "web:00000000000000aa:1")
    assert store.merge_snapshot(CART, 2, [], [], [bogus], 10**15)
    assert [r.reason for r in bad_answers(store, CART)] == ["bad_aisle_answer"]
    assert order_views(store, CART)[SHIRT].state == "requested"
