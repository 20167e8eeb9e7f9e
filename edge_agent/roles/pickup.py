"""Customer pickup on the associate handheld: the pure :class:`PickOrder` machine's ``check_in``, ``verify`` and
``hand_over`` from the UI, and the platform's ``close`` and ``no_show`` from the order's status.

These functions are pure: they return the machine's outcome and the attribute ops of the ``pick-{order_id}``
cart that go with it; :class:`edge_agent.roles.picking.PickDesk` records both in ONE transaction (the state op
``pick.state`` too), so the platform learns them once its applied watermark covers them, exactly as the rest of
picking. A refusal (the machine's, or a code that does not match) records nothing and is shown with its reason.

**Verification.** ``verified_by`` is ``order_code`` or ``id_document`` (the machine's methods ``pickup_code``
and ``id_document``). An order code is checked here, offline, against the order message's ``pickup_code_hash``
(:func:`edge_agent.contract.picking.pickup_code_hash`, compared in constant time); the code itself is never
stored, logged, shown or published. For an ID document only the fact that one was checked is recorded
(``pick.verified_by = id_document``); the contract has no field for its number.

**Attributes.** ``pick.verified_by`` (``order_code`` / ``id_document``), ``pick.handed_over_at`` (ISO-8601 UTC).
The platform's facts (closed, no-show) change the local machine and its meta only, never echoed as ops.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Final

from edge_agent.contract.picking import PickCommand, pickup_code_hash
from edge_agent.domain.basket import BasketCommand, SetAttribute
from edge_agent.domain.workflows.common import Outcome, Source, refuse
from edge_agent.domain.workflows.picking import PickOrder, PickState

VERIFIED_BY_ATTR, HANDED_OVER_AT_ATTR = "pick.verified_by", "pick.handed_over_at"
PICKUP_ACTIONS: Final = frozenset({"check_in", "verify", "hand_over"})
METHODS: Final = {"order_code": "pickup_code", "id_document": "id_document"}
"""The contract's ``verified_by`` -> the machine's verification method (the ``pickup.verified`` event's ``method``)."""
DEFAULT_CHECK_IN_MODE: Final = "counter"
PICKUP_REFUSALS: Final = frozenset(
    {"verification_required", "order_code_required", "no_order_code", "order_code_mismatch"}
)


def pickup_command(
    order: PickOrder, cmd: PickCommand, cart: str, code_hash: str | None, *, now: float
) -> tuple[Outcome[PickOrder], list[BasketCommand]]:
    """The associate's pickup action on ``order``: the outcome and the attribute ops to record with it."""
    who = cmd.associate
    if cmd.action == "check_in":
        return order.check_in(cmd.mode or DEFAULT_CHECK_IN_MODE, now=now), []
    if cmd.action == "hand_over":
        at = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        return order.hand_over(associate=who, now=now), [SetAttribute(cart, HANDED_OVER_AT_ATTR, at, actor=who)]
    if cmd.action != "verify":
        raise ValueError(f"not a pickup action: {cmd.action}")
    outcome = order.verify(METHODS[cmd.verified_by or "id_document"], associate=who, now=now)
    if outcome.refused is not None:
        return outcome, []  # the machine's refusal (no associate, wrong state) comes first
    if cmd.verified_by is None:
        detail = "say how the customer was verified: order_code or id_document"
        return refuse(order, "verification_required", detail), []
    if cmd.verified_by == "order_code":
        if not cmd.order_code:
            return refuse(order, "order_code_required", "enter the order code the customer shows"), []
        if code_hash is None:
            detail = f"order {order.order_id} has no pickup code to check against: verify an ID document"
            return refuse(order, "no_order_code", detail), []
        if not hmac.compare_digest(pickup_code_hash(cmd.order_code), code_hash):
            detail = f"that code is not order {order.order_id}'s: ask the customer again or check an ID document"
            return refuse(order, "order_code_mismatch", detail), []
    return outcome, [SetAttribute(cart, VERIFIED_BY_ATTR, cmd.verified_by, actor=who)]


def pickup_platform(order: PickOrder, status: str, *, now: float) -> Outcome[PickOrder] | None:
    """The platform's order status as a pickup fact: ``closed`` after the hand-over, ``no_show`` while the order
    waits for the customer; None when the status says nothing new for the machine in its state."""
    if status == "closed" and order.state is PickState.HANDED_OVER:
        return order.close(source=Source.PLATFORM, now=now)
    if status == "no_show" and order.state is PickState.READY_FOR_PICKUP:
        return order.no_show(source=Source.PLATFORM, now=now)
    return None
