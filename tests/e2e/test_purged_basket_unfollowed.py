"""A basket purged from the kiosk stays gone: the platform's later edit of it does not bring it back.

Every basket a kiosk records to is followed (its cart-state topic subscribed) so the platform's snapshots reach
it. Once an ended guest basket is purged (retention passed, every op confirmed), the agent unsubscribes it on its
next heartbeat, so a device no longer stays subscribed to every basket it ever held (docs/benchmarks.md, issue
14). The unsubscription itself is not visible on a public surface; what a store sees is that the purged basket
does not come back while the live one still takes online edits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge_agent.config import AgentConfig
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
SHOES, SOCKS, HAT = "09506000134352", "04006381333931", "08710398502131"
PURGE_WAIT_S = 30.0
"""Bounded: a heartbeat (5 s) after the ops are confirmed; far above it."""


def test_a_purged_basket_is_unfollowed_and_a_later_online_edit_does_not_bring_it_back(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    config = make_config(tmp_path, broker.port, cart_id="kiosk-01-basket")
    config = config.model_copy(update={"session": config.session.model_copy(update={"anonymous_retention_s": 0.0})})
    agent = agent_factory(config)
    wait_until(lambda: agent.connected, 10, "agent connected")
    assert agent.agent is not None
    inner = agent.agent
    first = agent.cart_id
    agent.scan(SHOES)
    wait_until(lambda: central.cart(first) == {SHOES: 1}, 10, "first basket applied")
    agent.call(inner.basket.end_session)  # the shopper leaves; the next one gets a fresh basket
    second = agent.call(lambda: inner.cart_id)
    assert second != first

    wait_until(lambda: first not in agent.call(inner.store.cart_ids), PURGE_WAIT_S, "first basket purged")
    # A publish after the purge's heartbeat reaches the broker after its UNSUBSCRIBE (one connection, in order).
    agent.scan(SOCKS)
    wait_until(lambda: central.cart(second) == {SOCKS: 1}, 10, "second basket applied")

    central.add_online(first, HAT)  # the platform edits the purged basket, then the live one
    central.add_online(second, HAT)
    wait_until(lambda: agent.call(lambda: inner.store.quantities(second)) == {SOCKS: 1, HAT: 1}, 10, "live edit")
    assert first not in agent.call(inner.store.cart_ids)
