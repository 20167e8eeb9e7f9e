"""The endless aisle on a device's screens: availability elsewhere for an item out of stock here, and each ordered
line's state as the cart's attributes say it (:mod:`edge_agent.contract.aisle`).

A line ordered for delivery or pickup is ``requested`` until the platform's answer for *that* request (by op id)
arrives in the cart snapshot; while the request op is still in the outbox it is labelled ``offline``. Nothing here
turns a request into a confirmation: only an answer the platform wrote does.
"""

from __future__ import annotations

from pydantic import ValidationError

from edge_agent.contract.aisle import AisleAnswer, AisleOrderView, Availability
from edge_agent.contract.codec import Rejected
from edge_agent.domain.basket import AddItem, BasketCommand, SetAttribute
from edge_agent.domain.cart import AttrWrite
from edge_agent.domain.fulfilment import (
    AISLE_PREFIX,
    ANSWER_SUFFIX,
    Fulfilment,
    LineFulfilment,
    answer_key,
    parse_fulfilment,
    request_key,
    requested_gtin,
)
from edge_agent.store.catalog import CachedItem
from edge_agent.store.device import DeviceStore


def order_views(store: DeviceStore, cart_id: str) -> dict[str, AisleOrderView]:
    """gtin14 -> the state of its endless-aisle order, for every line of the cart ordered for delivery or pickup."""
    writes = {w.key: w for w in store.attr_writes(cart_id)}
    views = {}
    for key, write in writes.items():
        gtin14 = requested_gtin(key)
        if gtin14 is None or not write.value:
            continue
        try:
            wanted = parse_fulfilment(write.value)
        except ValueError:
            continue  # the device validated it when it asked; an unreadable one is no order
        if not wanted.ordered:
            continue
        answer = _answer(writes.get(answer_key(gtin14)))
        if answer is not None and answer.request == write.op_id:
            views[gtin14] = AisleOrderView(
                fulfilment=wanted.text,
                state="confirmed" if answer.state == "accepted" else "refused",
                order_ref=answer.order_ref,
                reason=answer.reason,
            )
        else:
            views[gtin14] = AisleOrderView(
                fulfilment=wanted.text, state="requested", offline=store.unconfirmed(write.op_id)
            )
    return views


def bad_answers(store: DeviceStore, cart_id: str) -> list[Rejected]:
    """Answers in a snapshot that are not an :class:`AisleAnswer`: refused (the line stays requested), for counting."""
    bad = []
    for write in store.attr_writes(cart_id):
        if write.key.startswith(AISLE_PREFIX) and write.key.endswith(ANSWER_SUFFIX) and _answer(write) is None:
            bad.append(Rejected("bad_aisle_answer", f"{cart_id} {write.key} by {write.op_id}: not an AisleAnswer"))
    return bad


def elsewhere(store: DeviceStore, item: CachedItem | None, *, ordered: bool = False) -> Availability | None:
    """Availability beyond this store, shown for an item none of which is in stock here (or already ordered)."""
    if item is None or (not ordered and item.stock != 0):
        return None
    return store.availability(item.gtin14)


def covers(available: Availability, fulfilment: LineFulfilment) -> bool:
    """The source an order names has some left, as this device last heard: online for ship, the store for pickup."""
    if fulfilment.mode is Fulfilment.SHIP:
        return available.online is not None and available.online.qty > 0
    return any(s.store == fulfilment.store and s.qty > 0 for s in available.stores)


def _answer(write: AttrWrite | None) -> AisleAnswer | None:
    if write is None or write.value is None:
        return None
    try:
        return AisleAnswer.model_validate_json(write.value)
    except ValidationError:
        return None


def order_line(
    store: DeviceStore, cart_id: str, gtin14: str, qty: int, fulfilment: str, actor: str = "shopper", *, add: bool
) -> list[BasketCommand]:
    """The durable ops of "order this for delivery / pickup at X": the units (``add``: a basket line the shopper
    already has is ordered as it is; a tote line per fulfilment is new units) and the request the platform answers."""
    add = add or not store.quantities(cart_id).get(gtin14)
    add_ops = [AddItem(cart_id, gtin14, qty, actor=actor)] if add else []
    return [*add_ops, SetAttribute(cart_id, request_key(gtin14), fulfilment, actor=actor)]
