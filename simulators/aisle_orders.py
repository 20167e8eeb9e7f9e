"""Endless-aisle order requests at the platform: accepted or refused, once, in the transaction that applies them.

A device asks by writing the cart attribute ``aisle.{gtin14}`` (``ship`` or ``pickup@{store}``,
edge_agent/domain/fulfilment.py). The platform answers each new request in ``aisle.{gtin14}.answer``
(:class:`~edge_agent.contract.aisle.AisleAnswer`, JSON), which devices read in the cart snapshot. The rule here is
the reference a real platform's order service replaces: the line's quantity must be available at the source the
shopper chose, as the platform's catalog last counted it. Only the platform writes answers: a device op that tries
is dropped (counted), so a screen can never show a confirmation the platform did not give.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from edge_agent.contract.aisle import AisleAnswer, Availability, StockCount
from edge_agent.contract.catalog import CatalogItem
from edge_agent.domain.fulfilment import AISLE_PREFIX, ANSWER_SUFFIX, Fulfilment, parse_fulfilment, requested_gtin
from edge_agent.domain.ops import CartOp, OpKind


def requests(ops: Iterable[CartOp]) -> list[CartOp]:
    """The order requests among newly applied ops (a request for carry-out withdraws an order: nothing to decide)."""
    return [
        op
        for op in ops
        if op.kind is OpKind.ATTR_SET
        and op.key is not None
        and requested_gtin(op.key) is not None
        and op.value not in (None, Fulfilment.CARRY_OUT.value)
    ]


def without_forged_answers(ops: list[CartOp], rejected: Counter[str]) -> list[CartOp]:
    """Drop device ops that write an answer attribute (only the platform decides); each is counted."""
    kept = [op for op in ops if not _is_answer(op)]
    rejected["forged_aisle_answer"] += len(ops) - len(kept)
    return kept


def decide(request: CartOp, line_qty: int, item: CatalogItem | None, home_store: str) -> AisleAnswer | None:
    """The platform's answer to one request, or None when the request names no fulfilment it understands."""
    try:
        wanted = parse_fulfilment(request.value or "")
    except ValueError:
        return None

    def refused(reason: str) -> AisleAnswer:
        return AisleAnswer(request=request.op_id, fulfilment=wanted.text, state="refused", reason=reason)

    if item is None:
        return refused("unknown_item")
    availability = item.availability or Availability()
    if line_qty < 1:
        return refused("no_line")
    count: StockCount | None
    if wanted.mode is Fulfilment.SHIP:
        count = availability.online
    else:
        if wanted.store == home_store:
            return refused("same_store")
        count = next((s for s in availability.stores if s.store == wanted.store), None)
        if count is None:
            return refused("unknown_store")
    if count is None or count.qty < line_qty:
        return refused("not_available")
    ref = f"ea-{request.uuid.hex[:12]}"
    return AisleAnswer(request=request.op_id, fulfilment=wanted.text, state="accepted", order_ref=ref)


def _is_answer(op: CartOp) -> bool:
    key = op.key or ""
    return op.kind is OpKind.ATTR_SET and key.startswith(AISLE_PREFIX) and key.endswith(ANSWER_SUFFIX)
