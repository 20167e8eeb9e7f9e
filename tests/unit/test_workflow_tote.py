"""The associate's digital tote (retail note §1.2) as a pure state machine: rules, then random command sequences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.fulfilment import Fulfilment
from edge_agent.domain.workflows import tote as T
from edge_agent.domain.workflows.common import Outcome, Source
from edge_agent.domain.workflows.tote import LineState, Tote, ToteState, line_id
from edge_agent.identifiers.gtin import gtin_check_digit
from tests.support.fuzz import fuzz


def gtin(n: int) -> str:
    body = f"{n:013d}"
    return body + str(gtin_check_digit(body))


SHIRT, JEANS, BELT = gtin(101), gtin(202), gtin(303)
A, B = "assoc-ann", "assoc-bob"
TTL = 600.0


def opened(now: float = 0.0) -> Tote:
    out = Tote.open("tote-1", associate=A, now=now, park_ttl_s=TTL)
    assert out.state is not None
    return out.state


def ok(out: Outcome[Tote]) -> Tote:
    assert out.refused is None, out.refused
    return out.state


def refused(out: Outcome[Tote], before: Tote, reason: str) -> None:
    assert out.refused is not None and out.refused.reason == reason, out.refused
    assert out.state is before and out.events == ()
    assert out.refused.detail


def paid_tote(*lines: tuple[str, str]) -> Tote:
    tote = ok(opened().attach_customer("qr", "pseudo-1", associate=A, now=1))
    for g, mode in lines or ((SHIRT, "carry_out"),):
        tote = ok(tote.add_line(g, 1, mode, associate=A, now=2))
    tote = ok(tote.submit(associate=A, now=3))
    tote = ok(tote.handoff_to_pos(associate=A, now=4))
    return ok(tote.paid("order-9", source=Source.PLATFORM, now=5))


def test_a_tote_goes_from_draft_to_completed_and_every_event_names_the_associate() -> None:
    out = Tote.open("tote-1", associate=A, now=0)
    assert out.state is not None and out.state.state is ToteState.DRAFT
    events = list(out.events)
    tote = out.state
    steps: list[Callable[[Tote], Outcome[Tote]]] = [
        lambda t: t.attach_customer("nfc", "pseudo-1", associate=A, now=1),
        lambda t: t.add_line(SHIRT, 2, "carry_out", associate=A, now=2),
        lambda t: t.share("qr_to_phone", associate=A, now=3),
        lambda t: t.submit(associate=A, now=4),
        lambda t: t.payment_link_sent(associate=A, now=5),
        lambda t: t.paid("order-9", source=Source.PLATFORM, now=6),
        lambda t: t.start_collecting(associate=A, now=7),
        lambda t: t.line_collected(line_id(SHIRT, Fulfilment.CARRY_OUT), associate=A, now=8),
        lambda t: t.ready(associate=A, now=9),
        lambda t: t.handed_over(associate=A, now=10),
        lambda t: t.complete(source=Source.PLATFORM, now=11),
    ]
    for step in steps:
        out = step(tote)
        tote = ok(out)
        events += out.events
    assert tote.state is ToteState.COMPLETED and tote.order_id == "order-9"
    assert [e.name for e in events] == [
        "tote.created",
        "tote.customer_attached",
        "tote.line_added",
        "tote.shared",
        "tote.submitted",
        "tote.payment_link_sent",
        "tote.paid",
        "tote.converted",
        "tote.collect.started",
        "tote.line_collected",
        "tote.ready",
        "tote.handed_over",
        "tote.completed",
    ]
    assert all(e.data["associate_id"] == A and e.subject == "tote-1" for e in events)
    assert {e.actor for e in events if e.name in ("tote.paid", "tote.converted", "tote.completed")} == {"platform"}


def test_adding_the_same_item_with_the_same_fulfilment_adds_to_its_line() -> None:
    tote = ok(opened().add_line(SHIRT, 1, "carry_out", associate=A, now=1))
    tote = ok(tote.add_line(SHIRT, 2, "carry_out", associate=A, now=2))
    tote = ok(tote.add_line(SHIRT, 1, "ship", associate=A, now=3))
    assert [(x.line_id, x.qty) for x in tote.lines] == [(f"{SHIRT}:carry_out", 3), (f"{SHIRT}:ship", 1)]


def test_a_bad_gtin_quantity_or_fulfilment_is_refused() -> None:
    tote = opened()
    refused(tote.add_line("123", 1, "carry_out", associate=A, now=1), tote, "bad_gtin")
    refused(
        tote.add_line(SHIRT[:-1] + str((int(SHIRT[-1]) + 1) % 10), 1, "carry_out", associate=A, now=1), tote, "bad_gtin"
    )
    refused(tote.add_line(SHIRT, 0, "carry_out", associate=A, now=1), tote, "bad_quantity")
    refused(tote.add_line(SHIRT, 1000, "carry_out", associate=A, now=1), tote, "bad_quantity")
    refused(tote.add_line(SHIRT, 1, "teleport", associate=A, now=1), tote, "unknown_fulfilment")


def test_lines_change_only_before_submission() -> None:
    tote = ok(opened().add_line(SHIRT, 1, "carry_out", associate=A, now=1))
    removed = ok(tote.remove_line(f"{SHIRT}:carry_out", associate=A, now=2))
    assert removed.lines == ()
    submitted = ok(tote.submit(associate=A, now=2))
    refused(submitted.add_line(JEANS, 1, "carry_out", associate=A, now=3), submitted, "wrong_state")
    refused(submitted.remove_line(f"{SHIRT}:carry_out", associate=A, now=3), submitted, "wrong_state")


def test_an_empty_tote_cannot_be_submitted_or_shared() -> None:
    tote = ok(opened().attach_customer("qr", "pseudo-1", associate=A, now=1))
    refused(tote.submit(associate=A, now=2), tote, "empty_tote")
    refused(tote.share("email", associate=A, now=2), tote, "empty_tote")


def test_sharing_needs_an_attached_customer() -> None:
    tote = ok(opened().add_line(SHIRT, 1, "carry_out", associate=A, now=1))
    refused(tote.share("email", associate=A, now=2), tote, "no_customer")


def test_every_command_needs_the_associates_id_for_attribution() -> None:
    assert Tote.open("tote-1", associate="", now=0).refused is not None
    tote = opened()
    refused(tote.add_line(SHIRT, 1, "carry_out", associate="", now=1), tote, "no_associate")
    refused(tote.park(associate="", now=1), tote, "no_associate")
    refused(tote.cancel(associate="", now=1), tote, "no_associate")
    refused(tote.share("email", associate="", now=1), tote, "no_associate")
    attached = ok(tote.attach_customer("qr", "pseudo-1", associate=A, now=1))
    refused(attached.attach_customer("qr", "pseudo-2", associate="", now=2), attached, "no_associate")


def test_only_the_platform_reports_payment() -> None:
    tote = ok(opened().add_line(SHIRT, 1, "carry_out", associate=A, now=1))
    tote = ok(tote.submit(associate=A, now=2))
    tote = ok(tote.handoff_to_pos(associate=A, now=3))
    for source in (Source.ASSOCIATE, Source.SHOPPER, Source.SYSTEM):
        refused(tote.paid("order-9", source=source, now=4), tote, "not_platform")
    out = tote.paid("order-9", source=Source.PLATFORM, now=4)
    assert ok(out).state is ToteState.PAID
    assert [(e.name, e.data["order_id"]) for e in out.events] == [
        ("tote.paid", "order-9"),
        ("tote.converted", "order-9"),
    ]


def test_a_paid_tote_is_not_cancelled_here() -> None:
    tote = paid_tote()
    refused(tote.cancel(associate=A, now=6), tote, "wrong_state")


def test_ready_waits_until_every_carry_out_line_is_resolved() -> None:
    tote = ok(paid_tote((SHIRT, "carry_out"), (JEANS, "carry_out")).start_collecting(associate=B, now=6))
    shirt, jeans = line_id(SHIRT, Fulfilment.CARRY_OUT), line_id(JEANS, Fulfilment.CARRY_OUT)
    tote = ok(tote.line_collected(shirt, associate=B, now=7))
    refused(tote.ready(associate=B, now=8), tote, "lines_unresolved")
    tote = ok(tote.line_unavailable(jeans, "not on the floor", associate=B, now=8))
    tote = ok(tote.propose_substitution(jeans, BELT, associate=B, now=9))
    refused(tote.ready(associate=B, now=10), tote, "lines_unresolved")
    out = tote.substitution_decided(jeans, False, associate=B, now=10)
    assert out.events[0].data["accepted"] is False
    tote = ok(ok(out).ready(associate=B, now=11))
    assert tote.state is ToteState.READY_AT_COUNTER
    assert [x.state for x in tote.lines] == [LineState.COLLECTED, LineState.DECLINED]


def test_a_substitute_is_proposed_only_for_an_unavailable_line_and_must_differ() -> None:
    tote = ok(paid_tote().start_collecting(associate=A, now=6))
    shirt = line_id(SHIRT, Fulfilment.CARRY_OUT)
    refused(tote.propose_substitution(shirt, BELT, associate=A, now=7), tote, "not_unavailable")
    tote = ok(tote.line_unavailable(shirt, "damaged", associate=A, now=7))
    refused(tote.propose_substitution(shirt, SHIRT, associate=A, now=8), tote, "same_item")
    refused(tote.line_collected(shirt, associate=A, now=8), tote, "line_resolved")
    refused(tote.line_unavailable(shirt, "", associate=A, now=8), tote, "line_resolved")


def test_an_unavailable_line_needs_a_reason() -> None:
    tote = ok(paid_tote().start_collecting(associate=A, now=6))
    refused(tote.line_unavailable(line_id(SHIRT, Fulfilment.CARRY_OUT), "", associate=A, now=7), tote, "no_reason")


def test_pickup_and_ship_lines_are_the_platforms_to_fulfil_not_collected_at_the_counter() -> None:
    tote = ok(paid_tote((SHIRT, "ship"), (JEANS, "pickup")).start_collecting(associate=A, now=6))
    refused(tote.line_collected(line_id(SHIRT, Fulfilment.SHIP), associate=A, now=7), tote, "not_carry_out")
    assert ok(tote.ready(associate=A, now=7)).state is ToteState.READY_AT_COUNTER


def test_another_associate_may_collect_but_the_builder_keeps_the_attribution() -> None:
    out = paid_tote().start_collecting(associate=B, now=6)
    assert ok(out).collector_id == B
    (event,) = out.events
    assert event.actor == B and event.data["associate_id"] == A


def test_a_parked_tote_resumes_where_it_was() -> None:
    tote = ok(opened().attach_customer("qr", "pseudo-1", associate=A, now=1))
    parked = ok(tote.park(associate=A, now=2))
    assert parked.state is ToteState.PARKED
    refused(parked.add_line(SHIRT, 1, "carry_out", associate=A, now=3), parked, "wrong_state")
    out = parked.resume(associate=B, now=3)
    assert ok(out).state is ToteState.CUSTOMER_ATTACHED and out.events[0].data["resumed_to"] == "customer_attached"


def test_a_parked_tote_is_abandoned_once_its_ttl_has_passed() -> None:
    parked = ok(opened().park(associate=A, now=100))
    assert parked.tick(100 + TTL - 1).events == ()
    refused(parked.resume(associate=A, now=100 + TTL), parked, "park_expired")
    out = parked.tick(100 + TTL + 50)
    assert ok(out).state is ToteState.ABANDONED
    assert [(e.name, e.at, e.actor) for e in out.events] == [("tote.abandoned", 100 + TTL, "system")]
    assert out.state.tick(100 + 10 * TTL).events == ()


def test_submitted_totes_cannot_be_parked() -> None:
    tote = ok(ok(opened().add_line(SHIRT, 1, "carry_out", associate=A, now=1)).submit(associate=A, now=2))
    refused(tote.park(associate=A, now=3), tote, "wrong_state")


def test_the_pseudonym_travels_on_events_only_with_profile_consent() -> None:
    without = ok(opened().attach_customer("qr", "pseudo-1", associate=A, now=1))
    assert "profile" not in without.add_line(SHIRT, 1, "carry_out", associate=A, now=2).events[0].data
    with_consent = ok(opened().attach_customer("qr", "pseudo-1", consent=frozenset({"profile"}), associate=A, now=1))
    assert with_consent.add_line(SHIRT, 1, "carry_out", associate=A, now=2).events[0].data["profile"] == "pseudo-1"


def test_identification_is_a_deliberate_act_and_attaches_one_customer() -> None:
    tote = opened()
    refused(tote.attach_customer("face", "pseudo-1", associate=A, now=1), tote, "unknown_method")
    refused(tote.attach_customer("qr", "", associate=A, now=1), tote, "no_pseudonym")
    attached = ok(tote.attach_customer("qr", "pseudo-1", associate=A, now=1))
    refused(attached.attach_customer("qr", "pseudo-2", associate=A, now=2), attached, "customer_already_attached")


# --- random command sequences ---------------------------------------------------------------------------------

GTINS = [SHIRT, JEANS, BELT, "123"]
MODES = ["carry_out", "pickup", "ship", "drone"]
ASSOCIATES = [A, B, ""]
SOURCES = list(Source)
T_ = TypeVar("T_")

COMMANDS = [
    "attach", "add", "remove", "share", "submit", "pos", "link", "paid", "collect_start", "collected",
    "unavailable", "propose", "decide", "ready", "handed_over", "complete", "park", "resume", "cancel", "tick",
]  # fmt: skip


BYTE = st.integers(0, 255)
QTY = st.integers(-1, 1000)


def choose(data: st.DataObject, options: Sequence[T_]) -> T_:
    """One of ``options`` (cheap: one cached strategy; shrinks towards the first)."""
    return options[data.draw(BYTE) % len(options)]


def run(data: st.DataObject, name: str, t: Tote, now: float) -> Outcome[Tote]:
    """Carry out command ``name`` with parameters drawn from small pools (valid and invalid alike)."""
    a = choose(data, ASSOCIATES)

    def line() -> str:
        return choose(data, [x.line_id for x in t.lines] + ["nope:carry_out"])

    match name:
        case "attach":
            return t.attach_customer("qr", "p1", associate=a, now=now)
        case "add":
            return t.add_line(choose(data, GTINS), data.draw(QTY), choose(data, MODES), associate=a, now=now)
        case "remove":
            return t.remove_line(line(), associate=a, now=now)
        case "share":
            return t.share(choose(data, ["email", "fax"]), associate=a, now=now)
        case "submit":
            return t.submit(associate=a, now=now)
        case "pos":
            return t.handoff_to_pos(associate=a, now=now)
        case "link":
            return t.payment_link_sent(associate=a, now=now)
        case "paid":
            return t.paid("order-1", source=choose(data, SOURCES), now=now)
        case "collect_start":
            return t.start_collecting(associate=a, now=now)
        case "collected":
            return t.line_collected(line(), associate=a, now=now)
        case "unavailable":
            return t.line_unavailable(line(), choose(data, ["", "gone"]), associate=a, now=now)
        case "propose":
            return t.propose_substitution(line(), choose(data, GTINS), associate=a, now=now)
        case "decide":
            return t.substitution_decided(line(), choose(data, [True, False]), associate=a, now=now)
        case "ready":
            return t.ready(associate=a, now=now)
        case "handed_over":
            return t.handed_over(associate=a, now=now)
        case "complete":
            return t.complete(source=choose(data, SOURCES), now=now)
        case "park":
            return t.park(associate=a, now=now)
        case "resume":
            return t.resume(associate=a, now=now)
        case "cancel":
            return t.cancel(associate=a, now=now)
        case _:
            return t.tick(now)


LIKELY: dict[ToteState, list[str]] = {
    ToteState.DRAFT: ["attach", "add", "add", "remove", "submit", "park"],
    ToteState.CUSTOMER_ATTACHED: ["add", "add", "share", "submit", "park"],
    ToteState.SHARED: ["add", "remove", "share", "submit", "park"],
    ToteState.SUBMITTED: ["pos", "link", "paid"],
    ToteState.AWAITING_PAYMENT_AT_POS: ["paid", "link"],
    ToteState.PAYMENT_LINK_SENT: ["paid", "pos"],
    ToteState.PAID: ["collect_start"],
    ToteState.COLLECTING: ["collected", "collected", "unavailable", "propose", "decide", "ready"],
    ToteState.READY_AT_COUNTER: ["handed_over"],
    ToteState.HANDED_OVER: ["complete"],
    ToteState.PARKED: ["resume", "tick"],
}


def check_invariants(tote: Tote) -> None:
    assert tote.state in set(ToteState)
    assert tote.associate_id == A
    assert len({x.line_id for x in tote.lines}) == len(tote.lines)
    for line in tote.lines:
        assert 1 <= line.qty <= 999 and line.line_id == line_id(line.gtin14, line.fulfilment)
        if line.state in (LineState.SUBSTITUTE_PROPOSED, LineState.ACCEPTED, LineState.DECLINED):
            assert line.substitute_gtin is not None and line.substitute_gtin != line.gtin14
        if line.fulfilment is not Fulfilment.CARRY_OUT:
            assert line.state is LineState.REQUESTED
    if tote.state in (ToteState.READY_AT_COUNTER, ToteState.HANDED_OVER, ToteState.COMPLETED):
        assert all(x.resolved for x in tote.lines)
        assert not any(x.state is LineState.SUBSTITUTE_PROPOSED for x in tote.lines)
    if tote.state in T.PAYABLE | {ToteState.PAID, ToteState.COLLECTING, ToteState.READY_AT_COUNTER}:
        assert tote.lines
    paid_or_later = {ToteState.PAID, ToteState.COLLECTING, ToteState.READY_AT_COUNTER}
    if tote.state in paid_or_later | {ToteState.HANDED_OVER, ToteState.COMPLETED}:
        assert tote.order_id == "order-1"
    parked = tote.state is ToteState.PARKED
    assert parked == (tote.parked_at is not None) == (tote.resume_to is not None)
    if parked:
        assert tote.resume_to in T.EDITABLE
    if tote.state in T.EDITABLE or tote.state is ToteState.PARKED:
        assert all(x.state is LineState.REQUESTED for x in tote.lines)
    if tote.state is ToteState.SHARED or tote.state is ToteState.CUSTOMER_ATTACHED:
        assert tote.customer is not None


@fuzz(200)
@given(data=st.data())
def test_no_command_sequence_reaches_an_invalid_tote_and_every_refusal_is_explained(data: st.DataObject) -> None:
    now = 0.0
    tote = opened(now)
    final_steps = 0
    for _ in range(data.draw(st.integers(5, 50))):
        if seen_final := tote.state in T.FINAL:
            final_steps += 1
            if final_steps > 3:
                break  # a final tote has been poked enough; spend the budget on other walks
        now += choose(data, [1, 0, 5, 60, 1, TTL])
        guided = tote.state in LIKELY and data.draw(BYTE) >= 50
        name = choose(data, LIKELY[tote.state] if guided else COMMANDS)
        before = tote
        out = run(data, name, before, now)
        if out.refused is not None:
            assert out.refused.reason in T.REFUSAL_REASONS and out.refused.detail
            assert out.state is before and out.events == ()
            continue
        tote = out.state
        check_invariants(tote)
        if seen_final:
            assert tote == before and out.events == (), "a final tote never changes"
        for event in out.events:
            assert event.name in T.EVENT_NAMES and event.subject == tote.tote_id and event.actor
            assert event.data["associate_id"] == A and event.at <= now
        if tote != before:
            assert out.events or tote.state is before.state, f"{name} changed the tote without an event"
