"""The kiosk session's events on the real agent's parts without a broker: every act of the session lands in the
durable event outbox (nothing is lost while offline), with the session's attribution key, and a session that ends
by timeout or walk-away with lines nobody took leaves a ``basket.abandoned``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.contract.base import utcnow
from edge_agent.contract.device import T_BASKET_COMMAND, T_SESSION_COMMAND
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.wiring import build_agent
from tests.support.world import make_config

SOCKS, SHOES = "04006381333931", "09506000134352"


class Kiosk:
    """An agent built but not run (so never connected): its events stay in the outbox, where we read them."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        agent.basket.start()

    def scan(self, gtin14: str) -> None:
        basket = self.agent.basket
        saved = self.agent.store.record([basket.scanned(ProductKey(gtin14))])
        basket.ports.emit(basket.recorded(saved), None)  # as the agent does, after the scan's op is on its way

    def ui(self, kind: str, **data: Any) -> None:
        event = {"specversion": "1.0", "type": kind, "source": "urn:test:screen", "id": "ui-1",
                 "time": utcnow().isoformat(), "datacontenttype": "application/json", "data": data}  # fmt: skip
        self.agent.router.submit(self.agent.topics.ui, json.dumps(event).encode())

    def idle_for(self, seconds: float) -> None:
        s = self.agent.basket.sessions.session
        s.started_at = s.last_activity = time.time() - seconds

    @property
    def session_id(self) -> str:
        return self.agent.basket.sessions.session.session_id

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body)["data"] for _id, body in self.agent.store.pending_events(1000)]

    def names(self) -> list[str]:
        return [e["name"] for e in self.events()]


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    agent = build_agent(make_config(tmp_path, 1))
    yield Kiosk(agent)
    agent.store.close()


def test_a_session_left_idle_reports_its_lines_its_timeout_and_an_abandoned_basket(kiosk: Kiosk) -> None:
    assert kiosk.names() == [], "a kiosk waiting for a shopper says nothing"
    key = kiosk.agent.basket.sessions.session.attribution_key
    kiosk.scan(SOCKS)
    kiosk.scan(SHOES)
    kiosk.ui(T_BASKET_COMMAND, action="set_quantity", session_id=kiosk.session_id, gtin14=SOCKS, qty=3)
    kiosk.ui(T_BASKET_COMMAND, action="remove", session_id=kiosk.session_id, gtin14=SHOES)
    kiosk.idle_for(3600)
    kiosk.agent.basket.housekeeping()

    events = kiosk.events()
    assert [(e["name"], e["data"].get("gtin14"), e["data"].get("qty")) for e in events] == [
        ("kiosk.session.started", None, None),
        ("cart.line_added", SOCKS, 1),
        ("cart.line_added", SHOES, 1),
        ("cart.line_added", SOCKS, 2),
        ("cart.line_removed", SHOES, 1),
        ("kiosk.session.ended", None, None),
        ("basket.abandoned", None, None),
    ]
    assert {(e["attribution_key"], e["device"]) for e in events} == {(key, "kiosk-01")}
    assert events[-2]["data"]["reason"] == "timeout"
    assert events[-1]["data"] == {"reason": "timeout", "lines": 1, "units": 3, "source": "kiosk"}
    assert (events[1]["ga4"], events[4]["segment"]) == ("add_to_cart", "Product Removed")
    assert "price" not in json.dumps(events)


def test_an_opted_in_app_leaving_an_idle_session_is_a_walk_away(kiosk: Kiosk) -> None:
    kiosk.scan(SOCKS)
    kiosk.agent.basket.app_left("near")
    assert "kiosk.session.ended" not in kiosk.names(), "a phone passing while the shopper scans ends nothing"
    kiosk.idle_for(120)
    kiosk.agent.basket.app_left("far")
    assert "kiosk.session.ended" not in kiosk.names(), "an app only seen far away was never at the kiosk"
    kiosk.agent.basket.app_left("near")
    ended, abandoned = kiosk.events()[-2:]
    assert (ended["name"], ended["data"]["reason"], abandoned["name"]) == (
        "kiosk.session.ended",
        "walkaway",
        "basket.abandoned",
    )


def test_checkout_is_a_handoff_and_ending_the_session_then_abandons_nothing(kiosk: Kiosk) -> None:
    kiosk.scan(SOCKS)
    kiosk.ui(T_SESSION_COMMAND, action="checkout", session_id=kiosk.session_id)
    handoff = kiosk.events()[-1]
    assert (handoff["name"], handoff["data"]["channel"], handoff["ga4"]) == (
        "checkout.handoff",
        "pos",
        "begin_checkout",
    )
    kiosk.ui(T_SESSION_COMMAND, action="end_session", session_id=kiosk.session_id)
    assert kiosk.names()[-1] == "kiosk.session.ended", "a basket at the till is not abandoned"
    assert kiosk.events()[-1]["data"]["handoff"] == "pos"
    kiosk.ui(T_SESSION_COMMAND, action="end_session", session_id=kiosk.session_id)
    assert kiosk.names().count("kiosk.session.ended") == 1, "the next, untouched session ends silently"
