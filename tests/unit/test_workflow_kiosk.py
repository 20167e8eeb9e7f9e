"""The kiosk session's workflow events (retail note §1.1, §6), as pure values: a session is announced by its first
act, line changes are adds and removals by the difference, merges and hand-offs say what happened, and a session
that ends with lines nobody took leaves an abandoned basket (counts, no prices)."""

from __future__ import annotations

from edge_agent.domain.session import Identity, MergePolicy, Session, SessionState
from edge_agent.domain.workflows import kiosk
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.domain.workflows.taxonomy import analytics_names
from edge_agent.sync.events import EventContext, envelope

SHOES, SOCKS = "09506000134352", "04006381333931"
SHOPPER = Identity("shopper-7-pseudo", "profile-shopper-7", frozenset({"cart_sync"}), "nfc")


def session() -> Session:
    return Session("a" * 32, "kiosk-01-basket", 1000.0, MergePolicy.SUM, last_activity=1000.0)


def names(events: list[WorkflowEvent]) -> list[str]:
    return [e.name for e in events]


def test_the_first_act_announces_the_session_once_naming_its_guest_basket() -> None:
    s = session()
    (started,) = kiosk.opened(s, "scan", 1001.0)
    assert started.name == "kiosk.session.started" and started.subject == s.session_id
    assert dict(started.data) == {"cart": "kiosk-01-basket", "trigger": "scan"}
    assert kiosk.opened(s, "line", 1002.0) == []


def test_a_quantity_change_is_an_add_or_a_removal_of_the_difference() -> None:
    s = session()
    raised = kiosk.line_changes(s, {SOCKS: 1}, {SOCKS: 3}, 1.0)
    assert [(e.name, e.data["gtin14"], e.data["qty"]) for e in raised] == [("cart.line_added", SOCKS, 2)]
    removed = kiosk.line_changes(s, {SHOES: 2}, {}, 1.0)
    assert [(e.name, e.data["qty"]) for e in removed] == [("cart.line_removed", 2)]
    assert kiosk.line_changes(s, {SHOES: 1}, {SHOES: 1}, 1.0) == [], "a refused change is no event"
    assert kiosk.line_added(s, SHOES, 1, 1.0).data["source"] == "kiosk"


def test_line_events_map_to_the_vendors_add_and_remove_and_handoffs_to_share_and_checkout() -> None:
    assert analytics_names("cart.line_added") == ("add_to_cart", "Product Added")
    assert analytics_names("cart.line_removed") == ("remove_from_cart", "Product Removed")
    assert analytics_names("cart.handoff") == ("share_cart", "Cart Shared")
    assert analytics_names("checkout.handoff") == ("begin_checkout", "Checkout Started")
    assert analytics_names("basket.abandoned") == ("basket_abandoned", "Basket Abandoned")
    assert analytics_names("kiosk.session.ended") == ("kiosk_session_ended", "Kiosk Session Ended")


def test_a_timed_out_anonymous_basket_with_lines_is_abandoned_with_counts_and_no_prices() -> None:
    s = session()
    kiosk.opened(s, "scan", 1000.0)
    ended, abandoned = kiosk.ended(s, "timeout", {SHOES: 1, SOCKS: 2}, 1900.0)
    assert (ended.name, ended.actor, ended.data["reason"], ended.data["duration_s"]) == (
        "kiosk.session.ended",
        "system",
        "timeout",
        900.0,
    )
    assert abandoned.name == "basket.abandoned"
    assert dict(abandoned.data) == {"reason": "timeout", "lines": 2, "units": 3, "source": "kiosk"}
    assert not any("price" in key for key in abandoned.data)


def test_walking_away_or_cancelling_leaves_the_basket_abandoned_too() -> None:
    for reason in ("walkaway", "explicit"):
        s = session()
        kiosk.opened(s, "scan", 1000.0)
        assert names(kiosk.ended(s, reason, {SHOES: 1}, 1100.0)) == ["kiosk.session.ended", "basket.abandoned"]


