"""A shelf device looks products up in its catalog cache: price and stock with their as-of times, from the
platform's catalog over real Mosquitto; offline it still answers, and says the figures are as of then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.identifiers.product_key import parse_code
from edge_agent.readers.events import ProductScanned
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.fixtures import ProxyFactory
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
OXFORD_M, OXFORD_L = "05012345678900", "05901234123457"
MORNING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def shelf_config(tmp_path: Path, port: int) -> AgentConfig:
    raw: dict[str, Any] = make_config(tmp_path, port, device="shelf-07", keepalive_s=1, connect_timeout_s=1).model_dump(
        mode="json", exclude_none=True
    )
    raw["device"]["role"] = "shelf"
    return AgentConfig.model_validate(raw)


def scan(agent: InProcessAgent, gtin14: str) -> None:
    assert agent.agent is not None
    inner = agent.agent
    agent.call(lambda: inner.submit(ProductScanned(parse_code(gtin14), "]E0", "barcode", 0.0)))


def shown(agent: InProcessAgent) -> Any:
    assert agent.agent is not None
    return agent.agent.role.last_lookup


def test_a_shelf_scan_shows_price_and_stock_as_of_their_times_and_offline_lookups_say_so(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    proxy = proxy_factory(broker)
    agent = agent_factory(shelf_config(tmp_path, proxy.port))
    wait_until(lambda: agent.connected, 10, "connected")
    shirt = {"name": "Oxford shirt", "style": "oxford", "colour": "blue", "currency": "EUR", "price_as_of": MORNING}
    central.publish_catalog(
        "acme",
        "s042",
        [
            {"gtin14": OXFORD_M, "size": "M", "price_minor": 3999, "stock": 3, "stock_as_of": MORNING, **shirt},
            {"gtin14": OXFORD_L, "size": "L", "price_minor": 3999, "stock": 0, "stock_as_of": MORNING, **shirt},
        ],
    )
    agent.wait_for_catalog(1, 10)

    scan(agent, OXFORD_M)
    wait_until(lambda: shown(agent) is not None, 10, "a lookup shown")
    first = shown(agent)
    assert (first.found, first.price_minor, first.price_as_of, first.offline) == (True, 3999, MORNING, False)
    assert [(v.size, v.stock) for v in first.variants] == [("L", 0)]
    assert agent.basket() == {}, "a scan at a shelf looks up; it adds nothing to any basket"

    proxy.black_hole()
    wait_until(lambda: not agent.connected, 15, "the shelf notices the uplink is gone")
    noon = MORNING + timedelta(hours=4)
    central.change_item("acme", "s042", OXFORD_M, price_minor=2999, price_as_of=noon)  # a markdown it cannot see
    scan(agent, OXFORD_M)
    wait_until(lambda: shown(agent) is not first, 10, "an offline lookup")
    offline = shown(agent)
    assert (offline.price_minor, offline.price_as_of, offline.offline) == (3999, MORNING, True)

    proxy.pass_through()
    agent.wait_for_catalog(2, 30)
    scan(agent, OXFORD_M)
    wait_until(lambda: shown(agent).price_minor == 2999, 10, "the new price shown")
    assert shown(agent).price_as_of == noon and shown(agent).offline is False


def test_shelf_events_reach_the_platform_mapped_for_analytics_and_survive_an_outage(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    from tests.support.mqtt_spy import Spy

    spy = Spy(broker)
    try:
        proxy = proxy_factory(broker)
        agent = agent_factory(shelf_config(tmp_path, proxy.port))
        wait_until(lambda: agent.connected, 10, "connected")
        shirt = {"name": "Oxford shirt", "currency": "EUR", "price_as_of": MORNING, "stock_as_of": MORNING}
        central.publish_catalog("acme", "s042", [{"gtin14": OXFORD_M, "price_minor": 3999, "stock": 9, **shirt}])
        agent.wait_for_catalog(1, 10)
        topic = "rt/v1/acme/st/s042/dv/shelf-07/events"

        def names() -> list[str]:
            return [e["data"]["name"] for e in spy.on(topic)]

        scan(agent, OXFORD_M)
        wait_until(lambda: "lookup.performed" in names(), 10, "the lookup reported")
        looked = next(e for e in spy.on(topic) if e["data"]["name"] == "lookup.performed")
        assert looked["type"] == "com.edgeagent.workflow.lookup.performed.v1" and looked["subject"] == OXFORD_M
        assert (looked["data"]["ga4"], looked["data"]["segment"]) == ("view_item", "Product Viewed")
        assert looked["data"]["store"] == "s042" and looked["data"]["session_id"] and "profile" not in looked["data"]

        proxy.black_hole()
        wait_until(lambda: not agent.connected, 15, "offline")
        assert agent.agent is not None
        inner = agent.agent
        agent.call(lambda: inner.role.desk.report_price(OXFORD_M, 4499, "emp-042", 1.0))  # type: ignore[union-attr]
        scan(agent, OXFORD_M)  # offline lookups are reported too, flagged
        proxy.pass_through()
        central.change_item("acme", "s042", OXFORD_M, stock=1, stock_as_of=MORNING + timedelta(hours=2))

        wait_until(lambda: {"price.mismatch", "stock.low"} <= set(names()), 30, "queued events and the stock signal")
        mismatch = next(e for e in spy.on(topic) if e["data"]["name"] == "price.mismatch")["data"]
        assert mismatch["actor"] == "emp-042"
        assert (mismatch["data"]["shelf_price"], mismatch["data"]["system_price"]) == ("4499", "3999")
        offline_lookups = [
            e for e in spy.on(topic) if e["data"]["name"] == "lookup.performed" and e["data"]["data"]["offline"]
        ]
        assert len(offline_lookups) >= 1, "the lookup made during the outage arrives after it"
        wait_until(lambda: agent.call(lambda: inner.store.pending_events(10)) == [], 10, "the event outbox empties")
    finally:
        spy.close()
