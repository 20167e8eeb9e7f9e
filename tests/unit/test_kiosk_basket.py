"""The kiosk basket's screen behaviour, on the real agent's parts without a broker: the route table takes line
commands as durable ops, refusals reach the basket view as reason codes only, and Checkout leaves a till code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.contract.base import utcnow
from edge_agent.contract.codec import Rejected
from edge_agent.contract.device import T_BASKET_COMMAND, T_BASKET_VIEW, T_SESSION_COMMAND
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.roles.const import TILL_CODE_ATTR
from edge_agent.wiring import build_agent
from tests.support.world import make_config

SOCKS, SHOES = "04006381333931", "09506000134352"


class Kiosk:
    """An agent that is built but not run: what it shows is read off the outlet's tap, as the screen does."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.views: list[dict[str, Any]] = []
        agent.out.taps.append(self._observe)
        agent.basket.start()

    def _observe(self, topic: str, payload: bytes) -> None:
        event = json.loads(payload) if payload else {}
        if topic.endswith("/display") and event.get("type") == T_BASKET_VIEW:
            self.views.append(event["data"])

    @property
    def view(self) -> dict[str, Any]:
        return self.views[-1]

    @property
    def cart(self) -> str:
        return self.agent.basket.cart_id

    def basket(self) -> dict[str, int]:
        return self.agent.store.quantities(self.cart)

    def scan(self, gtin14: str) -> None:
        self.agent.store.record([self.agent.basket.scanned(ProductKey(gtin14))])
        self.agent.basket.saved({self.cart})

    def ui(self, kind: str, **data: Any) -> None:
        event = {"specversion": "1.0", "type": kind, "source": "urn:test:screen", "id": "ui-1",
                 "time": utcnow().isoformat(), "datacontenttype": "application/json", "data": data}  # fmt: skip
        self.agent.router.submit(self.agent.topics.ui, json.dumps(event).encode())

    @property
    def session_id(self) -> str:
        return self.agent.basket.sessions.session.session_id


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    agent = build_agent(make_config(tmp_path, 1))
    yield Kiosk(agent)
    agent.store.close()


def test_plus_minus_and_remove_are_durable_ops_on_the_sessions_basket(kiosk: Kiosk) -> None:
    kiosk.scan(SOCKS)
    kiosk.scan(SHOES)
    kiosk.ui(T_BASKET_COMMAND, action="set_quantity", session_id=kiosk.session_id, gtin14=SOCKS, qty=3)
    kiosk.ui(T_BASKET_COMMAND, action="remove", session_id=kiosk.session_id, gtin14=SHOES)
    assert kiosk.basket() == {SOCKS: 3}
    assert [(ln["gtin14"], ln["qty"]) for ln in kiosk.view["lines"]] == [(SOCKS, 3)]


def test_a_line_command_of_another_session_or_without_a_quantity_is_refused_and_changes_nothing(
    kiosk: Kiosk,
) -> None:
    kiosk.scan(SOCKS)
    with pytest.raises(Rejected) as stale:
        kiosk.ui(T_BASKET_COMMAND, action="remove", session_id="0" * 16, gtin14=SOCKS)
    assert stale.value.reason == "stale_session"
    with pytest.raises(Rejected) as no_qty:
        kiosk.ui(T_BASKET_COMMAND, action="set_quantity", session_id=kiosk.session_id, gtin14=SOCKS)
    assert no_qty.value.reason == "schema"
    with pytest.raises(Rejected):
        kiosk.ui(T_BASKET_COMMAND, action="set_quantity", session_id=kiosk.session_id, gtin14=SOCKS, qty=0)
    assert kiosk.basket() == {SOCKS: 1}


def test_removing_a_line_that_is_gone_is_shown_as_the_baskets_refusal(kiosk: Kiosk) -> None:
    kiosk.ui(T_BASKET_COMMAND, action="remove", session_id=kiosk.session_id, gtin14=SHOES)
    assert kiosk.view["refused"]["reason"] == "not_in_basket"
    assert kiosk.view["refused"]["source"] == "basket"


def test_a_shoppers_reader_refusal_is_shown_as_a_code_and_the_next_scan_clears_it(kiosk: Kiosk) -> None:
    kiosk.agent.basket.input_rejected("barcode", "bad_check_digit")
    assert kiosk.view["refused"]["reason"] == "bad_check_digit"
    shown = len(kiosk.views)
    kiosk.agent.basket.input_rejected("ble", "bad_frame")
    assert len(kiosk.views) == shown, "a BLE frame is the store's business, not the shopper's"
    kiosk.agent.basket.input_rejected("nfc", "Not A Code 4111 1111")
    assert kiosk.view["refused"] == {**kiosk.view["refused"], "reason": "unreadable", "source": "nfc"}
    assert "4111" not in json.dumps(kiosk.views)
    kiosk.scan(SOCKS)
    assert kiosk.view["refused"] is None


def test_checkout_records_a_till_code_then_asks_once_and_an_empty_basket_is_refused(kiosk: Kiosk) -> None:
    kiosk.ui(T_SESSION_COMMAND, action="checkout", session_id=kiosk.session_id)
    assert kiosk.view["refused"]["reason"] == "empty_basket" and kiosk.view["checkout"] is None
    assert TILL_CODE_ATTR not in kiosk.agent.store.cart_attrs(kiosk.cart)
    kiosk.scan(SOCKS)
    kiosk.ui(T_SESSION_COMMAND, action="checkout", session_id=kiosk.session_id)
    checkout = kiosk.view["checkout"]
    assert checkout["state"] == "pay_at_till" and checkout["pay_in_app"] is False
    assert kiosk.agent.store.cart_attrs(kiosk.cart)[TILL_CODE_ATTR] == checkout["till_code"]
    pending = kiosk.agent.store.pending_count()
    kiosk.ui(T_SESSION_COMMAND, action="checkout", session_id=kiosk.session_id)
    assert kiosk.view["checkout"] == checkout and kiosk.agent.store.pending_count() == pending, "asked once"
