"""The handheld's pick screen model, built from what the desk holds: the orders an associate may accept, the
orders picked here that wait for their customer, the one in hand (with how its customer was verified), and why
the last action was refused. Kept apart from :mod:`edge_agent.roles.picking` so the desk stays about workflow."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final, Literal

from edge_agent.contract.picking import PickLineView, PickOrderSummary, PickOrderView, PickView
from edge_agent.domain.workflows.common import Refused
from edge_agent.domain.workflows.picking import PickLine, PickLineState, PickOrder, PickState, Substitution
from edge_agent.roles.picking_state import HeldOrder

AWAITING_PICKUP: Final = frozenset({PickState.READY_FOR_PICKUP, PickState.CUSTOMER_ARRIVED, PickState.VERIFIED})
"""Orders staged here whose customer has not had them yet: listed so an associate can check the customer in
while another order is the one in hand."""


def claim_won(held: HeldOrder, device: str, associate: str | None = None) -> bool:
    """The claim decision names this device (and this associate, when given, else the local picker)."""
    if held.claim is None:
        return False
    who = associate if associate is not None else (held.order.picker if held.order else None)
    return held.claim == f"{device}:{who}"


def pick_view(
    held: Mapping[str, HeldOrder],
    active: str | None,
    device: str,
    refused: Refused | None = None,
    name_of: Callable[[str], str] = lambda _gtin14: "",
) -> PickView:
    """``name_of``: a product's name from the device's catalog cache ("" when unknown)."""
    available = [
        _summary(h)
        for h in held.values()
        if h.order is not None and h.order.state is PickState.ASSIGNED and h.claim is None
    ]
    awaiting = [
        _summary(h)
        for order_id, h in held.items()
        if h.order is not None and h.order.state in AWAITING_PICKUP and order_id != active and claim_won(h, device)
    ]
    current_held = held.get(active) if active else None
    current = None
    if current_held is not None and current_held.order is not None:
        current = _order_view(current_held, current_held.order, device, name_of)
    return PickView(
        available=sorted(available, key=lambda s: s.order_id),
        awaiting_pickup=sorted(awaiting, key=lambda s: s.order_id),
        current=current,
        refused=refused.reason if refused else None,
        detail=refused.detail[:200] if refused else None,
    )


def _summary(h: HeldOrder) -> PickOrderSummary:
    assert h.order is not None
    return PickOrderSummary(
        order_id=h.order.order_id,
        lines=len(h.order.lines),
        units=sum(x.qty for x in h.order.lines),
        deadline=None if h.deadline is None else datetime.fromtimestamp(h.deadline, UTC),
        state=h.order.state.value,
        verified_by=h.verified_by,
    )


def _order_view(held: HeldOrder, o: PickOrder, device: str, name_of: Callable[[str], str]) -> PickOrderView:
    claim: Literal["pending", "won", "lost"] = (
        "pending" if held.claim is None else ("won" if claim_won(held, device) else "lost")
    )
    return PickOrderView(
        order_id=o.order_id,
        state=o.state.value,
        picker=o.picker,
        claim=claim,
        lines=[_line_view(x, name_of(x.gtin14)) for x in o.lines],
        expected=[
            f"{x.substitute_gtin if x.substitution is Substitution.APPROVED else x.gtin14} x{x.remaining}"
            for x in o.lines
            if x.state is PickLineState.OPEN
        ],
        location=o.location,
        short_reasons=list(o.short_reasons),
        verified_by=held.verified_by,
    )


def _line_view(x: PickLine, name: str) -> PickLineView:
    return PickLineView(
        line_id=x.line_id,
        gtin14=x.gtin14,
        name=name,
        qty=x.qty,
        picked=x.picked,
        short=x.short,
        short_reason=x.short_reason,
        substitute_gtin=x.substitute_gtin,
        substitution=None if x.substitution is None else x.substitution.value,
        state=x.state.value,
        remaining=x.remaining,
    )
