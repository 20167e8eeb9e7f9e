"""The endless aisle on the fitting-room mirror, end to end through the real agent, Mosquitto and the central
simulator: a size the store has none of shows where else it is; the verified shopper orders it for delivery from
the mirror, into their own session basket as the kiosk would; the platform accepts, and the mirror says
"requested" until it has, never "confirmed" before. Without a shopper, or for a size nowhere else, it is refused
with a reason the mirror shows."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.identity.tokens import Claims, issue_token
from edge_agent.readers.events import IdentityPresented
from simulators.central import CentralPlatform
from tests.e2e.test_fitting_room import KEY, PREFIX, AgentFactory, mirror_config, mirror_ui, view
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, wait_until

JEANS_30, JEANS_32, JEANS_34 = "05012345678900", "05901234123457", "08710398502131"
DISPLAY = f"{PREFIX}/dv/mirror-02/display"


def jeans_catalog(central: CentralPlatform) -> None:
    """Size 30 in stock here; 32 and 34 none here, and only 34 online (5) and at store s007 (2)."""
    counted = (utcnow() - timedelta(minutes=10)).isoformat()
    jeans = {"name": "Slim jeans", "style": "slim-indigo", "colour": "indigo", "currency": "EUR", "price_minor": 6999}
    there = {"online": {"qty": 5, "as_of": counted}, "stores": [{"store": "s007", "qty": 2, "as_of": counted}]}
    central.publish_catalog(
        "acme",
        "s042",
        [
            {**jeans, "gtin14": JEANS_30, "size": "30", "stock": 2, "stock_as_of": counted},
            {**jeans, "gtin14": JEANS_32, "size": "32", "stock": 0, "stock_as_of": counted},
            {**jeans, "gtin14": JEANS_34, "size": "34", "stock": 0, "stock_as_of": counted, "availability": there},
        ],
    )


def mirror(tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, factory: AgentFactory) -> InProcessAgent:
    """A mirror with size 30 tapped on it (to the role a hang tag read is a product scan, as test_fitting_room.py
    reads through real nfcpy)."""
    jeans_catalog(central)
    raw = mirror_config(tmp_path, broker.port, "unused").model_dump(mode="json", exclude_none=True)
    agent = factory(AgentConfig.model_validate({**raw, "readers": {}}))  # no NFC reader: taps come as scans
    wait_until(lambda: agent.connected and agent.catalog_version() == 1, 15, "the catalog on the mirror")
    agent.scan(JEANS_30)
    wait_until(lambda: view(agent) is not None and len(view(agent).garments) == 1, 15, "the garment in the room")
    return agent


def identify(agent: InProcessAgent) -> None:
    now = int(time.time())
    claims = Claims(kind="app", sub="shopper-ada-7f3c", cart="profile-ada", consent=("profile", "cart_sync"),
                    iat=now, exp=now + 300, nonce="mirror-aisle-1")  # type: ignore[arg-type]  # fmt: skip
    token = issue_token(KEY, claims)
    agent.call(lambda: agent.agent.submit(IdentityPresented(token, "qr", "camera", time.time())))  # type: ignore[union-attr]
    wait_until(lambda: view(agent).identified, 10, "the shopper identified at the mirror")


def order_states(spy: Spy, gtin14: str) -> list[str]:
    """Every state the mirror's display showed for the size's order, in order (repeats collapsed)."""
    states: list[str] = []
    for m in spy.on(DISPLAY):
        order = m.get("data", {}).get("orders", {}).get(gtin14)
        if order and (not states or states[-1] != order["state"]):
            states.append(order["state"])
    return states


def refusals(spy: Spy) -> list[str]:
    """Every refusal the mirror's display showed, in order."""
    return [m["data"]["refused"] for m in spy.on(DISPLAY) if m.get("data", {}).get("refused")]


def refused(broker: MosquittoBroker, spy: Spy, **command: Any) -> str:
    """Send a mirror command; the refusal the mirror showed for it."""
    before = len(refusals(spy))
    mirror_ui(broker, **command)
    wait_until(lambda: len(refusals(spy)) > before, 10, f"refused: {command}")
    return refusals(spy)[before]


def test_a_size_none_here_is_ordered_for_delivery_from_the_mirror_for_the_verified_shopper(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    spy = Spy(broker)
    try:
        agent = mirror(tmp_path, broker, central, agent_factory)
        garment = view(agent).garments[0]
        assert set(garment.elsewhere) == {JEANS_34}, "only a size none here that is somewhere else"
        there = garment.elsewhere[JEANS_34]
        assert there.online is not None and there.online.qty == 5 and [s.store for s in there.stores] == ["s007"]
        assert view(agent).orders == {}

        identify(agent)
        mirror_ui(broker, action="order_line", target_gtin=JEANS_34, fulfilment="ship")
        wait_until(lambda: JEANS_34 in view(agent).orders, 10, "the order on the mirror")
        wait_until(lambda: view(agent).orders[JEANS_34].state == "confirmed", 15, "the platform accepted it")
        confirmed = view(agent).orders[JEANS_34]
        assert confirmed.fulfilment == "ship" and (confirmed.order_ref or "").startswith("ea-")
        wait_until(lambda: order_states(spy, JEANS_34)[-1:] == ["confirmed"], 10, "confirmed on the display")
        assert order_states(spy, JEANS_34) == ["requested", "confirmed"], "requested first, never confirmed early"
        assert central.stats.aisle_orders["accepted"] == 1
        assert central.cart("profile-ada") == {JEANS_34: 1}, "one line of the shopper's own basket"
        displays = [json.loads(p) for t, p in spy.messages if t == DISPLAY and p]
        assert all("shopper-ada" not in json.dumps(d) for d in displays), "no pseudonym on the mirror"
    finally:
        spy.close()


def test_an_order_without_a_shopper_or_for_a_size_nowhere_else_is_refused_with_its_reason(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    spy = Spy(broker)
    try:
        agent = mirror(tmp_path, broker, central, agent_factory)

        def order(gtin14: str, **how: str) -> str:
            return refused(broker, spy, action="order_line", target_gtin=gtin14, **how)

        assert order(JEANS_34, fulfilment="ship") == "no_shopper"
        identify(agent)
        assert order(JEANS_32, fulfilment="ship") == "not_orderable"
        assert order(JEANS_30, fulfilment="ship") == "not_orderable"
        assert order(JEANS_34, fulfilment="pickup@s9") == "not_available"
        assert order(JEANS_34, fulfilment="carry_out") == "not_an_order"
        assert order(JEANS_34) == "no_order_line"
        assert view(agent).orders == {} and central.stats.aisle_orders["accepted"] == 0
        assert agent.connected, "the mirror keeps running"
    finally:
        spy.close()
