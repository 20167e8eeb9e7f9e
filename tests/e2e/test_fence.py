"""The store broker's fence, proven against real Mosquitto running exactly deploy/mosquitto/ (FencedBroker):
mTLS with certificates from scripts/store-pki.sh, and the per-identity ACL.

What Mosquitto 2.0.11 answers (checked here): a denied MQTT 5 QoS 1 PUBLISH gets a PUBACK with 0x87 Not
authorized; a denied 3.1.1 PUBLISH gets an ordinary PUBACK and is dropped. A SUBSCRIBE to a filter the ACL
does not grant is answered "granted QoS 1" in both versions, and then nothing is delivered on it: the read
check is made per message. So every denial is also proven by absence: a subscriber with the platform's
identity, subscribed to everything, sees a marker the intruder publishes *after* the denied message, and
never the denied message (one connection's messages reach a subscriber in order).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from edge_agent.contract.cart import (
    AppliedEvent,
    AppliedWatermark,
    EpochWatermark,
    OpsBatch,
    OpsBatchEvent,
    SnapshotEvent,
)
from edge_agent.contract.catalog import CatalogItem, CatalogUpdate, CatalogUpdateEvent
from edge_agent.contract.device import ErasureRequest, ErasureRequestEvent, SessionCommand, SessionCommandEvent
from edge_agent.contract.picking import (
    ClaimDecision,
    ClaimDecisionEvent,
    PickOrderEvent,
    PickOrderLine,
    PickOrderMessage,
    SubstitutionDecision,
    SubstitutionDecisions,
    SubstitutionDecisionsEvent,
)
from edge_agent.contract.topics import Topics, claim_topic, decisions_topic, order_topic
from edge_agent.contract.workflow import AssistReply, AssistReplyEvent, AssistRequestEvent, AssistRequestMessage
from edge_agent.domain.ops import CartOp, OpKind, make_op_id
from edge_agent.identifiers.gtin import normalise_gtin
from simulators.broker import FencedBroker
from simulators.camera import DEMO_CODES
from simulators.central import CentralPlatform
from tests.e2e.test_spine import AgentFactory, converge
from tests.support.fence import FenceClient, Identity, StorePki, make_store_pki, store_pki
from tests.support.world import REPO, InProcessAgent, make_config, wait_until, write_config

NOT_AUTHORIZED = 0x87
K1 = Topics("acme", "s042", "kiosk-01")
K2 = Topics("acme", "s042", "kiosk-02")
CART = "kiosk-01-basket"
GTINS = [normalise_gtin(c) for c in DEMO_CODES]
PLATFORM_SOURCE = "urn:acme:platform:central-sim"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> StorePki:
    return make_store_pki(tmp_path_factory.mktemp("store-pki"), ("kiosk-01", "kiosk-02"))


@pytest.fixture
def fenced(tmp_path: Path, pki: StorePki) -> Iterator[FencedBroker]:
    with FencedBroker(tmp_path / "fenced-broker", pki.root) as started:
        yield started


@pytest.fixture
def platform(tmp_path: Path, fenced: FencedBroker, pki: StorePki) -> Iterator[CentralPlatform]:
    central = CentralPlatform(tmp_path / "central.db", fenced.host, fenced.port, tls=pki.platform.as_tls()).start()
    yield central
    central.stop()


@pytest.fixture
def watcher(fenced: FencedBroker, pki: StorePki) -> Iterator[FenceClient]:
    """The platform's identity, subscribed to everything: what the broker routes, it sees."""
    client = FenceClient(fenced.host, fenced.port, pki.platform, name="watcher").connect_or_fail()
    assert not client.subscribe("rt/v1/#")[0].is_failure
    yield client
    client.close()


@pytest.fixture
def kiosk(
    tmp_path: Path, fenced: FencedBroker, pki: StorePki, platform: CentralPlatform, agent_factory: AgentFactory
) -> InProcessAgent:
    """The real agent as kiosk-01 with its own certificate; one scan, confirmed by the platform."""
    agent = agent_factory(make_config(tmp_path, fenced.port, tls=pki.device("kiosk-01").as_agent_tls()))
    wait_until(lambda: agent.connected, 15, "kiosk-01 connected through the fence")
    agent.scan(GTINS[0])
    converge(agent, platform, {GTINS[0]: 1})
    assert agent.agent is not None
    store = agent.agent.store
    # Settled: the platform's last snapshot has arrived too, so nothing more is on its way to the agent.
    wait_until(
        lambda: agent.call(lambda: store.snapshot_version(CART)) == platform.snapshot(CART).version,
        15,
        "kiosk-01 to hold the platform's snapshot of its basket",
    )
    return agent


