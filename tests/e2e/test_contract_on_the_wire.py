"""One way out (issue 11): everything the agent publishes keeps the contract, as it crosses the wire.

A kiosk (scans, loyalty tap, merge preview, confirm on the screen, an erasure), an associate handheld (a tote
opened, parked, resumed and submitted, then a click-and-collect pick staged) and a fitting-room mirror (a hang tag,
an assist request escalated, acknowledged, delivered, the room vacated) run against real Mosquitto and the central
simulator while an MQTT 5 recorder keeps every message. Each message the AGENT published (a topic under
``dv/{device}/`` or ``assist/requests/`` that docs/asyncapi.yaml does not name as one the device receives: those
are the test's screens, the associates' replies and the platform's acks) must:

(a) be a CloudEvents 1.0 JSON object whose ``type`` and ``id`` the MQTT 5 user properties ``ce_type`` and
    ``ce_id`` mirror (README, "The MQTT contract");
(b) be on a topic that matches exactly one channel address of docs/asyncapi.yaml (``{param}`` = one level);
(c) validate against the payload schema of one of that channel's messages;
(d) carry the retain flag its operation's MQTT binding names (recorded as published).

An empty payload is allowed only as a retained clear on a retained channel. Every violation is collected and
reported as ``topic: what is wrong``, so one run shows every drift.

The contract is read from docs/asyncapi.yaml, and payloads are checked raw; edge_agent is reached only through
the journeys' own helpers and the support modules.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from simulators.central import CentralPlatform
from simulators.nfc_tags import TagEmulator
from simulators.pick_platform import PickPlatform
from tests.e2e import test_fitting_room as mirror
from tests.e2e import test_nfc_session as kiosk
from tests.e2e import test_picking as picking
from tests.e2e import test_tote as tote
from tests.support.broker import MosquittoBroker
from tests.support.wire import WireMessage, WireRecorder
from tests.support.world import InProcessAgent, wait_until

AgentFactory = Callable[[Any], InProcessAgent]
REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "docs" / "asyncapi.yaml"
DOC_URI = "urn:edge-agent:asyncapi"
PREFIX = "rt/v1/acme/st/s042"
# Where a device publishes (issue 10's fence): its own dv/{device}/ up-topics and assist/requests/{device}/+.
DEVICE_SIDE = re.compile(r"^rt/v1/[^/]+/st/[^/]+/(dv/[^/]+/.+|assist/requests/.+)$")
CE_REQUIRED = ("specversion", "id", "source", "type")
# Every send channel these journeys exercise; a message on each proves the filter kept the agent's traffic.
EXERCISED = {
    "deviceOps",
    "deviceSync",
    "deviceStatus",
    "deviceSession",
    "deviceDisplay",
    "devicePicking",
    "deviceEvents",
    "deviceErased",
    "storeAssistRequests",
}


# --- the contract, from docs/asyncapi.yaml ------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    name: str
    address: str
    pattern: re.Pattern[str]
    actions: frozenset[str]
    retained: bool | None
    """The operation's MQTT binding ``retain``; None when the contract does not say."""
    messages: dict[str, Draft202012Validator]


def _pointer(ref: str) -> str:
    assert ref.startswith("#/"), f"only local $refs in the contract: {ref}"
    return ref[1:]


def _resolve(doc: dict[str, Any], ref: str) -> tuple[str, Any]:
    """Follow a chain of local $refs; returns the final JSON pointer and the object there."""
    pointer = _pointer(ref)
    node: Any = doc
    for part in pointer.lstrip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    if isinstance(node, dict) and "$ref" in node:
        return _resolve(doc, node["$ref"])
    return pointer, node


def _address_pattern(address: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]+\})", address)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts if p))


