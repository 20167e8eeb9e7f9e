"""Every workflow event has a GA4 and a Segment Ecommerce v2 name (retail note §6), and the doc matches the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge_agent.domain.workflows import assist, fitting_room, kiosk, personalisation, picking, shelf, stock, tote
from edge_agent.domain.workflows.taxonomy import EVENT_MAP, all_event_names, analytics_names, render_mapping_markdown

REPO = Path(__file__).resolve().parents[2]
GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
"""GA4 event names: letters, digits and underscores, starting with a letter, at most 40 characters."""
GA4_RESERVED_PREFIXES = ("ga_", "google_", "firebase_")
INTERNAL_NAME = re.compile(r"^[a-z]+(\.[a-z_]+)+$")


def test_every_event_any_machine_can_emit_has_a_mapping() -> None:
    modules = (kiosk, tote, picking, fitting_room, assist, stock, shelf, personalisation)
    emitted = frozenset().union(*(m.EVENT_NAMES for m in modules))
    assert emitted == all_event_names()
    assert emitted - set(EVENT_MAP) == set(), "add the new events to taxonomy.EVENT_MAP"
    assert set(EVENT_MAP) - emitted == set(), "EVENT_MAP names events no machine emits"


def test_internal_names_are_domain_dot_verb() -> None:
    assert all(INTERNAL_NAME.match(name) for name in EVENT_MAP), [n for n in EVENT_MAP if not INTERNAL_NAME.match(n)]


def test_the_standard_ecommerce_events_map_as_the_retail_note_says() -> None:
    assert analytics_names("tote.line_added") == ("add_to_cart", "Product Added")
    assert analytics_names("tote.line_removed") == ("remove_from_cart", "Product Removed")
    assert analytics_names("tote.shared") == ("share_cart", "Cart Shared")
    assert analytics_names("tryon.list.saved") == ("add_to_wishlist", "Product Added to Wishlist")
    assert analytics_names("tote.submitted") == ("begin_checkout", "Checkout Started")
    assert analytics_names("checkout.handoff") == ("begin_checkout", "Checkout Started")
    assert analytics_names("tote.paid") == ("purchase", "Order Completed")


def test_only_the_platform_reported_payment_is_a_purchase() -> None:
    purchases = {
        name for name, row in EVENT_MAP.items() if row["ga4"] == "purchase" or row["segment"] == "Order Completed"
    }
    assert purchases == {"tote.paid"}


def test_a_custom_name_never_collides_with_a_standard_one() -> None:
    for vendor in ("ga4", "segment"):
        standard = {row[vendor] for row in EVENT_MAP.values() if row[f"{vendor}_kind"] == "recommended"}
        custom = {row[vendor] for row in EVENT_MAP.values() if row[f"{vendor}_kind"] == "custom"}
        assert standard.isdisjoint(custom), vendor


def test_store_only_events_are_custom_with_valid_names() -> None:
    for prefix in ("garment.", "assist.", "pick.", "pickup.", "stock.", "fulfilment.", "room.", "order."):
        for name in (n for n in EVENT_MAP if n.startswith(prefix)):
            assert EVENT_MAP[name]["ga4_kind"] == "custom" and EVENT_MAP[name]["segment_kind"] == "custom", name
    for name, row in EVENT_MAP.items():
        assert GA4_NAME.match(row["ga4"]) and not row["ga4"].startswith(GA4_RESERVED_PREFIXES), name
        assert row["segment"] and row["segment"][0].isupper(), name
    assert analytics_names("assist.escalated") == ("assist_escalated", "Assist Escalated")
    assert analytics_names("fulfilment.accept_timer_breached") == (
        "fulfilment_accept_timer_breached",
        "Fulfilment Accept Timer Breached",
    )


def test_an_unmapped_name_is_an_error_not_a_guess() -> None:
    with pytest.raises(KeyError, match=r"cart\.teleported"):
        analytics_names("cart.teleported")


def test_the_committed_event_mapping_doc_is_what_the_code_generates() -> None:
    committed = (REPO / "docs" / "event-mapping.md").read_text()
    assert committed == render_mapping_markdown(), "docs/event-mapping.md is stale: regenerate it (see its header)"


def test_the_doc_has_one_row_per_event() -> None:
    rows = [line for line in render_mapping_markdown().splitlines() if line.startswith("| `")]
    assert len(rows) == len(EVENT_MAP)
