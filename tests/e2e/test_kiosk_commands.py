"""The kiosk's screen starts a checkout and ends a session over dv/{device}/ui, like every other command."""

from __future__ import annotations

from pathlib import Path

from edge_agent.identifiers.gtin import normalise_gtin
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.e2e.test_nfc_session import send_ui_command, session_of
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.broker import MosquittoBroker
from tests.support.world import make_config, wait_until

GTINS = [normalise_gtin(c) for c in DEMO_CODES[:2]]


def test_checkout_from_the_screen_is_sealed_by_the_platform_and_the_next_scan_starts_a_new_basket(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id="kiosk-01-basket"))
    agent.scan(GTINS[0])
    converge(agent, central, {GTINS[0]: 1})
    send_ui_command(broker, agent, "checkout", None)
    wait_until(lambda: central.seal("kiosk-01-basket") is not None, 15, "the platform sealed the basket")
    assert agent.agent is not None
    wait_until(lambda: agent.call(lambda: agent.agent.cart_id) != "kiosk-01-basket", 15, "a fresh basket")  # type: ignore[union-attr]
    fresh = agent.call(lambda: agent.agent.cart_id)  # type: ignore[union-attr]
    agent.scan(GTINS[1])
    wait_until(lambda: central.cart(fresh) == {GTINS[1]: 1}, 15, "the next scan is in the new basket")
    assert central.cart("kiosk-01-basket") == {GTINS[0]: 1}, "the order keeps what was sealed"


def test_end_of_session_from_the_screen_starts_a_new_session_and_keeps_the_anonymous_basket_a_while(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id="kiosk-01-basket"))
    agent.scan(GTINS[0])
    converge(agent, central, {GTINS[0]: 1})
    before = session_of(agent).session_id
    send_ui_command(broker, agent, "end_session", None)
    wait_until(lambda: session_of(agent).session_id != before, 15, "a new session")
    assert agent.agent is not None
    assert agent.call(lambda: agent.agent.cart_id) != "kiosk-01-basket"  # type: ignore[union-attr]
    assert agent.basket() == {GTINS[0]: 1}, "the ended anonymous basket is kept for its retention time"
