"""Endless aisle, end to end through the real agent, Mosquitto and the central simulator: an item this store has
none of shows where else it is; the shopper (kiosk) or associate (tote) orders it for delivery or for pickup at
another store; the platform accepts or refuses it, and the screen says "requested" until it has, also while the
platform is away, never "confirmed" before it did."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract.base import utcnow
from edge_agent.contract.device import BasketLineCommand, BasketLineCommandEvent
from edge_agent.contract.workflow import ToteCommand
from simulators.central import CentralPlatform
from tests.e2e.test_nfc_session import session_of
from tests.e2e.test_spine import AgentFactory
from tests.e2e.test_tote import handheld_config, scan, ui, view
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, make_config, wait_until

SHIRT, BELT = "05012345678900", "05901234123457"
DISPLAY = "rt/v1/acme/st/s042/dv/kiosk-01/display"


def stock_catalog(central: CentralPlatform) -> None:
    """None of either item here; the shirt online (5) and at store s007 (2), as counted ten minutes ago."""
    counted = (utcnow() - timedelta(minutes=10)).isoformat()
    elsewhere = {"online": {"qty": 5, "as_of": counted}, "stores": [{"store": "s007", "qty": 2, "as_of": counted}]}
    common = {"stock": 0, "stock_as_of": counted, "price_minor": 2999, "currency": "EUR", "price_as_of": counted}
    central.publish_catalog(
        "acme",
        "s042",
        [
            {"gtin14": SHIRT, "name": "Shirt", **common, "availability": elsewhere},
            {"gtin14": BELT, "name": "Belt", **common},
        ],
    )


def order(broker: MosquittoBroker, agent: InProcessAgent, gtin14: str, fulfilment: str, qty: int | None = None) -> None:
    """What the kiosk's "order for delivery / pickup at X" control sends."""
    assert agent.agent is not None
    command = BasketLineCommand(
        action="order", session_id=session_of(agent).session_id, gtin14=gtin14, fulfilment=fulfilment, qty=qty
    )
    event = BasketLineCommandEvent(
        source="urn:acme:kiosk-ui", id=f"ui-{time.monotonic_ns()}", time=utcnow(), data=command
    )
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"kiosk-ui-{time.monotonic_ns()}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(agent.agent.topics.ui, event.model_dump_json().encode(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def basket_lines(spy: Spy) -> list[dict[str, Any]]:
    """The lines of the latest basket view on the kiosk's display."""
    views = [m["data"] for m in spy.on(DISPLAY) if m.get("type") == "com.edgeagent.basket.view.v1"]
    return list(views[-1]["lines"]) if views else []


def line(spy: Spy, gtin14: str) -> dict[str, Any]:
    return next((ln for ln in basket_lines(spy) if ln["gtin14"] == gtin14), {})


def order_states(spy: Spy, gtin14: str) -> list[str]:
    """Every state the display showed for the line's order, in order (repeats collapsed)."""
    states: list[str] = []
    for m in spy.on(DISPLAY):
        for ln in m.get("data", {}).get("lines", []):
            if ln["gtin14"] == gtin14 and ln.get("order") and (not states or states[-1] != ln["order"]["state"]):
                states.append(ln["order"]["state"])
    return states


def wait_order_state(spy: Spy, gtin14: str, state: str, what: str, timeout: float = 15) -> None:
    """Wait until the display shows the line's order in ``state``."""
    wait_until(lambda: (line(spy, gtin14).get("order") or {}).get("state") == state, timeout, what)


