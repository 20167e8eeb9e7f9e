"""The world an agent lives in, for end-to-end and fault tests: config, central platform, agent runners."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.readers.events import ProductScanned, ReaderEvent
from edge_agent.store import readonly
from edge_agent.wiring import build_agent
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker

__all__ = [
    "AgentProcess",
    "InProcessAgent",
    "agent_factory",
    "central",
    "make_config",
    "wait_until",
    "write_config",
]

REPO = Path(__file__).resolve().parents[2]


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.05,
    details: Callable[[], object] | None = None,
) -> None:
    """Poll for a condition; fail with a description (and current details) if it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    extra = f"; now: {details()}" if details is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")


def make_config(
    tmp_path: Path,
    port: int,
    *,
    device: str = "kiosk-01",
    store: str = "s042",
    video: Path | None = None,
    protocol: str = "5",
    cart_id: str | None = None,
    **mqtt: Any,
) -> AgentConfig:
    mqtt_cfg: dict[str, Any] = {
        "endpoints": [{"host": "127.0.0.1", "port": port}],
        "protocol": protocol,
        "keepalive_s": 2,
        "backoff_base_s": 0.05,
        "backoff_cap_s": 0.5,
        "connect_timeout_s": 3,
        "ack_timeout_s": 5,
        "congestion_timeout_s": 5,
    }
    mqtt_cfg.update(mqtt)
    raw: dict[str, Any] = {
        "device": {"id": device, "tenant": "acme", "store": store, "role": "kiosk"},
        "storage": {"path": str(tmp_path / f"{device}.db")},
        "mqtt": mqtt_cfg,
        "basket": {"cart_id": cart_id or f"{device}-basket"},
    }
    if video is not None:
        raw["readers"] = {
            "barcode": {
                "source": str(video),
                "pace": False,
                "debounce_s": 0.5,
                "formats": ["ean13", "upca", "ean8", "code128"],
            }
        }
    return AgentConfig.model_validate(raw)


def write_config(config: AgentConfig, path: Path) -> Path:
    """TOML for a subprocess agent (only what make_config produces)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    data = config.model_dump(mode="json", exclude_none=True)
    out: list[str] = []

    def table(name: str, body: dict[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict)}
        out.append(f"[{name}]")
        for k, v in scalars.items():
            if isinstance(v, list):
                items = [
                    ("{" + ", ".join(f"{ik} = {value(iv)}" for ik, iv in i.items()) + "}")
                    if isinstance(i, dict)
                    else value(i)
                    for i in v
                ]
                out.append(f"{k} = [{', '.join(items)}]")
            else:
                out.append(f"{k} = {value(v)}")
        for k, v in body.items():
            if isinstance(v, dict):
                table(f"{name}.{k}", v)

    for section, body in data.items():
        table(section, body)
    path.write_text("\n".join(out) + "\n")
    return path


def basket_of(db_path: Path, cart_id: str) -> dict[str, int]:
    return readonly.basket_quantities(db_path, cart_id)


def outbox_total(db_path: Path) -> int:
    return readonly.outbox_stats(db_path).total


def ops_created(db_path: Path) -> int:
    return readonly.ops_created(db_path)


class InProcessAgent:
    """The real agent on its own event loop in a thread, so a synchronous test can drive and inspect it."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.db_path = config.database_path()
        self.cart_id = config.basket.cart_id or ""
        self.agent: Agent | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> InProcessAgent:
        self._thread = threading.Thread(target=self._main, name="agent-loop", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("agent did not start")
        return self

    def _main(self) -> None:
        async def body() -> None:
            self.agent = build_agent(self.config)
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self.agent.run(self._stop)

        try:
            asyncio.run(body())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc
            self._ready.set()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the agent's loop and return its result."""
        assert self._loop is not None
        fut: Any = asyncio.run_coroutine_threadsafe(_as_coro(fn), self._loop)
        return fut.result(10)

    def scan(self, *gtins: str) -> None:
        events: list[ReaderEvent] = [ProductScanned(ProductKey(g), "]E0", "test", time.time()) for g in gtins]
        assert self._loop is not None and self.agent is not None
        agent = self.agent
        for event in events:
            self._loop.call_soon_threadsafe(agent.submit, event)

    @property
    def connected(self) -> bool:
        return self.agent is not None and self.agent.link.connected

    def basket(self) -> dict[str, int]:
        return basket_of(self.db_path, self.cart_id)

    def outbox_total(self) -> int:
        return outbox_total(self.db_path)

    def catalog_version(self) -> int | None:
        """The version of the device's catalog cache (None before the first update), read on the agent's loop."""
        assert self.agent is not None, "the agent has not started"
        version: int | None = self.call(self.agent.store.catalog_version)
        return version

    def wait_for_catalog(self, version: int, timeout: float = 10) -> None:
        """Until the platform's catalog update of this version is cached on the device."""
        wait_until(lambda: self.agent is not None and self.catalog_version() == version, timeout, f"catalog v{version}")

    def ops_created(self) -> int:
        return ops_created(self.db_path)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)
        if self.agent is not None:
            self.agent.store.close()
        if self.error is not None:
            raise self.error


async def _as_coro(fn: Callable[[], Any]) -> Any:
    return fn()


class AgentProcess:
    """`edge-agent run` as a real process, for SIGKILL tests. Its log is kept for the failure messages."""

    def __init__(self, config: AgentConfig, workdir: Path) -> None:
        self.config = config
        self.db_path = config.database_path()
        self.workdir = workdir
        self.config_path = write_config(config, workdir / f"{config.device.id}.toml")
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.config.device.id}.run{self.runs}.log"

    def start(self) -> AgentProcess:
        self.runs += 1
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_agent", "run", "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=env,
            )
        return self

    def log_text(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.workdir.glob(f"{self.config.device.id}.run*.log"))
        )

    def saved_op_ids(self) -> set[str]:
        """Op ids of the scans the agent committed, read from its database (each scan's entry id is its op id)."""
        try:
            return readonly.entry_ids(self.db_path, self.config.device.id)
        except sqlite3.Error:  # not created yet, or its first migration still running
            return set()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


@pytest.fixture
def central(broker: MosquittoBroker, tmp_path: Path) -> Iterator[CentralPlatform]:
    platform = CentralPlatform(tmp_path / "central.db", broker.host, broker.port).start()
    yield platform
    platform.stop()


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Callable[[AgentConfig], InProcessAgent]]:
    made: list[InProcessAgent] = []

    def make(config: AgentConfig) -> InProcessAgent:
        agent = InProcessAgent(config)
        made.append(agent)
        return agent.start()

    yield make
    for agent in made:
        agent.stop()
