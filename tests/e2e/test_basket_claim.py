"""Take my basket to my phone, end to end: the real agent (kiosk) over real Mosquitto and the central simulator.

The kiosk publishes a signed claim link for its guest basket (retained on ``dv/{device}/claim``); the platform
refuses an expired link and a forged one, each with its counted reason; the shopper opens the real link and takes
the basket: the platform joins the lines into the profile cart, the kiosk hears of it, says so and starts a fresh
basket with a new link; the same link a second time is refused. A kiosk that was offline when the shopper opened
its link still gets the lines into the shopper's cart once it reconnects.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract.claim import T_CLAIM_VIEW
from edge_agent.identity.claim_token import ClaimRefused, issue_claim, token_of_link, verify_claim
from simulators.central import CentralPlatform
from tests.e2e.test_contract_on_the_wire import load_contract, message_problems, schema_problem
from tests.e2e.test_nfc_session import session_of
from tests.support.broker import MosquittoBroker
from tests.support.claim import (
    GUEST,
    HAT,
    KEY,
    PROFILE_CART,
    SHOES,
    SHOP,
    SOCKS,
    TOPICS,
    AgentFactory,
    claim_config,
    claim_kiosk,
    claim_while_offline,
)
from tests.support.fixtures import ProxyFactory
from tests.support.mqtt_spy import Spy
from tests.support.mqtt_spy import spy as spy  # the fixture
from tests.support.world import wait_until


def claim_view(spy: Spy) -> dict[str, Any] | None:
    """The kiosk's latest retained claim view, as any screen subscribed to it sees it."""
    views = spy.on(TOPICS.basket_claim)
    assert all(v["type"] == T_CLAIM_VIEW for v in views)
    return views[-1]["data"] if views else None


def refused(central: CentralPlatform, token: str, cart: str = PROFILE_CART) -> str:
    with pytest.raises(ClaimRefused) as refusal:
        central.claim(token, cart)
    return refusal.value.reason


