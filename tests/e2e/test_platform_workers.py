"""The platform as workers: N independent processes over one PostgreSQL database on a 3-node NATS cluster.

Uplinks reach the workers through JetStream (one durable pull consumer on the stream that captures every device's
ops and sync requests); each batch is applied in one transaction with the (device, epoch, seq) dedupe key and acked
only after COMMIT. Devices are the fleet load generator's simulated devices and real `edge-agent run` processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import psycopg
import pytest

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.contract.cart import OpsBatch, OpsBatchEvent
from edge_agent.contract.topics import Topics
from edge_agent.domain.basket import AddItem, plan
from edge_agent.domain.session import SessionState
from simulators.cluster import NatsCluster
from simulators.fleet import Fleet
from simulators.nfc_tags import TagEmulator, product_tag
from simulators.platform.worker import subject_of
from simulators.workers import PlatformReader, WorkerPool, WorkerProcess
from simulators.workers import main as workers_cli
from tests.e2e import test_nfc_session as kiosk
from tests.support.chain import camera_agent, chain_config, run_camera_agents_with_fleet
from tests.support.claim import AgentFactory
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


def kiosk_on_the_chain(tmp_path: Path, cluster: NatsCluster, tags: TagEmulator) -> AgentConfig:
    """The NFC kiosk of tests/e2e/test_nfc_session.py (identity key, loyalty cards) on the cluster, MQTT 3.1.1."""
    nfc = kiosk.nfc_config(tmp_path, cluster.mqtt_endpoints[0][1], tags).model_dump(mode="json", exclude_none=True)
    chain = chain_config(tmp_path, cluster.mqtt_endpoints).model_dump(mode="json", exclude_none=True)
    return AgentConfig.model_validate({**nfc, "mqtt": chain["mqtt"]})


def publish_ops(cluster: NatsCluster, device: str, cart_id: str, sku: str) -> None:
    """One op of another device for ``cart_id``, published on its ops subject as a device's QoS 1 publish lands."""
    op = plan(AddItem(cart_id, sku), []).materialise(
        device=device, epoch="00000000000000bb", seq=1, uuid=uuid.uuid4(), hlc=10**12
    )
    batch = OpsBatch(device=device, epoch=op.epoch, ops=[op], hlc_max=op.hlc)
    event = OpsBatchEvent(source=f"urn:acme:device:{device}", id=f"{device}:late", time=utcnow(), data=batch)

    async def send() -> None:
        nc = await nats.connect(servers=cluster.nats_urls)
        await nc.publish(subject_of(Topics("acme", "s042", device).ops), event.model_dump_json().encode())
        await nc.flush()
        await nc.close()

    asyncio.run(send())


def erase_profile_cart(cluster: NatsCluster, pg_dsn: str, request_id: str) -> None:
    """What an operator runs: ``python -m simulators.workers erase`` for the kiosk's shopper."""
    operator = ["erase", "--nats", ",".join(cluster.nats_urls), "--dsn", pg_dsn, "--cart", kiosk.PROFILE_CART]
    assert workers_cli([*operator, "--tenant", "acme", "--store", "s042", "--request-id", request_id]) == 0


def test_a_shopper_erased_on_the_workers_is_forgotten_by_the_kiosk_and_later_ops_for_the_cart_are_dropped(
    tmp_path: Path,
    cluster: NatsCluster,
    workers: WorkerFactory,
    platform: PlatformReader,
    pg_dsn: str,
    agent_factory: AgentFactory,
) -> None:
    workers(1)
    tags = TagEmulator.on_free_port().start()
    try:
        agent = agent_factory(kiosk_on_the_chain(tmp_path, cluster, tags))
        wait_until(lambda: agent.connected, 20, "the kiosk connected to the cluster")
        kiosk.tap(tags, product_tag(kiosk.SHOES, "type2", uid=bytes.fromhex("04000000000001")))
        wait_until(lambda: platform.cart(agent.cart_id) == {kiosk.SHOES: 1}, 20, "the guest line applied")
        kiosk.tap(tags, kiosk.loyalty_card())
        wait_until(lambda: kiosk.session_of(agent).identity is not None, 10, "the shopper identified")
    finally:
        tags.stop()
    assert agent.agent is not None
    store = agent.agent.store
    assert kiosk.PROFILE_CART in agent.call(store.cart_ids), "the kiosk holds the shopper's profile cart"

    erase_profile_cart(cluster, pg_dsn, "gdpr-workers-1")

    wait_until(lambda: kiosk.PROFILE_CART not in agent.call(store.cart_ids), 15, "the kiosk forgot the cart")
    assert kiosk.session_of(agent).state is SessionState.ANONYMOUS, "the shopper's session ended"
    applied = platform.applied_count()
    publish_ops(cluster, "kiosk-02", kiosk.PROFILE_CART, kiosk.SOCKS)
    wait_until(lambda: platform.applied_count() == applied + 1, 15, "the late op acknowledged (deduped, recorded)")
    assert platform.cart(kiosk.PROFILE_CART) == {}, "never applied to the erased cart"
    assert platform.cart(agent.cart_id) == {kiosk.SHOES: 1}, "the kiosk's own guest basket is untouched"


def test_a_kiosk_away_during_an_erasure_on_the_workers_forgets_the_shopper_when_it_is_back(
    tmp_path: Path,
    cluster: NatsCluster,
    workers: WorkerFactory,
    platform: PlatformReader,
    pg_dsn: str,
    agent_factory: AgentFactory,
) -> None:
    """NATS keeps no plain publish for a device that is away: the kiosk's sync request after its connect lists the
    carts it holds, and the workers ask it again to forget the erased one."""
    workers(1)
    tags = TagEmulator.on_free_port().start()
    try:
        config = kiosk_on_the_chain(tmp_path, cluster, tags)
        agent = agent_factory(config)
        wait_until(lambda: agent.connected, 20, "the kiosk connected to the cluster")
        kiosk.tap(tags, kiosk.loyalty_card())
        wait_until(lambda: kiosk.session_of(agent).identity is not None, 10, "the shopper identified")
        assert agent.agent is not None
        assert kiosk.PROFILE_CART in agent.call(agent.agent.store.cart_ids), "the kiosk holds the profile cart"
        agent.stop()

        erase_profile_cart(cluster, pg_dsn, "gdpr-away-1")

        back = agent_factory(config)
        assert back.agent is not None
        store = back.agent.store
        wait_until(lambda: kiosk.PROFILE_CART not in back.call(store.cart_ids), 20, "the kiosk forgot the cart")
        assert kiosk.session_of(back).state is SessionState.ANONYMOUS, "the shopper's session ended"
    finally:
        tags.stop()
    assert platform.cart(kiosk.PROFILE_CART) == {}, "nothing of the erased shopper on the platform"
