"""The platform as workers: N independent processes over one PostgreSQL database on a 3-node NATS cluster.

Uplinks reach the workers through JetStream (one durable pull consumer on the stream that captures every device's
ops and sync requests); each batch is applied in one transaction with the (device, epoch, seq) dedupe key and acked
only after COMMIT. Devices are the fleet load generator's simulated devices and real `edge-agent run` processes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from simulators.cluster import NatsCluster
from simulators.fleet import Fleet
from simulators.workers import PlatformReader, WorkerPool, WorkerProcess
from tests.support.chain import camera_agent, run_camera_agents_with_fleet
from tests.support.world import wait_until

STORES = 20
SIM_DEVICES = 200
OPS_PER_DEVICE = 5
CAMERA_AGENTS = 3
CODES = ["4006381333931", "5012345678900", "0036000291452"]

REDELIVERY_S = 3.0
"""The killed worker's un-acked batch goes to the survivor this much later: production's ack wait is 10 s; a test
needs only one well above a loaded worker's batch (tens of milliseconds), not the margin."""

WorkerFactory = Callable[..., list[WorkerProcess]]


@pytest.fixture
def platform(pg_dsn: str) -> Iterator[PlatformReader]:
    reader = PlatformReader(pg_dsn)
    yield reader
    reader.close()


@pytest.fixture
def workers(cluster: NatsCluster, pg_dsn: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    with WorkerPool(cluster.nats_urls, pg_dsn, tmp_path) as pool:
        yield pool.start


def test_two_workers_apply_a_fleet_and_three_agents_exactly_once(
    tmp_path: Path, cluster: NatsCluster, workers: WorkerFactory, platform: PlatformReader
) -> None:
    workers(2)  # before any device publishes: the stream captures uplinks from its creation on
    agents = [camera_agent(tmp_path, cluster, i, CODES) for i in range(CAMERA_AGENTS)]
    report, expected_carts = run_camera_agents_with_fleet(
        tmp_path,
        cluster,
        platform,
        agents,
        stores=STORES,
        devices=SIM_DEVICES,
        ops_per_device=OPS_PER_DEVICE,
        drain_timeout=120,
    )

    ops = SIM_DEVICES * OPS_PER_DEVICE + sum(sum(e.values()) for _, e in agents)
    assert report.created == report.confirmed == SIM_DEVICES * OPS_PER_DEVICE
    assert {cart: platform.cart(cart) for cart in expected_carts} == expected_carts
    assert platform.applied_count() == platform.counted_by_workers() == ops, "every op applied exactly once"
    assert set(platform.applied_by_worker()) == {"w1", "w2"}, "the engine shared the work between the workers"


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, cluster: NatsCluster, workers: WorkerFactory, platform: PlatformReader, pg_dsn: str
) -> None:
    w1, w2 = workers(2, ack_wait_s=REDELIVERY_S)
    by_name = {w.name: w for w in (w1, w2)}
    with Fleet(tmp_path / "fleet", cluster.mqtt_endpoints, stores=4, devices=40) as fleet:
        victim_cart = sorted(fleet.expected_carts())[0]
        fleet.add_ops(2)
        fleet.wait_drained(timeout=60)
        # Hold the victim cart's row lock: the worker that takes its next batch stops inside that batch's
        # transaction (BEGIN'd, rows written, no COMMIT), and is SIGKILLed there.
        with psycopg.connect(pg_dsn) as blocker:
            blocker.execute("SELECT 1 FROM cart_locks WHERE cart_id = %s FOR UPDATE", (victim_cart,))
            fleet.add_ops(3)
            wait_until(lambda: bool(platform.waiting_on_locks()), 60, "a worker stuck inside a batch")
            victim = by_name[platform.waiting_on_locks()[0]]
            victim.kill()
            blocker.rollback()
        survivor = w2 if victim is w1 else w1
        fleet.wait_drained(timeout=90)  # the victim's un-acked messages go to the survivor after ack_wait
        report, expected_carts = fleet.report(), fleet.expected_carts()

    assert report.created == report.confirmed == 40 * 5, "0 lost: every op confirmed by the watermark"
    assert {cart: platform.cart(cart) for cart in expected_carts} == expected_carts
    assert platform.applied_count() == platform.counted_by_workers() == 40 * 5, "0 applied twice"
    assert platform.applied_by_worker().get(survivor.name, 0) > 0
    assert survivor.running() and not victim.running()


def test_a_nats_node_sigkilled_mid_run_and_restarted_later_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, cluster: NatsCluster, workers: WorkerFactory, platform: PlatformReader
) -> None:
    workers(2)
    devices, victim_node = 60, 1
    victim_port = cluster.mqtt_endpoints[victim_node][1]
    with Fleet(tmp_path / "fleet", cluster.mqtt_endpoints, stores=6, devices=devices) as fleet:
        fleet.wait_connected(timeout=60)
        fleet.add_ops(2)
        fleet.wait_drained(timeout=60)
        assert fleet.devices_on(victim_port), "devices try node i mod 3 first: about a third are on the victim"
        fleet.add_ops(3)  # in flight: committed on the devices, on their way through every node
        cluster.kill(victim_node)  # SIGKILL: its MQTT clients and its workers' NATS connections are reset
        fleet.add_ops(2)  # saved during the outage
        fleet.wait_drained(timeout=120)  # the victim's devices back on the other nodes, every op confirmed
        assert fleet.devices_on(victim_port) == []
        cluster.restart(victim_node)  # later: it rejoins and catches up its R3 replicas
        fleet.add_ops(1)
        fleet.wait_drained(timeout=60)
        report, expected_carts = fleet.report(), fleet.expected_carts()

    ops = devices * 8
    assert report.created == report.confirmed == ops, "0 lost: every op confirmed by the watermark"
    assert {cart: platform.cart(cart) for cart in expected_carts} == expected_carts
    assert platform.applied_count() == platform.counted_by_workers() == ops, "0 applied twice"
