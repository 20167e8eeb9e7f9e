"""What the shelf's and the mirror's screens are given: the wrong-label report (its command model, when the shelf
takes it, the durable event it becomes), related items named and priced, and the mirror's garments with their
stock as of its count and the session's answered assist requests. Real SQLite catalog cache, no broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_agent.contract.catalog import CatalogItem, CatalogUpdate
from edge_agent.contract.workflow import AssistReply, LabelReport, MirrorCommand, MirrorView
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.domain.workflows.taxonomy import analytics_names
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.roles.mirror_desk import MirrorDesk
from edge_agent.roles.related import related_to
from edge_agent.roles.shelf import ShelfDesk
from edge_agent.store.device import DeviceStore

SHIRT_M, SHIRT_L, TIE = "05012345678900", "05901234123457", "08710398502131"
MORNING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> DeviceStore:
    store = DeviceStore.open(tmp_path / "device.db", "shelf-07")
    shirt = {"name": "Oxford shirt", "style": "oxford", "colour": "blue", "currency": "EUR", "price_minor": 3999}
    store.apply_catalog(
        CatalogUpdate(
            version=1,
            items=[
                CatalogItem(gtin14=SHIRT_M, version=1, size="M", stock=3, stock_as_of=MORNING, related=[TIE], **shirt),
                CatalogItem(gtin14=SHIRT_L, version=1, size="L", stock=0, stock_as_of=MORNING, **shirt),
                CatalogItem(
                    gtin14=TIE, version=1, name="Silk tie", price_minor=2499, currency="EUR", price_as_of=MORNING
                ),
            ],
        )
    )
    return store


def test_a_label_report_names_the_item_and_the_price_shown_and_nothing_else() -> None:
    assert LabelReport(gtin14=SHIRT_M, shown_price_minor=3999, currency="EUR").associate is None
    assert LabelReport(gtin14=SHIRT_M).shown_price_minor is None, "a screen showing 'price at checkout' reports too"
    for bad in ({"gtin14": "123"}, {"gtin14": SHIRT_M, "shown_price_minor": -1}, {"gtin14": SHIRT_M, "currency": "eur"},
                {"gtin14": SHIRT_M, "card": "4111111111111111"}):  # fmt: skip
        with pytest.raises(ValidationError):
            LabelReport.model_validate(bad)


def test_the_shelf_reports_a_wrong_label_only_for_the_item_and_price_its_screen_shows(store: DeviceStore) -> None:
    events: list[WorkflowEvent] = []
    desk = ShelfDesk(store, events.extend)
    shown = desk.scanned(ProductKey(SHIRT_M), online=False, now=1.0)
    assert [(r.name, r.price_minor, r.price_as_of) for r in shown.related_items] == [("Silk tie", 2499, MORNING)]
    assert [(v.size, v.stock, v.stock_as_of) for v in shown.variants] == [("L", 0, MORNING)]
    events.clear()

    assert desk.report_label(LabelReport(gtin14=SHIRT_M, shown_price_minor=3999, currency="EUR"), None, 2.0)
    refused = desk.report_label(LabelReport(gtin14=SHIRT_L, shown_price_minor=3999, currency="EUR"), shown, 2.0)
    assert refused is not None and refused.reason == "not_shown"
    refused = desk.report_label(LabelReport(gtin14=SHIRT_M, shown_price_minor=1, currency="EUR"), shown, 2.0)
    assert refused is not None and refused.reason == "price_not_shown"
    assert events == [] and desk.refused == {"not_shown": 2, "price_not_shown": 1}

    assert desk.report_label(LabelReport(gtin14=SHIRT_M, shown_price_minor=3999, currency="EUR"), shown, 3.0) is None
    [event] = events
    assert (event.name, event.subject, event.actor) == ("shelf.label.reported", SHIRT_M, "shopper")
    assert dict(event.data) == {
        "gtin14": SHIRT_M, "shown_price_minor": 3999, "currency": "EUR", "price_as_of": None, "offline": True,
    }  # fmt: skip
    again = desk.report_label(
        LabelReport(gtin14=SHIRT_M, shown_price_minor=3999, currency="EUR"),
        shown.model_copy(update={"label_reported": True}),
        4.0,
    )
    assert again is not None and again.reason == "already_reported" and len(events) == 1
    assert analytics_names("shelf.label.reported") == ("shelf_label_reported", "Shelf Label Reported")


def test_the_mirror_lists_stock_as_of_its_count_and_keeps_answered_requests_for_the_session(
    store: DeviceStore,
) -> None:
    shown: list[MirrorView] = []
    desk = MirrorDesk(store, "mirror-02", None, lambda _e: None, shown.append, lambda _id, _m: None, lambda: True)
    desk.garment_tapped(ProductKey(SHIRT_M))
    garment = shown[-1].garments[0]
    assert (garment.size, garment.stock, garment.stock_as_of) == ("M", 3, MORNING)
    assert [(v.size, v.stock, v.stock_as_of) for v in garment.in_store] == [("L", 0, MORNING)]

    desk.command(MirrorCommand(action="request_assist", type="size", target_gtin=SHIRT_L))
    request_id = shown[-1].requests[0].request_id
    desk.reply(AssistReply(request_id=request_id, action="acknowledge", associate="emp-042"))
    assert shown[-1].requests[0].state == "acknowledged"
    desk.reply(AssistReply(request_id=request_id, action="unavailable", associate="emp-042", reason="none left in L"))
    assert shown[-1].requests == []
    [answer] = shown[-1].answered
    assert (answer.state, answer.reason, answer.target_name) == ("unavailable", "none left in L", "Oxford shirt")

    desk.command(MirrorCommand(action="vacate"))
    assert (shown[-1].state, shown[-1].garments, shown[-1].answered) == ("vacant", [], [])
    desk.garment_tapped(ProductKey(SHIRT_M))
    assert shown[-1].answered == [], "a new session starts with nothing of the last one"


def test_the_mirror_and_the_kiosk_show_the_related_items_of_what_was_scanned_as_the_shelf_does(
    store: DeviceStore,
) -> None:
    shown: list[MirrorView] = []
    desk = MirrorDesk(store, "mirror-02", None, lambda _e: None, shown.append, lambda _id, _m: None, lambda: True)
    desk.garment_tapped(ProductKey(SHIRT_M))
    assert [(r.gtin14, r.name, r.price_minor, r.price_as_of) for r in shown[-1].related] == [
        (TIE, "Silk tie", 2499, MORNING)
    ]
    desk.garment_tapped(ProductKey(TIE))
    assert shown[-1].related == [], "the tie relates to nothing, and what is in the room is not suggested"
    # The kiosk's rule (roles/related.py): what the basket already holds is not suggested, an unknown item is left out.
    assert [r.gtin14 for r in related_to(store, SHIRT_M)] == [TIE]
    assert related_to(store, SHIRT_M, exclude=[TIE]) == [] and related_to(store, None) == []
    assert related_to(store, "04006381333931") == [], "not in the cache: nothing to show"
