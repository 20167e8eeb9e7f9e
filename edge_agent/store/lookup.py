"""Product lookups against the catalog cache: what a shelf screen or a mirror shows for a scanned or tapped code.

Every price and stock figure carries its as-of time, and a lookup made while the uplink is down says so
(retail note §0 rules 5 and 9: label offline figures rather than hide them). The key comes from the one
identifier pipeline, so a variable-measure label looks up its base item and shows the embedded price or weight.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from edge_agent.contract.catalog import LookupResult, MeasureModel, VariantModel
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.store.availability import availability_of
from edge_agent.store.catalog import CachedItem, get_item, style_variants


def _when(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def lookup(conn: sqlite3.Connection, key: ProductKey, *, online: bool) -> LookupResult:
    measure = None if key.measure is None else MeasureModel(kind=key.measure.kind.value, value=key.measure.value)
    item = get_item(conn, key.gtin14)
    if item is None:
        return LookupResult(
            gtin14=key.gtin14, found=False, reason="not_in_catalog", measure=measure, offline=not online
        )
    return LookupResult(
        gtin14=item.gtin14,
        found=True,
        name=item.name,
        size=item.size,
        colour=item.colour,
        price_minor=item.price_minor,
        currency=item.currency,
        price_as_of=_when(item.price_as_of),
        measure=measure,
        stock=item.stock,
        stock_as_of=_when(item.stock_as_of),
        offline=not online,
        variants=_variants(conn, item),
        related=list(item.related),
        availability=availability_of(conn, item.gtin14),
    )


def _variants(conn: sqlite3.Connection, item: CachedItem) -> list[VariantModel]:
    if item.style is None:
        return []
    return [
        VariantModel(gtin14=v.gtin14, size=v.size, colour=v.colour, stock=v.stock, stock_as_of=_when(v.stock_as_of))
        for v in style_variants(conn, item.style)
        if v.gtin14 != item.gtin14
    ]
