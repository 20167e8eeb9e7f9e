"""Click-and-collect picking on two associate handhelds through real Mosquitto: both see the order, both accept,
the platform gives it to one; the winner picks scan-to-confirm (a wrong item and a serial counted twice are
refused), shorts a line with a reason, proposes a substitute that the platform approves, completes and stages
through an uplink outage; the platform marks it ready for pickup. At the end the platform's pick cart holds
exactly the confirmed units, nothing lost or doubled, and the events carry their GA4 names.

Needs the handheld role (:mod:`edge_agent.roles.handheld`: ``agent.role.picks``, ``agent.role.last_pick_view``,
the picking subscription, pick commands on ``dv/{device}/ui``, scans to ``picks.scanned`` first).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.contract.picking import PickCommand, PickCommandEvent
from edge_agent.identifiers.gtin import gtin_check_digit
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.readers.events import ProductScanned
from edge_agent.roles.picking import pick_cart
from simulators.central import CentralPlatform
from simulators.pick_platform import PickPlatform
from tests.support.broker import MosquittoBroker
from tests.support.fixtures import ProxyFactory
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]


def gtin(n: int) -> str:
    body = f"{n:013d}"
    return body + str(gtin_check_digit(body))


MILK, BREAD, PHONE, PHONE_BLUE, CHEESE = gtin(11), gtin(22), gtin(33), gtin(34), gtin(66)
ORDER = "co-1001"
ASSOCIATES = {"handheld-03": "emp-ann", "handheld-04": "emp-bob"}
PREFIX = "rt/v1/acme/st/s042/dv"


def handheld_config(tmp_path: Path, port: int, device: str) -> AgentConfig:
    raw: dict[str, Any] = make_config(tmp_path, port, device=device, keepalive_s=1, connect_timeout_s=1).model_dump(
        mode="json", exclude_none=True
    )
    raw["device"]["role"] = "associate-handheld"
    return AgentConfig.model_validate(raw)


def ui(broker: MosquittoBroker, device: str, action: str, *, order_id: str = ORDER, **fields: Any) -> None:
    """The handheld's UI sends a pick command on the device's ui topic."""
    event = PickCommandEvent(
        source=f"urn:acme:{device}-ui", id=f"ui-{time.monotonic_ns()}", time=utcnow(),
        data=PickCommand(action=action, associate=ASSOCIATES[device], order_id=order_id, **fields),  # type: ignore[arg-type]
    )  # fmt: skip
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"ui-{time.monotonic_ns()}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(f"{PREFIX}/{device}/ui", event.model_dump_json().encode(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def local(agent: InProcessAgent, action: str, **fields: Any) -> None:
    """The UI on the handheld itself, while the handheld has no uplink (its commands never needed one)."""
    inner = agent.agent
    assert inner is not None and inner.role.picks is not None
    desk = inner.role.picks
    cmd = PickCommand(action=action, associate=ASSOCIATES[agent.config.device.id], order_id=ORDER, **fields)  # type: ignore[arg-type]
    agent.call(lambda: desk.command(cmd))


def scan(agent: InProcessAgent, code: str, serial: str | None = None) -> None:
    inner = agent.agent
    assert inner is not None
    agent.call(lambda: inner.submit(ProductScanned(ProductKey(code, serial=serial), "]d2", "barcode", time.time())))


def view(agent: InProcessAgent) -> Any:
    assert agent.agent is not None
    return agent.agent.role.last_pick_view


def current(agent: InProcessAgent) -> Any:
    v = view(agent)
    return None if v is None else v.current


def line(agent: InProcessAgent, line_id: str) -> Any:
    c = current(agent)
    return None if c is None else next(x for x in c.lines if x.line_id == line_id)


def test_two_handhelds_one_claim_a_pick_through_an_outage_reaches_the_platform_whole(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    spy = Spy(broker)
    platform = PickPlatform(central, "acme", "s042", approve=True).start()
    try:
        proxies = {d: proxy_factory(broker) for d in ASSOCIATES}
        agents = {d: agent_factory(handheld_config(tmp_path, proxies[d].port, d)) for d in ASSOCIATES}
        for a in agents.values():
            wait_until(lambda a=a: a.connected, 10, "connected")  # type: ignore[misc]
            assert a.agent is not None and a.agent.role.picks is not None

        platform.publish_order(ORDER, [("l1", MILK, 2), ("l2", BREAD, 1), ("l3", PHONE, 2)])
        for a in agents.values():
            wait_until(
                lambda a=a: view(a) is not None and [s.order_id for s in view(a).available] == [ORDER],  # type: ignore[misc]
                10,
                "the order offered on every handheld",
            )

        for device in ASSOCIATES:  # both associates tap "accept" at about the same time
            ui(broker, device, "accept")
        wait_until(lambda: platform.claim(ORDER) is not None, 15, "the platform's claim decision")
        decision = platform.claim(ORDER)
        assert decision is not None
        winner_id = decision.device
        loser_id = next(d for d in ASSOCIATES if d != winner_id)
        assert decision.associate == ASSOCIATES[winner_id]
        winner, loser = agents[winner_id], agents[loser_id]
        wait_until(lambda: current(winner) is not None and current(winner).claim == "won", 10, "the winner told")
        # The loser is told whichever came first at its handheld: the platform's decision (the order it holds is
        # shown lost) or its own accept (refused: the decision had already named the other handheld).
        loser_desk = loser.agent.role.picks if loser.agent is not None else None
        assert loser_desk is not None
        wait_until(
            lambda: loser_desk.refused["claimed_by_other"] >= 1, 10, "the loser told", details=lambda: view(loser)
        )
        assert current(loser) is None or current(loser).claim == "lost", view(loser)

        ui(broker, winner_id, "start")
        wait_until(lambda: current(winner).state == "picking", 10, "picking")
        scan(winner, MILK)
        wait_until(lambda: line(winner, "l1").picked == 1, 10, "one milk picked")
        scan(winner, CHEESE)  # the wrong item
        wait_until(lambda: view(winner).refused == "not_in_order", 10, "a wrong item refused")
        assert MILK in view(winner).detail, "the refusal says what is expected"
        scan(winner, PHONE, "SN-0001")
        wait_until(lambda: line(winner, "l3").picked == 1, 10, "a serialised phone picked")
        scan(winner, PHONE, "SN-0001")  # the same phone again
        wait_until(lambda: view(winner).refused == "serial_already_picked", 10, "a serial counted twice refused")

        proxies[winner_id].black_hole()  # the stockroom has no signal
        wait_until(lambda: not winner.connected, 15, "offline")
        scan(winner, MILK)
        wait_until(lambda: line(winner, "l1").state == "picked", 10, "milk complete, offline")
        local(winner, "short", line_id="l2", qty=1)
        wait_until(lambda: view(winner).refused == "short_reason_required", 10, "a short needs a reason")
        local(winner, "short", line_id="l2", qty=1, reason="inventory_shortage")
        wait_until(lambda: line(winner, "l2").state == "short", 10, "bread short")
        local(winner, "propose_substitution", line_id="l3", to_gtin=PHONE_BLUE)
        wait_until(lambda: line(winner, "l3").state == "substitute_proposed", 10, "a substitute proposed")
        scan(winner, PHONE_BLUE)
        wait_until(lambda: view(winner).refused == "substitution_pending", 10, "the substitute waits for the platform")
        proxies[winner_id].pass_through()

        wait_until(lambda: line(winner, "l3").substitution == "approved", 20, "the platform approved the substitute")
        scan(winner, PHONE_BLUE)
        wait_until(lambda: line(winner, "l3").state == "picked", 10, "the substitute picked")
        ui(broker, winner_id, "complete")
        wait_until(lambda: current(winner).state == "picked", 10, "pick complete")
        ui(broker, winner_id, "stage", location="pickup-shelf-3", tote_ids=["tote-77"])
        wait_until(
            lambda: current(winner).state == "ready_for_pickup", 20, "ready for pickup (the platform notified)",
            details=lambda: (current(winner), platform.order(ORDER)),
        )  # fmt: skip
        order = platform.order(ORDER)
        assert order is not None and order.status == "ready_for_pickup" and order.notified_via == "sms"

        for device, a in agents.items():
            wait_until(lambda a=a: a.outbox_total() == 0, 15, f"every op of {device} confirmed")  # type: ignore[misc]
            assert central.applied_count(device) == a.ops_created(), f"{device}: nothing lost, nothing doubled"
        expected = {MILK: 2, PHONE: 1, PHONE_BLUE: 1}
        assert platform.picked(ORDER) == expected
        assert central.cart(pick_cart(ORDER)) == expected, "the loser picked nothing; the winner's units only"
        attrs = platform.attrs(ORDER)
        assert attrs["pick.state"] == "staged" and attrs["pick.location"] == "pickup-shelf-3"
        assert attrs["pick.line.l2.short"] == "1:inventory_shortage"
        assert attrs["pick.line.l3.substitute"] == PHONE_BLUE
        assert [d.model_dump() for d in platform.decisions(ORDER)] == [
            {"line_id": "l3", "to_gtin": PHONE_BLUE, "approved": True}
        ]

        events_topic = f"{PREFIX}/{winner_id}/events"

        def names() -> list[str]:
            return [e["data"]["name"] for e in spy.on(events_topic)]

        wanted = {
            "fulfilment.accepted": "fulfilment_accepted",
            "pick.started": "pick_started",
            "pick.scan": "pick_scan",
            "pick.line_short": "pick_line_short",
            "pick.substitution.proposed": "pick_substitution_proposed",
            "pick.substitution.approved": "pick_substitution_approved",
            "pick.completed": "pick_completed",
            "order.staged": "order_staged",
            "order.ready_for_pickup": "order_ready_for_pickup",
        }
        wait_until(lambda: set(wanted) <= set(names()), 15, "the pick's events", details=names)
        by_name = {e["data"]["name"]: e["data"] for e in spy.on(events_topic)}
        for name, ga4 in wanted.items():
            assert by_name[name]["ga4"] == ga4, name
        assert by_name["pick.line_short"]["data"]["reason"] == "inventory_shortage"
        assert by_name["pick.started"]["data"]["associate_id"] == ASSOCIATES[winner_id]
        scans = {e["id"] for e in spy.on(events_topic) if e["data"]["name"] == "pick.scan"}
        assert len(scans) == 4, "confirmed units only: refused scans emit nothing (events are at least once: by id)"
        assert "pick.started" not in [e["data"]["name"] for e in spy.on(f"{PREFIX}/{loser_id}/events")]
    finally:
        platform.stop()
        spy.close()
