"""Customer pickup on an associate handheld through real Mosquitto, the central and the pick platform simulators:
an order is picked, staged and marked ready for pickup; the customer checks in, a wrong order code is refused
with a reason and changes nothing, the right one verifies them, the order is handed over and the platform closes
it. The platform's pick cart shows how the customer was verified and when the goods went; the code itself is
never published by anyone but the UI that typed it. A second order waits in vain: the platform's no-show.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from simulators.central import CentralPlatform
from simulators.pick_platform import PickPlatform
from tests.e2e.test_picking import (
    BREAD,
    MILK,
    PREFIX,
    AgentFactory,
    current,
    handheld_config,
    scan,
    ui,
    view,
)
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, wait_until

DEVICE = "handheld-03"
CODE = "K7Q2-M9XD"


def state(agent: InProcessAgent) -> str | None:
    c = current(agent)
    return None if c is None else c.state


def pick_and_stage(broker: MosquittoBroker, agent: InProcessAgent, platform: PickPlatform, order_id: str) -> None:
    """Accept, pick whole, complete and stage ``order_id``; the platform marks it ready for pickup."""
    wait_until(lambda: order_id in [s.order_id for s in view(agent).available], 10, f"{order_id} offered")
    ui(broker, DEVICE, "accept", order_id=order_id)
    wait_until(lambda: current(agent) is not None and current(agent).claim == "won", 15, "the claim won")
    ui(broker, DEVICE, "start", order_id=order_id)
    wait_until(lambda: state(agent) == "picking", 10, "picking")
    for unit in (MILK, MILK, BREAD):
        scan(agent, unit)
    wait_until(lambda: current(agent).expected == [], 10, "everything picked", details=lambda: current(agent))
    ui(broker, DEVICE, "complete", order_id=order_id)
    wait_until(lambda: state(agent) == "picked", 10, "pick complete")
    ui(broker, DEVICE, "stage", order_id=order_id, location="pickup-shelf-3", tote_ids=["tote-77"])
    wait_until(
        lambda: state(agent) == "ready_for_pickup", 20, "ready for pickup (the platform notified)",
        details=lambda: (current(agent), platform.order(order_id)),
    )  # fmt: skip


def test_check_in_verify_by_order_code_hand_over_close_and_a_no_show(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    spy = Spy(broker)
    platform = PickPlatform(central, "acme", "s042").start()
    try:
        agent = agent_factory(handheld_config(tmp_path, broker.port, DEVICE))
        wait_until(lambda: agent.connected, 10, "connected")
        platform.publish_order("co-2001", [("l1", MILK, 2), ("l2", BREAD, 1)], pickup_code=CODE)
        pick_and_stage(broker, agent, platform, "co-2001")

        ui(broker, DEVICE, "check_in", order_id="co-2001", mode="counter")
        wait_until(lambda: state(agent) == "customer_arrived", 10, "the customer checked in")
        wait_until(lambda: agent.outbox_total() == 0, 15, "the check-in confirmed")
        ops = agent.ops_created()
        assert platform.attrs("co-2001")["pick.state"] == "customer_arrived"

        ui(broker, DEVICE, "verify", order_id="co-2001", verified_by="order_code", order_code="K7Q2-0000")
        wait_until(lambda: view(agent).refused == "order_code_mismatch", 10, "a wrong code refused")
        assert "0000" not in (view(agent).detail or "") and state(agent) == "customer_arrived"
        ui(broker, DEVICE, "hand_over", order_id="co-2001")
        wait_until(lambda: view(agent).refused == "wrong_state", 10, "no hand-over before verification")
        assert agent.ops_created() == ops and agent.outbox_total() == 0, "refusals record nothing"

        ui(broker, DEVICE, "verify", order_id="co-2001", verified_by="order_code", order_code=CODE.lower())
        wait_until(lambda: state(agent) == "verified", 10, "verified by order code", details=lambda: view(agent))
        ui(broker, DEVICE, "hand_over", order_id="co-2001")
        wait_until(
            lambda: state(agent) == "completed", 20, "handed over, and the platform closed it",
            details=lambda: (view(agent), platform.order("co-2001")),
        )  # fmt: skip
        order = platform.order("co-2001")
        assert order is not None and order.status == "closed"
        wait_until(lambda: agent.outbox_total() == 0, 15, "every op confirmed")
        assert central.applied_count(DEVICE) == agent.ops_created(), "nothing lost, nothing doubled"
        attrs = platform.attrs("co-2001")
        assert attrs["pick.verified_by"] == "order_code"
        assert attrs["pick.state"] == "handed_over", "the platform's close is not echoed back"
        assert attrs["pick.handed_over_at"] is not None and attrs["pick.handed_over_at"].endswith("+00:00")

        # --- a second order: ready, and the customer never comes -------------------------------------------
        platform.publish_order("co-2002", [("l1", MILK, 2), ("l2", BREAD, 1)], pickup_code="Z9Z9-Z9Z9")
        pick_and_stage(broker, agent, platform, "co-2002")
        platform.no_show("co-2002")
        wait_until(lambda: state(agent) == "no_show", 10, "the platform's no-show", details=lambda: view(agent))
        ui(broker, DEVICE, "check_in", order_id="co-2002")
        wait_until(lambda: view(agent).refused == "wrong_state", 10, "too late to check in")
        wait_until(lambda: agent.outbox_total() == 0, 15, "every op confirmed")
        assert platform.attrs("co-2002")["pick.state"] == "staged"
        assert "pick.verified_by" not in platform.attrs("co-2002")

        events_topic = f"{PREFIX}/{DEVICE}/events"

        def events() -> list[dict[str, Any]]:
            return [{**e["data"], "subject": e.get("subject")} for e in spy.on(events_topic)]

        wanted = [
            ("co-2001", "customer.checked_in"),
            ("co-2001", "pickup.verified"),
            ("co-2001", "pickup.handed_over"),
            ("co-2001", "order.closed"),
            ("co-2002", "order.no_show"),
        ]

        def seen() -> set[tuple[str, str]]:
            return {(e["subject"], e["name"]) for e in events()}

        wait_until(lambda: set(wanted) <= seen(), 15, "the pickup's events", details=seen)
        by_name = {(e["subject"], e["name"]): e for e in events()}
        for key in wanted:
            assert by_name[key]["ga4"] == key[1].replace(".", "_"), key
        assert by_name[("co-2001", "pickup.verified")]["data"]["method"] == "pickup_code"
        assert by_name[("co-2002", "order.no_show")]["data"]["location"] == "pickup-shelf-3"
        names = [e["name"] for e in events()]
        assert names.count("pickup.verified") == 1, "the refused code emitted nothing"

        time.sleep(0.2)  # the last retained views reach the spy
        for topic, payload in list(spy.messages):
            if not topic.endswith("/ui"):
                assert CODE.encode() not in payload and CODE.lower().encode() not in payload, topic
                assert b"K7Q2-0000" not in payload, topic
    finally:
        platform.stop()
        spy.close()
