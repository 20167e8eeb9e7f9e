"""One snapshot of every figure the device reports: the health message sends it, the Prometheus collector
translates it. Both outputs read :meth:`FigureSource.snapshot`, so they cannot disagree or drift apart.

A snapshot reads the store's SQLite connection, so it runs on the agent's loop (the connection's only user).
It changes nothing: sampling for rates happens in :meth:`FigureSource.sample`, on its own schedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from edge_agent import __version__
from edge_agent.config import AgentConfig
from edge_agent.contract.health import (
    DeviceHealth,
    LinkHealth,
    OutboxHealth,
    ProcessHealth,
    ReaderHealthFigures,
    StorageHealth,
    StorageQuarantine,
)
from edge_agent.fleet import system
from edge_agent.fleet.rates import ReaderActivity, SampleWindow, kind_of
from edge_agent.status import READER_DETAIL_MAX, StatusReporter
from edge_agent.store.budget import used_bytes
from edge_agent.store.device import DeviceStore
from edge_agent.store.quarantine import META_KEY, quarantined_from_meta
from edge_agent.sync.link import LinkCounters

__all__ = ["FigureSource", "Figures"]

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Figures:
    health: DeviceHealth
    reader_totals: dict[str, int]
    """Events per reader since start (the metrics' counters; the health message carries their rates)."""
    connected: bool
    started_at: float
    """Wall-clock start of the agent (the metrics' start time)."""
    cert_not_after: float | None
    """The client certificate's notAfter as a Unix time; None without one."""


@dataclass
class FigureSource:
    config: AgentConfig
    store: DeviceStore
    status: StatusReporter
    link_counters: LinkCounters
    connected: Callable[[], bool]
    activity: ReaderActivity = field(default_factory=ReaderActivity)
    clock: Callable[[], float] = time.monotonic
    _cpu: SampleWindow = field(default_factory=SampleWindow)
    _started: float = field(default=0.0, init=False)
    _started_wall: float = field(default_factory=time.time, init=False)
    _cert_not_after: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._started = self.clock()
        tls = self.config.mqtt.tls
        found = system.not_after(str(tls.cert_file) if tls and tls.cert_file else None)
        self._cert_not_after = found.timestamp() if found else None  # the file is read once: a new one means a restart

    def sample(self) -> None:
        """Called every RATE_SAMPLE_S: the totals that per-minute rates and CPU percent are taken from."""
        now = self.clock()
        self.activity.sample(now)
        self._cpu.add(now, {"cpu": system.cpu_seconds()})

    def snapshot(self) -> Figures:
        db = self.config.database_path()
        stats = self.store.outbox_stats()
        wall = time.time()
        oldest = None if stats.oldest_created_at is None else round(max(0.0, wall - stats.oldest_created_at), 3)
        cpu_rate = self._cpu.per_second().get("cpu")
        counters = self.link_counters
        health = DeviceHealth(
            device=self.config.device.id,
            session=self.status.session,
            uptime_s=round(self.clock() - self._started, 3),
            agent_version=__version__,
            config_version=self.config.version,
            outbox=OutboxHealth(
                unconfirmed_ops=stats.total,
                pending_ops=stats.pending,
                oldest_unconfirmed_age_s=oldest,
                event_backlog=self.store.event_backlog(),
            ),
            storage=StorageHealth(
                database_bytes=system.file_bytes(db),
                wal_bytes=system.file_bytes(db.with_name(db.name + "-wal")),
                free_bytes=system.disk_free_bytes(db.parent),
                used_bytes=used_bytes(self.store.conn),
                budget_bytes=self.store.budget.max_bytes,
                refusing=self._refusing(),
                quarantine=self._quarantine(),
            ),
            readers=self._readers(),
            process=ProcessHealth(
                rss_bytes=system.rss_bytes(),
                cpu_seconds=round(system.cpu_seconds(), 3),
                cpu_percent=None if cpu_rate is None else round(max(0.0, cpu_rate) * 100, 2),
            ),
            link=LinkHealth(
                connects=counters.connects,
                connect_failures=counters.connect_failures,
                disconnects=counters.disconnects,
                endpoint=counters.endpoint[:300],
            ),
            client_cert_days_left=None
            if self._cert_not_after is None
            else round((self._cert_not_after - wall) / SECONDS_PER_DAY, 2),
            clock_synchronised=system.clock_synchronised(),
            scans_saved=self.status.scans_saved,
            rejected=dict(self.status.rejected),
        )
        return Figures(health, self.activity.totals(), self.connected(), self._started_wall, self._cert_not_after)

    def _refusing(self) -> Literal["storage_full", "storage_budget"] | None:
        if self.store.faults.full_since is not None:
            return "storage_full"
        return "storage_budget" if self.store.budget.refusing else None

    def _quarantine(self) -> StorageQuarantine | None:
        found = quarantined_from_meta({META_KEY: self.store.meta(META_KEY) or ""})
        if found is None:
            return None
        return StorageQuarantine(path=found.path[:1024], reason=found.reason, at=datetime.fromisoformat(found.at))

    def _readers(self) -> dict[str, ReaderHealthFigures]:
        """Every reader that reported its health, with its rate under the name of what it reads."""
        rates = self.activity.per_minute()
        out: dict[str, ReaderHealthFigures] = {}
        for name, state in self.status.reader_health.items():
            rate = {f"{kind_of(name)}_per_min": rates.get(name, 0.0)} if rates else {}
            out[name] = ReaderHealthFigures(
                state=state,  # type: ignore[arg-type]
                detail=self.status.reader_details.get(name, "")[:READER_DETAIL_MAX],
                **rate,
            )
        return out
