"""NFC taps through real nfcpy (udp driver) into shopper sessions, over real Mosquitto and the central simulator.

A guest scans by tapping product tags, taps a loyalty card, sees a merge preview that includes the online
cart, confirms, and the profile cart holds both; a payment card is never read.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import AgentConfig
from edge_agent.contract.base import utcnow
from edge_agent.contract.device import SessionCommand, SessionCommandEvent
from edge_agent.domain.session import SessionState
from edge_agent.identity.tokens import Claims, confirm_code, issue_token
from edge_agent.readers.events import InputRejected, ProductScanned, ReaderEvent, ReaderHealth
from edge_agent.readers.nfc.reader import NfcReader, open_frontend
from simulators.central import CentralPlatform
from simulators.nfc_tags import TEST_PAN, Card, TagEmulator, payment_card, product_tag, uri_card
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
KEY = bytes.fromhex("11" * 32)
SHOES, SOCKS, ONLINE_HAT = "09506000134352", "04006381333931", "08710398502131"
PROFILE_CART = "profile-shopper-7"
PSEUDONYM = "shopper-7-pseudo"


@pytest.fixture
def tags() -> Iterator[TagEmulator]:
    emulator = TagEmulator.on_free_port().start()
    yield emulator
    emulator.stop()


def loyalty_card(consent: tuple[str, ...] = ("profile", "cart_sync")) -> Card:
    claims = Claims(
        kind="card", sub=PSEUDONYM, cart=PROFILE_CART, consent=consent, iat=int(time.time()), nonce="card0001"
    )  # type: ignore[arg-type]
    return uri_card(
        f"https://loyalty.example.com/ea1/{issue_token(KEY, claims)[4:]}", uid=bytes.fromhex("04CAFE01020304")
    )


def nfc_config(tmp_path: Path, port: int, tags: TagEmulator, policy: str = "sum") -> AgentConfig:
    key_file = tmp_path / "identity.key"
    key_file.write_text(KEY.hex())
    raw: dict[str, Any] = make_config(tmp_path, port).model_dump(mode="json", exclude_none=True)
    raw["readers"] = {"nfc": {"path": tags.path, "tag_types": ["type2", "type4"], "repeat_s": 0.5}}
    raw["identity"] = {"key_files": [str(key_file)], "merge_policy": policy}
    return AgentConfig.model_validate(raw)


def tap(tags: TagEmulator, card: Card) -> None:
    tags.tap(card)
    assert tags.wait_idle(30), "the emulated tag was never read"


def session_of(agent: InProcessAgent) -> Any:
    assert agent.agent is not None
    return agent.agent.basket.sessions.session


def screen_confirm_code(config: AgentConfig, preview_id: str | None) -> str | None:
    """What the kiosk's own screen sends: it reads the device's screen key file (a broker client cannot)."""
    if preview_id is None:
        return None
    return confirm_code(bytes.fromhex(config.screen_key_path().read_text().strip()), preview_id)


def send_ui_command(broker: MosquittoBroker, agent: InProcessAgent, action: str, preview_id: str | None) -> None:
    assert agent.agent is not None
    event = SessionCommandEvent(
        source="urn:acme:kiosk-ui",
        id="ui-1",
        time=utcnow(),
        data=SessionCommand(
            action=action,  # type: ignore[arg-type]
            session_id=session_of(agent).session_id,
            preview_id=preview_id,
            confirm_code=screen_confirm_code(agent.config, preview_id),
        ),
    )
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="kiosk-ui")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish(agent.agent.topics.ui, event.model_dump_json().encode(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def guest_taps_two_products_then_a_loyalty_card(
    tags: TagEmulator, agent: InProcessAgent, central: CentralPlatform
) -> None:
    central.trust_identity_keys(KEY)  # merge grants verify under the key the platform signed the card with
    central.open_profile_cart(PROFILE_CART, "acme", "s042")
    central.add_online(PROFILE_CART, ONLINE_HAT)
    wait_until(lambda: agent.connected, 10, "agent connected")
    tap(tags, product_tag(SHOES, "type2", uid=bytes.fromhex("04000000000001")))
    tap(tags, product_tag(SOCKS, "type4", uid=bytes.fromhex("04000000000002")))
    wait_until(lambda: agent.basket() == {SHOES: 1, SOCKS: 1}, 10, "guest basket")
    tap(tags, loyalty_card())
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_PREVIEW, 10, "merge preview")
    # The online cart's snapshot arrives after the tap; the preview is refreshed to include it.
    wait_until(
        lambda: (
            {ln.sku: ln.result_qty for ln in session_of(agent).preview.lines} == {SHOES: 1, SOCKS: 1, ONLINE_HAT: 1}
        ),
        10,
        "preview with the online cart",
    )


def test_a_guest_basket_joins_the_profile_cart_only_after_the_shopper_confirms(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, tags: TagEmulator
) -> None:
    agent = agent_factory(nfc_config(tmp_path, broker.port, tags))
    guest_taps_two_products_then_a_loyalty_card(tags, agent, central)
    time.sleep(0.5)
    assert central.cart(PROFILE_CART) == {ONLINE_HAT: 1}, "nothing joins before the shopper confirms"

    send_ui_command(broker, agent, "confirm_merge", session_of(agent).preview.preview_id)

    expected = {SHOES: 1, SOCKS: 1, ONLINE_HAT: 1}
    wait_until(lambda: central.cart(PROFILE_CART) == expected, 15, "profile cart merged at the platform")
    wait_until(lambda: agent.outbox_total() == 0, 15, "every op confirmed")
    assert session_of(agent).state is SessionState.MERGED
    assert agent.basket() == {}, "the guest basket was emptied into the profile cart"
    # New taps now go to the profile cart.
    tap(tags, product_tag(SHOES, "type2", uid=bytes.fromhex("04000000000003")))
    wait_until(lambda: central.cart(PROFILE_CART) == {**expected, SHOES: 2}, 15, "scan after merge")


def test_a_second_tap_of_the_same_card_confirms_and_a_decline_keeps_the_basket_separate(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, tags: TagEmulator
) -> None:
    agent = agent_factory(nfc_config(tmp_path, broker.port, tags))
    guest_taps_two_products_then_a_loyalty_card(tags, agent, central)
    send_ui_command(broker, agent, "decline_merge", None)
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_DECLINED, 10, "declined")
    time.sleep(0.5)
    assert central.cart(PROFILE_CART) == {ONLINE_HAT: 1}
    wait_until(lambda: central.cart(agent.cart_id) == {SHOES: 1, SOCKS: 1}, 10, "guest basket synced on its own")
    # A confirm tap when there is no preview is refused with a reason, and changes nothing.
    time.sleep(0.6)
    tap(tags, loyalty_card())
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_DECLINED, 5, "still declined")
    assert central.cart(PROFILE_CART) == {ONLINE_HAT: 1}


def test_a_payment_card_is_never_read_and_its_number_reaches_no_disk_log_or_topic(
    tmp_path: Path,
    broker: MosquittoBroker,
    central: CentralPlatform,
    agent_factory: AgentFactory,
    tags: TagEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[bytes] = []
    spy = paho.Client(CallbackAPIVersion.VERSION2, client_id="spy")
    spy.on_message = lambda c, u, m: seen.append(m.topic.encode() + b" " + m.payload)
    spy.connect(broker.host, broker.port)
    spy.subscribe("#")
    spy.loop_start()
    try:
        agent = agent_factory(nfc_config(tmp_path, broker.port, tags))
        wait_until(lambda: agent.connected, 10, "agent connected")
        tap(tags, payment_card())
        tap(tags, product_tag(SHOES, "type4", uid=bytes.fromhex("04000000000009")))
        wait_until(lambda: central.cart(agent.cart_id) == {SHOES: 1}, 15, "the next tap still works")
        assert agent.agent is not None
        assert agent.agent.status.rejected["nfc:not_an_ndef_tag"] == 1
    finally:
        spy.loop_stop()
        spy.disconnect()
    payment_apdus = [a for a in tags.apdus_heard if b"2PAY" in a or bytes.fromhex("A0000000031010") in a]
    assert payment_apdus == [], "the agent asked the card for a payment application"
    pan_digits, pan_bcd = TEST_PAN.encode(), bytes.fromhex(TEST_PAN)
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("kiosk-01.db*"))
    for where, blob in (("sqlite", db_bytes), ("mqtt", b"\n".join(seen)), ("logs", caplog.text.encode())):
        assert pan_digits not in blob and pan_bcd not in blob, f"card number found in {where}"
    assert seen, "the spy saw the agent's traffic (the MQTT check can fail)"


def test_a_tag_pulled_away_mid_read_is_counted_and_the_next_tap_works(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, tags: TagEmulator
) -> None:
    agent = agent_factory(nfc_config(tmp_path, broker.port, tags))
    wait_until(lambda: agent.connected, 10, "agent connected")
    pulled = product_tag(SOCKS, "type2", uid=bytes.fromhex("04000000000011"))
    tags.tap(Card(pulled.kind, pulled.records, pulled.uid, vanish_after_commands=3))
    tags.wait_idle(30)
    tap(tags, product_tag(SHOES, "type2", uid=bytes.fromhex("04000000000012")))
    wait_until(lambda: central.cart(agent.cart_id) == {SHOES: 1}, 15, "the next tap")
    assert agent.agent is not None
    assert SOCKS not in agent.basket(), "half a read never becomes a scan"
    assert agent.agent.status.reader_health["nfc"] == "ok"


def test_a_reader_that_is_missing_then_plugged_in_is_reported_degraded_then_reads(tags: TagEmulator) -> None:
    events: list[ReaderEvent] = []
    attempts = {"n": 0}

    def flaky_open(path: str) -> Any:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            raise OSError(19, "No such device")  # what nfcpy raises for an unplugged reader
        return open_frontend(path)

    reader = NfcReader(tags.path, events.append, tag_types=["type2"], open=flaky_open, backoff_base_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=reader.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: any(isinstance(e, ReaderHealth) and e.state == "ok" for e in events), 10, "reader open")
        tap(tags, product_tag(SHOES, "type2"))
        wait_until(lambda: any(isinstance(e, ProductScanned) for e in events), 10, "a read after the replug")
    finally:
        stop.set()
        thread.join(10)
    states = [e.state for e in events if isinstance(e, ReaderHealth)]
    assert states[:3] == ["degraded", "degraded", "ok"] and states[-1] == "stopped"
    assert not [e for e in events if isinstance(e, InputRejected)]


def test_session_state_on_mqtt_carries_no_pseudonym_or_credential(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, tags: TagEmulator
) -> None:
    agent = agent_factory(nfc_config(tmp_path, broker.port, tags))
    guest_taps_two_products_then_a_loyalty_card(tags, agent, central)
    assert agent.agent is not None
    state = agent.agent.basket.sessions.state_model().model_dump_json()
    assert PSEUDONYM not in state and "EA1" not in state
    assert json.loads(state)["identified"] is True


def test_an_erasure_request_ends_the_session_and_leaves_no_trace_of_the_shopper_on_the_device(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, tags: TagEmulator
) -> None:
    agent = agent_factory(nfc_config(tmp_path, broker.port, tags))
    guest_taps_two_products_then_a_loyalty_card(tags, agent, central)
    send_ui_command(broker, agent, "confirm_merge", session_of(agent).preview.preview_id)
    wait_until(
        lambda: agent.outbox_total() == 0 and PROFILE_CART in agent.call(agent.agent.store.cart_ids), 15, "merged"
    )

    central.erase_shopper(PROFILE_CART, "acme", "s042", request_id="gdpr-0001")

    wait_until(lambda: len(central.stats.erasures_done) == 1, 15, "the device answered the erasure request")
    done = central.stats.erasures_done[0]
    assert done.request_id == "gdpr-0001" and done.carts == [PROFILE_CART] and done.session_ended
    assert session_of(agent).state is SessionState.ANONYMOUS and session_of(agent).identity is None
    assert PROFILE_CART.encode() not in _live_rows(tmp_path / "kiosk-01.db")
    agent.stop()  # the WAL is checkpointed into the main file on close
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("kiosk-01.db*"))
    assert PROFILE_CART.encode() not in on_disk, "deleted rows are zeroed (secure_delete), not left in free space"
    assert central.cart(PROFILE_CART) == {}


def _live_rows(db_path: Path) -> bytes:
    """Every value in every table, as bytes: deleted rows may linger in free pages, live ones may not."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return repr([conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables]).encode()
    finally:
        conn.close()


