"""Catalog messages: what the platform publishes for a store's devices (items, prices, stock), as pydantic models.

Shared by the sync layer (validation of inbound updates) and the store (the cache), so neither depends on the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from edge_agent.const import MAX_PRICE_MINOR, MAX_STOCK_UNITS, MAX_WIRE_INT
from edge_agent.domain.ops import Gtin14


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogItem(_Strict):
    """One sellable variant of the store's catalog. Price and stock carry their own as-of times."""

    gtin14: Gtin14
    version: int = Field(
        ge=0, le=MAX_WIRE_INT, description="orders updates of this item; an older or equal version is ignored"
    )
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    style: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="groups the sizes and colours of one garment or product"
    )
    size: Annotated[str, StringConstraints(max_length=32)] | None = None
    colour: Annotated[str, StringConstraints(max_length=32)] | None = None
    price_minor: int | None = Field(
        default=None, ge=0, le=MAX_PRICE_MINOR, description="shelf price in minor units (cents)"
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    price_as_of: datetime | None = None
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK_UNITS, description="units on hand in this store")
    stock_as_of: datetime | None = None
    related: list[Gtin14] = Field(default=[], max_length=20)


class CatalogUpdate(_Strict):
    """Down, store-wide: new or changed items, and removed ones. Also the answer to a sync request."""

    version: int = Field(ge=0, le=MAX_WIRE_INT, description="the catalog version this update brings the device to")
    items: list[CatalogItem] = Field(default=[], max_length=500)
    removed: list[Gtin14] = Field(default=[], max_length=500)

    @model_validator(mode="after")
    def _items_not_ahead_of_update(self) -> CatalogUpdate:
        # An item is stamped with the catalog version that changed it: never one beyond the update's own, so
        # the version-jump bound on the update bounds every item too (a hostile item version would otherwise
        # make every real update of that item look stale).
        ahead = [i.gtin14 for i in self.items if i.version > self.version]
        if ahead:
            raise ValueError(f"item version above the update's version {self.version}: {ahead[0]}")
        return self
