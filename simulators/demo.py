"""`make demo`: a kiosk agent on simulated hardware, a private Mosquitto and the central simulator.

The scene, step by step, with the store's and the platform's view of each cart printed as it goes:
0. The shopper walks up with the retailer's app (opted in to proximity): its beacon, seen through bleak's real
   BlueZ backend against a mock BlueZ on a private D-Bus, makes the screen invite them to identify.
1. A guest scans two products at the kiosk camera (a generated video, read through OpenCV and zxing).
2. The guest taps a loyalty card on the NFC reader (an emulated tag on nfcpy's udp driver).
3. The kiosk screen shows the merge preview: the guest basket plus the shopper's online cart.
4. The shopper confirms on the screen (the demo plays the kiosk UI over MQTT); the carts join.
5. The shopper adds an item on the website; it arrives in the store's copy of the cart.
Exits non-zero if any step does not happen in time or the store and the platform disagree at the end.
While it plays, the kiosk's own screen is served on a loopback port and its URL printed (every role's scene does
the same). ``--screens`` instead drives every role's journey in headless Chromium, a PNG per step under
``var/demo/screens/`` (simulators/demo_screens.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from edge_agent.config import load_config
from edge_agent.contract.base import utcnow
from edge_agent.contract.device import SessionCommand, SessionCommandEvent, SessionState, SessionStateEvent
from edge_agent.contract.topics import Topics
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.identity.tokens import Claims, confirm_code
from edge_agent.store import readonly
from simulators import demo_roles
from simulators.beacons import FakeBlueZ, PrivateSystemBus, app_token
from simulators.broker import MosquittoBroker
from simulators.camera import DEMO_CODES, demo_script, write_scan_video
from simulators.central import CentralPlatform
from simulators.demo_screens import announce_screen, free_port, run_screen_journeys, screen_url, with_screen
from simulators.nfc_tags import TagEmulator, uri_card

REPO = Path(__file__).resolve().parents[1]
DEVICE, TENANT, STORE = "kiosk-01", "acme", "s042"
GUEST_CART: Final = "kiosk-01-demo"
PROFILE_CART: Final = "profile-ada"
PSEUDONYM: Final = "shopper-ada-7f3c"
DEMO_KEY: Final = bytes(range(32))
"""The platform's claim key for the demo only (HMAC, never on a device): each device gets the claim key derived
from it for its own id (simulators/demo_roles.write_device_keys)."""
SCANNED: Final = (normalise_gtin(DEMO_CODES[0]), normalise_gtin(DEMO_CODES[1]))
ALREADY_ONLINE: Final = normalise_gtin(DEMO_CODES[2])
"""In the shopper's online cart before the visit."""
ADDED_ONLINE_LATER: Final = normalise_gtin(DEMO_CODES[3])
"""Added on the website after the carts joined."""
STEP_TIMEOUT_S: Final = 30.0
APP_UUID: Final = "5a4bcfce-174e-4bac-a814-092e77f6b7e5"
"""The app's proximity UUID, as in device_config/kiosk.toml."""
PHONE_ADDRESS: Final = "E2:55:66:77:88:04"
"""The simulated phone's (random) Bluetooth address: seen by BlueZ, never kept by the agent."""


def _cart_in_store(db: Path, cart_id: str) -> dict[str, int]:
    if not db.exists():
        return {}
    try:
        return readonly.basket_quantities(db, cart_id)
    except sqlite3.Error:  # the agent is still creating its schema
        return {}


def _unconfirmed(db: Path) -> int:
    try:
        return readonly.outbox_stats(db).total if db.exists() else 0
    except sqlite3.Error:
        return 0


def _table(title: str, store: dict[str, int], central: dict[str, int]) -> list[str]:
    lines = [f"   {title}", "     GTIN-14           store   platform"]
    for sku in sorted(set(store) | set(central)):
        mark = "" if store.get(sku) == central.get(sku) else "   <- syncing"
        lines.append(f"     {sku}   {store.get(sku, 0):>5}   {central.get(sku, 0):>8}{mark}")
    if not store and not central:
        lines.append("     (empty)")
    return lines


