"""Bad endless-aisle input, each kind: rejected with a reason, counted, never shown as an order or a
confirmation; the agent and the platform keep running. Catalog availability, the kiosk's and the tote's order
commands, the platform's answer in a cart snapshot, and order requests or answers forged by a device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edge_agent.contract.topics import Topics
from simulators.central import CentralPlatform
from tests.e2e.test_bad_input import EVENT, _publish
from tests.e2e.test_endless_aisle import BELT, SHIRT, kiosk, line, order
from tests.e2e.test_nfc_session import session_of
from tests.e2e.test_spine import AgentFactory
from tests.e2e.test_tote import handheld_config, ui, view
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.world import wait_until

TOPICS = Topics("acme", "s042", "kiosk-01")
CART = "kiosk-01-basket"
AS_OF = "2026-11-23T10:00:00Z"


def catalog(availability: Any) -> bytes:
    item = {"gtin14": BELT, "version": 2, "name": "Belt", "stock": 0, "availability": availability}
    data = {"version": 2, "items": [item]}
    return json.dumps({**EVENT, "type": "com.edgeagent.catalog.update.v1", "data": data}).encode()


BAD_AVAILABILITY = [
    {"online": {"qty": -1, "as_of": AS_OF}},
    {"online": {"qty": 10**9, "as_of": AS_OF}},
    {"online": {"qty": 3}},
    {"online": {"qty": 3, "as_of": "yesterday"}},
    {"stores": [{"store": "S/7#", "qty": 1, "as_of": AS_OF}]},
    {"stores": [{"store": f"s{i:03d}", "qty": 1, "as_of": AS_OF} for i in range(21)]},
    {"stores": [{"qty": 1, "as_of": AS_OF}]},
    {"warehouse": {"qty": 1, "as_of": AS_OF}},
    [{"online": 3}],
]

BAD_ORDERS: list[dict[str, Any]] = [
    {"fulfilment": "teleport"},
    {"fulfilment": "pickup"},
    {"fulfilment": "pickup@"},
    {"fulfilment": "pickup@S/7"},
    {"fulfilment": "ship", "qty": 0},
    {"fulfilment": "ship", "gtin14": "123"},
]


def test_bad_availability_in_a_catalog_update_is_rejected_and_the_last_good_figures_stay(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = kiosk(tmp_path, broker, central, agent_factory)
    for availability in BAD_AVAILABILITY:
        _publish(broker, TOPICS.catalog, catalog(availability))
    assert agent.agent is not None
    router = agent.agent.router
    wait_until(lambda: router.rejected["schema"] == len(BAD_AVAILABILITY), 15, "every bad update rejected",
               details=lambda: dict(router.rejected))  # fmt: skip
    assert agent.catalog_version() == 1, "nothing of them applied"
    assert agent.call(lambda: agent.agent.store.availability(BELT)) is None  # type: ignore[union-attr]
    _publish(broker, TOPICS.catalog, catalog({"online": {"qty": 4, "as_of": AS_OF}}))
    wait_until(lambda: agent.catalog_version() == 2, 15, "a good update still applies")


@pytest.mark.parametrize("bad", BAD_ORDERS, ids=lambda b: "-".join(f"{k}={v}" for k, v in b.items()))
def test_a_bad_order_command_from_the_kiosk_screen_is_rejected_and_orders_nothing(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    bad: dict[str, Any],
) -> None:
    agent = kiosk(tmp_path, broker, central, agent_factory)
    data = {"action": "order", "session_id": session_of(agent).session_id, "gtin14": SHIRT, **bad}
    payload = {**EVENT, "type": "com.edgeagent.basket.command.v1", "data": data}
    _publish(broker, TOPICS.ui, json.dumps(payload).encode())
    assert agent.agent is not None
    router = agent.agent.router
    wait_until(lambda: router.rejected["schema"] == 1, 15, "rejected", details=lambda: dict(router.rejected))
    assert agent.basket() == {} and agent.outbox_total() == 0


def test_an_order_without_a_fulfilment_is_rejected(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = kiosk(tmp_path, broker, central, agent_factory)
    data = {"action": "order", "session_id": session_of(agent).session_id, "gtin14": SHIRT}
    _publish(broker, TOPICS.ui, json.dumps({**EVENT, "type": "com.edgeagent.basket.command.v1", "data": data}).encode())
    assert agent.agent is not None
    router = agent.agent.router
    wait_until(lambda: router.rejected["schema"] == 1, 15, "rejected", details=lambda: dict(router.rejected))
    assert agent.outbox_total() == 0


def test_a_tote_order_line_with_a_bad_fulfilment_is_rejected_and_one_for_carry_out_refused(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(handheld_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 15, "connected")
    ui(broker, "open")
    wait_until(lambda: view(agent) is not None and view(agent).state == "draft", 10, "a draft tote")
    before = agent.ops_created()
    topic = Topics("acme", "s042", "handheld-03").ui
    for fulfilment in ("pickup@", "teleport", "ship@s007"):
        tote = {"action": "order_line", "associate": "emp-042", "gtin14": SHIRT, "fulfilment": fulfilment}
        _publish(broker, topic, json.dumps({**EVENT, "type": "com.edgeagent.tote.command.v1", "data": tote}).encode())
    assert agent.agent is not None
    router = agent.agent.router
    wait_until(lambda: router.rejected["schema"] == 3, 15, "rejected", details=lambda: dict(router.rejected))
    ui(broker, "order_line", gtin14=SHIRT, fulfilment="carry_out")
    wait_until(lambda: view(agent).refused == "not_an_order", 10, "refused: scan to carry out")
    assert agent.ops_created() == before and view(agent).lines == []


def test_an_unreadable_answer_in_a_snapshot_is_counted_and_the_line_stays_requested(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    spy = Spy(broker)
    try:
        agent = kiosk(tmp_path, broker, central, agent_factory)
        central.go_offline()  # the platform will not answer: only the hostile snapshot does
        order(broker, agent, SHIRT, "ship")
        wait_until(lambda: (line(spy, SHIRT).get("order") or {}).get("state") == "requested", 15, "requested")
        snapshot = {
            "cart_id": CART,
            "version": 50,
            "hlc_max": 1,
            "entries": [],
            "tombstones": [],
            "attrs": [
                {
                    "key": f"aisle.{SHIRT}.answer",
                    "value": '{"state": "accepted", "order_ref": "free-shirt"}',
                    "hlc": 2**40,
                    "device": "web",
                    "op_id": "web:00000000000000aa:1",
                }
            ],
        }
        event = {**EVENT, "type": "com.edgeagent.cart.snapshot.v1", "data": snapshot}
        _publish(broker, TOPICS.cart_state(CART), json.dumps(event).encode())
        assert agent.agent is not None
        router = agent.agent.router
        wait_until(lambda: router.rejected["bad_aisle_answer"] == 1, 15, "counted",
                   details=lambda: dict(router.rejected))  # fmt: skip
        assert line(spy, SHIRT)["order"]["state"] == "requested", "never shown as confirmed"
        assert agent.connected
    finally:
        spy.close()


def test_the_platform_drops_answers_forged_by_a_device_and_counts_unreadable_requests(
    broker: MosquittoBroker, central: CentralPlatform
) -> None:
    def op(seq: int, key: str, value: str) -> dict[str, Any]:
        return {
            "op_id": f"kiosk-01:00000000000000aa:{seq}",
            "uuid": f"8c1d6a4e-6d0b-4f6e-9a57-1f0b7e0c2d1{seq}",
            "device": "kiosk-01",
            "epoch": "00000000000000aa",
            "seq": seq,
            "cart_id": CART,
            "kind": "attr.set",
            "hlc": 1,
            "key": key,
            "value": value,
        }

    forged = json.dumps({"request": "kiosk-01:00000000000000aa:1", "fulfilment": "ship", "state": "accepted"})
    ops = [op(1, f"aisle.{SHIRT}", "teleport"), op(2, f"aisle.{SHIRT}.answer", forged)]
    batch = {"device": "kiosk-01", "epoch": "00000000000000aa", "hlc_max": 1, "ops": ops}
    _publish(broker, TOPICS.ops, json.dumps({**EVENT, "type": "com.edgeagent.cart.ops.v1", "data": batch}).encode())
    wait_until(lambda: sum(central.stats.rejected.values()) == 2, 10, "both counted",
               details=lambda: central.stats.rejected)  # fmt: skip
    assert central.stats.rejected == {"bad_aisle_request": 1, "forged_aisle_answer": 1}
    assert f"aisle.{SHIRT}.answer" not in central.cart_attrs(CART)
