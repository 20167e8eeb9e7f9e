"""Faults with a real broker: each ends with the central cart equal to the store basket, every op the
agent reported as saved applied at the central, and none applied twice (applied_ops is keyed by op id,
so 'applied twice' would show as a central count above the number of ops the device created)."""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.store import readonly
from simulators.camera import write_scan_video
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.broker import MosquittoBroker
from tests.support.fixtures import BrokerFactory, ProxyFactory
from tests.support.world import AgentProcess, basket_of, make_config, outbox_total, wait_until, write_config

BURST_CODES = [f"{n:012d}" for n in range(400638133390, 400638133390 + 40)]


def _ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _applied_op_ids(central: CentralPlatform, device: str) -> set[str]:
    return central.applied_op_ids(device)


def test_broker_killed_and_restarted_mid_drain_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, batch_max_ops=20, window=4))
    gtins = [normalise_gtin(_ean13(c)) for c in BURST_CODES[:10]]
    agent.scan(*(gtins * 60))  # 600 ops
    wait_until(lambda: central.applied_count("kiosk-01") >= 60, 30, "the drain to be under way")
    broker.kill()
    agent.scan(*gtins[:5])  # saved while the broker is dead
    time.sleep(0.5)
    broker.restart()
    expected = {g: 60 for g in gtins} | {g: 61 for g in gtins[:5]}
    converge(agent, central, expected, timeout=60)
    assert central.applied_count("kiosk-01") == agent.ops_created() == 605


def test_agent_sigkilled_in_a_burst_of_scans_loses_no_saved_op(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform
) -> None:
    codes = [_ean13(c) for c in BURST_CODES]
    video = write_scan_video(tmp_path / "burst.avi", [(c, 4) for c in codes], fps=30, seed=3)
    config = make_config(tmp_path, broker.port, video=video)
    proc = AgentProcess(config, tmp_path).start()
    try:
        wait_until(lambda: len(proc.saved_op_ids()) >= 8, 60, "a burst of saved scans", details=proc.log_text)
        proc.kill()  # SIGKILL: no shutdown code runs
        saved_before_kill = proc.saved_op_ids()
        # Restart without the camera: the agent must drain what it saved before it died.
        proc.config = make_config(tmp_path, broker.port)
        proc.config_path = write_config(proc.config, tmp_path / "kiosk-01.toml")
        proc.start()
        cart = config.basket.cart_id or ""
        wait_until(
            lambda: (
                outbox_total(config.database_path()) == 0
                and central.cart(cart) == basket_of(config.database_path(), cart)
            ),
            60,
            "drain after restart",
            details=lambda: (outbox_total(config.database_path()), central.cart(cart)),
        )
    finally:
        proc.stop()
    applied = _applied_op_ids(central, "kiosk-01")
    assert saved_before_kill <= applied, f"lost: {sorted(saved_before_kill - applied)[:5]}"
    assert sum(central.cart(cart).values()) == len(applied)  # each applied add is one unit, never doubled


def test_a_black_holed_uplink_is_detected_and_nothing_is_lost_when_it_heals(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    proxy = proxy_factory(broker)
    agent = agent_factory(make_config(tmp_path, proxy.port, keepalive_s=1, connect_timeout_s=1))
    wait_until(lambda: agent.connected, 10, "connected through the proxy")
    gtins = [normalise_gtin(_ean13(c)) for c in BURST_CODES[:4]]
    agent.scan(*gtins)
    converge(agent, central, dict.fromkeys(gtins, 1))
    proxy.black_hole()  # TCP stays up, bytes vanish: only keepalive can tell
    agent.scan(*gtins)
    wait_until(lambda: not agent.connected, 15, "the agent to notice the dead link")
    assert agent.outbox_total() == 4  # saved, waiting
    proxy.pass_through()
    converge(agent, central, dict.fromkeys(gtins, 2), timeout=60)
    assert central.applied_count("kiosk-01") == agent.ops_created() == 8


def test_a_broker_that_drops_queued_messages_still_ends_with_nothing_missing(
    tmp_path: Path, broker_factory: BrokerFactory, agent_factory: AgentFactory
) -> None:
    """Mosquitto drops QoS 1 messages beyond a subscriber's queue (here 5) yet PUBACKs the publisher:
    only the platform's watermark frees the outbox, so the dropped ops are sent again."""
    small = broker_factory(max_queued_messages=5)
    central = CentralPlatform(tmp_path / "c.db", small.host, small.port, shared=False)
    central.start()
    try:
        central.go_offline()  # the broker queues for it: 5 messages, then it drops
        agent = agent_factory(make_config(tmp_path, small.port, batch_max_ops=1, ack_timeout_s=2))
        gtins = [normalise_gtin(_ean13(c)) for c in BURST_CODES[:30]]
        agent.scan(*gtins)
        wait_until(
            lambda: agent.outbox_total() == 30 and _sent(agent.db_path) == 30,
            20,
            "all PUBACKed, none confirmed",
        )
        central.come_online()
        converge(agent, central, dict.fromkeys(gtins, 1), timeout=60)
        assert agent.agent is not None and agent.agent.pump.counters.ack_timeouts > 0, "nothing was dropped?"
    finally:
        central.stop()


def _sent(db_path: Path) -> int:
    return readonly.outbox_stats(db_path).sent
