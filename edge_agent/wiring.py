"""Wiring: every file the agent reads (identity keys, the broker password, the screen key), the database, the
link settings and the readers the config asks for, each imported only when configured."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.agent import Agent, AgentEvent, AsyncReaderRunner, ReaderRunner
from edge_agent.config import AgentConfig
from edge_agent.contract.topics import Topics
from edge_agent.fleet.rates import ReaderActivity
from edge_agent.identity.keys import CLAIM_KEY_FILE, HMAC_KEY_FILES, PUBLIC_KEY_FILES, key_allowed, parse_key
from edge_agent.identity.tokens import SCREEN_KEY_BYTES, TokenVerifier
from edge_agent.readers.events import ReaderEvent
from edge_agent.store.db import StorageError
from edge_agent.store.device import DeviceStore
from edge_agent.sync.link import LinkSettings, TlsSettings

if TYPE_CHECKING:
    from edge_agent.fleet.remote_config import Trial

__all__ = ["KeyFileError", "add_fleet", "build_agent", "default_async_readers", "default_readers", "load_screen_key"]


class KeyFileError(ValueError):
    """An identity key or password file that cannot be used; reported like a configuration error (key, file,
    allowed)."""


def identity_verifier(cfg: AgentConfig) -> TokenVerifier | None:
    """Reads the platform's keys (current first): Ed25519 public keys, or legacy HMAC keys; None when the device
    identifies nobody."""
    if cfg.identity is None:
        return None
    if cfg.identity.public_key_files:
        return TokenVerifier(public_keys=_read_keys(PUBLIC_KEY_FILES, cfg.identity.public_key_files))
    return TokenVerifier(_read_keys(HMAC_KEY_FILES, cfg.identity.key_files))


def read_claim_key(cfg: AgentConfig) -> bytes | None:
    """The device's own claim-link key (``[claim] key_file``); None without one."""
    if cfg.claim is None or cfg.claim.key_file is None:
        return None
    return _read_keys(CLAIM_KEY_FILE, [cfg.claim.key_file])[0]


def _read_keys(key: str, paths: list[Path]) -> tuple[bytes, ...]:
    keys: list[bytes] = []
    for path in paths:
        try:
            keys.append(parse_key(key, path.read_text(encoding="ascii")))
        except OSError as exc:
            raise KeyFileError(f"{key}: {path}: cannot be read ({exc.strerror or exc})") from None
        except ValueError:
            raise KeyFileError(f"{key}: {path}: not a key; allowed: {key_allowed(key)}") from None
    return tuple(keys)


