"""Today's agent-side faults with a 3-node NATS cluster as the broker (MQTT 3.1.1, the three nodes as endpoints).

Each ends as the Mosquitto suite does (tests/faults/test_faults.py): the central cart equal to the store basket,
every op the agent saved applied at the central, none applied twice (applied_ops is keyed by op id, so a double
apply would show as a central count above the ops the device created). The platform is on node 0; the agent
starts on node 1, so killing its node never kills the platform's.
"""

from __future__ import annotations

from pathlib import Path

from edge_agent.identifiers.gtin import gtin_check_digit, normalise_gtin
from simulators.camera import write_scan_video
from simulators.central import CentralPlatform
from simulators.cluster import NatsCluster
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.chain import chain_config
from tests.support.fixtures import ProxyFactory
from tests.support.tcp_proxy import TcpFaultProxy
from tests.support.world import AgentProcess, InProcessAgent, basket_of, outbox_total, wait_until, write_config

AGENT_NODE = 1
BURST_CODES = [f"{n:012d}" for n in range(400638133390, 400638133390 + 40)]


def _ean13(body12: str) -> str:
    return body12 + str(gtin_check_digit(body12))


def _gtins(n: int) -> list[str]:
    return [normalise_gtin(_ean13(c)) for c in BURST_CODES[:n]]


def _agent_through_proxies(
    tmp_path: Path, cluster: NatsCluster, agent_factory: AgentFactory, proxy_factory: ProxyFactory
) -> tuple[InProcessAgent, list[TcpFaultProxy]]:
    """An agent reaching every node through its own fault proxy (a 1 s keepalive notices a dead path fast),
    connected; with the proxies, in node order."""
    proxies = [proxy_factory(cluster.mqtt_endpoint(i)) for i in range(cluster.size)]
    endpoints = [(p.host, p.port) for p in proxies]
    agent = agent_factory(chain_config(tmp_path, endpoints, first=AGENT_NODE, keepalive_s=1, connect_timeout_s=1))
    wait_until(lambda: agent.connected, 30, "connected through the proxies")
    return agent, proxies


def test_an_agent_on_the_cluster_syncs_its_basket_over_mqtt_3_1_1(
    tmp_path: Path, cluster: NatsCluster, chain_central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(chain_config(tmp_path, cluster.mqtt_endpoints, first=AGENT_NODE))
    gtins = _gtins(3)
    agent.scan(*gtins, gtins[0])
    converge(agent, chain_central, {gtins[0]: 2, gtins[1]: 1, gtins[2]: 1})
    chain_central.add_online(agent.cart_id, gtins[1], 2)  # down the cluster: the platform's snapshot
    wait_until(lambda: agent.basket().get(gtins[1]) == 3, 30, "the online edit in the store basket")
    assert chain_central.applied_count("kiosk-01") == agent.ops_created() == 4


def test_the_agents_node_sigkilled_mid_drain_and_restarted_later_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, cluster: NatsCluster, chain_central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    config = chain_config(tmp_path, cluster.mqtt_endpoints, first=AGENT_NODE, batch_max_ops=20, window=4)
    agent = agent_factory(config)
    gtins = _gtins(10)
    agent.scan(*(gtins * 40))  # 400 ops
    wait_until(lambda: chain_central.applied_count("kiosk-01") >= 40, 60, "the drain to be under way")
    cluster.kill(AGENT_NODE)  # SIGKILL: its clients' TCP is reset, its stream replicas are gone
    agent.scan(*gtins[:5])  # saved while the agent moves to the next node
    converge(agent, chain_central, {g: 40 for g in gtins} | {g: 41 for g in gtins[:5]}, timeout=90)
    cluster.restart(AGENT_NODE)  # later: it rejoins and catches up its R3 replicas
    agent.scan(gtins[9])
    converge(agent, chain_central, {g: 40 for g in gtins} | {g: 41 for g in (*gtins[:5], gtins[9])}, timeout=60)
    assert chain_central.applied_count("kiosk-01") == agent.ops_created() == 406


def test_agent_sigkilled_in_a_burst_of_scans_on_the_cluster_loses_no_saved_op(
    tmp_path: Path, cluster: NatsCluster, chain_central: CentralPlatform
) -> None:
    video = write_scan_video(tmp_path / "burst.avi", [(_ean13(c), 4) for c in BURST_CODES], fps=30, seed=3)
    config = chain_config(tmp_path, cluster.mqtt_endpoints, first=AGENT_NODE, video=video)
    proc = AgentProcess(config, tmp_path).start()
    cart = config.basket.cart_id or ""
    try:
        wait_until(lambda: len(proc.saved_op_ids()) >= 8, 60, "a burst of saved scans", details=proc.log_text)
        proc.kill()  # SIGKILL: no shutdown code runs
        saved_before_kill = proc.saved_op_ids()
        # Restarted without the camera: it drains what it saved before it died.
        proc.config = chain_config(tmp_path, cluster.mqtt_endpoints, first=AGENT_NODE)
        proc.config_path = write_config(proc.config, tmp_path / "kiosk-01.toml")
        proc.start()
        wait_until(
            lambda: (
                outbox_total(config.database_path()) == 0
                and chain_central.cart(cart) == basket_of(config.database_path(), cart)
            ),
            60,
            "drain after restart",
            details=lambda: (outbox_total(config.database_path()), chain_central.cart(cart), proc.log_text()[-2000:]),
        )
    finally:
        proc.stop()
    applied = chain_central.applied_op_ids("kiosk-01")
    assert saved_before_kill <= applied, f"lost: {sorted(saved_before_kill - applied)[:5]}"
    assert sum(chain_central.cart(cart).values()) == len(applied)  # each applied add is one unit, never doubled


def test_a_black_holed_store_uplink_is_detected_and_nothing_is_lost_when_it_heals(
    tmp_path: Path,
    cluster: NatsCluster,
    chain_central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    agent, proxies = _agent_through_proxies(tmp_path, cluster, agent_factory, proxy_factory)
    gtins = _gtins(4)
    agent.scan(*gtins)
    converge(agent, chain_central, dict.fromkeys(gtins, 1))
    for proxy in proxies:  # the store's WAN dies: TCP stays up to every node, bytes vanish
        proxy.black_hole()
    agent.scan(*gtins)
    wait_until(lambda: not agent.connected, 15, "the agent to notice the dead link")
    assert agent.outbox_total() == 4  # saved, waiting
    for proxy in proxies:
        proxy.pass_through()
    converge(agent, chain_central, dict.fromkeys(gtins, 2), timeout=60)
    assert chain_central.applied_count("kiosk-01") == agent.ops_created() == 8


def test_a_black_holed_path_to_one_node_moves_the_agent_to_the_next_node(
    tmp_path: Path,
    cluster: NatsCluster,
    chain_central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    agent, proxies = _agent_through_proxies(tmp_path, cluster, agent_factory, proxy_factory)
    first_path = f"{proxies[AGENT_NODE].host}:{proxies[AGENT_NODE].port}"
    assert agent.agent is not None
    assert agent.agent.link.counters.endpoint == first_path
    proxies[AGENT_NODE].black_hole()  # only this path is dead; the other nodes are fine
    gtins = _gtins(4)
    agent.scan(*gtins)
    converge(agent, chain_central, dict.fromkeys(gtins, 1), timeout=60)  # healed by nothing but failover
    assert agent.agent.link.counters.endpoint != first_path
    assert chain_central.applied_count("kiosk-01") == agent.ops_created() == 4
