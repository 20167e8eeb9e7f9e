"""A broker crash with its persistence file: Mosquitto 2.0.11 restores the sessions but not the platform's
$share subscription, so what the device sends at once after reconnecting can reach nobody. The device asks for
the platform's watermark again until the platform answers, and then sends again at once whatever that answer does
not cover, instead of waiting out ack_timeout_s (here far longer than the test may run)."""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.identifiers.gtin import normalise_gtin
from simulators.broker import MosquittoBroker
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.world import make_config, wait_until

GTINS = [normalise_gtin(g) for g in ("4006381333931", "5012345678900", "0012345678905")]
ACK_TIMEOUT_S = 3600
"""Far beyond the test's bounds: a drain that waited for it would never finish here."""


def test_after_a_broker_crash_with_persistence_unconfirmed_ops_are_resent_when_the_platform_answers(
    tmp_path: Path, agent_factory: AgentFactory
) -> None:
    with MosquittoBroker(tmp_path / "broker", persistence=True) as broker:
        central = CentralPlatform(tmp_path / "central.db", broker.host, broker.port).start()
        try:
            agent = agent_factory(make_config(tmp_path, broker.port, ack_timeout_s=ACK_TIMEOUT_S))
            wait_until(lambda: agent.connected, 10, "agent connected")
            agent.scan(GTINS[0])
            wait_until(lambda: central.applied_count("kiosk-01") == 1, 20, "first op applied")
            broker.kill()
            agent.scan(*GTINS)
            time.sleep(0.5)
            broker.restart()
            converge(agent, central, {GTINS[0]: 2, GTINS[1]: 1, GTINS[2]: 1}, timeout=60)
            assert central.applied_count("kiosk-01") == agent.ops_created() == 4
        finally:
            central.stop()
