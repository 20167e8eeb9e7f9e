"""The endless aisle on the wire: availability beyond this store, and the platform's answer to an order request.

Availability rides on catalog items (down, store-wide). An order request is a durable cart attribute op
(``aisle.{gtin14}`` = ``ship`` | ``pickup@{store}``, :mod:`edge_agent.domain.fulfilment`); the platform decides it in
the transaction that applies it and writes :class:`AisleAnswer` as JSON into ``aisle.{gtin14}.answer``, which reaches
devices in the cart snapshot like a seal or a tote's payment. A device shows the line as requested until then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from edge_agent.contract.base import ReasonCode, Strict
from edge_agent.contract.const import MAX_AVAILABILITY_STORES, MAX_STOCK_UNITS
from edge_agent.domain.fulfilment import FULFILMENT_PATTERN, STORE_ID_PATTERN
from edge_agent.domain.ops import OpIdStr

StoreId = Annotated[str, StringConstraints(pattern=f"^{STORE_ID_PATTERN}$")]
FulfilmentText = Annotated[str, StringConstraints(pattern=FULFILMENT_PATTERN)]
"""``carry_out``, ``ship`` or ``pickup@{store}``."""
OrderRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class StockCount(Strict):
    """Units available at one source and when they were counted: a newer count replaces an older one, never the
    reverse (per-source as-of max; equal times keep the larger figure, so every replica picks the same)."""

    qty: int = Field(ge=0, le=MAX_STOCK_UNITS)
    as_of: datetime


class StoreStock(StockCount):
    store: StoreId


class Availability(Strict):
    """Beyond this store: what the platform can ship (``online``) and what nearby stores hold for pickup."""

    online: StockCount | None = None
    stores: list[StoreStock] = Field(default=[], max_length=MAX_AVAILABILITY_STORES)


class AisleAnswer(Strict):
    """Written by the platform only, into ``aisle.{gtin14}.answer``: its decision on one order request."""

    request: OpIdStr = Field(description="the op id of the attr.set that asked (a later request is answered anew)")
    fulfilment: FulfilmentText
    state: Literal["accepted", "refused"]
    order_ref: OrderRef | None = Field(default=None, description="accepted: the platform's order reference")
    reason: ReasonCode | None = Field(
        default=None, description="refused: not_available, unknown_item, unknown_store, no_line, same_store"
    )


class AisleOrderView(Strict):
    """A line ordered for delivery or pickup, as a screen shows it. Never shown as confirmed before the platform
    said so: ``requested`` until its answer arrives, ``offline`` while the request has not reached the platform."""

    fulfilment: FulfilmentText
    state: Literal["requested", "confirmed", "refused"]
    order_ref: OrderRef | None = None
    reason: ReasonCode | None = None
    offline: bool = Field(
        default=False, description="requested, kept on this device: the platform has not received it yet"
    )
