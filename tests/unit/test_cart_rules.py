"""The merge table of the sync note (§3.3), one concurrent pair per test, plus the SQLite store agreeing
with the in-memory replica on random effect sequences."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.basket import AddItem, BasketCommand, ClearCart, Refused, RemoveItem, SetQuantity, plan
from edge_agent.domain.cart import CartReplica, effects_of, quantities
from edge_agent.domain.ops import CartOp
from edge_agent.store import carts
from edge_agent.store.db import migrate
from edge_agent.store.schema import DEVICE_MIGRATIONS

A, B, C = "00000000000017", "00000000000024", "00000000000031"
EPOCH = "00000000000000aa"


class Replica:
    def __init__(self, device: str) -> None:
        self.device, self.seq, self.state = device, 0, CartReplica("c")

    def do(self, command: BasketCommand) -> CartOp:
        self.seq += 1
        op = plan(command, self.state.live()).materialise(
            device=self.device, epoch=EPOCH, seq=self.seq, uuid=uuid.uuid4(), hlc=self.seq
        )
        self.state.apply(effects_of(op))
        return op

    def get(self, *ops: CartOp) -> None:
        for op in ops:
            self.state.apply(effects_of(op))


def pair(start: list[BasketCommand], left: BasketCommand, right: BasketCommand) -> dict[str, int]:
    kiosk, web = Replica("kiosk"), Replica("web")
    for command in start:
        web.get(kiosk.do(command))
    op_left, op_right = kiosk.do(left), web.do(right)
    kiosk.get(op_right)
    web.get(op_left)
    assert kiosk.state.quantities() == web.state.quantities()
    return kiosk.state.quantities()


def test_two_concurrent_adds_are_two_units() -> None:
    assert pair([], AddItem("c", A), AddItem("c", A)) == {A: 2}


def test_one_serialised_item_added_on_two_replicas_is_one_item() -> None:
    assert pair([], AddItem("c", A, serial="S1"), AddItem("c", A, serial="S1")) == {A: 1}


def test_two_serials_of_one_product_are_two_items_on_one_line() -> None:
    assert pair([AddItem("c", A)], AddItem("c", A, serial="S1"), AddItem("c", A, serial="S2")) == {A: 3}


def test_a_serial_already_in_the_basket_is_refused_with_a_reason() -> None:
    kiosk = Replica("kiosk")
    kiosk.do(AddItem("c", A, serial="S1"))
    with pytest.raises(Refused) as caught:
        kiosk.do(AddItem("c", A, serial="S1"))
    assert caught.value.reason == "serial_already_in_basket"
    assert kiosk.state.quantities() == {A: 1}


def test_a_remove_keeps_an_add_it_did_not_see() -> None:
    assert pair([AddItem("c", A)], RemoveItem("c", A), AddItem("c", A)) == {A: 1}


def test_two_removes_of_the_same_unit_never_go_negative() -> None:
    assert pair([AddItem("c", A)], RemoveItem("c", A), RemoveItem("c", A)) == {}


def test_set_quantity_and_a_concurrent_add_add_up() -> None:
    assert pair([AddItem("c", A)], SetQuantity("c", A, 3), AddItem("c", A)) == {A: 4}


def test_two_concurrent_set_quantities_add_up_and_that_is_documented() -> None:
    assert pair([AddItem("c", A)], SetQuantity("c", A, 2), SetQuantity("c", A, 5)) == {A: 7}


def test_clear_keeps_what_was_added_elsewhere_meanwhile() -> None:
    assert pair([AddItem("c", A), AddItem("c", B)], ClearCart("c"), AddItem("c", C)) == {C: 1}


def test_a_remove_that_arrives_before_its_add_still_wins() -> None:
    kiosk, platform = Replica("kiosk"), Replica("platform")
    add = kiosk.do(AddItem("c", A))
    remove = kiosk.do(RemoveItem("c", A))
    platform.get(remove, add, add)
    assert platform.state.quantities() == kiosk.state.quantities() == {}


def test_removing_what_is_not_in_the_basket_is_refused_with_a_reason() -> None:
    with pytest.raises(Refused) as exc:
        plan(RemoveItem("c", A), [])
    assert exc.value.reason == "not_in_basket"


ops_strategy = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "set", "clear"]), st.sampled_from([A, B, C]), st.integers(0, 3)),
    max_size=40,
)


@given(ops_strategy, st.randoms())
def test_the_sqlite_tables_hold_the_same_cart_as_the_in_memory_replica(
    steps: list[tuple[str, str, int]], rnd: object
) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn, DEVICE_MIGRATIONS)
    replica = Replica("kiosk")
    made: list[CartOp] = []
    for kind, sku, qty in steps:
        command: BasketCommand = {
            "add": AddItem("c", sku, max(qty, 1)),
            "remove": RemoveItem("c", sku),
            "set": SetQuantity("c", sku, qty),
            "clear": ClearCart("c"),
        }[kind]
        try:
            made.append(replica.do(command))
        except Refused:
            continue
    shuffled = list(made) + list(made)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for op in shuffled:  # any order, twice
        carts.apply_effects(conn, [effects_of(op)])
    assert quantities(carts.live_entries(conn, "c")) == replica.state.quantities()


def test_checkout_seals_what_the_shopper_saw_and_flags_what_was_added_meanwhile() -> None:
    from edge_agent.domain.basket import RequestCheckout
    from edge_agent.domain.cart import decide_checkout

    kiosk, web = Replica("kiosk"), Replica("web")
    a, b = kiosk.do(AddItem("c", A)), kiosk.do(AddItem("c", B))
    web.get(a, b)
    request = kiosk.do(RequestCheckout("c"))
    late = web.do(AddItem("c", C))  # the web did not see the request
    web.get(request)
    first = decide_checkout(web.state.live(), request, None)
    assert first.newly_sealed and first.seal.order_id == request.op_id
    assert first.seal.entry_ids == tuple(sorted([a.op_id, b.op_id]))
    assert first.added_after_checkout == (late.op_id,)  # kept, flagged, never dropped
    again = decide_checkout(web.state.live(), kiosk.do(RequestCheckout("c")), first.seal)
    assert not again.newly_sealed and again.seal == first.seal


def test_checking_out_an_empty_basket_is_refused() -> None:
    from edge_agent.domain.basket import RequestCheckout

    with pytest.raises(Refused) as exc:
        plan(RequestCheckout("c"), [])
    assert exc.value.reason == "empty_basket"
