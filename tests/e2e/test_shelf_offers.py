"""Offers at the shelf, through the real agent, Mosquitto and the central simulator: a shopper who shows their app
code at a shelf screen with ``personalisation`` sees the platform's offers there and accepts one onto their cart;
without the scope the shelf shows none. (The kiosk and the mirror: tests/e2e/test_consent_and_offers.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig
from simulators.central import CentralPlatform
from tests.e2e.test_consent_and_offers import (
    PROFILE_CART,
    SOCKS_OFFER,
    AgentFactory,
    kiosk,
    offer_command,
    present,
    session_id,
    shown,
    socks_offer,
)
from tests.e2e.test_consent_and_offers import platform as platform  # the fixture
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, wait_until


def shelf(tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory) -> InProcessAgent:
    raw: dict[str, Any] = kiosk(tmp_path, broker.port).model_dump(mode="json", exclude_none=True)
    raw["device"]["role"] = "shelf"  # the same device id: the helpers' topics are this device's
    agent = agent_factory(AgentConfig.model_validate(raw))
    wait_until(lambda: agent.connected, 10, "agent connected")
    return agent


def test_the_shelf_shows_offers_to_a_consented_shopper_and_an_accepted_one_goes_on_their_cart(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = shelf(tmp_path, broker, agent_factory)
    present(agent, "profile", "cart_sync", "personalisation")  # cart_sync: the session's cart is the profile cart
    wait_until(lambda: platform.offers.session_of(PROFILE_CART) == session_id(agent), 15, "the shelf's session linked")
    assert platform.offers.publish(PROFILE_CART, [socks_offer()])
    wait_until(lambda: [o["offer_id"] for o in shown(spy).get("offers", [])] == [SOCKS_OFFER], 10, "offer shown")

    offer_command(broker, agent, "accept", SOCKS_OFFER)
    wait_until(lambda: platform.cart_attrs(PROFILE_CART).get(f"offer.{SOCKS_OFFER}") == "accepted", 15, "on the cart")


def test_without_personalisation_the_shelf_links_no_session_and_shows_no_offer(
    tmp_path: Path, broker: MosquittoBroker, platform: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = shelf(tmp_path, broker, agent_factory)
    present(agent, "profile")
    wait_until(lambda: shown(spy).get("identified") is True, 10, "the shopper identified at the shelf")
    wait_until(lambda: agent.outbox_total() == 0, 15, "everything the shelf wrote is at the platform")
    assert platform.offers.session_of(PROFILE_CART) is None, "nothing tells the platform to personalise"
    assert not platform.offers.publish(PROFILE_CART, [socks_offer()]), "no session to send offers to"
    assert shown(spy).get("offers", []) == []
