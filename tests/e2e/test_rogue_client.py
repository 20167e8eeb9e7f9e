"""A rogue client on an unfenced store broker (anonymous Mosquitto, as a LAN attacker finds it) cannot crash the
agent, rob its outbox or push its clock; the platform applies an op only from a device that may write its cart.

Each test is one row of the attack table in issue 10. What only the broker's ACL can stop (a forged snapshot's
contents, a forged price) is proven against the shipped fence in tests/e2e/test_fence.py.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_agent.contract.topics import Topics
from edge_agent.domain.hlc import pack, wall_ms_of
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.identity.tokens import merge_proof
from edge_agent.store.lookup import lookup
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.broker import MosquittoBroker
from tests.support.rogue import event, rogue_publish
from tests.support.world import InProcessAgent, make_config, wait_until

TOPICS = Topics("acme", "s042", "kiosk-01")
CART = "kiosk-01-basket"
GTINS = [normalise_gtin(c) for c in DEMO_CODES[:4]]
HUGE = 2**64 + 5


def rejected(agent: InProcessAgent) -> dict[str, int]:
    assert agent.agent is not None
    return dict(agent.agent.router.rejected)


def wait_rejected(agent: InProcessAgent, reason: str, count: int = 1) -> None:
    wait_until(
        lambda: rejected(agent).get(reason, 0) >= count,
        15,
        f"a {reason} reject",
        details=lambda: rejected(agent),
    )


def snapshot(version: int, hlc_max: int, **data: Any) -> bytes:
    body = {"cart_id": CART, "version": version, "entries": [], "tombstones": [], "hlc_max": hlc_max, **data}
    return event("com.edgeagent.cart.snapshot.v1", body)


def ack(applied_upto: int, hlc: int, epoch: str) -> bytes:
    marks = [{"epoch": epoch, "applied_upto": applied_upto}]
    return event("com.edgeagent.cart.applied.v1", {"device": "kiosk-01", "watermarks": marks, "hlc": hlc})


def scanned_and_synced(agent: InProcessAgent, central: CentralPlatform, expected: dict[str, int]) -> None:
    for gtin, qty in expected.items():
        agent.scan(*([gtin] * (qty - agent.basket().get(gtin, 0))))
    converge(agent, central, expected)


def test_a_snapshot_with_an_impossible_clock_is_rejected_and_every_restart_still_scans(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    config = make_config(tmp_path, broker.port, cart_id=CART)
    agent = agent_factory(config)
    scanned_and_synced(agent, central, {GTINS[0]: 1})
    rogue_publish(broker, TOPICS.cart_state(CART), snapshot(10_000, HUGE))  # not retained: gone once delivered
    wait_rejected(agent, "schema")
    agent.stop()
    for _ in range(2):  # every restart, long after the attacker left
        again = agent_factory(config)
        scanned_and_synced(again, central, {GTINS[0]: 1, GTINS[1]: 1 + _})
        again.stop()


def test_a_clock_far_ahead_is_counted_never_adopted_nor_persisted(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    config = make_config(tmp_path, broker.port, cart_id=CART)
    agent = agent_factory(config)
    scanned_and_synced(agent, central, {GTINS[0]: 1})
    assert agent.agent is not None
    a_year_ahead = pack(int(time.time() * 1000) + 365 * 86_400_000, 0)
    version = (agent.call(lambda: agent.agent.store.snapshot_version(CART)) or 0) + 1  # type: ignore[union-attr]
    rogue_publish(broker, TOPICS.cart_state(CART), snapshot(version, a_year_ahead))
    wait_rejected(agent, "clock_ahead")
    rogue_publish(broker, TOPICS.acks, ack(0, a_year_ahead, agent.agent.store.epoch))
    wait_rejected(agent, "clock_ahead", 2)
    agent.scan(GTINS[1])
    converge(agent, central, {GTINS[0]: 1, GTINS[1]: 1})
    allowed_ms = config.mqtt.max_clock_ahead_s * 1000
    assert wall_ms_of(agent.agent.store.clock.last) <= time.time() * 1000 + allowed_ms
    agent.stop()
    restarted = agent_factory(config)
    assert restarted.agent is not None
    assert wall_ms_of(restarted.agent.store.clock.last) <= time.time() * 1000 + allowed_ms, "nothing persisted"


def test_an_ack_with_an_impossible_clock_is_rejected_and_the_next_scan_is_saved_and_applied(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    scanned_and_synced(agent, central, {GTINS[0]: 1})
    assert agent.agent is not None
    body = {"device": "kiosk-01", "watermarks": [], "hlc": 2**63}
    rogue_publish(broker, TOPICS.acks, event("com.edgeagent.cart.applied.v1", body))
    wait_rejected(agent, "schema")
    scanned_and_synced(agent, central, {GTINS[0]: 1, GTINS[1]: 1})


def test_an_ack_above_what_the_device_issued_cannot_delete_unconfirmed_ops(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART, ack_timeout_s=1))
    assert agent.agent is not None
    central.go_offline()  # the platform is away: three scans wait, PUBACKed but unconfirmed
    agent.scan(*GTINS[:3])
    wait_until(lambda: agent.ops_created() == 3, 10, "three scans saved")
    rogue_publish(broker, TOPICS.acks, ack(2**62, 1, agent.agent.store.epoch))
    wait_rejected(agent, "ack_beyond_issued")
    assert agent.outbox_total() == 3, "the forged ack freed nothing"
    central.come_online()
    converge(agent, central, dict.fromkeys(GTINS[:3], 1))


def test_an_erasure_naming_an_anonymous_basket_is_refused_and_its_unsent_ops_stay(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    central.go_offline()
    agent.scan(*GTINS[:3])
    wait_until(lambda: agent.ops_created() == 3, 10, "three scans saved")
    body = {"request_id": "forged-1", "carts": [CART]}
    rogue_publish(broker, TOPICS.erasure, event("com.edgeagent.privacy.erasure.v1", body))
    wait_rejected(agent, "not_a_profile_cart")
    assert agent.basket() == dict.fromkeys(GTINS[:3], 1) and agent.outbox_total() == 3
    central.come_online()
    converge(agent, central, dict.fromkeys(GTINS[:3], 1))


def test_a_snapshot_version_far_ahead_is_refused_and_real_snapshots_still_apply(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    scanned_and_synced(agent, central, {GTINS[0]: 1})
    rogue_publish(broker, TOPICS.cart_state(CART), snapshot(2**62, 1))
    wait_rejected(agent, "version_jump")
    central.add_online(CART, GTINS[3])  # an edit online: the platform's next snapshot must not look stale
    wait_until(lambda: agent.basket() == {GTINS[0]: 1, GTINS[3]: 1}, 15, "the online edit arrives in store")


def _op(device: str, epoch: str, seq: int, cart_id: str, sku: str) -> dict[str, Any]:
    return {
        "op_id": f"{device}:{epoch}:{seq}",
        "uuid": "8c1d6a4e-6d0b-4f6e-9a57-1f0b7e0c2d11",
        "device": device,
        "epoch": epoch,
        "seq": seq,
        "cart_id": cart_id,
        "kind": "entry.add",
        "hlc": 1,
        "sku": sku,
        "qty": 50,
    }


def test_the_platform_holds_ops_a_device_may_not_write_and_applies_the_owner_s(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    scanned_and_synced(agent, central, {GTINS[0]: 1})
    central.open_profile_cart("profile-victim", "acme", "s042")
    epoch = "00000000000000aa"
    rogue = Topics("acme", "s042", "rogue-01")
    ops = [_op("rogue-01", epoch, 1, CART, GTINS[1]), _op("rogue-01", epoch, 2, "profile-victim", GTINS[1])]
    batch = {"device": "rogue-01", "epoch": epoch, "hlc_max": 1, "ops": ops}
    rogue_publish(broker, rogue.ops, event("com.edgeagent.cart.ops.v1", batch))
    wait_until(lambda: central.held_ops("rogue-01") == 2, 15, "both forged ops held", details=lambda: central.stats)
    assert central.stats.ops_held == {"not_cart_owner": 1, "no_merge_grant": 1}
    assert central.cart(CART) == {GTINS[0]: 1} and central.cart("profile-victim") == {}
    scanned_and_synced(agent, central, {GTINS[0]: 1, GTINS[2]: 1})  # the owner's ops still apply


def test_a_catalog_version_far_ahead_is_refused_and_later_real_prices_apply(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    assert agent.agent is not None
    now = datetime.now(UTC).isoformat()
    item = {"gtin14": GTINS[0], "name": "Socks", "price_minor": 499, "currency": "EUR", "price_as_of": now}
    central.publish_catalog("acme", "s042", [item])
    key = ProductKey(GTINS[0])

    def price() -> int | None:
        return agent.call(lambda: lookup(agent.agent.store.conn, key, online=True).price_minor)  # type: ignore[union-attr]

    wait_until(lambda: price() == 499, 15, "the real catalog")
    forged = {"version": 2**63 - 1, "items": [{**item, "version": 2**63 - 1, "price_minor": 1}]}
    rogue_publish(broker, TOPICS.catalog, event("com.edgeagent.catalog.update.v1", forged))
    wait_rejected(agent, "version_jump")
    huge_price = {"version": 3, "items": [{**item, "version": 3, "price_minor": 2**63}]}
    rogue_publish(broker, TOPICS.catalog, event("com.edgeagent.catalog.update.v1", huge_price))
    wait_rejected(agent, "schema")
    assert price() == 499
    central.change_item("acme", "s042", GTINS[0], price_minor=450, price_as_of=now)
    wait_until(lambda: price() == 450, 15, "a real price change after the attack")


def test_a_five_thousand_digit_integer_is_a_counted_reject_on_both_sides(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(make_config(tmp_path, broker.port, cart_id=CART))
    scanned_and_synced(agent, central, {GTINS[0]: 1})
    huge = b'{"specversion": "1.0", "type": "com.edgeagent.cart.applied.v1", "hlc": ' + b"9" * 5000 + b"}"
    for topic in (TOPICS.acks, TOPICS.catalog, TOPICS.cart_state(CART)):
        rogue_publish(broker, topic, huge)
    wait_rejected(agent, "not_json", 3)
    rogue_publish(broker, TOPICS.ops, huge)
    wait_until(lambda: central.stats.rejected.get("not_json", 0) == 1, 15, "the platform counted it")
    scanned_and_synced(agent, central, {GTINS[0]: 1, GTINS[1]: 1})
    assert json.loads(json.dumps(rejected(agent)))  # counted, with reasons


def test_a_merge_grant_arriving_after_the_ops_it_allows_releases_them_in_order(
    broker: MosquittoBroker, central: CentralPlatform
) -> None:
    key = bytes.fromhex("22" * 32)
    central.trust_identity_keys(key)
    central.open_profile_cart("profile-late", "acme", "s042")
    epoch = "00000000000000bb"
    device = Topics("acme", "s042", "kiosk-09")
    grant = {
        **_op("kiosk-09", epoch, 1, "profile-late", GTINS[0]),
        "kind": "attr.set",
        "key": "merge.grant",
        "value": merge_proof(key, "kiosk-09", "profile-late"),
    }
    del grant["sku"], grant["qty"]
    later = _op("kiosk-09", epoch, 2, "profile-late", GTINS[1])
    for ops in ([later], [grant]):  # reordered: the op before the grant that allows it
        batch = {"device": "kiosk-09", "epoch": epoch, "hlc_max": 1, "ops": ops}
        rogue_publish(broker, device.ops, event("com.edgeagent.cart.ops.v1", batch))
    wait_until(lambda: central.cart("profile-late") == {GTINS[1]: 50}, 15, "released by the grant")
    assert central.held_ops("kiosk-09") == 0
    forged = {**grant, "seq": 3, "op_id": f"kiosk-09:{epoch}:3", "cart_id": CART, "value": "0" * 32}
    central.open_profile_cart(CART, "acme", "s042")
    batch = {"device": "kiosk-09", "epoch": epoch, "hlc_max": 1, "ops": [forged]}
    rogue_publish(broker, device.ops, event("com.edgeagent.cart.ops.v1", batch))
    wait_until(lambda: central.stats.ops_held.get("bad_merge_grant") == 1, 15, "a proof that does not verify")
