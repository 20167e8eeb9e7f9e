"""Consent at the device and offers with consent, through the real agent, Mosquitto and the central simulator.

An identified shopper who granted "personalisation" sees the offers the platform publishes for their session, takes
one, and it is a cart attribute the platform applies at checkout; without the scope the platform refuses to send
any and the device drops any that come. Scopes change on the screen as durable ops the platform confirms (shown as
pending meanwhile, offline too); withdrawing "profile" forgets the profile cart here. Related items ride along.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.contract.device import T_SESSION_COMMAND, SessionCommand, SessionCommandEvent
from edge_agent.contract.offers import (
    T_CONSENT_COMMAND,
    T_OFFER_COMMAND,
    T_OFFERS,
    ConsentCommand,
    ConsentCommandEvent,
    Offer,
    OfferCommand,
    OfferCommandEvent,
)
from edge_agent.contract.workflow import T_MIRROR_COMMAND, T_TOTE_COMMAND
from edge_agent.domain.session import SessionState
from edge_agent.identity.tokens import Claims, issue_token
from edge_agent.readers.events import IdentityPresented
from simulators.central import CentralPlatform
from tests.e2e.test_app_qr_session import camera_config
from tests.e2e.test_nfc_session import KEY as QR_KEY
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.rogue import event, rogue_publish
from tests.support.world import AgentProcess, InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
KEY = bytes.fromhex("22" * 32)
PROFILE_CART, PSEUDONYM = "profile-ada", "shopper-ada-7f3c"
SHOES, SOCKS, HAT = "09506000134352", "04006381333931", "08710398502131"
TOPICS = "rt/v1/acme/st/s042/dv/kiosk-01"
SOCKS_OFFER = "socks_2for1"


def kiosk(tmp_path: Path, port: int, **offers: Any) -> AgentConfig:
    key_file = tmp_path / "identity.key"
    key_file.write_text(KEY.hex())
    raw: dict[str, Any] = make_config(tmp_path, port).model_dump(mode="json", exclude_none=True)
    raw["identity"] = {"key_files": [str(key_file)], "merge_policy": "sum"}
    raw["offers"] = offers
    return AgentConfig.model_validate(raw)


def present(agent: InProcessAgent, *scopes: str, nonce: str = "nonce-ada-0001") -> None:
    now = int(time.time())
    claims = Claims(kind="app", sub=PSEUDONYM, cart=PROFILE_CART, consent=scopes, iat=now, exp=now + 300, nonce=nonce)  # type: ignore[arg-type]
    assert agent.agent is not None
    inner = agent.agent
    agent.call(lambda: inner.submit(IdentityPresented(issue_token(KEY, claims), "qr", "test", time.time())))


def session_id(agent: InProcessAgent) -> str:
    assert agent.agent is not None
    return str(agent.agent.basket.sessions.session.session_id)


def shown(spy: Spy) -> dict[str, Any]:
    """The session state the screen shows now (retained on dv/{device}/session)."""
    states = spy.on(f"{TOPICS}/session")
    return states[-1]["data"] if states else {}


def ui(broker: MosquittoBroker, envelope: Any) -> None:
    rogue_publish(broker, f"{TOPICS}/ui", envelope.model_dump_json().encode())


def consent(broker: MosquittoBroker, agent: InProcessAgent, action: str, scope: str) -> None:
    data = ConsentCommand(action=action, session_id=session_id(agent), scope=scope)  # type: ignore[arg-type]
    ui(broker, ConsentCommandEvent(source="urn:acme:kiosk-ui", id=f"c-{scope}-{action}", time=utcnow(), data=data))


def offer_command(broker: MosquittoBroker, agent: InProcessAgent, action: str, offer_id: str) -> None:
    data = OfferCommand(action=action, session_id=session_id(agent), offer_id=offer_id)  # type: ignore[arg-type]
    ui(broker, OfferCommandEvent(source="urn:acme:kiosk-ui", id=f"o-{offer_id}-{action}", time=utcnow(), data=data))


def session_command(broker: MosquittoBroker, agent: InProcessAgent, action: str) -> None:
    data = SessionCommand(action=action, session_id=session_id(agent))  # type: ignore[arg-type]
    ui(broker, SessionCommandEvent(source="urn:acme:kiosk-ui", id=f"s-{action}", time=utcnow(), data=data))


def socks_offer(minutes: int = 30) -> Offer:
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    return Offer(offer_id=SOCKS_OFFER, title="Socks: two for one", gtin14=SOCKS, expires_at=expires)


def events(spy: Spy) -> list[dict[str, Any]]:
    return [e["data"] for e in spy.on(f"{TOPICS}/events")]


def rejected(agent: InProcessAgent, reason: str) -> int:
    assert agent.agent is not None
    return int(agent.agent.router.rejected[reason])


@pytest.fixture
def platform(central: CentralPlatform) -> CentralPlatform:
    central.trust_identity_keys(KEY)
    central.open_profile_cart(PROFILE_CART, "acme", "s042")
    central.add_online(PROFILE_CART, HAT)
    return central


def test_an_offer_reaches_the_screen_only_with_personalisation_and_an_accepted_one_is_applied_at_checkout(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = agent_factory(kiosk(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    present(agent, "profile", "cart_sync", "personalisation", "analytics")
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) == session_id(agent), 15, "session linked for offers")
    granted = ["analytics", "cart_sync", "personalisation", "profile"]
    wait_until(lambda: shown(spy).get("consent") == granted, 10, "granted scopes shown")

    assert platform.offers.publish(PROFILE_CART, [socks_offer()])
    wait_until(lambda: [o["offer_id"] for o in shown(spy).get("offers", [])] == [SOCKS_OFFER], 10, "offer shown")
    wait_until(lambda: any(e["name"] == "offer.viewed" for e in events(spy)), 10, "impression event")
    viewed = next(e for e in events(spy) if e["name"] == "offer.viewed")
    assert (viewed["ga4"], viewed["segment"]) == ("view_promotion", "Promotion Viewed")
    assert viewed["profile"] == PSEUDONYM, "analytics granted: the event links the session to the shopper"

    offer_command(broker, agent, "accept", SOCKS_OFFER)
    wait_until(lambda: platform.cart_attrs(PROFILE_CART).get(f"offer.{SOCKS_OFFER}") == "accepted", 15, "on the cart")
    wait_until(lambda: shown(spy)["offers"][0] == {**shown(spy)["offers"][0], "accepted": True, "pending": False}, 10,
               "accepted and confirmed on the screen")  # fmt: skip
    agent.scan(SHOES)
    wait_until(lambda: platform.cart(PROFILE_CART) == {HAT: 1, SHOES: 1}, 15, "scan on the profile cart")
    session_command(broker, agent, "checkout")
    wait_until(lambda: platform.seal(PROFILE_CART) is not None, 15, "sealed at the platform")
    assert platform.offers.applied[PROFILE_CART] == [SOCKS_OFFER], "the platform applies the offer, not the edge"
    assert "price" not in str([e for e in events(spy) if e["name"].startswith("offer.")])

    session_command(broker, agent, "end_session")
    topic = f"{TOPICS}/offers/{viewed['session_id']}"
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) is None, 15, "session unlinked")
    wait_until(lambda: [m.payload for m in spy.recorder.on(topic)][-1:] == [b""], 10, "retained offers cleared")


def test_without_personalisation_no_offer_is_sent_or_shown_and_no_event_names_the_shopper(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = agent_factory(kiosk(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    present(agent, "profile", "cart_sync")
    wait_until(lambda: shown(spy).get("identified") is True, 10, "identified")
    wait_until(lambda: agent.outbox_total() == 0, 15, "everything the device wrote is at the platform")
    assert platform.offers.session_of(PROFILE_CART) is None, "nothing about the session left for personalisation"
    assert not platform.offers.publish(PROFILE_CART, [socks_offer()]), "the platform refuses without consent"

    # A platform that sends anyway: the device drops it, counted with its reason.
    offers = {"session_id": session_id(agent), "offers": [socks_offer().model_dump(mode="json")]}
    rogue_publish(broker, f"{TOPICS}/offers/{session_id(agent)}", event(T_OFFERS, offers))
    wait_until(lambda: rejected(agent, "no_consent") == 1, 10, "dropped for want of consent")
    assert shown(spy).get("offers", []) == []

    agent.scan(SHOES)
    wait_until(lambda: platform.cart(PROFILE_CART) == {HAT: 1, SHOES: 1}, 15, "scan synced (cart_sync granted)")
    offer_command(broker, agent, "accept", SOCKS_OFFER)
    wait_until(lambda: rejected(agent, "not_shown") == 1, 10, "no offer to accept")
    assert all("profile" not in e for e in events(spy)), "without analytics no event names the shopper"


def test_without_cart_sync_the_basket_stays_apart_until_the_shopper_grants_it_on_the_screen(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = agent_factory(kiosk(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    agent.scan(SHOES)
    wait_until(lambda: agent.basket() == {SHOES: 1}, 10, "guest basket")
    present(agent, "profile")
    wait_until(lambda: shown(spy).get("state") == "merge_declined", 10, "kept apart without cart_sync")
    agent.scan(SOCKS)
    wait_until(lambda: agent.basket() == {SHOES: 1, SOCKS: 1}, 10, "scans stay in the guest basket")
    assert platform.cart(PROFILE_CART) == {HAT: 1}

    platform.go_offline()
    consent(broker, agent, "grant", "cart_sync")
    wait_until(lambda: shown(spy).get("state") == "merge_preview", 10, "granted: the preview is offered")
    assert shown(spy)["consent_pending"] == ["cart_sync"], "offline: waiting for the platform, and it says so"
    platform.come_online()
    wait_until(lambda: shown(spy).get("consent_pending") == [], 20, "confirmed by the platform")
    assert platform.offers.consent[PROFILE_CART] == {"cart_sync": "granted"}
    assert any(e["name"] == "consent.granted" and e["data"] == {"scope": "cart_sync"} for e in events(spy))
    previewed = [e for e in events(spy) if e["name"] == "cart.merge_previewed"]
    assert len(previewed) == 1 and previewed[0]["data"]["lines"] == 3, "cart_sync granted: the preview"


def test_withdrawing_profile_consent_on_the_screen_purges_the_profile_cart_here(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = agent_factory(kiosk(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    present(agent, "profile", "cart_sync", "personalisation")
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) is not None, 15, "linked")
    assert agent.agent is not None
    inner = agent.agent
    wait_until(lambda: agent.call(lambda: inner.store.quantities(PROFILE_CART)) == {HAT: 1}, 10, "profile copy here")
    old_session = session_id(agent)

    consent(broker, agent, "withdraw", "profile")
    wait_until(lambda: session_id(agent) != old_session, 10, "the session ended")
    wait_until(lambda: agent.outbox_total() == 0, 15, "the withdrawal confirmed by the platform")
    agent.call(lambda: inner.basket.housekeeping())
    assert PROFILE_CART not in agent.call(inner.store.cart_ids), "the profile cart is forgotten on the device"
    assert platform.offers.consent[PROFILE_CART]["profile"] == "withdrawn"
    assert platform.offers.session_of(PROFILE_CART) is None, "and the offers link with it"
    assert platform.cart(PROFILE_CART) == {HAT: 1}, "the platform keeps its own cart (erasure is its call)"
    assert inner.basket.sessions.session.state is SessionState.ANONYMOUS
    wait_until(lambda: any(e["name"] == "kiosk.session.ended" for e in events(spy)), 10, "the session's end reported")
    ended = next(e for e in events(spy) if e["name"] == "kiosk.session.ended")
    assert (ended["actor"], ended["data"]["reason"]) == ("shopper", "consent_withdrawn")


def test_withdrawing_profile_consent_offline_drops_the_shoppers_unsent_events_with_the_profile_cart(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = agent_factory(kiosk(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    present(agent, "profile", "cart_sync", "analytics")
    wait_until(lambda: shown(spy).get("state") == "merged", 15, "merged: the profile cart is the session's")
    assert agent.agent is not None
    inner = agent.agent

    def pending() -> list[dict[str, Any]]:
        return [json.loads(body)["data"] for _id, body in agent.call(lambda: inner.store.pending_events(100))]

    broker.stop()
    wait_until(lambda: not agent.connected, 10, "offline")
    agent.scan(SHOES)
    wait_until(lambda: any(e["name"] == "cart.line_added" for e in pending()), 10, "the scan's event queued")
    assert all(e["profile"] == PSEUDONYM for e in pending() if e["name"] == "cart.line_added"), "analytics granted"

    withdraw = ConsentCommand(action="withdraw", session_id=session_id(agent), scope="profile")
    command = ConsentCommandEvent(source="urn:acme:kiosk-ui", id="c-offline", time=utcnow(), data=withdraw)
    agent.call(lambda: inner.router.submit(f"{TOPICS}/ui", command.model_dump_json().encode()))  # the screen's way
    wait_until(lambda: any(e["name"] == "kiosk.session.ended" for e in pending()), 10, "the session ended")
    names = [e["name"] for e in pending()]
    assert "cart.line_added" not in names, "the shopper's unsent events went with the profile cart"
    assert "consent.withdrawn" in names, "the withdrawal itself is still reported"

    broker.restart()
    wait_until(lambda: agent.connected and agent.call(inner.store.event_backlog) == 0, 20, "the rest delivered")
    wait_until(lambda: platform.offers.consent.get(PROFILE_CART, {}).get("profile") == "withdrawn", 20,
               "the withdrawal, an op, reached the platform")  # fmt: skip


def test_bad_offers_and_commands_are_refused_with_a_reason_and_the_agent_carries_on(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = agent_factory(kiosk(tmp_path, broker.port, max_per_session=1))
    wait_until(lambda: agent.connected, 10, "agent connected")
    present(agent, "profile", "cart_sync", "personalisation")
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) == session_id(agent), 15, "linked")
    sid = session_id(agent)
    good = socks_offer().model_dump(mode="json")
    offers, ui_topic = f"{TOPICS}/offers/{sid}", f"{TOPICS}/ui"
    other = "0" * 16

    def offered(*items: dict[str, Any], session: str = sid) -> bytes:
        return event(T_OFFERS, {"session_id": session, "offers": list(items)})

    def consent_cmd(scope: str, session: str = sid) -> bytes:
        return event(T_CONSENT_COMMAND, {"action": "grant", "session_id": session, "scope": scope})

    def offer_cmd(action: str, offer_id: str = "a") -> bytes:
        return event(T_OFFER_COMMAND, {"action": action, "session_id": sid, "offer_id": offer_id})

    cases: list[tuple[str, str, bytes]] = [
        ("schema", offers, offered({**good, "offer_id": "Bad Id"})),
        ("schema", offers, offered(*[good] * 11)),
        ("schema", offers, offered({**good, "expires_at": "2026-12-03T10:00:00"})),  # no time zone
        ("schema", offers, offered({**good, "title": "x" * 81})),
        ("topic_mismatch", f"{TOPICS}/offers/{other}", offered(good)),
        ("stale_session", f"{TOPICS}/offers/{other}", offered(good, session=other)),
        ("schema", ui_topic, consent_cmd("marketing")),
        ("stale_session", ui_topic, consent_cmd("analytics", session=other)),
        ("schema", ui_topic, offer_cmd("buy")),
        ("not_shown", ui_topic, offer_cmd("dismiss")),
    ]
    for reason, topic, payload in cases:
        before = rejected(agent, reason)
        rogue_publish(broker, topic, payload)
        wait_until(lambda r=reason, b=before: rejected(agent, r) == b + 1, 10, f"refused: {reason} on {topic}")  # type: ignore[misc]
    assert agent.connected and shown(spy).get("offers", []) == []

    # A refusal at the session's rules is shown; an unchanged scope is refused, not re-recorded.
    consent(broker, agent, "grant", "profile")
    wait_until(lambda: shown(spy).get("refused") == "consent_unchanged", 10, "unchanged scope refused")

    # The frequency cap (1 here): the second distinct offer is not shown this session.
    hat = Offer(offer_id="hat_tenoff", title="A hat", expires_at=datetime.now(UTC) + timedelta(minutes=5))
    assert platform.offers.publish(PROFILE_CART, [socks_offer(), hat])
    wait_until(lambda: [o["offer_id"] for o in shown(spy).get("offers", [])] == [SOCKS_OFFER], 10, "one offer shown")
    offer_command(broker, agent, "dismiss", SOCKS_OFFER)
    wait_until(lambda: shown(spy).get("offers") == [], 10, "dismissed")
    assert agent.agent is not None
    desk = agent.agent.basket.offers
    capped = desk.dropped["frequency_cap"]
    assert platform.offers.publish(PROFILE_CART, [socks_offer(), hat])
    wait_until(lambda: desk.dropped["frequency_cap"] == capped + 1, 10, "the platform's offers taken in")
    assert shown(spy).get("offers") == [], "dismissed never returns; the cap keeps the other one off"
    assert any(e["name"] == "offer.dismissed" for e in events(spy))


def test_the_mirror_shows_offers_to_a_consented_shopper_and_forgets_them_when_the_room_is_left(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    raw: dict[str, Any] = kiosk(tmp_path, broker.port).model_dump(mode="json", exclude_none=True)
    raw["device"]["role"] = "fitting-room-mirror"
    agent = agent_factory(AgentConfig.model_validate(raw))
    wait_until(lambda: agent.connected, 10, "agent connected")
    agent.scan(SHOES)  # a hang tag tapped on the mirror opens the room
    present(agent, "profile", "personalisation")
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) == session_id(agent), 15, "the mirror's session linked")
    assert platform.offers.publish(PROFILE_CART, [socks_offer()])
    wait_until(lambda: [o["offer_id"] for o in shown(spy).get("offers", [])] == [SOCKS_OFFER], 10, "offer shown")

    data = {"action": "vacate"}
    rogue_publish(broker, f"{TOPICS}/ui", event(T_MIRROR_COMMAND, data))
    wait_until(lambda: shown(spy).get("identified") is False and shown(spy).get("offers") == [], 10, "left: forgotten")
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) is None, 15, "the platform clears the offers")
    wait_until(lambda: any(e["name"] == "room.session.ended" for e in events(spy)), 10, "the room's own events")
    assert not [e["name"] for e in events(spy) if e["name"].startswith("kiosk.")], "a mirror is no kiosk session"


VIEWS = {
    "kiosk": ("com.edgeagent.basket.view.v1", "related"),
    "shelf": ("com.edgeagent.display.lookup.v1", "related_items"),
    "fitting-room-mirror": ("com.edgeagent.display.mirror.v1", "related"),
    "associate-handheld": ("com.edgeagent.display.tote.v1", "related"),
}
"""Each role's screen model on dv/{device}/display, and where it lists the related items."""


