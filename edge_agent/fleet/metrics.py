"""Prometheus metrics: a custom collector over the same figures the health message sends, served on loopback and
optionally written as a node_exporter textfile (fleet note §0.4).

Names follow Prometheus' conventions: the ``edge_agent_`` prefix, base units (``_seconds``, ``_bytes``), ``_total``
on counters and an ``edge_agent_build_info`` gauge. Labels name readers, reject reasons and states, never a cart,
shopper or op id: every label value comes from a small fixed set, so a fleet's series do not grow with its traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge_agent.config import MetricsSection
from edge_agent.const import METRICS_BIND_RETRY_S
from edge_agent.fleet.figures import Figures, FigureSource
from edge_agent.fleet.rates import kind_of

log = logging.getLogger(__name__)

__all__ = ["FiguresCollector", "MetricsServer", "registry_for", "write_textfile"]

P = "edge_agent_"
READER_STATES = ("ok", "degraded", "stopped")


class FiguresCollector(Collector):
    """Translates one :class:`Figures` snapshot per scrape; holds no figure of its own."""

    def __init__(self, figures: FigureSource) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures.snapshot()
        h = f.health
        info = GaugeMetricFamily(P + "build_info", "Agent version and config version", labels=["version", "config"])
        info.add_metric([h.agent_version, h.config_version], 1)
        yield info
        yield _gauge("start_time_seconds", "Unix time the agent started", f.started_at)
        yield _gauge("uptime_seconds", "Seconds since the agent started", h.uptime_s)
        yield _gauge("mqtt_connected", "1 while the MQTT link is up", 1 if f.connected else 0)
        yield _counter("mqtt_connects", "Successful MQTT connections", h.link.connects)
        yield _counter("mqtt_connect_failures", "Failed MQTT connection attempts", h.link.connect_failures)
        yield _counter("mqtt_disconnects", "MQTT connections lost", h.link.disconnects)
        yield _gauge("outbox_unconfirmed_ops", "Ops the platform has not confirmed", h.outbox.unconfirmed_ops)
        yield _gauge("outbox_pending_ops", "Unconfirmed ops not yet acknowledged by the broker", h.outbox.pending_ops)
        age = h.outbox.oldest_unconfirmed_age_s
        yield _gauge("outbox_oldest_unconfirmed_age_seconds", "Age of the oldest unconfirmed op (0: none)", age or 0)
        yield _gauge("event_backlog", "Workflow events waiting for the uplink", h.outbox.event_backlog)
        yield _gauge("database_bytes", "Size of the device database file", h.storage.database_bytes)
        yield _gauge("database_wal_bytes", "Size of the database's write-ahead log", h.storage.wal_bytes)
        if h.storage.free_bytes is not None:
            yield _gauge("state_dir_free_bytes", "Free bytes in the state directory", h.storage.free_bytes)
        if h.process.rss_bytes is not None:
            yield _gauge("process_resident_memory_bytes", "Resident memory of the agent", h.process.rss_bytes)
        yield _counter("process_cpu_seconds", "User and system CPU time of the agent", h.process.cpu_seconds)
        yield _counter("scans_saved", "Basket adds saved since start", h.scans_saved)
        yield from self._readers(f)
        rejected = CounterMetricFamily(
            P + "rejected", "Refused reader input and basket edits", labels=["source", "reason"]
        )
        for key, n in sorted(h.rejected.items()):
            source, _, reason = key.partition(":")
            rejected.add_metric([source, reason], n)
        yield rejected
        if f.cert_not_after is not None:
            yield _gauge(
                "client_certificate_expiry_timestamp_seconds", "notAfter of the client certificate", f.cert_not_after
            )
        if h.clock_synchronised is not None:
            yield _gauge("clock_synchronised", "1 when the kernel clock is NTP-synchronised", int(h.clock_synchronised))

    @staticmethod
    def _readers(f: Figures) -> Iterator[Metric]:
        state = GaugeMetricFamily(P + "reader_state", "1 for the reader's current state", labels=["reader", "state"])
        for name, reader in sorted(f.health.readers.items()):
            for s in READER_STATES:
                state.add_metric([name, s], 1 if reader.state == s else 0)
        yield state
        events = CounterMetricFamily(
            P + "reader_events", "Reads per reader (scans, taps, adverts)", labels=["reader", "kind"]
        )
        for name, n in sorted(f.reader_totals.items()):
            events.add_metric([name, kind_of(name)], n)
        yield events


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(P + name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(P + name, doc, value=value)


def registry_for(figures: FigureSource) -> CollectorRegistry:
    """A registry of our own: the default one would add prometheus_client's process and GC collectors, which
    duplicate ours under other names."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures))
    return registry


def write_textfile(registry: CollectorRegistry, path: Path) -> None:
    """node_exporter's textfile collector: written beside the target (``<path>.<pid>.<tid>``, which it ignores, not
    ending in .prom) and renamed over it, so a scrape never reads half a file."""
    write_to_textfile(str(path), registry)


class MetricsServer:
    """``GET /metrics`` on the agent's own aiohttp loop, not prometheus_client's ``start_http_server``: that serves
    from a thread of its own, and a scrape there would read the store's SQLite connection off the loop that owns it
    (sqlite3 refuses a connection from another thread, and the loop is the database's only user by design). Here a
    scrape is one more coroutine between two reader events, and no second HTTP stack or thread is started."""

    def __init__(self, settings: MetricsSection, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.port: int | None = None
        self.scrapes = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _metrics(self, _request: web.Request) -> web.Response:
        self.scrapes += 1
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def run(self) -> None:
        """Serve until cancelled; a port that cannot be bound is retried (the agent goes on without metrics)."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            while True:
                site = web.TCPSite(runner, self.settings.host, self.settings.port)
                try:
                    await site.start()
                    break
                except OSError as exc:
                    log.error("metrics: cannot listen on %s (%s); retrying", self.settings.listen, exc.strerror or exc)
                    await asyncio.sleep(METRICS_BIND_RETRY_S)
            self.port = self.settings.port
            log.info("metrics: serving http://%s/metrics", self.settings.listen)
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(Exception):
                await runner.cleanup()
