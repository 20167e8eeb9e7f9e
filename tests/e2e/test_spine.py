"""End to end through a real Mosquitto and the central simulator: scans become central cart lines,
online edits become store basket lines, and the two converge."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from edge_agent.config import AgentConfig
from edge_agent.identifiers.gtin import normalise_gtin
from simulators.camera import DEMO_CODES, write_scan_video
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]


def converge(agent: InProcessAgent, central: CentralPlatform, expected: dict[str, int], timeout: float = 30.0) -> None:
    """Every op confirmed (outbox empty) and both sides show exactly the expected cart."""
    wait_until(
        lambda: agent.outbox_total() == 0 and central.cart(agent.cart_id) == agent.basket() == expected,
        timeout,
        "store basket and central cart to converge",
        details=lambda: (agent.outbox_total(), agent.basket(), central.cart(agent.cart_id)),
    )


def test_codes_in_a_camera_video_arrive_in_the_central_cart_with_their_quantities(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    # Three products; the first is shown twice (taken away and brought back), so it counts twice.
    script = [
        (DEMO_CODES[0], 8),
        (None, 12),
        (DEMO_CODES[1], 8),
        (None, 12),
        (DEMO_CODES[2], 8),
        (None, 12),
        (DEMO_CODES[0], 8),
        (None, 12),
    ]
    video = write_scan_video(tmp_path / "scans.avi", script, fps=15, seed=7)
    config = make_config(tmp_path, broker.port, video=video)
    # Played in real time like a camera: 8 frames held = 0.53 s, shorter than the debounce needs to
    # re-count; the 12-frame gaps (0.8 s) are longer, so bringing a product back counts again.
    config.readers.barcode.pace = True  # type: ignore[union-attr]
    config.readers.barcode.debounce_s = 0.5  # type: ignore[union-attr]
    agent = agent_factory(config)

    expected = Counter(normalise_gtin(code) for code, _ in script if code)
    wait_until(
        lambda: agent.agent is not None and agent.agent.status.reader_health.get("barcode") == "stopped",
        30,
        "the reader to reach the end of the video",
    )
    converge(agent, central, dict(expected))


def test_scans_are_confirmed_by_the_platform_and_the_outbox_empties(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    gtins = [normalise_gtin(c) for c in DEMO_CODES]
    agent.scan(*gtins, gtins[0], gtins[0])
    converge(agent, central, {gtins[0]: 3, **{g: 1 for g in gtins[1:]}})
    assert central.applied_count("kiosk-01") == agent.ops_created() == 7


def test_an_online_edit_arrives_in_the_store_basket(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    gtin_store, gtin_online = normalise_gtin(DEMO_CODES[0]), normalise_gtin(DEMO_CODES[3])
    agent.scan(gtin_store)
    converge(agent, central, {gtin_store: 1})
    central.add_online(agent.cart_id, gtin_online, 2)
    wait_until(
        lambda: agent.basket().get(gtin_online) == 2,
        15,
        "online edit in the store basket",
        details=agent.basket,
    )
    assert agent.basket() == central.cart(agent.cart_id) == {gtin_store: 1, gtin_online: 2}


def test_a_remove_in_store_and_an_add_online_made_concurrently_both_survive_as_add_wins_says(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    from edge_agent.domain.basket import RemoveItem

    agent = agent_factory(make_config(tmp_path, broker.port))
    gtin = normalise_gtin(DEMO_CODES[0])
    agent.scan(gtin)
    converge(agent, central, {gtin: 1})
    # The kiosk removes the unit it saw (committed before the web acts), then the web adds one without
    # having seen that remove: neither observed the other, so the web's unit survives in any delivery order.
    assert agent.agent is not None
    store, pump = agent.agent.store, agent.agent.pump
    agent.call(lambda: store.record([RemoveItem(agent.cart_id, gtin)]))
    central.add_online(agent.cart_id, gtin, 1)
    agent.call(pump.wake)
    wait_until(
        lambda: central.cart(agent.cart_id) == agent.basket() == {gtin: 1} and agent.outbox_total() == 0,
        15,
        "add-wins outcome on both sides",
        details=lambda: (agent.basket(), central.cart(agent.cart_id)),
    )


def test_the_mqtt_3_1_1_profile_carries_the_same_contract(
    tmp_path: Path, broker: MosquittoBroker, agent_factory: AgentFactory
) -> None:
    central = CentralPlatform(tmp_path / "central311.db", broker.host, broker.port, protocol="3.1.1").start()
    try:
        agent = agent_factory(make_config(tmp_path, broker.port, protocol="3.1.1"))
        gtins = [normalise_gtin(c) for c in DEMO_CODES[:3]]
        agent.scan(*gtins)
        converge(agent, central, dict.fromkeys(gtins, 1))
        central.add_online(agent.cart_id, gtins[0], 1)
        wait_until(lambda: agent.basket().get(gtins[0]) == 2, 15, "online edit over 3.1.1", details=agent.basket)
    finally:
        central.stop()


def test_scans_made_while_the_broker_is_down_are_saved_and_synced_when_it_returns(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    broker.stop()
    agent = agent_factory(make_config(tmp_path, broker.port))
    gtins = [normalise_gtin(c) for c in DEMO_CODES]
    agent.scan(*gtins)
    wait_until(lambda: sum(agent.basket().values()) == 5, 10, "scans saved offline")
    assert agent.outbox_total() == 5
    broker.restart()
    converge(agent, central, dict.fromkeys(gtins, 1))


def test_checkout_is_sealed_by_the_platform_and_the_kiosk_moves_on_to_a_fresh_basket(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port))
    gtins = [normalise_gtin(c) for c in DEMO_CODES]
    agent.scan(gtins[0], gtins[1])
    converge(agent, central, {gtins[0]: 1, gtins[1]: 1})
    assert agent.agent is not None
    first_basket = agent.cart_id
    agent.call(agent.agent.basket.checkout)  # committed before the web acts: the web's add is concurrent
    central.add_online(first_basket, gtins[2], 1)
    wait_until(lambda: central.seal(first_basket) is not None, 15, "the platform's seal")
    seal = central.seal(first_basket)
    assert seal is not None and len(seal.entry_ids) == 2  # exactly what the shopper saw
    snapshot = central.snapshot(first_basket)
    assert len(snapshot.added_after_checkout) == 1  # the web's unit: flagged, not dropped, not in the order
    wait_until(lambda: agent.agent.cart_id != first_basket, 15, "the kiosk to start a fresh basket")  # type: ignore[union-attr]
    assert agent.agent.store.seal_of(first_basket) == seal
    agent.cart_id = agent.agent.cart_id
    agent.scan(gtins[3])
    converge(agent, central, {gtins[3]: 1})