def test_every_role_shows_the_related_items_of_what_was_scanned(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    catalog = [
        {"gtin14": SHOES, "name": "Trail shoes", "price_minor": 8999, "currency": "EUR", "related": [SOCKS, HAT]},
        {"gtin14": SOCKS, "name": "Wool socks", "price_minor": 899, "currency": "EUR"},
    ]
    views: dict[str, Any] = {}
    for version, role in enumerate(("kiosk", "shelf", "fitting-room-mirror", "associate-handheld"), start=1):
        (tmp_path / role).mkdir()
        raw: dict[str, Any] = kiosk(tmp_path / role, broker.port).model_dump(mode="json", exclude_none=True)
        device = f"{role.split('-')[-1]}-07"  # one device per role: no broker session or retained view shared
        raw["device"] = {**raw["device"], "role": role, "id": device}
        agent = agent_factory(AgentConfig.model_validate(raw))
        wait_until(lambda a=agent: a.connected, 10, f"{role} connected")  # type: ignore[misc]
        platform.publish_catalog("acme", "s042", catalog)  # not retained: each device takes it once connected
        agent.wait_for_catalog(version, 10)
        if role == "associate-handheld":
            data = {"action": "open", "associate": "emp-042"}
            rogue_publish(broker, f"rt/v1/acme/st/s042/dv/{device}/ui", event(T_TOTE_COMMAND, data))
            role_of = agent.agent.role  # type: ignore[union-attr]
            # The view shown at start has no tote: wait for the one that names the opened tote.
            wait_until(lambda r=role_of: getattr(r.last_tote_view, "tote_id", None) is not None, 10, "tote open")  # type: ignore[misc]
        agent.scan(SHOES)

        def related(role: str = role, device: str = device) -> list[tuple[str, str]]:
            kind, key = VIEWS[role]
            display = [m for m in spy.on(f"rt/v1/acme/st/s042/dv/{device}/display") if m["type"] == kind]
            return [(r["gtin14"], r["name"]) for r in display[-1]["data"].get(key, [])] if display else []

        wait_until(lambda r=related: r() == [(SOCKS, "Wool socks")], 10, f"related items on the {role}'s view")  # type: ignore[misc]
        views[role] = related()
        agent.stop()
    assert len(views) == 4, "the kiosk's basket, the shelf's lookup, the mirror's room and the handheld's tote"


def test_through_the_agent_process_a_consented_app_code_gets_an_offer_that_the_platform_applies_at_checkout(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, spy: Spy
) -> None:
    """`edge-agent run` as its own process: the app's code through the camera, the offer, the accept, the checkout."""
    now = int(time.time())
    scopes = ("profile", "cart_sync", "personalisation")
    claims = Claims(
        kind="app", sub=PSEUDONYM, cart=PROFILE_CART, consent=scopes, iat=now, exp=now + 300, nonce="proc-0001"
    )  # type: ignore[arg-type]
    config = camera_config(tmp_path, broker.port, [issue_token(QR_KEY, claims)])
    (tmp_path / "identity.key").chmod(0o600)  # the agent refuses a key file others can read
    central.trust_identity_keys(QR_KEY)
    central.open_profile_cart(PROFILE_CART, "acme", "s042")
    agent = AgentProcess(config, tmp_path).start()
    try:
        wait_until(
            lambda: central.offers.session_of(PROFILE_CART) is not None, 30, "the app code identified the shopper"
        )
        assert central.offers.publish(PROFILE_CART, [socks_offer()])
        wait_until(lambda: [o["offer_id"] for o in shown(spy).get("offers", [])] == [SOCKS_OFFER], 15, "offer shown")
        sid = shown(spy)["session_id"]
        accept = {"action": "accept", "session_id": sid, "offer_id": SOCKS_OFFER}
        rogue_publish(broker, f"{TOPICS}/ui", event(T_OFFER_COMMAND, accept))
        wait_until(
            lambda: central.cart_attrs(PROFILE_CART).get(f"offer.{SOCKS_OFFER}") == "accepted", 15, "on the cart"
        )
        central.add_online(PROFILE_CART, HAT)  # the basket holds something to pay for
        assert shown(spy).get("state") == "merged", "an empty basket and cart_sync: the profile cart is the session's"

        def basket_lines() -> list[str]:
            views = [m["data"] for m in spy.on(f"{TOPICS}/display") if m["type"] == VIEWS["kiosk"][0]]
            return [line["gtin14"] for line in views[-1]["lines"]] if views else []

        wait_until(lambda: basket_lines() == [HAT], 15, "the online line on the kiosk's basket")
        checkout = {"action": "checkout", "session_id": sid}
        rogue_publish(broker, f"{TOPICS}/ui", event(T_SESSION_COMMAND, checkout))
        wait_until(lambda: central.seal(PROFILE_CART) is not None, 15, "sealed", details=agent.log_text)
        assert central.offers.applied[PROFILE_CART] == [SOCKS_OFFER]
    finally:
        agent.stop()
