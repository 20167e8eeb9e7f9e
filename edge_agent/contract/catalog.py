"""Catalog messages: what the platform publishes for a store's devices (items, prices, stock), and what a lookup shows.

Shared by the sync layer (validation of inbound updates) and the store (the cache), so neither depends on the other.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints, model_validator

from edge_agent.contract.aisle import Availability
from edge_agent.contract.base import CloudEvent, Strict
from edge_agent.contract.const import MAX_PRICE_MINOR, MAX_STOCK_UNITS
from edge_agent.domain.const import MAX_WIRE_INT
from edge_agent.domain.ops import Gtin14


class CatalogItem(Strict):
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
    availability: Availability | None = Field(
        default=None,
        description="beyond this store (online, nearby stores), each count with its as-of time: a device keeps the "
        "newest count per source, whatever the order updates arrive in (endless aisle)",
    )


class CatalogUpdate(Strict):
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


class VariantModel(Strict):
    """Another size or colour of the same style, with its stock in this store and when that was counted."""

    gtin14: Gtin14
    size: str | None = None
    colour: str | None = None
    stock: int | None = None
    stock_as_of: datetime | None = None


class RelatedItem(Strict):
    """An item the catalog relates to the one looked up, named and priced so a screen shows it without a code."""

    gtin14: Gtin14
    name: str = ""
    price_minor: int | None = None
    currency: str | None = None
    price_as_of: datetime | None = None


class MeasureModel(Strict):
    kind: Literal["weight_kg", "price", "count"]
    value: Decimal


class LookupResult(Strict):
    """What the screen shows. ``offline`` means the figures may have changed since their as-of times."""

    gtin14: Gtin14
    found: bool
    reason: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="why nothing was found: not_in_catalog"
    )
    name: str = ""
    size: str | None = None
    colour: str | None = None
    price_minor: int | None = None
    currency: str | None = None
    price_as_of: datetime | None = None
    measure: MeasureModel | None = Field(
        default=None, description="price or weight printed in a variable-measure label"
    )
    stock: int | None = None
    stock_as_of: datetime | None = None
    offline: bool = Field(description="the uplink is down: figures are as of the times shown, not now")
    variants: list[VariantModel] = Field(default=[], description="other sizes and colours of the style, in this store")
    related: list[Gtin14] = Field(default=[])
    related_items: list[RelatedItem] = Field(
        default=[], max_length=20, description="the related items as the cache knows them (a shelf screen shows them)"
    )
    availability: Availability | None = Field(
        default=None, description="elsewhere, as last counted: online and nearby stores (endless aisle)"
    )
    label_reported: bool = Field(
        default=False, description="the shelf's screen reported this item's label as wrong (its confirmation)"
    )


T_CATALOG: Final = "com.edgeagent.catalog.update.v1"


class CatalogUpdateEvent(CloudEvent[CatalogUpdate]):
    type: Literal["com.edgeagent.catalog.update.v1"] = T_CATALOG