def test_a_basket_handed_off_or_empty_is_not_abandoned() -> None:
    for reason in ("checkout", "claimed"):
        s = session()
        kiosk.opened(s, "scan", 1000.0)
        assert names(kiosk.ended(s, reason, {SHOES: 1}, 1100.0)) == ["kiosk.session.ended"]
    at_till = session()
    kiosk.opened(at_till, "scan", 1000.0)
    kiosk.checkout_handoff(at_till, {SHOES: 1}, 1001.0)
    assert names(kiosk.ended(at_till, "explicit", {SHOES: 1}, 1100.0)) == ["kiosk.session.ended"]
    merged = session()
    kiosk.opened(merged, "identity", 1000.0)
    merged.identity, merged.state = SHOPPER, SessionState.MERGED
    (only,) = kiosk.ended(merged, "timeout", {}, 1100.0)
    assert only.data["identified"] is True and only.data["from_state"] == "merged"
    separate = session()
    kiosk.opened(separate, "scan", 1000.0)
    separate.identity, separate.state = SHOPPER, SessionState.KEPT_SEPARATE
    assert names(kiosk.ended(separate, "timeout", {SHOES: 1}, 1100.0)) == ["kiosk.session.ended"]
    empty = session()
    kiosk.opened(empty, "scan", 1000.0)
    assert names(kiosk.ended(empty, "explicit", {}, 1100.0)) == ["kiosk.session.ended"]


def test_withdrawing_profile_consent_on_the_screen_is_an_end_the_shopper_chose() -> None:
    s = session()
    kiosk.opened(s, "identity", 1000.0)
    s.identity, s.state = SHOPPER, SessionState.MERGE_DECLINED
    (ended,) = kiosk.ended(s, kiosk.CONSENT_WITHDRAWN, {}, 1100.0)
    assert (ended.actor, ended.data["reason"]) == ("shopper", "consent_withdrawn")


def test_a_session_nobody_used_or_whose_shopper_was_erased_ends_silently() -> None:
    assert kiosk.ended(session(), "explicit", {}, 1100.0) == []
    erased = session()
    kiosk.opened(erased, "identity", 1000.0)
    erased.identity = SHOPPER
    assert kiosk.ended(erased, "erased", {SHOES: 1}, 1100.0) == []


def test_merge_events_say_the_policy_and_the_diff_not_the_shopper() -> None:
    s = session()
    preview = s.identify(SHOPPER, {SHOES: 1}, {SOCKS: 1}, 1000.0)
    assert preview is not None
    previewed = kiosk.merge_previewed(s, preview, 1000.0)
    assert dict(previewed.data) == {"policy": "sum", "lines": 2, "lines_changed": 1}
    s.confirm(None, [], 1001.0)
    assert dict(kiosk.merge_confirmed(s, "sum", 1001.0).data) == {"policy": "sum", "kept_separate": False}
    assert SHOPPER.profile_cart not in repr([previewed.data, kiosk.merge_declined(s, 1.0).data])


def test_the_take_to_phone_handoff_names_the_guest_basket_the_platform_claimed() -> None:
    s = session()
    handoff = kiosk.taken_to_phone(s, 3, 1.0)
    assert (handoff.name, dict(handoff.data)) == (
        "cart.handoff",
        {"channel": "qr_to_phone", "cart": "kiosk-01-basket", "units": 3},
    )
    assert dict(kiosk.checkout_handoff(s, {SHOES: 1, SOCKS: 2}, 1.0).data) == {
        "channel": "pos",
        "lines": 2,
        "units": 3,
        "source": "kiosk",
    }


def test_every_kiosk_event_leaves_with_the_sessions_attribution_key() -> None:
    s = session()
    ctx = EventContext("urn:acme:store:s042:device:kiosk-01", "s042", "kiosk-01", s.session_id, s.attribution_key)
    for event in [*kiosk.opened(s, "scan", 1.0), kiosk.line_added(s, SHOES, 1, 2.0), *kiosk.ended(s, "x", {}, 3.0)]:
        cloud = envelope(event, ctx)
        assert cloud.type == f"com.edgeagent.workflow.{event.name}.v1"
        assert (cloud.data.attribution_key, cloud.data.session_id, cloud.data.profile) == (
            s.attribution_key,
            s.session_id,
            None,
        )