def kiosk(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> InProcessAgent:
    stock_catalog(central)
    agent = agent_factory(make_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected and agent.catalog_version() == 1, 15, "the catalog on the kiosk")
    return agent


def test_an_item_out_of_stock_here_ordered_for_delivery_is_confirmed_by_the_platform(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = kiosk(tmp_path, broker, central, agent_factory)
    agent.scan(SHIRT)
    wait_until(lambda: line(spy, SHIRT).get("availability") is not None, 15, "availability elsewhere shown")
    shown = line(spy, SHIRT)["availability"]
    assert shown["online"]["qty"] == 5 and shown["stores"][0] == {**shown["stores"][0], "store": "s007", "qty": 2}
    assert line(spy, SHIRT).get("order") is None, "a scanned line is carried out until the shopper orders it"

    order(broker, agent, SHIRT, "ship")
    wait_order_state(spy, SHIRT, "confirmed", "confirmed")
    confirmed = line(spy, SHIRT)["order"]
    assert confirmed["fulfilment"] == "ship" and confirmed["order_ref"].startswith("ea-")
    # The screen feed shows a burst's last state (edge_agent/coalesce.py): an answer within 50 ms of the request may
    # leave "requested" unseen here; the order a platform away keeps "requested" is the away test's below.
    assert order_states(spy, SHIRT) in (["requested", "confirmed"], ["confirmed"]), "never back to requested"
    assert central.stats.aisle_orders["accepted"] == 1
    assert central.cart("kiosk-01-basket") == {SHIRT: 1}, "the ordered line is one line of the basket"


def test_a_pickup_the_other_store_cannot_cover_is_refused_with_its_reason(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = kiosk(tmp_path, broker, central, agent_factory)
    order(broker, agent, SHIRT, "pickup@s007", qty=3)  # s007 holds 2; the line is added by the order itself
    order(broker, agent, BELT, "ship")  # nowhere else either
    wait_order_state(spy, BELT, "refused", "the belt refused")
    wait_order_state(spy, SHIRT, "refused", "the shirt refused")
    assert line(spy, SHIRT)["order"]["reason"] == "not_available"
    assert line(spy, SHIRT)["order"]["fulfilment"] == "pickup@s007" and line(spy, SHIRT)["qty"] == 3
    assert line(spy, BELT)["order"]["reason"] == "not_available"
    assert "confirmed" not in order_states(spy, SHIRT) + order_states(spy, BELT)
    assert central.stats.aisle_orders == {"refused": 2}


def test_an_order_made_while_the_platform_is_away_is_kept_labelled_and_confirmed_when_it_is_back(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = kiosk(tmp_path, broker, central, agent_factory)
    agent.scan(SHIRT)
    wait_until(lambda: central.cart("kiosk-01-basket") == {SHIRT: 1}, 15, "the line at the platform")
    central.go_offline()
    order(broker, agent, SHIRT, "pickup@s007")
    wait_order_state(spy, SHIRT, "requested", "requested")
    assert line(spy, SHIRT)["order"]["offline"] is True, "kept on the kiosk, labelled: not at the platform yet"
    assert agent.outbox_total() >= 1

    central.come_online()
    wait_order_state(spy, SHIRT, "confirmed", "confirmed when back", 30)
    assert line(spy, SHIRT)["order"]["offline"] is False and line(spy, SHIRT)["order"]["fulfilment"] == "pickup@s007"
    assert order_states(spy, SHIRT) == ["requested", "confirmed"]
    wait_until(lambda: agent.outbox_total() == 0, 15, "every op confirmed")


def test_an_associate_orders_a_tote_line_for_pickup_at_another_store_and_the_tote_shows_it_confirmed(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    stock_catalog(central)
    agent = agent_factory(handheld_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected and agent.catalog_version() == 1, 15, "the catalog on the handheld")
    ui(broker, "open")
    wait_until(lambda: view(agent) is not None and view(agent).state == "draft", 10, "a draft tote")
    tote_id = view(agent).tote_id
    scan(agent, SHIRT)
    wait_until(lambda: bool(view(agent).lines) and view(agent).lines[0].availability is not None, 10, "elsewhere")
    ui(broker, "order_line", gtin14=SHIRT, fulfilment="pickup@s007")

    def ordered() -> Any:
        return next((x for x in view(agent).lines if x.fulfilment == "pickup"), None)

    wait_until(lambda: ordered() is not None and ordered().order is not None, 10, "the pickup line")
    wait_until(lambda: ordered().order.state == "confirmed", 15, "confirmed by the platform")
    assert ordered().order.fulfilment == "pickup@s007" and ordered().order.order_ref
    assert [x.fulfilment for x in view(agent).lines] == ["pickup"], "the scanned line became the pickup line"
    assert central.cart(tote_id) == {SHIRT: 1}
    agent.call(lambda: agent.agent.role.totes.command(ToteCommand(action="order_line", associate="emp-042")))  # type: ignore[union-attr]
    assert view(agent).refused == "no_order_line"