def intruder(fenced: FencedBroker, pki: StorePki, protocol: str = "5") -> FenceClient:
    """kiosk-02, a genuine device of the store, with its own genuine certificate."""
    return FenceClient(fenced.host, fenced.port, pki.device("kiosk-02"), protocol=protocol, name=f"kiosk-02-{protocol}")


def barrier(sender: FenceClient, receiver: FenceClient) -> None:
    """A marker on kiosk-02's own up-topic, seen by `receiver`: whatever the broker routed to `receiver` before
    it (from `sender`, or to `receiver` at all if it is `sender`) has arrived by now."""
    marker = f"marker {uuid.uuid4()}".encode()
    assert not sender.publish(K2.events, marker).is_failure
    receiver.wait_for(K2.events, marker, "kiosk-02's marker on its own topic")


# --- the forged messages: what the platform alone may write, each well formed -----------------------------


def _event(model: type[Any], data: Any, **extra: Any) -> bytes:
    body = model(source=PLATFORM_SOURCE, id=f"forged:{uuid.uuid4()}", time=datetime.now(UTC), data=data, **extra)
    return str(body.model_dump_json(exclude_none=True)).encode()


def _acks(agent: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    assert agent.agent is not None
    wm = AppliedWatermark(
        device="kiosk-01",
        watermarks=[EpochWatermark(epoch=agent.agent.store.epoch, applied_upto=agent.ops_created())],
        hlc=1,
    )
    return K1.acks, _event(AppliedEvent, wm)


def _ui(agent: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    assert agent.agent is not None
    cmd = SessionCommand(action="end_session", session_id=agent.agent.basket.sessions.session.session_id)
    return K1.ui, _event(SessionCommandEvent, cmd)


def _ops(agent: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    assert agent.agent is not None
    epoch, seq = agent.agent.store.epoch, agent.ops_created() + 1
    op = CartOp(
        op_id=make_op_id("kiosk-01", epoch, seq),
        uuid=uuid.uuid4(),
        device="kiosk-01",
        epoch=epoch,
        seq=seq,
        cart_id=CART,
        kind=OpKind.ADD,
        hlc=1,
        sku=GTINS[1],
        qty=5,
    )
    batch = OpsBatch(device="kiosk-01", epoch=epoch, ops=[op], hlc_max=1)
    return K1.ops, _event(OpsBatchEvent, batch)


def _snapshot(_a: InProcessAgent, central: CentralPlatform) -> tuple[str, bytes]:
    snap = central.snapshot(CART)
    emptied = snap.model_copy(
        update={"version": snap.version + 1, "entries": [], "tombstones": [e.entry_id for e in snap.entries]}
    )
    return K1.cart_state(CART), _event(SnapshotEvent, emptied, subject=CART)


def _catalog(_a: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    item = CatalogItem(gtin14=GTINS[0], version=1, name="forged", price_minor=1, currency="EUR")
    return K1.catalog, _event(CatalogUpdateEvent, CatalogUpdate(version=1, items=[item]))


def _erasure(_a: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    return K1.erasure, _event(ErasureRequestEvent, ErasureRequest(request_id="forged-1", carts=[CART]))


def _order(_a: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    order = PickOrderMessage(
        order_id="o1", lines=[PickOrderLine(line_id="l1", gtin14=GTINS[0], qty=1)], assigned_at=datetime.now(UTC)
    )
    return order_topic(K1, "o1"), _event(PickOrderEvent, order)


def _claim(_a: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    return claim_topic(K1, "o1"), _event(
        ClaimDecisionEvent, ClaimDecision(order_id="o1", device="kiosk-02", associate="a1")
    )


def _decisions(_a: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    decided = SubstitutionDecisions(
        order_id="o1", decisions=[SubstitutionDecision(line_id="l1", to_gtin=GTINS[1], approved=True)]
    )
    return decisions_topic(K1, "o1"), _event(SubstitutionDecisionsEvent, decided)


def _assist_reply(_a: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    reply = AssistReply(request_id="r1", action="delivered", associate="a1")
    return K1.assist_replies, _event(AssistReplyEvent, reply)


def _assist_request(_a: InProcessAgent, _p: CentralPlatform) -> tuple[str, bytes]:
    request = AssistRequestMessage(
        request_id="r1", room_id="room-1", mirror="kiosk-01", type="size", state="requested", level=0
    )
    return K1.assist_request("r1"), _event(AssistRequestEvent, request)


Forge = Callable[[InProcessAgent, CentralPlatform], tuple[str, bytes]]
PLATFORM_ONLY: dict[str, Forge] = {
    "kiosk-01's acks": _acks,
    "kiosk-01's ui": _ui,
    "kiosk-01's ops (impersonation)": _ops,
    "a cart snapshot": _snapshot,
    "catalog": _catalog,
    "privacy/erasure": _erasure,
    "a pick order": _order,
    "a pick claim": _claim,
    "pick decisions": _decisions,
    "kiosk-01's assist replies": _assist_reply,
    "kiosk-01's assist requests": _assist_request,
}


class AgentState(NamedTuple):
    basket: dict[str, int]
    outbox: int
    session_id: str
    accepted: dict[str, int]
    rejected: dict[str, int]
    rejected_inputs: dict[str, int]
    central_cart: dict[str, int]
    central_applied: int


def edge_agent_status(agent: InProcessAgent, workdir: Path) -> dict[str, Any]:
    """`edge-agent status --json --config <file>`, as an operator would run it next to the agent."""
    config = write_config(agent.config, workdir / "kiosk-01.status.toml")
    done = subprocess.run(
        [sys.executable, "-m", "edge_agent", "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def state_of(agent: InProcessAgent, central: CentralPlatform, workdir: Path) -> AgentState:
    assert agent.agent is not None
    a = agent.agent
    return AgentState(
        basket=agent.basket(),
        outbox=agent.outbox_total(),
        session_id=a.basket.sessions.session.session_id,
        accepted=dict(agent.call(lambda: dict(a.router.accepted))),
        rejected=dict(agent.call(lambda: dict(a.router.rejected))),
        rejected_inputs=edge_agent_status(agent, workdir)["rejected_inputs"],
        central_cart=central.cart(CART),
        central_applied=central.applied_count("kiosk-01"),
    )


def tap_inbound(agent: InProcessAgent, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """Every message the broker delivers to the agent, recorded before the agent handles it."""
    assert agent.agent is not None
    seen: list[tuple[str, bytes]] = []
    handle = agent.agent.message

    def message(topic: str, payload: bytes) -> None:
        seen.append((topic, payload))
        handle(topic, payload)

    monkeypatch.setattr(agent.agent, "message", message)
    return seen


# --- tests --------------------------------------------------------------------------------------------------


def test_scans_sync_through_the_fence_and_the_outbox_empties(
    kiosk: InProcessAgent, platform: CentralPlatform, fenced: FencedBroker
) -> None:
    kiosk.scan(*GTINS[1:], GTINS[0])
    converge(kiosk, platform, {GTINS[0]: 2, **dict.fromkeys(GTINS[1:], 1)})
    assert kiosk.outbox_total() == 0
    assert platform.applied_count("kiosk-01") == kiosk.ops_created() == len(GTINS) + 1
    conf = fenced.conf_path.read_text()
    assert "allow_anonymous false" in conf and "allow_anonymous true" not in conf
    assert (fenced.fence_dir / "edge-agent.acl").read_bytes() == (REPO / "deploy/mosquitto/edge-agent.acl").read_bytes()


@pytest.mark.parametrize("forge", PLATFORM_ONLY.values(), ids=PLATFORM_ONLY.keys())
def test_a_device_cannot_write_what_only_the_platform_writes(
    forge: Forge,
    tmp_path: Path,
    fenced: FencedBroker,
    pki: StorePki,
    platform: CentralPlatform,
    kiosk: InProcessAgent,
    watcher: FenceClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, payload = forge(kiosk, platform)
    before = state_of(kiosk, platform, tmp_path)
    inbound = tap_inbound(kiosk, monkeypatch)
    kiosk02 = intruder(fenced, pki).connect_or_fail()
    try:
        reason = kiosk02.publish(topic, payload, retain=True)
        assert reason.value == NOT_AUTHORIZED, f"{topic}: {reason}"
        barrier(kiosk02, watcher)
    finally:
        kiosk02.close()
    assert (topic, payload) not in watcher.received()
    assert (topic, payload) not in inbound
    assert state_of(kiosk, platform, tmp_path) == before


def test_mqtt_3_1_1_gets_a_plain_puback_and_the_message_is_still_dropped(
    fenced: FencedBroker,
    pki: StorePki,
    kiosk: InProcessAgent,
    platform: CentralPlatform,
    watcher: FenceClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, payload = _snapshot(kiosk, platform)
    inbound = tap_inbound(kiosk, monkeypatch)
    kiosk02 = intruder(fenced, pki, protocol="3.1.1").connect_or_fail()
    try:
        assert not kiosk02.publish(topic, payload, retain=True).is_failure  # 3.1.1 has no code to refuse with
        barrier(kiosk02, watcher)
    finally:
        kiosk02.close()
    assert (topic, payload) not in watcher.received()
    assert (topic, payload) not in inbound
    assert kiosk.basket() == platform.cart(CART) == {GTINS[0]: 1}


def test_a_username_in_connect_does_not_change_the_certificate_identity(
    fenced: FencedBroker, pki: StorePki, watcher: FenceClient
) -> None:
    kiosk02 = intruder(fenced, pki).connect_or_fail(username="platform")
    try:
        forged = f"forged {uuid.uuid4()}".encode()
        assert kiosk02.publish(K1.catalog, forged).value == NOT_AUTHORIZED
        barrier(kiosk02, watcher)
    finally:
        kiosk02.close()
    assert (K1.catalog, forged) not in watcher.received()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_device_cannot_read_another_devices_session(
    protocol: str, fenced: FencedBroker, pki: StorePki, kiosk: InProcessAgent, watcher: FenceClient
) -> None:
    assert kiosk.agent is not None
    agent = kiosk.agent
    wait_until(lambda: bool(watcher.received(lambda t: t == K1.session)), 10, "kiosk-01's retained session")
    kiosk02 = intruder(fenced, pki, protocol).connect_or_fail()
    try:
        # Mosquitto 2.0.11 grants the SUBSCRIBE (its acl_file is checked per message, not per filter); a
        # broker that refuses it outright (0x87, or 0x80 in 3.1.1) is just as good.
        granted = kiosk02.subscribe(K1.session)[0]
        assert granted.value in (1, 0x80, NOT_AUTHORIZED), granted
        assert not kiosk02.subscribe(f"{K2.prefix}/dv/kiosk-02/#")[0].is_failure
        # The retained session is not delivered: it would have come before kiosk-02's own marker.
        barrier(kiosk02, kiosk02)
        # Nor is a live one: once the watcher has it, the broker has routed it, before kiosk-02's next marker.
        live_before = len(watcher.received(lambda t: t == K1.session))
        kiosk.call(agent.basket.sessions.publish)
        wait_until(lambda: len(watcher.received(lambda t: t == K1.session)) > live_before, 10, "a live session")
        barrier(kiosk02, kiosk02)
        assert kiosk02.received(lambda t: t == K1.session) == []
    finally:
        kiosk02.close()


def refused_because(fenced: FencedBroker, client: FenceClient, why: str) -> None:
    """The connection never gets a CONNACK, and the broker's log says why (the client only sees it close)."""
    log_from = len(fenced.log_text())
    try:
        outcome = client.connect()
    finally:
        client.close()
    assert outcome.startswith("refused"), outcome
    wait_until(lambda: why in fenced.log_text()[log_from:], 10, f"the broker to log {why!r}", details=fenced.log_text)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_client_without_a_certificate_cannot_connect(protocol: str, fenced: FencedBroker, pki: StorePki) -> None:
    plaintext = FenceClient(fenced.host, fenced.port, None, protocol=protocol, name="anonymous-plaintext")
    refused_because(fenced, plaintext, "wrong version number")  # MQTT on a TLS-only port
    no_cert = FenceClient(fenced.host, fenced.port, Identity(pki.ca), protocol=protocol, name="anonymous-tls")
    refused_because(fenced, no_cert, "peer did not return a certificate")


def test_a_certificate_from_another_ca_cannot_connect(tmp_path: Path, fenced: FencedBroker, pki: StorePki) -> None:
    stranger = make_store_pki(tmp_path / "other-store", ("kiosk-01",)).device("kiosk-01")
    # It trusts our broker (it has the store's public CA) but presents a kiosk-01 minted by another CA.
    forged = Identity(pki.ca, stranger.cert, stranger.key)
    refused_because(fenced, FenceClient(fenced.host, fenced.port, forged, name="other-ca"), "certificate verify failed")
    # The same name from the store's own CA is let in.
    FenceClient(fenced.host, fenced.port, pki.device("kiosk-01"), name="own-ca").connect_or_fail().close()


@pytest.mark.parametrize("device_id", ["platform", "Kiosk-01", "-kiosk", "kiosk/01", "k" * 65])
def test_store_pki_makes_no_device_certificate_for_the_platform_name_or_a_bad_id(device_id: str, pki: StorePki) -> None:
    with pytest.raises(RuntimeError, match=r"does not match|the central platform's identity"):
        store_pki(pki.root, "device", device_id)
    assert not (pki.root / "devices" / f"{device_id}.crt").exists()


def test_store_pki_is_idempotent_and_keeps_keys_private(pki: StorePki) -> None:
    before = {p: p.read_bytes() for p in pki.root.rglob("*") if p.is_file()}
    again = store_pki(pki.root, "device", "kiosk-01")
    assert again.startswith("kept ") and "wrote" not in again
    assert {p: p.read_bytes() for p in pki.root.rglob("*") if p.is_file()} == before
    keys = list(pki.root.rglob("*.key"))
    assert keys and all(k.stat().st_mode & 0o777 == 0o600 for k in keys)
