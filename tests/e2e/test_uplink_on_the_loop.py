"""The uplink runs on the agent's own loop: paho has no network thread of its own, keepalive is the loop's, and an
op reaches the platform whichever way it was committed (a scan's commit publishes it at once; anything else the
pump's tick picks up)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge_agent.config import AgentConfig
from edge_agent.domain.basket import AddItem
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
GTIN = "04006381333931"
KEEPALIVES_IDLE = 3


def test_the_agent_runs_no_paho_network_thread(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "the agent to connect")
    agent.scan(GTIN)
    wait_until(lambda: central.cart(agent.cart_id) == {GTIN: 1}, 10, "the scan to reach the platform")
    client_id = agent.config.mqtt.client_id or f"edge-agent-{agent.config.device.id}"
    assert not [t.name for t in threading.enumerate() if t.name.startswith("paho-mqtt-client-") and client_id in t.name]


def test_an_idle_agent_stays_connected_over_several_keepalives(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    config = make_config(tmp_path, broker.port)
    agent = agent_factory(config)
    wait_until(lambda: agent.connected, 10, "the agent to connect")
    assert agent.agent is not None
    time.sleep(KEEPALIVES_IDLE * config.mqtt.keepalive_s)  # the broker drops a client silent for 1.5 keepalives
    assert agent.connected
    assert agent.agent.link.counters.connects == 1
    assert agent.agent.link.counters.disconnects == 0


def test_an_op_committed_outside_a_scan_still_reaches_the_platform(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "the agent to connect")
    agent.scan(GTIN)
    wait_until(lambda: agent.outbox_total() == 0 and central.cart(agent.cart_id) == {GTIN: 1}, 10, "a first scan")
    assert agent.agent is not None
    store = agent.agent.store
    agent.call(lambda: store.record([AddItem(agent.cart_id, GTIN, 2)]))  # straight into the store, no pump call
    wait_until(
        lambda: agent.outbox_total() == 0 and central.cart(agent.cart_id) == {GTIN: 3},
        10,
        "the op recorded behind the pump's back to be sent and confirmed",
        details=lambda: (agent.outbox_total(), central.cart(agent.cart_id)),
    )