def load_contract(path: Path = CONTRACT) -> dict[str, Channel]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    registry: Registry[Any] = Registry().with_resource(DOC_URI, DRAFT202012.create_resource(doc))
    actions: dict[str, set[str]] = {}
    retained: dict[str, bool] = {}
    for op in doc["operations"].values():
        pointer, _ = _resolve(doc, op["channel"]["$ref"])
        name = pointer.rsplit("/", 1)[1]
        actions.setdefault(name, set()).add(op["action"])
        binding = op.get("bindings", {}).get("mqtt", {})
        if "retain" in binding:
            retained[name] = retained.get(name, False) or bool(binding["retain"])
    channels: dict[str, Channel] = {}
    for name, channel in doc["channels"].items():
        validators: dict[str, Draft202012Validator] = {}
        for key, message in channel["messages"].items():
            pointer = f"/channels/{name}/messages/{key}"
            if "$ref" in message:
                pointer, _ = _resolve(doc, message["$ref"])
            schema = {"$ref": f"{DOC_URI}#{pointer}/payload"}
            validators[pointer.rsplit("/", 1)[1]] = Draft202012Validator(schema, registry=registry)
        channels[name] = Channel(
            name=name,
            address=channel["address"],
            pattern=_address_pattern(channel["address"]),
            actions=frozenset(actions.get(name, ())),
            retained=retained.get(name),
            messages=validators,
        )
    return channels


# --- the checks ---------------------------------------------------------------------------------------------


def _error_text(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message[:200]}"


def schema_problem(channel: Channel, payload: dict[str, Any]) -> str | None:
    """None when the payload fits one of the channel's messages; else what is wrong with it, in words."""
    misfits: dict[str, list[ValidationError]] = {}
    for name, validator in channel.messages.items():
        errors = sorted(validator.iter_errors(payload), key=lambda e: [str(p) for p in e.absolute_path])
        if not errors:
            return None
        misfits[name] = errors
    # A channel with several messages (display): report the ones whose CloudEvents type matched, if any.
    typed = {n: e for n, e in misfits.items() if all(list(x.absolute_path) != ["type"] for x in e)} or {
        n: [best_match(e)] for n, e in misfits.items()
    }
    detail = "; ".join(f"{n}: {', '.join(_error_text(x) for x in e[:5])}" for n, e in typed.items())
    return f"payload fits no message of channel {channel.name} ({detail})"


def message_problems(message: WireMessage, matches: list[Channel]) -> list[str]:
    problems: list[str] = []
    if not matches:
        problems.append("topic matches no channel address of docs/asyncapi.yaml")
    elif len(matches) > 1:
        problems.append(f"topic matches {len(matches)} channel addresses: {', '.join(c.address for c in matches)}")
    if not message.payload:
        if not message.retain:
            problems.append("empty payload that is not a retained clear")
        elif matches and not any(c.retained for c in matches):
            problems.append(f"retained clear on a channel that is not retained ({matches[0].name})")
        return problems
    try:
        payload = json.loads(message.payload)
    except ValueError as exc:
        return [*problems, f"payload is not JSON ({exc})"]
    if not isinstance(payload, dict):
        return [*problems, f"payload is JSON {type(payload).__name__}, not a CloudEvents object"]
    missing = [a for a in CE_REQUIRED if not isinstance(payload.get(a), str) or not payload[a]]
    if missing:
        problems.append(f"not a CloudEvent: no {', '.join(missing)}")
    if payload.get("specversion") not in (None, "1.0"):
        problems.append(f"CloudEvents specversion {payload['specversion']!r}, not '1.0'")
    for prop, attribute in (("ce_type", "type"), ("ce_id", "id")):
        values = message.user_property(prop)
        if not values:
            problems.append(f"MQTT 5 user property {prop} missing")
        elif len(values) > 1:
            problems.append(f"MQTT 5 user property {prop} sent {len(values)} times: {values}")
        elif values[0] != payload.get(attribute):
            problems.append(f"{prop}={values[0]!r} but the CloudEvent's {attribute} is {payload.get(attribute)!r}")
    if len(matches) == 1 and matches[0].retained is not None and message.retain != matches[0].retained:
        problems.append(f"published with retain={message.retain}, the contract says retain={matches[0].retained}")
    if len(matches) == 1:
        problem = schema_problem(matches[0], payload)
        if problem is not None:
            problems.append(problem)
    return problems


