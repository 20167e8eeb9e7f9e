"""The kiosk's basket view under a burst: scans saved faster than the screen feed rebuilds the view (it builds at
most one per interval, edge_agent/coalesce.py) still end with the whole basket on the retained display, and the
view a screen that connects later reads is that same last one."""

from __future__ import annotations

import json
from pathlib import Path

from edge_agent.contract.topics import Topics
from edge_agent.identifiers.gtin import normalise_gtin
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.broker import MosquittoBroker
from tests.support.wire import WireRecorder
from tests.support.world import make_config, wait_until

GTINS = [normalise_gtin(c) for c in DEMO_CODES[:3]]
BURST = [GTINS[0], GTINS[1], GTINS[1], GTINS[2], GTINS[0], GTINS[2], GTINS[2]]


def shown(recorder: WireRecorder, topic: str) -> dict[str, int] | None:
    """The basket lines (gtin14 -> qty) of the latest view on the display topic, None before any."""
    views = recorder.on(topic)
    if not views:
        return None
    data = json.loads(views[-1].payload)["data"]
    return {line["gtin14"]: line["qty"] for line in data["lines"]}


def test_a_burst_of_scans_ends_with_the_whole_basket_on_the_retained_display(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    config = make_config(tmp_path, broker.port, cart_id="kiosk-01-basket")
    display = Topics(config.device.tenant, config.device.store, config.device.id).display
    with WireRecorder(broker.host, broker.port) as wire:
        agent = agent_factory(config)
        agent.scan(GTINS[0])
        converge(agent, central, {GTINS[0]: 1})
        wait_until(lambda: shown(wire, display) == {GTINS[0]: 1}, 15, "the first scan on the screen")
        for gtin in BURST:  # one at a time, as a fast scanner hands them over, not one group
            agent.scan(gtin)
        final = {GTINS[0]: 3, GTINS[1]: 2, GTINS[2]: 3}
        converge(agent, central, final)
        wait_until(lambda: shown(wire, display) == final, 15, "the burst's last state on the screen")
    with WireRecorder(broker.host, broker.port, client_id="late-screen") as late:
        wait_until(lambda: shown(late, display) is not None, 10, "the retained view")
        assert shown(late, display) == final
        assert late.on(display)[-1].retain
