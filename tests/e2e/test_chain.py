"""A chain, not a store: real camera agents and a fleet of simulated devices over 20 stores on a 3-node NATS cluster.

Three `edge-agent run` processes read camera videos (simulators/camera.py) in three stores; 200 light simulated
devices (simulators/fleet) spread over 20 stores and the three nodes. The platform is the reference central
simulator on the cluster. Every op is applied exactly once and every store basket equals its platform cart.
"""

from __future__ import annotations

from pathlib import Path

from simulators.central import CentralPlatform
from simulators.cluster import NatsCluster
from tests.support.chain import camera_agent, run_camera_agents_with_fleet

STORES = 20
SIM_DEVICES = 200
OPS_PER_DEVICE = 5
CAMERA_AGENTS = 3
CODES = ["4006381333931", "5012345678900", "0036000291452", "9780201379624"]


def test_camera_agents_and_200_simulated_devices_over_20_stores_are_applied_exactly_once(
    tmp_path: Path, cluster: NatsCluster, chain_central: CentralPlatform
) -> None:
    agents = [camera_agent(tmp_path, cluster, i, CODES) for i in range(CAMERA_AGENTS)]
    report, expected_carts = run_camera_agents_with_fleet(
        tmp_path,
        cluster,
        chain_central,
        agents,
        stores=STORES,
        devices=SIM_DEVICES,
        ops_per_device=OPS_PER_DEVICE,
        drain_timeout=90,
    )

    assert report.created == report.confirmed == SIM_DEVICES * OPS_PER_DEVICE
    platform_carts = chain_central.carts()
    assert {cart: platform_carts.get(cart) for cart in expected_carts} == expected_carts
    sim_applied = sum(chain_central.applied_count(d) for d in {c.removesuffix("-basket") for c in expected_carts})
    assert sim_applied == SIM_DEVICES * OPS_PER_DEVICE  # applied_ops is keyed by op id: exactly once
    for proc, expected in agents:
        assert chain_central.applied_count(proc.config.device.id) == sum(expected.values())
