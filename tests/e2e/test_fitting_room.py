"""A fitting-room mirror: hang tags tapped through real nfcpy (udp driver), the sizes in stock here from the
catalog cache, an assist request that escalates until an associate acknowledges it from a handheld, is
delivered, survives an uplink outage, and a consented shopper's try-on list saved as a wishlist; vacating
purges the room."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.contract.workflow import AssistReply, AssistReplyEvent, MirrorCommand, MirrorCommandEvent
from edge_agent.identity.tokens import Claims, issue_token
from edge_agent.readers.events import IdentityPresented
from simulators.central import CentralPlatform
from simulators.nfc_tags import TagEmulator, product_tag
from tests.support.broker import MosquittoBroker
from tests.support.fixtures import ProxyFactory
from tests.support.mqtt_spy import Spy
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
KEY = bytes.fromhex("33" * 32)
JEANS_30, JEANS_32, JEANS_34 = "05012345678900", "05901234123457", "08710398502131"
PREFIX = "rt/v1/acme/st/s042"
MORNING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def mirror_config(tmp_path: Path, port: int, nfc_path: str) -> AgentConfig:
    key_file = tmp_path / "identity.key"
    key_file.write_text(KEY.hex())
    raw: dict[str, Any] = make_config(
        tmp_path, port, device="mirror-02", keepalive_s=1, connect_timeout_s=1
    ).model_dump(mode="json", exclude_none=True)
    raw["device"]["role"] = "fitting-room-mirror"
    raw["readers"] = {"nfc": {"path": nfc_path, "tag_types": ["type2"], "repeat_s": 0.5}}
    raw["identity"] = {"key_files": [str(key_file)], "merge_policy": "separate"}
    raw["assist"] = {"ack_s": 1.0, "delivery_s": 30.0, "max_level": 2}
    return AgentConfig.model_validate(raw)


def send(broker: MosquittoBroker, topic: str, event: Any) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"ui-{time.monotonic_ns()}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(topic, event.model_dump_json().encode(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def mirror_ui(broker: MosquittoBroker, **fields: Any) -> None:
    data = MirrorCommand(**fields)
    send(broker, f"{PREFIX}/dv/mirror-02/ui", MirrorCommandEvent(source="urn:ui", id="m1", time=utcnow(), data=data))


def handheld_reply(broker: MosquittoBroker, request_id: str, action: str) -> None:
    data = AssistReply(request_id=request_id, action=action, associate="emp-042")  # type: ignore[arg-type]
    event = AssistReplyEvent(source="urn:acme:handheld-04", id=f"r-{action}", time=utcnow(), data=data)
    send(broker, f"{PREFIX}/dv/mirror-02/assist", event)


def view(agent: InProcessAgent) -> Any:
    assert agent.agent is not None
    return agent.agent.role.last_view


def tap(tags: TagEmulator, gtin14: str, n: int) -> None:
    tags.tap(product_tag(gtin14, "type2", uid=bytes([4, 0, 0, 0, 0, 0, n])))
    assert tags.wait_idle(30), "the hang tag was never read"


def test_a_fitting_room_session_from_first_tap_to_vacant_with_an_escalated_assist_request_and_a_wishlist(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    proxy_factory: ProxyFactory,
) -> None:
    jeans = {"name": "Slim jeans", "style": "slim-indigo", "colour": "indigo", "currency": "EUR", "price_minor": 6999}
    central.publish_catalog(
        "acme",
        "s042",
        [
            {**jeans, "gtin14": JEANS_30, "size": "30", "stock": 2, "stock_as_of": MORNING},
            {**jeans, "gtin14": JEANS_32, "size": "32", "stock": 5, "stock_as_of": MORNING},
            {**jeans, "gtin14": JEANS_34, "size": "34", "stock": 0, "stock_as_of": MORNING},
        ],
    )
    tags = TagEmulator.on_free_port().start()
    spy = Spy(broker)
    try:
        proxy = proxy_factory(broker)
        agent = agent_factory(mirror_config(tmp_path, proxy.port, tags.path))
        wait_until(lambda: agent.connected, 10, "connected")
        agent.wait_for_catalog(1, 10)

        tap(tags, JEANS_30, 1)
        wait_until(lambda: view(agent) is not None and view(agent).state == "browsing", 15, "the room is in use")
        garment = view(agent).garments[0]
        assert (garment.gtin14, garment.size) == (JEANS_30, "30")
        assert {(v.size, v.stock) for v in garment.in_store} == {("32", 5), ("34", 0)}, "other sizes in stock here"

        mirror_ui(broker, action="request_assist", type="size", target_gtin=JEANS_32)
        wait_until(lambda: len(view(agent).requests) == 1, 10, "a request on the mirror")
        request_id = view(agent).requests[0].request_id
        handhelds_see = f"{PREFIX}/assist/requests/mirror-02/{request_id}"
        wait_until(lambda: bool(spy.on(handhelds_see)), 10, "the request on the associates' topic")
        assert spy.on(handhelds_see)[-1]["data"]["target_name"] == "Slim jeans"
        wait_until(lambda: view(agent).requests[0].level == 2, 15, "nobody answered: escalated twice")

        handheld_reply(broker, request_id, "acknowledge")
        wait_until(lambda: view(agent).requests[0].state == "acknowledged", 10, "acknowledged")
        proxy.black_hole()  # the fitting rooms lose the uplink while the associate fetches the jeans
        wait_until(lambda: not agent.connected, 15, "offline")
        tap(tags, JEANS_34, 2)  # tapping still works offline
        wait_until(lambda: len(view(agent).garments) == 2 and view(agent).offline, 10, "listed offline")
        proxy.pass_through()
        wait_until(lambda: agent.connected, 15, "back online")
        handheld_reply(broker, request_id, "delivered")
        wait_until(lambda: view(agent).requests == [], 10, "delivered: the request is closed")
        wait_until(lambda: spy.messages[-1:] and _cleared(spy, handhelds_see), 10, "the retained request cleared")

        now = int(time.time())
        claims = Claims(kind="app", sub="shopper-ada-7f3c", cart="profile-ada", consent=("profile", "analytics"),
                        iat=now, exp=now + 300, nonce="mirror-0001")  # type: ignore[arg-type]  # fmt: skip
        agent.call(lambda: agent.agent.submit(IdentityPresented(issue_token(KEY, claims), "qr", "camera", time.time())))  # type: ignore[union-attr]
        wait_until(lambda: view(agent).identified, 10, "identified to save the list")

        mirror_ui(broker, action="vacate")
        wait_until(lambda: view(agent).state == "vacant" and view(agent).garments == [], 10, "vacant and purged")

        def names() -> list[str]:
            return [e["data"]["name"] for e in spy.on(f"{PREFIX}/dv/mirror-02/events")]

        wanted = {"room.session.started", "garment.detected", "assist.requested", "assist.escalated",
                  "assist.acknowledged", "assist.delivered", "tryon.list.saved", "room.session.ended"}  # fmt: skip
        wait_until(lambda: wanted <= set(names()), 15, "the room's events", details=names)
        saved = next(e for e in spy.on(f"{PREFIX}/dv/mirror-02/events") if e["data"]["name"] == "tryon.list.saved")
        assert saved["data"]["ga4"] == "add_to_wishlist" and saved["data"]["profile"] == "shopper-ada-7f3c", (
            "with analytics the room's events name the shopper (domain/consent.py)"
        )
        assert [i["gtin14"] for i in saved["data"]["data"]["items"]] == [JEANS_30, JEANS_34]
        displays = [json.loads(p) for t, p in spy.messages if t == f"{PREFIX}/dv/mirror-02/display" and p]
        assert displays and all("shopper-ada" not in json.dumps(d) for d in displays), "no pseudonym on the mirror"
        assert central.carts() == {} or all(not k.startswith("profile-ada") for k in central.carts()), (
            "a wishlist, not a cart"
        )
    finally:
        spy.close()
        tags.stop()


def _cleared(spy: Spy, topic: str) -> bool:
    """The last message on a request's topic is the empty retained one that removes it from the handhelds."""
    on_topic = [p for t, p in spy.messages if t == topic]
    return bool(on_topic) and on_topic[-1] == b""
