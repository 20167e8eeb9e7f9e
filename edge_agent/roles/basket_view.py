"""The basket as a kiosk's screen shows it: each line's name and price from the device's catalog cache, a total.

Pure reading: the store's quantities and catalog cache in, a :class:`BasketView` out. A price the cache lacks stays
None (the screen says "price confirmed at checkout"), and then there is no total: never a guessed figure. Prices
cached longer ago than the screen trusts are flagged stale; the latest refusal and the checkout ride along, and so
do an out-of-stock line's availability elsewhere and an ordered line's state (:mod:`.aisle`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from edge_agent.contract.device import BasketLineView, BasketRefusal, BasketView, CheckoutView
from edge_agent.roles.aisle import elsewhere, order_views
from edge_agent.screen.const import PRICES_STALE_AFTER_S
from edge_agent.store.catalog import CachedItem
from edge_agent.store.device import DeviceStore

Items = Mapping[str, CachedItem | None]


def priced_lines(items: Items, quantities: Mapping[str, int]) -> list[BasketLineView]:
    lines = []
    for gtin14, qty in sorted(quantities.items()):
        if qty <= 0:
            continue
        item = items.get(gtin14)
        price = item.price_minor if item is not None else None
        lines.append(
            BasketLineView(
                gtin14=gtin14,
                name=item.name if item is not None else "",
                qty=qty,
                unit_price_minor=price,
                line_total_minor=None if price is None else price * qty,
                currency=item.currency if item is not None and price is not None else None,
            )
        )
    return lines


def total(lines: list[BasketLineView]) -> tuple[int | None, str | None]:
    """The sum and its currency; None when a line has no price or the currencies differ."""
    currencies = {ln.currency for ln in lines}
    if any(ln.line_total_minor is None for ln in lines) or len(currencies) > 1:
        return None, None
    return sum(ln.line_total_minor or 0 for ln in lines), next(iter(currencies), None)


def prices_stale(priced_as_of: datetime | None, now: float, max_age_s: float = PRICES_STALE_AFTER_S) -> bool:
    """True when the oldest cached price is older than the screen may promise (no price at all is not stale:
    each such line already says "confirmed at checkout")."""
    return priced_as_of is not None and now - priced_as_of.timestamp() > max_age_s


def basket_view(
    store: DeviceStore,
    cart_id: str,
    preview: Mapping[str, int] | None = None,
    *,
    now: float | None = None,
    refused: BasketRefusal | None = None,
    checkout: CheckoutView | None = None,
) -> BasketView:
    """One catalog read per item, however many lines and preview lines name it (this runs after every scan).
    ``now`` decides whether prices are stale (None: not judged)."""
    quantities = store.quantities(cart_id)
    items = {gtin14: store.catalog_item(gtin14) for gtin14 in {*quantities, *(preview or {})}}
    orders = order_views(store, cart_id)
    lines = [
        ln.model_copy(
            update={
                "order": orders.get(ln.gtin14),
                "availability": elsewhere(store, items.get(ln.gtin14), ordered=ln.gtin14 in orders),
            }
        )
        for ln in priced_lines(items, quantities)
    ]
    amount, currency = total(lines)
    as_of = [
        item.price_as_of for ln in lines if (item := items.get(ln.gtin14)) is not None and item.price_as_of is not None
    ]
    preview_lines = None if preview is None else priced_lines(items, preview)
    oldest = datetime.fromtimestamp(min(as_of), UTC) if as_of else None
    return BasketView(
        lines=lines,
        items=sum(ln.qty for ln in lines),
        total_minor=amount,
        currency=currency,
        priced_as_of=oldest,
        preview=preview_lines,
        preview_total_minor=None if preview_lines is None else total(preview_lines)[0],
        prices_stale=now is not None and prices_stale(oldest, now),
        refused=refused,
        checkout=checkout,
    )
