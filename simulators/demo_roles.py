"""`make demo DEMO_ARGS="--role ROLE"`: one short scene per device role, on simulated hardware.

Each scene starts a private Mosquitto, the central simulator, a mock BlueZ on a private D-Bus and emulated NFC
tags, runs the agent on the role's file in device_config/ (broker, paths and readers pointed at the simulators),
plays the role's story step by step, and fails if a step does not happen in time.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel

from edge_agent.contract.base import utcnow
from edge_agent.contract.topics import Topics
from edge_agent.contract.workflow import (
    AssistReply,
    AssistReplyEvent,
    MirrorCommand,
    MirrorCommandEvent,
    ShelfCommand,
    ShelfCommandEvent,
    ToteCommand,
    ToteCommandEvent,
)
from edge_agent.identity import ed25519
from edge_agent.identity.claim_token import claim_key
from simulators.beacons import FakeBlueZ, PrivateSystemBus
from simulators.broker import MosquittoBroker
from simulators.central import CentralPlatform
from simulators.demo_screens import announce_screen, free_port, screen_url, with_screen
from simulators.nfc_tags import TagEmulator, product_tag, uri_card

REPO = Path(__file__).resolve().parents[1]
TENANT, STORE = "acme", "s042"
STEP_TIMEOUT_S: Final = 30.0
NOW = datetime.now(UTC).replace(microsecond=0)
OXFORD = {"name": "Oxford shirt", "style": "oxford-blue", "colour": "blue", "currency": "EUR", "price_minor": 3999}
JEANS = {"name": "Slim jeans", "style": "slim-indigo", "colour": "indigo", "currency": "EUR", "price_minor": 6999}
SHIRT_M, SHIRT_L, JEANS_30, JEANS_32 = "05012345678900", "05901234123457", "08710398502131", "07612345678900"


class StepFailed(RuntimeError):
    pass


@dataclass
class Watcher:
    """The device's screen and the platform's event consumer, played by the demo over MQTT."""

    broker: MosquittoBroker
    topics: Topics
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: paho.Client = field(init=False)

    def __post_init__(self) -> None:
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-watch-{self.topics.device}")
        self._client.on_message = self._on_message
        self._client.connect(self.broker.host, self.broker.port)
        self._client.subscribe(
            [(self.topics.display, 1), (self.topics.events, 1), (f"{self.topics.prefix}/assist/#", 1)]
        )
        self._client.loop_start()

    def _on_message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        if msg.payload:
            with self._lock:
                self.messages.append((msg.topic, json.loads(msg.payload)))

    def display(self) -> dict[str, Any] | None:
        with self._lock:
            shown = [m for t, m in self.messages if t == self.topics.display]
        return shown[-1]["data"] if shown else None

    def event_names(self) -> list[str]:
        with self._lock:
            return [m["data"]["name"] for t, m in self.messages if t == self.topics.events]

    def event(self, name: str) -> dict[str, Any]:
        with self._lock:
            return next(m["data"] for t, m in self.messages if t == self.topics.events and m["data"]["name"] == name)

    def send_ui(self, event: BaseModel, topic: str | None = None) -> None:
        self._client.publish(topic or self.topics.ui, event.model_dump_json().encode(), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class Stage:
    workdir: Path
    central: CentralPlatform
    watcher: Watcher
    tags: TagEmulator
    agent: subprocess.Popen[bytes]
    quiet: bool

    def step(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def wait(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not done():
            if self.agent.poll() is not None:
                raise StepFailed(f"the agent exited with {self.agent.returncode}")
            if time.monotonic() > deadline:
                raise StepFailed(f"timed out after {STEP_TIMEOUT_S:g}s waiting for {what}")
            time.sleep(0.2)
        print(f"   <- {what}", flush=True)

    def show(self, label: str, value: object) -> None:
        if not self.quiet:
            print(f"   {label}: {json.dumps(value, default=str)[:400]}", flush=True)

    def tap(self, card: Any) -> None:
        self.tags.tap(card)
        if not self.tags.wait_idle(STEP_TIMEOUT_S):
            raise StepFailed("the emulated tag was never read")


DEMO_SEED: Final = bytes(range(32, 64))
"""The platform's Ed25519 private key for the demo only: it signs the shopper credentials; devices get its public
key. A platform keeps its own off every device."""


def write_device_keys(workdir: Path, device: str, claim_master: bytes) -> tuple[Path, Path]:
    """What the platform provisions on a device: its public identity key (readable) and the device's own claim key
    (derived from the platform's claim key, secret)."""
    public = workdir / "identity.pub"
    public.write_text(ed25519.public_key(DEMO_SEED).hex() + "\n")
    public.chmod(0o644)
    claim = workdir / "claim.key"
    claim.write_text(claim_key(claim_master, device).hex() + "\n")
    claim.chmod(0o600)  # as on a device: `run` refuses a key file everyone can read
    return public, claim


def point_at_keys(text: str, public: Path, claim: Path) -> str:
    """A shipped device_config with its key paths (/etc/edge-agent on a device) pointed at the key files the demo
    wrote; a shelf label identifies nobody and names none."""
    text = text.replace('public_key_files = ["/etc/edge-agent/identity.pub"]', f'public_key_files = ["{public}"]')
    return text.replace('key_file = "/etc/edge-agent/claim.key"', f'key_file = "{claim}"')


def _role_config(
    role: str, workdir: Path, port: int, nfc_path: str, keys: tuple[Path, Path], extra: str, screen_port: int
) -> Path:
    """The role's device_config file, pointed at the simulators; the camera is left out (taps drive the scenes)."""
    text = (REPO / "device_config" / f"{role}.toml").read_text()
    endpoint = f'endpoints = [{{ host = "127.0.0.1", port = {port} }}]'
    text = re.sub(r'endpoints = \[\{ host = "127\.0\.0\.1", port = \d+ \}\]', endpoint, text)
    text = re.sub(r'(?m)^path = "([a-z0-9-]+\.db)"', lambda m: f'path = "{workdir / m.group(1)}"', text)
    text = text.replace('path = "usb"', f'path = "{nfc_path}"')
    text = point_at_keys(text, *keys)
    text = text.replace("keepalive_s = 30", "keepalive_s = 5\nbackoff_base_s = 0.2\nbackoff_cap_s = 5")
    text = re.sub(r"(?ms)^\[readers\.barcode\].*?(?=^\[)", "", text)
    out = workdir / f"{role}.toml"
    out.write_text(with_screen(text + extra, screen_port))
    return out


@contextmanager
def stage(role: str, device: str, workdir: Path, quiet: bool, key: bytes, extra: str = "") -> Iterator[Stage]:
    keys = write_device_keys(workdir, device, key)
    tags = TagEmulator.on_free_port().start()
    with PrivateSystemBus(), FakeBlueZ(), MosquittoBroker(workdir / "broker") as broker:
        central = CentralPlatform(workdir / "central.db", broker.host, broker.port).start()
        watcher = Watcher(broker, Topics(TENANT, STORE, device))
        screen_port = free_port()
        central.trust_identity_keys(key)  # the platform's claim key: claim links verify under it
        config = _role_config(role, workdir, broker.port, tags.path, keys, extra, screen_port)
        log = (workdir / "agent.log").open("wb")
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        print(f"demo: role {role}, broker 127.0.0.1:{broker.port}, NFC {tags.path}, agent log {workdir / 'agent.log'}")
        announce_screen(role, screen_url(screen_port), agent)
        try:
            yield Stage(workdir, central, watcher, tags, agent, quiet)
        finally:
            agent.terminate()
            agent.wait(15)
            log.close()
            watcher.close()
            central.stop()
            tags.stop()


def _ready(st: Stage) -> None:
    st.wait("the agent is online", lambda: _online(st))


def _online(st: Stage) -> bool:
    """What `edge-agent status` reads: the link state the agent writes into its database."""
    db = st.workdir / f"{st.watcher.topics.device}.db"
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'link_state'").fetchone()
    except sqlite3.Error:
        return False
    return bool(row) and row[0] == "online"


# --- scenes ------------------------------------------------------------------------------------------------------
def shelf_scene(workdir: Path, quiet: bool, key: bytes) -> None:
    with stage("shelf", "shelf-07", workdir, quiet, key) as st:
        _ready(st)
        st.step("1. The platform publishes the store's catalog: prices and stock, each with its as-of time")
        st.central.publish_catalog(TENANT, STORE, [
            {**OXFORD, "gtin14": SHIRT_M, "size": "M", "stock": 6, "price_as_of": NOW, "stock_as_of": NOW},
            {**OXFORD, "gtin14": SHIRT_L, "size": "L", "stock": 2, "price_as_of": NOW, "stock_as_of": NOW},
        ])  # fmt: skip
        time.sleep(0.5)
        st.step("2. A shopper taps the shelf-edge NFC tag of the Oxford shirt")
        st.tap(product_tag(SHIRT_M, "type2", uid=bytes.fromhex("04000000000701")))
        st.wait(
            "the shelf shows price, stock and the other sizes",
            lambda: (st.watcher.display() or {}).get("found") is True,
        )
        st.show("display", st.watcher.display())
        st.step("3. An associate reports that the label says 44.99")
        command = ShelfCommand(action="report_price", gtin14=SHIRT_M, shelf_price_minor=4499, associate="emp-042")
        st.watcher.send_ui(ShelfCommandEvent(source="urn:acme:handheld", id="p1", time=utcnow(), data=command))
        st.wait("price.mismatch reaches the platform", lambda: "price.mismatch" in st.watcher.event_names())
        st.show("event", st.watcher.event("price.mismatch"))
        st.step("4. The platform's stock feed: the M size is down to one")
        st.central.change_item(TENANT, STORE, SHIRT_M, stock=1, stock_as_of=datetime.now(UTC))
        st.wait("stock.low reaches the platform", lambda: "stock.low" in st.watcher.event_names())
        st.show("events", st.watcher.event_names())


def handheld_scene(workdir: Path, quiet: bool, key: bytes, loyalty_uri: Callable[[CentralPlatform], str]) -> None:
    with stage("associate-handheld", "handheld-03", workdir, quiet, key) as st:
        _ready(st)

        def tote(action: str, **fields: Any) -> None:
            data = ToteCommand(action=action, associate="emp-042", **fields)  # type: ignore[arg-type]
            st.watcher.send_ui(
                ToteCommandEvent(source="urn:acme:handheld-ui", id=f"t-{action}", time=utcnow(), data=data)
            )

        def shown(key: str) -> Any:
            return (st.watcher.display() or {}).get(key)

        st.step("1. Associate emp-042 opens a digital tote for a shopper on the floor")
        tote("open")
        st.wait("a draft tote", lambda: shown("state") == "draft")
        tote_id = shown("tote_id")
        st.step("2. Two garments are tapped into the tote")
        st.tap(product_tag(SHIRT_M, "type2", uid=bytes.fromhex("04000000000301")))
        st.tap(product_tag(JEANS_30, "type2", uid=bytes.fromhex("04000000000302")))
        st.wait("two lines", lambda: len(shown("lines") or []) == 2)
        st.step("3. The shopper taps their loyalty card: the tote is theirs")
        st.tap(uri_card(loyalty_uri(st.central), uid=bytes.fromhex("04AD4A00000301")))
        st.wait("the shopper attached", lambda: shown("customer_attached") is True)
        st.step("4. The shopper goes to try something on: park, then resume and submit")
        tote("park")
        st.wait("parked", lambda: tote_id in (shown("parked") or []))
        tote("resume", tote_id=tote_id)
        st.wait("resumed", lambda: shown("state") == "customer_attached")
        tote("submit")
        st.wait(
            "the platform holds the submitted tote with the associate's attribution",
            lambda: (
                st.central.cart_attrs(tote_id).get("tote.state") == "submitted" and len(st.central.cart(tote_id)) == 2
            ),
        )
        st.show("platform tote", {"lines": st.central.cart(tote_id), "attributes": st.central.cart_attrs(tote_id)})


def mirror_scene(workdir: Path, quiet: bool, key: bytes) -> None:
    extra = "\n[assist]\nack_s = 2.0\nmax_level = 2\n"
    with stage("fitting-room-mirror", "mirror-02", workdir, quiet, key, extra) as st:
        _ready(st)
        st.central.publish_catalog(TENANT, STORE, [
            {**JEANS, "gtin14": JEANS_30, "size": "30", "stock": 2, "price_as_of": NOW, "stock_as_of": NOW},
            {**JEANS, "gtin14": JEANS_32, "size": "32", "stock": 4, "price_as_of": NOW, "stock_as_of": NOW},
        ])  # fmt: skip
        time.sleep(0.5)

        def shown(key: str) -> Any:
            return (st.watcher.display() or {}).get(key)

        st.step("1. The shopper taps the hang tag of the jeans they brought in")
        st.tap(product_tag(JEANS_30, "type2", uid=bytes.fromhex("04000000000201")))
        st.wait("the mirror lists them with the sizes in stock here", lambda: len(shown("garments") or []) == 1)
        st.show("garments", shown("garments"))
        st.step("2. Too small: the shopper asks for size 32")
        data = MirrorCommand(action="request_assist", type="size", target_gtin=JEANS_32)
        st.watcher.send_ui(MirrorCommandEvent(source="urn:acme:mirror-ui", id="m1", time=utcnow(), data=data))
        st.wait(
            "nobody answers for a moment: the request escalates",
            lambda: any(r["level"] >= 1 for r in shown("requests") or []),
        )
        request_id = shown("requests")[0]["request_id"]
        st.step("3. Associate emp-042 acknowledges on their handheld, then brings the jeans")
        for action in ("acknowledge", "delivered"):
            reply = AssistReply(request_id=request_id, action=action, associate="emp-042")
            event = AssistReplyEvent(source="urn:acme:handheld-04", id=f"r-{action}", time=utcnow(), data=reply)
            st.watcher.send_ui(event, topic=f"{st.watcher.topics.prefix}/dv/mirror-02/assist")
        st.wait(
            "delivered: the request is closed",
            lambda: shown("requests") == [] and "assist.delivered" in st.watcher.event_names(),
        )
        st.step("4. The shopper leaves; the room is vacant and its session purged")
        data = MirrorCommand(action="vacate")
        st.watcher.send_ui(MirrorCommandEvent(source="urn:acme:mirror-ui", id="m2", time=utcnow(), data=data))
        st.wait("vacant", lambda: shown("state") == "vacant" and shown("garments") == [])
        st.show("events", st.watcher.event_names())
