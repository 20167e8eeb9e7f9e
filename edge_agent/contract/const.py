"""Limits of the wire contract, each with the reason it has its value (docs/asyncapi.yaml states them)."""

from __future__ import annotations

from edge_agent.domain.const import MAX_WIRE_INT

__all__ = [
    "INBOUND_MAX_BYTES",
    "MAX_AVAILABILITY_STORES",
    "MAX_PRICE_MINOR",
    "MAX_STOCK_UNITS",
    "MAX_VERSION_JUMP",
    "MAX_WIRE_INT",
    "MAX_WIRE_TEXT",
]

INBOUND_MAX_BYTES = 1024 * 1024
"""Inbound payloads above 1 MiB are rejected before parsing; a snapshot of a real basket is a few KB."""

MAX_VERSION_JUMP = 1_000_000
"""A cart snapshot or catalog update may move its version forward by at most this much at once. The platform
bumps a cart's version once per applied batch; a million batches during one outage is far beyond any real
cart, while a hostile 2**62 would make every real snapshot afterwards look stale."""

MAX_PRICE_MINOR = 100_000_000
"""A shelf price above 1,000,000.00 in any currency is a corrupt or hostile figure, not a product."""

MAX_STOCK_UNITS = 10_000_000
"""Units on hand of one variant in one store; beyond this the figure is corrupt or hostile."""

MAX_WIRE_TEXT = 256
"""Free text in an inbound message (attribute values, CloudEvents subject, ids) is at most this long."""

MAX_AVAILABILITY_STORES = 20
"""Nearby stores an item's availability names: a screen shows a handful, and a bounded list keeps a 500-item
catalog update far below the inbound size limit."""
