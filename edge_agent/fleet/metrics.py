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

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge_agent.config import MetricsSection
from edge_agent.const import METRICS_BIND_RETRY_S, METRICS_REQUEST_MAX_BYTES, METRICS_REQUEST_TIMEOUT_S
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
        if h.storage.used_bytes is not None:
            yield _gauge("storage_used_bytes", "Bytes in the database's live pages", h.storage.used_bytes)
        if h.storage.budget_bytes is not None:
            yield _gauge("storage_budget_bytes", "The storage budget, storage.max_bytes", h.storage.budget_bytes)
        refusing = GaugeMetricFamily(
            P + "storage_refusing", "1 while new scans are refused, by reason", labels=["reason"]
        )
        for reason in ("storage_full", "storage_budget"):
            refusing.add_metric([reason], 1.0 if h.storage.refusing == reason else 0.0)
        yield refusing
        yield _gauge(
            "storage_quarantined", "1 when a corrupt database was quarantined", int(h.storage.quarantine is not None)
        )
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
    """``GET /metrics`` on the agent's own asyncio loop, answered by a few lines over ``asyncio.start_server``.

    Not prometheus_client's ``start_http_server``: it serves from a thread of its own, and a scrape there would read
    the store's SQLite connection off the loop that owns it (sqlite3 refuses a connection from another thread, and
    the loop is the database's only user by design). Here a scrape is one more coroutine between reader events.
    Not aiohttp either, though the screen uses it: importing ``aiohttp.web`` costs a device without a screen 7 MB of
    RSS (bench/bench_fleet.py), past the 5 MB the whole feature may cost, for one read-only path on loopback. One
    request per connection (``Connection: close``, as Prometheus is happy with), its head bounded in size and time.
    """

    def __init__(self, settings: MetricsSection, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.port: int | None = None
        self.scrapes = 0

    async def run(self) -> None:
        """Serve until cancelled; a port that cannot be bound is retried (the agent goes on without metrics)."""
        while True:
            try:
                server = await asyncio.start_server(
                    self._serve, self.settings.host, self.settings.port, limit=METRICS_REQUEST_MAX_BYTES
                )
                break
            except OSError as exc:
                log.error("metrics: cannot listen on %s (%s); retrying", self.settings.listen, exc.strerror or exc)
                await asyncio.sleep(METRICS_BIND_RETRY_S)
        self.port = self.settings.port
        log.info("metrics: serving http://%s/metrics", self.settings.listen)
        try:
            await asyncio.Event().wait()
        finally:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(METRICS_REQUEST_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            writer.write(self._answer(head.split(b"\r\n", 1)[0].split()))
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a client that went away or sent no request in time: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _answer(self, request_line: list[bytes]) -> bytes:
        if len(request_line) != 3 or request_line[0] not in (b"GET", b"HEAD"):
            return _response(b"405 Method Not Allowed", b"only GET /metrics\n", b"text/plain; charset=utf-8")
        if request_line[1].split(b"?", 1)[0] != b"/metrics":
            return _response(b"404 Not Found", b"only GET /metrics\n", b"text/plain; charset=utf-8")
        self.scrapes += 1
        body = generate_latest(self.registry)
        return _response(b"200 OK", b"" if request_line[0] == b"HEAD" else body, CONTENT_TYPE_LATEST.encode())


def _response(status: bytes, body: bytes, content_type: bytes) -> bytes:
    head = b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    return head % (status, content_type, len(body)) + body