def agent_published(
    messages: Iterable[WireMessage], channels: dict[str, Channel]
) -> list[tuple[WireMessage, list[Channel]]]:
    """The device side's traffic: under dv/{device}/ or assist/requests/, minus what the contract says a device
    receives there (the UI's commands, the platform's acks and relayed assist replies: the test and the
    simulator publish those). A device-side topic no channel names is kept: that is drift too."""
    kept: list[tuple[WireMessage, list[Channel]]] = []
    for message in messages:
        if not DEVICE_SIDE.match(message.topic):
            continue
        matches = [c for c in channels.values() if c.pattern.fullmatch(message.topic)]
        if matches and not any("send" in c.actions for c in matches):
            continue
        kept.append((message, matches))
    return kept


def violations(recorded: Iterable[WireMessage], channels: dict[str, Channel]) -> tuple[list[str], set[str]]:
    """``topic: what is wrong`` lines (repeats counted, first-seen order) and the channels messages were seen on."""
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    for message, matches in agent_published(recorded, channels):
        seen.update(c.name for c in matches)
        for problem in message_problems(message, matches):
            counts[f"{message.topic}: {problem}"] += 1
    return [line if n == 1 else f"{line} (x{n})" for line, n in counts.items()], seen


# --- the journeys -------------------------------------------------------------------------------------------


def stopped(recorder: WireRecorder, agent: InProcessAgent) -> None:
    """Stop the agent and wait for its own "offline": QoS 1 from one client arrives in order, so everything the
    agent published before is recorded too."""
    device = agent.config.device.id
    agent.stop()

    def said_offline() -> bool:
        for m in recorder.on(f"{PREFIX}/dv/{device}/status"):
            try:
                if m.payload and json.loads(m.payload).get("data", {}).get("state") == "offline":
                    return True
            except ValueError:
                continue
        return False

    wait_until(said_offline, 15, f"{device}'s offline status")


