"""Topic layout: ``rt/v1/{tenant}/st/{store}/...``; a device publishes only under its own ``dv/{device}``."""

from __future__ import annotations

from dataclasses import dataclass

PLATFORM_OPS_FILTER = "rt/v1/+/st/+/dv/+/ops"
PLATFORM_SYNC_FILTER = "rt/v1/+/st/+/dv/+/sync"
PLATFORM_ERASED_FILTER = "rt/v1/+/st/+/dv/+/erased"
SHARED_INGEST_GROUP = "cart-ingest"


@dataclass(frozen=True, slots=True)
class Topics:
    tenant: str
    store: str
    device: str

    @property
    def prefix(self) -> str:
        return f"rt/v1/{self.tenant}/st/{self.store}"

    @property
    def ops(self) -> str:
        return f"{self.prefix}/dv/{self.device}/ops"

    @property
    def acks(self) -> str:
        return f"{self.prefix}/dv/{self.device}/acks"

    @property
    def status(self) -> str:
        return f"{self.prefix}/dv/{self.device}/status"

    @property
    def sync(self) -> str:
        return f"{self.prefix}/dv/{self.device}/sync"

    @property
    def session(self) -> str:
        """Up, retained: the device's current shopper session (state and merge preview) for its UI."""
        return f"{self.prefix}/dv/{self.device}/session"

    @property
    def ui(self) -> str:
        """Down: the kiosk or mirror UI's session commands (confirm or decline a merge, end the session)."""
        return f"{self.prefix}/dv/{self.device}/ui"

    @property
    def catalog(self) -> str:
        """Down, store-wide: catalog, price and stock updates (QoS 1; queued for offline devices)."""
        return f"{self.prefix}/catalog"

    @property
    def display(self) -> str:
        """Up, retained: what the device's screen shows for the last lookup (shelf, mirror)."""
        return f"{self.prefix}/dv/{self.device}/display"

    @property
    def events(self) -> str:
        """Up: workflow events (CloudEvents, at least once; dedupe by id) for analytics and store operations."""
        return f"{self.prefix}/dv/{self.device}/events"

    @property
    def assist_replies(self) -> str:
        """Down to a fitting-room mirror: associates' replies to its assist requests."""
        return f"{self.prefix}/dv/{self.device}/assist"

    def assist_request(self, request_id: str) -> str:
        """Up, store-wide, retained per request: an assist request as the handhelds list it (cleared when closed).
        Under the mirror's own id, so the broker's ACL lets a mirror write only its own requests."""
        return f"{self.prefix}/assist/requests/{self.device}/{request_id}"

    @property
    def presence(self) -> str:
        """Up: aggregated presence reports (occupancy and dwell per zone and bucket); never raw sightings."""
        return f"{self.prefix}/dv/{self.device}/presence"

    @property
    def erasure(self) -> str:
        """Down, store-wide: the platform's erasure requests (consent withdrawn, right to be forgotten)."""
        return f"{self.prefix}/privacy/erasure"

    @property
    def erased(self) -> str:
        """Up: this device's answer to an erasure request, once its copies are gone."""
        return f"{self.prefix}/dv/{self.device}/erased"

    def cart_state(self, cart_id: str) -> str:
        return f"{self.prefix}/carts/{cart_id}/state"


def parse_device_topic(topic: str) -> tuple[str, str, str, str] | None:
    """``rt/v1/{tenant}/st/{store}/dv/{device}/{leaf}`` -> (tenant, store, device, leaf)."""
    parts = topic.split("/")
    if len(parts) != 8 or parts[:2] != ["rt", "v1"] or parts[3] != "st" or parts[5] != "dv":
        return None
    return parts[2], parts[4], parts[6], parts[7]
