"""Click-and-collect picking (retail note §1.3) as a pure state machine: rules, then random command sequences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.workflows import picking as P
from edge_agent.domain.workflows.common import Outcome, Source
from edge_agent.domain.workflows.picking import PickLine, PickLineState, PickOrder, PickState, PickTimers
from edge_agent.identifiers.gtin import gtin_check_digit
from tests.support.fuzz import fuzz


def gtin(n: int) -> str:
    body = f"{n:013d}"
    return body + str(gtin_check_digit(body))


MILK, BREAD, PHONE, OAT_MILK, SOAP = gtin(11), gtin(22), gtin(33), gtin(44), gtin(55)
A, B = "assoc-ann", "assoc-bob"
TIMERS = PickTimers(accept_s=300, pick_s=900)


def assigned(now: float = 0.0) -> PickOrder:
    lines = [PickLine("l1", MILK, 2), PickLine("l2", BREAD, 1), PickLine("l3", PHONE, 1)]
    out = PickOrder.assign("order-7", lines, now=now, timers=TIMERS)
    assert out.state is not None and out.state.state is PickState.ASSIGNED
    return out.state


def ok(out: Outcome[PickOrder]) -> PickOrder:
    assert out.refused is None, out.refused
    return out.state


def refused(out: Outcome[PickOrder], before: PickOrder, reason: str) -> str:
    assert out.refused is not None and out.refused.reason == reason, out.refused
    assert out.state is before and out.events == ()
    assert out.refused.detail
    return out.refused.detail


def picking(now: float = 10.0) -> PickOrder:
    return ok(ok(assigned().accept(associate=A, now=now)).start(associate=A, now=now))


def test_an_order_goes_from_assigned_to_completed() -> None:
    order = picking()
    names: list[str] = []
    for step in (
        lambda o: o.scan(MILK, associate=A, now=20),
        lambda o: o.scan(MILK, associate=A, now=21),
        lambda o: o.scan(BREAD, associate=A, now=22),
        lambda o: o.scan(PHONE, "SN-1", associate=A, now=23),
        lambda o: o.complete(associate=A, now=24),
        lambda o: o.stage("shelf-B3", ["tote-1", "tote-2"], associate=B, now=25),
        lambda o: o.ready_for_pickup("sms", source=Source.PLATFORM, now=26),
        lambda o: o.check_in("curbside", now=27, vehicle="blue van"),
        lambda o: o.verify("order_qr", associate=B, now=28),
        lambda o: o.hand_over(associate=B, now=29),
        lambda o: o.close(source=Source.PLATFORM, now=30),
    ):
        out = step(order)
        order = ok(out)
        names += [e.name for e in out.events]
    assert (
        order.state is PickState.COMPLETED and order.location == "shelf-B3" and order.tote_ids == ("tote-1", "tote-2")
    )
    assert names == ["pick.scan"] * 4 + [
        "pick.completed",
        "order.staged",
        "order.ready_for_pickup",
        "customer.checked_in",
        "pickup.verified",
        "pickup.handed_over",
        "order.closed",
    ]


def test_one_order_is_claimed_by_one_associate() -> None:
    order = ok(assigned().accept(associate=A, now=1))
    assert (
        refused(order.accept(associate=B, now=2), order, "claimed_by_other") == "order order-7 is claimed by assoc-ann"
    )
    refused(order.accept(associate=A, now=2), order, "already_accepted")
    refused(order.start(associate=B, now=2), order, "claimed_by_other")
    started = ok(order.start(associate=A, now=2))
    refused(started.scan(MILK, associate=B, now=3), started, "claimed_by_other")
    refused(started.complete(associate=B, now=3), started, "claimed_by_other")


def test_a_wrong_item_is_refused_and_the_message_says_what_is_expected() -> None:
    order = picking()
    detail = refused(order.scan(SOAP, associate=A, now=20), order, "not_in_order")
    assert MILK in detail and BREAD in detail and PHONE in detail and "x2" in detail


def test_an_over_pick_is_refused() -> None:
    order = ok(picking().scan(BREAD, associate=A, now=20))
    refused(order.scan(BREAD, associate=A, now=21), order, "line_complete")


def test_a_serialised_item_is_not_counted_twice() -> None:
    new = PickOrder.assign("o", [PickLine("l1", PHONE, 2)], now=0).state
    assert new is not None
    order = ok(ok(new.accept(associate=A, now=1)).start(associate=A, now=1))
    order = ok(order.scan(PHONE, "SN-1", associate=A, now=2))
    refused(order.scan(PHONE, "SN-1", associate=A, now=3), order, "serial_already_picked")
    order = ok(order.scan(PHONE, "SN-2", associate=A, now=3))
    assert order.lines[0].picked == 2 and order.serials == {(PHONE, "SN-1"), (PHONE, "SN-2")}


def test_a_short_needs_a_reason_from_the_configured_list() -> None:
    order = picking()
    refused(order.short("l1", 1, "", associate=A, now=20), order, "short_reason_required")
    detail = refused(order.short("l1", 1, "lazy", associate=A, now=20), order, "unknown_short_reason")
    assert "inventory_shortage" in detail and "damaged" in detail and "pick_later" in detail
    refused(order.short("l1", 3, "damaged", associate=A, now=20), order, "bad_quantity")
    out = order.short("l1", 2, "damaged", associate=A, now=20)
    assert ok(out).lines[0].state is PickLineState.SHORT
    assert out.events[0].data == {"associate_id": A, "line_id": "l1", "gtin14": MILK, "qty": 2, "reason": "damaged"}


def test_the_short_reasons_are_configuration() -> None:
    out = PickOrder.assign("o", [PickLine("l1", MILK, 1)], now=0, short_reasons=["expired"])
    assert out.state is not None
    order = ok(ok(out.state.accept(associate=A, now=1)).start(associate=A, now=1))
    refused(order.short("l1", 1, "damaged", associate=A, now=2), order, "unknown_short_reason")
    assert ok(order.short("l1", 1, "expired", associate=A, now=2)).lines[0].short == 1


def test_a_substitution_blocks_completion_until_the_platform_decides() -> None:
    order = ok(picking().scan(MILK, associate=A, now=20))
    order = ok(order.propose_substitution("l1", OAT_MILK, associate=A, now=21))
    assert order.lines[0].state is PickLineState.SUBSTITUTE_PROPOSED
    for item in (BREAD, PHONE):
        order = ok(order.scan(item, associate=A, now=22))
    refused(order.complete(associate=A, now=23), order, "lines_unresolved")
    refused(order.scan(OAT_MILK, associate=A, now=23), order, "substitution_pending")  # not "not in order"
    refused(order.scan(MILK, associate=A, now=23), order, "substitution_pending")
    refused(order.substitution_decided("l1", True, source=Source.ASSOCIATE, now=24), order, "not_platform")
    out = order.substitution_decided("l1", True, source=Source.PLATFORM, now=24)
    assert [(e.name, e.actor) for e in out.events] == [("pick.substitution.approved", "platform")]
    order = ok(ok(out).scan(OAT_MILK, associate=A, now=25))
    assert ok(order.complete(associate=A, now=26)).state is PickState.PICKED


def test_a_rejected_substitution_leaves_the_line_to_pick_or_short() -> None:
    order = ok(picking().propose_substitution("l2", SOAP, associate=A, now=20))
    order = ok(order.substitution_decided("l2", False, source=Source.PLATFORM, now=21))
    refused(order.scan(SOAP, associate=A, now=22), order, "not_in_order")
    assert ok(order.short("l2", 1, "inventory_shortage", associate=A, now=22)).lines[1].resolved


def test_nothing_picked_at_all_is_a_rejection_not_a_completion() -> None:
    order = picking()
    for line, qty in (("l1", 2), ("l2", 1), ("l3", 1)):
        order = ok(order.short(line, qty, "inventory_shortage", associate=A, now=20))
    refused(order.complete(associate=A, now=21), order, "nothing_picked")
    out = order.reject("no stock", associate=A, now=21)
    assert ok(out).state is PickState.REJECTED and out.events[0].name == "fulfilment.items_failed"


def test_the_accept_timer_times_the_order_out_once() -> None:
    order = assigned(now=100)
    assert order.tick(399).events == ()
    refused(order.accept(associate=A, now=400), order, "accept_timer_expired")
    out = order.tick(1000)
    assert ok(out).state is PickState.TIMED_OUT
    assert [(e.name, e.at) for e in out.events] == [("fulfilment.accept_timer_breached", 400)]
    assert out.state.tick(5000).events == ()


def test_the_pick_timer_breach_is_reported_once_and_the_pick_goes_on() -> None:
    order = picking(now=10)
    assert order.tick(909).events == ()
    out = order.tick(2000)
    assert [(e.name, e.at) for e in out.events] == [("pick.timer_breached", 910)]
    assert ok(out).state is PickState.PICKING and out.state.tick(9000).events == ()


def test_the_platform_alone_says_ready_closed_or_no_show() -> None:
    order = picking()
    for item in (MILK, MILK, BREAD, PHONE):
        order = ok(order.scan(item, associate=A, now=20))
    order = ok(ok(order.complete(associate=A, now=21)).stage("B3", ["t1"], associate=A, now=22))
    refused(order.ready_for_pickup("sms", source=Source.ASSOCIATE, now=23), order, "not_platform")
    ready = ok(order.ready_for_pickup("sms", source=Source.PLATFORM, now=23))
    refused(ready.no_show(source=Source.SYSTEM, now=24), ready, "not_platform")
    assert ok(ready.no_show(source=Source.PLATFORM, now=24)).state is PickState.NO_SHOW


def test_staging_needs_a_location_and_distinct_totes() -> None:
    order = picking()
    for item in (MILK, MILK, BREAD, PHONE):
        order = ok(order.scan(item, associate=A, now=20))
    order = ok(order.complete(associate=A, now=21))
    refused(order.stage("", ["t1"], associate=A, now=22), order, "no_location")
    refused(order.stage("B3", [], associate=A, now=22), order, "no_totes")
    refused(order.stage("B3", ["t1", "t1"], associate=A, now=22), order, "duplicate_tote")


def test_an_order_must_be_well_formed_to_be_assigned() -> None:
    def reason(order_id: str, lines: list[PickLine]) -> str | None:
        out = PickOrder.assign(order_id, lines, now=0)
        assert out.state is None and out.events == ()
        return out.refused.reason if out.refused else None

    assert reason("", [PickLine("l1", MILK, 1)]) == "no_order_id"
    assert reason("o", []) == "no_lines"
    assert reason("o", [PickLine("l1", MILK, 1), PickLine("l1", BREAD, 1)]) == "duplicate_line"
    assert reason("o", [PickLine("l1", "42", 1)]) == "bad_gtin"
    assert reason("o", [PickLine("l1", MILK, 0)]) == "bad_quantity"


# --- random command sequences ---------------------------------------------------------------------------------

T_ = TypeVar("T_")
BYTE = st.integers(0, 255)
GTINS = [MILK, BREAD, PHONE, OAT_MILK, SOAP, "42"]
SERIALS = [None, None, "SN-1", "SN-2"]
ASSOCIATES = [A, A, A, B, ""]
SOURCES = [Source.PLATFORM, Source.PLATFORM, Source.ASSOCIATE]
REASONS = ["inventory_shortage", "damaged", "", "lazy"]
COMMANDS = [
    "accept", "decline", "start", "scan", "short", "propose", "decide", "complete", "reject", "stage", "ready",
    "check_in", "verify", "hand_over", "close", "no_show", "tick",
]  # fmt: skip
LIKELY: dict[PickState, list[str]] = {
    PickState.ASSIGNED: ["accept"] * 4 + ["decline", "tick"],
    PickState.ACCEPTED: ["start"] * 4 + ["reject"],
    PickState.PICKING: ["scan"] * 6 + ["short", "propose", "decide", "decide", "complete", "complete", "tick"],
    PickState.PICKED: ["stage"],
    PickState.STAGED: ["ready"],
    PickState.READY_FOR_PICKUP: ["check_in", "check_in", "no_show"],
    PickState.CUSTOMER_ARRIVED: ["verify"],
    PickState.VERIFIED: ["hand_over"],
    PickState.HANDED_OVER: ["close"],
}


def choose(data: st.DataObject, options: Sequence[T_]) -> T_:
    return options[data.draw(BYTE) % len(options)]


def run(data: st.DataObject, name: str, o: PickOrder, now: float) -> Outcome[PickOrder]:
    a = choose(data, ASSOCIATES)

    def line() -> str:
        return choose(data, [x.line_id for x in o.lines] + ["l9"])

    match name:
        case "accept":
            return o.accept(associate=a, now=now)
        case "decline":
            return o.decline(associate=a, now=now)
        case "start":
            return o.start(associate=a, now=now)
        case "scan":
            wanted = [x.substitute_gtin or x.gtin14 for x in o.lines if x.state is PickLineState.OPEN]
            item = choose(data, wanted * 2 + GTINS if wanted else GTINS)
            return o.scan(item, choose(data, SERIALS), associate=a, now=now)
        case "short":
            return o.short(line(), choose(data, [1, 2, 0]), choose(data, REASONS), associate=a, now=now)
        case "propose":
            return o.propose_substitution(line(), choose(data, GTINS), associate=a, now=now)
        case "decide":
            return o.substitution_decided(line(), choose(data, [True, False]), source=choose(data, SOURCES), now=now)
        case "complete":
            return o.complete(associate=a, now=now)
        case "reject":
            return o.reject(choose(data, ["no stock", ""]), associate=a, now=now)
        case "stage":
            return o.stage(
                choose(data, ["B3", ""]), choose(data, [["t1"], ["t1", "t2"], [], ["t1", "t1"]]), associate=a, now=now
            )
        case "ready":
            return o.ready_for_pickup("sms", source=choose(data, SOURCES), now=now)
        case "check_in":
            return o.check_in(choose(data, ["counter", "curbside", "drone"]), now=now)
        case "verify":
            return o.verify(choose(data, ["order_qr", "nfc", "palm"]), associate=a, now=now)
        case "hand_over":
            return o.hand_over(associate=a, now=now)
        case "close":
            return o.close(source=choose(data, SOURCES), now=now)
        case "no_show":
            return o.no_show(source=choose(data, SOURCES), now=now)
        case _:
            return o.tick(now)


AFTER_PICK = frozenset(
    {
        PickState.PICKED,
        PickState.STAGED,
        PickState.READY_FOR_PICKUP,
        PickState.CUSTOMER_ARRIVED,
        PickState.VERIFIED,
        PickState.HANDED_OVER,
        PickState.COMPLETED,
        PickState.NO_SHOW,
    }
)


@fuzz(200)
@given(data=st.data())
def test_no_command_sequence_reaches_an_invalid_order_and_every_refusal_is_explained(data: st.DataObject) -> None:
    now = 0.0
    order = assigned(now)
    picked_serials: list[tuple[str, str]] = []
    scans = 0
    breaches: list[str] = []
    first_picker: str | None = None
    final_steps = 0
    for _ in range(data.draw(st.integers(5, 50))):
        if before_final := order.state in P.FINAL:
            final_steps += 1
            if final_steps > 3:
                break  # a final order has been poked enough; spend the budget on other walks
        now += choose(data, [1, 0, 30, 1, 5, 1, 1, 400])
        guided = order.state in LIKELY and data.draw(BYTE) >= 25
        name = choose(data, LIKELY[order.state] if guided else COMMANDS)
        before = order
        out = run(data, name, before, now)
        if out.refused is not None:
            assert out.refused.reason in P.REFUSAL_REASONS and out.refused.detail
            assert out.state is before and out.events == ()
            continue
        order = out.state
        for event in out.events:
            assert event.name in P.EVENT_NAMES and event.subject == order.order_id and event.actor and event.at <= now
            if event.name == "pick.scan":
                scans += 1
                if "serial" in event.data:
                    picked_serials.append((str(event.data["scanned_gtin"]), str(event.data["serial"])))
            if event.name.endswith("timer_breached"):
                breaches.append(event.name)
        if before_final:
            assert order == before and out.events == (), "a final order never changes"
        # invariants
        assert order.state in set(PickState)
        assert len(picked_serials) == len(set(picked_serials)) == len(order.serials), "a serial counted twice"
        assert sum(x.picked for x in order.lines) == scans
        assert len(breaches) == len(set(breaches)), "a timer breach reported twice"
        for x in order.lines:
            assert x.picked >= 0 and x.short >= 0 and x.picked + x.short <= x.qty
            if x.state is PickLineState.SUBSTITUTE_PROPOSED:
                assert x.substitute_gtin not in (None, x.gtin14)
        if order.state in AFTER_PICK:
            assert all(x.resolved for x in order.lines), "a picked order has every line resolved"
            assert not any(x.state is PickLineState.SUBSTITUTE_PROPOSED for x in order.lines)
            assert any(x.picked for x in order.lines)
        claimed = order.state not in (PickState.ASSIGNED, PickState.DECLINED, PickState.TIMED_OUT)
        assert (order.picker is not None) == claimed
        first_picker = first_picker or order.picker
        assert order.picker in (None, first_picker), "the claim never moves to another associate"
        if order.state is PickState.TIMED_OUT:
            assert "fulfilment.accept_timer_breached" in breaches