@dataclass
class KioskScreen:
    """The kiosk's UI, played by the demo: it shows the retained session state and sends the shopper's taps."""

    broker: MosquittoBroker
    topics: Topics
    state: SessionState | None = None
    screen_key_path: Path | None = None
    """The device's screen key file: the screen runs on the kiosk, so it can prove a confirm is local."""
    _client: paho.Client = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="demo-kiosk-screen")
        self._client.on_message = self._on_message

    def open(self) -> KioskScreen:
        self._client.connect(self.broker.host, self.broker.port)
        self._client.subscribe(self.topics.session, qos=1)
        self._client.loop_start()
        return self

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _c: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
        try:
            event = SessionStateEvent.model_validate_json(message.payload)
        except ValidationError:
            return
        with self._lock:
            self.state = event.data

    def current(self) -> SessionState | None:
        with self._lock:
            return self.state

    def confirm(self, state: SessionState) -> None:
        assert self.screen_key_path is not None and state.preview_id is not None
        code = confirm_code(bytes.fromhex(self.screen_key_path.read_text().strip()), state.preview_id)
        command = SessionCommand(
            action="confirm_merge", session_id=state.session_id, preview_id=state.preview_id, confirm_code=code
        )
        event = SessionCommandEvent(source=f"urn:{TENANT}:kiosk-ui", id="demo-confirm", time=utcnow(), data=command)
        self._client.publish(self.topics.ui, event.model_dump_json().encode(), qos=1).wait_for_publish(5)


def _config_for(
    workdir: Path, port: int, video: Path, nfc_path: str, keys: tuple[Path, Path], screen_port: int
) -> Path:
    """device_config/kiosk.toml with the private broker, the demo's video, NFC emulator, key and state paths."""
    text = (REPO / "device_config" / "kiosk.toml").read_text()
    text = re.sub(
        r'endpoints = \[\{ host = "127\.0\.0\.1", port = \d+ \}\]',
        f'endpoints = [{{ host = "127.0.0.1", port = {port} }}]',
        text,
    )
    text = text.replace('source = "var/demo/kiosk-scans.avi"', f'source = "{video}"')
    text = text.replace('path = "kiosk-01.db"', f'path = "{workdir / "kiosk-01.db"}"')
    text = text.replace('path = "usb"', f'path = "{nfc_path}"')
    text = demo_roles.point_at_keys(text, *keys)
    text = text.replace("keepalive_s = 30", "keepalive_s = 5\nbackoff_base_s = 0.2\nbackoff_cap_s = 5")
    text = text.replace("debounce_s = 2.0", "debounce_s = 1.0")
    out = workdir / "kiosk.toml"
    out.write_text(with_screen(text + f'\n[basket]\ncart_id = "{GUEST_CART}"\n', screen_port))
    return out


def loyalty_card_uri(central: CentralPlatform) -> str:
    """What is printed into the loyalty card's NDEF: the retailer's page, with the credential the platform issued
    (signed with its Ed25519 key; it records the credential's fingerprint for the shopper's profile cart)."""
    claims = Claims(
        kind="card",
        sub=PSEUDONYM,
        cart=PROFILE_CART,
        consent=("profile", "cart_sync"),
        iat=int(time.time()),
        nonce="card-ada-0001",
    )
    token = central.issue_credential(demo_roles.DEMO_SEED, claims)
    return f"https://loyalty.example.com/ea2/{token.removeprefix('EA2.')}"