def kiosk_journey(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> InProcessAgent:
    """Two product taps, a loyalty card, the merge preview, the screen's confirm, then the shopper's erasure."""
    tags = TagEmulator.on_free_port().start()
    try:
        agent = agent_factory(kiosk.nfc_config(tmp_path, broker.port, tags))
        kiosk.guest_taps_two_products_then_a_loyalty_card(tags, agent, central)
        kiosk.send_ui_command(broker, agent, "confirm_merge", kiosk.session_of(agent).preview.preview_id)
        merged = {kiosk.SHOES: 1, kiosk.SOCKS: 1, kiosk.ONLINE_HAT: 1}
        wait_until(lambda: central.cart(kiosk.PROFILE_CART) == merged, 15, "the profile cart merged")
        wait_until(lambda: agent.outbox_total() == 0, 15, "every kiosk op confirmed")
        central.erase_shopper(kiosk.PROFILE_CART, "acme", "s042", request_id="gdpr-wire-1")
        device = agent.config.device.id  # the store's other devices, playing meanwhile, hear the request too
        wait_until(
            lambda: [d.device for d in central.stats.erasures_done].count(device) == 1,
            15,
            "the kiosk answered the erasure request",
        )
        return agent
    finally:
        tags.stop()


def handheld_journey(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> InProcessAgent:
    """A tote opened, filled, parked, resumed and submitted; then a one-line pick accepted, picked and staged."""
    agent = agent_factory(tote.handheld_config(tmp_path, broker.port))
    wait_until(lambda: agent.connected, 10, "the handheld connected")
    tote.ui(broker, "open")
    wait_until(lambda: tote.view(agent) is not None and tote.view(agent).state == "draft", 10, "a draft tote")
    tote_id = tote.view(agent).tote_id
    tote.scan(agent, tote.SHIRT)
    tote.scan(agent, tote.BELT)
    wait_until(lambda: len(tote.view(agent).lines) == 2, 10, "two lines in the tote")
    tote.ui(broker, "park")
    wait_until(lambda: tote.view(agent).state is None and tote_id in tote.view(agent).parked, 10, "parked")
    tote.ui(broker, "resume", tote_id=tote_id)
    wait_until(lambda: tote.view(agent).state == "draft", 10, "resumed")
    tote.ui(broker, "submit")
    wait_until(lambda: central.cart_attrs(tote_id).get("tote.state") == "submitted", 15, "the tote submitted")

    device, order = "handheld-03", picking.ORDER
    platform = PickPlatform(central, "acme", "s042", approve=True).start()
    try:
        platform.publish_order(order, [("l1", picking.MILK, 1)])
        wait_until(
            lambda: picking.view(agent) is not None and [s.order_id for s in picking.view(agent).available] == [order],
            10,
            "the order offered",
        )
        picking.ui(broker, device, "accept")
        wait_until(
            lambda: picking.current(agent) is not None and picking.current(agent).claim == "won", 15, "the claim won"
        )
        picking.ui(broker, device, "start")
        wait_until(lambda: picking.current(agent).state == "picking", 10, "picking")
        picking.scan(agent, picking.MILK)
        wait_until(lambda: picking.line(agent, "l1").state == "picked", 10, "the milk picked")
        picking.ui(broker, device, "complete")
        wait_until(lambda: picking.current(agent).state == "picked", 10, "the pick complete")
        picking.ui(broker, device, "stage", location="pickup-shelf-1", tote_ids=["tote-9"])
        wait_until(lambda: picking.current(agent).state == "ready_for_pickup", 20, "ready for pickup")
        wait_until(lambda: agent.outbox_total() == 0, 15, "every handheld op confirmed")
    finally:
        platform.stop()
    return agent


def mirror_journey(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> InProcessAgent:
    """A hang tag, a size asked for, escalated, acknowledged and delivered (the retained request cleared), vacant."""
    morning = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    jeans = {"name": "Slim jeans", "style": "slim-indigo", "colour": "indigo", "currency": "EUR", "price_minor": 6999}
    central.publish_catalog(
        "acme",
        "s042",
        [
            {**jeans, "gtin14": mirror.JEANS_30, "size": "30", "stock": 2, "stock_as_of": morning},
            {**jeans, "gtin14": mirror.JEANS_32, "size": "32", "stock": 5, "stock_as_of": morning},
        ],
    )
    tags = TagEmulator.on_free_port().start()
    try:
        agent = agent_factory(mirror.mirror_config(tmp_path, broker.port, tags.path))
        wait_until(lambda: agent.connected, 10, "the mirror connected")
        agent.wait_for_catalog(1, 10)
        mirror.tap(tags, mirror.JEANS_30, 1)
        wait_until(lambda: mirror.view(agent) is not None and mirror.view(agent).state == "browsing", 15, "in use")
        mirror.mirror_ui(broker, action="request_assist", type="size", target_gtin=mirror.JEANS_32)
        wait_until(lambda: len(mirror.view(agent).requests) == 1, 10, "a request on the mirror")
        request_id = mirror.view(agent).requests[0].request_id
        wait_until(lambda: mirror.view(agent).requests[0].level == 2, 15, "escalated")
        mirror.handheld_reply(broker, request_id, "acknowledge")
        wait_until(lambda: mirror.view(agent).requests[0].state == "acknowledged", 10, "acknowledged")
        mirror.handheld_reply(broker, request_id, "delivered")
        wait_until(lambda: mirror.view(agent).requests == [], 10, "delivered: the request closed")
        mirror.mirror_ui(broker, action="vacate")
        wait_until(lambda: mirror.view(agent).state == "vacant", 10, "vacant")
        return agent
    finally:
        tags.stop()


def test_everything_the_agent_publishes_carries_ce_type_and_ce_id_and_fits_a_channel_of_the_contract(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    channels = load_contract()
    journeys = {"kiosk": kiosk_journey, "handheld": handheld_journey, "mirror": mirror_journey}

    def play(recorder: WireRecorder, name: str) -> None:
        workdir = tmp_path / name  # each device its own key files and database
        workdir.mkdir()
        stopped(recorder, journeys[name](workdir, broker, central, agent_factory))

    # The three devices play side by side, as in a store: each waits on its own agent most of the time.
    with WireRecorder(broker.host, broker.port) as recorder, ThreadPoolExecutor(len(journeys)) as pool:
        for done in [pool.submit(play, recorder, name) for name in journeys]:
            done.result()  # a journey's failure, raised here
        recorded = recorder.messages()

    problems, seen = violations(recorded, channels)
    problems += [
        f"{channels[c].address}: no message recorded (the journeys no longer reach it)"
        for c in sorted(EXERCISED - seen)
    ]
    assert not problems, f"{len(problems)} contract violation(s) on the wire:\n" + "\n".join(problems)
