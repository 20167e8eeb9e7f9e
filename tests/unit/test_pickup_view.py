"""What the handheld's screen model says about customer pickup and picking: how the customer was verified (and
that it survives a restart), the orders waiting for their customer while another is in hand, and the short
reasons this store allows, so the page offers exactly those."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.domain.workflows.const import DEFAULT_SHORT_REASONS
from tests.unit.test_pick_desk import Rig, order_msg, picking
from tests.unit.test_pickup_desk import CODE, ready


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path / "handheld.db")


def test_the_view_says_how_the_customer_was_verified_and_keeps_it_after_a_restart(rig: Rig) -> None:
    ready(rig)
    view = rig.do("check_in")
    assert view.current is not None and view.current.verified_by is None
    view = rig.do("verify", verified_by="order_code", order_code=CODE)
    assert view.current is not None and view.current.verified_by == "order_code"
    rig.reopen()
    restored = rig.views[-1].current
    assert restored is not None and restored.verified_by == "order_code"


def test_a_refused_verification_records_no_method(rig: Rig) -> None:
    ready(rig)
    rig.do("check_in")
    view = rig.do("verify", verified_by="order_code", order_code="WRONG-CODE")
    assert view.refused == "order_code_mismatch"
    assert view.current is not None and view.current.verified_by is None


def test_an_id_document_shows_as_the_method(rig: Rig) -> None:
    ready(rig)
    rig.do("check_in")
    view = rig.do("verify", verified_by="id_document")
    assert view.current is not None and view.current.verified_by == "id_document"


def test_an_order_waiting_for_its_customer_is_listed_while_another_is_in_hand(rig: Rig) -> None:
    ready(rig)
    assert rig.views[-1].awaiting_pickup == [], "the order in hand is not listed twice"
    rig.desk.order_published(order_msg("ord-2"))
    view = rig.do("accept", order_id="ord-2")
    assert view.current is not None and view.current.order_id == "ord-2"
    assert [(s.order_id, s.state) for s in view.awaiting_pickup] == [("ord-1", "ready_for_pickup")]
    rig.do("start", order_id="ord-2")
    view = rig.do("check_in")  # while ord-2 is being picked, ord-1 waits in the list, with its progress
    assert view.current is not None and view.current.order_id == "ord-2"
    assert [(s.order_id, s.state) for s in view.awaiting_pickup] == [("ord-1", "customer_arrived")]
    view = rig.do("verify", verified_by="id_document")
    assert [(s.state, s.verified_by) for s in view.awaiting_pickup] == [("verified", "id_document")]
    view = rig.do("hand_over")
    assert view.awaiting_pickup == [], "handed over: no longer waiting"


def test_the_view_carries_the_short_reasons_the_desk_accepts(rig: Rig) -> None:
    rig.desk.order_published(order_msg())
    picking(rig)
    current = rig.views[-1].current
    assert current is not None and current.short_reasons == list(DEFAULT_SHORT_REASONS)
