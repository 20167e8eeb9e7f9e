"""An associate's digital tote on a handheld: built from scans, the shopper attached by their app code, parked
and resumed and submitted through an uplink outage, and after an agent restart; the tote reaches the platform
as a cart with the associate's attribution, nothing lost or doubled, and its events map to GA4."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.contract.workflow import ToteCommand, ToteCommandEvent
from edge_agent.identifiers.product_key import parse_code
from edge_agent.identity.tokens import Claims, issue_token
from edge_agent.readers.events import IdentityPresented, ProductScanned
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.fixtures import ProxyFactory
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
KEY = bytes.fromhex("22" * 32)
SHIRT, BELT, SOCKS = "05012345678900", "05901234123457", "04006381333931"
EVENTS = "rt/v1/acme/st/s042/dv/handheld-03/events"


def handheld_config(tmp_path: Path, port: int) -> AgentConfig:
    key_file = tmp_path / "identity.key"
    key_file.write_text(KEY.hex())
    raw: dict[str, Any] = make_config(
        tmp_path, port, device="handheld-03", keepalive_s=1, connect_timeout_s=1
    ).model_dump(mode="json", exclude_none=True)
    raw["device"]["role"] = "associate-handheld"
    raw["identity"] = {"key_files": [str(key_file)], "merge_policy": "separate"}
    return AgentConfig.model_validate(raw)


def ui(broker: MosquittoBroker, action: str, **fields: Any) -> None:
    event = ToteCommandEvent(
        source="urn:acme:handheld-ui", id=f"ui-{time.monotonic_ns()}", time=utcnow(),
        data=ToteCommand(action=action, associate="emp-042", **fields),  # type: ignore[arg-type]
    )  # fmt: skip
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"ui-{time.monotonic_ns()}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish("rt/v1/acme/st/s042/dv/handheld-03/ui", event.model_dump_json().encode(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def scan(agent: InProcessAgent, gtin14: str) -> None:
    assert agent.agent is not None
    inner = agent.agent
    agent.call(lambda: inner.submit(ProductScanned(parse_code(gtin14), "]E0", "barcode", time.time())))


def view(agent: InProcessAgent) -> Any:
    assert agent.agent is not None
    return agent.agent.role.last_tote_view


def app_code() -> str:
    now = int(time.time())
    claims = Claims(
        kind="app", sub="shopper-ada-7f3c", cart="profile-ada", consent=("profile",), iat=now, exp=now + 300,
        nonce="tote-app-0001",
    )  # type: ignore[arg-type]  # fmt: skip
    return issue_token(KEY, claims)


def test_a_tote_built_through_an_outage_and_a_restart_reaches_the_platform_attributed_and_whole(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    spy = Spy(broker)
    try:
        proxy = proxy_factory(broker)
        config = handheld_config(tmp_path, proxy.port)
        agent = agent_factory(config)
        wait_until(lambda: agent.connected, 10, "connected")

        ui(broker, "open")
        wait_until(lambda: view(agent) is not None and view(agent).state == "draft", 10, "a draft tote")
        tote_id = view(agent).tote_id
        scan(agent, SHIRT)
        scan(agent, SHIRT)
        agent.call(lambda: agent.agent.submit(IdentityPresented(app_code(), "qr", "barcode", time.time())))  # type: ignore[union-attr]
        wait_until(lambda: view(agent).customer_attached, 10, "the shopper attached")
        wait_until(lambda: central.cart(tote_id) == {SHIRT: 2}, 15, "the tote at the platform")

        proxy.black_hole()  # the stockroom has no signal
        wait_until(lambda: not agent.connected, 15, "offline")
        scan(agent, BELT)
        inner = agent.agent
        assert inner is not None
        agent.call(lambda: inner.role.totes.command(ToteCommand(action="park", associate="emp-042")))  # type: ignore[union-attr]
        wait_until(lambda: view(agent).state is None and tote_id in view(agent).parked, 10, "parked offline")
        agent.stop()  # the handheld's battery runs out

        agent = agent_factory(config)  # back on the charger: same database
        wait_until(lambda: agent.agent is not None and view(agent) is not None, 10, "restored")
        assert tote_id in view(agent).parked
        agent.call(lambda: agent.agent.role.totes.command(  # type: ignore[union-attr]
            ToteCommand(action="resume", associate="emp-042", tote_id=tote_id)))  # fmt: skip
        wait_until(lambda: view(agent).state == "customer_attached", 10, "resumed")
        scan(agent, SOCKS)
        agent.call(lambda: agent.agent.role.totes.command(ToteCommand(action="submit", associate="emp-042")))  # type: ignore[union-attr]
        proxy.pass_through()

        wait_until(
            lambda: (
                central.cart(tote_id) == {SHIRT: 2, BELT: 1, SOCKS: 1}
                and central.cart_attrs(tote_id).get("tote.state") == "submitted"
            ),
            30,
            "the whole tote, submitted, at the platform",
            details=lambda: (central.cart(tote_id), central.cart_attrs(tote_id)),
        )
        attrs = central.cart_attrs(tote_id)
        assert attrs["tote.associate"] == "emp-042" and attrs["tote.customer"] == "shopper-ada-7f3c"
        wait_until(lambda: agent.outbox_total() == 0, 15, "every op confirmed")
        assert central.applied_count("handheld-03") == agent.ops_created(), "nothing lost, nothing doubled"

        def names() -> list[str]:
            return [e["data"]["name"] for e in spy.on(EVENTS)]

        wanted = [
            "tote.created",
            "tote.line_added",
            "tote.customer_attached",
            "tote.parked",
            "tote.resumed",
            "tote.submitted",
        ]
        wait_until(lambda: set(wanted) <= set(names()), 15, "the tote's events", details=names)
        submitted = next(e for e in spy.on(EVENTS) if e["data"]["name"] == "tote.submitted")["data"]
        assert (submitted["ga4"], submitted["segment"]) == ("begin_checkout", "Checkout Started")
        assert submitted["data"]["associate_id"] == "emp-042"
        assert names().count("tote.line_added") >= 4
    finally:
        spy.close()


def test_a_scan_without_an_open_tote_and_a_resume_of_nothing_are_refused_with_reasons(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(handheld_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "connected")
    ui(broker, "submit")
    wait_until(lambda: view(agent) is not None and view(agent).refused == "no_tote", 10, "submit without a tote")
    ui(broker, "resume", tote_id="tote-unknown")
    wait_until(lambda: view(agent).refused == "no_such_tote", 10, "resume of an unknown tote")
    ui(broker, "open")
    wait_until(lambda: view(agent).state == "draft", 10, "open")
    ui(broker, "submit")
    wait_until(lambda: view(agent).refused == "empty_tote", 10, "an empty tote cannot be submitted")
    scan(agent, SHIRT)
    ui(broker, "payment_link")
    wait_until(lambda: view(agent).refused == "wrong_state", 10, "a payment link only for a submitted tote")
    ui(broker, "submit")
    ui(broker, "payment_link")
    wait_until(lambda: view(agent).state == "payment_link_sent", 10, "the platform will send the shopper a link")


def test_a_paid_tote_is_collected_line_by_line_with_an_unavailable_line_and_a_substitute_then_handed_over(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    agent = agent_factory(handheld_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "connected")

    def command(action: str, **fields: Any) -> None:
        agent.call(lambda: agent.agent.role.totes.command(ToteCommand(action=action, associate="emp-042", **fields)))  # type: ignore[union-attr,arg-type]

    command("open")
    wait_until(lambda: view(agent) is not None and view(agent).state == "draft", 10, "a draft tote")
    tote_id = view(agent).tote_id
    for item in (SHIRT, BELT, SOCKS):
        scan(agent, item)
    command("submit")
    command("handoff_to_pos")
    wait_until(lambda: central.cart_attrs(tote_id).get("tote.state") == "awaiting_payment_at_pos", 15, "at the till")
    command("start_collecting", tote_id=tote_id)
    wait_until(lambda: view(agent).refused == "wrong_state", 10, "no collecting before the platform says paid")

    central.pay_tote(tote_id, "ORD-7781")  # the till took the payment; the platform records the order
    wait_until(lambda: view(agent).state == "paid", 15, "paid, as the platform reported it")
    command("start_collecting", tote_id=tote_id)
    command("line_collected", line_id=f"{SHIRT}:carry_out")
    command("line_unavailable", line_id=f"{BELT}:carry_out", reason="damaged")
    command("line_unavailable", line_id=f"{SOCKS}:carry_out", reason="out_of_stock")
    command("propose_substitution", line_id=f"{SOCKS}:carry_out", to_gtin="08710398502131")
    command("ready")
    wait_until(lambda: view(agent).refused == "lines_unresolved", 10, "not ready while a substitute awaits the shopper")
    command("substitution_decided", line_id=f"{SOCKS}:carry_out", accepted=True)
    command("ready")
    command("handed_over")
    wait_until(
        lambda: central.cart_attrs(tote_id).get("tote.state") == "handed_over", 15, "handed over, at the platform"
    )
    attrs = central.cart_attrs(tote_id)
    assert attrs[f"tote.line.{SHIRT}.carry_out"] == "collected"
    assert attrs[f"tote.line.{BELT}.carry_out"] == "unavailable:damaged"
    assert attrs[f"tote.line.{SOCKS}.carry_out"] == "substitute_accepted:08710398502131"
    assert attrs["tote.order_id"] == "ORD-7781"
    assert agent.agent is not None
    inner = agent.agent
    assert agent.call(lambda: inner.store.meta(f"tote:{tote_id}")) is None, "a handed-over tote is forgotten here"
