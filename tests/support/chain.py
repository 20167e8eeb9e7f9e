"""A chain's world for tests: a 3-node NATS cluster, the platform on it, agents with the three nodes as endpoints."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from edge_agent.config import AgentConfig
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.store import readonly
from simulators.camera import write_scan_video
from simulators.central import CentralPlatform
from simulators.cluster import NatsCluster
from simulators.fleet import Fleet, FleetReport, store_id
from tests.support.world import AgentProcess, basket_of, make_config, outbox_total, wait_until

__all__ = [
    "CartReader",
    "camera_agent",
    "chain_central",
    "chain_config",
    "cluster",
    "run_camera_agents_with_fleet",
    "wait_basket_equals_cart",
]

PLATFORM_NODE = 0
"""The node the single-process central simulator connects to; fault tests kill another one."""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A started 3-node NATS cluster (JetStream, MQTT 3.1.1, R3 streams), stopped after the test."""
    with NatsCluster(tmp_path / "nats") as started:
        yield started


@pytest.fixture
def chain_central(cluster: NatsCluster, tmp_path: Path) -> Iterator[CentralPlatform]:
    """The reference platform on the cluster, MQTT 3.1.1 (NATS has no MQTT 5, so no shared subscription)."""
    host, port = cluster.mqtt_endpoints[PLATFORM_NODE]
    platform = CentralPlatform(tmp_path / "central.db", host, port, protocol="3.1.1").start()
    yield platform
    platform.stop()


def chain_config(
    tmp_path: Path,
    endpoints: Sequence[tuple[str, int]],
    *,
    device: str = "kiosk-01",
    first: int = 0,
    **options: Any,
) -> AgentConfig:
    """An agent on the chain: MQTT 3.1.1 and every node as an endpoint, tried in turn starting at node ``first``
    (a fleet spreads over the nodes by giving each device a different ``first``)."""
    turn = [*endpoints[first:], *endpoints[:first]]
    return make_config(
        tmp_path,
        turn[0][1],
        device=device,
        protocol="3.1.1",
        endpoints=[{"host": host, "port": port} for host, port in turn],
        **options,
    )


class CartReader(Protocol):
    """What a platform shows of a cart: the single-process central simulator or the workers' database."""

    def cart(self, cart_id: str) -> dict[str, int]: ...


def camera_agent(
    tmp_path: Path, cluster: NatsCluster, i: int, codes: Sequence[str]
) -> tuple[AgentProcess, Counter[str]]:
    """Agent i in store i, first on node i, reading a video of two products of ``codes``, the first one twice;
    returned with the basket it should end with."""
    scanned = [codes[i % len(codes)], codes[(i + 1) % len(codes)], codes[i % len(codes)]]
    script: list[tuple[str | None, int]] = []
    for code in scanned:
        script += [(code, 8), (None, 12)]  # held 0.53 s, gone 0.8 s: brought back counts again
    workdir = tmp_path / f"agent-{i}"
    workdir.mkdir()
    video = write_scan_video(workdir / "scans.avi", script, fps=15, seed=i)
    config = chain_config(
        workdir, cluster.mqtt_endpoints, device=f"kiosk-{store_id(i)}", store=store_id(i), first=i, video=video
    )
    config.readers.barcode.pace = True  # type: ignore[union-attr]  # played in real time, like a camera
    return AgentProcess(config, workdir), Counter(normalise_gtin(c) for c in scanned)


def wait_basket_equals_cart(proc: AgentProcess, platform: CartReader, expected: dict[str, int]) -> None:
    """Wait until the agent's outbox is empty and its basket, its platform cart and ``expected`` are equal (its
    database may not be there yet when a small fleet drains before the agent process got going)."""
    db, cart = proc.db_path, proc.config.basket.cart_id or ""
    wait_until(
        lambda: (
            readonly.initialised(db)
            and outbox_total(db) == 0
            and basket_of(db, cart) == platform.cart(cart) == expected
        ),
        90,
        f"{proc.config.device.id}'s basket equal to its platform cart",
        details=lambda: (basket_of(db, cart), platform.cart(cart), proc.log_text()[-1500:]),
    )


def run_camera_agents_with_fleet(
    tmp_path: Path,
    cluster: NatsCluster,
    platform: CartReader,
    agents: Sequence[tuple[AgentProcess, Counter[str]]],
    *,
    stores: int,
    devices: int,
    ops_per_device: int,
    drain_timeout: float,
) -> tuple[FleetReport, dict[str, dict[str, int]]]:
    """Run the camera agents next to a fleet adding ``ops_per_device`` each until every agent's basket equals its
    platform cart; the fleet's report and the carts it expects on the platform."""
    with Fleet(tmp_path / "fleet", cluster.mqtt_endpoints, stores=stores, devices=devices) as fleet:
        try:
            for proc, _ in agents:
                proc.start()
            fleet.add_ops(ops_per_device)
            fleet.wait_drained(timeout=drain_timeout)
            for proc, expected in agents:
                wait_basket_equals_cart(proc, platform, dict(expected))
            return fleet.report(), fleet.expected_carts()
        finally:
            for proc, _ in agents:
                proc.stop()
