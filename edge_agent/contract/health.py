"""The device's health for store IT: what a fleet dashboard needs to see a device going wrong before a shopper does.

Sent on ``dv/{device}/health`` every ``[health] interval_s`` and at once after every (re)connect; not retained
(the retained ``status`` says online or offline, and its last will covers a dead process). Every figure is the
same one the Prometheus metrics show (edge_agent/fleet/figures.py); a figure the device cannot know is null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import Field

from edge_agent.contract.base import CloudEvent, Strict
from edge_agent.domain.ops import DeviceId

T_HEALTH: Final = "com.edgeagent.device.health.v1"


class OutboxHealth(Strict):
    unconfirmed_ops: int = Field(ge=0, description="ops not yet covered by the platform's applied watermark")
    pending_ops: int = Field(ge=0, description="of those, not yet acknowledged by the broker (to be sent)")
    oldest_unconfirmed_age_s: float | None = Field(default=None, ge=0, description="null when nothing is unconfirmed")
    event_backlog: int = Field(ge=0, description="workflow events waiting for the uplink")


class StorageQuarantine(Strict):
    """A database found corrupt was moved aside (never deleted) and the device started a new one, with a new
    epoch. Its unconfirmed ops are still in the file: README "Troubleshooting" says how to recover them."""

    path: str = Field(max_length=1024, description="the quarantined file; its -wal and -shm have this name + suffix")
    reason: str = Field(max_length=300, description="what SQLite or quick_check said")
    at: datetime


class StorageHealth(Strict):
    database_bytes: int = Field(ge=0)
    wal_bytes: int = Field(ge=0, description="the database's write-ahead log (0 right after a checkpoint)")
    free_bytes: int | None = Field(default=None, ge=0, description="free space in the state directory")
    used_bytes: int | None = Field(
        default=None, ge=0, description="bytes in the database's live pages: what storage.max_bytes bounds"
    )
    budget_bytes: int | None = Field(default=None, ge=0, description="storage.max_bytes; null without a budget")
    refusing: Literal["storage_full", "storage_budget"] | None = Field(
        default=None,
        description="new scans are refused now: the disk is full, or the budget is used up after collecting; "
        "unconfirmed ops are never evicted",
    )
    quarantine: StorageQuarantine | None = Field(
        default=None, description="the last database quarantined as corrupt; null when none was"
    )


class ReaderHealthFigures(Strict):
    state: Literal["ok", "degraded", "stopped"]
    detail: str = Field(default="", max_length=300)
    scans_per_min: float | None = Field(default=None, ge=0, description="barcode reads saved or handed to the role")
    taps_per_min: float | None = Field(default=None, ge=0, description="NFC tag and card taps")
    adverts_per_min: float | None = Field(default=None, ge=0, description="BLE advertisements heard")


class ProcessHealth(Strict):
    rss_bytes: int | None = Field(default=None, ge=0, description="resident memory of the agent process")
    cpu_seconds: float = Field(ge=0, description="user + system CPU time since the process started")
    cpu_percent: float | None = Field(
        default=None, ge=0, description="of one core, over the last minute (null until two samples exist)"
    )


class LinkHealth(Strict):
    connects: int = Field(ge=0)
    connect_failures: int = Field(ge=0)
    disconnects: int = Field(ge=0)
    endpoint: str = Field(default="", max_length=300, description="host:port of the broker in use")


class DeviceHealth(Strict):
    """Up, every interval and after each connect. Compare ``uptime_s`` between messages to see a restart."""

    device: DeviceId
    session: int = Field(ge=0, description="the status's session number of the connection it was sent on")
    uptime_s: float = Field(ge=0)
    agent_version: str = Field(max_length=64)
    config_version: str = Field(
        max_length=64, description="the config's config_version, else the first 12 hex of its file's sha256"
    )
    outbox: OutboxHealth
    storage: StorageHealth
    readers: dict[str, ReaderHealthFigures] = Field(default={}, description="reader name -> health and rate")
    process: ProcessHealth
    link: LinkHealth
    client_cert_days_left: float | None = Field(
        default=None, description="days until the TLS client certificate's notAfter; null without one"
    )
    clock_synchronised: bool | None = Field(
        default=None, description="the kernel's NTP state (as `timedatectl show -p NTPSynchronized`); null if unknown"
    )
    scans_saved: int = Field(ge=0, description="basket adds saved since the agent started")
    rejected: dict[str, int] = Field(default={}, description="refused reader input and basket edits by source:reason")


class HealthEvent(CloudEvent[DeviceHealth]):
    type: Literal["com.edgeagent.device.health.v1"] = T_HEALTH