def read_password(cfg: AgentConfig) -> str | None:
    """The broker password, from mqtt.password_file (its first line); None without one."""
    path = cfg.mqtt.password_file
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
    except OSError as exc:
        raise KeyFileError(f"mqtt.password_file: {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"mqtt.password_file: {path}: not UTF-8 text; allowed: the password on one line") from None
    if not lines:
        raise KeyFileError(f"mqtt.password_file: {path}: is empty; allowed: the password on one line")
    return lines[0].strip()


def link_settings(cfg: AgentConfig, password: str | None) -> LinkSettings:
    m = cfg.mqtt
    tls = None
    if m.tls is not None:
        tls = TlsSettings(
            str(m.tls.ca_file),
            str(m.tls.cert_file) if m.tls.cert_file else None,
            str(m.tls.key_file) if m.tls.key_file else None,
            m.tls.server_hostname_check,
        )
    return LinkSettings(
        endpoints=[(e.host, e.port) for e in m.endpoints],
        client_id=m.client_id or f"edge-agent-{cfg.device.id}",
        protocol=m.protocol,
        keepalive_s=m.keepalive_s,
        tls=tls,
        username=m.username,
        password=password,
        backoff_base_s=m.backoff_base_s,
        backoff_cap_s=m.backoff_cap_s,
        connect_timeout_s=m.connect_timeout_s,
    )


def build_agent(config: AgentConfig, readers: dict[str, ReaderRunner] | None = None) -> Agent:
    """Reads every file the agent needs and opens the database (I/O lives here, never in constructors)."""
    verifier = identity_verifier(config)  # before the database opens: a bad key file leaves nothing open
    claim_key = read_claim_key(config)
    password = read_password(config)
    store = DeviceStore.open(config.database_path(), config.device.id, max_clock_ahead_s=config.mqtt.max_clock_ahead_s)
    screen_key = load_screen_key(config.screen_key_path())
    topics = Topics(config.device.tenant, config.device.store, config.device.id)
    ble = config.readers.ble if readers is None else None
    activity = ReaderActivity()
    agent = Agent(
        config,
        store,
        topics,
        link_settings(config, password),
        readers if readers is not None else default_readers(config),
        default_async_readers(config, activity) if readers is None else {},
        verifier,
        screen_key=screen_key,
        claim_key=claim_key,
        activity=activity,
    )
    if ble is not None and ble.enabled:
        from edge_agent.presence import PresenceAggregator
        from edge_agent.sync.presence import PresencePublisher

        agent.presence = PresencePublisher(agent.out, topics.presence, PresenceAggregator(ble.analytics))
    if config.screen is not None:
        add_screen(agent, config)
    add_fleet(agent, config)
    from edge_agent.fleet.remote_requests import register_remote_requests

    register_remote_requests(
        agent.requests, config, agent.health, agent.status.reader_health, agent.status.reader_details
    )
    return agent


def add_remote_config(agent: Agent, config: AgentConfig, trial: Trial | None) -> None:
    """``config/set`` (edge_agent/fleet/config_trial.py) when the config allows it, and the trial of this boot's
    config when it is a candidate. Only for `edge-agent run`, which boots again when the agent asks."""
    if not config.remote_config.enabled:
        return
    from edge_agent.fleet.config_trial import RemoteConfig, trial_health
    from edge_agent.fleet.remote_config import ConfigSlots

    health = trial_health(
        lambda: agent.link.connected,
        lambda: agent.link.counters.last_error,
        lambda: agent.router.accepted["applied"],
        [*agent.readers, *agent.async_readers],
        agent.status.reader_health,
        agent.status.reader_details,
    )
    slots = ConfigSlots.beside(config)
    remote = RemoteConfig(config, slots, agent.requests, health, lambda: agent.stop("reconfigure"), trial)
    remote.register()
    agent.on_link_up.append(remote.link_up)
    agent.services.append(remote.run)


def add_fleet(agent: Agent, config: AgentConfig) -> None:
    """Health on MQTT and Prometheus metrics (edge_agent/fleet/), both reading one FigureSource."""
    health, metrics = config.health, config.metrics
    if not health.enabled and metrics.listen is None and metrics.textfile is None:
        return
    from edge_agent.fleet.figures import FigureSource
    from edge_agent.fleet.health import FleetLoop, HealthPublisher

    figures = FigureSource(
        config, agent.store, agent.status, agent.link.counters, lambda: agent.link.connected, agent.activity
    )
    loop = FleetLoop(figures, health.interval_s)
    if health.enabled:
        publisher = HealthPublisher(figures, agent.out, agent.topics.health)
        agent.on_link_up.append(publisher.publish)
        loop.on_interval.append(publisher.publish)
        agent.health = publisher
    if metrics.listen is not None or metrics.textfile is not None:
        from edge_agent.fleet.metrics import MetricsServer, registry_for, write_textfile

        registry = registry_for(figures)
        textfile = metrics.textfile
        if textfile is not None:
            loop.on_interval.append(lambda: write_textfile(registry, textfile))
        if metrics.listen is not None:
            agent.metrics = MetricsServer(metrics, registry)
            agent.services.append(agent.metrics.run)
    agent.services.append(loop.run)


def add_screen(agent: Agent, config: AgentConfig) -> None:
    """The device's own screen page: the outlet's retained views teed to it, its actions into the route table."""
    from edge_agent.screen.feed import ScreenFeed
    from edge_agent.screen.pages import page_for
    from edge_agent.screen.server import ScreenServer

    assert config.screen is not None
    feed = ScreenFeed(agent.topics.session.rsplit("/", 1)[0] + "/")
    agent.out.taps.append(feed.observe)
    agent.screen = ScreenServer(
        config.screen,
        feed,
        agent.topics.ui,
        agent.router.submit,
        agent.router.reject,
        lambda: agent.link.connected,
        agent.screen_key,
        agent.out.source,
        page=page_for(config.device.role),
    )
    agent.services.append(agent.screen.run)


def load_screen_key(path: Path) -> bytes:
    """The device's screen key, made on first start (0600, random); a screen on the device reads it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(f"{path}: cannot create the screen key ({exc.strerror or exc})") from None
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(SCREEN_KEY_BYTES) + "\n")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as exc:
        raise StorageError(f"{path}: not a usable screen key ({exc}); remove it and a new one is made") from None
    if len(key) < SCREEN_KEY_BYTES:
        raise StorageError(f"{path}: screen key shorter than {SCREEN_KEY_BYTES} bytes; remove it")
    return key


def default_async_readers(config: AgentConfig, activity: ReaderActivity | None = None) -> dict[str, AsyncReaderRunner]:
    ble = config.readers.ble
    if ble is None or not ble.enabled:
        return {}
    from edge_agent.readers.ble.reader import BleReader

    def run_ble(emit: Callable[[AgentEvent], None], stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        reader = BleReader(ble, emit)
        if activity is not None:  # the reader counts its own adverts: the loop sees only zone changes
            activity.watch("ble", lambda: reader.counts["adverts"])
        return reader.run(stop)

    return {"ble": run_ble}


def default_readers(config: AgentConfig) -> dict[str, ReaderRunner]:
    readers: dict[str, ReaderRunner] = {}
    barcode = config.readers.barcode
    if barcode is not None and barcode.enabled:
        from edge_agent.readers.barcode.decoders import make_decoder
        from edge_agent.readers.barcode.frames import VideoCaptureSource
        from edge_agent.readers.barcode.reader import BarcodeReader, ScanGate
        from edge_agent.readers.barcode.rest import RestDetector

        source = barcode.source
        if isinstance(source, str) and not source.startswith("/dev/") and not Path(source).is_absolute():
            source = str(Path(source))
        decoder = make_decoder(barcode.decoder, barcode.formats)
        rcn_region = config.identifiers.rcn_region  # a name: biip loads on the first variable-measure code

        def run_barcode(emit: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
            reader = BarcodeReader(
                lambda: VideoCaptureSource(source, pace=barcode.pace, reuse_gray=True),  # the reader keeps no frame
                decoder,
                emit,
                ScanGate(barcode.debounce_s, barcode.confirm_frames, barcode.confirm_window),
                barcode.every_nth_frame,
                rcn_region=rcn_region,
                rest=RestDetector() if barcode.rest else None,
            )
            reader.run(stop)

        readers["barcode"] = run_barcode
    nfc = config.readers.nfc
    if nfc is not None and nfc.enabled:
        from edge_agent.readers.nfc.reader import NfcReader

        def run_nfc(emit: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
            NfcReader(nfc.path, emit, tag_types=nfc.tag_types, repeat_s=nfc.repeat_s).run(stop)

        readers["nfc"] = run_nfc
    scanner = config.readers.scanner
    if scanner is not None and scanner.enabled:
        from edge_agent.readers.scanner.reader import scanner_reader

        def run_scanner(emit: Callable[[ReaderEvent], None], stop: threading.Event) -> None:
            scanner_reader(scanner, emit, config.identifiers.rcn_region).run(stop)

        readers["scanner"] = run_scanner
    return readers