@dataclass
class Scene:
    workdir: Path
    central: CentralPlatform
    screen: KioskScreen
    agent: subprocess.Popen[bytes]
    quiet: bool
    started: float = field(default_factory=time.monotonic)

    @property
    def db(self) -> Path:
        return self.workdir / "kiosk-01.db"

    def show(self, note: str = "") -> None:
        if self.quiet:
            return
        state = self.screen.current()
        session = f"session={state.state}" if state else "session=(none yet)"
        if state is not None and state.app_nearby:
            session += " (app nearby: 'tap your card or show your app code')"
        lines = [
            f"\n t={time.monotonic() - self.started:5.1f}s  {session}  unconfirmed ops={_unconfirmed(self.db)}  {note}"
        ]
        lines += _table(
            f"guest basket {GUEST_CART}", _cart_in_store(self.db, GUEST_CART), self.central.cart(GUEST_CART)
        )
        lines += _table(
            f"shopper's cart {PROFILE_CART}", _cart_in_store(self.db, PROFILE_CART), self.central.cart(PROFILE_CART)
        )
        print("\n".join(lines), flush=True)

    def step(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def wait(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not done():
            if self.agent.poll() is not None:
                raise SceneFailed(f"the agent exited with {self.agent.returncode}")
            if time.monotonic() > deadline:
                self.show("(timed out)")
                raise SceneFailed(f"timed out after {STEP_TIMEOUT_S:g}s waiting for {what}")
            self.show()
            time.sleep(1.0)
        self.show(f"<- {what}")


class SceneFailed(RuntimeError):
    pass


def play(scene: Scene, tags: TagEmulator, bluez: FakeBlueZ) -> None:
    central, screen, db = scene.central, scene.screen, scene.db

    scene.step("0. The shopper walks up to the kiosk; their app (opted in) advertises a rotating token")
    walking = threading.Event()
    threading.Thread(target=_phone_nearby, args=(bluez, walking), daemon=True).start()
    try:
        scene.wait(
            "the screen invites the shopper to identify (nobody is identified by it)",
            lambda: (state := screen.current()) is not None and state.app_nearby and not state.identified,
        )
    finally:
        walking.set()

    def in_sync(cart: str) -> bool:
        return _cart_in_store(db, cart) == central.cart(cart)

    scene.step(f"1. A guest scans two products at the camera; the shopper's online cart already holds {ALREADY_ONLINE}")
    guest = {sku: 1 for sku in SCANNED}
    scene.wait(
        "the guest basket is saved and at the platform",
        lambda: central.cart(GUEST_CART) == guest and in_sync(GUEST_CART),
    )

    scene.step("2. The guest taps a loyalty card on the NFC reader")
    tags.tap(uri_card(loyalty_card_uri(central), uid=bytes.fromhex("04AD4A00000001")))

    def preview_shown() -> bool:
        state = screen.current()
        return state is not None and state.state == "merge_preview" and len(state.lines) == 3

    scene.wait("the kiosk screen shows the merge preview", preview_shown)
    state = screen.current()
    assert state is not None
    print(f"   preview {state.preview_id} under policy '{state.policy}' (nothing has joined yet):")
    for line in state.lines:
        print(f"     {line.sku}   in store {line.store_qty} + online {line.online_qty} -> {line.result_qty}")

    scene.step("3. The shopper confirms on the screen")
    screen.confirm(state)
    joined = {**guest, ALREADY_ONLINE: 1}
    scene.wait(
        "the carts joined, and the platform confirmed every op",
        lambda: central.cart(PROFILE_CART) == joined and in_sync(PROFILE_CART) and _unconfirmed(db) == 0,
    )

    scene.step(f"4. At home, the shopper adds {ADDED_ONLINE_LATER} on the website")
    central.add_online(PROFILE_CART, ADDED_ONLINE_LATER, 1)
    scene.wait(
        "the online edit arrived in the store",
        lambda: _cart_in_store(db, PROFILE_CART) == {**joined, ADDED_ONLINE_LATER: 1} and in_sync(PROFILE_CART),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=REPO / "var" / "demo")
    parser.add_argument("--quiet", action="store_true", help="print the steps, not the cart tables")
    parser.add_argument(
        "--role",
        choices=["kiosk", "shelf", "associate-handheld", "fitting-room-mirror"],
        default="kiosk",
        help="which device role's scene to play (device_config/<role>.toml)",
    )
    parser.add_argument(
        "--screens",
        action="store_true",
        help="instead of a scene: each role's journey in headless Chromium, a PNG per step under WORKDIR/screens",
    )
    args, pytest_args = parser.parse_known_args(argv)
    if args.screens:
        return run_screen_journeys(args.workdir / "screens", pytest_args)
    if pytest_args:
        parser.error(f"unrecognized arguments: {' '.join(pytest_args)} (only --screens passes arguments on)")

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    if args.role != "kiosk":
        return _role_scene(args.role, args.workdir, args.quiet)
    video = write_scan_video(args.workdir / "kiosk-scans.avi", demo_script(DEMO_CODES[:2], hold=12, gap=20), seed=11)
    keys = demo_roles.write_device_keys(args.workdir, DEVICE, DEMO_KEY)
    tags = TagEmulator.on_free_port().start()

    # A private system bus (DBUS_SYSTEM_BUS_ADDRESS is set here and inherited by the agent) with a mock BlueZ.
    with PrivateSystemBus(), FakeBlueZ() as bluez, MosquittoBroker(args.workdir / "broker") as broker:
        central = CentralPlatform(args.workdir / "central.db", broker.host, broker.port).start()
        central.trust_identity_keys(DEMO_KEY)  # the platform's claim key: the kiosk's claim links verify under it
        central.open_profile_cart(PROFILE_CART, TENANT, STORE)
        central.add_online(PROFILE_CART, ALREADY_ONLINE, 1)
        screen = KioskScreen(broker, Topics(TENANT, STORE, DEVICE)).open()
        screen_port = free_port()
        config = _config_for(args.workdir, broker.port, video, tags.path, keys, screen_port)
        screen.screen_key_path = load_config(config).screen_key_path()
        log = (args.workdir / "agent.log").open("wb")
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        print(f"demo: broker 127.0.0.1:{broker.port}, NFC {tags.path}, agent pid {agent.pid}")
        print(f"demo: agent log {args.workdir / 'agent.log'}")
        announce_screen("kiosk", screen_url(screen_port), agent)
        scene = Scene(args.workdir, central, screen, agent, args.quiet)
        try:
            play(scene, tags, bluez)
        except SceneFailed as exc:
            print(f"\ndemo: FAILED -- {exc}; see {args.workdir / 'agent.log'}")
            return 1
        finally:
            agent.terminate()
            agent.wait(15)
            log.close()
            screen.close()
            central.stop()
            tags.stop()
    print(
        "\ndemo: OK -- the guest's scans joined the shopper's online cart after the confirmation, "
        "and the online edit arrived in store."
    )
    return 0


def _role_scene(role: str, workdir: Path, quiet: bool) -> int:
    scenes: dict[str, Callable[[], None]] = {
        "shelf": lambda: demo_roles.shelf_scene(workdir, quiet, DEMO_KEY),
        "associate-handheld": lambda: demo_roles.handheld_scene(workdir, quiet, DEMO_KEY, loyalty_card_uri),
        "fitting-room-mirror": lambda: demo_roles.mirror_scene(workdir, quiet, DEMO_KEY),
    }
    try:
        scenes[role]()
    except demo_roles.StepFailed as exc:
        print(f"\ndemo: FAILED -- {exc}; see {workdir / 'agent.log'}")
        return 1
    print(f"\ndemo: OK -- the {role} scene played end to end.")
    return 0


def _phone_nearby(bluez: FakeBlueZ, done: threading.Event) -> None:
    """The phone beacons twice a second, a metre from the kiosk, until the step is over."""
    while not done.is_set():
        bluez.advertise(PHONE_ADDRESS, -50, mfr=app_token(APP_UUID, 0x5EC2E7A1))
        done.wait(0.5)


if __name__ == "__main__":
    raise SystemExit(main())
