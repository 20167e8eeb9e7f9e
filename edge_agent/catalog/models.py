"""Catalog messages: what the platform publishes for a store's devices (items, prices, stock), as pydantic models.

Shared by the sync layer (validation of inbound updates) and the store (the cache), so neither depends on the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from edge_agent.domain.ops import Gtin14


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogItem(_Strict):
    """One sellable variant of the store's catalog. Price and stock carry their own as-of times."""

    gtin14: Gtin14
    version: int = Field(ge=0, description="orders updates of this item; an older or equal version is ignored")
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    style: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="groups the sizes and colours of one garment or product"
    )
    size: Annotated[str, StringConstraints(max_length=32)] | None = None
    colour: Annotated[str, StringConstraints(max_length=32)] | None = None
    price_minor: int | None = Field(default=None, ge=0, description="shelf price in minor units (cents)")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    price_as_of: datetime | None = None
    stock: int | None = Field(default=None, ge=0, description="units on hand in this store")
    stock_as_of: datetime | None = None
    related: list[Gtin14] = Field(default=[], max_length=20)


class CatalogUpdate(_Strict):
    """Down, store-wide: new or changed items, and removed ones. Also the answer to a sync request."""

    version: int = Field(ge=0, description="the catalog version this update brings the device to")
    items: list[CatalogItem] = Field(default=[], max_length=500)
    removed: list[Gtin14] = Field(default=[], max_length=500)
