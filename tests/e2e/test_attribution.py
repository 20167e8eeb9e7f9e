"""In-store → online attribution, end to end: the real agent (kiosk) over real Mosquitto and the central simulator.

A kiosk session's workflow events leave through the durable event outbox with its ``attribution_key``; the shopper
joins the basket to their profile cart (a confirmed merge, or taking it to their phone), later places an online
order from that cart, and the platform's report credits the order to that session, on that device in that store,
with the lines that came from it. ``python -m simulators.central --attribution`` prints the same report.

Attribution rests on the opaque key alone: the shopper here granted no ``profile`` or ``analytics`` consent, so no
event carries their pseudonym, and the order is still attributed (the merge writes the key into the profile cart;
the claim names the guest basket the kiosk's events name).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract.base import utcnow
from edge_agent.contract.device import BasketLineCommand, BasketLineCommandEvent
from edge_agent.domain.session import SessionState
from edge_agent.identity.tokens import Claims, issue_token
from edge_agent.readers.events import IdentityPresented
from simulators.attribution import SessionCredit
from simulators.central import CentralPlatform
from tests.e2e.test_nfc_session import send_ui_command, session_of
from tests.support.broker import MosquittoBroker
from tests.support.claim import (
    HAT,
    KEY,
    PROFILE_CART,
    SHOES,
    SOCKS,
    TOPICS,
    AgentFactory,
    claim_kiosk,
    claim_while_offline,
)
from tests.support.fixtures import ProxyFactory
from tests.support.mqtt_spy import Spy
from tests.support.mqtt_spy import spy as spy  # the fixture
from tests.support.world import InProcessAgent, wait_until

PSEUDONYM = "shopper-9-pseudo"
REPO = Path(__file__).resolve().parents[2]


def present_card(agent: InProcessAgent) -> None:
    """The shopper taps their loyalty card; they consented to cart sync only (no profile, no analytics)."""
    claims = Claims(kind="card", sub=PSEUDONYM, cart=PROFILE_CART, consent=("cart_sync",), iat=int(time.time()),
                    nonce="card0009")  # type: ignore[arg-type]  # fmt: skip
    event = IdentityPresented(issue_token(KEY, claims), "nfc", "nfc", time.time())
    agent.call(lambda: agent.agent.submit(event))  # type: ignore[union-attr]


def set_quantity(broker: MosquittoBroker, agent: InProcessAgent, gtin14: str, qty: int) -> None:
    """The kiosk's screen lowers a line's quantity (the shopper's -)."""
    command = BasketLineCommand(action="set_quantity", session_id=session_of(agent).session_id, gtin14=gtin14, qty=qty)
    event = BasketLineCommandEvent(source="urn:acme:kiosk-ui", id="ui-line-1", time=utcnow(), data=command)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="kiosk-ui-lines")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(TOPICS.ui, event.model_dump_json().encode(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def events(spy: Spy) -> list[dict[str, Any]]:
    return [m["data"] for m in spy.on(TOPICS.events)]


def credits(central: CentralPlatform, order_id: str) -> list[SessionCredit]:
    return next(o.sessions for o in central.attribution_report().orders if o.order_id == order_id)


def test_an_online_order_from_a_merged_cart_is_attributed_to_the_kiosk_session_and_device(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = claim_kiosk(tmp_path, broker.port, central, agent_factory)
    central.add_online(PROFILE_CART, HAT)

    agent.scan(SHOES, SOCKS, SOCKS)
    wait_until(lambda: agent.basket() == {SHOES: 1, SOCKS: 2}, 10, "scans saved")
    set_quantity(broker, agent, SOCKS, 1)
    wait_until(lambda: agent.basket() == {SHOES: 1, SOCKS: 1}, 10, "the shopper's - on the socks")
    key = session_of(agent).attribution_key
    present_card(agent)
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_PREVIEW, 10, "merge preview")
    wait_until(  # the online cart's snapshot arrives after the tap and refreshes the preview
        lambda: {ln.sku for ln in session_of(agent).preview.lines} == {HAT, SHOES, SOCKS}, 10, "preview with the hat"
    )
    send_ui_command(broker, agent, "confirm_merge", session_of(agent).preview.preview_id)
    wait_until(lambda: central.cart(PROFILE_CART) == {HAT: 1, SHOES: 1, SOCKS: 1}, 20, "merged at the platform")

    session_id = session_of(agent).session_id  # the order seals the cart: the kiosk then starts a new session
    # Later, at home: the shopper orders their online cart.
    order_id = central.place_online_order(PROFILE_CART)
    assert central.seal(PROFILE_CART) is not None
    expected = SessionCredit(
        via="merge",
        attribution_key=key,
        session_id=session_id,
        device="kiosk-01",
        store="s042",
        touched_at=credits(central, order_id)[0].touched_at,
        lines_from_session={SHOES: 1, SOCKS: 1},
    )
    wait_until(lambda: credits(central, order_id) == [expected], 20, "the order credited to the kiosk session")
    (order,) = central.attribution_report().orders
    assert order.lines == {HAT: 1, SHOES: 1, SOCKS: 1}, "the hat was online already: not the session's"

    names = [e["name"] for e in events(spy)]
    assert names[:4] == ["kiosk.session.started", "cart.line_added", "cart.line_added", "cart.line_added"]
    assert {"cart.line_removed", "cart.merge_previewed", "cart.merge_confirmed"} <= set(names)
    assert all(e["attribution_key"] == key for e in events(spy))
    assert all("profile" not in e for e in events(spy)), "no consent to analytics: no pseudonym on any event"
    assert PSEUDONYM.encode() not in b"".join(json.dumps(e).encode() for e in events(spy))

    # The platform's CLI prints the same report from its database.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "simulators.central", "--attribution", "--db", str(central.db_path)]
    out = subprocess.run(cli, capture_output=True, text=True, check=True, env=env, cwd=REPO, timeout=60)
    (printed,) = json.loads(out.stdout)["orders"]
    assert printed["order_id"] == order_id
    (session,) = printed["sessions"]
    assert (session["attribution_key"], session["device"], session["store"]) == (key, "kiosk-01", "s042")
    assert session["lines_from_session"] == {SHOES: 1, SOCKS: 1}


def test_a_basket_taken_to_the_phone_while_the_kiosk_was_offline_is_attributed_once_its_events_arrive(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
    spy: Spy,
) -> None:
    proxy = proxy_factory(broker)
    agent = claim_kiosk(tmp_path, proxy.port, central, agent_factory)
    claim_while_offline(agent, central, proxy, SHOES, SOCKS)
    key = session_of(agent).attribution_key  # the kiosk is offline: still the session of the claimed basket

    proxy.pass_through()
    wait_until(lambda: agent.connected, 30, "reconnected")
    wait_until(lambda: central.cart(PROFILE_CART) == {HAT: 1, SHOES: 1, SOCKS: 1}, 30, "the late lines joined")
    wait_until(lambda: session_of(agent).guest_cart != "kiosk-01-basket", 20, "the kiosk heard of the claim")

    order_id = central.place_online_order(PROFILE_CART)
    wait_until(
        lambda: (
            [(c.via, c.attribution_key, c.device, c.store, c.lines_from_session) for c in credits(central, order_id)]
            == [("claim", key, "kiosk-01", "s042", {HAT: 1, SHOES: 1, SOCKS: 1})]
        ),
        30,
        "the order credited to the kiosk session, its offline scans included",
    )
    wait_until(lambda: "kiosk.session.ended" in [e["name"] for e in events(spy)], 10, "the session's end")
    mine = [e for e in events(spy) if e["attribution_key"] == key]
    handoff = next(e for e in mine if e["name"] == "cart.handoff")
    assert (handoff["data"]["channel"], handoff["ga4"], handoff["segment"]) == (
        "qr_to_phone",
        "share_cart",
        "Cart Shared",
    )
    ended = next(e for e in mine if e["name"] == "kiosk.session.ended")
    assert ended["data"]["reason"] == "claimed"
    assert "basket.abandoned" not in [e["name"] for e in mine], "a basket on the phone is not abandoned"
    assert central.stats.online_orders == 1


def test_a_declined_merge_is_an_event_with_the_sessions_key_and_credits_no_later_order(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, spy: Spy
) -> None:
    agent = claim_kiosk(tmp_path, broker.port, central, agent_factory)
    central.add_online(PROFILE_CART, HAT)
    agent.scan(SHOES)
    wait_until(lambda: central.cart(agent.cart_id) == {SHOES: 1}, 10, "the guest line at the platform")
    key = session_of(agent).attribution_key
    present_card(agent)
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_PREVIEW, 10, "merge preview")
    send_ui_command(broker, agent, "decline_merge", None)
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_DECLINED, 10, "declined")

    def declined() -> list[dict[str, Any]]:
        return [e for e in events(spy) if e["name"] == "cart.merge_declined"]

    wait_until(lambda: len(declined()) == 1, 10, "the decline reported to the platform")
    (event,) = declined()
    assert (event["attribution_key"], event["device"], event["segment"]) == (key, "kiosk-01", "Cart Merge Declined")
    assert "profile" not in event, "no consent to analytics: no pseudonym"

    order_id = central.place_online_order(PROFILE_CART)
    assert central.cart(PROFILE_CART) == {HAT: 1}, "nothing of the declined basket joined the profile cart"
    assert credits(central, order_id) == [], "a session whose merge was declined is owed nothing"
