"""The fleet health message of the contract with a valid example (docs/asyncapi.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from edge_agent import __version__
from edge_agent.asyncapi.examples import EXAMPLE_SOURCE as _SRC
from edge_agent.contract.health import (
    DeviceHealth,
    HealthEvent,
    LinkHealth,
    OutboxHealth,
    ProcessHealth,
    ReaderHealthFigures,
    StorageHealth,
)

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def health_messages() -> dict[str, tuple[str, type[BaseModel], BaseModel, str]]:
    return {
        "deviceHealth": (
            "Device health",
            HealthEvent,
            HealthEvent(
                source=_SRC,
                id="kiosk-01:7f3c9a1e-2b4d-4c6e-8f0a-1b2c3d4e5f60",
                time=_T0,
                data=DeviceHealth(
                    device="kiosk-01",
                    session=12,
                    uptime_s=86_412.5,
                    agent_version=__version__,
                    config_version="3f9a8b7c6d5e",
                    outbox=OutboxHealth(
                        unconfirmed_ops=2, pending_ops=0, oldest_unconfirmed_age_s=0.8, event_backlog=0
                    ),
                    storage=StorageHealth(database_bytes=1_286_144, wal_bytes=32_992, free_bytes=21_474_836_480),
                    readers={
                        "barcode": ReaderHealthFigures(state="ok", scans_per_min=4.0),
                        "nfc": ReaderHealthFigures(state="degraded", detail="reader_missing: usb", taps_per_min=0.0),
                    },
                    process=ProcessHealth(rss_bytes=61_440_000, cpu_seconds=1234.5, cpu_percent=3.1),
                    link=LinkHealth(connects=3, connect_failures=1, disconnects=2, endpoint="mqtt.store.internal:8883"),
                    client_cert_days_left=211.4,
                    clock_synchronised=True,
                    scans_saved=5120,
                    rejected={"barcode:not_a_product": 7},
                ),
            ),
            "Not retained, QoS 1: every `[health] interval_s` (60 s by default) and at once after every (re)connect, "
            "while connected (none is queued for later). The same figures as the device's Prometheus metrics. "
            "`config_version` is the config's own `config_version`, else the first 12 hex digits of its file's "
            "sha256. Rates are per minute over the last minute; a figure the device cannot know is null "
            "(`client_cert_days_left` without a client certificate, `clock_synchronised` off Linux). "
            "Names no cart, shopper or op.",
        ),
    }
