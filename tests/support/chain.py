"""A chain's world for tests: a 3-node NATS cluster, the platform on it, agents with the three nodes as endpoints."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import AgentConfig
from simulators.central import CentralPlatform
from simulators.cluster import NatsCluster
from tests.support.world import make_config

__all__ = ["chain_central", "chain_config", "cluster"]

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