def test_a_broker_client_that_read_the_preview_cannot_confirm_the_merge(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory, tags: TagEmulator
) -> None:
    agent = agent_factory(nfc_config(tmp_path, broker.port, tags))
    guest_taps_two_products_then_a_loyalty_card(tags, agent, central)
    assert agent.agent is not None
    retained = json.loads(agent.call(lambda: agent.agent.basket.sessions.state_model().model_dump_json()))  # type: ignore[union-attr]
    assert "confirm_code" not in json.dumps(retained), "the code never rides on MQTT"
    forged = SessionCommand(
        action="confirm_merge",
        session_id=retained["session_id"],
        preview_id=retained["preview_id"],
        confirm_code="0" * 32,
    )
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="rogue-ui")
    client.connect(broker.host, broker.port)
    client.loop_start()
    for command in (forged, forged.model_copy(update={"confirm_code": None})):
        event = SessionCommandEvent(source="urn:rogue", id="r", time=utcnow(), data=command)
        client.publish(agent.agent.topics.ui, event.model_dump_json().encode(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    wait_until(lambda: agent.agent.basket.sessions.rejected.get("confirm_code_invalid", 0) == 2, 10, "both refused")  # type: ignore[union-attr]
    assert session_of(agent).state is SessionState.MERGE_PREVIEW
    assert central.cart(PROFILE_CART) == {ONLINE_HAT: 1}, "nothing joined"
    send_ui_command(broker, agent, "confirm_merge", session_of(agent).preview.preview_id)  # the device's own screen
    wait_until(lambda: central.cart(PROFILE_CART) == {SHOES: 1, SOCKS: 1, ONLINE_HAT: 1}, 15, "merged")
