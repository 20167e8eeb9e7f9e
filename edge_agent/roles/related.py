"""The catalog's related items for what was scanned, as every role's view shows them (kiosk, mirror, shelf).

Named and priced from the device's catalog cache, each price with its as-of time: a screen never shows a bare code,
so a related item the cache does not hold is left out. Works offline (the cache is local).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from edge_agent.contract.catalog import RelatedItem
from edge_agent.store.device import DeviceStore

RELATED_SHOWN_MAX: Final = 20
"""As many as the catalog may relate to one item (contract/catalog.py ``CatalogItem.related``)."""


def related_items(store: DeviceStore, gtins: Iterable[str], exclude: Iterable[str] = ()) -> list[RelatedItem]:
    """The related items the cache holds, in the catalog's order, without duplicates or the ``exclude`` ones (what
    the view already lists)."""
    skip, related = set(exclude), list[RelatedItem]()
    for gtin14 in gtins:
        if gtin14 in skip or len(related) >= RELATED_SHOWN_MAX:
            continue
        skip.add(gtin14)
        item = store.catalog_item(gtin14)
        if item is None:
            continue
        as_of = None if item.price_as_of is None else datetime.fromtimestamp(item.price_as_of, UTC)
        related.append(
            RelatedItem(
                gtin14=gtin14, name=item.name, price_minor=item.price_minor, currency=item.currency, price_as_of=as_of
            )
        )
    return related


def related_to(store: DeviceStore, gtin14: str | None, exclude: Iterable[str] = ()) -> list[RelatedItem]:
    """The related items of one scanned item (none when nothing was scanned or the cache does not know it)."""
    item = None if gtin14 is None else store.catalog_item(gtin14)
    if item is None or gtin14 is None:
        return []
    return related_items(store, item.related, exclude=[gtin14, *exclude])
