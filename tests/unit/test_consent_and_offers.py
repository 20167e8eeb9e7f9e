"""Consent scopes at the device and offers per session: the pure rules (domain/consent.py, session.py, offers)."""

from __future__ import annotations

import pytest

from edge_agent.domain.basket import Refused
from edge_agent.domain.consent import linked_profile
from edge_agent.domain.session import Identity, MergePolicy, Session, SessionState
from edge_agent.domain.workflows.personalisation import OfferBook, OfferItem
from edge_agent.domain.workflows.taxonomy import analytics_names

A, B = "09506000134352", "04006381333931"


def identified(*scopes: str, store: dict[str, int] | None = None) -> Session:
    session = Session("s1", "guest", 0.0, MergePolicy.SUM)
    session.identify(Identity("pseudo-0001", "profile-1", frozenset(scopes), "nfc"), store or {}, {}, 1.0)
    return session


def test_without_cart_sync_the_basket_never_joins_the_profile_cart() -> None:
    session = identified("profile", store={A: 1})
    assert session.state is SessionState.MERGE_DECLINED and session.preview is None
    assert session.active_cart == "guest", "scans keep going to the guest basket"
    empty = identified("profile")
    assert empty.active_cart == "guest", "even with an empty basket nothing is synced to the profile"


def test_granting_cart_sync_offers_the_preview_and_withdrawing_it_keeps_the_basket_apart() -> None:
    session = identified("profile", store={A: 1})
    preview = session.change_consent("cart_sync", True, {A: 1}, {B: 1}, 2.0)
    assert preview is not None and session.state is SessionState.MERGE_PREVIEW
    assert {ln.sku: ln.result_qty for ln in preview.lines} == {A: 1, B: 1}
    session.confirm(None, [], 3.0)
    assert session.active_cart == "profile-1"
    assert session.change_consent("cart_sync", False, {}, {}, 4.0) is None
    assert session.state is SessionState.MERGE_DECLINED and session.active_cart == "guest"
    assert session.identity is not None and session.identity.consent == {"profile"}


def test_a_consent_change_needs_an_identified_shopper_and_a_change() -> None:
    anonymous = Session("s1", "guest", 0.0, MergePolicy.SUM)
    with pytest.raises(Refused) as caught:
        anonymous.change_consent("analytics", True, {}, {}, 1.0)
    assert caught.value.reason == "not_identified"
    session = identified("analytics")
    with pytest.raises(Refused) as caught:
        session.change_consent("analytics", True, {}, {}, 2.0)
    assert caught.value.reason == "consent_unchanged"
    with pytest.raises(Refused) as caught:
        session.change_consent("marketing", True, {}, {}, 2.0)
    assert caught.value.reason == "unknown_scope"


def test_only_analytics_links_an_event_to_the_shopper() -> None:
    assert linked_profile("pseudo-1", frozenset({"profile", "cart_sync", "personalisation"})) is None
    assert linked_profile("pseudo-1", frozenset({"analytics"})) == "pseudo-1"
    assert linked_profile(None, frozenset({"analytics"})) is None


def offer(offer_id: str, expires_at: float = 100.0) -> OfferItem:
    return OfferItem(offer_id, f"Offer {offer_id}", "", None, expires_at)


def test_the_frequency_cap_counts_distinct_offers_shown_in_the_session() -> None:
    book = OfferBook("s1", cap=2)
    first = book.receive([offer("a"), offer("b"), offer("c")], now=1.0)
    assert [o.offer_id for o in first.shown] == ["a", "b"] and first.capped == 1
    again = book.receive([offer("a"), offer("c"), offer("d")], now=2.0)
    assert again.shown == () and again.capped == 2, "shown ones stay; new ones stay over the cap"
    assert list(book.current) == ["a"], "b is no longer offered, so it leaves the screen"


def test_a_dismissed_offer_never_returns_and_an_accepted_one_stays_until_checkout() -> None:
    book = OfferBook("s1", cap=3)
    book.receive([offer("a"), offer("b", expires_at=5.0)], now=1.0)
    assert book.dismiss("a") == offer("a")
    assert book.receive([offer("a"), offer("b", expires_at=5.0)], now=2.0).shown == ()
    assert list(book.current) == ["b"]
    assert book.accept("b") == offer("b", expires_at=5.0)
    assert isinstance(book.accept("b"), type(book.accept("zz")))  # both refusals
    assert book.expire(10.0) is False and "b" in book.current, "accepted: the platform decides at checkout"
    assert book.receive([], now=11.0).shown == () and "b" in book.current
    refused = book.dismiss("b")
    assert not isinstance(refused, OfferItem) and refused.reason == "already_accepted"


def test_an_expired_offer_is_not_shown() -> None:
    book = OfferBook("s1", cap=3)
    got = book.receive([offer("a", expires_at=1.0)], now=1.0)
    assert got.shown == () and got.expired == 1


def test_promotion_events_map_to_ga4_and_segment() -> None:
    assert analytics_names("offer.viewed") == ("view_promotion", "Promotion Viewed")
    assert analytics_names("offer.accepted") == ("select_promotion", "Promotion Clicked")