def test_a_shopper_takes_the_kiosk_basket_to_their_phone(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    recorder = spy.recorder
    agent = claim_kiosk(tmp_path, broker.port, central, agent_factory)
    central.add_online(PROFILE_CART, HAT)

    agent.scan(SHOES, SOCKS, SOCKS)
    wait_until(lambda: central.cart(GUEST) == {SHOES: 1, SOCKS: 2}, 20, "the guest basket synced")
    wait_until(lambda: (claim_view(spy) or {}).get("state") == "offered", 10, "a claim link")
    view = claim_view(spy)
    assert view is not None
    link = view["link"]
    assert link.startswith(f"{SHOP}/claim/EAC1.")
    assert PROFILE_CART not in link and "shopper" not in link, "the link names no shopper"
    token = token_of_link(link)
    assert token is not None and verify_claim((KEY,), token, time.time()).cart == GUEST

    # Links the platform does not honour, each refused with its reason and counted.
    expired = issue_claim(KEY, "kiosk-01", GUEST, time.time() - 3600)
    forged = issue_claim(bytes(32), "kiosk-01", GUEST, time.time())
    assert refused(central, expired) == "expired"
    assert refused(central, forged) == "bad_signature"
    assert refused(central, issue_claim(KEY, "kiosk-02", GUEST, time.time())) == "unknown_device"
    assert refused(central, token, cart=GUEST) == "not_a_profile_cart"
    assert central.cart(PROFILE_CART) == {HAT: 1}, "a refused claim joins nothing"

    # The shopper, signed in on their phone, takes the basket.
    claimed = central.claim(token, PROFILE_CART)
    assert (claimed.cart, claimed.units) == (GUEST, 3)
    assert central.cart(PROFILE_CART) == {HAT: 1, SHOES: 1, SOCKS: 2}
    wait_until(lambda: (claim_view(spy) or {}).get("state") == "claimed", 10, "the kiosk says it is on the phone")
    assert (claim_view(spy) or {})["units"] == 3
    wait_until(lambda: session_of(agent).guest_cart != GUEST, 10, "a fresh basket")
    assert agent.call(lambda: agent.agent.cart_id) != GUEST  # type: ignore[union-attr]

    # The same link again, or another link of the claimed basket: refused.
    assert refused(central, token) == "already_claimed"
    assert refused(central, issue_claim(KEY, "kiosk-01", GUEST, time.time())) == "already_claimed"
    assert central.stats.claims == 1
    assert central.stats.claims_refused == {
        "expired": 1,
        "bad_signature": 1,
        "unknown_device": 1,
        "not_a_profile_cart": 1,
        "already_claimed": 2,
    }

    # The next shopper's scan goes to the fresh basket, with a link of its own.
    agent.scan(HAT)
    wait_until(lambda: (claim_view(spy) or {}).get("state") == "offered", 10, "a new link")
    new_link = (claim_view(spy) or {})["link"]
    assert new_link != link
    new_token = token_of_link(new_link)
    assert new_token is not None and verify_claim((KEY,), new_token, time.time()).cart == session_of(agent).guest_cart
    assert central.cart(PROFILE_CART) == {HAT: 1, SHOES: 1, SOCKS: 2}, "the next shopper's scan is not the claimer's"

    # Both messages keep the contract of docs/asyncapi.yaml as they crossed the wire.
    channels = load_contract()
    views = recorder.on(TOPICS.basket_claim)
    assert {json.loads(m.payload)["data"]["state"] for m in views if m.payload} >= {"offered", "claimed"}
    for message in views:
        assert message_problems(message, [channels["deviceClaim"]]) == [], message.topic
    (claimed_message,) = recorder.on(TOPICS.basket_claimed)
    assert schema_problem(channels["deviceClaimed"], json.loads(claimed_message.payload)) is None
    assert PROFILE_CART.encode() not in claimed_message.payload, "the kiosk never learns the profile cart"


def test_a_link_opened_while_the_kiosk_is_offline_joins_the_lines_once_they_arrive(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
    spy: Spy,
) -> None:
    proxy = proxy_factory(broker)
    agent = claim_kiosk(tmp_path, proxy.port, central, agent_factory)
    claim_while_offline(agent, central, proxy, SHOES, SOCKS)
    proxy.pass_through()
    wait_until(lambda: agent.connected, 30, "reconnected")
    wait_until(lambda: central.cart(PROFILE_CART) == {HAT: 1, SHOES: 1, SOCKS: 1}, 30, "the late lines joined")
    wait_until(lambda: session_of(agent).guest_cart != GUEST, 20, "the kiosk heard of the claim")


def test_erasing_the_shopper_forgets_their_claims_and_the_kiosks_late_lines_still_sync(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
    spy: Spy,
) -> None:
    """A claim names the profile cart: erasure removes it, and lines of the claimed guest basket that arrive
    afterwards are applied to the guest cart (never refused for a profile cart that is gone, never stuck)."""
    proxy = proxy_factory(broker)
    agent = claim_kiosk(tmp_path, proxy.port, central, agent_factory)
    claim_while_offline(agent, central, proxy, SHOES)

    central.erase_shopper(PROFILE_CART, "acme", "s042", "erase-1")
    assert refused(central, issue_claim(KEY, "kiosk-01", GUEST, time.time())) == "not_a_profile_cart"
    proxy.pass_through()
    wait_until(lambda: agent.connected, 30, "reconnected")
    wait_until(lambda: agent.outbox_total() == 0, 30, "every op the kiosk saved confirmed by the platform")
    assert central.cart(GUEST) == {HAT: 1, SHOES: 1}, "the late line applied to the guest cart"
    assert central.cart(PROFILE_CART) == {}, "nothing joined into the forgotten cart"


def test_a_basket_that_became_an_order_at_the_till_cannot_be_claimed(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = claim_kiosk(tmp_path, broker.port, central, agent_factory)
    agent.scan(SHOES)
    wait_until(lambda: (claim_view(spy) or {}).get("state") == "offered", 10, "a claim link")
    token = token_of_link((claim_view(spy) or {})["link"])
    assert token is not None
    agent.call(lambda: agent.agent.basket.checkout())  # type: ignore[union-attr]
    wait_until(lambda: central.seal(GUEST) is not None, 20, "sealed at the till")
    assert refused(central, token) == "already_checked_out"
    assert central.cart(PROFILE_CART) == {}


def test_a_malformed_or_forged_claim_message_is_refused_by_the_kiosk_with_a_counted_reason(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = agent_factory(claim_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    agent.scan(SHOES)
    wait_until(lambda: (claim_view(spy) or {}).get("state") == "offered", 10, "a claim link")
    event = {
        "specversion": "1.0",
        "type": "com.edgeagent.basket.claimed.v1",
        "source": "urn:x",
        "id": "1",
        "time": "2026-11-23T10:00:00Z",
        "data": {"cart": GUEST, "claim_id": "claim-0001", "claimed_at": "2026-11-23T10:00:00Z", "units": 1},
    }
    bad_units = {**event, "data": {**event["data"], "units": -1}}  # type: ignore[dict-item]
    other_cart = {**event, "data": {**event["data"], "cart": "kiosk-01-other"}}  # type: ignore[dict-item]
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="hostile")
    client.connect(broker.host, broker.port)
    client.loop_start()
    for payload in (b"\xff not json", json.dumps(bad_units).encode(), json.dumps(other_cart).encode()):
        client.publish(TOPICS.basket_claimed, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()

    def rejected() -> dict[str, int]:
        return dict(agent.call(lambda: agent.agent.router.rejected))  # type: ignore[union-attr]

    reasons = ("not_json", "schema", "claim_not_current")
    wait_until(lambda: all(r in rejected() for r in reasons), 10, "three refusals", details=rejected)
    assert {r: rejected()[r] for r in reasons} == {
        "not_json": 1,
        "schema": 1,
        "claim_not_current": 1,
    }
    assert session_of(agent).guest_cart == GUEST and (claim_view(spy) or {})["state"] == "offered"
