"""Pytest fixtures for a real broker and a fault proxy; tests/conftest.py star-imports them."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from simulators.desk import Desk
from tests.support.broker import DEFAULT_MAX_QUEUED, MosquittoBroker
from tests.support.tcp_proxy import TcpFaultProxy

__all__ = ["BrokerFactory", "ProxyFactory", "Upstream", "broker", "broker_factory", "proxy_factory"]


class BrokerFactory(Protocol):
    def __call__(
        self,
        *,
        persistence: bool = False,
        max_queued_messages: int = DEFAULT_MAX_QUEUED,
        max_inflight: int | None = None,
        start: bool = True,
    ) -> MosquittoBroker: ...


class Upstream(Protocol):
    """What a proxy forwards to: a MosquittoBroker, or one node of a NATS cluster (simulators/cluster.py)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


class ProxyFactory(Protocol):
    def __call__(self, target: Upstream, /) -> TcpFaultProxy: ...


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A started Mosquitto with default options, stopped after the test."""
    with MosquittoBroker(tmp_path / "broker") as started:
        yield started


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Make brokers with options (each in its own workdir); all are stopped after the test."""
    made: list[MosquittoBroker] = []

    def make(
        *,
        persistence: bool = False,
        max_queued_messages: int = DEFAULT_MAX_QUEUED,
        max_inflight: int | None = None,
        start: bool = True,
    ) -> MosquittoBroker:
        new = MosquittoBroker(
            tmp_path / f"broker-{len(made)}",
            persistence=persistence,
            max_queued_messages=max_queued_messages,
            max_inflight=max_inflight,
        )
        made.append(new)
        if start:
            new.start()
        return new

    yield make
    # Stop every broker even if one fails to stop, then report the first failure.
    with contextlib.ExitStack() as stack:
        for made_broker in made:
            stack.callback(made_broker.stop)


@pytest.fixture
def proxy_factory() -> Iterator[ProxyFactory]:
    """Make started fault proxies in front of a broker; all are stopped after the test."""
    made: list[TcpFaultProxy] = []

    def make(target: Upstream, /) -> TcpFaultProxy:
        proxy = TcpFaultProxy(target.host, target.port)
        made.append(proxy)
        proxy.start()
        return proxy

    yield make
    with contextlib.ExitStack() as stack:
        for proxy in made:
            stack.callback(proxy.stop)


@pytest.fixture
def desk(broker: MosquittoBroker) -> Iterator[Desk]:
    """The platform's side of request/response (simulators/desk.py) on the test's broker, MQTT 5."""
    with Desk(broker.host, broker.port) as d:
        yield d


Mount = Callable[..., Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Mount]:
    """mount(size, read_only) -> a fresh tmpfs mount point (mode 0700, like the unit's state directory): a small,
    full or read-only filesystem for real. Mounting needs root, as the tests run (CI too): not root is a failure."""
    assert os.geteuid() == 0, "the storage tests mount tmpfs filesystems: run the tests as root (CI does)"
    mounted: list[Path] = []

    def mount(size: str = "1m", read_only: bool = False) -> Path:
        point = tmp_path / f"mnt-{len(mounted)}"
        point.mkdir()
        options = f"size={size},mode=0700" + (",ro" if read_only else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], check=True)
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        # A file a failed test left open keeps the mount busy: detach it lazily rather than leave it behind.
        if subprocess.run(["umount", str(point)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(point)], check=True)
