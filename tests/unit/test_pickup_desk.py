"""Customer pickup on the picking desk (a real SQLite DeviceStore): check-in, verification by order code (checked
offline against the order's hash, never kept) or ID document (only the fact), hand-over, and the platform's
close and no-show; refusals record nothing and are shown with their reason."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge_agent.contract.picking import PickCommand, pickup_code_hash
from edge_agent.domain.workflows.picking import PickState
from edge_agent.roles.pickup import PICKUP_REFUSALS
from tests.unit.test_pick_desk import ANN, BOB, BREAD, MILK, PHONE, Rig, order_msg, picking, state_of

CODE = "K7Q2-M9XD"


def ready(rig: Rig, code: str | None = CODE) -> None:
    """ord-1 with a pickup code, picked whole, staged, and marked ready for pickup by the platform."""
    hashed = None if code is None else pickup_code_hash(code)
    rig.desk.order_published(order_msg(pickup_code_hash=hashed))
    picking(rig)
    for unit in (MILK, MILK, BREAD, PHONE, PHONE):
        assert rig.scan(unit)
    rig.do("complete")
    rig.do("stage", location="shelf-b2", tote_ids=["t1"])
    rig.desk.order_published(
        order_msg(status="ready_for_pickup", version=2, notified_via="sms", pickup_code_hash=hashed)
    )
    assert state_of(rig, "ord-1") is PickState.READY_FOR_PICKUP


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / "handheld.db")


def test_check_in_verify_by_order_code_hand_over_and_the_platform_closes(rig: Rig) -> None:
    ready(rig)
    before = len(rig.ops())
    view = rig.do("check_in")
    assert view.refused is None and view.current is not None and view.current.state == "customer_arrived"
    view = rig.do("verify", verified_by="order_code", order_code=CODE.lower())
    assert view.refused is None and view.current is not None and view.current.state == "verified"
    view = rig.do("hand_over")
    assert view.refused is None and view.current is not None and view.current.state == "handed_over"
    new = rig.ops()[before:]
    assert new[:3] == [
        ("attr.set", "pick.state", "customer_arrived"),
        ("attr.set", "pick.verified_by", "order_code"),
        ("attr.set", "pick.state", "verified"),
    ]
    assert new[3][:2] == ("attr.set", "pick.handed_over_at") and new[3][2] is not None
    assert new[3][2].startswith("2023-11-14T22:13:21"), "ISO-8601 UTC of the desk's clock"
    assert new[4] == ("attr.set", "pick.state", "handed_over")
    checked_in = next(e for e in rig.events if e.name == "customer.checked_in")
    assert checked_in.data["mode"] == "counter"
    verified = next(e for e in rig.events if e.name == "pickup.verified")
    assert verified.data["method"] == "pickup_code" and verified.actor == ANN
    handed = next(e for e in rig.events if e.name == "pickup.handed_over")
    assert handed.data["lines"] == [
        {"line_id": "l1", "qty": 2},
        {"line_id": "l2", "qty": 1},
        {"line_id": "l3", "qty": 2},
    ]

    ops = rig.ops()
    rig.desk.order_published(order_msg(status="closed", version=3))
    rig.desk.order_published(order_msg(status="closed", version=3))  # a retained replay
    assert state_of(rig, "ord-1") is PickState.COMPLETED
    assert rig.names().count("order.closed") == 1
    assert rig.ops() == ops, "the platform's close is not echoed back as an op"
    rig.reopen()
    assert state_of(rig, "ord-1") is PickState.COMPLETED


def test_a_wrong_or_missing_code_is_refused_and_changes_nothing(rig: Rig) -> None:
    ready(rig)
    rig.do("check_in", mode="curbside")
    ops, events = rig.ops(), list(rig.events)
    assert rig.do("verify").refused == "verification_required"
    assert rig.do("verify", verified_by="order_code").refused == "order_code_required"
    view = rig.do("verify", verified_by="order_code", order_code="K7Q2-0000")
    assert view.refused == "order_code_mismatch" and view.current is not None
    assert view.current.state == "customer_arrived"
    assert view.detail is not None and "K7Q2" not in view.detail, "the refusal never repeats a code"
    assert rig.do("hand_over").refused == "wrong_state", "no hand-over before the customer is verified"
    assert rig.ops() == ops and rig.events == events, "refusals record and emit nothing"
    assert rig.desk.refused["order_code_mismatch"] == 1
    assert set(rig.desk.refused) <= PICKUP_REFUSALS | {"wrong_state"}
    assert rig.do("verify", verified_by="order_code", order_code=CODE).refused is None


def test_the_code_is_never_kept_on_the_device(rig: Rig) -> None:
    ready(rig)
    rig.do("check_in")
    rig.do("verify", verified_by="order_code", order_code="WRONG-CODE")
    rig.do("verify", verified_by="order_code", order_code=CODE)
    rig.store.close()
    raw = Path(rig.path).read_bytes()
    for wal in Path(rig.path).parent.glob("*-wal"):
        raw += wal.read_bytes()
    assert CODE.encode() not in raw and b"WRONG-CODE" not in raw
    assert hashlib.sha256(CODE.encode()).hexdigest().encode() in raw, "only the platform's hash is kept"


def test_id_document_records_only_that_one_was_checked(rig: Rig) -> None:
    ready(rig, code=None)
    rig.do("check_in")
    assert rig.do("verify", verified_by="order_code", order_code=CODE).refused == "no_order_code"
    view = rig.do("verify", verified_by="id_document")
    assert view.refused is None and ("attr.set", "pick.verified_by", "id_document") in rig.ops()
    verified = next(e for e in rig.events if e.name == "pickup.verified")
    assert dict(verified.data) == {"associate_id": ANN, "method": "id_document"}
    with pytest.raises(ValidationError):
        PickCommand(action="verify", associate=ANN, order_id="ord-1", verified_by="id_document", id_number="X1")  # type: ignore[call-arg]


def test_pickup_only_when_ready_and_only_by_the_claim_holder(rig: Rig) -> None:
    rig.desk.order_published(order_msg(pickup_code_hash=pickup_code_hash(CODE)))
    picking(rig)
    assert rig.do("check_in").refused == "wrong_state", "not before the platform marked it ready"
    assert rig.do("check_in", associate=BOB).refused == "claimed_by_other"
    assert rig.do("verify", verified_by="order_code", order_code=CODE).refused == "wrong_state"
    assert state_of(rig, "ord-1") is PickState.PICKING


def test_no_show_from_the_platform_while_the_order_waits(rig: Rig) -> None:
    ready(rig)
    ops = rig.ops()
    rig.desk.order_published(order_msg(status="no_show", version=3))
    assert state_of(rig, "ord-1") is PickState.NO_SHOW
    assert rig.views[-1].current is not None and rig.views[-1].current.state == "no_show"
    no_show = next(e for e in rig.events if e.name == "order.no_show")
    assert no_show.data["location"] == "shelf-b2"
    assert rig.ops() == ops
    assert rig.do("check_in").refused == "wrong_state", "too late: the goods go back to the shelf"
    rig.desk.order_published(order_msg(status="closed", version=4))
    assert state_of(rig, "ord-1") is PickState.NO_SHOW, "a close does not apply to a no-show"


def test_a_pickup_on_another_order_becomes_the_one_shown(rig: Rig) -> None:
    ready(rig)
    rig.desk.order_published(order_msg("ord-2"))
    rig.do("accept", order_id="ord-2")
    assert rig.views[-1].current is not None and rig.views[-1].current.order_id == "ord-2"
    rig.do("check_in")
    assert rig.views[-1].current is not None and rig.views[-1].current.order_id == "ord-1"
    assert rig.desk.held["ord-1"].code_hash == pickup_code_hash(CODE)


def test_the_wire_bounds_an_order_code() -> None:
    base: dict[str, Any] = {"action": "verify", "associate": ANN, "order_id": "ord-1", "verified_by": "order_code"}
    for bad in ("abc", "x" * 33, "K7Q2 M9XD", "K7Q2/M9XD"):
        with pytest.raises(ValidationError):
            PickCommand.model_validate({**base, "order_code": bad})
    assert PickCommand.model_validate({**base, "order_code": CODE}).order_code == CODE
    assert pickup_code_hash("k7q2-m9xd") == pickup_code_hash(CODE) == hashlib.sha256(CODE.encode()).hexdigest()
