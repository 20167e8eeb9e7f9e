"""The picking desk on a real SQLite DeviceStore: what a handheld records, emits, shows and refuses, its claim
protocol, substitutions that wait for the platform, timers, and a restart from the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge_agent.contract.codec import Rejected, dispatch
from edge_agent.contract.picking import (
    ClaimDecision,
    ClaimDecisionEvent,
    PickCommand,
    PickOrderEvent,
    PickOrderLine,
    PickOrderMessage,
    PickView,
    SubstitutionDecision,
    SubstitutionDecisions,
)
from edge_agent.contract.topics import Topics, claim_topic, order_topic, orders_filter, parse_picking_topic
from edge_agent.domain.basket import BasketCommand
from edge_agent.domain.ops import OpKind
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.domain.workflows.picking import PickState, PickTimers, Substitution
from edge_agent.identifiers.gtin import gtin_check_digit
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.roles.picking import PickDesk, pick_cart, picking_route
from edge_agent.roles.picking_config import PickingSection
from edge_agent.roles.picking_state import pick_from_json, pick_to_json
from edge_agent.store.device import DeviceStore


def gtin(n: int) -> str:
    body = f"{n:013d}"
    return body + str(gtin_check_digit(body))


MILK, BREAD, PHONE, OAT_MILK, CHEESE = gtin(11), gtin(22), gtin(33), gtin(44), gtin(66)
ME, OTHER = "handheld-03", "handheld-04"
ANN, BOB = "emp-ann", "emp-bob"
T0 = 1_700_000_000.0
TIMERS = PickTimers(accept_s=300, pick_s=900)


class Clock:
    def __init__(self) -> None:
        self.t = T0 + 1

    def __call__(self) -> float:
        return self.t


class Rig:
    def __init__(self, path: Path, device: str = ME) -> None:
        self.path, self.device = path, device
        self.clock = Clock()
        self.events: list[WorkflowEvent] = []
        self.views: list[PickView] = []
        self.open()

    def open(self) -> None:
        self.store = DeviceStore.open(self.path, self.device)
        self.desk = PickDesk(
            self.store,
            self.device,
            self._record,
            self.events.extend,
            self.views.append,
            now=self.clock,
            timers=TIMERS,
        )

    def _record(self, commands: list[BasketCommand], meta: dict[str, str]) -> object:
        return self.store.record(commands, meta)

    def reopen(self) -> None:
        self.store.close()
        self.open()
        self.desk.restore()

    def do(self, action: str, order_id: str = "ord-1", associate: str = ANN, **fields: Any) -> PickView:
        self.desk.command(PickCommand(action=action, associate=associate, order_id=order_id, **fields))  # type: ignore[arg-type]
        return self.views[-1]

    def scan(self, code: str, serial: str | None = None) -> bool:
        return self.desk.scanned(ProductKey(code, serial=serial))

    def ops(self) -> list[tuple[str, str | None, str | None]]:
        rows = self.store.conn.execute("SELECT body FROM outbox ORDER BY seq").fetchall()
        out = []
        for (body,) in rows:
            op = json.loads(body)
            out.append((op["kind"], op.get("sku") or op.get("key"), op.get("value") or op.get("serial")))
        return out

    def names(self) -> list[str]:
        return [e.name for e in self.events]


def order_msg(order_id: str = "ord-1", status: str = "open", version: int = 1, **kw: Any) -> PickOrderMessage:
    return PickOrderMessage(
        order_id=order_id,
        lines=[
            PickOrderLine(line_id="l1", gtin14=MILK, qty=2),
            PickOrderLine(line_id="l2", gtin14=BREAD, qty=1),
            PickOrderLine(line_id="l3", gtin14=PHONE, qty=2),
        ],
        assigned_at=datetime.fromtimestamp(T0, UTC),
        status=status,  # type: ignore[arg-type]
        version=version,
        **kw,
    )


def state_of(rig: Rig, order_id: str) -> PickState:
    return rig.desk.orders[order_id].state


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    r = Rig(tmp_path / "handheld.db")
    r.desk.order_published(order_msg())
    return r


def picking(rig: Rig) -> None:
    rig.do("accept")
    rig.desk.claim_decided(ClaimDecision(order_id="ord-1", device=ME, associate=ANN))
    rig.do("start")


def test_an_order_is_shown_as_available_and_accepting_records_a_claim_op(rig: Rig) -> None:
    assert [s.order_id for s in rig.views[-1].available] == ["ord-1"]
    assert rig.views[-1].available[0].units == 5
    assert rig.ops() == [], "a published order is only shown: nothing to tell the platform"
    view = rig.do("accept")
    assert view.refused is None and view.available == []
    assert view.current is not None and view.current.state == "accepted" and view.current.claim == "pending"
    assert set(rig.ops()) == {
        ("attr.set", "pick.claim", f"{ME}:{ANN}"),
        ("attr.set", "pick.associate", ANN),
        ("attr.set", "pick.state", "accepted"),
    }
    assert rig.names() == ["fulfilment.accepted"]
    rig.desk.claim_decided(ClaimDecision(order_id="ord-1", device=ME, associate=ANN))
    assert rig.views[-1].current is not None and rig.views[-1].current.claim == "won"


def test_scan_to_confirm_records_units_and_refuses_wrong_items_with_what_is_expected(rig: Rig) -> None:
    picking(rig)
    before = len(rig.ops())
    assert rig.scan(MILK) is True
    assert rig.views[-1].refused is None
    assert rig.scan(CHEESE) is True, "a wrong item is still a pick scan (refused), not a tote line"
    view = rig.views[-1]
    assert view.refused == "not_in_order" and view.detail is not None and f"{MILK} x1" in view.detail
    assert rig.scan(BREAD) and rig.scan(BREAD) is True
    assert rig.views[-1].refused == "line_complete"
    units = [op for op in rig.ops()[before:] if op[0] == OpKind.ADD.value]
    assert units == [("entry.add", MILK, None), ("entry.add", BREAD, None)], "refused scans record nothing"
    assert rig.desk.refused == {"not_in_order": 1, "line_complete": 1}
    scans = [e for e in rig.events if e.name == "pick.scan"]
    assert len(scans) == 2 and scans[0].data["match"] is True and scans[0].actor == ANN
    assert rig.views[-1].current is not None and rig.views[-1].current.expected == [f"{MILK} x1", f"{PHONE} x2"]


def test_a_serialised_item_cannot_be_counted_twice(rig: Rig) -> None:
    picking(rig)
    assert rig.scan(PHONE, serial="SN-1")
    assert rig.scan(PHONE, serial="SN-1")
    assert rig.views[-1].refused == "serial_already_picked"
    assert rig.scan(PHONE, serial="SN-2") and rig.views[-1].refused is None
    phones = [op for op in rig.ops() if op[1] == PHONE]
    assert phones == [("entry.add", PHONE, "SN-1"), ("entry.add", PHONE, "SN-2")]
    assert rig.store.quantities(pick_cart("ord-1")) == {PHONE: 2}


def test_a_short_needs_a_configured_reason_and_is_recorded_with_it(rig: Rig) -> None:
    picking(rig)
    assert rig.do("short", line_id="l1", qty=1).refused == "short_reason_required"
    assert rig.do("short", line_id="l1", qty=1, reason="fell_off_truck").refused == "unknown_short_reason"
    assert rig.do("short", line_id="l1", qty=3, reason="damaged").refused == "bad_quantity"
    view = rig.do("short", line_id="l1", qty=1, reason="damaged")
    assert view.refused is None and view.current is not None
    assert ("attr.set", "pick.line.l1.short", "1:damaged") in rig.ops()
    short = next(e for e in rig.events if e.name == "pick.line_short")
    assert short.data["reason"] == "damaged" and short.data["qty"] == 1


def test_a_substitution_waits_for_the_platform_and_then_counts(rig: Rig) -> None:
    picking(rig)
    assert rig.scan(BREAD)
    rig.do("propose_substitution", line_id="l1", to_gtin=OAT_MILK)
    assert ("attr.set", "pick.line.l1.substitute", OAT_MILK) in rig.ops()
    assert rig.scan(OAT_MILK) and rig.views[-1].refused == "substitution_pending", "not before the platform approves"
    assert rig.scan(MILK) and rig.views[-1].refused == "substitution_pending"
    assert rig.do("complete").refused == "lines_unresolved"
    other = SubstitutionDecision(line_id="l1", to_gtin=CHEESE, approved=True)
    rig.desk.decision(SubstitutionDecisions(order_id="ord-1", decisions=[other]))
    assert rig.desk.orders["ord-1"].lines[0].substitution is Substitution.PROPOSED, (
        "another item's decision is not this"
    )
    ops_before = len(rig.ops())
    approve = SubstitutionDecision(line_id="l1", to_gtin=OAT_MILK, approved=True)
    rig.desk.decision(SubstitutionDecisions(order_id="ord-1", decisions=[other, approve]))
    rig.desk.decision(SubstitutionDecisions(order_id="ord-1", decisions=[other, approve]))  # a retained replay
    assert len(rig.ops()) == ops_before, "the platform's decision is not echoed back as an op"
    assert rig.names().count("pick.substitution.approved") == 1
    assert rig.scan(OAT_MILK) and rig.scan(OAT_MILK) and rig.views[-1].refused is None
    rig.do("short", line_id="l3", qty=2, reason="inventory_shortage")
    view = rig.do("complete")
    assert view.refused is None and view.current is not None and view.current.state == "picked"
    assert rig.store.quantities(pick_cart("ord-1")) == {BREAD: 1, OAT_MILK: 2}


def test_a_lost_claim_drops_the_order_with_claimed_by_other_and_keeps_its_ops(rig: Rig) -> None:
    rig.do("accept")
    rig.do("start")  # offline: the claim is not decided yet, picking may begin
    assert rig.scan(MILK)
    ops = rig.ops()
    rig.desk.claim_decided(ClaimDecision(order_id="ord-1", device=OTHER, associate=BOB))
    view = rig.views[-1]
    assert view.refused == "claimed_by_other" and view.current is not None and view.current.claim == "lost"
    assert rig.scan(MILK) is True and rig.views[-1].refused == "claimed_by_other", "scans are not taken any more"
    assert rig.do("complete").refused == "claimed_by_other"
    assert rig.ops() == ops, "what was recorded stays (the platform drops a loser's ops)"
    rig.desk.tick(T0 + 10_000)
    assert "pick.timer_breached" not in rig.names(), "a lost order is not timed here"


def test_an_order_claimed_elsewhere_disappears_from_the_queue_and_cannot_be_accepted(rig: Rig) -> None:
    rig.desk.claim_decided(ClaimDecision(order_id="ord-1", device=OTHER, associate=BOB))
    assert rig.views[-1].available == [] and rig.views[-1].refused is None
    assert rig.do("accept").refused == "claimed_by_other"
    assert rig.ops() == []


def test_ready_for_pickup_comes_from_the_platform_after_staging(rig: Rig) -> None:
    picking(rig)
    for code in (MILK, MILK, BREAD, PHONE, PHONE):
        assert rig.scan(code)
    rig.desk.order_published(order_msg(status="ready_for_pickup", version=2, notified_via="sms"))
    assert state_of(rig, "ord-1") is PickState.PICKING, "not before it is staged"
    rig.do("complete")
    assert rig.do("stage", location="shelf-b2", tote_ids=[]).refused == "no_totes"
    rig.do("stage", location="shelf-b2", tote_ids=["t1"])
    assert ("attr.set", "pick.state", "staged") in rig.ops() and ("attr.set", "pick.location", "shelf-b2") in rig.ops()
    rig.desk.order_published(order_msg(status="ready_for_pickup", version=3, notified_via="sms"))
    rig.desk.order_published(order_msg(status="ready_for_pickup", version=3, notified_via="sms"))  # replay
    assert state_of(rig, "ord-1") is PickState.READY_FOR_PICKUP
    assert rig.names().count("order.ready_for_pickup") == 1
    rig.desk.order_published(order_msg(status="open", version=1))
    assert rig.desk.ignored["stale_version"] == 1


def test_restore_from_a_new_store_on_the_same_file_gives_the_same_orders(rig: Rig) -> None:
    rig.desk.order_published(order_msg("ord-2"))
    picking(rig)
    rig.scan(PHONE, serial="SN-9")
    rig.do("propose_substitution", line_id="l1", to_gtin=OAT_MILK)
    rig.do("short", line_id="l2", qty=1, reason="pick_later")
    before = dict(rig.desk.orders)
    rig.reopen()
    assert rig.desk.orders == before
    assert rig.desk.active == "ord-1"
    assert [s.order_id for s in rig.views[-1].available] == ["ord-2"]
    assert rig.scan(PHONE, serial="SN-9") and rig.views[-1].refused == "serial_already_picked"
    assert pick_from_json(pick_to_json(before["ord-1"])) == before["ord-1"]


def test_timers_breach_once_and_an_unaccepted_order_times_out(rig: Rig) -> None:
    rig.desk.order_published(order_msg("ord-2"))
    picking(rig)  # started at T0 + 1
    rig.desk.tick(T0 + 299)
    assert rig.names().count("fulfilment.accept_timer_breached") == 0
    rig.desk.tick(T0 + 300)
    assert rig.names().count("fulfilment.accept_timer_breached") == 1
    assert rig.desk.orders["ord-2"].state is PickState.TIMED_OUT
    assert rig.do("accept", order_id="ord-2").refused == "wrong_state"
    rig.desk.tick(T0 + 1 + 900)
    rig.desk.tick(T0 + 2000)
    assert rig.names().count("pick.timer_breached") == 1
    assert rig.names().count("fulfilment.accept_timer_breached") == 1
    rig.reopen()
    rig.desk.tick(T0 + 3000)
    assert rig.names().count("pick.timer_breached") == 1, "a breach is reported once, restarts included"


def test_a_scan_without_a_pick_in_progress_is_not_the_desks(rig: Rig) -> None:
    assert rig.scan(MILK) is False
    rig.do("accept")
    assert rig.scan(MILK) is False, "accepted but not started: the scan is someone else's (tote, basket)"


def test_withdrawn_orders_are_forgotten_and_unknown_orders_refused(rig: Rig) -> None:
    picking(rig)
    rig.desk.order_published(order_msg(status="withdrawn", version=2))
    assert rig.views[-1].refused == "order_withdrawn" and rig.views[-1].current is None
    assert rig.scan(MILK) is False
    assert rig.do("start").refused == "no_such_order"
    rig.reopen()
    assert rig.desk.orders == {}


def test_messages_are_routed_by_topic_and_bad_ones_rejected(rig: Rig) -> None:
    topics = Topics("acme", "s042", ME)
    assert orders_filter(topics) == "rt/v1/acme/st/s042/picking/orders/#"
    assert parse_picking_topic(topics, claim_topic(topics, "ord-1")) == ("ord-1", "claim")
    assert parse_picking_topic(topics, "rt/v1/acme/st/s042/picking/orders/a/b") is None
    now = datetime.now(UTC)
    route = [picking_route(rig.desk, topics)]

    def handle_message(_desk: PickDesk, _topics: Topics, topic: str, payload: bytes) -> bool:
        return dispatch(route, topic, payload)  # the agent's route table, with the desk's one route

    claim = ClaimDecisionEvent(
        source="urn:p", id="c1", time=now, data=ClaimDecision(order_id="ord-1", device=ME, associate=ANN)
    )
    assert handle_message(rig.desk, topics, claim_topic(topics, "ord-1"), claim.model_dump_json().encode())
    assert rig.desk.held["ord-1"].claim == f"{ME}:{ANN}"
    wrong = PickOrderEvent(source="urn:p", id="o9", time=now, data=order_msg("ord-9"))
    with pytest.raises(Rejected) as exc:
        handle_message(rig.desk, topics, order_topic(topics, "ord-1"), wrong.model_dump_json().encode())
    assert exc.value.reason == "order_mismatch"
    with pytest.raises(Rejected):
        handle_message(rig.desk, topics, order_topic(topics, "ord-1"), b"{}")
    assert not handle_message(rig.desk, topics, "rt/v1/acme/st/s042/catalog", b"")
    assert handle_message(rig.desk, topics, order_topic(topics, "ord-1"), b"")  # the platform cleared it
    assert "ord-1" not in rig.desk.held


def test_the_picking_config_section() -> None:
    section = PickingSection.model_validate({"accept_timer_s": 60, "pick_timer_s": 600})
    assert section.timers() == PickTimers(accept_s=60, pick_s=600)
    assert section.short_reasons == ("inventory_shortage", "damaged", "pick_later")
    with pytest.raises(ValueError):
        PickingSection.model_validate({"accept_timer_s": 0})
    with pytest.raises(ValueError):
        PickingSection.model_validate({"short_reasons": ["damaged", "damaged"]})
    with pytest.raises(ValueError):
        PickingSection.model_validate({"surprise": 1})
