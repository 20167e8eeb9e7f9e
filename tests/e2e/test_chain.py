"""A chain, not a store: real camera agents and a fleet of simulated devices over 20 stores on a 3-node NATS cluster.

Three `edge-agent run` processes read camera videos (simulators/camera.py) in three stores; 200 light simulated
devices (simulators/fleet) spread over 20 stores and the three nodes. The platform is the reference central
simulator on the cluster. Every op is applied exactly once and every store basket equals its platform cart.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from edge_agent.identifiers.gtin import normalise_gtin
from simulators.camera import write_scan_video
from simulators.central import CentralPlatform
from simulators.cluster import NatsCluster
from simulators.fleet import Fleet, store_id
from tests.support.chain import chain_config
from tests.support.world import AgentProcess, basket_of, outbox_total, wait_until

STORES = 20
SIM_DEVICES = 200
OPS_PER_DEVICE = 5
CAMERA_AGENTS = 3
CODES = ["4006381333931", "5012345678900", "0036000291452", "9780201379624"]


def _camera_agent(tmp_path: Path, cluster: NatsCluster, i: int) -> tuple[AgentProcess, Counter[str]]:
    """Agent i in store i, starting on node i, reading a video of 3 products (one of them twice)."""
    codes = [CODES[i % len(CODES)], CODES[(i + 1) % len(CODES)], CODES[i % len(CODES)]]
    script: list[tuple[str | None, int]] = []
    for code in codes:
        script += [(code, 8), (None, 12)]  # held 0.53 s, gone 0.8 s: brought back counts again
    workdir = tmp_path / f"agent-{i}"
    workdir.mkdir()
    video = write_scan_video(workdir / "scans.avi", script, fps=15, seed=i)
    config = chain_config(
        workdir, cluster.mqtt_endpoints, device=f"kiosk-{store_id(i)}", store=store_id(i), first=i, video=video
    )
    config.readers.barcode.pace = True  # type: ignore[union-attr]  # played in real time, like a camera
    return AgentProcess(config, workdir), Counter(normalise_gtin(c) for c in codes)


def _wait_basket_equals_cart(proc: AgentProcess, central: CentralPlatform, expected: dict[str, int]) -> None:
    db, cart = proc.db_path, proc.config.basket.cart_id or ""
    wait_until(
        lambda: outbox_total(db) == 0 and basket_of(db, cart) == central.cart(cart) == expected,
        90,
        f"{proc.config.device.id}'s basket equal to its platform cart",
        details=lambda: (basket_of(db, cart), central.cart(cart), proc.log_text()[-1500:]),
    )


def test_camera_agents_and_200_simulated_devices_over_20_stores_are_applied_exactly_once(
    tmp_path: Path, cluster: NatsCluster, chain_central: CentralPlatform
) -> None:
    agents = [_camera_agent(tmp_path, cluster, i) for i in range(CAMERA_AGENTS)]
    with Fleet(tmp_path / "fleet", cluster.mqtt_endpoints, stores=STORES, devices=SIM_DEVICES) as fleet:
        try:
            for proc, _ in agents:
                proc.start()
            fleet.add_ops(OPS_PER_DEVICE)
            fleet.wait_drained(timeout=90)
            for proc, expected in agents:
                _wait_basket_equals_cart(proc, chain_central, dict(expected))
            report = fleet.report()
            expected_carts = fleet.expected_carts()
        finally:
            for proc, _ in agents:
                proc.stop()

    assert report.created == report.confirmed == SIM_DEVICES * OPS_PER_DEVICE
    platform_carts = chain_central.carts()
    assert {cart: platform_carts.get(cart) for cart in expected_carts} == expected_carts
    sim_applied = sum(chain_central.applied_count(d) for d in {c.removesuffix("-basket") for c in expected_carts})
    assert sim_applied == SIM_DEVICES * OPS_PER_DEVICE  # applied_ops is keyed by op id: exactly once
    for proc, expected in agents:
        assert chain_central.applied_count(proc.config.device.id) == sum(expected.values())
